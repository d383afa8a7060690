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
