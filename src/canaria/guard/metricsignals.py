"""Per-version signals from Lambda's own metrics: ``AWS/Lambda`` Invocations and Errors
with the ``ExecutedVersion`` dimension (on the alias's ``Resource``), read with
``GetMetricData`` at 1-minute periods.

The cross-check of the logs source (a settled minute's invocations per version, compared
with what the logs showed), and the fallback when the functions' logs cannot be read (no
``logs:FilterLogEvents``, a log group elsewhere). Slower: a minute is read once it ended
``SETTLE_S`` ago, because Lambda publishes a minute's datapoints after it ends, so the
judge sees the canary minutes later than through the logs. Errors include timeouts;
throttles carry no version, and "slow" is not judged on this source.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from canaria.analysis.judge import TickCounts
from canaria.guard.model import LambdaTarget

__all__ = ["CROSS_CHECK_SETTLE_S", "PERIOD_S", "SETTLE_S", "counts_between", "queries"]

PERIOD_S = 60
SETTLE_S = 60.0
# the logs source's cross-check compares a minute once it ended this long before the
# newest log line: Lambda's datapoints for it are in by then
CROSS_CHECK_SETTLE_S = 180.0
METRICS = ("Invocations", "Errors")


def _qid(metric: str, version: str) -> str:
    return f"{metric.lower()}_{'latest' if version == '$LATEST' else version}"


def queries(t: LambdaTarget) -> list[dict[str, Any]]:
    """One query per metric and version: the Sum per minute on the alias."""
    out: list[dict[str, Any]] = []
    for version in (t.current_version, t.target_version):
        for metric in METRICS:
            out.append(
                {
                    "Id": _qid(metric, version),
                    "MetricStat": {
                        "Metric": {
                            "Namespace": "AWS/Lambda",
                            "MetricName": metric,
                            "Dimensions": [
                                {"Name": "FunctionName", "Value": t.function},
                                {"Name": "Resource", "Value": f"{t.function}:{t.alias}"},
                                {"Name": "ExecutedVersion", "Value": version},
                            ],
                        },
                        "Period": PERIOD_S,
                        "Stat": "Sum",
                    },
                    "ReturnData": True,
                }
            )
    return out


def _timestamp(value: Any) -> float:
    return float(value.timestamp()) if hasattr(value, "timestamp") else float(value)


def counts_between(
    results: Sequence[Mapping[str, Any]], t: LambdaTarget, start: float, end: float
) -> TickCounts:
    """The judge's counts over the minutes starting in ``[start, end)``."""
    sums: dict[str, float] = {}
    for r in results:
        total = 0.0
        for stamp, value in zip(r.get("Timestamps", []), r.get("Values", []), strict=False):
            if start <= _timestamp(stamp) < end:
                total += float(value)
        sums[str(r.get("Id"))] = sums.get(str(r.get("Id")), 0.0) + total

    def n(metric: str, version: str) -> int:
        return round(sums.get(_qid(metric, version), 0.0))

    canary, stable = t.target_version, t.current_version
    return TickCounts(
        canary_invocations=n("Invocations", canary),
        stable_invocations=n("Invocations", stable),
        canary_errors=n("Errors", canary),
        stable_errors=n("Errors", stable),
        canary_faults=0,
        stable_faults=0,
        canary_slow=0,
        stable_slow=0,
    )
