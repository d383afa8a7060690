"""The parser of CloudWatch Logs filter patterns, and the parsed forms it builds.

Private to :mod:`canaria.analysis.filter_patterns`, whose docstring describes the syntax
and which matches the forms against log events. :func:`parse_form` reads a whole pattern
(terms, ``%regex%``, JSON or space-delimited) and :func:`value_selector` a metric
filter's ``$.path``; both raise :class:`FilterPatternError` naming the column, what is
wrong and what is allowed. This module imports nothing of ``filter_patterns``.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Literal, NoReturn, assert_never

__all__ = [
    "NUMBER",
    "AllOf",
    "AnyOf",
    "Compare",
    "Cond",
    "Delimited",
    "Expr",
    "Field",
    "FilterPatternError",
    "Form",
    "Is",
    "Json",
    "Number",
    "Regex",
    "Step",
    "Terms",
    "Text",
    "parse_form",
    "value_selector",
]

MAX_LENGTH = 1024
MAX_REGEXES = 2  # in a JSON or space-delimited pattern
MAX_WILDCARD_SELECTORS = 3  # in a JSON pattern
MAX_NESTING = 32  # parentheses

OPERATORS = "=, !=, <, >, <=, >="
JSON_TESTS = f"{OPERATORS}, IS NULL, IS TRUE, IS FALSE or NOT EXISTS"
VALUES = 'a number, a string, "a quoted string" or a %regex%'
REGEX_SYMBOLS = frozenset(":_#=@/;,- ^$?[]{}|\\*+.")

NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")
_BARE = re.compile(r"[A-Za-z0-9_.*+\-:/]+")
_PROPERTY = re.compile(r"[A-Za-z0-9_\-]+")
_FIELD_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_WORD = re.compile(r"[A-Za-z]+")
_TERM = re.compile(r'[^\s"]+')
_INDEX = re.compile(r"\d{1,9}")
_KEYWORDS: dict[tuple[str, str], Literal["NULL", "TRUE", "FALSE", "NOT EXISTS"]] = {
    ("IS", "NULL"): "NULL",
    ("IS", "TRUE"): "TRUE",
    ("IS", "FALSE"): "FALSE",
    ("NOT", "EXISTS"): "NOT EXISTS",
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
class Number:
    value: float


@dataclass(frozen=True)
class Text:
    """An exact string, a ``*`` wildcard or a regex, compiled to one test of a text."""

    source: str
    test: Callable[[str], object] = field(compare=False, repr=False)
    regex: bool = False


@dataclass(frozen=True)
class Compare:
    op: str
    value: Number | Text


@dataclass(frozen=True)
class Is:
    what: Literal["NULL", "TRUE", "FALSE", "NOT EXISTS"]


Step = str | int | None  # a JSON key, an array index, or None: the wildcard


@dataclass(frozen=True)
class Cond:
    subject: tuple[Step, ...] | str  # a JSON selector's steps, or a field's name
    test: Compare | Is
    column: int


@dataclass(frozen=True)
class AllOf:
    parts: tuple[Expr, ...]


@dataclass(frozen=True)
class AnyOf:
    parts: tuple[Expr, ...]


Expr = Cond | AllOf | AnyOf


@dataclass(frozen=True)
class Field:
    name: str
    condition: Expr | None
    column: int


@dataclass(frozen=True)
class Terms:
    required: tuple[str, ...] = ()
    excluded: tuple[str, ...] = ()
    optional: tuple[str, ...] = ()  # empty when required or excluded terms exist (AWS)


@dataclass(frozen=True)
class Regex:
    regex: re.Pattern[str]


@dataclass(frozen=True)
class Json:
    expr: Expr


@dataclass(frozen=True)
class Delimited:
    segments: tuple[tuple[Field, ...], ...]  # the fields between the ``...``s
    open_ended: bool  # at least one ``...``


Form = Terms | Regex | Json | Delimited


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


def parse_form(pattern: str) -> Form:
    """Parse and precompile a filter pattern; FilterPatternError when AWS would refuse it."""
    s = _Scanner(pattern)
    if len(pattern) > MAX_LENGTH:
        s.fail(f"a filter pattern has at most {MAX_LENGTH} characters", at=MAX_LENGTH)
    s.skip()
    form: Form
    if s.peek() == "{":
        form = Json(_checked(s, _json(s)))
    elif s.peek() == "[":
        form = _checked_delimited(s, _delimited(s))
    elif s.peek() == "%":
        form = Regex(_regex(s))
        s.skip()
        if not s.at_end():
            s.fail("a %regex% is a filter pattern of its own: nothing may follow it")
    else:
        form = _terms(s)
    return form


def _terms(s: _Scanner) -> Terms:
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
    return Terms(required, excluded, optional)


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


def _literal(s: _Scanner, op: str, subject: str) -> Number | Text:
    start = s.pos
    if s.peek() == '"':
        text, regex, wild = _quoted(s)
        value = _text(text, regex if wild else None)
    elif s.peek() == "%":
        rx = _regex(s)
        value = Text(s.text[start : s.pos], rx.search, regex=True)
    else:
        m = _BARE.match(s.text, s.pos)
        if m is None:
            s.fail(f"expected a value after {subject} {op} ({VALUES}), found {s.found()}")
        word, s.pos = m.group(), m.end()
        after = s.peek()
        if after and not after.isspace() and after not in "&|)},]":
            s.fail(f"{after!r} cannot appear in an unquoted value: enclose the value in quotes")
        if NUMBER.fullmatch(word):
            return Number(float(word))
        value = _text(word, ".*".join(map(re.escape, word.split("*"))) if "*" in word else None)
    if op not in ("=", "!="):
        s.fail(f"{op} compares numbers, and {s.text[start : s.pos]} is not a number", at=start)
    return value


def _text(text: str, wildcard: str | None) -> Text:
    if wildcard is None:
        return Text(text, text.__eq__)
    return Text(text, re.compile(wildcard, re.DOTALL).fullmatch)


def _comparison(s: _Scanner, subject: str, allowed: str) -> Compare:
    s.skip()
    start = s.pos
    op = next((o for o in ("!=", "<=", ">=", "=", "<", ">") if s.take(o)), None)
    if op is None:
        s.fail(f"expected an operator after {subject} ({allowed}), found {s.found()}")
    if s.peek() and s.peek() in "=<>!":
        s.fail(f"unknown operator {op + s.peek()!r}; allowed: {allowed}", at=start)
    s.skip()
    return Compare(op, _literal(s, op, subject))


def _disjunction(s: _Scanner, cond: Callable[[_Scanner], Cond], depth: int = 0) -> Expr:
    parts = [_conjunction(s, cond, depth)]
    while s.take("||"):
        parts.append(_conjunction(s, cond, depth))
    return parts[0] if len(parts) == 1 else AnyOf(tuple(parts))


def _conjunction(s: _Scanner, cond: Callable[[_Scanner], Cond], depth: int) -> Expr:
    parts = [_primary(s, cond, depth)]
    while s.take("&&"):
        parts.append(_primary(s, cond, depth))
    return parts[0] if len(parts) == 1 else AllOf(tuple(parts))


def _primary(s: _Scanner, cond: Callable[[_Scanner], Cond], depth: int) -> Expr:
    s.skip()
    opening = s.pos
    if not s.take("("):
        expr: Expr = cond(s)
    elif depth >= MAX_NESTING:
        s.fail(f"parentheses nest at most {MAX_NESTING} deep", at=opening)
    else:
        expr = _disjunction(s, cond, depth + 1)
        if not s.take(")"):
            s.fail(f"expected ) to close the ( at column {opening + 1}, found {s.found()}")
    s.skip()
    return expr


def _json(s: _Scanner) -> Expr:
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


def _json_condition(s: _Scanner) -> Cond:
    start = s.pos
    if s.peek() != "$":
        s.fail(f"expected a property selector such as $.name, found {s.found()}")
    steps = _selector(s)
    subject = s.text[start : s.pos]
    s.skip()
    word = _WORD.match(s.text, s.pos)
    if word is None:
        return Cond(steps, _comparison(s, subject, JSON_TESTS), start + 1)
    s.pos = word.end()
    s.skip()
    after = _WORD.match(s.text, s.pos)
    pair = (word.group(), after.group() if after else "")
    what = _KEYWORDS.get(pair)
    if what is not None and after is not None:
        s.pos = after.end()
        return Cond(steps, Is(what), start + 1)
    if pair == ("IS", "NOT") or pair[0] == "EXISTS":
        s.fail(
            f"CloudWatch Logs does not support {' '.join(pair).strip()}; allowed: {JSON_TESTS}",
            at=word.start(),
        )
    s.fail(
        f"unknown operator {' '.join(pair).strip()!r} after {subject}; allowed: {JSON_TESTS}",
        at=word.start(),
    )


def _selector(s: _Scanner) -> tuple[Step, ...]:
    start = s.pos
    s.pos += 1
    steps: list[Step] = []
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
def value_selector(selector: str) -> tuple[Step, ...]:
    s = _Scanner(selector, "value selector")
    steps = _selector(s)
    if not s.at_end():
        s.fail(f"unexpected {s.found()} in a value selector")
    if None in steps:
        s.fail("a value selector picks one value: it cannot hold a wildcard", at=0)
    return steps


def _delimited(s: _Scanner) -> list[Field | None]:
    s.pos += 1
    fields: list[Field | None] = []  # None: "..."
    while True:
        s.skip()
        if s.take("..."):
            fields.append(None)
        elif s.peek() in (",", "]") and fields:  # an empty field: unnamed (older guide)
            fields.append(Field("", None, s.pos + 1))
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


def _field(s: _Scanner) -> Field:
    m = _FIELD_NAME.match(s.text, s.pos)
    if m is None and s.peek() != "(":
        s.fail(f"expected a field name (letters, digits, _) or ..., found {s.found()}")
    if m is not None:
        after = m.end()
        while after < len(s.text) and s.text[after].isspace():
            after += 1
        if s.text[after : after + 1] in (",", "]", ""):
            s.pos = m.end()
            return Field(m.group(), None, s.pos - len(m.group()) + 1)
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
    return Field(first.subject, condition, column)


def _field_condition(s: _Scanner) -> Cond:
    start = s.pos
    m = _FIELD_NAME.match(s.text, s.pos)
    if m is None:
        s.fail(f"expected a field name (letters, digits, _), found {s.found()}")
    s.pos = m.end()
    return Cond(m.group(), _comparison(s, m.group(), OPERATORS), start + 1)


def _conditions(expr: Expr) -> Iterator[Cond]:
    match expr:
        case Cond():
            yield expr
        case AllOf() | AnyOf():
            for part in expr.parts:
                yield from _conditions(part)
        case _:
            assert_never(expr)


def _checked(s: _Scanner, expr: Expr) -> Expr:
    """AWS's quotas: two regexes in a pattern, three wildcard selectors."""
    regexes = wildcards = 0
    for c in _conditions(expr):
        if isinstance(c.test, Compare) and isinstance(c.test.value, Text) and c.test.value.regex:
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


def _checked_delimited(s: _Scanner, fields: list[Field | None]) -> Delimited:
    names: set[str] = set()
    for f in fields:
        if f is not None and f.name:
            if f.name in names:
                s.fail(f"two fields are named {f.name!r}", at=f.column - 1)
            names.add(f.name)
    conditions = [f.condition for f in fields if f is not None and f.condition is not None]
    _checked(s, AllOf(tuple(conditions)))
    segments: list[tuple[Field, ...]] = [()]
    for f in fields:
        if f is None:
            segments.append(())
        else:
            segments[-1] = (*segments[-1], f)
    return Delimited(tuple(segments), open_ended=len(segments) > 1)
