"""Metrics read from the functions' log lines, as CloudWatch Logs reads a log group's
events: embedded-metric-format objects, and the template's metric filters.

``LogMetrics.read`` is the log book's tap (``LogBook.tap``): it is handed every line of a
function whose log group has a metric filter and every other line holding ``EMF_MARK``.

Metric filters (``AWS::Logs::MetricFilter``)
    Each line of the filter's log group is matched against its pattern
    (``canaria.analysis.filter_patterns``). A matching line publishes each transformation's
    ``MetricValue``: a number, or a ``$.field`` / ``$field`` selector of the matched event
    (a value that is not a number publishes nothing, as CloudWatch does), with the
    transformation's ``Dimensions`` read the same way (an event without one of them
    publishes nothing). ``DefaultValue`` is published when a line does not match, at most
    once per second and only in a second without a match: CloudWatch reports it for
    ingested batches without a match, and a second is the nearest thing here.

EMF lines that are not valid publish nothing and are counted per function in
``rejected`` with the last reason, as CloudWatch Logs keeps the line and drops the
metrics.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from canaria.analysis import filter_patterns
from canaria.analysis.published import (
    EMF_MARK,
    EmfError,
    PublishedMetrics,
    Sample,
    metric_key,
    read_emf,
)
from canaria.logbook import LogEntry
from canaria.models import MetricFilterSpec

__all__ = ["EMF_MARK", "LogMetrics"]


@dataclass(frozen=True)
class _Filter:
    spec: MetricFilterSpec
    pattern: filter_patterns.Pattern


class LogMetrics:
    """The log book's reader of metrics (see the module docstring)."""

    def __init__(self, published: PublishedMetrics) -> None:
        self.published = published
        self._filters: dict[str, list[_Filter]] = {}  # function -> its log group's filters
        self._defaulted: dict[str, int] = {}  # filter -> second its default was published
        self._matched: dict[str, int] = {}  # filter -> second it last matched
        self.rejected: dict[str, tuple[int, str]] = {}  # function -> (count, last reason)

    def configure(self, filters: Sequence[MetricFilterSpec]) -> None:
        """Use ``filters`` from now on (a new template's)."""
        by_function: dict[str, list[_Filter]] = {}
        for spec in filters:
            pattern = filter_patterns.parse(spec.pattern)
            by_function.setdefault(spec.function, []).append(_Filter(spec, pattern))
        self._filters = by_function

    @property
    def functions(self) -> frozenset[str]:
        """The functions whose every line is read (their log group has a metric filter)."""
        return frozenset(self._filters)

    def read(self, entry: LogEntry) -> None:
        if entry.stream != "platform" and EMF_MARK in entry.text:
            try:
                samples = read_emf(entry.text)
            except EmfError as exc:
                count, _ = self.rejected.get(entry.function, (0, ""))
                self.rejected[entry.function] = (count + 1, str(exc))
            else:
                self.published.put(entry.time, samples)
        for f in self._filters.get(entry.function, ()):
            self._apply(f, entry)

    def _apply(self, f: _Filter, entry: LogEntry) -> None:
        second = math.floor(entry.time)
        name = f.spec.logical_id
        match = f.pattern.match(entry.text)
        samples: list[Sample] = []
        if match is None:
            if self._matched.get(name) == second or self._defaulted.get(name) == second:
                return
            for t in f.spec.transformations:
                if t.default_value is not None:
                    key = metric_key(t.namespace, t.name, {})
                    samples.append(Sample(key, ((t.default_value, 1),)))
            if samples:
                self._defaulted[name] = second
                self.published.put(entry.time, samples)
            return
        self._matched[name] = second
        for t in f.spec.transformations:
            value = _number(t.value, match)
            dims = _dimensions(t.dimensions, match)
            if value is not None and dims is not None:
                samples.append(Sample(metric_key(t.namespace, t.name, dims), ((value, 1),)))
        self.published.put(entry.time, samples)


def _number(selector: str, match: filter_patterns.Match) -> float | None:
    if not selector.startswith("$"):
        return float(selector)  # checked when the template was read
    value = match.value(selector)
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, str):
        try:
            value = float(value)
        except ValueError:
            return None
    return value if math.isfinite(value) else None


def _dimensions(
    selectors: Mapping[str, str], match: filter_patterns.Match
) -> dict[str, str] | None:
    out: dict[str, str] = {}
    for name, selector in selectors.items():
        value = match.value(selector)
        if value is None:
            return None
        out[name] = (
            value
            if isinstance(value, str)
            else f"{value:g}"
            if isinstance(value, float)
            else str(value)
        )
    return out
