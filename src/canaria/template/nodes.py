"""Template values that remember where they were written, and ``Where``: file, line, path.

The YAML loader builds ``LineMap`` (a dict) and ``LineList`` (a list) that carry the line
of the node and of each key or item. ``Where`` follows a property path through them, so
every error names the file, the line and the property (``Resources.Fn.Properties.Timeout``).
The coercion helpers (``as_str``, ``as_int``, ...) check resolved values and raise
``TemplateError`` at the right place.
"""

from __future__ import annotations

import difflib
import re
import sys
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from canaria.errors import TemplateError, TemplateErrors


class LineMap(dict[str, Any]):
    """A mapping with the line of itself (``line``) and of each key (``lines``).

    ``paths`` names keys that came from elsewhere (``Globals``, a nested template): their
    own property path, line and file (``None``: this map's file).
    """

    line: int | None
    lines: dict[str, int]
    paths: dict[str, tuple[str, int | None, str | None]]

    def __init__(self, *args: Any, line: int | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.line = line
        self.lines = {}
        self.paths = {}

    def like(self, items: Iterable[tuple[str, Any]]) -> LineMap:
        """A new LineMap holding ``items`` with this map's line marks."""
        out = LineMap(items, line=self.line)
        out.lines = {k: v for k, v in self.lines.items() if k in out}
        out.paths = {k: v for k, v in self.paths.items() if k in out}
        return out


class LineList(list[Any]):
    """A list with the line of itself and of each item."""

    line: int | None
    lines: list[int | None]

    def __init__(self, *args: Any, line: int | None = None) -> None:
        super().__init__(*args)
        self.line = line
        self.lines = []


def line_of(value: Any) -> int | None:
    return value.line if isinstance(value, LineMap | LineList) else None


@dataclass(frozen=True)
class Where:
    """A place in a template: the file, the property path and the nearest known line."""

    file: str
    path: str = ""
    line: int | None = None

    def key(self, node: Any, key: str) -> Where:
        """The place of ``node[key]``."""
        if isinstance(node, LineMap):
            if key in node.paths:
                path, line, file = node.paths[key]
                return Where(file or self.file, path, line)
            line = node.lines.get(key, node.line if node.line is not None else self.line)
        else:
            line = self.line
        return Where(self.file, f"{self.path}.{key}" if self.path else key, line)

    def index(self, node: Any, i: int) -> Where:
        """The place of ``node[i]``."""
        line = self.line
        if isinstance(node, LineList) and i < len(node.lines) and node.lines[i] is not None:
            line = node.lines[i]
        return Where(self.file, f"{self.path}[{i}]", line)

    def at(self, value: Any) -> Where:
        """This place, at the line ``value`` starts on when it knows it."""
        line = line_of(value)
        return Where(self.file, self.path, line) if line is not None else self

    def error(self, message: str, allowed: str | Iterable[str] | None = None) -> TemplateError:
        if allowed is not None and not isinstance(allowed, str):
            allowed = ", ".join(allowed)
        return TemplateError(
            message, file=self.file, line=self.line, prop=self.path or None, allowed=allowed
        )


# ---- coercion of resolved values ---------------------------------------------------------


def type_name(value: Any) -> str:
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, Mapping):
        return "a mapping"
    if isinstance(value, list | tuple):
        return "a list"
    if value is None:
        return "empty"
    return type(value).__name__


def as_str(value: Any, where: Where) -> str:
    """A string; numbers are accepted and written as CloudFormation writes them."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    raise where.error(f"expected a string, got {type_name(value)}")


_INT = re.compile(r"^\s*[+-]?\d+\s*$")


def as_int(value: Any, where: Where, lo: int | None = None, hi: int | None = None) -> int:
    """An integer (a numeric string from a parameter counts), within ``[lo, hi]``."""
    if isinstance(value, bool):
        raise where.error(f"expected an integer, got {type_name(value)}")
    if isinstance(value, int):
        n = value
    elif (isinstance(value, float) and value.is_integer()) or (
        isinstance(value, str) and _INT.match(value)
    ):
        n = int(value)
    else:
        raise where.error(f"expected an integer, got {value!r}")
    if (lo is not None and n < lo) or (hi is not None and n > hi):
        bounds = f"an integer from {lo} to {hi}" if hi is not None else f"an integer >= {lo}"
        raise where.error(f"{n} is out of range", allowed=bounds)
    return n


def as_float(value: Any, where: Where) -> float:
    if isinstance(value, bool):
        raise where.error(f"expected a number, got {type_name(value)}")
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            pass
    raise where.error(f"expected a number, got {value!r}")


def as_bool(value: Any, where: Where) -> bool:
    """A boolean; ``"true"``/``"false"`` (any case) from parameters count."""
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    raise where.error(f"expected a boolean, got {value!r}", allowed="true, false")


def as_map(value: Any, where: Where) -> LineMap:
    if isinstance(value, LineMap):
        return value
    if isinstance(value, Mapping):
        return LineMap(value, line=where.line)
    raise where.error(f"expected a mapping, got {type_name(value)}")


def as_list(value: Any, where: Where) -> list[Any]:
    if isinstance(value, list | tuple):
        return list(value)
    raise where.error(f"expected a list, got {type_name(value)}")


MAX_CHOICES = 12


def choices(names: Iterable[str], near: str | None = None, limit: int = MAX_CHOICES) -> str:
    """``names`` for an ``allowed`` text: the ones closest to ``near`` first, at most
    ``limit`` of them, then how many more there are (a message never lists a whole
    template)."""
    ordered = sorted(set(names))
    if near is not None:
        close = difflib.get_close_matches(near, ordered, n=3, cutoff=0.6)
        ordered = close + [n for n in ordered if n not in close]
    if len(ordered) <= limit:
        return ", ".join(ordered)
    return ", ".join(ordered[:limit]) + f", ... ({len(ordered) - limit} more)"


def check_keys(
    node: Mapping[str, Any],
    where: Where,
    allowed: Iterable[str],
    *,
    required: Iterable[str] = (),
    what: str = "property",
) -> None:
    """Refuse keys outside ``allowed`` and report missing ``required`` ones."""
    known = set(allowed)
    for key in node:
        if key not in known:
            raise where.key(node, key).error(
                f"unknown {what} {key!r}", allowed=choices(known, near=key)
            )
    for key in required:
        if key not in node:
            raise where.at(node).error(f"{key} is required")


def get_att_parts(arg: Any) -> tuple[Any, Any]:
    """A ``Fn::GetAtt``'s resource and attribute, from either form (``A.B`` or ``[A, B]``);
    ``(None, None)`` for anything else."""
    if isinstance(arg, str):
        head, _, attr = arg.partition(".")
        return head, attr
    if isinstance(arg, list) and len(arg) == 2:
        return arg[0], arg[1]
    return None, None


def depends_without(value: Any, names: Iterable[str]) -> Any:
    """A ``DependsOn`` (a name or a list of them) without ``names``; ``None`` when nothing
    is left (the attribute goes)."""
    gone = set(names)
    items = value if isinstance(value, list) else [value]
    kept = LineList(v for v in items if not (isinstance(v, str) and v in gone))
    if not kept:
        return None
    return kept[0] if len(kept) == 1 and not isinstance(value, list) else kept


def plain(value: Any) -> Any:
    """``value`` with every LineMap/LineList turned into a plain dict/list."""
    if isinstance(value, Mapping):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    return value


class Problems:
    """Collects the ``TemplateError`` of each independent check, to report all at once."""

    def __init__(self) -> None:
        self.errors: list[TemplateError] = []

    @contextmanager
    def catch(self) -> Iterator[None]:
        try:
            yield
        except TemplateErrors as exc:
            self.errors.extend(exc.errors)
        except TemplateError as exc:
            self.errors.append(exc)

    def raise_any(self) -> None:
        """Raise every problem collected, in the order of their lines."""
        if self.errors:
            unique = {e.message: e for e in self.errors}.values()
            raise TemplateErrors(sorted(unique, key=_by_line))


def _by_line(error: TemplateError) -> int:
    return error.line if error.line is not None else sys.maxsize
