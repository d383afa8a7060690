"""The logarithmic histogram canaria keeps durations and published values in.

In the manner of DDSketch: bin ``i`` holds values in ``(γ^(i-1), γ^i]`` with
``γ = 1.01 / 0.99`` and is read back as ``2γ^i / (γ + 1)``, so every percentile read from
it is within **1 % relative error** of a value really recorded at that rank. Values of at
most 0.001 share one bin read back as 0 (the exact minimum and maximum, kept beside the
histogram, clamp what is read). Bins are a sparse ``dict`` of counts.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

__all__ = [
    "DURATION_RELATIVE_ERROR",
    "Summary",
    "bin_value",
    "duration_bin",
    "hist_percentile",
    "merge_histogram",
]

DURATION_RELATIVE_ERROR = 0.01
_GAMMA = (1.0 + DURATION_RELATIVE_ERROR) / (1.0 - DURATION_RELATIVE_ERROR)
_LOG_GAMMA = math.log(_GAMMA)
_MIN_MS = 1e-3
_ZERO_BIN = -(1 << 30)


def duration_bin(ms: float) -> int:
    """The bin a value (a duration in ms, or any value) falls in; bins are ordered like
    values."""
    if ms <= _MIN_MS:
        return _ZERO_BIN
    return math.ceil(math.log(ms) / _LOG_GAMMA)


def bin_value(i: int) -> float:
    if i == _ZERO_BIN:
        return 0.0
    return 2.0 * _GAMMA**i / (_GAMMA + 1.0)


def merge_histogram(into: dict[int, int], h: Mapping[int, int]) -> None:
    for i, n in h.items():
        into[i] = into.get(i, 0) + n


def hist_percentile(hist: Mapping[int, int], n: int, q: float, lo: float, hi: float) -> float:
    """Nearest-rank percentile (the smallest value with at least q % of samples at or
    below it), read from the histogram and clamped to the exact [min, max]."""
    if q >= 100.0:
        return hi
    rank = max(1, math.ceil(q / 100.0 * n))
    seen = 0
    for i in sorted(hist):
        seen += hist[i]
        if seen >= rank:
            return min(max(bin_value(i), lo), hi)
    return hi


class Summary:
    """Samples summed: count, sum, minimum, maximum and the histogram, read back with
    CloudWatch's statistics. Samples given as pre-aggregated statistics (``add_statistics``:
    PutMetricData's ``StatisticValues``) have no values, so no place in the histogram:
    percentiles rest on the ``plain`` samples only, and are missing when there are none."""

    __slots__ = ("count", "hist", "max", "min", "plain", "sum")

    def __init__(self) -> None:
        self.count = 0.0
        self.sum = 0.0
        self.min = math.inf
        self.max = -math.inf
        self.hist: dict[int, int] = {}
        self.plain = 0  # samples that are in the histogram

    def add(self, value: float, count: int = 1) -> None:
        self.count += count
        self.sum += value * count
        if value < self.min:
            self.min = value
        if value > self.max:
            self.max = value
        i = duration_bin(value)
        self.hist[i] = self.hist.get(i, 0) + count
        self.plain += count

    def add_statistics(self, count: float, total: float, low: float, high: float) -> None:
        self.count += count
        self.sum += total
        self.min = min(self.min, low)
        self.max = max(self.max, high)

    def merge(self, other: Summary) -> None:
        self.count += other.count
        self.sum += other.sum
        self.min = min(self.min, other.min)
        self.max = max(self.max, other.max)
        self.plain += other.plain
        merge_histogram(self.hist, other.hist)

    def read(self, statistic: str | None, q: float | None) -> float | None:
        """``statistic`` (Sum, SampleCount, Average, Minimum, Maximum), or the percentile
        ``q`` when given; None without samples."""
        if self.count <= 0:
            return None
        if q is not None:
            if self.plain == 0:
                return None
            return hist_percentile(self.hist, self.plain, q, self.min, self.max)
        match statistic:
            case "Sum":
                return self.sum
            case "SampleCount":
                return self.count
            case "Average":
                return self.sum / self.count
            case "Minimum":
                return self.min
            case _:
                return self.max
