"""Minutes of AWS/Lambda metrics by ExecutedVersion become one judge tick."""

from __future__ import annotations

from datetime import UTC, datetime

from canaria.guard.metricsignals import counts_between, queries
from canaria.guard.model import LambdaTarget

T = LambdaTarget("fn", "live", "5", "6")


def test_one_query_per_metric_and_version_on_the_alias() -> None:
    qs = queries(T)
    assert [q["Id"] for q in qs] == ["invocations_5", "errors_5", "invocations_6", "errors_6"]
    dims = {d["Name"]: d["Value"] for d in qs[3]["MetricStat"]["Metric"]["Dimensions"]}
    assert dims == {"FunctionName": "fn", "Resource": "fn:live", "ExecutedVersion": "6"}
    assert qs[0]["MetricStat"]["Period"] == 60 and qs[0]["MetricStat"]["Stat"] == "Sum"


def test_only_minutes_in_the_window_are_counted() -> None:
    at = datetime(2026, 11, 30, 12, 0, tzinfo=UTC).timestamp()
    results = [
        {"Id": "invocations_5", "Timestamps": [at, at + 60, at + 120], "Values": [90, 90, 90]},
        {"Id": "errors_5", "Timestamps": [at], "Values": [1]},
        {
            "Id": "invocations_6",
            "Timestamps": [datetime.fromtimestamp(at + 60, UTC)],
            "Values": [10],
        },
        {"Id": "errors_6", "Timestamps": [at + 60], "Values": [4]},
    ]
    c = counts_between(results, T, at, at + 120)
    assert (c.stable_invocations, c.stable_errors) == (180, 1)
    assert (c.canary_invocations, c.canary_errors) == (10, 4)
    assert (c.canary_faults, c.canary_slow) == (0, 0)  # not on this source
