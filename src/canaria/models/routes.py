"""The grammar of an API route's path, as API Gateway reads it: literal segments,
``{name}`` variables and a final greedy ``{name+}``, or an HTTP API's ``$default``.

The template checks paths with it when it loads; the gateway compiles routes with it.
"""

from __future__ import annotations

import enum
import re

from canaria.errors import TemplateError

__all__ = ["DEFAULT_ROUTE", "SegmentKind", "parse_path", "split_path"]

DEFAULT_ROUTE = "$default"
_PARAM = re.compile(r"^\{([A-Za-z0-9._-]+)(\+?)\}$")


class SegmentKind(enum.Enum):
    LITERAL = "literal"
    PARAM = "param"
    GREEDY = "greedy"


def parse_path(path: str, where: str) -> list[tuple[SegmentKind, str]]:
    """The segments of a route's path (``where`` names the route in errors); a
    ``TemplateError`` says what is wrong with a path API Gateway would refuse."""
    if not path.startswith("/"):
        raise TemplateError(f"{where}: a path must start with '/'", prop="Path")
    parts = split_path(path)
    segments: list[tuple[SegmentKind, str]] = []
    for i, part in enumerate(parts):
        if not part.startswith("{"):
            segments.append((SegmentKind.LITERAL, part))
            continue
        m = _PARAM.match(part)
        if m is None:
            raise TemplateError(
                f"{where}: bad path variable {part!r}",
                prop="Path",
                allowed="{name} or a final {name+}",
            )
        if m.group(2):
            if i != len(parts) - 1:
                raise TemplateError(f"{where}: a greedy variable must end the path", prop="Path")
            segments.append((SegmentKind.GREEDY, m.group(1)))
        else:
            segments.append((SegmentKind.PARAM, m.group(1)))
    return segments


def split_path(path: str) -> list[str]:
    """Path segments; one trailing slash is ignored, the root has none."""
    if path == "/" or path == "":
        return []
    if path.endswith("/"):
        path = path[:-1]
    return path[1:].split("/")
