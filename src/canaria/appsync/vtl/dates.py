"""``$util.time`` of AppSync's VTL mapping templates ("Time helpers in $util.time", AWS
AppSync Developer Guide).

Formats are the patterns of Java's ``DateTimeFormatter``, which AppSync uses: the letters
``y u M L d D E a H h K k m s S n X x Z z V O``, ``'quoted text'`` and ``[optional
sections]``, read as canaria's ``APPSYNC_JS`` ``util.time`` (``js/time.mjs``) reads them. A
time zone is an IANA name (``Australia/Perth``), an offset (``+08:00``, ``-07:00:30``) or
UTC. ``now`` is the render's clock: canaria may run it faster than the machine's.

One deviation: ``zzzz`` (a zone's long name) writes the zone's IANA name, ``z`` its
abbreviation (``AWST``).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone, tzinfo
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from canaria.gateway.mapping_templates import _JavaString, _s, _to_text

__all__ = ["TimeHelpers", "format_epoch", "iso8601", "parse_formatted", "parse_iso8601"]

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MS = timedelta(milliseconds=1)
_MONTHS = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)
_DAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
_OFFSET = re.compile(r"^(?:UTC|GMT|UT)?([+-])(\d{1,2})(?::?(\d{2}))?(?::?(\d{2}))?$")
_SUPPORTED = "y u M L d D E a H h K k m s S n X x Z z V O and quoted text"


# --------------------------------------------------------------------------- zones


@dataclass(frozen=True)
class _Zone:
    id: str
    tz: tzinfo
    fixed: bool


def _zone(text: Any) -> _Zone:
    if text is None or _to_text(text) in ("UTC", "Z", "GMT", "UT"):
        return _Zone("UTC", UTC, True)
    name = _to_text(text)
    m = _OFFSET.match(name)
    if m:
        sign = -1 if m[1] == "-" else 1
        seconds = sign * (int(m[2]) * 3600 + int(m[3] or 0) * 60 + int(m[4] or 0))
        return _Zone(_offset_text(seconds, colon=True, with_seconds=True), _fixed(seconds), True)
    try:
        return _Zone(name, ZoneInfo(name), False)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"$util.time: unknown time zone {name!r}") from None


def _fixed(seconds: int) -> tzinfo:
    return UTC if seconds == 0 else timezone(timedelta(seconds=seconds))


def _offset_text(seconds: int, *, colon: bool, with_seconds: bool = False) -> str:
    """``+08:00`` (colon) or ``+0800``; seconds when not zero, with ``with_seconds``."""
    sign = "-" if seconds < 0 else "+"
    whole = abs(seconds)
    sep = ":" if colon else ""
    text = f"{sign}{whole // 3600:02d}{sep}{whole // 60 % 60:02d}"
    if with_seconds and whole % 60:
        text += f"{sep}{whole % 60:02d}"
    return text


# --------------------------------------------------------------------------- patterns

# a letter run (letter, count), quoted text (None, text), or an optional section (list)
_Token = tuple[str | None, Any]


def _tokenize(pattern: str) -> list[_Token]:
    root: list[_Token] = []
    stack = [root]
    i = 0
    while i < len(pattern):
        c = pattern[i]
        top = stack[-1]
        if c.isascii() and c.isalpha():
            j = i
            while j < len(pattern) and pattern[j] == c:
                j += 1
            top.append((c, j - i))
            i = j
        elif c == "'":
            j, text = i + 1, ""
            while j < len(pattern):
                if pattern[j] == "'" and pattern[j + 1 : j + 2] == "'":
                    text, j = text + "'", j + 2
                elif pattern[j] == "'":
                    break
                else:
                    text, j = text + pattern[j], j + 1
            top.append((None, text or "'"))
            i = j + 1
        elif c == "[":
            section: list[_Token] = []
            top.append(("[", section))
            stack.append(section)
            i += 1
        elif c == "]" and len(stack) > 1:
            stack.pop()
            i += 1
        else:
            top.append((None, c))
            i += 1
    return root


def _unsupported(letter: str, count: int) -> ValueError:
    return ValueError(
        f"$util.time: pattern letter {letter * count} is not supported by canaria "
        f"(supported: {_SUPPORTED})"
    )


def _pad(n: int, width: int) -> str:
    return ("-" if n < 0 else "") + str(abs(n)).rjust(width, "0")


def _zone_name(at: datetime, zone: _Zone, offset: int, count: int) -> str:
    if zone.fixed:
        return "Z" if offset == 0 else _offset_text(offset, colon=True)
    return zone.id if count >= 4 else (at.tzname() or zone.id)


def _field(letter: str, count: int, at: datetime, milli: int, zone: _Zone) -> str:
    offset = int((at.utcoffset() or timedelta()).total_seconds())
    match letter:
        case "y" | "u":
            return _pad(at.year % 100, 2) if count == 2 else _pad(at.year, count)
        case "M" | "L":
            name = _MONTHS[at.month - 1]
            if count >= 3:
                return name[0] if count >= 5 else name if count == 4 else name[:3]
            return _pad(at.month, count)
        case "d":
            return _pad(at.day, count)
        case "D":
            return _pad(at.timetuple().tm_yday, count)
        case "E":
            day = _DAYS[at.weekday()]
            return day[0] if count >= 5 else day if count == 4 else day[:3]
        case "a":
            return "AM" if at.hour < 12 else "PM"
        case "H":
            return _pad(at.hour, count)
        case "k":
            return _pad(at.hour or 24, count)
        case "h":
            return _pad(at.hour % 12 or 12, count)
        case "K":
            return _pad(at.hour % 12, count)
        case "m":
            return _pad(at.minute, count)
        case "s":
            return _pad(at.second, count)
        case "S":
            return f"{milli:03d}".ljust(count, "0")[:count]
        case "n":
            return str(milli * 1_000_000)
        case "X" | "x":
            if letter == "X" and offset == 0:
                return "Z"
            if count == 1:
                text = _offset_text(offset, colon=False)
                return text[:3] if offset % 3600 == 0 else text
            if count in (2, 4):
                return _offset_text(offset, colon=False, with_seconds=count == 4)
            return _offset_text(offset, colon=True, with_seconds=count == 5)
        case "Z":
            if count <= 3:
                return _offset_text(offset, colon=False)
            if count == 4:
                return "GMT" if offset == 0 else "GMT" + _offset_text(offset, colon=True)
            return "Z" if offset == 0 else _offset_text(offset, colon=True, with_seconds=True)
        case "O":
            if offset == 0:
                return "GMT"
            if count == 4:
                return "GMT" + _offset_text(offset, colon=True)
            return f"GMT{'-' if offset < 0 else '+'}{abs(offset) // 3600}"
        case "z":
            return _zone_name(at, zone, offset, count)
        case "V":
            return zone.id
    raise _unsupported(letter, count)


def _format(tokens: list[_Token], at: datetime, milli: int, zone: _Zone) -> str:
    out = []
    for kind, value in tokens:
        if kind is None:
            out.append(value)
        elif kind == "[":
            out.append(_format(value, at, milli, zone))
        else:
            out.append(_field(kind, value, at, milli, zone))
    return "".join(out)


def _epoch_ms(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise ValueError(f"$util.time: {_to_text(value)!r} is not epoch milliseconds")
    return int(float(value)) if isinstance(value, str) else int(value)


def format_epoch(epoch_ms: Any, pattern: Any, zone: Any = None) -> str:
    """``epoch_ms`` written with a ``DateTimeFormatter`` pattern, in ``zone`` (UTC)."""
    if not isinstance(pattern, str):
        raise ValueError("$util.time: the format must be a string")
    ms = _epoch_ms(epoch_ms)
    where = _zone(zone)
    at = (_EPOCH + timedelta(milliseconds=ms)).astimezone(where.tz)
    return _format(_tokenize(pattern), at, ms % 1000, where)


def iso8601(epoch_ms: Any) -> str:
    """As JavaScript's ``toISOString``: UTC, milliseconds, ``Z``."""
    ms = _epoch_ms(epoch_ms)
    at = _EPOCH + timedelta(milliseconds=ms)
    return f"{at:%Y-%m-%dT%H:%M:%S}.{ms % 1000:03d}Z"


# --------------------------------------------------------------------------- parsing

_NUMBER = {
    "y": "year",
    "u": "year",
    "M": "month",
    "L": "month",
    "d": "day",
    "H": "hour",
    "k": "hour",
    "h": "hour12",
    "K": "hour12",
    "m": "minute",
    "s": "second",
}
_ZONE_TEXT = re.compile(r"(?:Z|GMT|UTC)?(?:[+-]\d{1,2}(?::?\d{2})?(?::?\d{2})?)?")
_ZONE_NAME = re.compile(r"[A-Za-z_]+(?:/[A-Za-z_+-]+)*|[+-]\d{2}:?\d{2}")


def _match(tokens: list[_Token], text: str, pos: int, into: dict[str, Any]) -> int:
    """Match ``tokens`` at ``pos`` of ``text`` into ``into``: the end position, or -1."""
    for i, (kind, value) in enumerate(tokens):
        if kind is None:
            if not text.startswith(value, pos):
                return -1
            pos += len(value)
        elif kind == "[":
            trial = dict(into)
            end = _match(value, text, pos, trial)
            if end >= 0:
                into.update(trial)
                pos = end
        else:
            following = tokens[i + 1][0] if i + 1 < len(tokens) else None
            adjacent = following is not None and following != "["
            pos = _match_field(kind, value, text, pos, into, adjacent=adjacent)
            if pos < 0:
                return -1
    return pos


def _match_field(
    letter: str, count: int, text: str, pos: int, into: dict[str, Any], *, adjacent: bool
) -> int:
    """``adjacent``: another field follows with no separator (``yyyyMMdd``), so a number
    takes exactly as many digits as its letters say."""
    rest = text[pos:]
    if letter in _NUMBER or letter == "D":
        if letter in "ML" and count >= 3:
            for month, name in enumerate(_MONTHS, start=1):
                written = name[:3] if count == 3 else name
                if rest.lower().startswith(written.lower()):
                    into["month"] = month
                    return pos + len(written)
            return -1
        year = letter in "yu"
        widest = count if adjacent else (2 if count == 2 else 9) if year else max(count, 2)
        narrowest = count if adjacent or count == 2 else 1
        sign = "[+-]?" if year and not adjacent else ""
        m = re.match(rf"{sign}\d{{{narrowest},{widest}}}", rest)
        if not m:
            return -1
        number = int(m[0])
        if year and count == 2:
            number += 2000
        if letter != "D":
            into[_NUMBER[letter]] = 0 if letter == "k" and number == 24 else number
        return pos + len(m[0])
    match letter:
        case "S":
            m = re.match(rf"\d{{{count}}}" if adjacent else r"\d+", rest)
            if not m:
                return -1
            into["milli"] = int((m[0] + "000")[:3])
            return pos + len(m[0])
        case "a":
            if rest[:2].upper() not in ("AM", "PM"):
                return -1
            into["pm"] = rest[:2].upper() == "PM"
            return pos + 2
        case "E":
            for day in _DAYS:
                written = day if count == 4 else day[:3]
                if rest.lower().startswith(written.lower()):
                    return pos + len(written)
            return -1
        case "X" | "x" | "Z" | "O":
            m = _ZONE_TEXT.match(rest)
            if not m or not m[0]:
                return -1
            into["zone"] = _zone("UTC" if m[0] == "Z" else m[0])
            return pos + len(m[0])
        case "V" | "z":
            m = _ZONE_NAME.match(rest)
            if not m:
                return -1
            into["zone"] = _zone(m[0])
            return pos + len(m[0])
    raise _unsupported(letter, count)


def _wall_to_epoch(parts: dict[str, Any], zone: _Zone) -> int:
    hour = parts.get("hour", 0)
    if "hour12" in parts:
        hour = parts["hour12"] % 12 + (12 if parts.get("pm") else 0)
    try:
        wall = datetime(
            parts.get("year", 1970),
            parts.get("month", 1),
            parts.get("day", 1),
            hour,
            parts.get("minute", 0),
            parts.get("second", 0),
            parts.get("milli", 0) * 1000,
            tzinfo=zone.tz,
        )
    except ValueError as e:
        raise ValueError(f"$util.time: {e}") from None
    return (wall - _EPOCH) // _MS


def parse_formatted(text: Any, pattern: Any, zone: Any = None) -> int:
    """Epoch milliseconds of ``text`` written with ``pattern``; the zone is the text's own
    (a zone field) or ``zone``."""
    if not isinstance(text, str) or not isinstance(pattern, str):
        raise ValueError("$util.time.parseFormattedToEpochMilliSeconds: expected two strings")
    parts: dict[str, Any] = {}
    if _match(_tokenize(pattern), text, 0, parts) != len(text):
        raise ValueError(f"$util.time: {text!r} does not match the format {pattern!r}")
    where = parts.get("zone") or (_zone(zone) if zone is not None else None)
    if where is None:
        raise ValueError(
            f"$util.time: the format {pattern!r} has no time zone: add one to it (Z, X, VV) "
            "or pass the time zone as the third argument"
        )
    return _wall_to_epoch(parts, where)


_ISO8601 = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})"
    r"(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d+))?)?)?"
    r"(Z|[+-]\d{2}(?::?\d{2})?)?$"
)


def parse_iso8601(text: Any) -> int:
    m = _ISO8601.match(_to_text(text))
    if not m:
        raise ValueError(f"$util.time: {_to_text(text)!r} is not an ISO 8601 timestamp")
    parts = {
        "year": int(m[1]),
        "month": int(m[2]),
        "day": int(m[3]),
        "hour": int(m[4] or 0),
        "minute": int(m[5] or 0),
        "second": int(m[6] or 0),
        "milli": int((m[7] + "000")[:3]) if m[7] else 0,
    }
    return _wall_to_epoch(parts, _zone("UTC" if m[8] in (None, "Z") else m[8]))


# --------------------------------------------------------------------------- $util.time


class TimeHelpers:
    """``$util.time``; ``now`` gives the render's time in epoch milliseconds."""

    def __init__(self, now: Callable[[], int]) -> None:
        self._now = now

    def nowISO8601(self) -> _JavaString:
        return _s(iso8601(self._now()))

    def nowEpochSeconds(self) -> int:
        return self._now() // 1000

    def nowEpochMilliSeconds(self) -> int:
        return self._now()

    def nowFormatted(self, pattern: Any, zone: Any = None) -> _JavaString:
        return _s(format_epoch(self._now(), pattern, zone))

    def parseFormattedToEpochMilliSeconds(self, text: Any, pattern: Any, zone: Any = None) -> int:
        return parse_formatted(text, pattern, zone)

    def parseISO8601ToEpochMilliSeconds(self, text: Any) -> int:
        return parse_iso8601(text)

    def epochMilliSecondsToSeconds(self, epoch_ms: Any) -> int:
        ms = _epoch_ms(epoch_ms)
        return ms // 1000 if ms >= 0 else -(-ms // 1000)

    def epochMilliSecondsToISO8601(self, epoch_ms: Any) -> _JavaString:
        return _s(iso8601(epoch_ms))

    def epochMilliSecondsToFormatted(
        self, epoch_ms: Any, pattern: Any, zone: Any = None
    ) -> _JavaString:
        return _s(format_epoch(epoch_ms, pattern, zone))
