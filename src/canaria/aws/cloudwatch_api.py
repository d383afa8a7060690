"""CloudWatch on the edge (JSON 1.0, ``GraniteServiceVersion20100801``, the protocol
current botocore speaks to CloudWatch): SetAlarmState and DescribeAlarms over the
template's alarms; GetMetricData over the functions' per-version metrics (the Sum of
``AWS/Lambda`` Invocations, Errors and Throttles by FunctionName and ExecutedVersion).

SetAlarmState behaves as on AWS: the state holds until the alarm's next evaluation
changes it, so an alarm driven from outside (``canaria guard --act alarm``) is declared
on a metric nothing publishes, with ``TreatMissingData: ignore``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from starlette.responses import Response

from canaria.analysis.metrics import Counts
from canaria.aws.backend import EdgeBackend
from canaria.aws.responses import AMZ_JSON_10, json_error, json_response
from canaria.errors import NotFound
from canaria.models import AlarmSpec
from canaria.models.arns import ACCOUNT, REGION

Handler = Callable[[EdgeBackend, dict[str, Any]], Awaitable[Response]]

STATES = ("OK", "ALARM", "INSUFFICIENT_DATA")


def _error(code: str, message: str) -> Response:
    return json_error(code, message, AMZ_JSON_10)


async def set_alarm_state(edge: EdgeBackend, body: dict[str, Any]) -> Response:
    name, state, reason = body.get("AlarmName"), body.get("StateValue"), body.get("StateReason")
    if not isinstance(name, str) or not name:
        return _error("ValidationError", "AlarmName is required")
    if state not in STATES:
        return _error("ValidationError", f"StateValue {state!r} (allowed: {', '.join(STATES)})")
    if not isinstance(reason, str) or len(reason) > 1023:
        return _error("ValidationError", "StateReason is required (at most 1023 characters)")
    try:
        await edge.set_alarm_state(name, str(state), reason)
    except NotFound:
        return _error("ResourceNotFound", f"Alarm {name} not found")
    return json_response({}, media_type=AMZ_JSON_10)


def _alarm(spec: AlarmSpec, states: dict[str, tuple[str, str, float]]) -> dict[str, Any]:
    state, reason, updated = states.get(spec.name, ("INSUFFICIENT_DATA", "", 0.0))
    out: dict[str, Any] = {
        "AlarmName": spec.name,
        "AlarmArn": f"arn:aws:cloudwatch:{REGION}:{ACCOUNT}:alarm:{spec.name}",
        "ActionsEnabled": True,
        "StateValue": state,
        "StateReason": reason,
        "StateUpdatedTimestamp": updated,
        "MetricName": spec.metric_name,
        "Namespace": spec.namespace,
        "Dimensions": [{"Name": k, "Value": v} for k, v in spec.dimensions.items()],
        "Period": spec.period_s,
        "EvaluationPeriods": spec.evaluation_periods,
        "Threshold": spec.threshold,
        "ComparisonOperator": spec.comparison_operator,
        "TreatMissingData": spec.treat_missing_data,
    }
    if spec.statistic:
        out["Statistic"] = spec.statistic
    if spec.extended_statistic:
        out["ExtendedStatistic"] = spec.extended_statistic
    if spec.datapoints_to_alarm:
        out["DatapointsToAlarm"] = spec.datapoints_to_alarm
    return out


async def describe_alarms(edge: EdgeBackend, body: dict[str, Any]) -> Response:
    names = body.get("AlarmNames")
    if names is not None and (
        not isinstance(names, list) or not all(isinstance(n, str) for n in names)
    ):
        return _error("ValidationError", "AlarmNames must be a list of names")
    state = body.get("StateValue")
    if state is not None and state not in STATES:
        return _error("ValidationError", f"StateValue {state!r} (allowed: {', '.join(STATES)})")
    specs = edge.app.alarms if edge.app else {}
    states = edge.store.alarm_states()
    alarms = [
        _alarm(spec, states)
        for name, spec in sorted(specs.items())
        if names is None or name in names
    ]
    if state is not None:
        alarms = [a for a in alarms if a["StateValue"] == state]
    return json_response({"MetricAlarms": alarms, "CompositeAlarms": []}, media_type=AMZ_JSON_10)


COUNT_METRICS = ("Invocations", "Errors", "Throttles")
PERIODS = (1, 5, 10, 30)  # high resolution; else a multiple of 60
MAX_POINTS = 100_800


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def _count(c: Counts, metric: str) -> int:
    match metric:
        case "Invocations":
            return c.invocations
        case "Errors":
            return c.errors
        case _:
            return c.throttles


def _query(edge: EdgeBackend, q: Any, start: float, end: float) -> dict[str, Any] | str:
    """One MetricStat query's result, or what is wrong with it."""
    if not isinstance(q, dict) or not isinstance(q.get("Id"), str):
        return "every MetricDataQuery needs an Id"
    qid = q["Id"]
    stat = q.get("MetricStat")
    if not isinstance(stat, dict):
        return f"{qid}: canaria's edge answers MetricStat queries only (no Expression)"
    metric = stat.get("Metric") or {}
    name, namespace = metric.get("MetricName"), metric.get("Namespace")
    dims = {d.get("Name"): d.get("Value") for d in metric.get("Dimensions") or []}
    period = stat.get("Period")
    if namespace != "AWS/Lambda" or name not in COUNT_METRICS or stat.get("Stat") != "Sum":
        return (
            f"{qid}: canaria's edge answers the Sum of AWS/Lambda "
            f"{', '.join(COUNT_METRICS)}, not {stat.get('Stat')} of {namespace}/{name}"
        )
    if not isinstance(period, int) or not (period in PERIODS or (period > 0 and period % 60 == 0)):
        return f"{qid}: Period must be 1, 5, 10, 30 or a multiple of 60 seconds"
    function = dims.get("FunctionName")
    if not isinstance(function, str) or edge.app is None or function not in edge.app.functions:
        return {"Id": qid, "Label": name, "Timestamps": [], "Values": [], "StatusCode": "Complete"}
    version = dims.get("ExecutedVersion")
    versions = (
        [int(version)]
        if isinstance(version, str) and version.isdigit()
        else [v.number for v in edge.store.versions(function)]
    )
    first = start - start % period
    if (end - first) / period > MAX_POINTS:
        return f"{qid}: at most {MAX_POINTS} datapoints per query"
    stamps: list[float] = []
    values: list[float] = []
    t = first
    while t < end:
        counts = [edge.metrics.bucket_counts(function, v, t, t + period) for v in versions]
        if any(c.invocations or c.throttles for c in counts):
            stamps.append(t)
            values.append(float(sum(_count(c, name) for c in counts)))
        t += period
    return {
        "Id": qid,
        "Label": str(q.get("Label") or name),
        "Timestamps": stamps[::-1],  # TimestampDescending, CloudWatch's default
        "Values": values[::-1],
        "StatusCode": "Complete",
    }


async def get_metric_data(edge: EdgeBackend, body: dict[str, Any]) -> Response:
    queries = body.get("MetricDataQueries")
    start, end = _number(body.get("StartTime")), _number(body.get("EndTime"))
    if not isinstance(queries, list) or not queries or len(queries) > 500:
        return _error("ValidationError", "MetricDataQueries must hold 1 to 500 queries")
    if start is None or end is None or end <= start:
        return _error("ValidationError", "StartTime and EndTime are required, StartTime first")
    results = []
    for q in queries:
        r = _query(edge, q, start, end)
        if isinstance(r, str):
            return _error("ValidationError", r)
        results.append(r)
    return json_response({"MetricDataResults": results, "Messages": []}, media_type=AMZ_JSON_10)


OPERATIONS: dict[str, Handler] = {
    "SetAlarmState": set_alarm_state,
    "DescribeAlarms": describe_alarms,
    "GetMetricData": get_metric_data,
}
