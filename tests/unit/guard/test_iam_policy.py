"""The README's IAM policy for the guard grants every call the guard's client makes, and
nothing else: read-only calls for ``--dry-run``, plus the two that act."""

from __future__ import annotations

import json
import re
from pathlib import Path

import boto3

import canaria.guard.aws

README = Path(__file__).parents[3] / "README.md"
ACTING = {"codedeploy:StopDeployment", "cloudwatch:SetAlarmState"}


def readme_policy() -> dict[str, object]:
    text = README.read_text()
    section = text[text.index("**Least privilege.**") :]
    block = re.search(r"```json\n(.*?)\n```", section, re.S)
    assert block is not None, "the README's least-privilege section has no JSON policy"
    policy: dict[str, object] = json.loads(block.group(1))
    return policy


def granted(policy: dict[str, object]) -> set[str]:
    actions: set[str] = set()
    statements = policy["Statement"]
    assert isinstance(statements, list)
    for s in statements:
        assert s["Effect"] == "Allow"
        a = s["Action"]
        actions.update([a] if isinstance(a, str) else a)
    return actions


def called() -> set[str]:
    """Every ``self.call("service", "operation", ...)`` in the guard's client, as the IAM
    action botocore's service model names it."""
    source = Path(canaria.guard.aws.__file__).read_text()
    session = boto3.session.Session(
        aws_access_key_id="k", aws_secret_access_key="s", region_name="us-east-1"
    )
    out: set[str] = set()
    for service, method in re.findall(r'self\.call\(\s*"([a-z]+)",\s*"([a-z_]+)"', source):
        api = session.client(service).meta.method_to_api_mapping[method]
        out.add(f"{service}:{api}")  # IAM's prefixes are boto3's names for these five
    return out


def test_the_policy_grants_exactly_the_calls_the_guard_makes() -> None:
    calls = called()
    assert len(calls) >= 10  # the reader found the client's calls
    assert granted(readme_policy()) == calls


def test_only_two_statements_act() -> None:
    calls = called()
    acting = {c for c in calls if not c.split(":")[1].startswith(("List", "Get", "Filter"))}
    assert acting == ACTING
