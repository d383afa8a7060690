"""The application's own metrics: the embedded metric format, statistics read back, and
alarms on them and on metric math."""

from __future__ import annotations

import dataclasses
import json

import pytest

from canaria.analysis.alarms import AlarmState, evaluate
from canaria.analysis.log_metrics import LogMetrics
from canaria.analysis.metrics import Metrics
from canaria.analysis.published import (
    MAX_METRICS,
    EmfError,
    PublishedMetrics,
    Sample,
    metric_key,
    read_emf,
)
from canaria.logbook import LogBook, LogEntry
from canaria.models import (
    AlarmSpec,
    MetricFilterSpec,
    MetricQuerySpec,
    MetricStatSpec,
    MetricTransformationSpec,
)

# the example of the specification ("Specification: Embedded metric format")
SPEC_EXAMPLE = {
    "_aws": {
        "Timestamp": 1574109732004,
        "CloudWatchMetrics": [
            {
                "Namespace": "lambda-function-metrics",
                "Dimensions": [["functionVersion"]],
                "Metrics": [{"Name": "time", "Unit": "Milliseconds", "StorageResolution": 60}],
            }
        ],
    },
    "functionVersion": "$LATEST",
    "time": 100,
    "requestId": "989ffbf8-9ace-4817-a57c-e4dd734019ee",
}
# what AWS Lambda Powertools for Python prints for metrics.add_metric(...) in a service
POWERTOOLS = {
    "_aws": {
        "Timestamp": 1700000000000,
        "CloudWatchMetrics": [
            {
                "Namespace": "Orders",
                "Dimensions": [["service"]],
                "Metrics": [{"Name": "OrderFailed", "Unit": "Count"}],
            }
        ],
    },
    "service": "orders",
    "OrderFailed": [1.0, 1.0],
}


def test_the_specification_example() -> None:
    [sample] = read_emf(json.dumps(SPEC_EXAMPLE))
    assert sample == Sample(
        metric_key("lambda-function-metrics", "time", {"functionVersion": "$LATEST"}),
        ((100.0, 1),),
    )


def test_a_prefixed_line_and_value_lists() -> None:
    line = "2024-01-01T00:00:00.000Z\trequest\tINFO\t" + json.dumps(POWERTOOLS)
    [sample] = read_emf(line)
    assert sample.key == metric_key("Orders", "OrderFailed", {"service": "orders"})
    assert sample.values == ((1.0, 1), (1.0, 1))


def test_several_dimension_sets_give_several_metrics() -> None:
    doc = dict(SPEC_EXAMPLE, region="eu")
    doc["_aws"] = {
        "Timestamp": 1,
        "CloudWatchMetrics": [
            {
                "Namespace": "N",
                "Dimensions": [["functionVersion"], ["functionVersion", "region"], []],
                "Metrics": [{"Name": "time"}],
            }
        ],
    }
    keys = [s.key for s in read_emf(json.dumps(doc))]
    assert keys == [
        metric_key("N", "time", {"functionVersion": "$LATEST"}),
        metric_key("N", "time", {"functionVersion": "$LATEST", "region": "eu"}),
        metric_key("N", "time", {}),
    ]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"_aws": {"CloudWatchMetrics": []}}, "_aws.Timestamp"),
        ({"time": "fast"}, "must hold numbers"),
        ({"functionVersion": 3}, "dimension 'functionVersion' needs a string member"),
        ({"time": list(range(101))}, "1 to 100 values"),
    ],
)
def test_invalid_objects_are_refused(change: dict[str, object], message: str) -> None:
    with pytest.raises(EmfError) as info:
        read_emf(json.dumps({**SPEC_EXAMPLE, **change}))
    assert message in str(info.value)


def test_aws_namespaces_are_refused() -> None:
    doc = json.loads(json.dumps(SPEC_EXAMPLE))
    doc["_aws"]["CloudWatchMetrics"][0]["Namespace"] = "AWS/Lambda"
    with pytest.raises(EmfError, match="AWS's"):
        read_emf(json.dumps(doc))


def test_statistics_read_back_per_period() -> None:
    m = PublishedMetrics()
    key = metric_key("App", "Latency", {"service": "s"})
    for t, v in [(0.5, 10.0), (1.2, 30.0), (61.0, 5.0)]:
        m.put(t, [Sample(key, ((v, 1),))])
    m.put(2.0, [Sample(key, statistics=(2.0, 100.0, 40.0, 60.0))])

    def read(stat: str | None, ext: str | None = None) -> list[tuple[float, float | None]]:
        return m.datapoints("App", "Latency", {"service": "s"}, 0, 180, 60, stat, ext)

    assert read("Sum") == [(0.0, 140.0), (60.0, 5.0), (120.0, None)]
    assert read("SampleCount")[0] == (0.0, 4.0)
    assert read("Average")[0] == (0.0, 35.0)
    assert read("Minimum")[0] == (0.0, 10.0)
    assert read("Maximum")[0] == (0.0, 60.0)
    # percentiles rest on the values, not on the pre-aggregated set
    assert read(None, "p50")[0][1] == pytest.approx(10.0, rel=0.01)
    assert read(None, "p100")[0][1] == 60.0
    # a metric is its exact set of dimensions
    assert m.datapoints("App", "Latency", {}, 0, 60, 60, "Sum", None) == [(0.0, None)]


def test_new_metrics_beyond_the_limit_are_dropped_and_counted() -> None:
    m = PublishedMetrics()
    m.put(
        0,
        [Sample(metric_key("N", "x", {"id": str(i)}), ((1.0, 1),)) for i in range(MAX_METRICS + 5)],
    )
    assert m.dropped == 5
    assert len(m.metrics()) == MAX_METRICS


def test_old_seconds_are_dropped() -> None:
    m = PublishedMetrics(retention_s=120)
    key = metric_key("N", "x", {})
    m.put(0, [Sample(key, ((1.0, 1),))])
    m.put(1000, [Sample(key, ((2.0, 1),))])
    assert m.datapoints("N", "x", {}, 0, 60, 60, "Sum", None) == [(0.0, None)]


def _alarm(**kw: object) -> AlarmSpec:
    base: dict[str, object] = {
        "name": "a",
        "metric_name": "OrderFailed",
        "dimensions": {"service": "orders"},
        "period_s": 60,
        "evaluation_periods": 1,
        "threshold": 0,
        "comparison_operator": "GreaterThanThreshold",
        "statistic": "Sum",
        "namespace": "Orders",
    }
    return AlarmSpec(**{**base, **kw})  # type: ignore[arg-type]


def test_an_alarm_on_an_emf_metric_read_from_the_log_book() -> None:
    published = PublishedMetrics()
    reader = LogMetrics(published)
    book = LogBook(None)
    book.tap(reader.read, reader.functions, '"_aws"')
    book.add("Orders", 1, "r1", 10.0, "stdout", json.dumps(POWERTOOLS))
    book.add("Orders", 1, "r1", 10.0, "stdout", '{"_aws": "not an object"}')
    assert reader.rejected == {"Orders": (1, "_aws must be an object")}
    ev = evaluate(_alarm(), Metrics(), 120.0, AlarmState.OK, published=published)
    assert ev.state is AlarmState.ALARM
    assert "OrderFailed Sum per 60 s" in ev.reason
    # without the application's metrics the same alarm has no data
    quiet = evaluate(_alarm(), Metrics(), 120.0, AlarmState.OK)
    assert quiet.state is AlarmState.INSUFFICIENT_DATA


def test_a_metric_filter_publishes_matches_and_its_default() -> None:
    published = PublishedMetrics()
    reader = LogMetrics(published)
    reader.configure(
        [
            MetricFilterSpec(
                "Failures",
                "Orders",
                '{ $.level = "ERROR" }',
                (MetricTransformationSpec("App", "Failures", "1", default_value=0.0),),
            ),
            MetricFilterSpec(
                "Latency",
                "Orders",
                "{ $.latency > 0 }",
                (
                    MetricTransformationSpec(
                        "App", "Latency", "$.latency", dimensions={"op": "$.op"}
                    ),
                ),
            ),
        ]
    )
    assert reader.functions == {"Orders"}
    book = LogBook(None)
    book.tap(reader.read, reader.functions, '"_aws"')
    book.add("Orders", 1, "r", 0.1, "stdout", '{"level": "INFO", "latency": 12, "op": "get"}')
    book.add("Orders", 1, "r", 0.2, "stdout", "START RequestId: r")  # default already given
    book.add("Orders", 1, "r", 1.5, "stdout", '{"level": "ERROR", "latency": 30, "op": "put"}')
    book.add("Other", 1, "r", 1.5, "stdout", '{"level": "ERROR"}')  # another log group
    sums = published.datapoints("App", "Failures", {}, 0, 2, 1, "Sum", None)
    assert sums == [(0.0, 0.0), (1.0, 1.0)]
    assert published.datapoints("App", "Latency", {"op": "put"}, 0, 2, 2, "Maximum", None) == [
        (0.0, 30.0)
    ]


def test_a_metric_math_alarm_on_the_error_rate() -> None:
    metrics = Metrics()
    for i in range(10):  # 10 invocations in the first minute, 3 of them errors
        metrics.record(5.0 + i, "fn", 2, "live", duration_ms=3.0, error=i < 3)
    lam = {"FunctionName": "fn", "Resource": "fn:live"}
    queries = (
        MetricQuerySpec("rate", expression="100 * errors / invocations", label="Error rate"),
        MetricQuerySpec(
            "errors", MetricStatSpec("AWS/Lambda", "Errors", lam, 60, "Sum"), return_data=False
        ),
        MetricQuerySpec(
            "invocations",
            MetricStatSpec("AWS/Lambda", "Invocations", lam, 60, "Sum"),
            return_data=False,
        ),
    )
    spec = _alarm(
        metric_name="", dimensions={}, namespace="", statistic=None, queries=queries, threshold=25
    )
    ev = evaluate(spec, metrics, 120.0, AlarmState.OK)
    assert ev.state is AlarmState.ALARM
    assert [v for v in ev.datapoints if v is not None] == pytest.approx([30.0])
    assert "Error rate per 60 s" in ev.reason
    calm = evaluate(dataclass_replace(spec, threshold=35), metrics, 120.0, AlarmState.OK)
    assert calm.state is AlarmState.OK


def test_a_line_of_other_entries_is_not_read() -> None:
    seen: list[LogEntry] = []
    book = LogBook(None)
    book.tap(seen.append, {"A"}, '"_aws"')
    book.add("B", 1, "r", 0.0, "stdout", "plain")
    book.add("B", 1, "r", 0.0, "stdout", '{"_aws": {}}')
    book.add("A", 1, "r", 0.0, "stdout", "plain")
    assert [(e.function, e.text) for e in seen] == [("B", '{"_aws": {}}'), ("A", "plain")]


def dataclass_replace(spec: AlarmSpec, **kw: object) -> AlarmSpec:
    return dataclasses.replace(spec, **kw)  # type: ignore[arg-type]
