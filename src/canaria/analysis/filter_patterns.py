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
"""

from __future__ import annotations

import json
import operator
import re
import warnings
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Literal, NamedTuple, NoReturn, assert_never

__all__ = ["FilterPatternError", "Match", "Pattern", "parse"]

MAX_LENGTH = 1024
MAX_REGEXES = 2  # in a JSON or space-delimited pattern
MAX_WILDCARD_SELECTORS = 3  # in a JSON pattern
MAX_NESTING = 32  # parentheses

OPERATORS = "=, !=, <, >, <=, >="
JSON_TESTS = f"{OPERATORS}, IS NULL, IS TRUE, IS FALSE or NOT EXISTS"
VALUES = 'a number, a string, "a quoted string" or a %regex%'
REGEX_SYMBOLS = frozenset(":_#=@/;,- ^$?[]{}|\\*+.")

_NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")
_BARE = re.compile(r"[A-Za-z0-9_.*+\-:/]+")
_PROPERTY = re.compile(r"[A-Za-z0-9_\-]+")
_FIELD_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_WORD = re.compile(r"[A-Za-z]+")
_TERM = re.compile(r'[^\s"]+')
_EVENT_FIELD = re.compile(r'"([^"]*)"|\[([^\]]*)\]|(\S+)')
_INDEX = re.compile(r"\d{1,9}")
_KEYWORDS: dict[tuple[str, str], Literal["NULL", "TRUE", "FALSE", "NOT EXISTS"]] = {
    ("IS", "NULL"): "NULL",
    ("IS", "TRUE"): "TRUE",
    ("IS", "FALSE"): "FALSE",
    ("NOT", "EXISTS"): "NOT EXISTS",
}
_COMPARE: dict[str, Callable[[float, float], bool]] = {
    "=": operator.eq,
    "!=": operator.ne,
    "<": operator.lt,
    ">": operator.gt,
    "<=": operator.le,
    ">=": operator.ge,
}


class FilterPatternError(ValueError):
    """A filter pattern CloudWatch Logs would refuse; ``column`` is 1-based."""

    def __init__(self, pattern: str, column: int, problem: str, kind: str = "filter pattern"):
        super().__init__(f"{kind} {pattern!r}, column {column}: {problem}")
        self.pattern = pattern
        self.column = column
        self.problem = problem


# ---- the parsed forms -------------------------------------------------------------------


@dataclass(frozen=True)
class _Number:
    value: float


@dataclass(frozen=True)
class _Text:
    """An exact string, a ``*`` wildcard or a regex, compiled to one test of a text."""

    source: str
    test: Callable[[str], object] = field(compare=False, repr=False)
    regex: bool = False


@dataclass(frozen=True)
class _Compare:
    op: str
    value: _Number | _Text


@dataclass(frozen=True)
class _Is:
    what: Literal["NULL", "TRUE", "FALSE", "NOT EXISTS"]


_Step = str | int | None  # a JSON key, an array index, or None: the wildcard


@dataclass(frozen=True)
class _Cond:
    subject: tuple[_Step, ...] | str  # a JSON selector's steps, or a field's name
    test: _Compare | _Is
    column: int


@dataclass(frozen=True)
class _All:
    parts: tuple[_Expr, ...]


@dataclass(frozen=True)
class _Any:
    parts: tuple[_Expr, ...]


_Expr = _Cond | _All | _Any


@dataclass(frozen=True)
class _Field:
    name: str
    condition: _Expr | None
    column: int


@dataclass(frozen=True)
class _Terms:
    required: tuple[str, ...] = ()
    excluded: tuple[str, ...] = ()
    optional: tuple[str, ...] = ()  # empty when required or excluded terms exist (AWS)


@dataclass(frozen=True)
class _Regex:
    regex: re.Pattern[str]


@dataclass(frozen=True)
class _Json:
    expr: _Expr


@dataclass(frozen=True)
class _Delimited:
    segments: tuple[tuple[_Field, ...], ...]  # the fields between the ``...``s
    open_ended: bool  # at least one ``...``


_Form = _Terms | _Regex | _Json | _Delimited


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
            steps = _value_selector(selector)  # checked first: Match().value(s) validates s
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
    form: _Form

    def match(self, text: str) -> Match | None:
        form = self.form
        match form:
            case _Terms():
                hit = (
                    all(t in text for t in form.required)
                    and not any(t in text for t in form.excluded)
                    and (not form.optional or any(t in text for t in form.optional))
                )
                return _NO_VALUES if hit else None
            case _Regex():
                return _NO_VALUES if form.regex.search(text) else None
            case _Json():
                doc = _json_object(text)
                if doc is None or not _holds(form.expr, lambda c: _json_holds(c, doc)):
                    return None
                return Match(_document=doc)
            case _Delimited():
                return _match_delimited(form, text)
            case _:
                assert_never(form)


# ---- matching ---------------------------------------------------------------------------


def _holds(expr: _Expr, test: Callable[[_Cond], bool]) -> bool:
    match expr:
        case _Cond():
            return test(expr)
        case _All():
            return all(_holds(p, test) for p in expr.parts)
        case _Any():
            return any(_holds(p, test) for p in expr.parts)
        case _:
            assert_never(expr)


def _compare(test: _Compare, text: str, number: float | None) -> bool:
    if isinstance(test.value, _Number):
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


def _select(doc: object, steps: tuple[_Step, ...]) -> list[object]:
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


def _json_holds(cond: _Cond, doc: object) -> bool:
    assert not isinstance(cond.subject, str)
    values = _select(doc, cond.subject)
    test = cond.test
    match test:
        case _Is(what="NOT EXISTS"):
            return not values
        case _Is(what="NULL"):
            return any(v is None for v in values)
        case _Is(what="TRUE"):
            return any(v is True for v in values)
        case _Is(what="FALSE"):
            return any(v is False for v in values)
        case _Compare():
            for v in values:
                if isinstance(v, _Num) and _compare(test, v.text, v.value):
                    return True
                if isinstance(v, str) and _compare(test, v, None):
                    return True
            return False
    raise AssertionError(test)


def _field_holds(cond: _Cond, text: str) -> bool:
    assert isinstance(cond.test, _Compare)
    return _compare(cond.test, text, float(text) if _NUMBER.fullmatch(text) else None)


def _match_delimited(form: _Delimited, text: str) -> Match | None:
    found = list(_EVENT_FIELD.finditer(text))
    tokens: list[str] = [m.group(m.lastindex or 0) for m in found]
    segments = form.segments
    if len(tokens) < sum(len(s) for s in segments):
        return None
    if not form.open_ended and len(tokens) > len(segments[0]):  # the last takes the rest
        last = len(segments[0]) - 1
        tokens[last:] = [text[found[last].start() :].rstrip()]

    def fits(seg: tuple[_Field, ...], at: int) -> bool:
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


def _field_fits(f: _Field, token: str) -> bool:
    return f.condition is None or _holds(f.condition, lambda c: _field_holds(c, token))


# ---- parsing ----------------------------------------------------------------------------


class _Scanner:
    """A position in a pattern; every error it raises names the column."""

    def __init__(self, text: str, kind: str = "filter pattern") -> None:
        self.text = text
        self.kind = kind
        self.pos = 0

    def fail(self, problem: str, at: int | None = None) -> NoReturn:
        column = (self.pos if at is None else at) + 1
        raise FilterPatternError(self.text, column, problem, self.kind)

    def skip(self) -> None:
        while self.pos < len(self.text) and self.text[self.pos].isspace():
            self.pos += 1

    def at_end(self) -> bool:
        return self.pos >= len(self.text)

    def peek(self) -> str:
        return self.text[self.pos : self.pos + 1]

    def take(self, token: str) -> bool:
        if self.text.startswith(token, self.pos):
            self.pos += len(token)
            return True
        return False

    def found(self) -> str:
        if self.at_end():
            return "the end of the pattern"
        c, pair = self.peek(), self.text[self.pos : self.pos + 2]
        hint = {"&": " (AND is &&)", "|": " (OR is ||)"}.get(c, "") if pair != c * 2 else ""
        return f"{self.peek()!r}{hint}"


def parse(pattern: str) -> Pattern:
    """Parse and precompile a filter pattern; FilterPatternError when AWS would refuse it."""
    s = _Scanner(pattern)
    if len(pattern) > MAX_LENGTH:
        s.fail(f"a filter pattern has at most {MAX_LENGTH} characters", at=MAX_LENGTH)
    s.skip()
    form: _Form
    if s.peek() == "{":
        form = _Json(_checked(s, _json(s)))
    elif s.peek() == "[":
        form = _checked_delimited(s, _delimited(s))
    elif s.peek() == "%":
        form = _Regex(_regex(s))
        s.skip()
        if not s.at_end():
            s.fail("a %regex% is a filter pattern of its own: nothing may follow it")
    else:
        form = _terms(s)
    return Pattern(pattern, form)


def _terms(s: _Scanner) -> _Terms:
    buckets: dict[str, list[str]] = {"": [], "-": [], "?": []}
    while True:
        s.skip()
        if s.at_end():
            break
        sign, at = (s.peek() if s.peek() in "-?" else ""), s.pos
        s.pos += len(sign)
        s.skip()
        if s.at_end():
            s.fail(f"{sign!r} must be followed by a term", at=at)
        if s.peek() == "%":
            s.fail("a %regex% is a filter pattern of its own: it cannot be combined with terms")
        if s.peek() == '"':
            term = _quoted(s)[0]
        else:
            m = _TERM.match(s.text, s.pos)
            assert m is not None
            term, s.pos = m.group(), m.end()
            if s.peek() == '"':
                s.fail('a double quote inside a term: quote the whole term ("...")')
        if term.strip():
            buckets[sign].append(term)
    required, excluded = tuple(buckets[""]), tuple(buckets["-"])
    optional = () if required or excluded else tuple(buckets["?"])
    return _Terms(required, excluded, optional)


def _quoted(s: _Scanner) -> tuple[str, str, bool]:
    """A "quoted string" at the cursor: its text, that text as a regex where an unescaped
    ``*`` is any text, and whether it has such a ``*``."""
    opening = s.pos
    s.pos += 1
    text: list[str] = []
    regex: list[str] = []
    wild = False
    while True:
        if s.at_end():
            s.fail('this quoted string has no closing "', at=opening)
        c = s.text[s.pos]
        s.pos += 1
        if c == '"':
            return "".join(text), "".join(regex), wild
        if c == "\\" and not s.at_end():
            c = s.text[s.pos]
            s.pos += 1
        elif c == "*":
            wild = True
            text.append(c)
            regex.append(".*")
            continue
        text.append(c)
        regex.append(re.escape(c))


def _regex(s: _Scanner) -> re.Pattern[str]:
    opening = s.pos
    end = s.text.find("%", opening + 1)
    if end < 0:
        s.fail("this %regex% has no closing %", at=opening)
    body = s.text[opening + 1 : end]
    if not body:
        s.fail("an empty %regex%", at=opening)
    for i, c in enumerate(body):
        if c in "()":
            s.fail("a %regex% cannot hold ( or ) (use \\x28 and \\x29)", at=opening + 1 + i)
        if not (c.isascii() and (c.isalnum() or c in REGEX_SYMBOLS)):
            s.fail(
                f"{c!r} cannot appear in a %regex%; allowed: letters, digits, space, "
                ": _ # = @ / ; , - and ^ $ ? [ ] { } | \\ * + . (\\xhh for other characters)",
                at=opening + 1 + i,
            )
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # re's FutureWarning on "[[": AWS reads it plainly
            compiled = re.compile(body, re.ASCII)
    except re.error as exc:
        s.fail(f"invalid %regex%: {exc.msg}", at=opening + 1 + (exc.pos or 0))
    except OverflowError:
        s.fail("a %regex% repeats at most 4294967294 times", at=opening)
    s.pos = end + 1
    return compiled


def _literal(s: _Scanner, op: str, subject: str) -> _Number | _Text:
    start = s.pos
    if s.peek() == '"':
        text, regex, wild = _quoted(s)
        value = _text(text, regex if wild else None)
    elif s.peek() == "%":
        rx = _regex(s)
        value = _Text(s.text[start : s.pos], rx.search, regex=True)
    else:
        m = _BARE.match(s.text, s.pos)
        if m is None:
            s.fail(f"expected a value after {subject} {op} ({VALUES}), found {s.found()}")
        word, s.pos = m.group(), m.end()
        after = s.peek()
        if after and not after.isspace() and after not in "&|)},]":
            s.fail(f"{after!r} cannot appear in an unquoted value: enclose the value in quotes")
        if _NUMBER.fullmatch(word):
            return _Number(float(word))
        value = _text(word, ".*".join(map(re.escape, word.split("*"))) if "*" in word else None)
    if op not in ("=", "!="):
        s.fail(f"{op} compares numbers, and {s.text[start : s.pos]} is not a number", at=start)
    return value


def _text(text: str, wildcard: str | None) -> _Text:
    if wildcard is None:
        return _Text(text, text.__eq__)
    return _Text(text, re.compile(wildcard, re.DOTALL).fullmatch)


def _comparison(s: _Scanner, subject: str, allowed: str) -> _Compare:
    s.skip()
    start = s.pos
    op = next((o for o in ("!=", "<=", ">=", "=", "<", ">") if s.take(o)), None)
    if op is None:
        s.fail(f"expected an operator after {subject} ({allowed}), found {s.found()}")
    if s.peek() and s.peek() in "=<>!":
        s.fail(f"unknown operator {op + s.peek()!r}; allowed: {allowed}", at=start)
    s.skip()
    return _Compare(op, _literal(s, op, subject))


def _disjunction(s: _Scanner, cond: Callable[[_Scanner], _Cond], depth: int = 0) -> _Expr:
    parts = [_conjunction(s, cond, depth)]
    while s.take("||"):
        parts.append(_conjunction(s, cond, depth))
    return parts[0] if len(parts) == 1 else _Any(tuple(parts))


def _conjunction(s: _Scanner, cond: Callable[[_Scanner], _Cond], depth: int) -> _Expr:
    parts = [_primary(s, cond, depth)]
    while s.take("&&"):
        parts.append(_primary(s, cond, depth))
    return parts[0] if len(parts) == 1 else _All(tuple(parts))


def _primary(s: _Scanner, cond: Callable[[_Scanner], _Cond], depth: int) -> _Expr:
    s.skip()
    opening = s.pos
    if not s.take("("):
        expr: _Expr = cond(s)
    elif depth >= MAX_NESTING:
        s.fail(f"parentheses nest at most {MAX_NESTING} deep", at=opening)
    else:
        expr = _disjunction(s, cond, depth + 1)
        if not s.take(")"):
            s.fail(f"expected ) to close the ( at column {opening + 1}, found {s.found()}")
    s.skip()
    return expr


def _json(s: _Scanner) -> _Expr:
    s.pos += 1
    s.skip()
    if s.peek() == "}":
        s.fail('an empty JSON pattern; write a condition such as { $.level = "ERROR" }')
    expr = _disjunction(s, _json_condition)
    if not s.take("}"):
        s.fail(f"expected &&, || or the closing }}, found {s.found()}")
    s.skip()
    if not s.at_end():
        s.fail(f"nothing may follow the closing }} of a JSON pattern, found {s.found()}")
    return expr


def _json_condition(s: _Scanner) -> _Cond:
    start = s.pos
    if s.peek() != "$":
        s.fail(f"expected a property selector such as $.name, found {s.found()}")
    steps = _selector(s)
    subject = s.text[start : s.pos]
    s.skip()
    word = _WORD.match(s.text, s.pos)
    if word is None:
        return _Cond(steps, _comparison(s, subject, JSON_TESTS), start + 1)
    s.pos = word.end()
    s.skip()
    after = _WORD.match(s.text, s.pos)
    pair = (word.group(), after.group() if after else "")
    what = _KEYWORDS.get(pair)
    if what is not None and after is not None:
        s.pos = after.end()
        return _Cond(steps, _Is(what), start + 1)
    if pair == ("IS", "NOT") or pair[0] == "EXISTS":
        s.fail(
            f"CloudWatch Logs does not support {' '.join(pair).strip()}; allowed: {JSON_TESTS}",
            at=word.start(),
        )
    s.fail(
        f"unknown operator {' '.join(pair).strip()!r} after {subject}; allowed: {JSON_TESTS}",
        at=word.start(),
    )


def _selector(s: _Scanner) -> tuple[_Step, ...]:
    start = s.pos
    s.pos += 1
    steps: list[_Step] = []
    while True:
        if s.take("."):
            if s.take("*"):
                steps.append(None)
            elif s.peek() != "[":
                m = _PROPERTY.match(s.text, s.pos)
                if m is None:
                    s.fail(
                        f"expected a property name (letters, digits, -, _) after ., "
                        f"found {s.found()}"
                    )
                steps.append(m.group())
                s.pos = m.end()
        elif s.take("["):
            quote = s.peek()
            if s.take("*"):
                steps.append(None)
            elif quote in ("'", '"'):
                end = s.text.find(quote, s.pos + 1)
                if end < 0:
                    s.fail(f"this quoted property has no closing {quote}")
                steps.append(s.text[s.pos + 1 : end])
                s.pos = end + 1
            else:
                m = _INDEX.match(s.text, s.pos)
                if m is None:
                    s.fail(
                        f"expected an array index, * or a 'quoted property' in [], "
                        f"found {s.found()}"
                    )
                steps.append(int(m.group()))
                s.pos = m.end()
            if not s.take("]"):
                s.fail(f"expected ] after the array index or property, found {s.found()}")
        else:
            break
    if not steps:
        s.fail("a property selector names a property, as in $.name", at=start)
    if steps.count(None) > 1:
        s.fail("a property selector holds one wildcard (*) at most", at=start)
    return tuple(steps)


@lru_cache(maxsize=256)
def _value_selector(selector: str) -> tuple[_Step, ...]:
    s = _Scanner(selector, "value selector")
    steps = _selector(s)
    if not s.at_end():
        s.fail(f"unexpected {s.found()} in a value selector")
    if None in steps:
        s.fail("a value selector picks one value: it cannot hold a wildcard", at=0)
    return steps


def _delimited(s: _Scanner) -> list[_Field | None]:
    s.pos += 1
    fields: list[_Field | None] = []  # None: "..."
    while True:
        s.skip()
        if s.take("..."):
            fields.append(None)
        elif s.peek() in (",", "]") and fields:  # an empty field: unnamed (older guide)
            fields.append(_Field("", None, s.pos + 1))
        else:
            fields.append(_field(s))
        s.skip()
        if s.take("]"):
            break
        if not s.take(","):
            s.fail(f"expected , or ] after field {len(fields)}, found {s.found()}")
    s.skip()
    if not s.at_end():
        s.fail(f"nothing may follow the closing ] of a space-delimited pattern, found {s.found()}")
    return fields


def _field(s: _Scanner) -> _Field:
    m = _FIELD_NAME.match(s.text, s.pos)
    if m is None and s.peek() != "(":
        s.fail(f"expected a field name (letters, digits, _) or ..., found {s.found()}")
    if m is not None:
        after = m.end()
        while after < len(s.text) and s.text[after].isspace():
            after += 1
        if s.text[after : after + 1] in (",", "]", ""):
            s.pos = m.end()
            return _Field(m.group(), None, s.pos - len(m.group()) + 1)
    column = s.pos + 1
    condition = _disjunction(s, _field_condition)
    first, *rest = _conditions(condition)
    for c in rest:
        if c.subject != first.subject:
            s.fail(
                f"the condition of field {first.subject!r} can only test that field, "
                f"not {c.subject!r}: separate fields with commas",
                at=c.column - 1,
            )
    assert isinstance(first.subject, str)
    return _Field(first.subject, condition, column)


def _field_condition(s: _Scanner) -> _Cond:
    start = s.pos
    m = _FIELD_NAME.match(s.text, s.pos)
    if m is None:
        s.fail(f"expected a field name (letters, digits, _), found {s.found()}")
    s.pos = m.end()
    return _Cond(m.group(), _comparison(s, m.group(), OPERATORS), start + 1)


def _conditions(expr: _Expr) -> Iterator[_Cond]:
    match expr:
        case _Cond():
            yield expr
        case _All() | _Any():
            for part in expr.parts:
                yield from _conditions(part)
        case _:
            assert_never(expr)


def _checked(s: _Scanner, expr: _Expr) -> _Expr:
    """AWS's quotas: two regexes in a pattern, three wildcard selectors."""
    regexes = wildcards = 0
    for c in _conditions(expr):
        if isinstance(c.test, _Compare) and isinstance(c.test.value, _Text) and c.test.value.regex:
            regexes += 1
            if regexes > MAX_REGEXES:
                s.fail(f"a filter pattern holds {MAX_REGEXES} %regex% at most", at=c.column - 1)
        if not isinstance(c.subject, str) and None in c.subject:
            wildcards += 1
            if wildcards > MAX_WILDCARD_SELECTORS:
                s.fail(
                    f"a filter pattern holds {MAX_WILDCARD_SELECTORS} wildcard selectors at most",
                    at=c.column - 1,
                )
    return expr


def _checked_delimited(s: _Scanner, fields: list[_Field | None]) -> _Delimited:
    names: set[str] = set()
    for f in fields:
        if f is not None and f.name:
            if f.name in names:
                s.fail(f"two fields are named {f.name!r}", at=f.column - 1)
            names.add(f.name)
    conditions = [f.condition for f in fields if f is not None and f.condition is not None]
    _checked(s, _All(tuple(conditions)))
    segments: list[tuple[_Field, ...]] = [()]
    for f in fields:
        if f is None:
            segments.append(())
        else:
            segments[-1] = (*segments[-1], f)
    return _Delimited(tuple(segments), open_ended=len(segments) > 1)
