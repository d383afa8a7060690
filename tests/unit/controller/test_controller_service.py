"""The controller end to end on a real SQLite store, a manual clock and in-memory fakes."""

from __future__ import annotations

from pathlib import Path

import pytest

from canaria.clock import ManualClock
from canaria.controller.deployments import new_deployment
from canaria.controller.plan import Command, GateProgress, Verdict
from canaria.controller.service import Controller
from canaria.errors import Conflict
from canaria.models import Alias, DeploymentPreference, JudgeSettings
from canaria.models.deployment import (
    Deployment,
    HookStatus,
    ManualGate,
    RequestGate,
    SetWeight,
    State,
    Step,
    Target,
)
from canaria.store import Store
from tests.unit.controller.fakes import RecordingBackend, ScriptedHooks, SettableSignals


class World:
    def __init__(self, tmp: Path) -> None:
        self.clock = ManualClock(start=1000.0)
        self.store = Store.open(str(tmp / "state"))
        self.backend = RecordingBackend()
        self.hooks = ScriptedHooks()
        self.signals = SettableSignals()
        self.notified: list[tuple[str, str]] = []

        async def notifier(d: Deployment, event: str) -> None:
            self.notified.append((d.id, event))

        self.ctl = Controller(
            self.store, self.clock, self.backend, self.hooks, self.signals, notifier
        )
        for fn in ("Fn", "Other"):
            self.store.put_alias(Alias(fn, "live", 1), self.clock.now())

    def deployment(
        self,
        config: str = "AllAtOnce",
        *,
        pre: str | None = None,
        post: str | None = None,
        alarms: tuple[str, ...] = (),
        steps: tuple[Step, ...] | None = None,
        functions: tuple[str, ...] = ("Fn",),
        ignore_alarms: bool = False,
    ) -> Deployment:
        pref = DeploymentPreference(
            type=config,
            alarms=alarms,
            pre_traffic_hook=pre,
            post_traffic_hook=post,
            hook_timeout_s=600,
            judge=JudgeSettings(enabled=True),
        )
        return new_deployment(
            application="app",
            targets=[Target(fn, "live", 1, 2) for fn in functions],
            preference=pref,
            custom_configs={},
            now=self.clock.now(),
            steps_override=steps,
            ignore_alarms=ignore_alarms,
        )

    def alias(self, fn: str = "Fn") -> Alias:
        found = self.store.alias(fn, "live")
        assert found is not None
        assert self.backend.current.get((fn, "live"), found) == found  # backend follows store
        return found

    async def advance_to(self, d: Deployment, when: float) -> Deployment:
        """Step the deployment at every wake-up until ``when`` (as the loop would)."""
        while True:
            d = self.store.deployment(d.id)
            if d.state.completed or d.next_wake_at is None or d.next_wake_at > when:
                break
            self.clock.set(max(self.clock.now(), d.next_wake_at))
            d = await self.ctl.step(d.id)
        self.clock.set(when)
        return await self.ctl.step(d.id)


@pytest.fixture
def world(tmp_path: Path) -> World:
    w = World(tmp_path)
    yield w
    w.store.close()


def weight(a: Alias) -> float:
    return 1.0 if a.version == 2 and a.additional_version is None else a.additional_weight


async def test_linear_schedule_is_exact(world: World) -> None:
    d = await world.ctl.start(world.deployment("Linear10PercentEvery1Minute"))
    t0 = world.clock.now()
    d = await world.ctl.step(d.id)
    assert d.state is State.ALLOW_TRAFFIC
    for k in range(1, 10):
        assert weight(world.alias()) == pytest.approx(k / 10)
        d = await world.advance_to(d, t0 + k * 60 - 0.5)
        assert weight(world.alias()) == pytest.approx(k / 10), f"too early at step {k}"
        d = await world.advance_to(d, t0 + k * 60)
    assert world.alias() == Alias("Fn", "live", 2)
    assert d.state is State.SUCCEEDED
    await world.ctl.drain()
    assert [e for _, e in world.notified] == ["DeploymentStart", "DeploymentSuccess"]


async def test_canary_schedule_is_exact(world: World) -> None:
    d = await world.ctl.start(world.deployment("Canary10Percent5Minutes"))
    d = await world.ctl.step(d.id)
    t0 = world.clock.now()
    assert world.alias() == Alias("Fn", "live", 1, 2, 0.1)
    d = await world.advance_to(d, t0 + 299)
    assert world.alias() == Alias("Fn", "live", 1, 2, 0.1)
    d = await world.advance_to(d, t0 + 300)
    assert world.alias() == Alias("Fn", "live", 2) and d.state is State.SUCCEEDED


async def test_pre_traffic_hook_success_then_shift(world: World) -> None:
    d = await world.ctl.start(world.deployment(pre="PreHook"))
    assert d.state is State.BEFORE_ALLOW_TRAFFIC
    await world.ctl.drain()  # let spawned hook invocations finish
    ((fn, payload),) = world.hooks.calls
    assert fn == "PreHook" and payload["DeploymentId"] == d.id
    hook = world.store.hook(payload["LifecycleEventHookExecutionId"])
    assert hook.invoked and hook.status is HookStatus.PENDING
    d = await world.ctl.step(d.id)
    assert d.state is State.BEFORE_ALLOW_TRAFFIC and world.alias() == Alias("Fn", "live", 1)
    world.store.report_hook(d.id, hook.execution_id, HookStatus.SUCCEEDED, world.clock.now())
    d = await world.ctl.step(d.id)
    assert d.state is State.AFTER_ALLOW_TRAFFIC
    d = await world.ctl.step(d.id)
    assert d.state is State.SUCCEEDED and world.alias() == Alias("Fn", "live", 2)


async def test_pre_traffic_hook_failed_leaves_alias(world: World) -> None:
    d = await world.ctl.start(world.deployment("Canary10Percent5Minutes", pre="PreHook"))
    await world.ctl.drain()
    exec_id = world.hooks.calls[0][1]["LifecycleEventHookExecutionId"]
    world.store.report_hook(d.id, exec_id, HookStatus.FAILED, world.clock.now())
    d = await world.ctl.step(d.id)
    assert d.state is State.FAILED and d.error_code == "HOOK_EXECUTION_FAILURE"
    assert not d.rolled_back and world.alias() == Alias("Fn", "live", 1)
    assert world.backend.applied == [Alias("Fn", "live", 1)] or world.backend.applied == []


async def test_hook_timeout_fails(world: World) -> None:
    d = await world.ctl.start(world.deployment(pre="PreHook"))
    d = await world.advance_to(d, world.clock.now() + 599)
    assert d.state is State.BEFORE_ALLOW_TRAFFIC
    d = await world.advance_to(d, world.clock.now() + 1)
    assert d.state is State.FAILED and d.error_code == "TIMEOUT"


async def test_hook_function_crash_fails_at_once(world: World) -> None:
    world.hooks.fail_with = "Runtime.ImportModuleError: No module named 'nope'"
    d = await world.ctl.start(world.deployment(pre="PreHook"))
    await world.ctl.drain()
    d = await world.ctl.step(d.id)
    assert d.state is State.FAILED and "ImportModuleError" in (d.error_message or "")
    # it never reported: the reason does not say it did
    assert "PreHook failed before it reported" in (d.error_message or "")


async def test_post_traffic_failure_rolls_back(world: World) -> None:
    d = await world.ctl.start(world.deployment(post="PostHook"))
    d = await world.ctl.step(d.id)
    assert d.state is State.AFTER_ALLOW_TRAFFIC and world.alias() == Alias("Fn", "live", 2)
    await world.ctl.drain()
    exec_id = world.hooks.calls[0][1]["LifecycleEventHookExecutionId"]
    world.store.report_hook(d.id, exec_id, HookStatus.FAILED, world.clock.now())
    d = await world.ctl.step(d.id)
    assert d.state is State.FAILED and d.rolled_back
    assert world.alias() == Alias("Fn", "live", 1)
    await world.ctl.drain()
    assert "DeploymentRollback" in [e for _, e in world.notified]


async def test_alarm_stops_and_rolls_back_in_one_write(world: World) -> None:
    d = await world.ctl.start(world.deployment("Linear10PercentEvery1Minute", alarms=("Err",)))
    d = await world.advance_to(d, world.clock.now() + 61)
    assert world.alias().additional_weight == pytest.approx(0.2)
    world.signals.alarms = ("Err",)
    d = await world.ctl.step(d.id)
    assert d.state is State.STOPPED and d.stopped_by == "alarm:Err" and d.rolled_back
    assert world.alias() == Alias("Fn", "live", 1)
    assert world.backend.applied[-1] == Alias("Fn", "live", 1)


async def test_alarm_firing_at_start(world: World) -> None:
    world.signals.alarms = ("Err",)
    d = await world.ctl.start(world.deployment(alarms=("Err",)))
    assert d.state is State.FAILED and d.error_code == "ALARM_ACTIVE"
    assert "--ignore-alarms" in (d.error_message or "")
    d2 = await world.ctl.start(world.deployment(alarms=("Err",), ignore_alarms=True))
    assert d2.state is State.BEFORE_ALLOW_TRAFFIC


async def test_judge_rollback(world: World) -> None:
    d = await world.ctl.start(world.deployment("Canary10Percent5Minutes"))
    d = await world.ctl.step(d.id)
    world.signals.verdict = Verdict.ROLLBACK
    d = await world.ctl.step(d.id)
    assert d.state is State.STOPPED and d.stopped_by == "judge" and d.rolled_back
    assert world.alias() == Alias("Fn", "live", 1)


async def test_manual_gate_and_promote(world: World) -> None:
    steps = (SetWeight(0.05, 60), ManualGate(), SetWeight(0.5, 60), SetWeight(1.0))
    d = await world.ctl.start(world.deployment(steps=steps))
    d = await world.ctl.step(d.id)
    d = await world.advance_to(d, world.clock.now() + 3600)
    assert d.state is State.ALLOW_TRAFFIC and isinstance(d.current_step, ManualGate)
    assert world.alias().additional_weight == pytest.approx(0.05)
    d = await world.ctl.command(d.id, Command.PROMOTE)
    assert world.alias().additional_weight == pytest.approx(0.5)
    d = await world.ctl.command(d.id, Command.PROMOTE_FULL)
    d = await world.ctl.step(d.id)
    assert d.state is State.SUCCEEDED and world.alias() == Alias("Fn", "live", 2)


async def test_request_gate(world: World) -> None:
    d = await world.ctl.start(world.deployment(steps=(RequestGate(3), SetWeight(1.0))))
    d = await world.ctl.step(d.id)
    assert isinstance(d.current_step, RequestGate)
    world.signals.progress = GateProgress(routed=3, succeeded=2)
    d = await world.advance_to(d, world.clock.now() + 10)
    assert d.state is State.ALLOW_TRAFFIC
    world.signals.progress = GateProgress(routed=3, succeeded=3)
    d = await world.ctl.step(d.id)
    d = await world.ctl.step(d.id)
    assert d.state is State.SUCCEEDED


async def test_request_gate_failure_rolls_back(world: World) -> None:
    d = await world.ctl.start(world.deployment(steps=(RequestGate(3), SetWeight(1.0))))
    d = await world.ctl.step(d.id)
    world.signals.progress = GateProgress(routed=3, succeeded=1, failed=1)
    d = await world.ctl.step(d.id)
    assert d.state is State.FAILED and d.error_code == "REQUEST_GATE_FAILURE" and d.rolled_back


async def test_stop_by_operator(world: World) -> None:
    d = await world.ctl.start(world.deployment("Canary10Percent30Minutes"))
    d = await world.ctl.step(d.id)
    d = await world.ctl.command(d.id, Command.STOP)
    assert d.state is State.STOPPED and d.stopped_by == "user" and d.rolled_back
    assert world.alias() == Alias("Fn", "live", 1)
    # the alias is free again
    d2 = await world.ctl.start(world.deployment())
    assert d2.state is State.BEFORE_ALLOW_TRAFFIC


async def test_second_deployment_of_busy_alias_is_refused(world: World) -> None:
    await world.ctl.start(world.deployment("Canary10Percent30Minutes"))
    with pytest.raises(Conflict, match="already being deployed"):
        await world.ctl.start(world.deployment())


async def test_atomic_group_rolls_back_together(world: World) -> None:
    d = await world.ctl.start(
        world.deployment("Canary10Percent5Minutes", functions=("Fn", "Other"), alarms=("Err",))
    )
    d = await world.ctl.step(d.id)
    assert world.alias("Fn").additional_weight == world.alias("Other").additional_weight == 0.1
    world.signals.alarms = ("Err",)
    d = await world.ctl.step(d.id)
    assert world.alias("Fn") == Alias("Fn", "live", 1)
    assert world.alias("Other") == Alias("Other", "live", 1)


async def test_events_are_recorded(world: World) -> None:
    d = await world.ctl.start(world.deployment("Canary10Percent5Minutes"))
    d = await world.ctl.step(d.id)
    kinds = [e.kind for e in world.store.events(d.id)]
    assert kinds[:3] == ["created", "transition", "transition"]
    assert "step" in kinds


async def test_stop_without_rollback_leaves_the_split(world: World) -> None:
    d = await world.ctl.start(world.deployment("Canary10Percent30Minutes"))
    d = await world.ctl.step(d.id)
    d = await world.ctl.command(d.id, Command.STOP_NO_ROLLBACK)
    assert d.state is State.STOPPED and not d.rolled_back
    assert world.alias() == Alias("Fn", "live", 1, 2, 0.1)
