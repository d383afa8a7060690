"""CloudWatch metric math: the expressions of a metric math alarm's ``Metrics``, parsed,
checked and evaluated over the alarm's evaluation range.

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
    "Array",
    "Binary",
    "Call",
    "Grid",
    "Kind",
    "MathError",
    "Node",
    "Num",
    "Ref",
    "Series",
    "Text",
    "Unary",
    "Unsupported",
    "Value",
    "Word",
    "evaluate",
    "kind",
    "parse",
    "references",
]

Kind = Literal["scalar", "series", "array"]
Series = list[float | None]
Value = float | Series | list[Series]


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

_PER_VALUE: dict[str, Callable[[float], float]] = {
    "ABS": abs,
    "CEIL": math.ceil,
    "FLOOR": math.floor,
    "LOG": math.log,
    "LOG10": math.log10,
}
_AGGREGATES: dict[str, Callable[[Sequence[float]], float]] = {
    "SUM": math.fsum,
    "AVG": statistics.fmean,
    "MIN": min,
    "MAX": max,
    "STDDEV": lambda v: statistics.pstdev(v) if len(v) > 1 else 0.0,
}
_SERIES_STEPS = ("DIFF", "DIFF_TIME", "RATE", "RUNNING_SUM")
SUPPORTED = (
    *_PER_VALUE,
    *_AGGREGATES,
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
    if name in _PER_VALUE:
        arity(1)
        return kind(args[0], ids)
    if name in _AGGREGATES:
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


# ---- evaluation -------------------------------------------------------------------------


@dataclass(frozen=True)
class Grid:
    """The periods an expression is evaluated over: their start times, and the period."""

    starts: tuple[float, ...]
    period_s: int


def evaluate(
    node: Node,
    grid: Grid,
    value_of: Callable[[str], Value],
    metric_ids: Sequence[str],
) -> Value:
    """The expression's value over ``grid``; ``value_of(id)`` gives a query's value and
    ``metric_ids`` are the ``MetricStat`` queries, in order (for ``METRICS()``). The
    expression must have passed ``kind``."""
    ev = _Evaluator(grid, value_of, metric_ids)
    return ev.value(node)


class _Evaluator:
    def __init__(
        self, grid: Grid, value_of: Callable[[str], Value], metric_ids: Sequence[str]
    ) -> None:
        self.grid = grid
        self.value_of = value_of
        self.metric_ids = metric_ids

    def value(self, node: Node) -> Value:
        match node:
            case Num():
                return node.value
            case Ref():
                return self.value_of(node.id)
            case Text() | Word():
                raise AssertionError(node)  # kind() allows them only where read directly
            case Unary():
                op = _negate if node.op == "-" else _not
                return _map(self.value(node.operand), op)
            case Binary():
                return _combine(self.value(node.left), self.value(node.right), _OPS[node.op])
            case Array():
                return [_series(self.value(item)) for item in node.items]
            case Call():
                return self.call(node)
            case _:
                assert_never(node)

    def call(self, node: Call) -> Value:
        name, args = node.name, node.args
        if name in _PER_VALUE:
            f = _PER_VALUE[name]
            return _map(self.value(args[0]), lambda v: _safe(f, v))
        if name in _AGGREGATES:
            return _aggregate(self.value(args[0]), _AGGREGATES[name], len(self.grid.starts))
        match name:
            case "FILL":
                how = args[1]
                fill = how.name if isinstance(how, Word) else _scalar(self.value(how))
                return _each(self.value(args[0]), lambda s: _fill(s, fill))
            case "IF":
                cond = self.value(args[0])
                then = self.value(args[1])
                other = self.value(args[2]) if len(args) == 3 else None
                return _if(cond, then, other, len(self.grid.starts))
            case "DATAPOINT_COUNT":
                return float(sum(v is not None for v in _series(self.value(args[0]))))
            case "PERIOD":
                return float(self.grid.period_s)
            case "DIFF" | "DIFF_TIME" | "RATE" | "RUNNING_SUM":
                return _each(self.value(args[0]), lambda s: self.step(name, s))
            case "FIRST" | "LAST":
                arrays = _array(self.value(args[0]))
                if not arrays:
                    return _missing(len(self.grid.starts))
                return arrays[0] if name == "FIRST" else arrays[-1]
            case "REMOVE_EMPTY":
                value = self.value(args[0])
                if _is_array(value):
                    return [s for s in _array(value) if any(v is not None for v in s)]
                return value
            case "TIME_SERIES":
                constant: Series = [_scalar(self.value(args[0]))] * len(self.grid.starts)
                return constant
            case "METRICS":
                text = args[0].value if args and isinstance(args[0], Text) else ""
                return [_series(self.value_of(i)) for i in self.metric_ids if text in i]
        raise AssertionError(name)  # pragma: no cover

    def step(self, name: str, s: Series) -> Series:
        out: Series = []
        previous: tuple[float, float] | None = None  # (time, value)
        total = 0.0
        for t, v in zip(self.grid.starts, s, strict=True):
            if v is None:
                out.append(None)
                continue
            match name:
                case "RUNNING_SUM":
                    total += v
                    out.append(total)
                case "DIFF":
                    out.append(None if previous is None else v - previous[1])
                case "DIFF_TIME":
                    out.append(None if previous is None else t - previous[0])
                case _:  # RATE
                    out.append(None if previous is None else (v - previous[1]) / (t - previous[0]))
            previous = (t, v)
        return out


def _safe(f: Callable[[float], float], v: float) -> float | None:
    try:
        out = float(f(v))
    except (ValueError, OverflowError, ZeroDivisionError):
        return None
    return out if math.isfinite(out) else None


def _negate(v: float) -> float:
    return -v


def _not(v: float) -> float:
    return 0.0 if v else 1.0


def _div(a: float, b: float) -> float:
    return a / b


_OPS: dict[str, Callable[[float, float], float]] = {
    "+": lambda a, b: a + b,
    "-": lambda a, b: a - b,
    "*": lambda a, b: a * b,
    "/": _div,
    "^": lambda a, b: a**b,
    "==": lambda a, b: float(a == b),
    "!=": lambda a, b: float(a != b),
    "<": lambda a, b: float(a < b),
    "<=": lambda a, b: float(a <= b),
    ">": lambda a, b: float(a > b),
    ">=": lambda a, b: float(a >= b),
    "&&": lambda a, b: float(bool(a) and bool(b)),
    "||": lambda a, b: float(bool(a) or bool(b)),
}


def _apply(op: Callable[[float, float], float], a: float | None, b: float | None) -> float | None:
    if a is None or b is None:
        return None
    try:
        out = op(a, b)
    except (ZeroDivisionError, OverflowError, ValueError):
        return None
    if isinstance(out, complex) or not math.isfinite(out):
        return None
    return float(out)


def _is_array(v: Value) -> bool:
    """An array of series (a series is never empty: the grid has at least one period)."""
    return isinstance(v, list) and (not v or isinstance(v[0], list))


def _combine(a: Value, b: Value, op: Callable[[float, float], float]) -> Value:
    if isinstance(a, float) and isinstance(b, float):
        out = _apply(op, a, b)
        return math.nan if out is None else out
    if _is_array(a):
        return [_series(_combine(s, b, op)) for s in _array(a)]
    if _is_array(b):
        return [_series(_combine(a, s, op)) for s in _array(b)]
    if isinstance(a, float):
        return [_apply(op, a, y) for y in _series(b)]
    if isinstance(b, float):
        return [_apply(op, x, b) for x in _series(a)]
    return [_apply(op, x, y) for x, y in zip(_series(a), _series(b), strict=True)]


def _map(v: Value, f: Callable[[float], float | None]) -> Value:
    if isinstance(v, float):
        out = f(v)
        return math.nan if out is None else out
    return _each(v, lambda s: [None if x is None else f(x) for x in s])


def _each(v: Value, f: Callable[[Series], Series]) -> Value:
    if _is_array(v):
        return [f(s) for s in _array(v)]
    return f(_series(v))


def _aggregate(v: Value, f: Callable[[Sequence[float]], float], n: int) -> Value:
    if _is_array(v):
        arrays = _array(v)
        if not arrays:
            return _missing(n)
        out: Series = []
        for column in zip(*arrays, strict=True):
            present = [x for x in column if x is not None]
            out.append(f(present) if present else None)
        return out
    present = [x for x in _series(v) if x is not None]
    return f(present) if present else math.nan


def _fill(s: Series, how: str | float) -> Series:
    present = [(i, v) for i, v in enumerate(s) if v is not None]
    if isinstance(how, float):
        return [how if math.isfinite(how) and v is None else v for v in s]
    if not present:
        return list(s)
    out: Series = list(s)
    for i in range(len(s)):
        if out[i] is not None:
            continue
        before = next(((j, v) for j, v in reversed(present) if j < i), None)
        after = next(((j, v) for j, v in present if j > i), None)
        if how == "LINEAR" and before is not None and after is not None:
            (j0, v0), (j1, v1) = before, after
            out[i] = v0 + (v1 - v0) * (i - j0) / (j1 - j0)
        else:
            out[i] = (before or after or (0, 0.0))[1]
    return out


def _if(cond: Value, then: Value, other: Value | None, n: int) -> Value:
    def at(v: Value | None, i: int) -> float | None:
        if v is None:
            return None
        if isinstance(v, float):
            return None if math.isnan(v) else v
        return _series(v)[i]

    if all(isinstance(v, float) or v is None for v in (cond, then, other)):
        c = at(cond, 0)
        picked = None if c is None else (at(then, 0) if c else at(other, 0))
        return math.nan if picked is None else picked
    out: Series = []
    for i in range(n):
        c = at(cond, i)
        out.append(None if c is None else (at(then, i) if c else at(other, i)))
    return out


def _missing(n: int) -> Series:
    return [None] * n


def _scalar(v: Value) -> float:
    assert isinstance(v, float)
    return v


def _series(v: Value) -> Series:
    assert isinstance(v, list)
    return v  # type: ignore[return-value]  # kind() made it a series


def _array(v: Value) -> list[Series]:
    assert isinstance(v, list)
    return v  # type: ignore[return-value]  # kind() made it an array
