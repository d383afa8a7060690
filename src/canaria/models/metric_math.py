"""CloudWatch metric math: the expressions of a metric math alarm's ``Metrics``, parsed,
checked and evaluated over the alarm's evaluation range (the evaluation itself is in
``canaria.analysis.metric_values``).

Source: Amazon CloudWatch User Guide, "Metric math syntax and functions".

Values
    An expression is a **scalar** (a number), a **time series** (one value or none per
    period of the range) or an **array** of time series (``[m1, m2]``, ``METRICS()``).
    ``kind`` works out which, before anything runs, so a template whose alarm expression
    cannot give a time series is refused at its line.

Operators
    ``+ - * / ^``, comparisons ``== != < <= > >=`` (1 or 0), ``AND`` / ``&&``, ``OR`` /
    ``||``, ``NOT``; precedence as in arithmetic, ``^`` binds tightest and to the right.
    A scalar meets every period of a series; two series meet where **both** have a value
    (a period missing in either is missing in the result, which is what ``FILL`` is for);
    an operation with an array applies to each of its series. A result that is not a
    finite number (a division by zero) is missing.

Functions
    ``ABS CEIL FLOOR LOG LOG10`` (per value); ``FILL(x, v | REPEAT | LINEAR)`` (``REPEAT``
    takes the latest value before the gap, or the first after it at the start;
    ``LINEAR`` interpolates between the values around the gap and repeats at the ends);
    ``IF(condition, a[, b])`` (where the condition is missing the result is; without
    ``b`` a false condition gives no value); ``SUM AVG MIN MAX STDDEV`` (of a series: one
    number over its values; of an array: per period over the series that have a value);
    ``DATAPOINT_COUNT`` and ``PERIOD`` of a series (numbers); ``DIFF DIFF_TIME RATE
    RUNNING_SUM`` (against the previous value present); ``FIRST LAST`` of an array;
    ``METRICS()`` / ``METRICS("text")`` (the ``MetricStat`` queries, those whose Id holds
    the text); ``REMOVE_EMPTY`` of an array; ``TIME_SERIES(number)``.

    Functions that need what canaria does not have (``SEARCH``, ``ANOMALY_DETECTION_BAND``,
    ``INSIGHT_RULE_METRIC``, ``SERVICE_QUOTA``, ``LAMBDA``, Metrics Insights ``SELECT``
    queries, and the rest of CloudWatch's list) raise ``Unsupported``: the template reader
    then skips the alarm with a warning, as it does any alarm it cannot evaluate.
"""

from __future__ import annotations

import math
import re
import statistics
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Literal, assert_never

__all__ = [
    "AGGREGATES",
    "PER_VALUE",
    "SUPPORTED",
    "Array",
    "Binary",
    "Call",
    "Kind",
    "MathError",
    "Node",
    "Num",
    "Ref",
    "Text",
    "Unary",
    "Unsupported",
    "Word",
    "kind",
    "parse",
    "references",
]

Kind = Literal["scalar", "series", "array"]


class MathError(ValueError):
    """An expression CloudWatch would refuse; the message says what and at which column."""


class Unsupported(MathError):
    """A valid expression using a function canaria does not evaluate."""


@dataclass(frozen=True)
class Num:
    value: float


@dataclass(frozen=True)
class Ref:
    id: str
    at: int


@dataclass(frozen=True)
class Text:
    value: str


@dataclass(frozen=True)
class Word:
    name: str  # REPEAT | LINEAR
    at: int


@dataclass(frozen=True)
class Unary:
    op: str  # - | NOT
    operand: Node


@dataclass(frozen=True)
class Binary:
    op: str
    left: Node
    right: Node
    at: int


@dataclass(frozen=True)
class Call:
    name: str
    args: tuple[Node, ...]
    at: int


@dataclass(frozen=True)
class Array:
    items: tuple[Node, ...]
    at: int


Node = Num | Ref | Text | Word | Unary | Binary | Call | Array

# ---- parsing ------------------------------------------------------------------------------

_TOKEN = re.compile(
    r"""\s*(?:
      (?P<num>(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)
    | (?P<id>[a-z][A-Za-z0-9_]*)
    | (?P<name>[A-Z][A-Z0-9_]*)
    | (?P<text>"[^"]*"|'[^']*')
    | (?P<op>\|\||&&|==|!=|<=|>=|[-+*/^()<>,\[\]])
    )""",
    re.VERBOSE,
)
_KEYWORDS = {"AND": "&&", "OR": "||", "NOT": "NOT"}
_WORDS = ("REPEAT", "LINEAR")
_COMPARISONS = ("==", "!=", "<", "<=", ">", ">=")
MAX_LENGTH = 2048


@dataclass(frozen=True)
class _Tok:
    kind: str  # num | id | name | text | op | end
    text: str
    at: int  # 1-based column


def _tokens(source: str) -> list[_Tok]:
    out: list[_Tok] = []
    pos = 0
    while pos < len(source):
        if source[pos:].strip() == "":
            break
        m = _TOKEN.match(source, pos)
        if m is None or m.lastgroup is None:
            col = len(source) - len(source[pos:].lstrip()) + 1
            raise MathError(f"column {col}: unexpected {source[col - 1]!r}")
        kind, text = m.lastgroup, m.group(m.lastgroup)
        at = m.start(m.lastgroup) + 1
        if kind == "name" and text in _KEYWORDS:
            kind, text = "op", _KEYWORDS[text]
        out.append(_Tok(kind, text, at))
        pos = m.end()
    out.append(_Tok("end", "", len(source) + 1))
    return out


class _Parser:
    def __init__(self, source: str) -> None:
        self.toks = _tokens(source)
        self.i = 0

    def peek(self) -> _Tok:
        return self.toks[self.i]

    def take(self) -> _Tok:
        tok = self.toks[self.i]
        self.i += 1
        return tok

    def expect(self, text: str) -> _Tok:
        tok = self.take()
        if tok.text != text or tok.kind not in ("op",):
            found = "the end" if tok.kind == "end" else repr(tok.text)
            raise MathError(f"column {tok.at}: expected {text!r}, found {found}")
        return tok

    def accept(self, *texts: str) -> _Tok | None:
        tok = self.peek()
        if tok.kind == "op" and tok.text in texts:
            return self.take()
        return None

    def expression(self) -> Node:
        left = self.conjunction()
        while tok := self.accept("||"):
            left = Binary("||", left, self.conjunction(), tok.at)
        return left

    def conjunction(self) -> Node:
        left = self.negation()
        while tok := self.accept("&&"):
            left = Binary("&&", left, self.negation(), tok.at)
        return left

    def negation(self) -> Node:
        if self.accept("NOT"):
            return Unary("NOT", self.negation())
        return self.comparison()

    def comparison(self) -> Node:
        left = self.sum()
        if tok := self.accept(*_COMPARISONS):
            return Binary(tok.text, left, self.sum(), tok.at)
        return left

    def sum(self) -> Node:
        left = self.product()
        while tok := self.accept("+", "-"):
            left = Binary(tok.text, left, self.product(), tok.at)
        return left

    def product(self) -> Node:
        left = self.unary()
        while tok := self.accept("*", "/"):
            left = Binary(tok.text, left, self.unary(), tok.at)
        return left

    def unary(self) -> Node:
        if self.accept("-"):
            return Unary("-", self.unary())
        if self.accept("+"):
            return self.unary()
        base = self.primary()
        if tok := self.accept("^"):
            return Binary("^", base, self.unary(), tok.at)
        return base

    def primary(self) -> Node:
        tok = self.take()
        match tok.kind:
            case "num":
                return Num(float(tok.text))
            case "id":
                if self.accept("("):
                    raise MathError(
                        f"column {tok.at}: unknown function {tok.text!r} (functions are "
                        "upper case, e.g. FILL, IF, SUM)"
                    )
                return Ref(tok.text, tok.at)
            case "text":
                return Text(tok.text[1:-1])
            case "name":
                if tok.text in _WORDS:
                    return Word(tok.text, tok.at)
                self.expect("(")
                args: list[Node] = []
                if not self.accept(")"):
                    args.append(self.expression())
                    while self.accept(","):
                        args.append(self.expression())
                    self.expect(")")
                return Call(tok.text, tuple(args), tok.at)
            case "op" if tok.text == "(":
                inner = self.expression()
                self.expect(")")
                return inner
            case "op" if tok.text == "[":
                items = [self.expression()]
                while self.accept(","):
                    items.append(self.expression())
                self.expect("]")
                return Array(tuple(items), tok.at)
        found = "the end" if tok.kind == "end" else repr(tok.text)
        raise MathError(f"column {tok.at}: expected a number, an id or a function, found {found}")


def parse(source: str) -> Node:
    """The expression's tree; MathError (with the column) when it is not one."""
    if not source.strip():
        raise MathError("the expression is empty")
    if len(source) > MAX_LENGTH:
        raise MathError(f"an expression holds at most {MAX_LENGTH} characters")
    if source.lstrip().upper().startswith("SELECT "):
        raise Unsupported("Metrics Insights queries (SELECT ...) are not evaluated by canaria")
    p = _Parser(source)
    node = p.expression()
    tok = p.peek()
    if tok.kind != "end":
        raise MathError(f"column {tok.at}: unexpected {tok.text!r} after the expression")
    return node


def references(node: Node) -> list[Ref]:
    """The ids the expression reads, in order (``METRICS()`` reads no id by name)."""
    match node:
        case Ref():
            return [node]
        case Num() | Text() | Word():
            return []
        case Unary():
            return references(node.operand)
        case Binary():
            return references(node.left) + references(node.right)
        case Call() | Array():
            items = node.args if isinstance(node, Call) else node.items
            return [r for item in items for r in references(item)]
        case _:
            assert_never(node)


# ---- kinds --------------------------------------------------------------------------------

# The function tables: the kind check reads their names, metric_values applies them.
PER_VALUE: dict[str, Callable[[float], float]] = {
    "ABS": abs,
    "CEIL": math.ceil,
    "FLOOR": math.floor,
    "LOG": math.log,
    "LOG10": math.log10,
}
AGGREGATES: dict[str, Callable[[Sequence[float]], float]] = {
    "SUM": math.fsum,
    "AVG": statistics.fmean,
    "MIN": min,
    "MAX": max,
    "STDDEV": lambda v: statistics.pstdev(v) if len(v) > 1 else 0.0,
}
_SERIES_STEPS = ("DIFF", "DIFF_TIME", "RATE", "RUNNING_SUM")
SUPPORTED = (
    *PER_VALUE,
    *AGGREGATES,
    *_SERIES_STEPS,
    "DATAPOINT_COUNT",
    "FILL",
    "FIRST",
    "IF",
    "LAST",
    "METRICS",
    "PERIOD",
    "REMOVE_EMPTY",
    "TIME_SERIES",
)


def kind(node: Node, ids: Mapping[str, Kind]) -> Kind:
    """What the expression gives, given what each id gives; MathError when CloudWatch
    would refuse it, Unsupported for a function canaria does not evaluate."""
    match node:
        case Num():
            return "scalar"
        case Ref():
            if node.id not in ids:
                raise MathError(
                    f"column {node.at}: no query has the Id {node.id!r}",
                    # a hint for the reader of the template, not CloudWatch's text
                )
            return ids[node.id]
        case Text() | Word():
            raise MathError("a text or keyword is an argument of METRICS or FILL only")
        case Unary():
            return kind(node.operand, ids)
        case Binary():
            left, right = kind(node.left, ids), kind(node.right, ids)
            if left == "array" and right == "array":
                raise MathError(f"column {node.at}: {node.op!r} between two arrays")
            if "array" in (left, right):
                return "array"
            return "series" if "series" in (left, right) else "scalar"
        case Array():
            for item in node.items:
                if kind(item, ids) != "series":
                    raise MathError(f"column {node.at}: an array holds time series only")
            return "array"
        case Call():
            return _call_kind(node, ids)
        case _:
            assert_never(node)


def _call_kind(node: Call, ids: Mapping[str, Kind]) -> Kind:
    name, args = node.name, node.args

    def arity(*allowed: int) -> None:
        if len(args) not in allowed:
            counts = " or ".join(str(n) for n in allowed)
            raise MathError(f"column {node.at}: {name} takes {counts} argument(s)")

    def of(i: int, *accepted: Kind) -> Kind:
        got = kind(args[i], ids)
        if got not in accepted:
            raise MathError(
                f"column {node.at}: {name}'s argument {i + 1} is a {got}, not a "
                + " or ".join(accepted)
            )
        return got

    if name not in SUPPORTED:
        raise Unsupported(f"column {node.at}: canaria does not evaluate {name}")
    if name in PER_VALUE:
        arity(1)
        return kind(args[0], ids)
    if name in AGGREGATES:
        arity(1)
        return "scalar" if of(0, "series", "array") == "series" else "series"
    match name:
        case "FILL":
            arity(2)
            got = of(0, "series", "array")
            if not isinstance(args[1], Word):
                of(1, "scalar")
            return got
        case "IF":
            arity(2, 3)
            kinds = [
                of(0, "scalar", "series"),
                *(of(i, "scalar", "series") for i in (1, 2)[: len(args) - 1]),
            ]
            return "series" if "series" in kinds else "scalar"
        case "DATAPOINT_COUNT" | "PERIOD":
            arity(1)
            of(0, "series")
            return "scalar"
        case "DIFF" | "DIFF_TIME" | "RATE" | "RUNNING_SUM":
            arity(1)
            return of(0, "series", "array")
        case "FIRST" | "LAST":
            arity(1)
            of(0, "array")
            return "series"
        case "REMOVE_EMPTY":
            arity(1)
            return of(0, "series", "array")
        case "TIME_SERIES":
            arity(1)
            of(0, "scalar")
            return "series"
        case "METRICS":
            arity(0, 1)
            if args and not isinstance(args[0], Text):
                raise MathError(f"column {node.at}: METRICS takes a quoted text, if anything")
            return "array"
    raise AssertionError(name)  # pragma: no cover
