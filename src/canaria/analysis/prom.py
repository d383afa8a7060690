"""Per-invocation Prometheus metrics, recorded as each invocation finishes: invocations,
errors, throttles, a duration histogram, cold starts and concurrent executions per
function, alias and version (``canaria.dashboard.prom`` exposes them on ``/metrics``).

An invocation adds to plain totals (``_Totals``: integers and a bucket list, no lock) that
a collector turns into the counter and histogram families when ``/metrics`` is scraped,
as the client library's own collectors do for process metrics. Its ``Counter`` and
``Histogram`` take a lock and a few calls per update: four updates per request cost more
than everything else this module does.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Iterator, Mapping

from prometheus_client import CollectorRegistry, Gauge, ProcessCollector
from prometheus_client.core import CounterMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector

from canaria.models import InvokeResult

LABELS = ("function", "alias", "version")
BUCKETS = (1, 2.5, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000, 900000)

Key = tuple[str, str | None, int]  # (function, alias, version)


class _Totals:
    """Everything one (function, alias, version) has recorded since the start."""

    __slots__ = ("buckets", "cold_starts", "duration_sum", "errors", "invocations", "throttles")

    def __init__(self) -> None:
        self.invocations = 0
        self.errors = 0
        self.throttles = 0
        self.cold_starts = 0
        self.duration_sum = 0.0
        self.buckets = [0] * (len(BUCKETS) + 1)  # per bucket, not cumulative; the last: +Inf


class _TotalsCollector(Collector):
    """The counters and the histogram, built from the totals when scraped."""

    def __init__(self, totals: Mapping[Key, _Totals]) -> None:
        self._totals = totals

    def describe(self) -> Iterator[Metric]:
        return self._families(())

    def collect(self) -> Iterator[Metric]:
        return self._families(list(self._totals.items()))

    def _families(self, rows: list[tuple[Key, _Totals]] | tuple[()]) -> Iterator[Metric]:
        labels = list(LABELS)
        counters = {
            "invocations": CounterMetricFamily("canaria_invocations", "Invocations", labels=labels),
            "errors": CounterMetricFamily(
                "canaria_errors", "Invocations that ended in an error", labels=labels
            ),
            "throttles": CounterMetricFamily(
                "canaria_throttles", "Throttled invocations", labels=labels
            ),
            "cold_starts": CounterMetricFamily("canaria_cold_starts", "Cold starts", labels=labels),
        }
        duration = HistogramMetricFamily(
            "canaria_duration_milliseconds", "Invocation duration", labels=labels
        )
        bounds = [*(str(float(b)) for b in BUCKETS), "+Inf"]
        for (function, alias, version), t in rows:
            values = [function, alias or "", str(version)]
            for field, family in counters.items():
                family.add_metric(values, getattr(t, field))
            cumulative, running = [], 0
            for bound, n in zip(bounds, t.buckets, strict=True):
                running += n
                cumulative.append((bound, running))
            duration.add_metric(values, cumulative, t.duration_sum)
        yield from counters.values()
        yield duration


class PromMetrics:
    """The registry ``/metrics`` exposes, fed by every invocation."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        ProcessCollector(registry=self.registry)
        self._totals: dict[Key, _Totals] = {}
        self.registry.register(_TotalsCollector(self._totals))
        self.concurrent = Gauge(
            "canaria_concurrent_executions",
            "Invocations in flight",
            LABELS,
            registry=self.registry,
        )

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
        key = (function, alias, version)
        t = self._totals.get(key)
        if t is None:
            t = self._totals[key] = _Totals()
        if throttled or result is None:
            t.throttles += 1
            return
        t.invocations += 1
        duration = result.duration_ms
        t.duration_sum += duration
        t.buckets[bisect_left(BUCKETS, duration)] += 1
        if result.function_error:
            t.errors += 1
        if result.cold_start:
            t.cold_starts += 1


__all__ = ["BUCKETS", "LABELS", "PromMetrics"]
