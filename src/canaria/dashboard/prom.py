"""Prometheus exposition on ``GET /metrics`` (the maintained client library).

Per function, alias and version: invocations, errors, throttles, a duration histogram,
cold starts, concurrent executions; per deployment: phase, current weight, judge
evidence; and the process collector's CPU/memory/file descriptors.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Protocol

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from canaria.analysis.prom import PromMetrics
from canaria.control.routes import authorized, error
from canaria.controller.signals import LocalSignals
from canaria.store import Store


class ConcurrencySource(Protocol):
    def concurrent_executions(self) -> int: ...


class MetricsSource(Protocol):
    """What ``/metrics`` reads; ``canaria.platform.Platform`` is one."""

    @property
    def token(self) -> str: ...
    @property
    def prom(self) -> PromMetrics: ...
    @property
    def store(self) -> Store: ...
    @property
    def signals(self) -> LocalSignals: ...
    @property
    def runtimes(self) -> Mapping[str, ConcurrencySource]: ...


class StateCollector(Collector):
    """Gauges read from the platform at scrape time: concurrency and deployments."""

    def __init__(self, platform: MetricsSource) -> None:
        self.platform = platform

    def collect(self) -> Iterator[GaugeMetricFamily]:
        p = self.platform
        conc = GaugeMetricFamily(
            "canaria_function_concurrent_executions",
            "Execution environments of the function busy now",
            labels=["function"],
        )
        for name, rt in p.runtimes.items():
            conc.add_metric([name], rt.concurrent_executions())
        yield conc
        weight = GaugeMetricFamily(
            "canaria_alias_weight",
            "Share of an alias's traffic",
            labels=["function", "alias", "version"],
        )
        for a in p.store.aliases():
            for v, w in a.weights().items():
                weight.add_metric([a.function, a.name, str(v)], w)
        yield weight
        phase = GaugeMetricFamily(
            "canaria_deployment_phase",
            "1 for the phase each active deployment is in",
            labels=["deployment", "phase"],
        )
        dweight = GaugeMetricFamily(
            "canaria_deployment_weight", "Weight of the new version", labels=["deployment"]
        )
        evidence = GaugeMetricFamily(
            "canaria_judge_evidence", "Judge e-value per metric", labels=["deployment", "metric"]
        )
        detectable = GaugeMetricFamily(
            "canaria_judge_detectable_rate",
            "Smallest canary failure rate the judge would have caught so far",
            labels=["deployment"],
        )
        threshold = GaugeMetricFamily(
            "canaria_judge_threshold", "Judge rollback threshold", labels=["deployment"]
        )
        for d in p.store.deployments(active_only=True):
            phase.add_metric([d.id, d.state.value], 1)
            dweight.add_metric([d.id], d.current_weight)
            for metric, value in d.judge.progress.evidence.items():
                evidence.add_metric([d.id, metric], float(value))
            if d.judge.progress.threshold is not None:
                threshold.add_metric([d.id], d.judge.progress.threshold)
            if d.judge.progress.evidence:  # 1.0 also when not even 100 % is detectable yet
                rate = d.judge.progress.detectable
                detectable.add_metric([d.id], 1.0 if rate is None else rate)
        yield phase
        yield dweight
        yield evidence
        yield threshold
        yield detectable
        alarms = GaugeMetricFamily(
            "canaria_alarm_state", "1 when the alarm is in ALARM", labels=["alarm"]
        )
        for name, view in p.signals.alarm_states_view().items():
            alarms.add_metric([name], 1.0 if view["state"] == "ALARM" else 0.0)
        yield alarms


def metrics_routes(platform: MetricsSource) -> list[BaseRoute]:
    platform.prom.registry.register(StateCollector(platform))

    async def metrics(request: Request) -> Response:
        if not authorized(request, platform.token):
            return error(401, "Unauthorized", "pass `Authorization: Bearer <token>`")
        return Response(generate_latest(platform.prom.registry), media_type=CONTENT_TYPE_LATEST)

    return [Route("/metrics", metrics, methods=["GET"])]


__all__ = [
    "ConcurrencySource",
    "MetricsSource",
    "PromMetrics",
    "StateCollector",
    "metrics_routes",
]
