"""``AWS::CloudWatch::Alarm`` read into the alarm canaria evaluates.

An alarm is evaluated when canaria publishes what it watches:

- one metric of ``AWS/Lambda`` (``Invocations``, ``Errors``, ``Throttles``, ``Duration``,
  ``ConcurrentExecutions`` by ``FunctionName``, ``Resource`` and ``ExecutedVersion``);
- one metric of ``AWS/ApiGateway`` for an API of the template: a REST API's ``Count``,
  ``4XXError``, ``5XXError``, ``Latency``, ``IntegrationLatency`` by ``ApiName`` (its
  ``Name``, else the stack name, as SAM names it) and ``Stage``; an HTTP API's ``Count``,
  ``4xx``, ``5xx``, ``Latency``, ``IntegrationLatency`` by ``ApiId`` and ``Stage``. An alarm
  on what API Gateway does not publish (``5XXError`` of an HTTP API, ``ApiName`` of one,
  an ``ApiName`` no API of the template has) never fires, on AWS either: a warning says
  so. Detailed metrics (``Method``, ``Resource``), the cache's and WebSocket APIs' are
  not kept (a warning);
- one metric of a namespace the application publishes (not ``AWS/...``): by the embedded
  metric format in its logs, ``PutMetricData``, or a metric filter on a function's log
  group (``canaria.analysis.published``);
- a metric math expression over such metrics (``Metrics`` with ``Expression`` and
  ``MetricStat`` entries, ``canaria.models.metric_math``), e.g. the error rate
  ``100 * errors / invocations``.

What CloudWatch refuses is refused at its line: two ways of naming the metric, an
expression that does not parse or cannot give one time series, an Id used twice or read
before it exists, not exactly one entry returning data, a period CloudWatch does not take.
What CloudWatch accepts and canaria cannot evaluate is skipped with a warning, and the
alarm then never fires here: anomaly detection (``ThresholdMetricId``), a metric of another
AWS namespace (``AWS/ApiGateway``, ``AWS/SQS``, ...), an AWS/Lambda metric or dimension
Lambda does not publish, ``SEARCH`` and the other functions ``metric_math`` lists as
unsupported, a statistic such as ``TM90``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, Literal

from canaria.models import AlarmSpec, MetricQuerySpec, MetricStatSpec, metric_math
from canaria.models.statistics import parse_percentile
from canaria.template.cfn_apis import REST_API, V2_API
from canaria.template.context import Context
from canaria.template.index import API, HTTP_API, Entry, api_id
from canaria.template.intrinsics import NO_VALUE
from canaria.template.nodes import (
    Where,
    as_bool,
    as_float,
    as_int,
    as_list,
    as_map,
    as_str,
    check_keys,
)

__all__ = ["ALARM_PROPERTIES", "api_labels", "build_alarm"]

ALARM_PROPERTIES = (
    "ActionsEnabled",
    "AlarmActions",
    "AlarmDescription",
    "AlarmName",
    "ComparisonOperator",
    "DatapointsToAlarm",
    "Dimensions",
    "EvaluateLowSampleCountPercentile",
    "EvaluationPeriods",
    "ExtendedStatistic",
    "InsufficientDataActions",
    "MetricName",
    "Metrics",
    "Namespace",
    "OKActions",
    "Period",
    "Statistic",
    "Tags",
    "Threshold",
    "ThresholdMetricId",
    "TreatMissingData",
    "Unit",
)
ONE_METRIC = ("MetricName", "Namespace", "Dimensions", "Period", "Statistic", "ExtendedStatistic")
QUERY_KEYS = ("AccountId", "Expression", "Id", "Label", "MetricStat", "Period", "ReturnData")
LAMBDA = "AWS/Lambda"
API_GATEWAY = "AWS/ApiGateway"
REST_METRICS = ("Count", "4XXError", "5XXError", "Latency", "IntegrationLatency")
HTTP_METRICS = ("Count", "4xx", "5xx", "Latency", "IntegrationLatency")
ApiLabels = Mapping[str, tuple[Literal["rest", "http"], str]]
METRICS = ("Invocations", "Errors", "Throttles", "Duration", "ConcurrentExecutions")
DIMENSIONS = ("FunctionName", "Resource", "ExecutedVersion")
STATISTICS = ("SampleCount", "Average", "Sum", "Minimum", "Maximum")
COMPARISONS = (
    "GreaterThanOrEqualToThreshold",
    "GreaterThanThreshold",
    "LessThanThreshold",
    "LessThanOrEqualToThreshold",
)
MISSING_DATA = ("missing", "notBreaching", "breaching", "ignore")
MAX_QUERIES = 20  # entries of an alarm's Metrics (PutMetricAlarm)
MAX_OF_A_KIND = 10  # MetricStat entries, and Expression entries, among them
_QUERY_ID = re.compile(r"[a-z][A-Za-z0-9_]*\Z")


class _Skip(Exception):
    """A valid alarm canaria cannot evaluate: the reason for the warning."""


def build_alarm(
    ctx: Context, entry: Entry, function_names: dict[str, str], apis: ApiLabels
) -> AlarmSpec | None:
    """The alarm canaria evaluates, or None (with a warning) for a valid alarm it cannot
    (see the module docstring). ``function_names``: FunctionName -> logical id; ``apis``:
    the template's APIs (``api_labels``)."""
    props = entry.props
    check_keys(props, entry.props_at, ALARM_PROPERTIES)
    if "ThresholdMetricId" in props:
        ctx.warn(
            entry,
            "alarm with ThresholdMetricId (anomaly detection) is skipped: canaria has no "
            "anomaly model; it never fires locally",
        )
        return None
    try:
        if "Metrics" in props:
            return _math_alarm(ctx, entry, function_names, apis)
        return _one_metric_alarm(ctx, entry, function_names, apis)
    except _Skip as skip:
        ctx.warn(entry, f"alarm is skipped: {skip}")
        return None


def _common(ctx: Context, entry: Entry) -> dict[str, Any]:
    """What every alarm has: comparison, threshold, periods to evaluate, missing data."""

    def text(key: str) -> str:
        return as_str(ctx.get(entry, key), ctx.at(entry, key))

    comparison = text("ComparisonOperator")
    if comparison not in COMPARISONS:
        raise ctx.at(entry, "ComparisonOperator").error(
            f"comparison {comparison!r} is not supported", allowed=COMPARISONS
        )
    missing = text("TreatMissingData") if "TreatMissingData" in entry.props else "missing"
    if missing not in MISSING_DATA:
        raise ctx.at(entry, "TreatMissingData").error(
            f"unknown TreatMissingData {missing!r}", allowed=MISSING_DATA
        )
    evaluation = as_int(ctx.get(entry, "EvaluationPeriods"), ctx.at(entry, "EvaluationPeriods"), 1)
    datapoints = None
    if "DatapointsToAlarm" in entry.props:
        datapoints = as_int(
            ctx.get(entry, "DatapointsToAlarm"), ctx.at(entry, "DatapointsToAlarm"), 1, evaluation
        )
    return {
        "name": ctx.index.name_of(entry.logical_id),
        "evaluation_periods": evaluation,
        "threshold": as_float(ctx.get(entry, "Threshold"), ctx.at(entry, "Threshold")),
        "comparison_operator": comparison,
        "datapoints_to_alarm": datapoints,
        "treat_missing_data": missing,
    }


def _one_metric_alarm(
    ctx: Context, entry: Entry, function_names: dict[str, str], apis: ApiLabels
) -> AlarmSpec:
    props = entry.props
    check_keys(
        props,
        entry.props_at,
        ALARM_PROPERTIES,
        required=(
            "MetricName",
            "Namespace",
            "Period",
            "EvaluationPeriods",
            "Threshold",
            "ComparisonOperator",
        ),
    )
    namespace = as_str(ctx.get(entry, "Namespace"), ctx.at(entry, "Namespace"))
    if namespace.startswith("AWS/") and namespace not in (LAMBDA, API_GATEWAY):
        raise _Skip(_other_namespace(namespace))  # before the rest (SAM's own tests do)
    if ("Statistic" in props) == ("ExtendedStatistic" in props):
        raise entry.props_at.at(props).error(
            "an alarm needs exactly one of Statistic and ExtendedStatistic",
            allowed="Statistic: Sum, or ExtendedStatistic: p99",
        )
    if "Statistic" in props:
        statistic = as_str(ctx.get(entry, "Statistic"), ctx.at(entry, "Statistic"))
        if statistic not in STATISTICS:
            raise ctx.at(entry, "Statistic").error(
                f"unknown statistic {statistic!r}", allowed=STATISTICS
            )
        extended = None
    else:
        extended = as_str(ctx.get(entry, "ExtendedStatistic"), ctx.at(entry, "ExtendedStatistic"))
        _check_percentile(extended, ctx.at(entry, "ExtendedStatistic"))
        statistic = None
    common = _common(ctx, entry)  # checked even when the metric is one canaria skips
    stat = _metric(
        ctx.get(entry, "Namespace"),
        ctx.at(entry, "Namespace"),
        ctx.get(entry, "MetricName"),
        ctx.at(entry, "MetricName"),
        ctx.get(entry, "Dimensions"),
        ctx.at(entry, "Dimensions"),
        _period(ctx.get(entry, "Period"), ctx.at(entry, "Period")),
        function_names,
        apis,
    )
    return AlarmSpec(
        metric_name=stat.metric_name,
        dimensions=stat.dimensions,
        period_s=stat.period_s,
        statistic=statistic,
        extended_statistic=extended,
        namespace=stat.namespace,
        **common,
    )


def _math_alarm(
    ctx: Context, entry: Entry, function_names: dict[str, str], apis: ApiLabels
) -> AlarmSpec:
    props = entry.props
    for key in ONE_METRIC:
        if key in props:
            raise ctx.at(entry, key).error(
                f"an alarm with Metrics has no {key}: each MetricStat in Metrics names its "
                "metric, period and statistic",
                allowed="Metrics, or MetricName / Namespace / Statistic / Period",
            )
    check_keys(
        props,
        entry.props_at,
        ALARM_PROPERTIES,
        required=("Metrics", "EvaluationPeriods", "Threshold", "ComparisonOperator"),
    )
    common = _common(ctx, entry)  # checked even when an entry is one canaria skips
    raw, at = ctx.get(entry, "Metrics"), ctx.at(entry, "Metrics")
    items = as_list(raw, at)
    if not 1 <= len(items) <= MAX_QUERIES:
        raise at.error(
            f"Metrics holds {len(items)} entries",
            allowed=f"1 to {MAX_QUERIES} (at most {MAX_OF_A_KIND} MetricStat and "
            f"{MAX_OF_A_KIND} Expression entries)",
        )
    queries: list[MetricQuerySpec] = []
    nodes: dict[str, tuple[metric_math.Node, Where]] = {}
    skipped: list[str] = []
    for i, item in enumerate(items):
        try:  # every entry is checked, also after one canaria cannot evaluate
            query, node = _query(item, at.index(raw, i), function_names, apis)
        except _Skip as skip:
            skipped.append(str(skip))
            continue
        if any(q.id == query.id for q in queries):
            raise at.index(raw, i).error(f"the Id {query.id!r} is used twice in Metrics")
        queries.append(query)
        if node is not None:
            nodes[query.id] = node
    stats = sum(q.stat is not None for q in queries)
    for count, what in ((stats, "MetricStat"), (len(queries) - stats, "Expression")):
        if count > MAX_OF_A_KIND:
            raise at.error(f"Metrics holds {count} {what} entries (at most {MAX_OF_A_KIND})")
    if skipped:
        raise _Skip(skipped[0])
    returned = [q for q in queries if q.return_data]
    if len(returned) != 1:
        raise at.error(
            f"{len(returned)} entries of Metrics return data; an alarm watches exactly one",
            allowed="ReturnData: false on every entry but the one the alarm watches",
        )
    kinds = _kinds(queries, nodes)
    if kinds[returned[0].id] != "series":
        raise at.error(
            f"the entry the alarm watches ({returned[0].id}) gives a {kinds[returned[0].id]}, "
            "not one time series"
        )
    periods = sorted({q.stat.period_s for q in queries if q.stat is not None})
    if not periods:
        raise at.error("Metrics has no MetricStat: an expression needs a metric to read")
    if len(periods) > 1:
        ctx.warn(
            entry,
            f"the MetricStat entries have periods {periods}; canaria reads them all at "
            f"{periods[0]} s",
        )
    return AlarmSpec(
        metric_name="",
        dimensions={},
        period_s=periods[0],
        namespace="",
        queries=tuple(queries),
        **common,
    )


def _query(
    item: Any, at: Where, function_names: dict[str, str], apis: ApiLabels
) -> tuple[MetricQuerySpec, tuple[metric_math.Node, Where] | None]:
    node = as_map(item, at)
    check_keys(node, at, QUERY_KEYS, required=("Id",))
    qid = as_str(node["Id"], at.key(node, "Id"))
    if not _QUERY_ID.match(qid):
        raise at.key(node, "Id").error(
            f"Id {qid!r} is not valid",
            allowed="a lower-case letter, then letters, digits and underscores",
        )
    if ("Expression" in node) == ("MetricStat" in node):
        raise at.error(
            f"the entry {qid} needs exactly one of Expression and MetricStat",
            allowed="Expression: m1 / m2, or MetricStat: {Metric, Period, Stat}",
        )
    if "AccountId" in node:
        raise _Skip(f"the entry {qid} reads another account's metric")
    return_data = (
        as_bool(node["ReturnData"], at.key(node, "ReturnData")) if "ReturnData" in node else True
    )
    label = as_str(node["Label"], at.key(node, "Label")) if "Label" in node else ""
    if "Expression" in node:
        eat = at.key(node, "Expression")
        expression = as_str(node["Expression"], eat)
        try:
            parsed = metric_math.parse(expression)
        except metric_math.Unsupported as exc:
            raise _Skip(f"{qid}: {exc}") from None
        except metric_math.MathError as exc:
            raise eat.error(f"expression {expression!r}: {exc}") from None
        query = MetricQuerySpec(qid, expression=expression, return_data=return_data, label=label)
        return query, (parsed, eat)
    sat = at.key(node, "MetricStat")
    stat_node = as_map(node["MetricStat"], sat)
    check_keys(
        stat_node, sat, ("Metric", "Period", "Stat", "Unit"), required=("Metric", "Period", "Stat")
    )
    mat = sat.key(stat_node, "Metric")
    metric = as_map(stat_node["Metric"], mat)
    check_keys(
        metric, mat, ("Dimensions", "MetricName", "Namespace"), required=("MetricName", "Namespace")
    )
    statistic, extended = _statistic(stat_node["Stat"], sat.key(stat_node, "Stat"))
    stat = _metric(
        metric["Namespace"],
        mat.key(metric, "Namespace"),
        metric["MetricName"],
        mat.key(metric, "MetricName"),
        metric.get("Dimensions", NO_VALUE),
        mat.key(metric, "Dimensions") if "Dimensions" in metric else mat,
        _period(stat_node["Period"], sat.key(stat_node, "Period")),
        function_names,
        apis,
        statistic=statistic,
        extended=extended,
    )
    return MetricQuerySpec(qid, stat=stat, return_data=return_data, label=label), None


def _kinds(
    queries: list[MetricQuerySpec], nodes: dict[str, tuple[metric_math.Node, Where]]
) -> dict[str, metric_math.Kind]:
    """Each entry's kind; an expression may read entries listed before or after it, not
    itself through any chain."""
    kinds: dict[str, metric_math.Kind] = {q.id: "series" for q in queries if q.stat is not None}
    known = {q.id for q in queries}

    def visit(qid: str, path: tuple[str, ...]) -> metric_math.Kind:
        if qid in kinds:
            return kinds[qid]
        node, where = nodes[qid]
        for ref in metric_math.references(node):
            if ref.id not in known:
                raise where.error(
                    f"expression of {qid}: column {ref.at}: no entry of Metrics has the Id "
                    f"{ref.id!r}",
                    allowed=", ".join(q.id for q in queries),
                )
            if ref.id in path or ref.id == qid:
                raise where.error(f"expression of {qid} reads itself (through {ref.id})")
            visit(ref.id, (*path, qid))
        try:
            kinds[qid] = metric_math.kind(node, kinds)
        except metric_math.Unsupported as exc:
            raise _Skip(f"{qid}: {exc}") from None
        except metric_math.MathError as exc:
            raise where.error(f"expression of {qid}: {exc}") from None
        return kinds[qid]

    for q in queries:
        visit(q.id, ())
    return kinds


def _metric(
    namespace_raw: Any,
    namespace_at: Where,
    name_raw: Any,
    name_at: Where,
    dimensions_raw: Any,
    dimensions_at: Where,
    period: int,
    function_names: dict[str, str],
    apis: ApiLabels,
    *,
    statistic: str | None = None,
    extended: str | None = None,
) -> MetricStatSpec:
    namespace = as_str(namespace_raw, namespace_at)
    name = as_str(name_raw, name_at)
    dims = _dimensions(dimensions_raw, dimensions_at)
    if namespace == API_GATEWAY:
        _check_api_metric(name, dims, apis)
    elif namespace.startswith("AWS/") and namespace != LAMBDA:
        raise _Skip(_other_namespace(namespace))
    if namespace == LAMBDA:
        unknown = [d for d in dims if d not in DIMENSIONS]
        if name not in METRICS:
            hint = " (the Lambda metric is Errors, plural)" if name == "Error" else ""
            unpublished = f"metric {name!r}{hint}; Lambda's are {', '.join(METRICS)}"
        elif unknown:
            hint = " (an alias is Resource: <function>:<alias>)" if unknown[0] == "Alias" else ""
            unpublished = f"dimension {unknown[0]!r}{hint}; Lambda's are {', '.join(DIMENSIONS)}"
        else:
            unpublished = ""
        if unpublished:
            # CloudWatch takes any name, and an alarm on data that never comes never fires
            raise _Skip(
                f"AWS/Lambda publishes no {unpublished}. It never fires, on AWS either, "
                "and never stops a deployment"
            )
        for key in ("FunctionName", "Resource"):  # a FunctionName → the logical id canaria uses
            if key in dims:
                head, colon, tail = dims[key].partition(":")
                dims[key] = function_names.get(head, head) + colon + tail
    return MetricStatSpec(namespace, name, dims, period, statistic, extended)


def _check_api_metric(name: str, dims: Mapping[str, str], apis: ApiLabels) -> None:
    """Skip (with why) an AWS/ApiGateway metric canaria does not publish for this
    template; return for one it does."""
    never = "It never fires, on AWS either, and never stops a deployment"
    keys = set(dims) - {"Stage"}
    if keys - {"ApiName", "ApiId"} or not keys:
        raise _Skip(
            f"AWS/ApiGateway dimensions {sorted(dims)}: canaria keeps a REST API's metrics "
            "by ApiName (and Stage), an HTTP API's by ApiId (and Stage), not detailed "
            "metrics by Method or Resource; it never fires locally"
        )
    rest = {label: logical for logical, (kind, label) in apis.items() if kind == "rest"}
    http = {label: logical for logical, (kind, label) in apis.items() if kind == "http"}
    if "ApiName" in dims and "ApiId" in dims:
        raise _Skip(f"AWS/ApiGateway publishes no metric by both ApiName and ApiId. {never}")
    if "ApiName" in dims:
        value = dims["ApiName"]
        if value in http:
            raise _Skip(
                f"ApiName {value!r} is the id of the HTTP API {http[value]}: HTTP APIs "
                f"publish their metrics by ApiId ({', '.join(HTTP_METRICS)}). {never}"
            )
        if value not in rest:
            names = ", ".join(f"{n} ({logical})" for n, logical in sorted(rest.items()))
            raise _Skip(
                f"no REST API of the template is named {value!r} (theirs: {names or 'none'}); "
                "a REST API's ApiName is its Name, else the stack name. It never fires locally"
            )
        if name not in REST_METRICS:
            hint = " (an HTTP API's name; a REST API's is 5XXError)" if name in HTTP_METRICS else ""
            raise _Skip(
                f"a REST API publishes no {name!r}{hint}; its metrics are "
                f"{', '.join(REST_METRICS)}. {never}"
            )
        return
    value = dims["ApiId"]
    if value not in http:
        ids = ", ".join(f"{i} ({logical})" for i, logical in sorted(http.items()))
        raise _Skip(
            f"no HTTP API of the template has the id {value!r} (theirs: {ids or 'none'}; "
            "!Ref of the API gives it). It never fires locally"
        )
    if name not in HTTP_METRICS:
        hint = " (a REST API's name; an HTTP API's is 5xx)" if name in REST_METRICS else ""
        raise _Skip(
            f"an HTTP API publishes no {name!r}{hint}; its metrics are "
            f"{', '.join(HTTP_METRICS)}. {never}"
        )


def api_labels(
    ctx: Context, entries: list[Entry]
) -> dict[str, tuple[Literal["rest", "http"], str]]:
    """Each API of the template (its logical id) -> what its metrics are published by: a
    REST API's name (``Name``, else the stack name: SAM names its OpenAPI document after
    the stack), an HTTP API's id (what ``!Ref`` of it gives)."""
    stack = ctx.index.stack_name
    out: dict[str, tuple[Literal["rest", "http"], str]] = {}
    for logical, type_ in ctx.index.implicit.items():
        if type_ == API:
            out[logical] = ("rest", stack)
        elif type_ == HTTP_API:
            out[logical] = ("http", api_id(logical))  # what !Ref of it gives
    for e in entries:
        if e.type in (API, REST_API):
            name = ctx.get(e, "Name")
            out[e.logical_id] = ("rest", name if isinstance(name, str) else stack)
        elif e.type == HTTP_API or (
            e.type == V2_API and str(ctx.get(e, "ProtocolType")).upper() == "HTTP"
        ):
            out[e.logical_id] = ("http", str(ctx.index.ref(e.logical_id, e.where)))
    return out


def _other_namespace(namespace: str) -> str:
    return (
        f"canaria publishes no {namespace} metrics ({LAMBDA}, {API_GATEWAY} and the "
        "application's own namespaces only); it never fires locally"
    )


def _dimensions(raw: Any, at: Where) -> dict[str, str]:
    if raw is NO_VALUE:
        return {}
    out: dict[str, str] = {}
    for i, item in enumerate(as_list(raw, at)):
        iat = at.index(raw, i)
        dim = as_map(item, iat)
        check_keys(dim, iat, ("Name", "Value"), required=("Name", "Value"))
        name = as_str(dim["Name"], iat.key(dim, "Name"))
        if name in out:
            raise iat.error(f"dimension {name!r} is given twice")
        out[name] = as_str(dim["Value"], iat.key(dim, "Value"))
    return out


def _statistic(raw: Any, at: Where) -> tuple[str | None, str | None]:
    """(Statistic, None) or (None, a percentile); a statistic canaria does not compute
    (trimmed means, ``IQM``, ...) skips the alarm."""
    value = as_str(raw, at)
    if value in STATISTICS:
        return value, None
    if value.startswith("p"):
        _check_percentile(value, at)
        return None, value
    raise _Skip(f"canaria computes {', '.join(STATISTICS)} and percentiles (pNN), not {value!r}")


def _check_percentile(value: str, where: Where) -> None:
    try:
        parse_percentile(value)
    except ValueError as exc:
        raise where.error(str(exc), allowed="pNN, e.g. p99 or p99.9") from None


def _period(raw: Any, at: Where) -> int:
    period = as_int(raw, at, 1)
    if period not in (1, 5, 10, 20, 30) and period % 60:
        raise at.error(
            f"period {period} is not valid", allowed="1, 5, 10, 20, 30 or a multiple of 60"
        )
    return period
