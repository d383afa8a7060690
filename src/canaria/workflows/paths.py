"""The JSONPath subset Amazon States Language uses.

Paths: ``$``, ``$.a.b``, ``$.a[0]``, ``$['x y']``, ``$.items[*].id``, ``$.a.*`` and the
context object ``$$.Execution.Id``. Reference paths (``ResultPath``) name one node only: no
wildcard and no ``$$``. Filters (``[?(...)]``), slices, unions and recursive descent
(``..``) are refused when the definition is loaded.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


class PathSyntaxError(ValueError):
    """A path string is not in the supported subset."""


class PathNotFound(LookupError):
    """A path names a node the data does not have."""


class PathMismatch(LookupError):
    """A reference path cannot be written into the data (a scalar sits on the way)."""


@dataclass(frozen=True)
class Key:
    name: str


@dataclass(frozen=True)
class Index:
    index: int


@dataclass(frozen=True)
class Wildcard:
    pass


Segment = Key | Index | Wildcard


@dataclass(frozen=True)
class Path:
    text: str
    context: bool  # starts with $$ (the context object) rather than $ (the input)
    segments: tuple[Segment, ...]

    @property
    def definite(self) -> bool:
        return not any(isinstance(s, Wildcard) for s in self.segments)

    def __str__(self) -> str:
        return self.text


def parse_path(text: str) -> Path:
    """Parse a path (``InputPath``, ``Parameters`` values, Choice ``Variable``, ...)."""
    if not isinstance(text, str) or not text.startswith("$"):
        raise PathSyntaxError(f"{text!r} is not a path: it must start with $")
    context = text.startswith("$$")
    pos = 2 if context else 1
    segments: list[Segment] = []
    n = len(text)
    while pos < n:
        c = text[pos]
        if c == ".":
            if text.startswith("..", pos):
                raise PathSyntaxError(f"{text!r}: recursive descent (..) is not supported")
            pos += 1
            if pos < n and text[pos] == "[":
                continue  # ``$.[0]`` is ``$[0]``, as Step Functions' JsonPath reads it
            start = pos
            while pos < n and text[pos] not in ".[":
                pos += 1
            name = text[start:pos]
            if not name:
                raise PathSyntaxError(f"{text!r}: empty field name at offset {start}")
            segments.append(Wildcard() if name == "*" else Key(name))
        elif c == "[":
            end, segment = _bracket(text, pos)
            segments.append(segment)
            pos = end
        else:
            raise PathSyntaxError(f"{text!r}: unexpected {c!r} at offset {pos}")
    return Path(text, context, tuple(segments))


def _bracket(text: str, pos: int) -> tuple[int, Segment]:
    """Parse ``[...]`` starting at ``pos``; return the offset after ``]`` and the segment."""
    inner_start = pos + 1
    if inner_start < len(text) and text[inner_start] in "'\"":
        quote = text[inner_start]
        i = inner_start + 1
        chars: list[str] = []
        while i < len(text) and text[i] != quote:
            if text[i] == "\\" and i + 1 < len(text):
                i += 1
            chars.append(text[i])
            i += 1
        if i + 1 >= len(text) or text[i + 1] != "]":
            raise PathSyntaxError(f"{text!r}: unterminated ['...'] at offset {pos}")
        return i + 2, Key("".join(chars))
    close = text.find("]", pos)
    if close < 0:
        raise PathSyntaxError(f"{text!r}: missing ] after offset {pos}")
    inner = text[inner_start:close].strip()
    if inner == "*":
        return close + 1, Wildcard()
    if inner.startswith("?"):
        raise PathSyntaxError(f"{text!r}: filter expressions ([?(...)]) are not supported")
    if ":" in inner or "," in inner:
        raise PathSyntaxError(f"{text!r}: slices and unions ([{inner}]) are not supported")
    try:
        return close + 1, Index(int(inner))
    except ValueError:
        raise PathSyntaxError(f"{text!r}: [{inner}] is not an index") from None


def parse_reference_path(text: str) -> Path:
    """Parse a reference path (``ResultPath``): one node, no wildcard, no ``$$``."""
    path = parse_path(text)
    if path.context:
        raise PathSyntaxError(f"{text!r}: a reference path cannot use the context object $$")
    if not path.definite:
        raise PathSyntaxError(f"{text!r}: a reference path cannot use a wildcard")
    return path


def resolve(path: Path, data: Any, context: Any = None) -> Any:
    """The value ``path`` names in ``data`` (or in ``context`` for ``$$`` paths).

    A wildcard yields the list of matches (nodes missing under it are skipped); a missing
    definite node raises :class:`PathNotFound`."""
    root = context if path.context else data
    if path.definite:
        node = root
        for segment in path.segments:
            node = _step(path, node, segment)
        return node
    return _collect(path, [root], path.segments)


def _step(path: Path, node: Any, segment: Segment) -> Any:
    match segment:
        case Key(name):
            if isinstance(node, dict) and name in node:
                return node[name]
        case Index(index):
            if isinstance(node, list) and -len(node) <= index < len(node):
                return node[index]
        case Wildcard():
            raise AssertionError("wildcards are collected, not stepped")
    raise PathNotFound(f"the path {path.text!r} does not exist in the data")


def _collect(path: Path, nodes: list[Any], segments: tuple[Segment, ...]) -> list[Any]:
    for segment in segments:
        following: list[Any] = []
        for node in nodes:
            if isinstance(segment, Wildcard):
                if isinstance(node, list):
                    following.extend(node)
                elif isinstance(node, dict):
                    following.extend(node.values())
            else:
                try:
                    following.append(_step(path, node, segment))
                except PathNotFound:
                    continue
        nodes = following
    return nodes


def assign(data: Any, path: Path, value: Any) -> Any:
    """A copy of ``data`` with ``value`` written at the reference path ``path``.

    Missing objects on the way are created; a scalar or array on the way raises
    :class:`PathMismatch`. ``data`` itself is never modified."""
    if not path.segments:
        return value
    return _assign(data, path, 0, value)


def _assign(node: Any, path: Path, depth: int, value: Any) -> Any:
    segment = path.segments[depth]
    last = depth == len(path.segments) - 1
    match segment:
        case Key(name):
            if node is None:
                node = {}
            if not isinstance(node, dict):
                raise PathMismatch(
                    f"cannot write {path.text!r}: the node before {name!r} is "
                    f"{_kind(node)}, not an object"
                )
            out = dict(node)
            out[name] = value if last else _assign(node.get(name), path, depth + 1, value)
            return out
        case Index(index):
            if not isinstance(node, list) or not -len(node) <= index < len(node):
                raise PathMismatch(f"cannot write {path.text!r}: no array element [{index}]")
            items = list(node)
            items[index] = value if last else _assign(node[index], path, depth + 1, value)
            return items
        case Wildcard():
            raise PathMismatch(f"cannot write through a wildcard in {path.text!r}")


def _kind(node: Any) -> str:
    if isinstance(node, list):
        return "an array"
    if node is None:
        return "null"
    return f"the {type(node).__name__} {node!r}"


__all__ = [
    "Index",
    "Key",
    "Path",
    "PathMismatch",
    "PathNotFound",
    "PathSyntaxError",
    "Segment",
    "Wildcard",
    "assign",
    "parse_path",
    "parse_reference_path",
    "resolve",
]
