"""``$util`` of AppSync's VTL mapping templates (:mod:`canaria.appsync.vtl` renders them).

Each helper follows the AWS AppSync Developer Guide's "Resolver mapping template utility
reference" ("Utility helpers in $util", "List helpers in $util.list", "Map helpers in
$util.map", "String helpers in $util.str", "Math helpers in $util.math"); ``$util.time``,
``$util.dynamodb`` and ``$util.transform`` come from :mod:`.dates` and :mod:`.data`.
``$util.error``, ``unauthorized`` and a failed ``validate`` raise :class:`RaisedError`, which
ends the template; the rest return the objects templates walk (strings with Java's methods,
maps, lists).
"""

from __future__ import annotations

import json
import math
import random
import secrets
import time
import unicodedata
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import regex

from canaria.gateway.mapping_templates import (
    _UTIL,
    _escape_javascript,
    _from_python,
    _JavaString,
    _s,
    _to_text,
)

from .data import DYNAMODB, TRANSFORM, dumps, is_number, json_value
from .dates import TimeHelpers

__all__ = ["RaisedError", "State", "Util"]

# --------------------------------------------------------------------------- errors, state


class RaisedError(Exception):
    """``$util.error`` / ``unauthorized`` / a failed ``validate``: ends the template."""

    def __init__(self, record: dict[str, Any]) -> None:
        super().__init__(record.get("message"))
        self.record = record


def _error_record(message: Any, error_type: Any, data: Any, error_info: Any) -> dict[str, Any]:
    return {
        "message": None if message is None else _to_text(message),
        "errorType": None if error_type is None else _to_text(error_type),
        "data": json_value(data),
        "errorInfo": json_value(error_info),
    }


@dataclass
class State:
    """What one render shares with its ``$util``: the clock, the caller, and what the
    template appends."""

    now_ms: int | None
    auth_type: str | None
    identity: Any
    info: Any
    errors: list[dict[str, Any]] = field(default_factory=list)
    logs: list[str] = field(default_factory=list)

    def now(self) -> int:
        return self.now_ms if self.now_ms is not None else time.time_ns() // 1_000_000


# --------------------------------------------------------------------------- identifiers

_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
_KSUID_EPOCH_S = 1_400_000_000


def _ulid(now_ms: int) -> str:
    """48 bits of milliseconds then 80 random bits, Crockford base32: 26 characters."""
    number = (now_ms % (1 << 48)) << 80 | secrets.randbits(80)
    return "".join(_CROCKFORD[(number >> (5 * i)) & 31] for i in range(25, -1, -1))


def _ksuid(now_ms: int) -> str:
    """32 bits of seconds since the KSUID epoch then 128 random bits, base62: 27
    characters."""
    number = max(0, now_ms // 1000 - _KSUID_EPOCH_S) << 128 | secrets.randbits(128)
    digits = ""
    while number:
        number, digit = divmod(number, 62)
        digits = _BASE62[digit] + digits
    return digits.rjust(27, "0")


# --------------------------------------------------------------------------- $util

_AUTH_TYPES = {
    "API_KEY": "API Key Authorization",
    "AWS_IAM": "IAM Authorization",
    "AMAZON_COGNITO_USER_POOLS": "User Pool Authorization",
    "OPENID_CONNECT": "Open ID Connect Authorization",
    "AWS_LAMBDA": "Lambda Authorization",
}


def _is_empty(value: Any) -> bool:
    if value is None:
        return True
    if isinstance(value, str | list | tuple | Mapping):
        return len(value) == 0
    return False


def _is_blank(value: Any) -> bool:
    return _is_empty(value) or (isinstance(value, str) and not value.strip())


def _log_line(message: Any, args: tuple[Any, ...]) -> str:
    """``$util.log.*``: the message, each ``{}`` in it replaced by the next argument."""
    text = _to_text(message, nested=True)
    if not args:
        return text
    pieces = text.split("{}")
    out = [pieces[0]]
    for i, piece in enumerate(pieces[1:]):
        out.append(_to_text(args[i], nested=True) if i < len(args) else "{}")
        out.append(piece)
    return "".join(out)


class _Log:
    """``$util.log``."""

    def __init__(self, state: State) -> None:
        self._state = state

    def _write(self, message: Any, args: tuple[Any, ...]) -> None:
        self._state.logs.append(_log_line(message, args))

    def info(self, message: Any, *args: Any) -> None:
        self._write(message, args)

    def debug(self, message: Any, *args: Any) -> None:
        self._write(message, args)

    def error(self, message: Any, *args: Any) -> None:
        self._write(message, args)


class Util:
    """``$util`` (and ``$utils``) for one render."""

    def __init__(self, state: State) -> None:
        self._state = state
        self.time = TimeHelpers(state.now)
        self.log = _Log(state)
        self.dynamodb = DYNAMODB
        self.list = LIST
        self.map = MAP
        self.str = STR
        self.math = MATH
        self.transform = TRANSFORM

    # ---- JSON, encoding, identifiers

    def toJson(self, value: Any) -> _JavaString:
        return dumps(value)

    def parseJson(self, value: Any) -> Any:
        try:
            return _from_python(json.loads(_to_text(value)))
        except ValueError as e:
            raise ValueError(f"$util.parseJson: not JSON: {e}") from None

    def escapeJavaScript(self, value: Any) -> _JavaString:
        return _escape_javascript(value)

    def urlEncode(self, value: Any) -> _JavaString:
        return _UTIL.urlEncode(value)

    def urlDecode(self, value: Any) -> _JavaString:
        return _UTIL.urlDecode(value)

    def base64Encode(self, value: Any) -> _JavaString:
        return _UTIL.base64Encode(value)

    def base64Decode(self, value: Any) -> _JavaString:
        return _UTIL.base64Decode(value)

    def autoId(self) -> _JavaString:
        return _s(str(uuid.uuid4()))

    def autoUlid(self) -> _JavaString:
        return _s(_ulid(self._state.now()))

    def autoKsuid(self) -> _JavaString:
        return _s(_ksuid(self._state.now()))

    # ---- errors

    def error(
        self, message: Any, error_type: Any = None, data: Any = None, error_info: Any = None
    ) -> None:
        raise RaisedError(_error_record(message, error_type, data, error_info))

    def appendError(
        self, message: Any, error_type: Any = None, data: Any = None, error_info: Any = None
    ) -> None:
        self._state.errors.append(_error_record(message, error_type, data, error_info))

    def unauthorized(self) -> None:
        info = self._state.info if isinstance(self._state.info, Mapping) else {}
        field_name, type_name = info.get("fieldName"), info.get("parentTypeName")
        message = (
            f"Not Authorized to access {field_name} on type {type_name}"
            if field_name and type_name
            else "Not Authorized"
        )
        raise RaisedError(_error_record(message, "Unauthorized", None, None))

    def validate(
        self, condition: Any, message: Any, error_type: Any = None, data: Any = None
    ) -> str:
        if condition is not True:
            kind = "CustomTemplateException" if error_type is None else error_type
            raise RaisedError(_error_record(message, kind, data, None))
        return ""

    # ---- null and type checks

    def isNull(self, value: Any) -> bool:
        return value is None

    def isNullOrEmpty(self, value: Any) -> bool:
        return _is_empty(value)

    def isNullOrBlank(self, value: Any) -> bool:
        return _is_blank(value)

    def defaultIfNull(self, value: Any, default: Any) -> Any:
        return default if value is None else value

    def defaultIfNullOrEmpty(self, value: Any, default: Any) -> Any:
        return default if _is_empty(value) else value

    def defaultIfNullOrBlank(self, value: Any, default: Any) -> Any:
        return default if _is_blank(value) else value

    def isString(self, value: Any) -> bool:
        return isinstance(value, str)

    def isNumber(self, value: Any) -> bool:
        return is_number(value)

    def isBoolean(self, value: Any) -> bool:
        return isinstance(value, bool)

    def isList(self, value: Any) -> bool:
        return isinstance(value, list | tuple)

    def isMap(self, value: Any) -> bool:
        return isinstance(value, Mapping)

    def typeOf(self, value: Any) -> str:
        if value is None:
            return "Null"
        if isinstance(value, bool):
            return "Boolean"
        if is_number(value):
            return "Number"
        if isinstance(value, str):
            return "String"
        if isinstance(value, list | tuple):
            return "List"
        if isinstance(value, Mapping):
            return "Map"
        return "Object"

    def matches(self, pattern: Any, value: Any) -> bool:
        """Java's ``Pattern.matches``: the whole text matches."""
        return regex.fullmatch(_to_text(pattern), _to_text(value)) is not None

    def authType(self) -> str:
        given = self._state.auth_type
        if given:
            return _AUTH_TYPES.get(given, given)
        identity = self._state.identity
        if not isinstance(identity, Mapping):
            return _AUTH_TYPES["API_KEY"]
        if "resolverContext" in identity:
            return _AUTH_TYPES["AWS_LAMBDA"]
        if "accountId" in identity or "userArn" in identity:
            return _AUTH_TYPES["AWS_IAM"]
        if any(k in identity for k in ("username", "groups", "defaultAuthStrategy")):
            return _AUTH_TYPES["AMAZON_COGNITO_USER_POOLS"]
        return _AUTH_TYPES["OPENID_CONNECT"]

    # ---- statements whose value is dropped

    def quiet(self, *_: Any) -> str:
        return ""

    def qr(self, *_: Any) -> str:
        return ""


# --------------------------------------------------------------------------- list, map, str, math


class _List:
    """``$util.list``."""

    MAX_SORTED = 1000

    def copyAndRetainAll(self, values: Any, retained: Any) -> list[Any]:
        return [v for v in values if v in retained]

    def copyAndRemoveAll(self, values: Any, removed: Any) -> list[Any]:
        return [v for v in values if v not in removed]

    def sortList(self, values: Any, descending: Any, attribute: Any) -> list[Any]:
        """Maps by ``attribute``, strings and numbers by themselves; a list mixing kinds,
        or longer than 1000, comes back as it is (a copy)."""
        items = list(values)
        if len(items) > self.MAX_SORTED or not items:
            return items
        if all(isinstance(v, Mapping) for v in items):
            name = _to_text(attribute)
            keys = [v.get(name) for v in items]
        elif all(isinstance(v, str) for v in items) or all(is_number(v) for v in items):
            keys = items
        else:
            return items
        try:
            order = sorted(range(len(items)), key=lambda i: keys[i], reverse=descending is True)
        except TypeError:
            return items
        return [items[i] for i in order]


class _Map:
    """``$util.map``."""

    def copyAndRetainAllKeys(self, value: Any, keys: Any) -> dict[Any, Any]:
        return {k: v for k, v in value.items() if k in keys}

    def copyAndRemoveAllKeys(self, value: Any, keys: Any) -> dict[Any, Any]:
        return {k: v for k, v in value.items() if k not in keys}


class _Str:
    """``$util.str``."""

    def toUpper(self, value: Any) -> _JavaString:
        return _s(_to_text(value).upper())

    def toLower(self, value: Any) -> _JavaString:
        return _s(_to_text(value).lower())

    def toReplace(self, value: Any, old: Any, new: Any) -> _JavaString:
        return _s(_to_text(value).replace(_to_text(old), _to_text(new)))

    def normalize(self, value: Any, form: Any) -> _JavaString:
        name = _to_text(form).upper()
        if name not in ("NFC", "NFD", "NFKC", "NFKD"):
            raise ValueError(
                f"$util.str.normalize: the form must be NFC, NFD, NFKC or NFKD, not {name!r}"
            )
        return _s(unicodedata.normalize(name, _to_text(value)))  # type: ignore[arg-type]


class _Math:
    """``$util.math``."""

    def roundNum(self, value: Any) -> int:
        return math.floor(float(value) + 0.5)  # Java's Math.round: halves go up

    def minVal(self, a: Any, b: Any) -> float:
        return float(min(float(a), float(b)))

    def maxVal(self, a: Any, b: Any) -> float:
        return float(max(float(a), float(b)))

    def randomDouble(self) -> float:
        return random.random()

    def randomWithinRange(self, start: Any, end: Any) -> int:
        low, high = int(start), int(end)
        return low + math.floor(random.random() * (high - low))


LIST = _List()
MAP = _Map()
STR = _Str()
MATH = _Math()
