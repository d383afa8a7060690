"""Checks for values callers send (path segments, query parameters, body fields) that are
used as numbers or names, so bad input gets a clear 4xx and never reaches the store as
something it cannot hold (a 30-digit integer, a NUL, a non-ASCII digit read as a number).

- ``version_number``: a function version named by a qualifier: ASCII digits only
  (``"²"`` and ``"٣"`` are digits to ``str.isdigit`` but name no version), at most
  ``MAX_VERSION``.
- ``bounded_int``: an integer query parameter within its route's range.
- ``name``: an identifier in a path (function, alias, deployment id): no control
  characters, at most 256 characters.
"""

from __future__ import annotations

from canaria.errors import InvalidRequest

MAX_VERSION = 2**31 - 1
MAX_NAME = 256


def version_number(text: str) -> int | None:
    """The version a qualifier names, or ``None`` when it is not a version number (an
    alias name, say). Raises ``InvalidRequest`` for a number too large to be a version."""
    if not text.isascii() or not text.isdigit():
        return None
    if len(text) > 10 or int(text) > MAX_VERSION:
        raise InvalidRequest(f"version {text[:20]} is out of range (1 to {MAX_VERSION})")
    return int(text)


def bounded_int(raw: str | None, name: str, default: int, lo: int, hi: int) -> int:
    """An integer parameter in [lo, hi] (``default`` when absent)."""
    if raw is None:
        return default
    text = raw.strip()
    body = text[1:] if text[:1] in "+-" else text
    if not body or not body.isascii() or not body.isdigit() or len(body) > 18:
        raise InvalidRequest(f"{name} must be an integer from {lo} to {hi}")
    value = int(text)
    if not lo <= value <= hi:
        raise InvalidRequest(f"{name} must be an integer from {lo} to {hi}, got {value}")
    return value


def name(text: str, what: str) -> str:
    """An identifier from a path; refused with a clear message when it cannot be one."""
    if not text or len(text) > MAX_NAME:
        raise InvalidRequest(f"{what} must be 1 to {MAX_NAME} characters")
    if any(ord(c) < 32 or ord(c) == 127 for c in text):
        raise InvalidRequest(f"{what} contains a control character")
    return text


__all__ = ["MAX_NAME", "MAX_VERSION", "bounded_int", "name", "version_number"]
