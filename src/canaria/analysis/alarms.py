"""CloudWatch metric alarms, evaluated as CloudWatch does: on canaria's AWS/Lambda and
AWS/ApiGateway metrics, the application's own (``canaria.analysis.published``), and metric
math expressions over them (``canaria.models.metric_math``, ``metric_values``).

Source: Amazon CloudWatch User Guide, "Evaluating an alarm" and "Configuring how CloudWatch
alarms treat missing data" (the tables of ``0`` / ``X`` / ``-`` datapoints; the tests check
every row), and "Percentile-based alarms and low data samples".

What this module implements, precisely:

Evaluation range
    CloudWatch "attempts to retrieve a higher number of data points than specified by
    Evaluation Periods"; its documented examples retrieve 5 for ``EvaluationPeriods`` 3.
    canaria retrieves ``EvaluationPeriods + 2`` periods, the most recent *complete* ones:
    periods are aligned to multiples of ``Period`` and the one holding ``now`` is still
    filling, so the range is ``[end - (N + 2)·Period, end)`` with
    ``end = floor(now / Period)·Period``. (CloudWatch also waits for late data; canaria's
    metrics are complete when the period closes, so it does not.)

Which datapoints are evaluated (N = EvaluationPeriods, M = DatapointsToAlarm, default N)
    - At least N datapoints present in the range: the N most recent *present* datapoints
      are evaluated; TreatMissingData plays no part.
    - None present: ``missing`` → INSUFFICIENT_DATA, ``ignore`` → the current state,
      ``breaching`` → ALARM, ``notBreaching`` → OK.
    - k present, 0 < k < N: every present datapoint is evaluated, with N − k missing ones
      ("CloudWatch uses missing data points only as few times as possible").
      ``breaching`` / ``notBreaching`` fill them as breaching / not breaching.
      ``missing``: ALARM if the present ones alone reach M; otherwise, when none of them is
      non-breaching, ALARM if the oldest (breaching) one is at least M periods old (AWS's
      note: "the oldest available breaching data point in the alarm's evaluation range is
      at least as old as the value of Datapoints to Alarm, and all other more recent data
      points are breaching or missing") and INSUFFICIENT_DATA if it is younger; OK when a
      non-breaching datapoint is present.
      ``ignore``: as ``missing``, except that where ``missing`` would not decide (no
      non-breaching datapoint, fewer than M breaching) the current state is kept.
    - ALARM when at least M of the evaluated datapoints breach, else OK.

ComparisonOperator
    ``GreaterThanThreshold``, ``GreaterThanOrEqualToThreshold``, ``LessThanThreshold``,
    ``LessThanOrEqualToThreshold``. Anomaly-detection operators need a model canaria does
    not have: such an alarm stays INSUFFICIENT_DATA with a reason that says so.

Percentiles with few samples
    ``EvaluateLowSampleCountPercentile`` is ``evaluate`` unless told otherwise (CloudWatch's
    default when the parameter is omitted; ``AlarmSpec`` has no field for it): the
    percentile of however many samples there are is compared. With ``ignore``, the current
    state is kept while any evaluated datapoint rests on fewer than ``10 / (1 − p)`` samples
    (p ≥ 0.5) or ``10 / p`` samples (p < 0.5).

Missing datapoints of count metrics
    Lambda publishes nothing for a period without invocations, so ``Errors`` ``Sum`` of an
    idle minute is *missing* (see ``canaria.analysis.metrics``), not 0.
"""

from __future__ import annotations

import dataclasses
import enum
import functools
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal, assert_never

from canaria.analysis import metric_values
from canaria.analysis.api_metrics import ApiMetrics
from canaria.analysis.metrics import Metrics, period_starts
from canaria.analysis.published import PublishedMetrics
from canaria.models import AlarmSpec, MetricQuerySpec, MetricStatSpec, metric_math
from canaria.models.statistics import parse_percentile

__all__ = [
    "COMPARISON_OPERATORS",
    "EXTRA_PERIODS",
    "SERVED",
    "TREAT_MISSING_DATA",
    "AlarmEvaluation",
    "AlarmState",
    "Sources",
    "decide",
    "evaluate",
    "evaluation_range",
    "read",
]

EXTRA_PERIODS = 2
SERVED = ("AWS/Lambda", "AWS/ApiGateway")  # the AWS namespaces canaria publishes
COMPARISON_OPERATORS = (
    "GreaterThanThreshold",
    "GreaterThanOrEqualToThreshold",
    "LessThanThreshold",
    "LessThanOrEqualToThreshold",
)
TREAT_MISSING_DATA = ("missing", "ignore", "breaching", "notBreaching")
_SYMBOL = {
    "GreaterThanThreshold": "greater than",
    "GreaterThanOrEqualToThreshold": "greater than or equal to",
    "LessThanThreshold": "less than",
    "LessThanOrEqualToThreshold": "less than or equal to",
}


class AlarmState(enum.Enum):
    OK = "OK"
    ALARM = "ALARM"
    INSUFFICIENT_DATA = "INSUFFICIENT_DATA"


@dataclass(frozen=True)
class AlarmEvaluation:
    state: AlarmState
    reason: str
    datapoints: tuple[float | None, ...]  # the evaluation range, oldest first
    evaluated_at: float


def evaluation_range(spec: AlarmSpec, now: float) -> tuple[float, float]:
    """``[start, end)`` of the periods an evaluation at ``now`` retrieves."""
    p = spec.period_s
    end = math.floor(now / p) * p
    return float(end - (spec.evaluation_periods + EXTRA_PERIODS) * p), float(end)


def _breaches(value: float, operator: str, threshold: float) -> bool:
    match operator:
        case "GreaterThanThreshold":
            return value > threshold
        case "GreaterThanOrEqualToThreshold":
            return value >= threshold
        case "LessThanThreshold":
            return value < threshold
        case "LessThanOrEqualToThreshold":
            return value <= threshold
    raise ValueError(f"unsupported ComparisonOperator {operator!r}")


def decide(
    breaching: Sequence[bool | None],
    *,
    evaluation_periods: int,
    datapoints_to_alarm: int,
    treat_missing_data: str,
    previous: AlarmState,
) -> tuple[AlarmState, str]:
    """The state for an evaluation range given, oldest first, as True (breaching), False
    (not breaching) or None (missing); the rules are in the module docstring."""
    n, m = evaluation_periods, datapoints_to_alarm
    treat = _treat(treat_missing_data)
    size = len(breaching)
    present = [(size - i, b) for i, b in enumerate(breaching) if b is not None]  # (age, b)
    if len(present) >= n:
        hits = sum(1 for _, b in present[-n:] if b)
        return _verdict(hits, m, f"{hits} out of the last {n} datapoints breaching")
    if not present:
        match treat:
            case "missing":
                return AlarmState.INSUFFICIENT_DATA, "no datapoints in the evaluation range"
            case "ignore":
                return previous, "no datapoints; missing data ignored, state kept"
            case "breaching":
                return AlarmState.ALARM, f"no datapoints; {n} missing treated as breaching"
            case "notBreaching":
                return AlarmState.OK, f"no datapoints; {n} missing treated as not breaching"
            case _:
                assert_never(treat)
    hits = sum(1 for _, b in present if b)
    fill = n - len(present)
    calm = len(present) - hits
    base = f"{hits} of {len(present)} present datapoints breaching"
    match treat:
        case "breaching":
            return _verdict(hits + fill, m, f"{base}, {fill} missing treated as breaching")
        case "notBreaching":
            return _verdict(hits, m, f"{base}, {fill} missing treated as not breaching")
        case "missing" | "ignore":
            if hits >= m:
                return AlarmState.ALARM, f"{base} (at least {m})"
            if calm:
                return AlarmState.OK, f"{base} (fewer than {m}); missing data not counted"
            oldest_age = present[0][0]
            if treat == "missing" and oldest_age >= m:
                return AlarmState.ALARM, (
                    f"{base}; the oldest is {oldest_age} periods old (≥ {m}) and none since "
                    "is non-breaching"
                )
            if treat == "ignore":
                return previous, f"{base}; too few datapoints, missing data ignored, state kept"
            return AlarmState.INSUFFICIENT_DATA, f"{base}; too few datapoints to decide"
        case _:
            assert_never(treat)


def _verdict(hits: int, m: int, text: str) -> tuple[AlarmState, str]:
    if hits >= m:
        return AlarmState.ALARM, f"Threshold Crossed: {text} (minimum {m} for ALARM)"
    return AlarmState.OK, f"{text} (fewer than {m} needed for ALARM)"


TreatMissing = Literal["missing", "ignore", "breaching", "notBreaching"]


def _treat(value: str) -> TreatMissing:
    match value:
        case "missing" | "ignore" | "breaching" | "notBreaching":
            return value
    raise ValueError(
        f"unsupported TreatMissingData {value!r} (allowed: {', '.join(TREAT_MISSING_DATA)})"
    )


def _low_sample_limit(extended_statistic: str) -> float:
    p = parse_percentile(extended_statistic) / 100.0
    if p >= 0.5:
        return math.inf if p >= 1.0 else 10.0 / (1.0 - p)
    return math.inf if p <= 0.0 else 10.0 / p


def evaluate(
    spec: AlarmSpec,
    metrics: Metrics,
    now: float,
    previous: AlarmState,
    *,
    published: PublishedMetrics | None = None,
    apis: ApiMetrics | None = None,
    evaluate_low_sample_count_percentile: str = "evaluate",
) -> AlarmEvaluation:
    """Evaluate ``spec`` at ``now`` on AWS/Lambda's ``metrics``, the application's
    ``published`` ones and its APIs' (``apis``); never raises for a bad spec (the state
    is then INSUFFICIENT_DATA and the reason says what is wrong)."""

    def insufficient(reason: str, points: tuple[float | None, ...] = ()) -> AlarmEvaluation:
        return AlarmEvaluation(AlarmState.INSUFFICIENT_DATA, reason, points, now)

    if not spec.queries and spec.namespace.startswith("AWS/") and spec.namespace not in SERVED:
        return insufficient(f"namespace {spec.namespace!r} is not published by canaria")
    if spec.comparison_operator not in COMPARISON_OPERATORS:
        return insufficient(
            f"ComparisonOperator {spec.comparison_operator!r} is not supported "
            f"(allowed: {', '.join(COMPARISON_OPERATORS)})"
        )
    n = spec.evaluation_periods
    m = spec.datapoints_to_alarm if spec.datapoints_to_alarm is not None else n
    if n < 1 or not 1 <= m <= n or spec.period_s < 1:
        return insufficient(
            f"EvaluationPeriods {n}, DatapointsToAlarm {m}, Period {spec.period_s}: need "
            "1 ≤ DatapointsToAlarm ≤ EvaluationPeriods and Period ≥ 1"
        )
    start, end = evaluation_range(spec, now)
    sources = Sources(metrics, published, apis)
    try:
        _treat(spec.treat_missing_data)
        if spec.queries:
            points = _math_points(spec.queries, sources, start, end, spec.period_s)
        else:
            stat, extended = spec.statistic, spec.extended_statistic
            points = read(_single(spec), sources, start, end, stat, extended)
    except ValueError as e:
        return insufficient(str(e))
    values = tuple(v for _, v in points)
    breaching = [
        None if v is None else _breaches(v, spec.comparison_operator, spec.threshold)
        for v in values
    ]
    if spec.extended_statistic is not None and evaluate_low_sample_count_percentile == "ignore":
        limit = _low_sample_limit(spec.extended_statistic)
        counts = read(_single(spec), sources, start, end, "SampleCount", None)
        evaluated = [i for i, v in enumerate(values) if v is not None][-n:]
        low = [i for i in evaluated if (counts[i][1] or 0.0) < limit]
        if low:
            return AlarmEvaluation(
                previous,
                f"{len(low)} datapoint(s) rest on fewer than {limit:g} samples; "
                "EvaluateLowSampleCountPercentile=ignore keeps the state",
                values,
                now,
            )
    state, why = decide(
        breaching,
        evaluation_periods=n,
        datapoints_to_alarm=m,
        treat_missing_data=spec.treat_missing_data,
        previous=previous,
    )
    shown = ", ".join("-" if v is None else f"{v:g}" for v in values)
    reason = (
        f"{why}. {_described(spec)} per {spec.period_s} s, oldest first: [{shown}]; "
        f"breaching when {_SYMBOL[spec.comparison_operator]} {spec.threshold:g}"
    )
    return AlarmEvaluation(state, reason, values, now)


@dataclass(frozen=True)
class Sources:
    """Where metrics are read: AWS/Lambda's, the application's own, its APIs'."""

    lambda_metrics: Metrics
    published: PublishedMetrics | None = None
    apis: ApiMetrics | None = None


def read(
    stat: MetricStatSpec,
    sources: Sources,
    start: float,
    end: float,
    statistic: str | None,
    extended_statistic: str | None,
) -> list[tuple[float, float | None]]:
    """One metric's datapoints over ``[start, end)``: AWS/Lambda's and AWS/ApiGateway's
    from what canaria measures, a namespace the application publishes from what it
    published; nothing (every period missing) for another AWS namespace."""
    args = (start, end, stat.period_s, statistic, extended_statistic)
    if stat.namespace == "AWS/Lambda":
        return sources.lambda_metrics.datapoints(stat.metric_name, stat.dimensions, *args)
    if stat.namespace == "AWS/ApiGateway" and sources.apis is not None:
        return sources.apis.datapoints(stat.metric_name, stat.dimensions, *args)
    if sources.published is None or stat.namespace.startswith("AWS/"):
        return [(float(t), None) for t in period_starts(start, end, stat.period_s)]
    return sources.published.datapoints(stat.namespace, stat.metric_name, stat.dimensions, *args)


def _single(spec: AlarmSpec) -> MetricStatSpec:
    return MetricStatSpec(
        spec.namespace,
        spec.metric_name,
        spec.dimensions,
        spec.period_s,
        spec.statistic,
        spec.extended_statistic,
    )


@functools.lru_cache(maxsize=256)
def _parsed(expression: str) -> metric_math.Node:
    return metric_math.parse(expression)


def _math_points(
    queries: Sequence[MetricQuerySpec],
    sources: Sources,
    start: float,
    end: float,
    period_s: int,
) -> list[tuple[float, float | None]]:
    """The returned query's datapoints: each ``MetricStat`` read at the alarm's period,
    the expressions evaluated over them (``canaria.analysis.metric_values``)."""
    grid = metric_values.Grid(
        tuple(float(t) for t in period_starts(start, end, period_s)), period_s
    )
    by_id = {q.id: q for q in queries}
    memo: dict[str, metric_values.Value] = {}

    def value_of(qid: str) -> metric_values.Value:
        if qid in memo:
            return memo[qid]
        q = by_id[qid]
        if q.stat is not None:
            stat = dataclasses.replace(q.stat, period_s=period_s)
            points = read(stat, sources, start, end, q.stat.statistic, q.stat.extended_statistic)
            out: metric_values.Value = [v for _, v in points]
        else:
            assert q.expression is not None
            out = metric_values.evaluate(_parsed(q.expression), grid, value_of, metric_ids)
        memo[qid] = out
        return out

    metric_ids = [q.id for q in queries if q.stat is not None]
    returned = next(q for q in queries if q.return_data)
    result = value_of(returned.id)
    if not isinstance(result, list) or (result and isinstance(result[0], list)):
        raise ValueError(f"the query {returned.id!r} does not give one time series")
    return [(t, v) for t, v in zip(grid.starts, result, strict=True) if not isinstance(v, list)]


def _described(spec: AlarmSpec) -> str:
    if not spec.queries:
        return f"{spec.metric_name} {spec.statistic or spec.extended_statistic}"
    returned = next(q for q in spec.queries if q.return_data)
    if returned.stat is not None:
        stat = returned.stat
        return f"{stat.metric_name} {stat.statistic or stat.extended_statistic}"
    return returned.label or f"{returned.id} = {returned.expression}"
