"""The judge: sequential tests of "is the new version worse than the old one?".

Pure arithmetic, no I/O. It is fed one ``TickCounts`` per interval (the canary's and the
stable version's invocations and events over the same interval): ``canaria.analysis.live``
closes intervals of a few milliseconds, fixed by the requests' start times, as their
results arrive, and says there why that keeps the guarantee below; the controller
persists the ``JudgeState`` (``state_to_json`` / ``state_from_json``). Below, a "tick"
is one such interval.

Metrics
    ``errors`` (function errors, timeouts included), ``faults`` (timeouts + throttles) and
    ``slow`` (warm invocations slower than the stable version's p99 over a trailing window;
    cold starts are left out). M = 3.

Rollback: a one-sided grid-mixture SPRT per metric (an e-process)
    In a tick the canary had ``ci`` invocations and ``c`` events, the stable version ``si``
    and ``b``. Let ``w = ci / (ci + si)``. The tick is skipped when ``ci = 0``, ``si = 0``
    or ``c + b = 0`` (it carries no information about the split). If each invocation of
    either version has the same chance of an event (H0, or the canary is better), then
    given the tick's invocation counts and its number of events ``k = c + b``, ``c`` is
    hypergeometric (Fisher's noncentral hypergeometric with odds ratio ≤ 1 when the
    canary is better). For a ratio ``r`` of the grid the alternative says an event is the
    canary's with probability ``θ_r = w·r / (w·r + 1 − w)``; the tick multiplies the
    likelihood ratio ``L_r`` by ``(θ_r/w)^c · ((1−θ_r)/(1−w))^b``, i.e.
    ``log L_r += c·ln r − k·ln(1 + w·(r − 1))``. This factor is a convex, increasing
    function of ``c``; its mean is 1 under Binomial(k, w), hence ≤ 1 under the
    hypergeometric law (Hoeffding 1963, Thm 4: sampling without replacement is smaller in
    convex order) and under anything stochastically smaller. So each ``L_r``, and the
    mixture ``E = Σ π_r·L_r``, is a nonnegative supermartingale with ``E_0 = 1`` however
    traffic weights change between ticks, and Ville's inequality gives
    ``P(sup_t E_t ≥ M/α) ≤ α/M``. Rolling back when any metric's ``E`` reaches ``M/α``
    therefore rolls back a canary that is no worse with probability at most ``α``, however
    long and however often the judge looks.

Early promotion: a second e-process per metric
    H0': the canary's odds of an event are at least ``R0 = 1 + δ`` times the stable
    version's. Given a tick's counts, ``c`` follows Fisher's noncentral hypergeometric
    law ``P_ψ(c) = C(ci, c)·C(si, k − c)·ψ^c / Z(ψ)``, ``Z(ψ) = Σ_x C(ci, x)·C(si, k − x)·ψ^x``,
    with ψ the odds ratio (exact for independent Bernoulli outcomes; ψ ≥ R0 under H0'
    because ψ ≥ rate ratio whenever the canary's rate is the higher). For each grid value
    ``g`` the alternative is ``ψ_g = R0 / g`` and the tick multiplies
    ``Q_g`` by ``P_{ψ_g}(c) / P_{R0}(c)``, i.e.
    ``log Q_g += −c·ln g − ln Z(ψ_g) + ln Z(R0)``. At the boundary ψ = R0 each factor has
    mean exactly 1 (it is a likelihood ratio under the true law), and for ψ > R0 the
    factor — decreasing in ``c`` — has mean < 1 because the law is stochastically larger
    (monotone likelihood ratio). So ``Σ π_g·Q_g`` is a nonnegative supermartingale under
    H0' and crosses ``1/α`` with probability ≤ α. The verdict is PROMOTE only when every
    metric's promotion e-process has crossed ``1/α`` (an intersection–union test: a wrong
    promotion needs the metric whose H0' holds to cross, probability ≤ α; no Bonferroni
    factor). A metric that never sees an event never gathers this evidence, so early
    promotion needs events of every kind; when an event count exceeds invocations (faults
    counts throttles, which are not invocations) the counts of trials are raised to the
    event counts.

Power: what it could have caught
    The state also keeps sums over the closed intervals from which
    ``canaria.analysis.power`` derives, from the ``errors`` e-process itself, the
    smallest canary failure rate the judge would have rolled back given what the canary
    has served (``Judge.detectable``). A step can require it before it ends.

A decided verdict (ROLLBACK or PROMOTE) is latched in the state.
"""

from __future__ import annotations

import enum
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from canaria.analysis import power as _power
from canaria.analysis.metrics import Metrics
from canaria.models import JudgeSettings

__all__ = [
    "DEFAULT_GRID",
    "METRICS",
    "MIN_P99_SAMPLES",
    "Judge",
    "JudgeState",
    "TickCounts",
    "Verdict",
    "slow_threshold",
    "stable_p99",
    "state_from_json",
    "state_to_json",
    "tick_counts",
]

METRICS = ("errors", "faults", "slow")
DEFAULT_GRID = (1.25, 1.5, 2.0, 3.0, 5.0, 10.0, 30.0, 100.0, 1000.0)
MIN_P99_SAMPLES = 100
_DISPLAY_LOG_CAP = 690.0  # exp(690) ≈ 1e299: finite, so evidence stays valid JSON


@dataclass(frozen=True)
class TickCounts:
    canary_invocations: int
    stable_invocations: int
    canary_errors: int
    stable_errors: int
    canary_faults: int
    stable_faults: int
    canary_slow: int
    stable_slow: int

    def events(self, metric: str) -> tuple[int, int]:
        match metric:
            case "errors":
                return self.canary_errors, self.stable_errors
            case "faults":
                return self.canary_faults, self.stable_faults
            case "slow":
                return self.canary_slow, self.stable_slow
        raise ValueError(f"unknown judge metric {metric!r} (allowed: {', '.join(METRICS)})")


class Verdict(enum.Enum):
    CONTINUE = "CONTINUE"
    ROLLBACK = "ROLLBACK"
    PROMOTE = "PROMOTE"


@dataclass(frozen=True)
class JudgeState:
    """Per metric and grid ratio: the log likelihood ratios of the rollback test
    (``log_evidence``) and of the early-promotion test (``log_promotion``); totals of
    events seen (canary, stable) for display; the latched verdict, if any."""

    log_evidence: Mapping[str, tuple[float, ...]]
    log_promotion: Mapping[str, tuple[float, ...]]
    events: Mapping[str, tuple[int, int]] = field(default_factory=dict)
    ticks: int = 0
    decided: Verdict | None = None
    # sums over the closed intervals for ``Judge.detectable`` (None: none yet)
    power: _power.PowerSums | None = None


def _logsumexp(xs: Sequence[float]) -> float:
    top = max(xs)
    if top == -math.inf:
        return top
    return top + math.log(sum([math.exp(x - top) for x in xs]))


def _lchoose(n: int, k: int) -> float:
    return math.lgamma(n + 1) - math.lgamma(k + 1) - math.lgamma(n - k + 1)


class Judge:
    def __init__(
        self,
        settings: JudgeSettings,
        grid: Sequence[float] = DEFAULT_GRID,
        prior: Sequence[float] | None = None,
    ) -> None:
        if not grid or any(r <= 1.0 for r in grid):
            raise ValueError("the grid of ratios must be non-empty and every ratio > 1")
        if prior is None:
            prior = [1.0] * len(grid)
        if len(prior) != len(grid) or any(p <= 0 for p in prior):
            raise ValueError("the prior needs one positive weight per grid ratio")
        if not 0.0 < settings.alpha < 1.0:
            raise ValueError(f"alpha must be in (0, 1), got {settings.alpha}")
        if settings.delta <= 0.0:
            raise ValueError(f"delta must be positive, got {settings.delta}")
        if not 0.0 <= settings.slow_tolerance_ms < math.inf:
            raise ValueError(f"slow_tolerance_ms must be >= 0, got {settings.slow_tolerance_ms}")
        self.settings = settings
        self.grid = tuple(float(r) for r in grid)
        total = math.fsum(prior)
        self._log_prior = tuple(math.log(p / total) for p in prior)
        self._log_r = tuple(math.log(r) for r in self.grid)
        self._rm1 = tuple(r - 1.0 for r in self.grid)
        self._log_r0 = math.log1p(settings.delta)
        self._log_rollback = math.log(len(METRICS) / settings.alpha)
        self._log_promote = math.log(1.0 / settings.alpha)

    # ---- thresholds and display --------------------------------------------------------

    def threshold(self) -> float:
        """Evidence at which a metric rolls the canary back: M / α."""
        return len(METRICS) / self.settings.alpha

    def promotion_threshold(self) -> float:
        return 1.0 / self.settings.alpha

    def log_mixture(self, logliks: Sequence[float]) -> float:
        return _logsumexp([lp + ll for lp, ll in zip(self._log_prior, logliks, strict=True)])

    def evidence(self, state: JudgeState) -> dict[str, float]:
        """Per metric, the rollback e-process E (1 at the start; capped near 1e299)."""
        return {
            m: math.exp(min(self.log_mixture(state.log_evidence[m]), _DISPLAY_LOG_CAP))
            for m in METRICS
        }

    def detectable(self, state: JudgeState) -> float | None:
        """The smallest canary failure rate (errors per request) the rollback test would
        have caught, 19 times out of 20, over the intervals seen so far; None while not
        even a canary failing every request would have been (``canaria.analysis.power``)."""
        sums = state.power
        if sums is None or sums.stable == 0:
            return None
        p0 = min(1.0, state.events.get("errors", (0, 0))[1] / sums.stable)
        return _power.detectable(sums, self._log_r, self._log_prior, self._log_rollback, p0)

    def promotion_evidence(self, state: JudgeState) -> dict[str, float]:
        return {
            m: math.exp(min(self.log_mixture(state.log_promotion[m]), _DISPLAY_LOG_CAP))
            for m in METRICS
        }

    # ---- the test ----------------------------------------------------------------------

    def initial_state(self) -> JudgeState:
        zeros = (0.0,) * len(self.grid)
        return JudgeState(
            log_evidence={m: zeros for m in METRICS},
            log_promotion={m: zeros for m in METRICS},
            events={m: (0, 0) for m in METRICS},
        )

    def update(self, state: JudgeState, counts: TickCounts) -> tuple[JudgeState, Verdict]:
        """Advance every metric's e-processes by one tick and say what to do."""
        size = len(self.grid)
        for m in METRICS:
            if len(state.log_evidence[m]) != size or len(state.log_promotion[m]) != size:
                raise ValueError(f"judge state for {m!r} does not match a grid of {size}")
        ci, si = counts.canary_invocations, counts.stable_invocations
        c_e, s_e = counts.canary_errors, counts.stable_errors
        c_f, s_f = counts.canary_faults, counts.stable_faults
        c_s, s_s = counts.canary_slow, counts.stable_slow
        if min(ci, si, c_e, s_e, c_f, s_f, c_s, s_s) < 0:
            raise ValueError(f"negative counts in {counts}")
        sums = (state.power or _power.PowerSums.empty(size)).add(self._log_r, self._rm1, ci, si)
        if not (c_e or s_e or c_f or s_f or c_s or s_s):  # nothing to learn from this tick
            new = JudgeState(
                state.log_evidence,
                state.log_promotion,
                state.events,
                state.ticks + 1,
                state.decided,
                sums,
            )
            return new, state.decided or Verdict.CONTINUE
        promote = self.settings.early_promotion
        roll = dict(state.log_evidence)
        prom = dict(state.log_promotion)
        events = dict(state.events)
        moved: list[str] = []
        for m in METRICS:
            c, b = counts.events(m)
            k = c + b
            if k == 0:
                continue
            seen = events.get(m, (0, 0))
            events[m] = (seen[0] + c, seen[1] + b)
            if ci == 0 or si == 0:
                continue
            moved.append(m)
            w = ci / (ci + si)
            roll[m] = tuple(
                ll + c * lr - k * math.log1p(w * rm1)
                for ll, lr, rm1 in zip(roll[m], self._log_r, self._rm1, strict=True)
            )
            if promote:
                steps = self._promotion_steps(max(ci, c), max(si, b), c, k)
                prom[m] = tuple(q + s for q, s in zip(prom[m], steps, strict=True))
        decided = state.decided
        if decided is None and self.settings.enabled and moved:
            # E = Σ π_r·L_r ≤ max_r L_r: the mixture is only computed when it could cross.
            if any(
                max(roll[m]) >= self._log_rollback
                and self.log_mixture(roll[m]) >= self._log_rollback
                for m in moved
            ):
                decided = Verdict.ROLLBACK
            elif promote and all(
                max(prom[m]) >= self._log_promote and self.log_mixture(prom[m]) >= self._log_promote
                for m in METRICS
            ):
                decided = Verdict.PROMOTE
        new = JudgeState(roll, prom, events, state.ticks + 1, decided, sums)
        return new, decided or Verdict.CONTINUE

    def _promotion_steps(self, n1: int, n2: int, c: int, k: int) -> list[float]:
        """``ln P_{R0/g}(c) − ln P_{R0}(c)`` for each grid value g (Fisher's noncentral
        hypergeometric law of c given n1, n2 trials and k events)."""
        lo, hi = max(0, k - n2), min(n1, k)
        if lo == hi:
            return [0.0] * len(self.grid)
        base = [_lchoose(n1, x) + _lchoose(n2, k - x) for x in range(lo, hi + 1)]
        top = max(base)
        coefs = [math.exp(t - top) for t in reversed(base)] if len(base) <= 600 else []

        def log_z(log_psi: float) -> float:
            if coefs:  # Horner on the scaled polynomial Σ a_x ψ^(x − lo); exact in floats
                psi, acc = math.exp(log_psi), 0.0
                for a in coefs:
                    acc = acc * psi + a
                if 0.0 < acc < math.inf:
                    return top + lo * log_psi + math.log(acc)
            return _logsumexp([t + (lo + i) * log_psi for i, t in enumerate(base)])

        z0 = log_z(self._log_r0)
        return [-c * lg - log_z(self._log_r0 - lg) + z0 for lg in self._log_r]

    # ---- persistence (also as module functions) ----------------------------------------

    @staticmethod
    def state_to_json(state: JudgeState) -> dict[str, Any]:
        return state_to_json(state)

    @staticmethod
    def state_from_json(raw: Mapping[str, Any]) -> JudgeState:
        return state_from_json(raw)


def state_to_json(state: JudgeState) -> dict[str, Any]:
    """A JSON-ready dict (finite floats only) that ``state_from_json`` reads back."""
    out: dict[str, Any] = {
        "format": 1,
        "rollback": {m: list(v) for m, v in state.log_evidence.items()},
        "promotion": {m: list(v) for m, v in state.log_promotion.items()},
        "events": {m: list(v) for m, v in state.events.items()},
        "ticks": state.ticks,
        "decided": state.decided.value if state.decided else None,
    }
    if state.power is not None:
        out["power"] = _power.power_to_json(state.power)
    return out


def state_from_json(raw: Mapping[str, Any]) -> JudgeState:
    if raw.get("format") != 1:
        raise ValueError(f"unknown judge state format {raw.get('format')!r}")
    try:
        roll = {str(m): tuple(float(x) for x in v) for m, v in raw["rollback"].items()}
        prom = {str(m): tuple(float(x) for x in v) for m, v in raw["promotion"].items()}
        events = {str(m): (int(v[0]), int(v[1])) for m, v in raw.get("events", {}).items()}
        decided = Verdict(raw["decided"]) if raw.get("decided") else None
        ticks = int(raw.get("ticks", 0))
    except (KeyError, TypeError, ValueError, IndexError) as e:
        raise ValueError(f"malformed judge state: {e}") from None
    if set(roll) != set(METRICS) or set(prom) != set(METRICS):
        raise ValueError(f"judge state must hold the metrics {METRICS}")
    sums = None
    if raw.get("power") is not None:  # absent in states written before the power sums
        sums = _power.power_from_json(raw["power"], len(next(iter(roll.values()))))
    return JudgeState(roll, prom, events, ticks, decided, sums)


# ---- from metrics to counts ------------------------------------------------------------


def stable_p99(
    metrics: Metrics, function: str, stable_version: int, now: float, window_s: float = 300.0
) -> float | None:
    """p99 of the stable version's warm durations over ``[now − window_s, now)``, or None
    with fewer than ``MIN_P99_SAMPLES`` warm invocations (then "slow" is not judged).
    Pass the tick's start as ``now`` to keep the threshold free of the tick's own data."""
    value, n = metrics.warm_percentile(function, stable_version, now - window_s, now, 99.0)
    return value if n >= MIN_P99_SAMPLES else None


def slow_threshold(
    metrics: Metrics,
    function: str,
    stable_version: int,
    now: float,
    *,
    window_s: float = 300.0,
    tolerance_ms: float = 1.0,
) -> float | None:
    """The duration above which a warm request of either version counts as "slow": the
    stable version's p99 (``stable_p99``) plus ``tolerance_ms``, or None while that p99 is
    unknown. Without the tolerance a handler that got 20 µs slower on a 100 µs path is
    reliably "worse" and rolled back; the same rule for both versions keeps the
    guarantee, now about "more requests beyond p99 + tolerance" rather than beyond p99."""
    p99 = stable_p99(metrics, function, stable_version, now, window_s)
    return None if p99 is None else p99 + tolerance_ms


def tick_counts(
    metrics: Metrics,
    function: str,
    canary_version: int,
    stable_version: int,
    start: float,
    end: float,
    slow_threshold_ms: float | None,
) -> TickCounts:
    """The judge's counts over ``[start, end)``. "Slow" is decided at the duration
    histogram's resolution (1 % relative error; see ``Metrics.count_slower``), by the same
    rule for both versions, so the judge's guarantee is unaffected."""
    cc = metrics.bucket_counts(function, canary_version, start, end)
    sc = metrics.bucket_counts(function, stable_version, start, end)
    if slow_threshold_ms is None:
        c_slow = s_slow = 0
    else:
        c_slow = metrics.count_slower(function, canary_version, start, end, slow_threshold_ms)
        s_slow = metrics.count_slower(function, stable_version, start, end, slow_threshold_ms)
    return TickCounts(
        canary_invocations=cc.invocations,
        stable_invocations=sc.invocations,
        canary_errors=cc.errors,
        stable_errors=sc.errors,
        canary_faults=cc.timeouts + cc.throttles,
        stable_faults=sc.timeouts + sc.throttles,
        canary_slow=c_slow,
        stable_slow=s_slow,
    )
