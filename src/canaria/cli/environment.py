"""``canaria env`` and ``canaria exec``: the environment that lets a user's own tools (the
AWS CLI, boto3 scripts and test suites, any AWS SDK) reach a running canaria.

The edge verifies SigV4 signatures with keys derived from the state directory's token, so
the exports carry those keys (the operator's own: every action the edge serves), the
endpoints the server reports (``AWS_ENDPOINT_URL`` and ``AWS_ENDPOINT_URL_<SERVICE>``, the
AWS SDKs' convention), the region, and ``AWS_DISABLE_HOST_PREFIX_INJECTION`` (botocore
puts ``sync-`` before the host for StartSyncExecution; locally that name does not
resolve).
"""

from __future__ import annotations

import shlex
from collections.abc import Mapping

from canaria.auth import access_key_id, secret_access_key
from canaria.models.arns import REGION


def exports(token: str, endpoints: Mapping[str, str]) -> dict[str, str]:
    """The variables ``canaria env`` prints, in a stable order."""
    if "AWS_ENDPOINT_URL" not in endpoints:
        raise ValueError("the server reported no AWS_ENDPOINT_URL")
    out = {
        "AWS_ACCESS_KEY_ID": access_key_id(token),
        "AWS_SECRET_ACCESS_KEY": secret_access_key(token),
        "AWS_REGION": REGION,
        "AWS_DEFAULT_REGION": REGION,
        "AWS_DISABLE_HOST_PREFIX_INJECTION": "true",
    }
    out.update(sorted(endpoints.items()))
    return out


def shell_lines(env: Mapping[str, str]) -> str:
    """``export NAME='value'`` lines for ``eval "$(canaria env)"``; an empty session token
    is unset, so a token left in the caller's shell does not go with canaria's keys."""
    lines = ["unset AWS_SESSION_TOKEN AWS_PROFILE"]
    lines += [f"export {name}={shlex.quote(value)}" for name, value in env.items()]
    return "\n".join(lines) + "\n"


def child_environment(base: Mapping[str, str], env: Mapping[str, str]) -> dict[str, str]:
    """``base`` (the caller's environment) with canaria's exports, for ``canaria exec``."""
    out = {k: v for k, v in base.items() if k not in ("AWS_SESSION_TOKEN", "AWS_PROFILE")}
    out.update(env)
    return out


__all__ = ["child_environment", "exports", "shell_lines"]
