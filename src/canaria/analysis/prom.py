"""Per-invocation Prometheus metrics, recorded as each invocation finishes: invocations,
errors, throttles, a duration histogram, cold starts and concurrent executions per
function, alias and version (``canaria.dashboard.prom`` exposes them on ``/metrics``)."""

from __future__ import annotations

from collections.abc import Mapping

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, ProcessCollector

from canaria.models import InvokeResult

LABELS = ("function", "alias", "version")
BUCKETS = (1, 2.5, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000, 900000)


class PromMetrics:
    """Counters fed by every invocation; children cached per (function, alias, version)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        ProcessCollector(registry=self.registry)
        r = self.registry
        self.invocations = Counter("canaria_invocations", "Invocations", LABELS, registry=r)
        self.errors = Counter(
            "canaria_errors", "Invocations that ended in an error", LABELS, registry=r
        )
        self.throttles = Counter("canaria_throttles", "Throttled invocations", LABELS, registry=r)
        self.cold_starts = Counter("canaria_cold_starts", "Cold starts", LABELS, registry=r)
        self.duration = Histogram(
            "canaria_duration_milliseconds",
            "Invocation duration",
            LABELS,
            buckets=BUCKETS,
            registry=r,
        )
        self.concurrent = Gauge(
            "canaria_concurrent_executions",
            "Invocations in flight",
            LABELS,
            registry=r,
        )
        self._children: dict[tuple[str, str, str], tuple[object, ...]] = {}

    def watch_concurrency(
        self, key: tuple[str, int, str | None], counts: Mapping[tuple[str, int, str | None], int]
    ) -> None:
        """Expose ``counts[key]`` (invocations of (function, version, alias) running now,
        as the platform counts them) as the gauge, read when scraped: the request path
        then updates one dictionary, not the gauge, twice per request."""
        function, version, alias = key
        child = self.concurrent.labels(function, alias or "", str(version))
        child.set_function(lambda: counts.get(key, 0))

    def observe(
        self,
        function: str,
        alias: str | None,
        version: int,
        result: InvokeResult | None,
        throttled: bool,
    ) -> None:
        key = (function, alias or "", str(version))
        kids = self._children.get(key)
        if kids is None:
            kids = self._children[key] = (
                self.invocations.labels(*key),
                self.errors.labels(*key),
                self.throttles.labels(*key),
                self.cold_starts.labels(*key),
                self.duration.labels(*key),
            )
        inv, err, thr, cold, dur = kids
        if throttled or result is None:
            thr.inc()  # type: ignore[attr-defined]
            return
        inv.inc()  # type: ignore[attr-defined]
        dur.observe(result.duration_ms)  # type: ignore[attr-defined]
        if result.function_error:
            err.inc()  # type: ignore[attr-defined]
        if result.cold_start:
            cold.inc()  # type: ignore[attr-defined]


__all__ = ["BUCKETS", "LABELS", "PromMetrics"]
