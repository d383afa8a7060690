"""The judge's guarantees, checked statistically on seeded simulations.

- Validity: a canary no worse than the stable version is rolled back with probability at
  most α, with traffic weights changing between steps (1 %, 10 %, 50 %) and a look at
  every event.
- Power: at 10 % weight, 100 req/s and 0.1 % stable errors, a canary that fails everything
  is rolled back after ≤ 5 failed requests (median), one that fails half after ≤ 10, one
  that fails 5 % after ≤ 100 canary requests.
- Early promotion never (rate ≤ α) promotes a canary twice as bad as the stable version,
  and its e-process crosses 1/α with probability ≤ α at the boundary of its null.

Rates are compared with α plus three binomial standard deviations.
"""

from __future__ import annotations

import math
import random
import statistics

from canaria.analysis.judge import Judge, TickCounts, Verdict
from canaria.analysis.simulation import Arm, EventJudge, Step, TickJudge, binomial, simulate
from canaria.models import JudgeSettings


def tolerance(p: float, n: int) -> float:
    return p + 3 * math.sqrt(p * (1 - p) / n)


STEPS = [Step(0.01, 30), Step(0.10, 30), Step(0.50, 30)]


def test_healthy_canary_is_rarely_rolled_back() -> None:
    alpha, trials = 0.01, 2000
    judge = Judge(JudgeSettings(alpha=alpha))
    rng = random.Random(20240501)
    same = Arm(error=0.01)  # ≈ 90 events per trial, a look at each
    false = 0
    for _ in range(trials):
        observer = EventJudge(judge)
        simulate(rng, STEPS, 100.0, same, same, [observer])
        false += observer.stop is not None
    assert false / trials <= tolerance(alpha, trials)


def test_one_metric_crosses_at_most_alpha_over_m() -> None:
    """A sharper check with a loose α: one metric's e-process must cross M/α with
    probability at most α/M = 0.1, at 1-second ticks as the controller runs the judge."""
    trials = 1000
    judge = Judge(JudgeSettings(alpha=0.3))
    rng = random.Random(7)
    same = Arm(error=0.01)
    false = 0
    for _ in range(trials):
        observer = TickJudge(judge)
        simulate(rng, STEPS, 100.0, same, same, [observer], boundaries_every_s=((1.0, 0.0),))
        false += observer.stop is not None
    assert false / trials <= tolerance(0.1, trials)


def blast_radius(canary_error: float, trials: int = 301) -> tuple[float, float]:
    judge = Judge(JudgeSettings())
    rng = random.Random(int(canary_error * 1000) + 1)
    failed, requests = [], []
    for _ in range(trials):
        observer = EventJudge(judge)
        simulate(
            rng, [Step(0.10, 3600)], 100.0, Arm(error=canary_error), Arm(error=0.001), [observer]
        )
        assert observer.stop is not None and observer.stop.verdict is Verdict.ROLLBACK
        failed.append(observer.stop.canary_errors)
        requests.append(observer.stop.canary_requests)
    return statistics.median(failed), statistics.median(requests)


def test_power_canary_failing_everything() -> None:
    failed, _ = blast_radius(1.0)
    assert failed <= 5


def test_power_canary_failing_half() -> None:
    failed, _ = blast_radius(0.5)
    assert failed <= 10


def test_power_canary_failing_five_percent() -> None:
    _, requests = blast_radius(0.05)
    assert requests <= 100


def promotion_runs(
    canary_p: float, stable_p: float, metrics: int, trials: int, alpha: float, seed: int
) -> tuple[int, int]:
    """Ticks of 100 invocations at weights 1 %, 10 %, 50 %; ``metrics`` kinds of events
    drawn independently. Returns (promotions, trials where the errors e-process of early
    promotion crossed 1/α)."""
    judge = Judge(JudgeSettings(early_promotion=True, alpha=alpha))
    rng = random.Random(seed)
    promoted = crossed = 0
    for _ in range(trials):
        state, hit = judge.initial_state(), False
        for tick in range(90):
            ci = (1, 10, 50)[tick // 30]
            si = 100 - ci
            ev = [0] * 6
            for k in range(metrics):
                ev[2 * k] = binomial(rng, ci, canary_p)
                ev[2 * k + 1] = binomial(rng, si, stable_p)
            state, verdict = judge.update(state, TickCounts(ci, si, *ev))
            hit = hit or judge.promotion_evidence(state)["errors"] >= 1 / alpha
            if verdict is Verdict.PROMOTE:
                promoted += 1
                break
        crossed += hit
    return promoted, crossed


def test_early_promotion_never_for_a_canary_twice_as_bad() -> None:
    trials, alpha = 200, 0.05
    promoted, crossed = promotion_runs(0.10, 0.05, 3, trials, alpha, seed=11)
    assert promoted / trials <= tolerance(alpha, trials)
    assert crossed / trials <= tolerance(alpha, trials)


def test_early_promotion_e_process_at_the_null_boundary() -> None:
    """Canary odds exactly 1.5 × the stable version's (δ = 0.5): the errors e-process
    crosses 1/α with probability at most α."""
    trials, alpha, stable_p = 400, 0.1, 0.05
    odds = 1.5 * stable_p / (1 - stable_p)
    _, crossed = promotion_runs(odds / (1 + odds), stable_p, 1, trials, alpha, seed=12)
    assert crossed / trials <= tolerance(alpha, trials)


def test_early_promotion_happens_for_a_much_better_canary() -> None:
    promoted, _ = promotion_runs(0.005, 0.05, 3, 50, 0.05, seed=13)
    assert promoted >= 40
