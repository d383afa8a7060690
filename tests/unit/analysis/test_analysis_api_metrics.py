"""AWS/ApiGateway metrics as API Gateway publishes them: names and dimension sets per API
kind, rates, latencies, stages, and alarms on them."""

from __future__ import annotations

import pytest

from canaria.analysis.alarms import AlarmState, evaluate
from canaria.analysis.api_metrics import ApiMetrics
from canaria.analysis.metrics import Metrics
from canaria.models import AlarmSpec


def meter() -> ApiMetrics:
    m = ApiMetrics()
    m.configure({"Shop": ("rest", "my-stack"), "Orders": ("http", "orders")})
    statuses = [200, 200, 404, 500, 502]
    for i, status in enumerate(statuses):  # one REST request a second on Prod
        m.record(float(i), "Shop", "Prod", status, 10.0 * (i + 1), 5.0 * (i + 1))
    m.record(2.5, "Shop", "Beta", 500, 1.0, None)
    m.record(3.0, "Orders", "$default", 503, 2.0, 1.0)
    return m


def one(
    m: ApiMetrics, metric: str, dims: dict[str, str], stat: str | None, ext: str | None = None
) -> float | None:
    [(_, value)] = m.datapoints(metric, dims, 0, 60, 60, stat, ext)
    return value


def test_rest_metrics_by_name_and_stage() -> None:
    m = meter()
    prod = {"ApiName": "my-stack", "Stage": "Prod"}
    assert one(m, "Count", prod, "SampleCount") == 5
    assert one(m, "Count", {"ApiName": "my-stack"}, "Sum") == 6  # every stage
    assert one(m, "5XXError", prod, "Sum") == 2
    assert one(m, "5XXError", prod, "Average") == pytest.approx(0.4)
    assert one(m, "4XXError", prod, "Sum") == 1
    assert one(m, "Latency", prod, "Maximum") == 50.0
    assert one(m, "Latency", prod, None, "p50") == pytest.approx(30.0, rel=0.01)
    assert one(m, "IntegrationLatency", prod, "Average") == pytest.approx(15.0)
    assert one(m, "IntegrationLatency", {"ApiName": "my-stack", "Stage": "Beta"}, "Sum") is None


def test_http_metrics_by_id_and_what_api_gateway_does_not_publish() -> None:
    m = meter()
    assert one(m, "5xx", {"ApiId": "orders"}, "Sum") == 1
    assert one(m, "5XXError", {"ApiId": "orders"}, "Sum") is None  # a REST API's name
    assert one(m, "5xx", {"ApiName": "my-stack"}, "Sum") is None  # an HTTP API's name
    assert one(m, "Count", {"ApiName": "Shop"}, "Sum") is None  # the logical id is no name
    assert one(m, "Count", {"ApiName": "my-stack", "Method": "GET"}, "Sum") is None


def test_an_alarm_on_the_api_s_5xx_rate() -> None:
    spec = AlarmSpec(
        name="api",
        metric_name="5XXError",
        dimensions={"ApiName": "my-stack", "Stage": "Prod"},
        period_s=60,
        evaluation_periods=1,
        threshold=0.25,
        comparison_operator="GreaterThanThreshold",
        statistic="Average",
        namespace="AWS/ApiGateway",
    )
    ev = evaluate(spec, Metrics(), 120.0, AlarmState.OK, apis=meter())
    assert ev.state is AlarmState.ALARM
    assert "5XXError Average per 60 s" in ev.reason
    without = evaluate(spec, Metrics(), 120.0, AlarmState.OK)
    assert without.state is AlarmState.INSUFFICIENT_DATA
