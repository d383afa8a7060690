"""CloudWatch alarm semantics, checked row by row against AWS's documentation.

Amazon CloudWatch User Guide, "Configuring how CloudWatch alarms treat missing data" →
"How alarm state is evaluated when data is missing" (doc_source/AlarmThatSendsEmail.md in
awsdocs/amazon-cloudwatch-user-guide): "In the data points column, 0 is a non-breaching data
point, X is a breaching data point, and - is a missing data point"; CloudWatch "retrieves the
5 most recent data points" for an alarm with 3 evaluation periods. Columns: MISSING,
IGNORE, BREACHING, NOT BREACHING.
"""

from __future__ import annotations

import pytest

from canaria.analysis.alarms import AlarmState, decide, evaluate, evaluation_range
from canaria.analysis.metrics import Metrics
from canaria.models import AlarmSpec

OK, ALARM, INSUFFICIENT = AlarmState.OK, AlarmState.ALARM, AlarmState.INSUFFICIENT_DATA
RETAIN = None  # "Retain current state"
TREATMENTS = ("missing", "ignore", "breaching", "notBreaching")

# (datapoints oldest → newest, DatapointsToAlarm, EvaluationPeriods, expected per treatment)
DOCUMENTED_ROWS = [
    # first table: Datapoints to Alarm and Evaluation Periods both 3
    ("0 - X - X", 3, 3, (OK, OK, OK, OK)),
    ("0 - - - -", 3, 3, (OK, OK, OK, OK)),
    ("- - - - -", 3, 3, (INSUFFICIENT, RETAIN, ALARM, OK)),
    ("0 X X - X", 3, 3, (ALARM, ALARM, ALARM, ALARM)),
    ("- - - - X", 3, 3, (INSUFFICIENT, RETAIN, ALARM, OK)),
    ("X - - - -", 3, 3, (ALARM, RETAIN, ALARM, OK)),
    # second table: 2 out of 3
    ("0 - X - X", 2, 3, (ALARM, ALARM, ALARM, ALARM)),
    ("0 0 X 0 X", 2, 3, (ALARM, ALARM, ALARM, ALARM)),
    ("0 - X - -", 2, 3, (OK, OK, ALARM, OK)),
    ("- - - - 0", 2, 3, (OK, OK, ALARM, OK)),
    ("- - - - X", 2, 3, (INSUFFICIENT, RETAIN, ALARM, OK)),
]
# AWS Knowledge Center, "Why did my CloudWatch alarm send me a notification after a single
# breached data point?": ALARM "when the oldest available breaching data point in the
# alarm's evaluation range is at least as old as the value of Datapoints to Alarm, and all
# other more recent data points are breaching or missing ... even when missing data is
# being treated as missing".
KNOWLEDGE_CENTER_ROWS = [
    ("- - X - -", 3, 3, (ALARM, RETAIN, ALARM, OK)),
    ("- - - X -", 3, 3, (INSUFFICIENT, RETAIN, ALARM, OK)),
    ("- - - X X", 3, 3, (INSUFFICIENT, RETAIN, ALARM, OK)),
]
ROWS = DOCUMENTED_ROWS + KNOWLEDGE_CENTER_ROWS


def parse(row: str) -> list[bool | None]:
    return [{"0": False, "X": True, "-": None}[c] for c in row.split()]


def expected_states(expected: AlarmState | None) -> dict[AlarmState, AlarmState]:
    """previous state → expected new state"""
    return {p: p if expected is RETAIN else expected for p in AlarmState}


@pytest.mark.parametrize(("row", "m", "n", "expected"), ROWS)
def test_decide_matches_the_documented_table(
    row: str, m: int, n: int, expected: tuple[AlarmState | None, ...]
) -> None:
    for treat, want in zip(TREATMENTS, expected, strict=True):
        for previous, state in expected_states(want).items():
            got, reason = decide(
                parse(row),
                evaluation_periods=n,
                datapoints_to_alarm=m,
                treat_missing_data=treat,
                previous=previous,
            )
            assert got is state, (row, treat, previous, reason)
            assert reason


T0 = 1_700_000_040.0  # a multiple of 60


def errors_alarm(m: int, n: int, treat: str) -> AlarmSpec:
    return AlarmSpec(
        name="orders-errors",
        metric_name="Errors",
        dimensions={"FunctionName": "orders", "Resource": "orders:prd"},
        period_s=60,
        evaluation_periods=n,
        threshold=0.0,
        comparison_operator="GreaterThanThreshold",
        statistic="Sum",
        datapoints_to_alarm=m,
        treat_missing_data=treat,
    )


@pytest.mark.parametrize(("row", "m", "n", "expected"), ROWS)
def test_evaluate_on_recorded_metrics_matches_the_table(
    row: str, m: int, n: int, expected: tuple[AlarmState | None, ...]
) -> None:
    """`Errors Sum > 0`: 0 = a minute with invocations and no error, X = one with an error,
    - = a minute without invocations (Lambda publishes no datapoint)."""
    metrics = Metrics()
    for i, point in enumerate(parse(row)):
        if point is not None:
            metrics.record(T0 + 60 * i + 7, "orders", 2, "prd", duration_ms=3.0, error=point)
    # the period now running is not complete: its error must not count
    now = T0 + 5 * 60 + 30
    metrics.record(now - 1, "orders", 2, "prd", duration_ms=3.0, error=True)
    assert evaluation_range(errors_alarm(m, n, "missing"), now) == (T0, T0 + 300)
    for treat, want in zip(TREATMENTS, expected, strict=True):
        for previous, state in expected_states(want).items():
            ev = evaluate(errors_alarm(m, n, treat), metrics, now, previous)
            assert ev.state is state, (row, treat, previous, ev.reason)
            assert ev.datapoints == tuple(None if p is None else float(p) for p in parse(row))
            assert ev.evaluated_at == now


def spec(**kw: object) -> AlarmSpec:
    base: dict[str, object] = {
        "name": "a",
        "metric_name": "Duration",
        "dimensions": {"FunctionName": "f"},
        "period_s": 10,
        "evaluation_periods": 1,
        "threshold": 100.0,
        "comparison_operator": "GreaterThanThreshold",
        "statistic": "Maximum",
    }
    base.update(kw)
    return AlarmSpec(**base)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("operator", "below", "equal", "above"),
    [
        ("GreaterThanThreshold", OK, OK, ALARM),
        ("GreaterThanOrEqualToThreshold", OK, ALARM, ALARM),
        ("LessThanThreshold", ALARM, OK, OK),
        ("LessThanOrEqualToThreshold", ALARM, ALARM, OK),
    ],
)
def test_comparison_operators(
    operator: str, below: AlarmState, equal: AlarmState, above: AlarmState
) -> None:
    for value, want in ((99.0, below), (100.0, equal), (101.0, above)):
        metrics = Metrics()
        metrics.record(T0 + 1, "f", 1, None, duration_ms=value, error=False)
        ev = evaluate(spec(comparison_operator=operator), metrics, T0 + 15, OK)
        assert ev.state is want, (operator, value, ev.reason)


def test_percentile_alarm_and_low_sample_count() -> None:
    metrics = Metrics()
    for i in range(20):
        metrics.record(T0 + 1, "f", 1, None, duration_ms=50.0 if i else 500.0, error=False)
    p99 = spec(statistic=None, extended_statistic="p99")
    p90 = spec(statistic=None, extended_statistic="p90")
    # 20 samples: the nearest-rank p99 is the largest (500 ms), p90 the 18th (50 ms)
    assert evaluate(p99, metrics, T0 + 15, OK).state is ALARM
    assert evaluate(p90, metrics, T0 + 15, ALARM).state is OK
    # EvaluateLowSampleCountPercentile=ignore: p99 needs 10 / (1 - 0.99) = 1000 samples
    ev = evaluate(p99, metrics, T0 + 15, OK, evaluate_low_sample_count_percentile="ignore")
    assert ev.state is OK and "1000 samples" in ev.reason
    p10 = spec(statistic=None, extended_statistic="p10", comparison_operator="LessThanThreshold")
    # p10 needs 10 / 0.1 = 100 samples
    ev = evaluate(p10, metrics, T0 + 15, ALARM, evaluate_low_sample_count_percentile="ignore")
    assert ev.state is ALARM and "100 samples" in ev.reason


def test_m_out_of_n_uses_the_most_recent_present_datapoints() -> None:
    metrics = Metrics()
    for i, err in enumerate([True, True, False, False]):  # X X 0 0 (+ one older missing)
        metrics.record(T0 + 60 * (i + 1), "orders", 2, "prd", duration_ms=1.0, error=err)
    ev = evaluate(errors_alarm(2, 3, "missing"), metrics, T0 + 300, ALARM)
    assert ev.state is OK  # X 0 0: one breaching of the last three
    ev = evaluate(errors_alarm(2, 4, "missing"), metrics, T0 + 300, OK)
    assert ev.state is ALARM  # X X 0 0: two of four


@pytest.mark.parametrize(
    ("change", "needle"),
    [
        ({"namespace": "AWS/SQS"}, "namespace"),
        ({"comparison_operator": "LessThanLowerOrGreaterThanUpperThreshold"}, "not supported"),
        ({"metric_name": "Error"}, "unknown AWS/Lambda metric"),
        ({"statistic": None}, "exactly one"),
        ({"datapoints_to_alarm": 3}, "DatapointsToAlarm"),
        ({"treat_missing_data": "zero"}, "TreatMissingData"),
    ],
)
def test_bad_specs_leave_the_alarm_without_data(change: dict[str, object], needle: str) -> None:
    ev = evaluate(spec(**change), Metrics(), T0 + 15, OK)
    assert ev.state is INSUFFICIENT and needle in ev.reason
