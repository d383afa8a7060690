"""``reconcile`` is pure: a stored deployment and an observation in, a plan out. Each
phase, command, signal and step kind, checked on the plan alone (no store, no clock)."""

from __future__ import annotations

from dataclasses import replace

import pytest

from canaria.controller.plan import (
    Command,
    GateProgress,
    InvokeHook,
    Notify,
    Observation,
    Verdict,
    new_hook_execution_id,
)
from canaria.controller.reconcile import TICK_S, reconcile
from canaria.models import Alias
from canaria.models.deployment import (
    Deployment,
    ErrorCode,
    HookExecution,
    HookStatus,
    ManualGate,
    NotificationEvent,
    RequestGate,
    SetWeight,
    State,
    Step,
    Target,
)

NOW = 1_000.0


def deployment(
    steps: tuple[Step, ...] = (SetWeight(0.1, 300), SetWeight(1.0)),
    state: State = State.CREATED,
    step_index: int = -1,
    pre: str | None = None,
    post: str | None = None,
    alarms: tuple[str, ...] = ("Err",),
) -> Deployment:
    return Deployment(
        id="d-RECONCILE",
        application="app",
        targets=(Target("Fn", "live", 1, 2),),
        config_name="Custom",
        steps=steps,
        state=state,
        step_index=step_index,
        step_started_at=NOW - 10 if step_index >= 0 else None,
        alarms=alarms,
        pre_traffic_hook=pre,
        post_traffic_hook=post,
        hook_timeout_s=60.0,
        created_at=NOW - 100,
        updated_at=NOW - 100,
    )


def hook(
    d: Deployment, phase: str, status: HookStatus, deadline: float = NOW + 50
) -> HookExecution:
    return HookExecution(
        new_hook_execution_id(),
        d.id,
        phase,  # type: ignore[arg-type]
        "Hook",
        status,
        started_at=NOW - 10,
        deadline=deadline,
    )


def notified(plan_actions: tuple[object, ...]) -> list[NotificationEvent]:
    return [a.event for a in plan_actions if isinstance(a, Notify)]


# ---- Created ------------------------------------------------------------------------


def test_created_without_a_hook_starts_and_wakes_at_once() -> None:
    plan = reconcile(deployment(), Observation(now=NOW))
    assert plan.deployment.state is State.BEFORE_ALLOW_TRAFFIC
    assert plan.deployment.next_wake_at == NOW
    assert plan.aliases == () and plan.hooks == ()
    assert notified(plan.actions) == [NotificationEvent.START]


def test_created_with_a_pre_traffic_hook_records_and_invokes_it() -> None:
    plan = reconcile(deployment(pre="Hook"), Observation(now=NOW))
    (h,) = plan.hooks
    assert (h.phase, h.status, h.deadline) == ("BeforeAllowTraffic", HookStatus.PENDING, NOW + 60)
    assert [type(a) for a in plan.actions] == [Notify, InvokeHook]
    assert plan.deployment.next_wake_at == NOW + TICK_S


def test_created_with_an_alarm_already_firing_fails_unless_ignored() -> None:
    obs = Observation(now=NOW, alarms_in_alarm=("Err", "Unrelated"))
    plan = reconcile(deployment(), obs)
    assert plan.deployment.state is State.FAILED
    assert plan.deployment.error_code is ErrorCode.ALARM_ACTIVE
    assert plan.deployment.next_wake_at is None and plan.aliases == ()
    ignoring = reconcile(replace(deployment(), ignore_alarms=True), obs)
    assert ignoring.deployment.state is State.BEFORE_ALLOW_TRAFFIC
    assert ignoring.deployment.muted_alarms == ("Err",)
    assert any("Err already in ALARM: not watched" in e.message for e in ignoring.events)


def test_an_alarm_ignored_at_start_is_watched_once_it_has_left_alarm() -> None:
    """A fix shipped while the bad release's alarm still fires: that alarm does not stop
    it; once the alarm is OK again, firing again does."""
    d = replace(deployment(state=State.ALLOW_TRAFFIC, step_index=0), muted_alarms=("Err",))
    still = reconcile(d, Observation(now=NOW, alarms_in_alarm=("Err",)))
    assert still.deployment.state is State.ALLOW_TRAFFIC
    assert still.deployment.muted_alarms == ("Err",)
    cleared = reconcile(still.deployment, Observation(now=NOW + 1))
    assert cleared.deployment.muted_alarms == ()
    again = reconcile(cleared.deployment, Observation(now=NOW + 2, alarms_in_alarm=("Err",)))
    assert again.deployment.state is State.STOPPED and again.deployment.rolled_back
    assert again.deployment.stopped_by == "alarm:Err"


@pytest.mark.parametrize("command", [Command.STOP, Command.ROLLBACK, Command.STOP_NO_ROLLBACK])
def test_created_stopped_by_the_operator_moves_nothing(command: Command) -> None:
    plan = reconcile(deployment(), Observation(now=NOW, command=command))
    assert plan.deployment.state is State.STOPPED and plan.aliases == ()
    assert plan.deployment.error_code is ErrorCode.DEPLOYMENT_STOPPED


# ---- BeforeAllowTraffic -------------------------------------------------------------


def test_before_allow_traffic_waits_for_the_hook_then_enters_step_one() -> None:
    d = deployment(pre="Hook", state=State.BEFORE_ALLOW_TRAFFIC)
    waiting = reconcile(d, Observation(now=NOW, hooks={}))
    assert waiting.deployment.state is State.BEFORE_ALLOW_TRAFFIC and waiting.aliases == ()
    assert waiting.deployment.next_wake_at == NOW + TICK_S

    ok = hook(d, "BeforeAllowTraffic", HookStatus.SUCCEEDED)
    plan = reconcile(d, Observation(now=NOW, hooks={ok.execution_id: ok}))
    assert plan.deployment.state is State.ALLOW_TRAFFIC
    assert plan.deployment.step_index == 0 and plan.deployment.step_started_at == NOW
    assert plan.aliases == (Alias("Fn", "live", 1, 2, 0.1),)
    assert plan.deployment.next_wake_at == NOW + TICK_S  # looks again within a tick


def test_a_failed_pre_traffic_hook_fails_and_leaves_the_alias() -> None:
    d = deployment(pre="Hook", state=State.BEFORE_ALLOW_TRAFFIC)
    bad = hook(d, "BeforeAllowTraffic", HookStatus.FAILED)
    plan = reconcile(d, Observation(now=NOW, hooks={bad.execution_id: bad}))
    assert plan.deployment.state is State.FAILED and not plan.deployment.rolled_back
    assert plan.deployment.error_code is ErrorCode.HOOK_EXECUTION_FAILURE
    assert plan.aliases == () and notified(plan.actions) == [NotificationEvent.FAILURE]


def test_a_hook_past_its_deadline_times_out_and_is_written_failed() -> None:
    d = deployment(pre="Hook", state=State.BEFORE_ALLOW_TRAFFIC)
    late = hook(d, "BeforeAllowTraffic", HookStatus.PENDING, deadline=NOW)
    plan = reconcile(d, Observation(now=NOW, hooks={late.execution_id: late}))
    assert plan.deployment.error_code is ErrorCode.TIMEOUT
    (written,) = plan.hooks
    assert written.status is HookStatus.FAILED and written.message == "timed out"


# ---- AllowTraffic -------------------------------------------------------------------


def test_a_weight_step_waits_its_duration_then_moves_on() -> None:
    d = deployment(state=State.ALLOW_TRAFFIC, step_index=0)  # began at NOW - 10, lasts 300
    waiting = reconcile(d, Observation(now=NOW))
    assert waiting.aliases == () and waiting.events == ()
    assert waiting.deployment.next_wake_at == NOW + TICK_S
    done = reconcile(d, Observation(now=NOW - 10 + 300))
    assert done.aliases == (Alias("Fn", "live", 2),)
    assert done.deployment.state is State.AFTER_ALLOW_TRAFFIC


def test_the_last_step_with_a_post_traffic_hook_invokes_it() -> None:
    d = deployment(state=State.ALLOW_TRAFFIC, step_index=0, post="Hook")
    plan = reconcile(d, Observation(now=NOW, command=Command.PROMOTE))
    assert plan.deployment.state is State.AFTER_ALLOW_TRAFFIC
    assert plan.aliases == (Alias("Fn", "live", 2),)
    (h,) = plan.hooks
    assert h.phase == "AfterAllowTraffic"
    assert any(isinstance(a, InvokeHook) for a in plan.actions)


@pytest.mark.parametrize(
    ("obs", "code", "by"),
    [
        (Observation(now=NOW, alarms_in_alarm=("Err",)), ErrorCode.ALARM_ACTIVE, "alarm:Err"),
        (Observation(now=NOW, verdict=Verdict.ROLLBACK), ErrorCode.JUDGE_ROLLBACK, "judge"),
        (Observation(now=NOW, command=Command.STOP), ErrorCode.DEPLOYMENT_STOPPED, "user"),
        (
            Observation(now=NOW, command=Command.ROLLBACK),
            ErrorCode.DEPLOYMENT_STOPPED,
            "user:rollback",
        ),
    ],
)
def test_allow_traffic_rolls_back_in_one_write(obs: Observation, code: ErrorCode, by: str) -> None:
    d = deployment(state=State.ALLOW_TRAFFIC, step_index=0)
    plan = reconcile(d, obs)
    assert plan.deployment.state is State.STOPPED and plan.deployment.rolled_back
    assert (plan.deployment.error_code, plan.deployment.stopped_by) == (code, by)
    assert plan.aliases == (Alias("Fn", "live", 1),)
    assert notified(plan.actions) == [NotificationEvent.STOP, NotificationEvent.ROLLBACK]
    assert plan.deployment.next_wake_at is None


def test_stop_without_rollback_keeps_the_split() -> None:
    d = deployment(state=State.ALLOW_TRAFFIC, step_index=0)
    plan = reconcile(d, Observation(now=NOW, command=Command.STOP_NO_ROLLBACK))
    assert plan.deployment.state is State.STOPPED and not plan.deployment.rolled_back
    assert plan.aliases == ()


def test_promote_full_and_the_judges_early_promotion_go_to_the_end() -> None:
    steps = (SetWeight(0.1, 300), SetWeight(0.5, 300), SetWeight(1.0))
    d = deployment(steps=steps, state=State.ALLOW_TRAFFIC, step_index=0)
    for obs in (
        Observation(now=NOW, command=Command.PROMOTE_FULL),
        Observation(now=NOW, verdict=Verdict.PROMOTE, verdict_reason="clean"),
    ):
        plan = reconcile(d, obs)
        assert plan.deployment.state is State.AFTER_ALLOW_TRAFFIC
        assert plan.deployment.step_index == 2 and plan.aliases == (Alias("Fn", "live", 2),)


def test_a_manual_gate_holds_until_promoted() -> None:
    steps = (SetWeight(0.1), ManualGate(), SetWeight(1.0))
    d = deployment(steps=steps, state=State.ALLOW_TRAFFIC, step_index=1)
    held = reconcile(d, Observation(now=NOW + 10_000))
    assert held.deployment.step_index == 1 and held.aliases == ()
    moved = reconcile(d, Observation(now=NOW, command=Command.PROMOTE))
    assert moved.deployment.state is State.AFTER_ALLOW_TRAFFIC


def test_a_request_gate_closes_after_n_requests_and_passes_on_n_successes() -> None:
    steps = (RequestGate(3, timeout_s=600), SetWeight(1.0))
    d = deployment(steps=steps, state=State.ALLOW_TRAFFIC, step_index=0)
    routing = reconcile(d, Observation(now=NOW, gate=GateProgress(routed=1, succeeded=1)))
    assert routing.aliases == () and routing.deployment.step_index == 0
    closing = reconcile(d, Observation(now=NOW, gate=GateProgress(routed=3, succeeded=1)))
    assert closing.aliases == (Alias("Fn", "live", 1),)  # no more to the new version
    closed = GateProgress(routed=3, succeeded=1, open=False)
    assert reconcile(d, Observation(now=NOW, gate=closed)).aliases == ()  # not twice
    passed = reconcile(d, Observation(now=NOW, gate=GateProgress(routed=3, succeeded=3)))
    assert passed.deployment.state is State.AFTER_ALLOW_TRAFFIC


def test_a_request_gate_fails_on_one_failure_or_at_its_timeout() -> None:
    steps = (RequestGate(3, timeout_s=600), SetWeight(1.0))
    d = deployment(steps=steps, state=State.ALLOW_TRAFFIC, step_index=0)
    failed = reconcile(d, Observation(now=NOW, gate=GateProgress(2, 1, 1, reason="boom")))
    assert failed.deployment.state is State.FAILED and failed.deployment.rolled_back
    assert failed.deployment.error_code is ErrorCode.REQUEST_GATE_FAILURE
    assert "boom" in (failed.deployment.error_message or "")
    late = reconcile(d, Observation(now=NOW - 10 + 600, gate=GateProgress(routed=2, succeeded=2)))
    assert late.deployment.state is State.FAILED
    assert "timed out after 600s" in (late.deployment.error_message or "")


# ---- AfterAllowTraffic and completed ---------------------------------------------------


def test_after_allow_traffic_succeeds_when_the_post_hook_does() -> None:
    d = deployment(state=State.AFTER_ALLOW_TRAFFIC, step_index=1, post="Hook")
    ok = hook(d, "AfterAllowTraffic", HookStatus.SUCCEEDED)
    plan = reconcile(d, Observation(now=NOW, hooks={ok.execution_id: ok}))
    assert plan.deployment.state is State.SUCCEEDED and plan.deployment.completed_at == NOW
    assert notified(plan.actions) == [NotificationEvent.SUCCESS]


def test_a_failed_post_hook_rolls_back() -> None:
    d = deployment(state=State.AFTER_ALLOW_TRAFFIC, step_index=1, post="Hook")
    bad = hook(d, "AfterAllowTraffic", HookStatus.FAILED)
    plan = reconcile(d, Observation(now=NOW, hooks={bad.execution_id: bad}))
    assert plan.deployment.state is State.FAILED and plan.deployment.rolled_back
    assert plan.aliases == (Alias("Fn", "live", 1),)


@pytest.mark.parametrize("state", [State.SUCCEEDED, State.FAILED, State.STOPPED])
def test_a_completed_deployment_plans_nothing(state: State) -> None:
    d = replace(deployment(state=state), next_wake_at=NOW)
    plan = reconcile(d, Observation(now=NOW, alarms_in_alarm=("Err",), command=Command.STOP))
    assert plan.deployment == replace(d, next_wake_at=None)
    assert not plan.changed


def test_reconcile_is_deterministic() -> None:
    d = deployment(pre="Hook")
    seen = Observation(now=NOW)
    assert reconcile(d, seen) == reconcile(d, seen)


def test_a_started_hook_gets_the_observed_random_id() -> None:
    d = deployment(pre="Hook")
    first = Observation(now=NOW)
    (hook,) = reconcile(d, first).hooks
    assert hook.execution_id == first.hook_execution_id
