"""Metrics: GetMetricStatistics semantics for every statistic and dimension set."""

from __future__ import annotations

import math
import random

import pytest

from canaria.analysis.metrics import DURATION_RELATIVE_ERROR, Metrics, duration_bin

T0 = 1_700_000_040.0  # a multiple of 60
FN = {"FunctionName": "orders"}
VIA_PRD = {"FunctionName": "orders", "Resource": "orders:prd"}


def dp(
    m: Metrics,
    name: str,
    dims: dict[str, str],
    stat: str | None = "Sum",
    ext: str | None = None,
    start: float = T0,
    end: float = T0 + 60,
    period: int = 60,
) -> list[float | None]:
    return [v for _, v in m.datapoints(name, dims, start, end, period, stat, ext)]


@pytest.fixture
def m() -> Metrics:
    """orders: via alias prd 6 requests on v1 (1 error, 1 throttled), 3 on v2 (2 errors);
    2 direct calls of version 2; one request of another function."""
    m = Metrics()
    for i, (v, err, thr, d) in enumerate(
        [
            (1, False, False, 10.0),
            (1, True, False, 20.0),
            (1, False, False, 30.0),
            (1, False, False, 40.0),
            (1, False, True, 0.0),
            (1, False, False, 50.0),
            (2, True, False, 100.0),
            (2, True, False, 200.0),
            (2, False, False, 300.0),
        ]
    ):
        m.record(T0 + i, "orders", v, "prd", duration_ms=d, error=err, throttled=thr)
    m.record(T0 + 20, "orders", 2, None, duration_ms=5.0, error=False)
    m.record(T0 + 21, "orders", 2, None, duration_ms=7.0, error=False)
    m.record(T0 + 22, "other", 1, "prd", duration_ms=1.0, error=True)
    return m


def test_invocations_statistics(m: Metrics) -> None:
    assert dp(m, "Invocations", FN) == [10.0]  # throttled request is not an invocation
    assert dp(m, "Invocations", FN, "SampleCount") == [10.0]
    for stat in ("Average", "Minimum", "Maximum"):
        assert dp(m, "Invocations", FN, stat) == [1.0]
    assert dp(m, "Invocations", FN, None, "p99") == [1.0]


def test_errors_count_in_invocations_and_errors(m: Metrics) -> None:
    assert dp(m, "Errors", FN) == [3.0]
    assert dp(m, "Errors", FN, "SampleCount") == [10.0]
    assert dp(m, "Errors", FN, "Average") == [pytest.approx(0.3)]
    assert dp(m, "Errors", FN, "Maximum") == [1.0]
    assert dp(m, "Errors", FN, "Minimum") == [0.0]
    # 10 samples, 3 ones: nearest rank 7 is 0, rank 8 is 1
    assert dp(m, "Errors", FN, None, "p70") == [0.0]
    assert dp(m, "Errors", FN, None, "p71") == [1.0]


def test_throttles_count_requests(m: Metrics) -> None:
    assert dp(m, "Throttles", FN) == [1.0]
    assert dp(m, "Throttles", FN, "SampleCount") == [11.0]
    assert dp(m, "Throttles", VIA_PRD | {"ExecutedVersion": "1"}) == [1.0]
    assert dp(m, "Throttles", VIA_PRD | {"ExecutedVersion": "2"}) == [0.0]


def test_duration_statistics(m: Metrics) -> None:
    dims = VIA_PRD | {"ExecutedVersion": "1"}
    assert dp(m, "Duration", dims, "Sum") == [150.0]
    assert dp(m, "Duration", dims, "Average") == [30.0]
    assert dp(m, "Duration", dims, "Minimum") == [10.0]
    assert dp(m, "Duration", dims, "Maximum") == [50.0]
    assert dp(m, "Duration", dims, "SampleCount") == [5.0]
    (p50,) = dp(m, "Duration", dims, None, "p50")  # nearest rank 3 of 5 → 30
    assert p50 == pytest.approx(30.0, rel=DURATION_RELATIVE_ERROR)
    assert dp(m, "Duration", dims, None, "p100") == [50.0]


def test_dimension_sets(m: Metrics) -> None:
    assert dp(m, "Invocations", FN) == [10.0]
    assert dp(m, "Invocations", VIA_PRD) == [8.0]
    assert dp(m, "Invocations", VIA_PRD | {"ExecutedVersion": "2"}) == [3.0]
    assert dp(m, "Invocations", FN | {"ExecutedVersion": "2"}) == [5.0]
    assert dp(m, "Invocations", {"FunctionName": "orders", "Resource": "orders:2"}) == [2.0]
    assert dp(m, "Invocations", {"FunctionName": "orders", "Resource": "orders"}) == [2.0]
    assert dp(m, "Errors", {"FunctionName": "other"}) == [1.0]
    # sets Lambda does not publish, or that name nothing, have no datapoints
    assert dp(m, "Invocations", {"FunctionName": "orders", "Resource": "other:prd"}) == [None]
    assert dp(m, "Invocations", VIA_PRD | {"ExecutedVersion": "9"}) == [None]
    assert dp(m, "Invocations", FN | {"Region": "x"}) == [None]
    assert dp(m, "Invocations", {"Resource": "orders:prd"}) == [None]
    assert dp(m, "Invocations", {"FunctionName": "orders", "Resource": "orders:beta"}) == [None]


def test_periods_are_aligned_and_idle_periods_are_missing() -> None:
    m = Metrics()
    m.record(T0 + 5, "f", 1, "a", duration_ms=1.0, error=False)  # period 0: ok only
    m.record(T0 + 125, "f", 1, "a", duration_ms=1.0, error=True)  # period 2: an error
    points = m.datapoints("Errors", {"FunctionName": "f"}, T0 + 30, T0 + 180, 60, "Sum", None)
    # periods start at multiples of 60 from the one holding `start`; end is exclusive
    assert points == [(T0, 0.0), (T0 + 60, None), (T0 + 120, 1.0)]
    assert m.datapoints("Errors", {"FunctionName": "f"}, T0, T0, 60, "Sum", None) == []
    assert dp(m, "Errors", {"FunctionName": "f"}, start=T0, end=T0 + 10, period=10) == [0.0]


def test_concurrency_sums_per_dimension() -> None:
    m = Metrics()
    m.record_concurrency(T0, "f", 1, "prd", 3)
    m.record_concurrency(T0 + 1, "f", 2, "prd", 2)
    m.record_concurrency(T0 + 2, "f", 1, None, 4)
    m.record_concurrency(T0 + 3, "f", 1, "prd", 0)
    mx = "Maximum"
    assert dp(m, "ConcurrentExecutions", {"FunctionName": "f"}, mx) == [9.0]
    assert dp(m, "ConcurrentExecutions", {"FunctionName": "f", "Resource": "f:prd"}, mx) == [5.0]
    assert dp(m, "ConcurrentExecutions", {"FunctionName": "f", "ExecutedVersion": "1"}, mx) == [7.0]
    assert dp(m, "ConcurrentExecutions", {"FunctionName": "f"}, "Minimum") == [3.0]
    assert dp(m, "ConcurrentExecutions", {"FunctionName": "f"}, "SampleCount") == [4.0]
    assert dp(m, "ConcurrentExecutions", {"FunctionName": "g"}, mx) == [None]


def test_bad_queries_are_refused(m: Metrics) -> None:
    with pytest.raises(ValueError, match="unknown AWS/Lambda metric"):
        dp(m, "Error", FN)
    with pytest.raises(ValueError, match="exactly one"):
        dp(m, "Errors", FN, "Sum", "p99")
    with pytest.raises(ValueError, match="unsupported statistic"):
        dp(m, "Errors", FN, "Median")
    with pytest.raises(ValueError, match="extended statistic"):
        dp(m, "Duration", FN, None, "tm99")


def test_percentiles_within_one_percent() -> None:
    rng = random.Random(7)
    m = Metrics()
    values = [rng.lognormvariate(3.0, 1.0) for _ in range(5000)]
    for i, d in enumerate(values):
        m.record(T0 + i % 60, "f", 1, None, duration_ms=d, error=False)
    ordered = sorted(values)
    for q in (1.0, 50.0, 90.0, 99.0, 99.9):
        exact = ordered[math.ceil(q / 100 * len(ordered)) - 1]
        (got,) = dp(m, "Duration", {"FunctionName": "f"}, None, f"p{q:g}")
        assert got is not None
        assert abs(got - exact) <= DURATION_RELATIVE_ERROR * exact


def test_bucket_counts_series_and_slow_counts() -> None:
    m = Metrics()
    for i in range(100):
        m.record(T0 + i // 50, "f", 1, "prd", duration_ms=float(i + 1), error=i % 10 == 0)
    m.record(T0, "f", 1, "prd", duration_ms=0.0, error=False, throttled=True)
    m.record(T0, "f", 1, "prd", duration_ms=500.0, error=False, cold_start=True, timed_out=True)
    c = m.bucket_counts("f", 1, T0, T0 + 2)
    assert (c.invocations, c.errors, c.throttles, c.timeouts, c.cold_starts) == (101, 10, 1, 1, 1)
    assert c.p99_ms == pytest.approx(100.0, rel=0.01)
    assert c.max_ms == 500.0
    assert m.bucket_counts("f", 1, T0 + 1, T0 + 2).invocations == 50
    assert m.bucket_counts("f", 2, T0, T0 + 2).p99_ms is None
    # the cold start (500 ms) is left out; "slower" is decided by histogram bin, so the
    # values within one bin (2 %) of the threshold may go either way
    for threshold in (50.0, 90.5, 99.0):
        by_bin = sum(duration_bin(i + 1.0) > duration_bin(threshold) for i in range(100))
        assert m.count_slower("f", 1, T0, T0 + 2, threshold) == by_bin
        exact = sum(i + 1.0 > threshold for i in range(100))
        assert exact - 2 <= by_bin <= exact
    p99, n = m.warm_percentile("f", 1, T0, T0 + 2, 99.0)
    assert n == 100 and p99 == pytest.approx(99.0, rel=0.01)
    series = m.series("f", T0 - 1, T0 + 3)
    assert list(series) == [1]
    assert [s.invocations for s in series[1]] == [0, 51, 50, 0]
    assert [s.throttles for s in series[1]] == [0, 1, 0, 0]
    assert series[1][0].p99_ms is None
    assert series[1][2].p50_ms == pytest.approx(75.0, rel=0.01)


def test_histogram_bins_are_ordered_and_zero_has_its_own() -> None:
    assert duration_bin(0.0) < duration_bin(0.01) < duration_bin(1.0) < duration_bin(1.03)
    assert duration_bin(1e6) > duration_bin(9.7e5)


def test_old_buckets_are_evicted() -> None:
    m = Metrics(retention_s=120.0)
    m.record(T0, "f", 1, None, duration_ms=1.0, error=False)
    m.record(T0 + 100, "f", 1, None, duration_ms=1.0, error=False)
    assert m.bucket_counts("f", 1, T0, T0 + 200).invocations == 2
    m.record(T0 + 400, "f", 1, None, duration_ms=1.0, error=False)
    assert m.bucket_counts("f", 1, T0, T0 + 200).invocations == 0
    m.record(T0 + 10, "f", 1, None, duration_ms=1.0, error=False)  # too old: dropped
    assert m.bucket_counts("f", 1, T0, T0 + 500).invocations == 1
