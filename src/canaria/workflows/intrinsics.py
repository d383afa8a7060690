"""Intrinsic functions: ``States.Format('/company/{}', $.id)`` and friends.

:func:`parse_intrinsic` turns the text into a small tree (``Call``/``Literal``/``PathArg``)
when the definition is loaded, so an unknown function or a malformed argument list is
refused before anything runs; :func:`evaluate_intrinsic` computes the value.

Argument syntax: string literals in single quotes with ``\\'``, ``\\\\``, ``\\{`` and
``\\}`` escapes, numbers, ``true``/``false``/``null``, paths (``$.a``, ``$$.Execution.Id``)
and nested calls.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import random
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from canaria.workflows.errors import INTRINSIC_FAILURE, RUNTIME, StatesError
from canaria.workflows.paths import Path, PathNotFound, PathSyntaxError, parse_path, resolve


class IntrinsicSyntaxError(ValueError):
    """The text of an intrinsic call is malformed or names an unknown function."""


@dataclass(frozen=True)
class Literal:
    value: Any
    # For a string literal: its pieces, ``None`` standing for an unescaped ``{}``.
    parts: tuple[str | None, ...] = ()


@dataclass(frozen=True)
class PathArg:
    path: Path


@dataclass(frozen=True)
class Call:
    name: str
    args: tuple[Arg, ...]
    text: str = ""


Arg = Literal | PathArg | Call

MAX_STRING = 10_000
MAX_RANGE = 1_000
HASH_ALGORITHMS = {
    "MD5": "md5",
    "SHA-1": "sha1",
    "SHA-256": "sha256",
    "SHA-384": "sha384",
    "SHA-512": "sha512",
}

# name -> (min args, max args or None)
ARITY: dict[str, tuple[int, int | None]] = {
    "States.Format": (1, None),
    "States.StringToJson": (1, 1),
    "States.JsonToString": (1, 1),
    "States.Array": (0, None),
    "States.ArrayPartition": (2, 2),
    "States.ArrayContains": (2, 2),
    "States.ArrayRange": (3, 3),
    "States.ArrayGetItem": (2, 2),
    "States.ArrayLength": (1, 1),
    "States.ArrayUnique": (1, 1),
    "States.Base64Encode": (1, 1),
    "States.Base64Decode": (1, 1),
    "States.Hash": (2, 2),
    "States.JsonMerge": (3, 3),
    "States.MathRandom": (2, 3),
    "States.MathAdd": (2, 2),
    "States.StringSplit": (2, 2),
    "States.UUID": (0, 0),
}

_NUMBER = re.compile(r"-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?")
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_.]*")


def is_intrinsic(text: str) -> bool:
    return text.startswith("States.")


def parse_intrinsic(text: str) -> Call:
    parser = _Parser(text)
    parser.skip_ws()
    arg = parser.argument()
    parser.skip_ws()
    if parser.pos != len(text):
        raise IntrinsicSyntaxError(f"{text!r}: unexpected text at offset {parser.pos}")
    if not isinstance(arg, Call):
        raise IntrinsicSyntaxError(f"{text!r} is not an intrinsic function call")
    return arg


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0

    def fail(self, message: str) -> IntrinsicSyntaxError:
        return IntrinsicSyntaxError(f"{self.text!r}: {message} at offset {self.pos}")

    def skip_ws(self) -> None:
        while self.pos < len(self.text) and self.text[self.pos].isspace():
            self.pos += 1

    def peek(self) -> str:
        return self.text[self.pos] if self.pos < len(self.text) else ""

    def argument(self) -> Arg:
        c = self.peek()
        if c == "'":
            return self.string()
        if c == "$":
            return self.path()
        if c == "-" or c.isdigit():
            return self.number()
        m = _NAME.match(self.text, self.pos)
        if m is None:
            raise self.fail("expected an argument")
        word = m.group()
        if word in ("true", "false", "null"):
            self.pos = m.end()
            return Literal({"true": True, "false": False, "null": None}[word])
        return self.call(word, m.end())

    def call(self, name: str, end: int) -> Call:
        start = self.pos
        if name not in ARITY:
            raise IntrinsicSyntaxError(f"{name}: unsupported intrinsic")
        self.pos = end
        self.skip_ws()
        if self.peek() != "(":
            raise self.fail(f"expected ( after {name}")
        self.pos += 1
        args: list[Arg] = []
        self.skip_ws()
        if self.peek() == ")":
            self.pos += 1
        else:
            while True:
                self.skip_ws()
                args.append(self.argument())
                self.skip_ws()
                c = self.peek()
                self.pos += 1
                if c == ")":
                    break
                if c != ",":
                    self.pos -= 1
                    raise self.fail(f"expected , or ) in the arguments of {name}")
        low, high = ARITY[name]
        if len(args) < low or (high is not None and len(args) > high):
            wanted = str(low) if low == high else f"{low}..{'n' if high is None else high}"
            raise IntrinsicSyntaxError(f"{name} takes {wanted} arguments, got {len(args)}")
        if name == "States.Format":
            first = args[0]
            if isinstance(first, Literal) and not isinstance(first.value, str):
                raise IntrinsicSyntaxError("States.Format: the first argument must be a string")
        return Call(name, tuple(args), self.text[start : self.pos])

    def string(self) -> Literal:
        self.pos += 1  # opening quote
        parts: list[str | None] = []
        buf: list[str] = []
        text = self.text
        while True:
            if self.pos >= len(text):
                raise self.fail("unterminated string literal")
            c = text[self.pos]
            if c == "\\" and self.pos + 1 < len(text):
                nxt = text[self.pos + 1]
                buf.append(nxt if nxt in "'\\{}" else c + nxt)
                self.pos += 2
            elif c == "'":
                self.pos += 1
                break
            elif text.startswith("{}", self.pos):
                parts.extend(["".join(buf), None])
                buf = []
                self.pos += 2
            else:
                buf.append(c)
                self.pos += 1
        parts.append("".join(buf))
        value = "".join("{}" if p is None else p for p in parts)
        return Literal(value, tuple(parts))

    def number(self) -> Literal:
        m = _NUMBER.match(self.text, self.pos)
        if m is None:
            raise self.fail("malformed number")
        self.pos = m.end()
        return Literal(json.loads(m.group()))

    def path(self) -> PathArg:
        start = self.pos
        depth = 0
        quote = ""
        while self.pos < len(self.text):
            c = self.text[self.pos]
            if quote:
                if c == quote:
                    quote = ""
            elif c in "'\"" and depth > 0:
                quote = c
            elif c == "[":
                depth += 1
            elif c == "]":
                depth -= 1
            elif depth == 0 and (c in ",)" or c.isspace()):
                break
            self.pos += 1
        try:
            return PathArg(parse_path(self.text[start : self.pos]))
        except PathSyntaxError as exc:
            raise IntrinsicSyntaxError(str(exc)) from None


def evaluate_intrinsic(call: Call, data: Any, context: Any, rng: random.Random) -> Any:
    """Evaluate ``call`` against the state's effective input and the context object.

    Raises :class:`StatesError` ``States.IntrinsicFailure`` on bad arguments and
    ``States.Runtime`` when a path argument names nothing."""
    args = [_arg(a, data, context, rng) for a in call.args]
    fn = _FUNCTIONS[call.name]
    try:
        return fn(call, args, rng)
    except StatesError:
        raise
    except (TypeError, ValueError, IndexError, binascii.Error, UnicodeDecodeError) as exc:
        raise _fail(call, str(exc)) from None


def _arg(arg: Arg, data: Any, context: Any, rng: random.Random) -> Any:
    match arg:
        case Literal(value):
            return value
        case PathArg(path):
            try:
                return resolve(path, data, context)
            except PathNotFound:
                raise StatesError(
                    RUNTIME,
                    f"The JsonPath argument {path.text!r} of the intrinsic function "
                    f"could not be found in the input {_dumps(data)}",
                ) from None
        case Call():
            return evaluate_intrinsic(arg, data, context, rng)


def _fail(call: Call, message: str) -> StatesError:
    return StatesError(INTRINSIC_FAILURE, f"{call.name}: {message}")


def _dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def _want(call: Call, value: Any, kind: type | tuple[type, ...], what: str) -> Any:
    if not isinstance(value, kind) or (isinstance(value, bool) and bool not in _kinds(kind)):
        raise _fail(call, f"expected {what}, got {_dumps(value)}")
    return value


def _kinds(kind: type | tuple[type, ...]) -> tuple[type, ...]:
    return kind if isinstance(kind, tuple) else (kind,)


def _int(call: Call, value: Any) -> int:
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return int(_want(call, value, int, "an integer"))


def _format(call: Call, args: list[Any], rng: random.Random) -> str:
    first = call.args[0]
    template = _want(call, args[0], str, "a string template")
    if isinstance(first, Literal):
        parts: list[str | None] = list(first.parts)
    else:
        pieces = template.split("{}")
        parts = [pieces[0]]
        for piece in pieces[1:]:
            parts += [None, piece]
    values = args[1:]
    if parts.count(None) != len(values):
        raise _fail(call, f"the template has {parts.count(None)} {{}} but {len(values)} values")
    it = iter(values)
    out: list[str] = []
    for part in parts:
        if part is not None:
            out.append(part)
            continue
        value = next(it)
        if isinstance(value, dict | list):
            raise _fail(call, f"cannot format {_dumps(value)}: only strings, numbers, booleans")
        out.append(value if isinstance(value, str) else _dumps(value))
    return "".join(out)


def _string_to_json(call: Call, args: list[Any], rng: random.Random) -> Any:
    text = _want(call, args[0], str, "a string")
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise _fail(call, f"not JSON: {exc}") from None


def _json_to_string(call: Call, args: list[Any], rng: random.Random) -> str:
    return _dumps(args[0])


def _array(call: Call, args: list[Any], rng: random.Random) -> list[Any]:
    return list(args)


def _array_partition(call: Call, args: list[Any], rng: random.Random) -> list[Any]:
    items = _want(call, args[0], list, "an array")
    size = _int(call, args[1])
    if size <= 0:
        raise _fail(call, f"the chunk size must be positive, got {size}")
    return [items[i : i + size] for i in range(0, len(items), size)]


def _array_contains(call: Call, args: list[Any], rng: random.Random) -> bool:
    items = _want(call, args[0], list, "an array")
    needle = _dumps(args[1])
    return any(_dumps(item) == needle for item in items)


def _array_range(call: Call, args: list[Any], rng: random.Random) -> list[int]:
    start, end, step = (_int(call, a) for a in args)
    if step == 0:
        raise _fail(call, "the step must not be 0")
    values = list(range(start, end + (1 if step > 0 else -1), step))
    if len(values) > MAX_RANGE:
        raise _fail(call, f"the range has {len(values)} elements, more than {MAX_RANGE}")
    return values


def _array_get_item(call: Call, args: list[Any], rng: random.Random) -> Any:
    items = _want(call, args[0], list, "an array")
    index = _int(call, args[1])
    if not 0 <= index < len(items):
        raise _fail(call, f"index {index} is out of range for an array of {len(items)}")
    return items[index]


def _array_length(call: Call, args: list[Any], rng: random.Random) -> int:
    return len(_want(call, args[0], list, "an array"))


def _array_unique(call: Call, args: list[Any], rng: random.Random) -> list[Any]:
    seen: set[str] = set()
    out: list[Any] = []
    for item in _want(call, args[0], list, "an array"):
        key = _dumps(item)
        if key not in seen:
            seen.add(key)
            out.append(item)
    return out


def _short_string(call: Call, value: Any) -> str:
    text: str = _want(call, value, str, "a string")
    if len(text) > MAX_STRING:
        raise _fail(call, f"the string has {len(text)} characters, more than {MAX_STRING}")
    return text


def _base64_encode(call: Call, args: list[Any], rng: random.Random) -> str:
    return base64.b64encode(_short_string(call, args[0]).encode()).decode("ascii")


def _base64_decode(call: Call, args: list[Any], rng: random.Random) -> str:
    return base64.b64decode(_short_string(call, args[0]), validate=True).decode()


def _hash(call: Call, args: list[Any], rng: random.Random) -> str:
    data = _short_string(call, args[0])
    algorithm = _want(call, args[1], str, "an algorithm name")
    if algorithm not in HASH_ALGORITHMS:
        raise _fail(
            call, f"unknown algorithm {algorithm!r} (allowed: {', '.join(HASH_ALGORITHMS)})"
        )
    return hashlib.new(HASH_ALGORITHMS[algorithm], data.encode()).hexdigest()


def _json_merge(call: Call, args: list[Any], rng: random.Random) -> dict[str, Any]:
    left = _want(call, args[0], dict, "an object")
    right = _want(call, args[1], dict, "an object")
    deep = _want(call, args[2], bool, "a boolean")
    if deep:
        raise _fail(call, "only shallow merge is supported: the third argument must be false")
    return {**left, **right}


def _math_random(call: Call, args: list[Any], rng: random.Random) -> int:
    start, end = _int(call, args[0]), _int(call, args[1])
    if end <= start:
        raise _fail(call, f"the end ({end}) must be greater than the start ({start})")
    source = random.Random(_int(call, args[2])) if len(args) == 3 else rng
    return source.randrange(start, end)


def _math_add(call: Call, args: list[Any], rng: random.Random) -> int:
    total = _int(call, args[0]) + _int(call, args[1])
    if not -(2**31) <= total < 2**31:
        raise _fail(call, f"the sum {total} is outside the 32-bit integer range")
    return total


def _string_split(call: Call, args: list[Any], rng: random.Random) -> list[str]:
    text = _want(call, args[0], str, "a string")
    delimiters = _want(call, args[1], str, "a string of delimiters")
    if not delimiters:
        raise _fail(call, "the delimiter must not be empty")
    pattern = "[" + re.escape(delimiters) + "]"
    return [piece for piece in re.split(pattern, text) if piece]


def _uuid(call: Call, args: list[Any], rng: random.Random) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


_FUNCTIONS: dict[str, Callable[[Call, list[Any], random.Random], Any]] = {
    "States.Format": _format,
    "States.StringToJson": _string_to_json,
    "States.JsonToString": _json_to_string,
    "States.Array": _array,
    "States.ArrayPartition": _array_partition,
    "States.ArrayContains": _array_contains,
    "States.ArrayRange": _array_range,
    "States.ArrayGetItem": _array_get_item,
    "States.ArrayLength": _array_length,
    "States.ArrayUnique": _array_unique,
    "States.Base64Encode": _base64_encode,
    "States.Base64Decode": _base64_decode,
    "States.Hash": _hash,
    "States.JsonMerge": _json_merge,
    "States.MathRandom": _math_random,
    "States.MathAdd": _math_add,
    "States.StringSplit": _string_split,
    "States.UUID": _uuid,
}
assert set(_FUNCTIONS) == set(ARITY)

__all__ = [
    "ARITY",
    "HASH_ALGORITHMS",
    "Arg",
    "Call",
    "IntrinsicSyntaxError",
    "Literal",
    "PathArg",
    "evaluate_intrinsic",
    "is_intrinsic",
    "parse_intrinsic",
]
