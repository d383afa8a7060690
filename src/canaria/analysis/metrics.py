"""Per-second metrics, kept in memory, read back with CloudWatch's GetMetricStatistics rules.

One bucket per (virtual) second and per ``(function, version, alias)`` holds the counts
(invocations, errors, throttles, timeouts, cold starts), the exact sum / min / max of
durations and a duration histogram. ``record`` touches one bucket: O(1).

Duration histogram
    A fixed logarithmic histogram in the manner of DDSketch: bin ``i`` holds durations in
    ``(γ^(i-1), γ^i]`` milliseconds with ``γ = 1.01 / 0.99`` and is read back as
    ``2γ^i / (γ + 1)``, so every percentile is within **1 % relative error** of a
    duration that was really recorded at that rank. Durations of at most 1 µs (0.001 ms)
    share one bin read back as 0. Bins are a sparse ``dict``; a second with a few hundred
    invocations rarely fills more than a few dozen. Cold-start durations are also kept
    apart, so the judge can leave them out of its "slow" count.

Metrics, as AWS/Lambda publishes them (each request publishes one sample per metric)
    - ``Invocations``: one sample of value 1 per invocation (throttled requests are not
      invocations).
    - ``Errors``: one sample (0 or 1) per invocation, so ``Average`` is the error rate. An
      error counts in both ``Invocations`` and ``Errors``.
    - ``Throttles``: one sample (0 or 1) per request, invoked or throttled.
    - ``Duration``: one sample per invocation, in ms. ``Average``, ``Minimum``,
      ``Maximum``, ``Sum`` are exact; ``pNN`` (``p99``, ``p99.9``) use the histogram.
    - ``ConcurrentExecutions``: the samples given to ``record_concurrency``; read it with
      ``Maximum`` (as AWS recommends), ``Minimum``, ``Average``, ``Sum``, ``SampleCount``.

    A period without samples has no datapoint (``None``): Lambda publishes nothing for a
    minute without invocations, so ``Errors`` ``Sum`` of an idle period is missing, not 0.

Dimensions (the four sets Lambda publishes)
    ``{FunctionName}``; ``{FunctionName, Resource}`` with ``Resource`` = ``"fn:alias"``
    (requests made through that alias), ``"fn:N"`` (made on version N directly) or
    ``"fn"`` / ``"fn:$LATEST"`` (made without an alias); ``{FunctionName, Resource,
    ExecutedVersion}``; ``{FunctionName, ExecutedVersion}``. Any other set matches nothing,
    as a CloudWatch query for a metric nobody publishes returns no datapoints. canaria
    records direct invocations of ``$LATEST`` and of a numbered version alike (alias
    ``None``), so ``"fn:N"`` and ``"fn"`` both see them.

Listeners
    Objects in ``Metrics.listeners`` (``RequestListener``) hear of every request as it
    happens: ``started`` when an invocation goes in flight (``record_concurrency`` rising)
    and ``finished`` with each ``record``. The judge counts the canary's results this way
    the moment they arrive instead of reading buckets back a second later.

Times are virtual seconds (the platform clock); a bucket covers ``[s, s + 1)``. Buckets
older than ``retention_s`` behind the newest recorded second are dropped, at most once
per ``retention_s / 60`` seconds of recorded time (amortised O(1) per record).
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Protocol

from canaria.analysis.histogram import (
    DURATION_RELATIVE_ERROR,
    duration_bin,
    hist_percentile,
    merge_histogram,
)
from canaria.models.statistics import parse_percentile

__all__ = [
    "DURATION_RELATIVE_ERROR",
    "Counts",
    "Metrics",
    "RequestListener",
    "SecondStats",
    "binary_stat",
    "checked_query",
    "duration_bin",
    "period_starts",
]

METRIC_NAMES = ("Invocations", "Errors", "Throttles", "Duration", "ConcurrentExecutions")
STATISTICS = ("Sum", "Average", "Minimum", "Maximum", "SampleCount")

Key = tuple[str, int, str | None]  # function, version, alias (None: no alias)


class _Bucket:
    __slots__ = (
        "cold",
        "cold_hist",
        "dmax",
        "dmin",
        "dsum",
        "errors",
        "hist",
        "invocations",
        "throttles",
        "timeouts",
    )

    def __init__(self) -> None:
        self.invocations = 0
        self.errors = 0
        self.throttles = 0
        self.timeouts = 0
        self.cold = 0
        self.dsum = 0.0
        self.dmin = math.inf
        self.dmax = -math.inf
        self.hist: dict[int, int] = {}
        self.cold_hist: dict[int, int] | None = None


class _Gauge:
    __slots__ = ("count", "max", "min", "sum")

    def __init__(self) -> None:
        self.count = 0
        self.sum = 0.0
        self.min = math.inf
        self.max = -math.inf

    def add(self, v: float) -> None:
        self.count += 1
        self.sum += v
        if v < self.min:
            self.min = v
        if v > self.max:
            self.max = v


@dataclass(frozen=True)
class Counts:
    """Sums over a time range for one version (all aliases)."""

    invocations: int = 0
    errors: int = 0
    throttles: int = 0
    timeouts: int = 0
    cold_starts: int = 0
    duration_sum_ms: float = 0.0
    p50_ms: float | None = None
    p99_ms: float | None = None
    max_ms: float | None = None


@dataclass(frozen=True)
class SecondStats:
    t: int
    invocations: int
    errors: int
    throttles: int
    p50_ms: float | None
    p99_ms: float | None


class _Acc:
    """Sums of buckets over a period."""

    __slots__ = ("dmax", "dmin", "dsum", "errors", "hist", "invocations", "throttles")

    def __init__(self, with_hist: bool) -> None:
        self.invocations = 0
        self.errors = 0
        self.throttles = 0
        self.dsum = 0.0
        self.dmin = math.inf
        self.dmax = -math.inf
        self.hist: dict[int, int] | None = {} if with_hist else None

    def add(self, b: _Bucket) -> None:
        self.invocations += b.invocations
        self.errors += b.errors
        self.throttles += b.throttles
        self.dsum += b.dsum
        if b.dmin < self.dmin:
            self.dmin = b.dmin
        if b.dmax > self.dmax:
            self.dmax = b.dmax
        if self.hist is not None:
            merge_histogram(self.hist, b.hist)


def _binary_percentile(ones: int, n: int, q: float) -> float:
    """Nearest-rank percentile of n samples of which ``ones`` are 1 and the rest 0."""
    rank = max(1, math.ceil(q / 100.0 * n))
    return 1.0 if rank > n - ones else 0.0


def binary_stat(ones: int, n: int, statistic: str | None, q: float | None) -> float:
    if q is not None:
        return _binary_percentile(ones, n, q)
    match statistic:
        case "Sum":
            return float(ones)
        case "SampleCount":
            return float(n)
        case "Average":
            return ones / n
        case "Minimum":
            return 1.0 if ones == n else 0.0
        case "Maximum":
            return 1.0 if ones > 0 else 0.0
    raise ValueError(f"unsupported statistic {statistic!r} (allowed: {', '.join(STATISTICS)})")


def checked_query(
    period_s: int, statistic: str | None, extended_statistic: str | None
) -> float | None:
    """What every datapoints query checks (exactly one statistic, a known one or a
    percentile, a whole period of at least a second); the percentile, if one."""
    if (statistic is None) == (extended_statistic is None):
        raise ValueError("give exactly one of Statistic and ExtendedStatistic")
    if statistic is not None and statistic not in STATISTICS:
        raise ValueError(f"unsupported statistic {statistic!r} (allowed: {', '.join(STATISTICS)})")
    if period_s < 1 or int(period_s) != period_s:
        raise ValueError(f"period must be a whole number of seconds ≥ 1, got {period_s}")
    return parse_percentile(extended_statistic) if extended_statistic is not None else None


def period_starts(start: float, end: float, period_s: int) -> list[int]:
    """The starts of the periods a query covers: aligned to multiples of ``period_s``,
    from the one holding ``start`` up to ``end`` (exclusive)."""
    first = math.floor(start / period_s) * period_s
    return list(range(first, math.ceil(end), period_s)) if end > first else []


class _Matcher:
    """Which ``(function, version, alias)`` keys a dimension set selects."""

    __slots__ = ("alias", "alias_any", "function", "none", "version")

    def __init__(self, dimensions: Mapping[str, str]) -> None:
        self.none = False
        self.function = dimensions.get("FunctionName", "")
        self.alias: str | None = None
        self.alias_any = True
        self.version: int | None = None
        names = set(dimensions)
        if not self.function or not names <= {"FunctionName", "Resource", "ExecutedVersion"}:
            self.none = True
            return
        if "Resource" in dimensions:
            fn, _, qualifier = dimensions["Resource"].partition(":")
            if fn != self.function:
                self.none = True
                return
            self.alias_any = False
            if qualifier.isdigit():
                self.version = int(qualifier)
            elif qualifier and qualifier != "$LATEST":
                self.alias = qualifier
        if "ExecutedVersion" in dimensions:
            ev = dimensions["ExecutedVersion"]
            if not ev.isdigit() or (self.version is not None and int(ev) != self.version):
                self.none = True
                return
            self.version = int(ev)

    def __call__(self, key: Key) -> bool:
        fn, version, alias = key
        if fn != self.function:
            return False
        if not self.alias_any and alias != self.alias:
            return False
        return self.version is None or version == self.version


class RequestListener(Protocol):
    """Told of each request as it starts and as it ends (see the module docstring)."""

    def started(self, t: float, function: str, version: int) -> None: ...

    def waiting(self, t: float, function: str, version: int) -> None: ...

    def finished(
        self,
        t: float,
        function: str,
        version: int,
        *,
        duration_ms: float,
        error: bool,
        throttled: bool,
        timed_out: bool,
        cold_start: bool,
        waited: bool,
    ) -> None: ...


class Metrics:
    """In-memory AWS/Lambda metrics at 1-second resolution (see the module docstring)."""

    def __init__(self, retention_s: float = 3600.0) -> None:
        if retention_s <= 0:
            raise ValueError("retention must be positive")
        self.retention_s = retention_s
        self._secs: dict[int, dict[Key, _Bucket]] = {}
        # concurrency: per second, per (function, alias-or-"*", version-or--1) aggregate
        self._conc: dict[int, dict[tuple[str, str | None, int | None, bool], _Gauge]] = {}
        self._live: dict[str, dict[tuple[int, str | None], int]] = {}
        # the gauges the current second's concurrency changes sample, per (function,
        # version, alias): see ``_gauges``
        self._conc_rows: dict[
            tuple[str, int, str | None], tuple[int, _Gauge, _Gauge, _Gauge, _Gauge]
        ] = {}
        self._newest = -math.inf
        self._evict_every = max(1.0, retention_s / 60.0)
        self._last_evict = -math.inf
        self.listeners: list[RequestListener] = []

    # ---- writing (hot path) ------------------------------------------------------------

    def record(
        self,
        t: float,
        function: str,
        version: int,
        alias: str | None,
        *,
        duration_ms: float,
        error: bool,
        throttled: bool = False,
        timed_out: bool = False,
        cold_start: bool = False,
        waited: bool = False,
    ) -> None:
        """One request at virtual time ``t``. A throttled request counts only in
        Throttles; any other counts as an invocation (and as an error if ``error``).
        ``waited``: ``waiting`` was called for it."""
        for listener in self.listeners:
            listener.finished(
                t,
                function,
                version,
                duration_ms=duration_ms,
                error=error,
                throttled=throttled,
                timed_out=timed_out,
                cold_start=cold_start,
                waited=waited,
            )
        s = math.floor(t)
        if s > self._newest:
            self._advance(s)
        elif s < self._newest - self.retention_s:
            return
        sec = self._secs.get(s)
        if sec is None:
            sec = self._secs[s] = {}
        key = (function, version, alias)
        b = sec.get(key)
        if b is None:
            b = sec[key] = _Bucket()
        if throttled:
            b.throttles += 1
            return
        b.invocations += 1
        if error:
            b.errors += 1
        if timed_out:
            b.timeouts += 1
        b.dsum += duration_ms
        if duration_ms < b.dmin:
            b.dmin = duration_ms
        if duration_ms > b.dmax:
            b.dmax = duration_ms
        i = duration_bin(duration_ms)
        hist = b.hist
        hist[i] = hist.get(i, 0) + 1
        if cold_start:
            b.cold += 1
            if b.cold_hist is None:
                b.cold_hist = {}
            b.cold_hist[i] = b.cold_hist.get(i, 0) + 1

    def waiting(self, t: float, function: str, version: int) -> None:
        """The request that went in flight at ``t`` found no free execution environment:
        it waits for one to start or to free up (the listeners hear of it)."""
        for listener in self.listeners:
            listener.waiting(t, function, version)

    def record_concurrency(
        self, t: float, function: str, version: int, alias: str | None, value: int
    ) -> None:
        """The number of requests in flight for (version, alias) from ``t`` on. Each call
        adds a sample of the sums that this change affects: function-wide, per alias,
        per alias and version, per version."""
        s = math.floor(t)
        if s > self._newest:
            self._advance(s)
        elif s < self._newest - self.retention_s:
            return
        live = self._live.get(function)
        if live is None:
            live = self._live[function] = {}
        pair = (version, alias)
        if self.listeners and value > live.get(pair, 0):
            for listener in self.listeners:
                listener.started(t, function, version)
        if value:
            live[pair] = value
        else:
            live.pop(pair, None)
        total = by_alias = by_version = 0
        for (v, a), n in live.items():
            total += n
            if a == alias:
                by_alias += n
            if v == version:
                by_version += n
        row = self._conc_rows.get((function, version, alias))
        if row is None or row[0] != s:
            row = self._conc_rows[(function, version, alias)] = self._gauges(
                s, function, version, alias
            )
        row[1].add(float(total))
        row[2].add(float(by_alias))
        row[3].add(float(value))
        row[4].add(float(by_version))

    def _gauges(
        self, s: int, function: str, version: int, alias: str | None
    ) -> tuple[int, _Gauge, _Gauge, _Gauge, _Gauge]:
        """Second ``s``'s gauges that a change of (version, alias) samples: function-wide,
        per alias, per alias and version, per version (cached per second by the caller:
        two changes per request)."""
        sec = self._conc.get(s)
        if sec is None:
            sec = self._conc[s] = {}
        gauges = []
        for key in (
            (function, None, None, True),
            (function, alias, None, False),
            (function, alias, version, False),
            (function, None, version, True),
        ):
            g = sec.get(key)
            if g is None:
                g = sec[key] = _Gauge()
            gauges.append(g)
        return (s, gauges[0], gauges[1], gauges[2], gauges[3])

    def _advance(self, s: int) -> None:
        self._newest = s
        if s - self._last_evict >= self._evict_every:
            self._last_evict = s
            cutoff = s - self.retention_s
            for store in (self._secs, self._conc):
                old = [k for k in store if k < cutoff]
                for k in old:
                    del store[k]

    # ---- reading -----------------------------------------------------------------------

    def _seconds(self, store: Mapping[int, object], a: int, b: int) -> list[int]:
        """The recorded seconds in [a, b), ascending, without walking long empty ranges."""
        if b - a <= len(store):
            return [s for s in range(a, b) if s in store]
        return sorted(s for s in store if a <= s < b)

    def _buckets(self, match: _Matcher, a: int, b: int) -> Iterator[tuple[int, _Bucket]]:
        for s in self._seconds(self._secs, a, b):
            for key, bucket in self._secs[s].items():
                if match(key):
                    yield s, bucket

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
        """GetMetricStatistics: one ``(period_start, value)`` per period, periods aligned
        to multiples of ``period_s`` from the one holding ``start`` up to ``end``
        (exclusive); ``None`` where the period has no sample. Exactly one of
        ``statistic`` and ``extended_statistic`` must be given."""
        if metric_name not in METRIC_NAMES:
            raise ValueError(
                f"unknown AWS/Lambda metric {metric_name!r} (allowed: {', '.join(METRIC_NAMES)})"
            )
        q = checked_query(period_s, statistic, extended_statistic)
        p = int(period_s)
        starts = period_starts(start, end, p)
        first = starts[0] if starts else math.floor(start / p) * p
        match = _Matcher(dimensions)
        if match.none or not starts:
            return [(float(ps), None) for ps in starts]
        if metric_name == "ConcurrentExecutions":
            if q is not None:
                raise ValueError("percentiles of ConcurrentExecutions are not kept")
            return self._concurrency_points(match, starts, p, statistic or "Maximum")
        accs = {ps: _Acc(q is not None and metric_name == "Duration") for ps in starts}
        for s, bucket in self._buckets(match, first, starts[-1] + p):
            accs[first + (s - first) // p * p].add(bucket)
        return [(float(ps), _stat(metric_name, accs[ps], statistic, q)) for ps in starts]

    def _concurrency_points(
        self, match: _Matcher, starts: list[int], p: int, statistic: str
    ) -> list[tuple[float, float | None]]:
        wanted = (
            match.function,
            None if match.alias_any else match.alias,
            match.version,
            match.alias_any,
        )
        out: list[tuple[float, float | None]] = []
        for ps in starts:
            g = _Gauge()
            for s in self._seconds(self._conc, ps, ps + p):
                sample = self._conc[s].get(wanted)
                if sample is not None:
                    g.count += sample.count
                    g.sum += sample.sum
                    g.min = min(g.min, sample.min)
                    g.max = max(g.max, sample.max)
            if g.count == 0:
                out.append((float(ps), None))
                continue
            match statistic:
                case "Maximum":
                    value = g.max
                case "Minimum":
                    value = g.min
                case "Average":
                    value = g.sum / g.count
                case "Sum":
                    value = g.sum
                case _:
                    value = float(g.count)
            out.append((float(ps), value))
        return out

    def _version_acc(
        self, function: str, version: int, start: float, end: float
    ) -> tuple[_Acc, int, int, dict[int, int]]:
        """Sums for one version over the seconds overlapping [start, end): the totals,
        timeouts, cold starts and the cold-start histogram."""
        acc = _Acc(True)
        timeouts = cold = 0
        cold_hist: dict[int, int] = {}
        for s in self._seconds(self._secs, math.floor(start), math.ceil(end)):
            for (fn, v, _), b in self._secs[s].items():
                if fn == function and v == version:
                    acc.add(b)
                    timeouts += b.timeouts
                    cold += b.cold
                    if b.cold_hist:
                        merge_histogram(cold_hist, b.cold_hist)
        return acc, timeouts, cold, cold_hist

    def in_flight(self, function: str, version: int) -> int:
        """Requests of ``version`` in flight now, as last given to ``record_concurrency``."""
        live = self._live.get(function, {})
        return sum(n for (v, _), n in live.items() if v == version)

    def function_in_flight(self, function: str) -> int:
        """Requests of any version of ``function`` in flight now."""
        return sum(self._live.get(function, {}).values())

    def bucket_counts(self, function: str, version: int, start: float, end: float) -> Counts:
        """Sums over the seconds overlapping [start, end) for one version, all aliases."""
        acc, timeouts, cold, _ = self._version_acc(function, version, start, end)
        n = acc.invocations
        hist = acc.hist or {}
        return Counts(
            invocations=n,
            errors=acc.errors,
            throttles=acc.throttles,
            timeouts=timeouts,
            cold_starts=cold,
            duration_sum_ms=acc.dsum,
            p50_ms=hist_percentile(hist, n, 50.0, acc.dmin, acc.dmax) if n else None,
            p99_ms=hist_percentile(hist, n, 99.0, acc.dmin, acc.dmax) if n else None,
            max_ms=acc.dmax if n else None,
        )

    def warm_percentile(
        self, function: str, version: int, start: float, end: float, q: float
    ) -> tuple[float | None, int]:
        """The q-th percentile of durations without cold starts (histogram value, 1 %
        relative error) and the number of warm invocations it rests on."""
        acc, _, _, cold_hist = self._version_acc(function, version, start, end)
        warm = _subtract(acc.hist or {}, cold_hist)
        n = sum(warm.values())
        if n == 0:
            return None, 0
        return hist_percentile(warm, n, q, 0.0, math.inf), n

    def count_slower(
        self, function: str, version: int, start: float, end: float, threshold_ms: float
    ) -> int:
        """Warm invocations (cold starts left out) whose duration falls in a histogram bin
        above the bin of ``threshold_ms``: "slower than the threshold" decided at the
        histogram's resolution (durations within ~2 % of the threshold may land either
        way; the rule is the same for every version)."""
        acc, _, _, cold_hist = self._version_acc(function, version, start, end)
        limit = duration_bin(threshold_ms)
        warm = _subtract(acc.hist or {}, cold_hist)
        return sum(n for i, n in warm.items() if i > limit)

    def series(self, function: str, start: float, end: float) -> dict[int, list[SecondStats]]:
        """Per version seen in [start, end), one entry per second of the range (zeros and
        ``None`` percentiles where nothing ran), aggregated over aliases."""
        a, b = math.floor(start), math.ceil(end)
        per: dict[int, dict[int, _Acc]] = {}
        for s in self._seconds(self._secs, a, b):
            for (fn, v, _), bucket in self._secs[s].items():
                if fn == function:
                    acc = per.setdefault(v, {}).get(s)
                    if acc is None:
                        acc = per[v][s] = _Acc(True)
                    acc.add(bucket)
        out: dict[int, list[SecondStats]] = {}
        for v in sorted(per):
            row: list[SecondStats] = []
            for s in range(a, b):
                acc = per[v].get(s)
                if acc is None:
                    row.append(SecondStats(s, 0, 0, 0, None, None))
                    continue
                n, hist = acc.invocations, acc.hist or {}
                row.append(
                    SecondStats(
                        s,
                        n,
                        acc.errors,
                        acc.throttles,
                        hist_percentile(hist, n, 50.0, acc.dmin, acc.dmax) if n else None,
                        hist_percentile(hist, n, 99.0, acc.dmin, acc.dmax) if n else None,
                    )
                )
            out[v] = row
        return out


def _subtract(hist: Mapping[int, int], minus: Mapping[int, int]) -> dict[int, int]:
    out = dict(hist)
    for i, n in minus.items():
        left = out.get(i, 0) - n
        if left > 0:
            out[i] = left
        else:
            out.pop(i, None)
    return out


def _stat(metric: str, acc: _Acc, statistic: str | None, q: float | None) -> float | None:
    n = acc.invocations
    match metric:
        case "Invocations":
            if n == 0:
                return None
            return float(n) if statistic in ("Sum", "SampleCount") else 1.0
        case "Errors":
            return binary_stat(acc.errors, n, statistic, q) if n else None
        case "Throttles":
            requests = n + acc.throttles
            return binary_stat(acc.throttles, requests, statistic, q) if requests else None
        case "Duration":
            if n == 0:
                return None
            if q is not None:
                return hist_percentile(acc.hist or {}, n, q, acc.dmin, acc.dmax)
            match statistic:
                case "Sum":
                    return acc.dsum
                case "Average":
                    return acc.dsum / n
                case "Minimum":
                    return acc.dmin
                case "Maximum":
                    return acc.dmax
                case _:
                    return float(n)
    raise ValueError(f"unknown metric {metric!r}")
