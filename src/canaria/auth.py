"""Local credentials: the control API's bearer token and the edge's AWS keys.

The token is generated into the state directory (mode 0600) on first start and read by
the CLI automatically. It is the operator's: whoever holds it may do everything (deploy,
stop, roll back, move aliases), and so may the AWS keys derived from it
(``access_key_id`` / ``secret_access_key``), which the user's own boto3 scripts use.

Functions never receive it. Each function gets keys of its own (``Keyring``): AWS keys
that the edge maps back to that function (``Principal``), and a function token that the
control API accepts only for that function's completion reports. What a function's keys
allow is ``canaria.aws.policy``: what a Lambda execution role would. The values of the
template's API keys that it gives no ``Value`` are derived from the token too
(``Keyring.api_key_value``).
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from canaria.models.arns import ACCOUNT

TOKEN_FILE = "token"
# The dashboard's session cookie. Browsers do not scope cookies by port, so it is scoped
# by path (``COOKIE_PATH``, where the dashboard and the control API live) and the gateway
# removes it from every request before a function sees it.
COOKIE = "canaria_token"
COOKIE_PATH = "/canaria/"
OPERATOR_USER = "canaria"  # the IAM user name the operator's keys belong to


def ensure_token(state_dir: str) -> str:
    path = Path(state_dir) / TOKEN_FILE
    if path.exists():
        return path.read_text().strip()
    Path(state_dir).mkdir(parents=True, exist_ok=True)
    token = secrets.token_urlsafe(32)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(token + "\n")
    return token


def read_token(state_dir: str) -> str | None:
    env = os.environ.get("CANARIA_TOKEN")
    if env:
        return env
    path = Path(state_dir) / TOKEN_FILE
    return path.read_text().strip() if path.exists() else None


def access_key_id(token: str) -> str:
    """An AWS-shaped access key id (AKIA + 16) derived from the token."""
    digest = hashlib.sha256(b"canaria-access-key:" + token.encode()).hexdigest().upper()
    return "AKIA" + digest[:16]


def secret_access_key(token: str) -> str:
    return hashlib.sha256(b"canaria-secret-key:" + token.encode()).hexdigest()[:40]


@dataclass(frozen=True)
class Principal:
    """Who signed a request: the operator (``function is None``) or one function."""

    function: str | None = None

    @property
    def operator(self) -> bool:
        return self.function is None

    @property
    def arn(self) -> str:
        """Who AWS would say signed: an IAM user for the operator, a function's execution
        role session (the role SAM generates, ``<function>Role``) for a function."""
        if self.function is None:
            return f"arn:aws:iam::{ACCOUNT}:user/{OPERATOR_USER}"
        fn = self.function
        return f"arn:aws:sts::{ACCOUNT}:assumed-role/{fn}Role/{fn}"

    def caller_id(self, access_key: str) -> str:
        """AWS's unique id of the caller (``$context.identity.caller``): a user's
        ``AIDA…`` id, or a role session's ``AROA…:<session>``."""
        unique = access_key[4:]
        if self.function is None:
            return "AIDA" + unique
        return f"AROA{unique}:{self.function}"


OPERATOR = Principal()


def _derive(token: str, purpose: str, function: str) -> str:
    return hmac.new(token.encode(), f"{purpose}:{function}".encode(), hashlib.sha256).hexdigest()


class Keyring:
    """The operator's keys and every function's, derived from the token (so they survive a
    restart without being stored), and looked up by access key id or bearer token."""

    def __init__(self, token: str) -> None:
        self._token = token
        self.access_key = access_key_id(token)
        self.secret_key = secret_access_key(token)
        self._by_akid: dict[str, tuple[Principal, str]] = {
            self.access_key: (OPERATOR, self.secret_key)
        }
        self._by_token: dict[str, Principal] = {}

    def function_keys(self, function: str) -> tuple[str, str]:
        """(access key id, secret access key) of ``function``'s execution role."""
        akid = "ASIA" + _derive(self._token, "function-key", function)[:16].upper()
        return akid, _derive(self._token, "function-secret", function)[:40]

    def function_token(self, function: str) -> str:
        """The bearer token ``function`` reports its completions with."""
        return "fn." + _derive(self._token, "function-token", function)[:43]

    def api_key_value(self, logical_id: str) -> str:
        """The value of the API key ``logical_id`` when the template gives it none (API
        Gateway would generate one): 40 letters and digits derived from the token, so it
        survives a restart and cannot be worked out from the template."""
        return _derive(self._token, "api-key", logical_id)[:40]

    def add_functions(self, functions: Iterable[str]) -> None:
        for fn in functions:
            akid, secret = self.function_keys(fn)
            self._by_akid[akid] = (Principal(fn), secret)
            self._by_token[self.function_token(fn)] = Principal(fn)

    def by_access_key(self, access_key: str) -> tuple[Principal, str] | None:
        """The principal an access key id belongs to, with its secret."""
        return self._by_akid.get(access_key)

    def by_token(self, given: str) -> Principal | None:
        """The principal a bearer token belongs to (compared in constant time)."""
        if given and hmac.compare_digest(given.encode(), self._token.encode()):
            return OPERATOR
        found = self._by_token.get(given)
        return found
