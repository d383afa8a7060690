"""The controller against another writer of the same store (a second canaria process on
one PostgreSQL, or on one SQLite file): it never overwrites what the other wrote."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import replace

import pytest

from canaria.clock import ManualClock
from canaria.controller.plan import Command
from canaria.controller.service import Controller
from canaria.controller.transitions import transition
from canaria.errors import Conflict
from canaria.models import Alias
from canaria.models.deployment import (
    Deployment,
    DeploymentEvent,
    HookExecution,
    HookStatus,
    SetWeight,
    State,
    Target,
)
from canaria.store import Store, make_engine
from tests.unit.controller.fakes import RecordingBackend, ScriptedHooks, SettableSignals


class OtherWriterFirst(Store):
    """A store whose next deployment write is preceded by another process's write: the
    other writer stops the deployment (with rollback) between our read and our write."""

    def __init__(self, url: str, other: Store) -> None:
        super().__init__(make_engine(url))
        self.other = other
        self.armed = True

    def save_deployment(
        self,
        d: Deployment,
        *,
        aliases: Sequence[Alias] = (),
        events: Sequence[DeploymentEvent] = (),
        hooks: Sequence[HookExecution] = (),
    ) -> Deployment:
        if self.armed:
            self.armed = False
            theirs = self.other.deployment(d.id)
            stopped, ev = transition(
                theirs, State.STOPPED, 2000.0, reason="stopped elsewhere", rolled_back=True
            )
            self.other.save_deployment(stopped, aliases=[Alias("Fn", "live", 1)], events=[ev])
        return super().save_deployment(d, aliases=aliases, events=events, hooks=hooks)


@pytest.fixture
def stores(any_store: Store) -> Iterator[tuple[Store, OtherWriterFirst]]:
    url = any_store.engine.url.render_as_string(hide_password=False)
    mine = OtherWriterFirst(url, any_store)
    yield any_store, mine
    mine.close()


def deployment(now: float) -> Deployment:
    return Deployment(
        id="d-WRITERS00",
        application="app",
        targets=(Target("Fn", "live", 1, 2),),
        config_name="Custom",
        steps=(SetWeight(0.5, 600), SetWeight(1.0)),
        created_at=now,
        updated_at=now,
        next_wake_at=now,
    )


async def test_a_step_that_lost_the_race_rereads_and_does_not_overwrite(
    stores: tuple[Store, OtherWriterFirst],
) -> None:
    other, mine = stores
    mine.armed = False
    clock = ManualClock(start=1000.0)
    backend = RecordingBackend()
    ctl = Controller(mine, clock, backend, ScriptedHooks(), SettableSignals())
    other.put_alias(Alias("Fn", "live", 1), 0.0)
    await ctl.start(deployment(clock.now()))  # Created → BeforeAllowTraffic
    mine.armed = True  # the next write from this controller loses to the other writer
    d = await ctl.step("d-WRITERS00")
    assert d.state is State.STOPPED and d.rolled_back  # what the other writer wrote
    stored = other.deployment(d.id)
    assert stored == d
    assert other.alias("Fn", "live") == Alias("Fn", "live", 1)  # never at 50 %
    assert Alias("Fn", "live", 1, 2, 0.5) not in backend.applied
    messages = [e.message for e in other.events(d.id)]
    assert any("stopped elsewhere" in m for m in messages)
    assert not any("step 1/2" in m for m in messages)  # our lost plan left no trace
    with pytest.raises(Conflict, match="already completed"):
        await ctl.command(d.id, Command.PROMOTE)


class ReportArrivesFirst(Store):
    """A store where the hook's report lands between the controller's read and its write
    (the controller is about to time the hook out)."""

    def __init__(self, url: str) -> None:
        super().__init__(make_engine(url))
        self.report: tuple[str, str] | None = None

    def save_deployment(
        self,
        d: Deployment,
        *,
        aliases: Sequence[Alias] = (),
        events: Sequence[DeploymentEvent] = (),
        hooks: Sequence[HookExecution] = (),
    ) -> Deployment:
        if self.report is not None and hooks:
            deployment_id, execution_id = self.report
            self.report = None
            self.report_hook(deployment_id, execution_id, HookStatus.SUCCEEDED, 1500.0)
        return super().save_deployment(d, aliases=aliases, events=events, hooks=hooks)


async def test_a_hook_report_racing_its_timeout_wins(any_store: Store) -> None:
    url = any_store.engine.url.render_as_string(hide_password=False)
    store = ReportArrivesFirst(url)
    try:
        clock = ManualClock(start=1000.0)
        ctl = Controller(store, clock, RecordingBackend(), ScriptedHooks(), SettableSignals())
        store.put_alias(Alias("Fn", "live", 1), 0.0)
        d = replace(deployment(clock.now()), pre_traffic_hook="Hook", hook_timeout_s=60.0)
        started = await ctl.start(d)
        (hook,) = store.hooks(started.id)
        clock.set(hook.deadline + 1)  # past the deadline: this step would time it out
        store.report = (started.id, hook.execution_id)
        stepped = await ctl.step(started.id)
        assert stepped.state is State.ALLOW_TRAFFIC  # the report stood; traffic moves
        assert store.hook(hook.execution_id).status is HookStatus.SUCCEEDED
        assert stepped.error_code is None
    finally:
        store.close()
