"""The judge's arithmetic, checked against sums computed here by hand with math.log."""

from __future__ import annotations

import json
import math

import pytest

from canaria.analysis.judge import (
    DEFAULT_GRID,
    Judge,
    TickCounts,
    Verdict,
    slow_threshold,
    stable_p99,
    state_from_json,
    state_to_json,
    tick_counts,
)
from canaria.analysis.metrics import Metrics
from canaria.models import JudgeSettings

GRID = (1.25, 1.5, 2.0, 3.0, 5.0, 10.0, 30.0, 100.0, 1000.0)


def errors_tick(ci: int, si: int, c: int, b: int) -> TickCounts:
    return TickCounts(ci, si, c, b, 0, 0, 0, 0)


def binomial_loglik(r: float, w: float, c: int, b: int) -> float:
    theta = w * r / (w * r + 1 - w)
    return c * math.log(theta / w) + b * math.log((1 - theta) / (1 - w))


def test_default_grid_and_threshold() -> None:
    j = Judge(JudgeSettings())
    assert DEFAULT_GRID == GRID
    assert j.threshold() == pytest.approx(300.0)  # M / α with M = 3, α = 0.01
    assert j.evidence(j.initial_state()) == {"errors": 1.0, "faults": 1.0, "slow": 1.0}


def test_two_ticks_by_hand() -> None:
    j = Judge(JudgeSettings())
    s, v = j.update(j.initial_state(), errors_tick(10, 90, 2, 1))
    assert v is Verdict.CONTINUE
    s, v = j.update(s, errors_tick(50, 50, 0, 3))
    # tick 1: w = 0.1, c = 2, b = 1; tick 2: w = 0.5, c = 0, b = 3
    by_hand = sum(
        (1 / 9) * math.exp(binomial_loglik(r, 0.1, 2, 1) + binomial_loglik(r, 0.5, 0, 3))
        for r in GRID
    )
    assert j.evidence(s)["errors"] == pytest.approx(by_hand, rel=1e-12)
    assert j.evidence(s)["faults"] == 1.0 and j.evidence(s)["slow"] == 1.0
    assert s.events["errors"] == (2, 4) and s.ticks == 2
    # r = 1000 written out: tick 1 θ = 100 / 100.9; tick 2 (1 − θ) / (1 − w) = 1 / 500.5
    theta = 100 / 100.9
    assert s.log_evidence["errors"][-1] == pytest.approx(
        2 * math.log(theta / 0.1) + math.log((1 - theta) / 0.9) + 3 * math.log(1 / 500.5)
    )


def test_rollback_exactly_when_evidence_reaches_m_over_alpha() -> None:
    j = Judge(JudgeSettings())
    state = j.initial_state()
    for failures in range(1, 10):  # each tick: one failed canary request, w = 0.1
        state, verdict = j.update(state, errors_tick(1, 9, 1, 0))
        by_hand = sum((1 / 9) * math.exp(failures * binomial_loglik(r, 0.1, 1, 0)) for r in GRID)
        assert (verdict is Verdict.ROLLBACK) == (by_hand >= 300.0), failures
        if verdict is Verdict.ROLLBACK:
            break
    assert failures == 4  # 3 failures: E ≈ 248; 4: E ≈ 2,000
    # latched: a healthy tick afterwards does not undo it
    state, verdict = j.update(state, errors_tick(10, 90, 0, 5))
    assert verdict is Verdict.ROLLBACK and state.decided is Verdict.ROLLBACK


def test_uninformative_ticks_change_nothing() -> None:
    j = Judge(JudgeSettings())
    s0 = j.initial_state()
    for counts in (
        errors_tick(0, 90, 0, 3),  # no canary invocations
        errors_tick(10, 0, 3, 0),  # no stable invocations
        errors_tick(10, 90, 0, 0),  # no events
    ):
        s, v = j.update(s0, counts)
        assert v is Verdict.CONTINUE
        assert s.log_evidence == s0.log_evidence and s.log_promotion == s0.log_promotion


def test_each_metric_has_its_own_e_process() -> None:
    j = Judge(JudgeSettings())
    s, _ = j.update(j.initial_state(), TickCounts(10, 90, 0, 0, 1, 0, 0, 2))
    assert s.log_evidence["errors"] == (0.0,) * 9
    assert s.log_evidence["faults"] == pytest.approx([binomial_loglik(r, 0.1, 1, 0) for r in GRID])
    assert s.log_evidence["slow"] == pytest.approx([binomial_loglik(r, 0.1, 0, 2) for r in GRID])


def test_disabled_judge_never_decides() -> None:
    j = Judge(JudgeSettings(enabled=False))
    s, v = j.update(j.initial_state(), errors_tick(10, 90, 10, 0))
    assert v is Verdict.CONTINUE and j.evidence(s)["errors"] > 1e6


def test_promotion_step_by_hand() -> None:
    """ci = 2, si = 3, k = 2 events, c = 1: Z(ψ) = C(2,0)C(3,2) + C(2,1)C(3,1)ψ + C(2,2)ψ²
    = 3 + 6ψ + ψ², and P_ψ(c = 1) = 6ψ / Z(ψ). Alternatives ψ_g = 1.5 / g."""
    j = Judge(JudgeSettings(early_promotion=True, delta=0.5))
    s, v = j.update(j.initial_state(), errors_tick(2, 3, 1, 1))
    assert v is Verdict.CONTINUE

    def log_p(psi: float) -> float:
        return math.log(6 * psi / (3 + 6 * psi + psi**2))

    steps = [log_p(1.5 / g) - log_p(1.5) for g in GRID]
    assert s.log_promotion["errors"] == pytest.approx(steps, rel=1e-12)
    by_hand = sum((1 / 9) * math.exp(x) for x in steps)
    assert j.promotion_evidence(s)["errors"] == pytest.approx(by_hand, rel=1e-12)
    # without early promotion the second process is not advanced
    off = Judge(JudgeSettings())
    s, _ = off.update(off.initial_state(), errors_tick(2, 3, 1, 1))
    assert off.promotion_evidence(s)["errors"] == 1.0


def test_promotion_needs_every_metric() -> None:
    j = Judge(JudgeSettings(early_promotion=True, alpha=0.05))
    better_on_two = TickCounts(50, 50, 0, 5, 0, 0, 0, 5)  # no faults at all
    s = j.initial_state()
    for _ in range(50):
        s, v = j.update(s, better_on_two)
        assert v is Verdict.CONTINUE
    assert j.promotion_evidence(s)["errors"] > 1e6 and j.promotion_evidence(s)["faults"] == 1.0
    better_on_all = TickCounts(50, 50, 0, 5, 0, 5, 0, 5)
    s = j.initial_state()
    verdicts = []
    for _ in range(50):
        s, v = j.update(s, better_on_all)
        verdicts.append(v)
    assert Verdict.PROMOTE in verdicts and Verdict.ROLLBACK not in verdicts


def test_state_survives_json() -> None:
    j = Judge(JudgeSettings(early_promotion=True))
    s = j.initial_state()
    for counts in (errors_tick(10, 90, 2, 1), TickCounts(5, 5, 1, 0, 2, 1, 0, 3)):
        s, _ = j.update(s, counts)
    raw = json.loads(json.dumps(state_to_json(s), allow_nan=False))
    back = state_from_json(raw)
    assert back == s
    assert Judge.state_from_json(Judge.state_to_json(s)) == s
    s2, v = j.update(back, errors_tick(1, 1, 1, 0))
    assert v is Verdict.CONTINUE and s2.ticks == 3


def test_bad_state_and_settings_are_refused() -> None:
    with pytest.raises(ValueError, match="format"):
        state_from_json({"format": 2})
    with pytest.raises(ValueError, match="malformed"):
        state_from_json({"format": 1, "rollback": {"errors": ["x"]}, "promotion": {}})
    j = Judge(JudgeSettings())
    other = Judge(JudgeSettings(), grid=(2.0, 4.0))
    with pytest.raises(ValueError, match="grid"):
        j.update(other.initial_state(), errors_tick(1, 1, 1, 0))
    with pytest.raises(ValueError, match="> 1"):
        Judge(JudgeSettings(), grid=(0.5, 2.0))
    with pytest.raises(ValueError, match="prior"):
        Judge(JudgeSettings(), grid=(2.0, 4.0), prior=(1.0,))
    with pytest.raises(ValueError, match="alpha"):
        Judge(JudgeSettings(alpha=0.0))
    with pytest.raises(ValueError, match="slow_tolerance_ms"):
        Judge(JudgeSettings(slow_tolerance_ms=-1.0))
    with pytest.raises(ValueError, match="negative"):
        j.update(j.initial_state(), errors_tick(1, 1, -1, 0))


def test_custom_prior_weights_the_mixture() -> None:
    j = Judge(JudgeSettings(), grid=(2.0, 10.0), prior=(3.0, 1.0))
    s, _ = j.update(j.initial_state(), errors_tick(1, 1, 1, 0))
    by_hand = 0.75 * math.exp(binomial_loglik(2.0, 0.5, 1, 0)) + 0.25 * math.exp(
        binomial_loglik(10.0, 0.5, 1, 0)
    )
    assert j.evidence(s)["errors"] == pytest.approx(by_hand)


T0 = 1_700_000_000.0


def test_tick_counts_and_stable_p99_from_metrics() -> None:
    m = Metrics()
    for i in range(200):  # stable v1: 1..200 ms, warm
        m.record(T0 - 100 + i % 100, "f", 1, "prd", duration_ms=i + 1.0, error=i < 2)
    m.record(T0 - 50, "f", 1, "prd", duration_ms=9000.0, error=False, cold_start=True)
    p99 = stable_p99(m, "f", 1, T0, 300)
    assert p99 == pytest.approx(198.0, rel=0.01)  # the cold start is left out
    assert stable_p99(m, "f", 1, T0 - 99, 300) is None  # too few samples yet
    assert slow_threshold(m, "f", 1, T0, tolerance_ms=50.0) == pytest.approx(p99 + 50.0)
    assert slow_threshold(m, "f", 1, T0 - 99, tolerance_ms=50.0) is None
    # one tick [T0, T0 + 1): canary v2 and stable v1
    for d, err, thr, to, cold in (
        (500.0, True, False, True, False),  # timed out: error, fault and slow
        (600.0, False, False, False, True),  # cold start: not slow
        (700.0, False, False, False, False),  # slow
        (0.0, False, True, False, False),  # throttled: a fault, not an invocation
        (5.0, False, False, False, False),
    ):
        m.record(
            T0 + 0.5,
            "f",
            2,
            "prd",
            duration_ms=d,
            error=err,
            throttled=thr,
            timed_out=to,
            cold_start=cold,
        )
    for d in (10.0, 20.0, 1000.0):
        m.record(T0 + 0.2, "f", 1, "prd", duration_ms=d, error=d > 100)
    counts = tick_counts(m, "f", 2, 1, T0, T0 + 1, p99)
    assert counts == TickCounts(
        canary_invocations=4,
        stable_invocations=3,
        canary_errors=1,
        stable_errors=1,
        canary_faults=2,
        stable_faults=0,
        canary_slow=2,
        stable_slow=1,
    )
    assert tick_counts(m, "f", 2, 1, T0, T0 + 1, None).canary_slow == 0
