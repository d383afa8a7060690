"""CloudWatch Logs filter patterns (metric filters, subscription filters, FilterLogEvents).

Source: CloudWatch Logs User Guide, "Filter pattern syntax for metric filters, subscription
filters, filter log events, and Live Tail" (the tests check every example it gives). A
pattern is parsed once (:func:`parse`, which precompiles every regex and wildcard) and then
matched against each event's message (:meth:`Pattern.match`). The pattern's first character
decides its form:

Terms (anything else)
    ``ERROR`` or ``"a phrase"`` must appear in the message (a substring, case-sensitive);
    every such term must. ``-term`` / ``-"phrase"`` must not appear; ``- "phrase"`` (a lone
    minus before a term, as the older guide writes it) is the same. ``?term`` terms match
    when any of them appears, and, as the guide says, they are ignored when the pattern also
    has plain or excluded terms (``?ERROR ?ARGUMENTS REQUEST`` is ``REQUEST``). An empty
    pattern, or a quoted term of only spaces (``""``, ``" "``), matches every event. Inside
    quotes ``\\"`` is a quote and ``\\\\`` a backslash; ``*`` is an ordinary character.
Regular expression (``%...%``)
    ``%AUTHORIZED%`` matches an event whose message contains a match (``re.search``). The
    guide describes a regex as a filter pattern on its own, so ``%..% ERROR`` is refused.
    Allowed: letters, digits, space, ``: _ # = @ / ; , -`` and the operators
    ``^ $ ? [ ] { } | \\ * + .`` (with ``\\d \\D \\s \\S \\w \\W \\xhh``). Refused, as the
    guide says: ``(`` and ``)``, any other symbol, and characters outside ASCII. Classes are
    ASCII (``\\w`` is ``[A-Za-z0-9_]``); ``.`` does not match a newline.
JSON (``{``)
    ``{ $.a.b[0] = "x" }``. Selectors: ``$.name`` (letters, digits, ``-``, ``_``), ``[N]``,
    ``['key.with.dots']``, and one wildcard ``.*`` / ``[*]`` (any field or element; the
    condition holds when it holds for any of them); at most 3 wildcards in a pattern.
    Tests: ``=`` and ``!=`` against a string (quoted, or bare letters, digits and
    ``_ - . * + : /``) where ``*`` matches any text, or against ``%regex%`` (found anywhere;
    at most 2 regexes in a pattern); ``= != < > <= >=`` against a number
    (``+1000``, ``55.5``, ``1e-3``); ``IS NULL``, ``IS TRUE``, ``IS FALSE``, ``NOT EXISTS``.
    ``&&`` binds tighter than ``||``; parentheses group. String tests apply to the text of
    strings and of numbers (as written in the event); a number compares only with JSON
    numbers (``{ $.status = 200 }`` does not match ``"status": "200"``). A selector that
    finds nothing, ``null``, ``true``/``false``, an object or an array satisfies no
    comparison, ``!=`` included (the guide: ``{ $.users != 1 }`` does not match an array).
    Refused, as the guide says: ``IS NOT`` and ``EXISTS``.
    Which events are JSON: the guide's JSON patterns match *JSON log events*, so an event
    matches only when its whole message is a JSON object. A Lambda text-format line
    (``2024-…Z\\t<request id>\\tINFO\\t{...}``, Node.js ``console.log``) is not one and never
    matches a JSON pattern; a function whose ``LoggingConfig`` ``LogFormat`` is ``JSON``
    writes whole-JSON lines, which do.
Space-delimited (``[``)
    ``[ip, user, ..., status_code = 4*, bytes > 1000]``: the message is split at spaces;
    text between ``"`` and ``"`` or ``[`` and ``]`` is one field (without them). Each ``...``
    stands for any number of fields. Without ``...``, a message with fewer fields than the
    pattern does not match, and with more, the last field takes the rest of the line, as the
    guide's ``[w1=ERROR, w2]`` example on six-word events (and its note that a blank ``w2``
    must follow ``w1``) shows. An empty field (``[a, , b]``, ``[..., a,]``) is an unnamed
    one, as in the older guide's ``extractedValues`` example. A named field may carry a
    condition on itself: ``=`` / ``!=`` against a string with ``*`` or a ``%regex%``, or
    numeric operators against a number (they match only a field that reads as a number),
    combined with ``&&``, ``||`` and parentheses. A condition on another field is refused
    (``[a, b = 1 && a = 2]``).

Values (:meth:`Match.value`, a metric filter's MetricValue or a dimension): ``$.path`` on
a JSON match gives the string, number (float), boolean or ``None`` (no wildcard: a value
is one value); ``$name`` (a named field) or ``$3`` (an unnamed one, by position) on a
space-delimited match gives the field's text. ``Match.fields`` holds what AWS calls
``extractedValues``: named fields as ``$name``, the others as ``$<position>``.

Errors: :class:`FilterPatternError` (a ``ValueError``) for every refused pattern; its
message names the column, what is wrong and what is allowed. Patterns longer than 1024
characters are refused (the API's limit).

The parser and the parsed forms live in :mod:`canaria.models.filter_syntax`; this module
matches them against events.
"""

from __future__ import annotations

import json
import operator
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import NamedTuple, assert_never

from canaria.models.filter_syntax import (
    NUMBER,
    AllOf,
    AnyOf,
    Compare,
    Cond,
    Delimited,
    Expr,
    Field,
    FilterPatternError,
    Form,
    Is,
    Json,
    Number,
    Regex,
    Step,
    Terms,
    parse_form,
    value_selector,
)

__all__ = ["FilterPatternError", "Match", "Pattern", "parse"]

_EVENT_FIELD = re.compile(r'"([^"]*)"|\[([^\]]*)\]|(\S+)')
_COMPARE: dict[str, Callable[[float, float], bool]] = {
    "=": operator.eq,
    "!=": operator.ne,
    "<": operator.lt,
    ">": operator.gt,
    "<=": operator.le,
    ">=": operator.ge,
}


class _Num(NamedTuple):
    """A number of a JSON event: its value and its text as written."""

    value: float
    text: str


@dataclass(frozen=True)
class Match:
    """What a matching event offers a metric filter: a JSON event's values or the fields a
    space-delimited pattern extracted (AWS's ``extractedValues``)."""

    fields: Mapping[str, str] = field(default_factory=dict)
    _document: object = field(default=None, repr=False)

    def value(self, selector: str) -> str | float | bool | None:
        """``$.path`` (JSON) or ``$name`` / ``$3`` (space-delimited field); None when the
        event has no such value. A literal MetricValue (``1``) is the caller's."""
        if selector.startswith(("$.", "$[")):
            steps = value_selector(selector)  # checked first: Match().value(s) validates s
            if self._document is None:
                return None
            found = _select(self._document, steps)
            if not found:
                return None
            v = found[0]
            if isinstance(v, _Num):
                return v.value
            return v if isinstance(v, str | bool) else None
        if selector.startswith("$") and len(selector) > 1:
            return self.fields.get(selector)
        problem = "a value selector is $.path (JSON) or $name (space-delimited field)"
        raise FilterPatternError(selector, 1, problem, "value selector")


_NO_VALUES = Match()


@dataclass(frozen=True)
class Pattern:
    text: str
    form: Form

    def match(self, text: str) -> Match | None:
        form = self.form
        match form:
            case Terms():
                hit = (
                    all(t in text for t in form.required)
                    and not any(t in text for t in form.excluded)
                    and (not form.optional or any(t in text for t in form.optional))
                )
                return _NO_VALUES if hit else None
            case Regex():
                return _NO_VALUES if form.regex.search(text) else None
            case Json():
                doc = _json_object(text)
                if doc is None or not _holds(form.expr, lambda c: _json_holds(c, doc)):
                    return None
                return Match(_document=doc)
            case Delimited():
                return _match_delimited(form, text)
            case _:
                assert_never(form)


# ---- matching ---------------------------------------------------------------------------


def _holds(expr: Expr, test: Callable[[Cond], bool]) -> bool:
    match expr:
        case Cond():
            return test(expr)
        case AllOf():
            return all(_holds(p, test) for p in expr.parts)
        case AnyOf():
            return any(_holds(p, test) for p in expr.parts)
        case _:
            assert_never(expr)


def _compare(test: Compare, text: str, number: float | None) -> bool:
    if isinstance(test.value, Number):
        return number is not None and _COMPARE[test.op](number, test.value.value)
    return bool(test.value.test(text)) == (test.op == "=")


def _refuse_constant(name: str) -> object:
    raise ValueError(f"{name} is not JSON")


def _json_object(text: str) -> dict[str, object] | None:
    if not text.lstrip().startswith("{"):
        return None
    try:
        doc = json.loads(
            text,
            parse_int=lambda s: _Num(float(s), s),
            parse_float=lambda s: _Num(float(s), s),
            parse_constant=_refuse_constant,
        )
    except (ValueError, RecursionError):
        return None
    return doc if isinstance(doc, dict) else None


def _select(doc: object, steps: tuple[Step, ...]) -> list[object]:
    nodes = [doc]
    for step in steps:
        found: list[object] = []
        for node in nodes:
            if step is None:
                if isinstance(node, dict):
                    found.extend(node.values())
                elif isinstance(node, list):
                    found.extend(node)
            elif isinstance(step, int):
                if isinstance(node, list) and step < len(node):
                    found.append(node[step])
            elif isinstance(node, dict) and step in node:
                found.append(node[step])
        nodes = found
    return nodes


def _json_holds(cond: Cond, doc: object) -> bool:
    assert not isinstance(cond.subject, str)
    values = _select(doc, cond.subject)
    test = cond.test
    match test:
        case Is(what="NOT EXISTS"):
            return not values
        case Is(what="NULL"):
            return any(v is None for v in values)
        case Is(what="TRUE"):
            return any(v is True for v in values)
        case Is(what="FALSE"):
            return any(v is False for v in values)
        case Compare():
            for v in values:
                if isinstance(v, _Num) and _compare(test, v.text, v.value):
                    return True
                if isinstance(v, str) and _compare(test, v, None):
                    return True
            return False
    raise AssertionError(test)


def _field_holds(cond: Cond, text: str) -> bool:
    assert isinstance(cond.test, Compare)
    return _compare(cond.test, text, float(text) if NUMBER.fullmatch(text) else None)


def _match_delimited(form: Delimited, text: str) -> Match | None:
    found = list(_EVENT_FIELD.finditer(text))
    tokens: list[str] = [m.group(m.lastindex or 0) for m in found]
    segments = form.segments
    if len(tokens) < sum(len(s) for s in segments):
        return None
    if not form.open_ended and len(tokens) > len(segments[0]):  # the last takes the rest
        last = len(segments[0]) - 1
        tokens[last:] = [text[found[last].start() :].rstrip()]

    def fits(seg: tuple[Field, ...], at: int) -> bool:
        return all(_field_fits(f, token) for f, token in zip(seg, tokens[at:], strict=False))

    # The first segment sits at the start, the last at the end; each one between takes
    # the leftmost place that fits (segments have fixed lengths: leftmost never loses).
    starts = [0]
    if not fits(segments[0], 0):
        return None
    if form.open_ended:
        last = len(tokens) - len(segments[-1])
        at = len(segments[0])
        for seg in segments[1:-1]:
            while at + len(seg) <= last and not fits(seg, at):
                at += 1
            if at + len(seg) > last:
                return None
            starts.append(at)
            at += len(seg)
        if not fits(segments[-1], last):
            return None
        starts.append(last)
    values: dict[str, str] = {}
    named: set[int] = set()
    for seg, start in zip(segments, starts, strict=True):
        for i, f in enumerate(seg):
            if f.name:
                values[f"${f.name}"] = tokens[start + i]
                named.add(start + i)
    for i, token in enumerate(tokens):
        if i not in named:
            values[f"${i + 1}"] = token
    return Match(fields=values)


def _field_fits(f: Field, token: str) -> bool:
    return f.condition is None or _holds(f.condition, lambda c: _field_holds(c, token))


def parse(pattern: str) -> Pattern:
    """Parse and precompile a filter pattern; FilterPatternError when AWS would refuse it."""
    return Pattern(pattern, parse_form(pattern))
