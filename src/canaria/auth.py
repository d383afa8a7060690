"""Local credentials: the control API's bearer token and the edge's AWS keys.

The token is generated into the state directory (mode 0600) on first start and read by
the CLI automatically. Functions receive AWS credentials derived from it, so boto3 in a
handler or hook signs its requests with a key the edge recognizes.
"""

from __future__ import annotations

import hashlib
import os
import secrets
from pathlib import Path

TOKEN_FILE = "token"


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
