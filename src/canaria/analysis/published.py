"""Metrics an application publishes itself, kept per second and read back with
CloudWatch's GetMetricStatistics rules.

On AWS a function publishes custom metrics three ways, and canaria takes all three:

- **Embedded metric format** (EMF): a log line holding a JSON object with an ``_aws``
  member (AWS Lambda Powertools' ``Metrics``, the ``aws-embedded-metrics`` libraries, or a
  ``print`` of the object). ``read_emf`` reads one; the log book hands it every such line.
- **PutMetricData** through the local edge (``canaria.aws.cloudwatch_api``).
- **Metric filters** (``AWS::Logs::MetricFilter``) on a function's log group.

A metric is its namespace, name and *exact* set of dimensions, as in CloudWatch: a metric
published with ``{service}`` and one published with ``{service, function_name}`` are two
metrics, and a query or an alarm names one of them.

What is kept
    Per metric and per (virtual) second: the sample count, sum, minimum and maximum, and a
    logarithmic histogram of the values (the duration histogram of
    ``canaria.analysis.metrics``: percentiles within 1 % of a recorded value; values of at
    most 0.001, negatives included, share its lowest bin, so a percentile there reads as
    the exact minimum). Samples given as ``StatisticValues`` (count, sum, min, max) have no
    values and no place in the histogram; a percentile of a period holding only such
    samples is missing, as CloudWatch cannot compute it either.

Time
    A sample is recorded at the platform's time when it arrives (the log line's time, the
    request's time), not at the ``Timestamp`` it carries: a function reads the wall clock,
    canaria's clock may be compressed (``--time-scale``), and the alarms read canaria's.
    Every metric is kept at one-second resolution, as a high-resolution metric
    (``StorageResolution: 1``) is on AWS.

Bounds
    At most ``MAX_METRICS`` distinct metrics (a dimension holding a request id makes a new
    metric per request; CloudWatch bills them, canaria stops keeping new ones and counts
    the samples it dropped in ``dropped``). Seconds older than ``retention_s`` behind the
    newest are dropped, as ``Metrics`` does.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import orjson

from canaria.analysis.histogram import Summary
from canaria.analysis.metrics import checked_query, period_starts

__all__ = [
    "EMF_MARK",
    "MAX_METRICS",
    "EmfError",
    "MetricKey",
    "PublishedMetrics",
    "Sample",
    "metric_key",
    "read_emf",
]

MAX_METRICS = 10_000
EMF_MARK = '"_aws"'  # the cheap test a log line passes before it is parsed as EMF
EMF_MAX_VALUES = 100  # values of one metric in one EMF object
EMF_MAX_DIMENSIONS = 30  # dimensions in one dimension set

MetricKey = tuple[str, str, frozenset[tuple[str, str]]]  # namespace, name, dimensions


def metric_key(namespace: str, name: str, dimensions: Mapping[str, str]) -> MetricKey:
    return namespace, name, frozenset(dimensions.items())


@dataclass(frozen=True)
class Sample:
    """Values of one metric to record at once: ``values`` (each with its count), or
    ``statistics`` (sample count, sum, minimum, maximum) for a pre-aggregated set."""

    key: MetricKey
    values: tuple[tuple[float, int], ...] = ()
    statistics: tuple[float, float, float, float] | None = None


class PublishedMetrics:
    """The application's own metrics (see the module docstring)."""

    def __init__(self, retention_s: float = 3600.0) -> None:
        self.retention_s = retention_s
        self._series: dict[MetricKey, dict[int, Summary]] = {}
        self._lock = threading.Lock()
        self._newest = -math.inf
        self._evict_every = max(1.0, retention_s / 60.0)
        self._last_evict = -math.inf
        self.dropped = 0

    # ---- writing -----------------------------------------------------------------------

    def put(self, t: float, samples: Iterable[Sample]) -> None:
        s = math.floor(t)
        with self._lock:
            for sample in samples:
                series = self._series.get(sample.key)
                if series is None:
                    if len(self._series) >= MAX_METRICS:
                        self.dropped += 1
                        continue
                    series = self._series[sample.key] = {}
                cell = series.get(s)
                if cell is None:
                    cell = series[s] = Summary()
                for value, count in sample.values:
                    cell.add(value, count)
                if sample.statistics is not None:
                    cell.add_statistics(*sample.statistics)
            if s > self._newest:
                self._advance(s)

    def _advance(self, s: int) -> None:
        self._newest = s
        if s - self._last_evict < self._evict_every:
            return
        self._last_evict = s
        cutoff = s - self.retention_s
        for key in list(self._series):
            series = self._series[key]
            for old in [k for k in series if k < cutoff]:
                del series[old]
            if not series:
                del self._series[key]

    # ---- reading -----------------------------------------------------------------------

    def metrics(self) -> list[MetricKey]:
        """Every metric with a sample still kept, sorted."""
        with self._lock:
            return sorted(self._series, key=lambda k: (k[0], k[1], sorted(k[2])))

    def datapoints(
        self,
        namespace: str,
        metric_name: str,
        dimensions: Mapping[str, str],
        start: float,
        end: float,
        period_s: int,
        statistic: str | None,
        extended_statistic: str | None,
    ) -> list[tuple[float, float | None]]:
        """As ``Metrics.datapoints``: one ``(period_start, value)`` per period from the one
        holding ``start`` up to ``end``, ``None`` where the period has no sample."""
        q = checked_query(period_s, statistic, extended_statistic)
        p = int(period_s)
        starts = period_starts(start, end, p)
        first = starts[0] if starts else math.floor(start / p) * p
        with self._lock:
            series = dict(self._series.get(metric_key(namespace, metric_name, dimensions), {}))
        sums: dict[int, Summary] = {}
        for s, cell in _in_range(series, first, starts[-1] + p if starts else first):
            into = sums.get(ps := first + (s - first) // p * p)
            if into is None:
                into = sums[ps] = Summary()
            into.merge(cell)
        return [(float(ps), sums[ps].read(statistic, q) if ps in sums else None) for ps in starts]


def _in_range(series: Mapping[int, Summary], a: int, b: int) -> Iterator[tuple[int, Summary]]:
    if b - a <= len(series):
        return ((s, series[s]) for s in range(a, b) if s in series)
    return ((s, series[s]) for s in sorted(series) if a <= s < b)


# ---- the embedded metric format ----------------------------------------------------------


class EmfError(ValueError):
    """A line that holds an ``_aws`` member but is not a valid EMF object."""


def read_emf(text: str) -> list[Sample]:
    """The samples of an EMF log line (the JSON object may follow a prefix, as Node.js's
    ``console.log`` writes one: the object runs from the first ``{``). Rules of the
    specification ("Specification: Embedded metric format", CloudWatch User Guide):
    ``_aws.CloudWatchMetrics`` is a list of directives, each with a ``Namespace``, a list
    of ``Dimensions`` sets (each a list of at most 30 member names whose values are
    strings) and ``Metrics`` (each a ``Name`` whose member is a number or a list of at most
    100 numbers); ``_aws.Timestamp`` is required. An empty dimension set, or none, gives
    the metric without dimensions. EmfError says what is wrong; CloudWatch then extracts
    nothing from the line."""
    start = text.find("{")
    if start < 0:
        raise EmfError("no JSON object in the line")
    try:
        doc = orjson.loads(text[start:])
    except orjson.JSONDecodeError as exc:
        raise EmfError(f"not JSON: {exc}") from None
    if not isinstance(doc, dict):
        raise EmfError("not a JSON object")
    aws = doc.get("_aws")
    if not isinstance(aws, dict):
        raise EmfError("_aws must be an object")
    if not isinstance(aws.get("Timestamp"), int | float) or isinstance(aws["Timestamp"], bool):
        raise EmfError("_aws.Timestamp (milliseconds since the epoch) is required")
    directives = aws.get("CloudWatchMetrics")
    if not isinstance(directives, list):
        raise EmfError("_aws.CloudWatchMetrics must be a list")
    out: list[Sample] = []
    for i, directive in enumerate(directives):
        out.extend(_directive(doc, directive, f"_aws.CloudWatchMetrics[{i}]"))
    return out


def _directive(doc: Mapping[str, Any], directive: Any, where: str) -> list[Sample]:
    if not isinstance(directive, dict):
        raise EmfError(f"{where} must be an object")
    namespace = directive.get("Namespace")
    if not isinstance(namespace, str) or not namespace or len(namespace) > 255:
        raise EmfError(f"{where}.Namespace must be a string of 1 to 255 characters")
    if namespace.startswith("AWS/"):
        raise EmfError(f"{where}.Namespace {namespace!r}: namespaces starting AWS/ are AWS's")
    sets = directive.get("Dimensions", [])
    if not isinstance(sets, list):
        raise EmfError(f"{where}.Dimensions must be a list of lists of names")
    dimension_sets: list[dict[str, str]] = []
    for j, names in enumerate(sets):
        if not isinstance(names, list) or len(names) > EMF_MAX_DIMENSIONS:
            raise EmfError(
                f"{where}.Dimensions[{j}] must be a list of at most {EMF_MAX_DIMENSIONS} names"
            )
        dims: dict[str, str] = {}
        for name in names:
            value = doc.get(name) if isinstance(name, str) else None
            if not isinstance(value, str):
                raise EmfError(
                    f"{where}.Dimensions[{j}]: dimension {name!r} needs a string member "
                    "of that name"
                )
            dims[name] = value
        dimension_sets.append(dims)
    if not dimension_sets:
        dimension_sets.append({})
    metrics = directive.get("Metrics")
    if not isinstance(metrics, list):
        raise EmfError(f"{where}.Metrics must be a list")
    out: list[Sample] = []
    for k, metric in enumerate(metrics):
        name = metric.get("Name") if isinstance(metric, dict) else None
        if not isinstance(name, str) or not name:
            raise EmfError(f"{where}.Metrics[{k}] needs a Name")
        values = _emf_values(doc.get(name), f"{where}.Metrics[{k}] ({name})")
        for dims in dimension_sets:
            out.append(Sample(metric_key(namespace, name, dims), values))
    return out


def _emf_values(raw: Any, where: str) -> tuple[tuple[float, int], ...]:
    items = raw if isinstance(raw, list) else [raw]
    if not items or len(items) > EMF_MAX_VALUES:
        raise EmfError(f"{where}: 1 to {EMF_MAX_VALUES} values")
    out = []
    for v in items:
        if isinstance(v, bool) or not isinstance(v, int | float) or not math.isfinite(v):
            raise EmfError(f"{where}: the member of the metric's name must hold numbers")
        out.append((float(v), 1))
    return tuple(out)
