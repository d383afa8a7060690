"""CloudWatch on the edge (JSON 1.0, ``GraniteServiceVersion20100801``, the protocol
current botocore speaks to CloudWatch): SetAlarmState and DescribeAlarms over the
template's alarms; PutMetricData into the application's own metrics
(``canaria.analysis.published``); GetMetricData over the functions' per-version metrics
(the Sum of ``AWS/Lambda`` Invocations, Errors and Throttles by FunctionName and
ExecutedVersion), its APIs' ``AWS/ApiGateway`` metrics and the application's own (any
statistic or percentile).

PutMetricData follows CloudWatch's rules: a namespace of 1 to 255 characters not
starting ``AWS/``, 1 to 1,000 entries, each with a name, at most 30 dimensions and one of
``Value``, ``Values`` (with ``Counts``, at most 150 values) or ``StatisticValues``; values
finite. A sample is recorded at canaria's time (its ``Timestamp`` is not read: canaria's
clock may be compressed, and the alarms read canaria's).

SetAlarmState behaves as on AWS: the state holds until the alarm's next evaluation
changes it, so an alarm driven from outside (``canaria guard --act alarm``) is declared
on a metric nothing publishes, with ``TreatMissingData: ignore``.
"""

from __future__ import annotations

import math
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from starlette.responses import Response

from canaria.analysis.metrics import Counts
from canaria.analysis.published import Sample, metric_key
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


def _dimension_list(dimensions: Mapping[str, str]) -> list[dict[str, str]]:
    return [{"Name": k, "Value": v} for k, v in dimensions.items()]


def _queries(spec: AlarmSpec) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for q in spec.queries:
        entry: dict[str, Any] = {"Id": q.id, "ReturnData": q.return_data}
        if q.label:
            entry["Label"] = q.label
        if q.expression is not None:
            entry["Expression"] = q.expression
        if q.stat is not None:
            entry["MetricStat"] = {
                "Metric": {
                    "Namespace": q.stat.namespace,
                    "MetricName": q.stat.metric_name,
                    "Dimensions": _dimension_list(q.stat.dimensions),
                },
                "Period": q.stat.period_s,
                "Stat": q.stat.statistic or q.stat.extended_statistic,
            }
        out.append(entry)
    return out


def _alarm(spec: AlarmSpec, states: dict[str, tuple[str, str, float]]) -> dict[str, Any]:
    state, reason, updated = states.get(spec.name, ("INSUFFICIENT_DATA", "", 0.0))
    out: dict[str, Any] = {
        "AlarmName": spec.name,
        "AlarmArn": f"arn:aws:cloudwatch:{REGION}:{ACCOUNT}:alarm:{spec.name}",
        "ActionsEnabled": True,
        "StateValue": state,
        "StateReason": reason,
        "StateUpdatedTimestamp": updated,
        "EvaluationPeriods": spec.evaluation_periods,
        "Threshold": spec.threshold,
        "ComparisonOperator": spec.comparison_operator,
        "TreatMissingData": spec.treat_missing_data,
    }
    if spec.queries:
        out["Metrics"] = _queries(spec)
    else:
        out["MetricName"] = spec.metric_name
        out["Namespace"] = spec.namespace
        out["Dimensions"] = _dimension_list(spec.dimensions)
        out["Period"] = spec.period_s
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
    served = namespace == "AWS/ApiGateway" or not str(namespace).startswith("AWS/")
    if isinstance(namespace, str) and isinstance(name, str) and served:
        return _published_query(
            edge, q, namespace, name, dims, period, stat.get("Stat"), start, end
        )
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


def _published_query(
    edge: EdgeBackend,
    q: dict[str, Any],
    namespace: str,
    name: str,
    dims: dict[Any, Any],
    period: Any,
    stat: Any,
    start: float,
    end: float,
) -> dict[str, Any] | str:
    """A MetricStat query of the application's own metrics or its APIs' (AWS/ApiGateway),
    or what is wrong with it."""
    qid = q["Id"]
    if not isinstance(period, int) or not (period in PERIODS or (period > 0 and period % 60 == 0)):
        return f"{qid}: Period must be 1, 5, 10, 30 or a multiple of 60 seconds"
    if not all(isinstance(k, str) and isinstance(v, str) for k, v in dims.items()):
        return f"{qid}: each dimension needs a Name and a Value"
    if not isinstance(stat, str):
        return f"{qid}: Stat is required (Sum, Average, Minimum, Maximum, SampleCount or pNN)"
    statistic, extended = (stat, None) if not stat.startswith("p") else (None, stat)
    if (end - start) / period > MAX_POINTS:
        return f"{qid}: at most {MAX_POINTS} datapoints per query"
    try:
        if namespace == "AWS/ApiGateway":
            points = edge.api_metrics.datapoints(
                name, dims, start, end, period, statistic, extended
            )
        else:
            points = edge.published.datapoints(
                namespace, name, dims, start, end, period, statistic, extended
            )
    except ValueError as exc:
        return f"{qid}: {exc}"
    present = [(t, v) for t, v in points if v is not None][::-1]  # TimestampDescending
    return {
        "Id": qid,
        "Label": str(q.get("Label") or name),
        "Timestamps": [t for t, _ in present],
        "Values": [v for _, v in present],
        "StatusCode": "Complete",
    }


MAX_DATA = 1000  # entries of one PutMetricData
MAX_VALUES = 150  # values of one entry
MAX_DIMENSIONS = 30


def _metric_datum(namespace: str, datum: Any, i: int) -> Sample | str:
    """One MetricData entry as a sample, or what is wrong with it."""
    where = f"MetricData.member.{i + 1}"
    if not isinstance(datum, dict):
        return f"{where} must be an object"
    name = datum.get("MetricName")
    if not isinstance(name, str) or not 1 <= len(name) <= 255:
        return f"{where}.MetricName is required (1 to 255 characters)"
    raw_dims = datum.get("Dimensions") or []
    if not isinstance(raw_dims, list) or len(raw_dims) > MAX_DIMENSIONS:
        return f"{where}.Dimensions: at most {MAX_DIMENSIONS} dimensions"
    dims: dict[str, str] = {}
    for d in raw_dims:
        key, value = (d.get("Name"), d.get("Value")) if isinstance(d, dict) else (None, None)
        if not isinstance(key, str) or not isinstance(value, str) or not key or not value:
            return f"{where}.Dimensions: each dimension needs a Name and a Value"
        dims[key] = value
    given = [k for k in ("Value", "Values", "StatisticValues") if datum.get(k) is not None]
    if len(given) != 1:
        return f"{where}: give exactly one of Value, Values and StatisticValues"
    key = metric_key(namespace, name, dims)
    if given[0] == "Value":
        value = _number(datum["Value"])
        if value is None or not math.isfinite(value):
            return f"{where}.Value must be a finite number"
        return Sample(key, ((value, 1),))
    if given[0] == "Values":
        values, counts = datum["Values"], datum.get("Counts")
        if not isinstance(values, list) or not 1 <= len(values) <= MAX_VALUES:
            return f"{where}.Values: 1 to {MAX_VALUES} numbers"
        if counts is None:
            counts = [1] * len(values)
        if not isinstance(counts, list) or len(counts) != len(values):
            return f"{where}.Counts must have as many entries as Values"
        pairs = [(_number(v), _number(c)) for v, c in zip(values, counts, strict=True)]
        if any(v is None or c is None or not math.isfinite(v) or c < 0 for v, c in pairs):
            return f"{where}: Values and Counts must be finite numbers, counts not negative"
        return Sample(key, tuple((float(v or 0.0), round(c or 0.0)) for v, c in pairs))
    stats = datum["StatisticValues"]
    parts = [
        _number(stats.get(k)) if isinstance(stats, dict) else None
        for k in ("SampleCount", "Sum", "Minimum", "Maximum")
    ]
    if any(p is None or not math.isfinite(p) for p in parts):
        return f"{where}.StatisticValues needs SampleCount, Sum, Minimum and Maximum"
    count, total, low, high = (float(p or 0.0) for p in parts)
    if count <= 0 or low > high:
        return f"{where}.StatisticValues: SampleCount above 0, Minimum at most Maximum"
    return Sample(key, statistics=(count, total, low, high))


async def put_metric_data(edge: EdgeBackend, body: dict[str, Any]) -> Response:
    namespace = body.get("Namespace")
    if not isinstance(namespace, str) or not 1 <= len(namespace) <= 255:
        return _error("MissingParameter", "Namespace is required (1 to 255 characters)")
    if namespace.startswith("AWS/"):
        return _error(
            "InvalidParameterValue",
            f"The value {namespace} for parameter Namespace is invalid: namespaces "
            "starting AWS/ are reserved for AWS",
        )
    data = body.get("MetricData")
    if not isinstance(data, list) or not 1 <= len(data) <= MAX_DATA:
        return _error("MissingParameter", f"MetricData must hold 1 to {MAX_DATA} entries")
    samples: list[Sample] = []
    for i, datum in enumerate(data):
        sample = _metric_datum(namespace, datum, i)
        if isinstance(sample, str):
            return _error("InvalidParameterValue", sample)
        samples.append(sample)
    edge.published.put(edge.clock.now(), samples)
    return json_response({}, media_type=AMZ_JSON_10)


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
    "PutMetricData": put_metric_data,
}
