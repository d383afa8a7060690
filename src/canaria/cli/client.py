"""A small JSON client for the control API (stdlib only; the CLI is not a hot path)."""

from __future__ import annotations

import json
import os
import urllib.error
import urllib.request
from typing import Any

from canaria.auth import read_token


class ApiError(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


def state_dir() -> str:
    """Where ``canaria up`` keeps its state: ``$CANARIA_STATE``, else ``.canaria`` here."""
    return os.environ.get("CANARIA_STATE", ".canaria")


def running_state_dir() -> str:
    """The state of the ``canaria up`` a client command talks to: ``$CANARIA_STATE``, else
    the nearest ``.canaria`` holding a token in this directory or one above it (as git
    finds ``.git``: a test suite run from the application's ``src/`` reaches it), else
    ``.canaria``."""
    if "CANARIA_STATE" in os.environ:
        return os.environ["CANARIA_STATE"]
    here = os.path.abspath(os.getcwd())
    while True:
        candidate = os.path.join(here, ".canaria")
        if os.path.isfile(os.path.join(candidate, "token")):
            return candidate if here != os.path.abspath(os.getcwd()) else ".canaria"
        parent = os.path.dirname(here)
        if parent == here:
            return ".canaria"
        here = parent


def endpoint() -> str:
    env = os.environ.get("CANARIA_ENDPOINT")
    if env:
        return env.rstrip("/")
    path = os.path.join(running_state_dir(), "endpoint")
    if os.path.exists(path):
        with open(path) as f:
            return f.read().strip().rstrip("/")
    return "http://127.0.0.1:3001"


class Client:
    def __init__(self, base: str | None = None, token: str | None = None) -> None:
        self.base = (base or endpoint()).rstrip("/")
        self.token = token if token is not None else read_token(running_state_dir())

    def call(self, method: str, path: str, body: Any = None, timeout: float = 600.0) -> Any:
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.base + "/canaria/v1" + path, data=data, method=method)
        req.add_header("Content-Type", "application/json")
        if self.token:
            req.add_header("Authorization", f"Bearer {self.token}")
        try:
            with urllib.request.urlopen(req, timeout=timeout) as resp:
                return json.loads(resp.read() or b"null")
        except urllib.error.HTTPError as exc:
            raw = exc.read()
            try:
                err = json.loads(raw)["error"]
                raise ApiError(exc.code, err.get("code", ""), err.get("message", "")) from None
            except (ValueError, KeyError, TypeError):
                raise ApiError(exc.code, "HTTPError", raw.decode(errors="replace")) from None
        except (urllib.error.URLError, ConnectionError) as exc:
            raise ApiError(
                0,
                "Unreachable",
                f"canaria is not answering at {self.base} ({exc}); start it with `canaria up`, "
                "or set CANARIA_ENDPOINT",
            ) from None

    def get(self, path: str) -> Any:
        return self.call("GET", path)

    def post(self, path: str, body: Any = None) -> Any:
        return self.call("POST", path, body if body is not None else {})
