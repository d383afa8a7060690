"""The judge between ticks: a rollback decided by a request's result moves the alias
before the next request is routed, then is written; the progress written is the state
and cursor a restarted server goes on from."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from canaria.analysis import Metrics
from canaria.analysis.judge import state_from_json
from canaria.controller.signals import LocalSignals
from canaria.models import Alias
from canaria.models.deployment import SetWeight, State
from tests.unit.controller.test_controller_steps import Live


class World(Live):
    """The controller on real signals, wired as the platform wires them, with requests
    reported as the platform reports them (in flight, then the result)."""

    def __init__(self, tmp: Path) -> None:
        super().__init__(tmp)
        self.ctl.listeners.append(self.signals.follow)

    def request(self, version: int, *, error: bool) -> None:
        started = self.clock.now()
        self.metrics.record_concurrency(started, "Fn", version, "live", 1)
        self.clock.advance(0.002)
        self.metrics.record_concurrency(self.clock.now(), "Fn", version, "live", 0)
        self.metrics.record(started, "Fn", version, "live", duration_ms=2.0, error=error)
        self.clock.advance(0.008)

    def routed(self) -> Alias:
        return self.backend.current[("Fn", "live")]


STEPS = (SetWeight(0.1, 600), SetWeight(1.0))


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    w = World(tmp_path)
    yield w
    w.store.close()


async def test_the_failing_request_that_decides_moves_the_alias_at_once(world: World) -> None:
    d = await world.ctl.start(world.deployment(STEPS))
    d = await world.ctl.step(d.id)
    assert world.routed() == Alias("Fn", "live", 1, 2, 0.1)
    failed = 0
    for i in range(1000):
        canary = i % 10 == 9
        world.request(2 if canary else 1, error=canary)
        failed += canary
        if world.routed() == Alias("Fn", "live", 1):
            break
    # moved within the request: no tick, no await in between
    assert world.routed() == Alias("Fn", "live", 1) and failed == 4
    await world.ctl.drain()
    stored = world.store.deployment(d.id)
    assert stored.state is State.STOPPED and stored.rolled_back and stored.stopped_by == "judge"
    assert world.store.alias("Fn", "live") == Alias("Fn", "live", 1)


async def test_the_progress_written_is_where_a_restarted_server_goes_on(
    world: World,
) -> None:
    d = await world.ctl.start(world.deployment(STEPS))
    d = await world.ctl.step(d.id)
    for i in range(200):
        world.request(2 if i % 10 == 9 else 1, error=i % 50 == 0)
    world.clock.advance(1.0)
    d = await world.ctl.step(d.id)
    progress = world.store.deployment(d.id).judge.progress
    state = state_from_json(progress.states["Fn"])
    assert state.power is not None and (state.power.canary, state.power.stable) == (20, 180)
    assert progress.since["Fn"] > d.created_at

    # a new server on the same store: the same cursor and state, nothing counted again
    metrics = Metrics()
    again = LocalSignals(metrics, world.store, world.clock)
    judged, _, _ = again.judge(world.store.deployment(d.id), world.clock.now())
    assert judged.states["Fn"] == progress.states["Fn"]
    assert judged.since["Fn"] == progress.since["Fn"]


async def test_a_tick_while_the_first_interval_is_still_open_loses_nothing(world: World) -> None:
    d = await world.ctl.start(world.deployment(STEPS))
    world.clock.advance(0.0003)  # the step starts inside a slot
    d = await world.ctl.step(d.id)
    slow_started = world.clock.now()  # a long request holds every later interval open
    world.metrics.record_concurrency(slow_started, "Fn", 1, None, 1)
    world.clock.advance(0.001)
    for i in range(50):
        world.request(2 if i % 10 == 9 else 1, error=False)
    world.clock.advance(1.0)
    d = await world.ctl.step(d.id)  # nothing closed yet: the judge in memory stays
    world.metrics.record_concurrency(world.clock.now(), "Fn", 1, None, 0)
    world.metrics.record(slow_started, "Fn", 1, None, duration_ms=1500.0, error=False)
    world.clock.advance(1.0)
    d = await world.ctl.step(d.id)
    state = state_from_json(d.judge.progress.states["Fn"])
    assert state.power is not None and (state.power.canary, state.power.stable) == (5, 46)
