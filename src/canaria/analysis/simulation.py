"""Seeded traffic simulation for measuring the judge and alarms (bench, tests, demos).

Requests arrive at a fixed rate and are routed to the canary with the weight of the
current step. Each request of a version independently *errs* (probability ``error``) and
is *slow* (probability ``slow``). Rather than drawing every request, the simulation jumps
from one event (an error or a slow request) to the next: the gap is geometric, the
requests in between are split between the versions binomially, and the event's version
and kinds are drawn from their conditional laws. This is exact and costs O(events).

Observers watch the same stream:

- ``EventJudge``: the judge with one tick per event (the tick is the interval since the
  previous event, so ``w`` is the canary's share of that interval's invocations); ticks
  are also cut at every weight change, so a tick never mixes two weights.
- ``TickJudge``: the judge with fixed ticks (1 s, as the controller runs it).
- ``ErrorsAlarm``: CloudWatch ``Errors Sum > 0`` on the canary, one datapoint per period,
  firing when the period closes (no ingestion delay: the most favourable case for alarms).
- ``P99Alarm``: ``Duration p99 > the stable version's p99`` on the canary, likewise.

Each records where it stopped: time, canary requests and failed / slow canary requests so
far (the blast radius).
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field
from typing import Protocol

from canaria.analysis.judge import Judge, JudgeState, TickCounts, Verdict

__all__ = [
    "Arm",
    "ErrorsAlarm",
    "EventJudge",
    "Observer",
    "P99Alarm",
    "Step",
    "Stop",
    "TickJudge",
    "Totals",
    "binomial",
    "simulate",
]


@dataclass(frozen=True)
class Arm:
    """One version's per-request probabilities."""

    error: float = 0.0
    slow: float = 0.0

    @property
    def event(self) -> float:
        return 1.0 - (1.0 - self.error) * (1.0 - self.slow)


@dataclass(frozen=True)
class Step:
    weight: float  # canary share of requests, in [0, 1]
    duration_s: float


@dataclass(frozen=True)
class Stop:
    verdict: Verdict
    time_s: float
    canary_requests: int
    canary_errors: int
    canary_slow: int


@dataclass
class Totals:
    """Canary requests so far, and how many of them failed or were slow."""

    canary_requests: int = 0
    canary_errors: int = 0
    canary_slow: int = 0


class Observer(Protocol):
    stop: Stop | None

    def requests(self, canary: int, stable: int) -> None: ...

    def event(self, canary: bool, error: bool, slow: bool, t: float, totals: Totals) -> None: ...

    def boundary(self, t: float, totals: Totals, weight_change: bool) -> None: ...


def binomial(rng: random.Random, n: int, p: float) -> int:
    """A Binomial(n, p) draw: exact (geometric skips) below a mean of 30, normal beyond."""
    if n <= 0 or p <= 0.0:
        return 0
    if p >= 1.0:
        return n
    if p > 0.5:
        return n - binomial(rng, n, 1.0 - p)
    mean = n * p
    if mean >= 30.0:
        x = round(rng.gauss(mean, math.sqrt(mean * (1.0 - p))))
        return min(n, max(0, x))
    log_q = math.log1p(-p)
    x = pos = 0
    while True:
        pos += int(math.log(1.0 - rng.random()) / log_q) + 1
        if pos > n:
            return x
        x += 1


@dataclass
class _JudgeBase:
    judge: Judge
    state: JudgeState = field(init=False)
    stop: Stop | None = field(default=None, init=False)
    ci: int = field(default=0, init=False)
    si: int = field(default=0, init=False)
    ev: list[int] = field(default_factory=lambda: [0, 0, 0, 0], init=False)

    def __post_init__(self) -> None:
        self.state = self.judge.initial_state()

    def requests(self, canary: int, stable: int) -> None:
        self.ci += canary
        self.si += stable

    def _add_event(self, canary: bool, error: bool, slow: bool) -> None:
        if canary:
            self.ci += 1
            self.ev[0] += error
            self.ev[2] += slow
        else:
            self.si += 1
            self.ev[1] += error
            self.ev[3] += slow

    def _tick(self, t: float, totals: Totals) -> None:
        ce, se, cs, ss = self.ev
        counts = TickCounts(self.ci, self.si, ce, se, 0, 0, cs, ss)
        self.ci = self.si = 0
        self.ev = [0, 0, 0, 0]
        if self.stop is not None:
            return
        self.state, verdict = self.judge.update(self.state, counts)
        if verdict is not Verdict.CONTINUE:
            self.stop = Stop(
                verdict, t, totals.canary_requests, totals.canary_errors, totals.canary_slow
            )


class EventJudge(_JudgeBase):
    def event(self, canary: bool, error: bool, slow: bool, t: float, totals: Totals) -> None:
        self._add_event(canary, error, slow)
        self._tick(t, totals)

    def boundary(self, t: float, totals: Totals, weight_change: bool) -> None:
        if weight_change:  # a tick never spans two weights; this one has no event
            self.ci = self.si = 0


@dataclass
class TickJudge(_JudgeBase):
    tick_s: float = 1.0

    def event(self, canary: bool, error: bool, slow: bool, t: float, totals: Totals) -> None:
        self._add_event(canary, error, slow)

    def boundary(self, t: float, totals: Totals, weight_change: bool) -> None:
        if _on_grid(t, self.tick_s, 0.0):
            self._tick(t, totals)


def _on_grid(t: float, period: float, phase: float) -> bool:
    x = (t - phase) / period
    return abs(x - round(x)) < 1e-9


@dataclass
class ErrorsAlarm:
    """``Errors Sum > 0`` on the canary, ``period_s`` periods starting at ``phase_s``."""

    period_s: float = 60.0
    phase_s: float = 0.0
    stop: Stop | None = None
    _errors: int = 0

    def requests(self, canary: int, stable: int) -> None:
        pass

    def event(self, canary: bool, error: bool, slow: bool, t: float, totals: Totals) -> None:
        self._errors += canary and error

    def boundary(self, t: float, totals: Totals, weight_change: bool) -> None:
        if self.stop is None and _on_grid(t, self.period_s, self.phase_s):
            if self._errors > 0:
                self.stop = Stop(
                    Verdict.ROLLBACK,
                    t,
                    totals.canary_requests,
                    totals.canary_errors,
                    totals.canary_slow,
                )
            self._errors = 0


@dataclass
class P99Alarm:
    """``Duration p99 > T`` on the canary, T = the stable version's p99 (so a request is
    "slow" exactly when it is above T): the nearest-rank p99 of n samples exceeds T when
    more than ``n − ceil(0.99·n)`` of them are slow."""

    period_s: float = 60.0
    phase_s: float = 0.0
    stop: Stop | None = None
    _n: int = 0
    _slow: int = 0

    def requests(self, canary: int, stable: int) -> None:
        self._n += canary

    def event(self, canary: bool, error: bool, slow: bool, t: float, totals: Totals) -> None:
        if canary:
            self._n += 1
            self._slow += slow

    def boundary(self, t: float, totals: Totals, weight_change: bool) -> None:
        if self.stop is None and _on_grid(t, self.period_s, self.phase_s):
            if self._n and self._slow > self._n - math.ceil(0.99 * self._n):
                self.stop = Stop(
                    Verdict.ROLLBACK,
                    t,
                    totals.canary_requests,
                    totals.canary_errors,
                    totals.canary_slow,
                )
            self._n = self._slow = 0


def simulate(
    rng: random.Random,
    steps: list[Step],
    rate_rps: float,
    canary: Arm,
    stable: Arm,
    observers: list[Observer],
    *,
    boundaries_every_s: tuple[tuple[float, float], ...] = (),
) -> Totals:
    """Run the traffic of ``steps`` past every observer until all have stopped or the
    steps are over. ``boundaries_every_s`` lists (period, phase) grids at which observers
    get a ``boundary`` call (ticks, alarm periods); weight changes always give one."""
    totals = Totals()
    t0 = 0.0
    for step in steps:
        cuts = {t0 + step.duration_s}
        for period, phase in boundaries_every_s:
            k = math.floor((t0 - phase) / period) + 1
            while (c := phase + k * period) < t0 + step.duration_s - 1e-9:
                cuts.add(round(c, 9))
                k += 1
        w = step.weight
        q = w * canary.event + (1.0 - w) * stable.event
        p_canary_event = w * canary.event / q if q > 0 else 0.0
        p_canary_quiet = w * (1.0 - canary.event) / (1.0 - q) if q < 1 else 0.0
        log_quiet = math.log1p(-q) if 0 < q < 1 else 0.0
        t = t0
        for cut in sorted(cuts):
            seg_end = min(cut, t0 + step.duration_s)
            left = round(seg_end * rate_rps) - round(t * rate_rps)
            start_index = round(t * rate_rps)
            done = 0
            while left > 0:
                if q <= 0.0:
                    gap = left + 1
                elif q >= 1.0:
                    gap = 1
                else:
                    gap = int(math.log(1.0 - rng.random()) / log_quiet) + 1
                quiet = min(gap - 1, left)
                nc = binomial(rng, quiet, p_canary_quiet)
                totals.canary_requests += nc
                for o in observers:
                    o.requests(nc, quiet - nc)
                if gap > left:
                    break
                on_canary = rng.random() < p_canary_event
                arm = canary if on_canary else stable
                error = rng.random() * arm.event < arm.error
                slow = (not error) or rng.random() < arm.slow
                if on_canary:
                    totals.canary_requests += 1
                    totals.canary_errors += error
                    totals.canary_slow += slow
                done += gap
                left -= gap
                when = (start_index + done) / rate_rps
                for o in observers:
                    o.event(on_canary, error, slow, when, totals)
                if all(o.stop is not None for o in observers):
                    return totals
            t = seg_end
            weight_change = abs(seg_end - (t0 + step.duration_s)) < 1e-9
            for o in observers:
                o.boundary(seg_end, totals, weight_change)
            if all(o.stop is not None for o in observers):
                return totals
        t0 += step.duration_s
    return totals
