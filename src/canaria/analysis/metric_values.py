"""The value of a metric math expression over a grid of periods: the evaluation of the
trees ``canaria.models.metric_math`` parses and checks. The semantics (operators,
functions, missing values) are described there."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import assert_never

from canaria.models.metric_math import (
    AGGREGATES,
    PER_VALUE,
    Array,
    Binary,
    Call,
    Node,
    Num,
    Ref,
    Text,
    Unary,
    Word,
)

__all__ = ["Grid", "Series", "Value", "evaluate"]

Series = list[float | None]
Value = float | Series | list[Series]


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
        if name in PER_VALUE:
            f = PER_VALUE[name]
            return _map(self.value(args[0]), lambda v: _safe(f, v))
        if name in AGGREGATES:
            return _aggregate(self.value(args[0]), AGGREGATES[name], len(self.grid.starts))
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
