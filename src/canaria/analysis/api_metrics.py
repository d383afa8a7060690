"""``AWS/ApiGateway`` metrics of the APIs the gateway serves, per second, read back with
CloudWatch's GetMetricStatistics rules.

Source: API Gateway Developer Guide, "Amazon API Gateway dimensions and metrics" (REST
APIs) and "Monitor CloudWatch metrics for HTTP APIs".

What each request publishes (``record``, on the request path: one bucket, a few additions)
    REST APIs: ``Count`` (1), ``4XXError`` and ``5XXError`` (0 or 1, so ``Average`` is the
    rate), ``Latency`` (ms, the request through the gateway), ``IntegrationLatency`` (ms,
    the backend's part, when there is a backend). HTTP APIs: the same under the names
    ``Count``, ``4xx``, ``5xx``, ``Latency``, ``IntegrationLatency``.

Dimensions (what API Gateway publishes without detailed metrics)
    REST: ``{ApiName}`` and ``{ApiName, Stage}``: ``ApiName`` is the API's name (SAM's
    default is the stack name). HTTP: ``{ApiId}`` and ``{ApiId, Stage}``. Any other set
    matches nothing, as a CloudWatch query for what nobody publishes returns nothing.

Times are virtual seconds (the platform clock); buckets older than ``retention_s`` behind
the newest are dropped, as ``Metrics`` drops its own.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Literal

from canaria.analysis.histogram import Summary
from canaria.analysis.metrics import binary_stat, checked_query, period_starts

__all__ = ["HTTP_METRICS", "REST_METRICS", "ApiMetrics"]

REST_METRICS = ("Count", "4XXError", "5XXError", "Latency", "IntegrationLatency")
HTTP_METRICS = ("Count", "4xx", "5xx", "Latency", "IntegrationLatency")
Key = tuple[str, str]  # the API's logical id, its stage


class _Bucket:
    __slots__ = ("client", "count", "integration", "latency", "server")

    def __init__(self) -> None:
        self.count = 0
        self.client = 0
        self.server = 0
        self.latency = Summary()
        self.integration = Summary()


class ApiMetrics:
    """The served APIs' AWS/ApiGateway metrics (see the module docstring)."""

    def __init__(self, retention_s: float = 3600.0) -> None:
        self.retention_s = retention_s
        self._secs: dict[int, dict[Key, _Bucket]] = {}
        # logical id -> ("rest", ApiName) or ("http", ApiId)
        self._apis: dict[str, tuple[Literal["rest", "http"], str]] = {}
        self._newest = -math.inf
        self._evict_every = max(1.0, retention_s / 60.0)
        self._last_evict = -math.inf

    def configure(self, apis: Mapping[str, tuple[Literal["rest", "http"], str]]) -> None:
        """The application's APIs: logical id -> (kind, the ApiName or ApiId it publishes
        metrics by)."""
        self._apis = dict(apis)

    def record(
        self,
        t: float,
        api: str,
        stage: str,
        status: int,
        latency_ms: float,
        integration_ms: float | None,
    ) -> None:
        """One answered request of ``api`` (a logical id) at ``stage``."""
        s = int(t)
        sec = self._secs.get(s)
        if sec is None:
            sec = self._secs[s] = {}
            if s > self._newest:
                self._advance(s)
        bucket = sec.get((api, stage))
        if bucket is None:
            bucket = sec[(api, stage)] = _Bucket()
        bucket.count += 1
        if 400 <= status < 500:
            bucket.client += 1
        elif status >= 500:
            bucket.server += 1
        bucket.latency.add(latency_ms)
        if integration_ms is not None:
            bucket.integration.add(integration_ms)

    def _advance(self, s: int) -> None:
        self._newest = s
        if s - self._last_evict >= self._evict_every:
            self._last_evict = s
            for old in [k for k in self._secs if k < s - self.retention_s]:
                del self._secs[old]

    def datapoints(
        self,
        metric_name: str,
        dimensions: Mapping[str, str],
        start: float,
        end: float,
        period_s: int,
        statistic: str | None,
        extended_statistic: str | None,
    ) -> list[tuple[float, float | None]]:
        """As ``Metrics.datapoints``, for an AWS/ApiGateway metric."""
        q = checked_query(period_s, statistic, extended_statistic)
        p = int(period_s)
        starts = period_starts(start, end, p)
        first = starts[0] if starts else math.floor(start / p) * p
        wanted = self._matching(metric_name, dimensions)
        sums = {ps: _Bucket() for ps in starts}
        if wanted and starts:
            for s in [s for s in self._secs if first <= s < starts[-1] + p]:
                into = sums[first + (s - first) // p * p]
                for key, b in self._secs[s].items():
                    if key in wanted or (key[0], "*") in wanted:
                        into.count += b.count
                        into.client += b.client
                        into.server += b.server
                        into.latency.merge(b.latency)
                        into.integration.merge(b.integration)
        return [(float(ps), _value(metric_name, sums[ps], statistic, q)) for ps in starts]

    def _matching(self, metric: str, dimensions: Mapping[str, str]) -> set[Key]:
        """The (api, stage) keys a metric and dimension set select ("*": every stage)."""
        names = set(dimensions)
        stage = dimensions.get("Stage", "*")
        out: set[Key] = set()
        for logical, (kind, label) in self._apis.items():
            by, metrics = ("ApiName", REST_METRICS) if kind == "rest" else ("ApiId", HTTP_METRICS)
            selected = names in ({by}, {by, "Stage"}) and dimensions[by] == label
            if metric in metrics and selected:
                out.add((logical, stage))
        return out


def _value(metric: str, b: _Bucket, statistic: str | None, q: float | None) -> float | None:
    n = b.count
    match metric:
        case "Count":
            if n == 0:
                return None
            return float(n) if statistic in ("Sum", "SampleCount") else 1.0
        case "4XXError" | "4xx":
            return binary_stat(b.client, n, statistic, q) if n else None
        case "5XXError" | "5xx":
            return binary_stat(b.server, n, statistic, q) if n else None
        case _:
            return (b.latency if metric == "Latency" else b.integration).read(statistic, q)
