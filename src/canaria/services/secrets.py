"""``GenerateSecretString``: the password CloudFormation would generate for a secret."""

from __future__ import annotations

import json
import secrets

from canaria.models.services import GeneratedSecret


def generate_password(spec: GeneratedSecret) -> str:
    classes = spec.classes()
    assert classes, "the template loader refuses exclusions that leave nothing"
    pool = "".join(classes)
    rng = secrets.SystemRandom()
    chars = [rng.choice(pool) for _ in range(spec.length)]
    if spec.require_each_included_type and spec.length >= len(classes):
        # one character of each class at distinct random places
        for place, chars_of in zip(
            rng.sample(range(spec.length), len(classes)), classes, strict=True
        ):
            chars[place] = rng.choice(chars_of)
    return "".join(chars)


def secret_string(spec: GeneratedSecret) -> str:
    password = generate_password(spec)
    if spec.template is None or spec.key is None:
        return password
    body = json.loads(spec.template)
    body[spec.key] = password
    return json.dumps(body)
