"""What the judge could have caught (``Judge.detectable``), checked by seeded simulation:
a canary failing at the rate the judge reports as detectable after N canary requests is
rolled back within those N requests at least 19 times out of 20 (allowing for sampling
error), and the figure is not vacuously conservative either."""

from __future__ import annotations

import math
import random

import pytest

from canaria.analysis.judge import (
    Judge,
    JudgeState,
    TickCounts,
    Verdict,
    state_from_json,
    state_to_json,
)
from canaria.analysis.power import PowerSums
from canaria.models import JudgeSettings

STABLE_RATE = 0.001


def binomial(rng: random.Random, n: int, p: float) -> int:
    return sum(rng.random() < p for _ in range(n))


def quiet_state(judge: Judge, ticks: int, canary: int, stable: int) -> JudgeState:
    """The judge's state after ``ticks`` intervals in which neither version failed."""
    state = judge.initial_state()
    for _ in range(ticks):
        state, _ = judge.update(state, TickCounts(canary, stable, 0, 0, 0, 0, 0, 0))
    return state


def caught(
    judge: Judge, rng: random.Random, ticks: int, canary: int, stable: int, p: float
) -> bool:
    state = judge.initial_state()
    for _ in range(ticks):
        c, b = binomial(rng, canary, p), binomial(rng, stable, STABLE_RATE)
        state, verdict = judge.update(state, TickCounts(canary, stable, c, b, 0, 0, 0, 0))
        if verdict is Verdict.ROLLBACK:
            return True
    return False


def test_nothing_is_detectable_before_both_versions_served() -> None:
    judge = Judge(JudgeSettings())
    assert judge.detectable(judge.initial_state()) is None
    # a canary serving alone carries no evidence about the split
    assert judge.detectable(quiet_state(judge, 5, 3, 0)) is None


def test_the_detectable_rate_falls_as_the_canary_serves_more() -> None:
    judge = Judge(JudgeSettings())
    rates = [judge.detectable(quiet_state(judge, n, 1, 9)) for n in (13, 30, 100, 400)]
    assert rates[0] is not None and all(r is not None for r in rates)
    assert rates == sorted(rates, reverse=True) and len(set(rates)) == 4
    # 13 canary requests at 10 %: the hello walkthrough at --time-scale 60 cannot tell a
    # third of its requests failing from none
    assert rates[0] > 1 / 3
    assert rates[-1] < 0.05  # type: ignore[operator]


def test_a_canary_failing_every_request_is_not_detectable_after_one_request() -> None:
    judge = Judge(JudgeSettings())
    assert judge.detectable(quiet_state(judge, 1, 1, 9)) is None


@pytest.mark.parametrize(("ticks", "canary", "stable"), [(40, 1, 9), (10, 5, 45), (30, 10, 10)])
def test_a_canary_failing_at_the_detectable_rate_is_caught_19_times_out_of_20(
    ticks: int, canary: int, stable: int
) -> None:
    judge = Judge(JudgeSettings())
    rng = random.Random(ticks * 1000 + canary)
    # the stable version's observed rate, as the judge would see it in a real run
    state = judge.initial_state()
    for _ in range(ticks):
        b = binomial(rng, stable, STABLE_RATE)
        state, _ = judge.update(state, TickCounts(canary, stable, 0, b, 0, 0, 0, 0))
    rate = judge.detectable(state)
    assert rate is not None and rate < 1.0
    trials = 400
    hits = sum(caught(judge, rng, ticks, canary, stable, rate) for _ in range(trials))
    assert hits / trials >= 0.95 - 3 * math.sqrt(0.95 * 0.05 / trials)
    # and it is a real boundary: a canary failing a third as often is mostly missed
    low = sum(caught(judge, rng, ticks, canary, stable, rate / 3) for _ in range(trials))
    assert low / trials < 0.5


def test_the_power_sums_survive_the_state_json_and_old_states_read() -> None:
    judge = Judge(JudgeSettings())
    state = quiet_state(judge, 20, 2, 8)
    again = state_from_json(state_to_json(state))
    assert again == state and judge.detectable(again) == judge.detectable(state)
    raw = state_to_json(state)
    del raw["power"]  # a state written before the power sums: nothing detectable yet
    old = state_from_json(raw)
    assert old.power is None and judge.detectable(old) is None
    raw["power"] = {**state_to_json(state)["power"], "a": [1.0]}
    with pytest.raises(ValueError, match="grid"):
        state_from_json(raw)


def test_power_sums_skip_one_sided_intervals() -> None:
    sums = PowerSums.empty(2)
    assert sums.add((0.1, 0.2), (0.1, 0.2), 0, 5) == sums
    assert sums.add((0.1, 0.2), (0.1, 0.2), 5, 0) == sums
    assert sums.add((0.1, 0.2), (0.1, 0.2), 1, 1).canary == 1
