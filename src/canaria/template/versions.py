"""The version numbers a release gives to ``Fn.Version`` references in alarms and outputs.

``!GetAtt Fn.Version.Version`` (or ``${Fn.Version.Version}``) in an alarm's
``ExecutedVersion`` dimension is the alarm SAM's documentation recommends for the new
version. On AWS, CloudFormation rewrites the alarm with the number of the version the
stack update publishes; here the template leaves a placeholder (``index.version_placeholder``)
and ``with_versions`` writes in the number of the version a release runs.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import replace

from canaria.models import Application

PLACEHOLDER = re.compile(r"\{\{canaria:version:([^}]+)\}\}")


def with_versions(app: Application, versions: Mapping[str, int]) -> Application:
    """``app`` with each version placeholder in its alarms' dimensions and its stack's
    outputs (``!Ref Fn.Version``) replaced by the version of that function in
    ``versions`` (function name → version number)."""

    def sub(match: re.Match[str]) -> str:
        number = versions.get(match.group(1))
        return match.group(0) if number is None else str(number)

    alarms = {
        name: replace(
            spec, dimensions={k: PLACEHOLDER.sub(sub, v) for k, v in spec.dimensions.items()}
        )
        if any(PLACEHOLDER.search(v) for v in spec.dimensions.values())
        else spec
        for name, spec in app.alarms.items()
    }
    stack = app.stack
    if stack is not None and any(PLACEHOLDER.search(o.value) for o in stack.outputs):
        outputs = tuple(replace(o, value=PLACEHOLDER.sub(sub, o.value)) for o in stack.outputs)
        stack = replace(stack, outputs=outputs)
    return replace(app, alarms=alarms, stack=stack)
