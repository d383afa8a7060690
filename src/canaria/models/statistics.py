"""CloudWatch's extended statistics, as alarms and the judge's settings name them."""

from __future__ import annotations

__all__ = ["parse_percentile"]


def parse_percentile(extended_statistic: str) -> float:
    """``"p99"`` → 99.0, ``"p99.9"`` → 99.9; ValueError for anything else."""
    s = extended_statistic.strip()
    if len(s) < 2 or s[0] not in "pP":
        raise ValueError(
            f"unsupported extended statistic {extended_statistic!r} "
            "(canaria supports percentiles pNN, e.g. p99 or p99.9)"
        )
    try:
        q = float(s[1:])
    except ValueError:
        raise ValueError(f"unsupported extended statistic {extended_statistic!r}") from None
    if not 0.0 <= q <= 100.0:
        raise ValueError(f"percentile out of range in {extended_statistic!r}")
    return q
