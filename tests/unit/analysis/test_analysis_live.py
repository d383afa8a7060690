"""The judge fed request by request: when a slot closes, what it holds, and that a judge
rebuilt from its persisted state and cursor counts every result exactly once."""

from __future__ import annotations

import random
from dataclasses import dataclass

import pytest

from canaria.analysis.judge import Judge, TickCounts, Verdict, state_from_json, state_to_json
from canaria.analysis.live import SLOT_S, LiveJudge
from canaria.models import JudgeSettings

CANARY, STABLE = 2, 1
T0 = 1_000.0  # on the slot grid


@dataclass(frozen=True)
class Result:
    started: float
    version: int
    error: bool


def live_judge(since: float = T0, judge: Judge | None = None) -> LiveJudge:
    j = judge or Judge(JudgeSettings())
    return LiveJudge(j, j.initial_state(), since, CANARY, STABLE)


def finish(live: LiveJudge, r: Result, now: float | None = None) -> bool:
    live.finished(
        r.started,
        r.version,
        error=r.error,
        fault=False,
        throttled=False,
        duration_ms=1.0,
        cold_start=False,
    )
    return live.advance(r.started if now is None else now)


def test_a_slot_is_judged_once_the_slot_after_it_has_passed() -> None:
    live = live_judge()
    finish(live, Result(T0 + 0.0001, CANARY, True))
    finish(live, Result(T0 + 0.0002, STABLE, False))
    assert live.state.ticks == 0
    live.advance(T0 + 2 * SLOT_S - 1e-6)
    assert live.state.ticks == 0  # the next slot may still hold a request started in this one
    live.advance(T0 + 2 * SLOT_S)
    assert live.state.ticks == 1 and live.state.events["errors"] == (1, 0)
    assert live.since == pytest.approx(T0 + SLOT_S)


def test_a_slot_waits_for_every_request_that_started_in_it() -> None:
    live = live_judge()
    live.started(T0 + 0.0001)  # a long request, still running
    live.started(T0 + 0.0002)
    finish(live, Result(T0 + 0.0002, CANARY, True), now=T0 + 1.0)
    assert live.state.ticks == 0  # its slot is not complete
    finish(live, Result(T0 + 0.0001, STABLE, False), now=T0 + 1.0)
    assert live.state.ticks == 1 and live.late == 0
    assert live.state.events["errors"] == (1, 0)


def test_slots_served_by_one_version_are_merged_into_the_next() -> None:
    live = live_judge()
    for k in range(9):
        finish(live, Result(T0 + k * SLOT_S, STABLE, False))
    finish(live, Result(T0 + 9 * SLOT_S, CANARY, True))
    live.advance(T0 + 1.0)
    assert live.state.ticks == 1
    assert live.state.power is not None and (live.state.power.canary, live.state.power.stable) == (
        1,
        9,
    )


def test_the_interval_judged_is_the_one_the_judge_would_get_as_a_tick() -> None:
    j = Judge(JudgeSettings())
    live = live_judge(judge=j)
    for r in (Result(T0, CANARY, True), Result(T0, STABLE, False), Result(T0, STABLE, True)):
        finish(live, r)
    live.advance(T0 + 1.0)
    expected, _ = j.update(j.initial_state(), TickCounts(1, 2, 1, 1, 0, 0, 0, 0))
    assert state_to_json(live.state) == state_to_json(expected)


def test_a_canary_failing_every_request_is_rolled_back_at_the_decisive_result() -> None:
    live = live_judge()
    failed = 0
    for i in range(1000):  # 100 req/s, every tenth to the canary
        canary = i % 10 == 9
        failed += canary
        if finish(live, Result(T0 + i / 100, CANARY if canary else STABLE, canary)):
            break
    assert live.state.decided is Verdict.ROLLBACK
    assert failed == 4  # the event-level figure: nothing waits for a tick


def test_a_result_after_its_slot_closed_is_judged_with_the_first_open_slot() -> None:
    live = live_judge()
    finish(live, Result(T0, CANARY, False))
    finish(live, Result(T0, STABLE, False))
    live.advance(T0 + 1.0)
    finish(live, Result(T0, CANARY, True), now=T0 + 1.0)  # a start the metrics never saw
    assert live.late == 1
    finish(live, Result(T0 + 1.0, STABLE, False), now=T0 + 2.0)
    assert live.state.events["errors"] == (1, 0)


def test_a_request_waiting_for_an_environment_holds_no_slot() -> None:
    live = live_judge()
    live.started(T0 + 0.0001)  # a cold start: it waits for its environment
    live.started(T0 + 0.0002)
    live.started(T0 + 0.0003)
    finish(live, Result(T0 + 0.0002, CANARY, True), now=T0 + 0.5)
    finish(live, Result(T0 + 0.0003, STABLE, False), now=T0 + 0.5)
    assert live.state.ticks == 0  # held by the request that has not ended
    live.waiting(T0 + 0.0001)
    assert live.advance(T0 + 0.5) is False
    assert live.state.ticks == 1 and live.state.events["errors"] == (1, 0)
    live.finished(
        T0 + 0.0001,
        STABLE,
        error=False,
        fault=False,
        throttled=False,
        duration_ms=400.0,
        cold_start=True,
        waited=True,
    )
    assert live.late == 1  # judged with the first open slot
    finish(live, Result(T0 + 0.6, CANARY, False), now=T0 + 1.0)
    assert live.state.ticks == 2 and live.state.events["errors"] == (1, 0)


def test_starts_whose_end_never_comes_are_let_go() -> None:
    live = live_judge()
    live.started(T0)  # its invocation failed before any result was recorded
    live.started(T0 + 0.0001)
    live.started(T0 + 0.0001)
    finish(live, Result(T0 + 0.0001, CANARY, True))
    finish(live, Result(T0 + 0.0001, STABLE, False), now=T0 + 1.0)
    assert live.state.ticks == 0
    live.forget_starts(in_flight=0)
    live.advance(T0 + 1.0)
    assert live.state.ticks == 1


def test_results_before_the_cursor_are_left_out() -> None:
    live = live_judge(since=T0 + 10 * SLOT_S)
    finish(live, Result(T0, CANARY, True))
    finish(live, Result(T0, STABLE, True))
    live.advance(T0 + 1.0)
    assert live.state.ticks == 0 and live.late == 0


def stream(seed: int, n: int = 600) -> list[Result]:
    """Requests at ~300/s, 10 % to a canary failing 20 %, the stable version 5 %."""
    rng = random.Random(seed)
    out = []
    t = T0
    for i in range(n):
        t += rng.expovariate(300.0)
        canary = i % 10 == 3
        fails = rng.random() < (0.2 if canary else 0.05)
        out.append(Result(t, CANARY if canary else STABLE, fails))
    return out


def run(live: LiveJudge, results: list[Result]) -> None:
    for r in results:
        finish(live, r)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_a_judge_rebuilt_from_its_persisted_state_counts_each_result_once(seed: int) -> None:
    """Persist (state, since) at arbitrary points, rebuild, and give the rebuilt judge every
    result again, older ones included: it ends where an uninterrupted judge ends."""
    j = Judge(JudgeSettings(alpha=1e-9))  # never decides: the sums are what is compared
    results = stream(seed)
    whole = live_judge(judge=j)
    run(whole, results)
    whole.advance(T0 + 60.0)

    rng = random.Random(seed)
    cuts = sorted(rng.sample(range(1, len(results)), 4))
    live = live_judge(judge=j)
    done = 0
    for cut in [*cuts, len(results)]:
        run(live, results[done:cut])
        done = cut
        saved = state_to_json(live.state), live.since  # what the deployment row holds
        live = LiveJudge(j, state_from_json(saved[0]), saved[1], CANARY, STABLE)
        run(live, results[:done])  # replayed: all of it was counted before
        assert live.late == 0
    live.advance(T0 + 60.0)
    assert state_to_json(live.state) == state_to_json(whole.state)
    assert live.state.power is not None and live.state.power.canary == 60
