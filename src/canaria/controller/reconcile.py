"""Reconcile: read a stored deployment and what is observed now, take at most one step.

``reconcile(d, obs) -> Plan`` is pure: no I/O, no clock of its own. It returns the new
deployment (with ``next_wake_at``), the alias writes, events, hook executions and side
effects; ``canaria.controller.service`` persists the plan in one transaction and only
then carries out its actions. Every status change goes through ``transition``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import replace
from typing import assert_never

from canaria.controller.plan import (
    Action,
    Command,
    InvokeHook,
    Notify,
    Observation,
    Plan,
    Verdict,
)
from canaria.controller.transitions import transition
from canaria.models import Alias, Undetectable
from canaria.models.deployment import (
    Deployment,
    DeploymentEvent,
    ErrorCode,
    HookExecution,
    HookStatus,
    ManualGate,
    NotificationEvent,
    RequestGate,
    SetWeight,
    State,
)
from canaria.store.codec import step_label

TICK_S = 1.0  # alarms and the judge are looked at least this often (virtual seconds)


def hook_of(hooks: Mapping[str, HookExecution], phase: str) -> HookExecution | None:
    """The deployment's hook execution for ``phase``, if one was started."""
    return next((h for h in hooks.values() if h.phase == phase), None)


def aliases_at(d: Deployment, weight: float) -> tuple[Alias, ...]:
    """Every target's alias with ``weight`` of traffic on the target version."""
    out = []
    for t in d.targets:
        if weight >= 1.0 or t.from_version is None:
            out.append(Alias(t.function, t.alias, t.to_version))
        elif weight <= 0.0:
            out.append(Alias(t.function, t.alias, t.from_version))
        else:
            out.append(Alias(t.function, t.alias, t.from_version, t.to_version, weight))
    return tuple(out)


def gate_weight(d: Deployment) -> float:
    """The weight a RequestGate opens at: the weight in force before it (its requests are a
    sample of the usual traffic), or every request when no earlier step sent any."""
    return d.current_weight if 0.0 < d.current_weight < 1.0 else 1.0


def reconcile(d: Deployment, obs: Observation) -> Plan:
    match d.state:
        case State.CREATED:
            return _created(d, obs)
        case State.BEFORE_ALLOW_TRAFFIC:
            return _before_allow_traffic(d, obs)
        case State.ALLOW_TRAFFIC:
            return _allow_traffic(d, obs)
        case State.AFTER_ALLOW_TRAFFIC:
            return _after_allow_traffic(d, obs)
        case State.SUCCEEDED | State.FAILED | State.STOPPED:
            return Plan(replace(d, next_wake_at=None))
        case _:
            assert_never(d.state)


# ---- phases -------------------------------------------------------------------------


def _created(d: Deployment, obs: Observation) -> Plan:
    now = obs.now
    if obs.command in (Command.STOP, Command.STOP_NO_ROLLBACK, Command.ROLLBACK):
        new, ev = transition(
            d,
            State.STOPPED,
            now,
            reason="stopped by the operator",
            error_code=ErrorCode.DEPLOYMENT_STOPPED,
            stopped_by="user",
        )
        return Plan(_sleep(new), events=(ev,), actions=(Notify(NotificationEvent.STOP),))
    firing = [a for a in obs.alarms_in_alarm if a in d.alarms]
    muted: tuple[DeploymentEvent, ...] = ()
    if firing and d.ignore_alarms:
        d = replace(d, muted_alarms=tuple(firing))
        why = (
            f"alarm {', '.join(firing)} already in ALARM: not watched until it leaves ALARM "
            "(--ignore-alarms)"
        )
        muted = (_event(d, now, "alarm", why, {"muted": list(firing)}),)
    elif firing:
        new, ev = transition(
            d,
            State.FAILED,
            now,
            reason=f"alarm {firing[0]} was already in ALARM when the deployment started "
            "(start it with --ignore-alarms to deploy anyway)",
            error_code=ErrorCode.ALARM_ACTIVE,
            stopped_by=f"alarm:{firing[0]}",
        )
        return Plan(_sleep(new), events=(ev,), actions=(Notify(NotificationEvent.FAILURE),))
    start = Notify(NotificationEvent.START)
    new, ev = transition(d, State.BEFORE_ALLOW_TRAFFIC, now, reason="deployment started")
    if d.pre_traffic_hook is None:
        return Plan(replace(new, next_wake_at=now), events=(*muted, ev), actions=(start,))
    hook = _new_hook(d, "BeforeAllowTraffic", d.pre_traffic_hook, obs)
    hev = _event(d, now, "hook", f"PreTraffic hook {hook.function} invoked", hook)
    return Plan(
        replace(new, next_wake_at=min(hook.deadline, now + TICK_S)),
        events=(*muted, ev, hev),
        hooks=(hook,),
        actions=(start, InvokeHook(hook, _hook_payload(hook), d.pre_traffic_hook_version)),
    )


def _before_allow_traffic(d: Deployment, obs: Observation) -> Plan:
    now = obs.now
    if obs.command in (Command.STOP, Command.STOP_NO_ROLLBACK, Command.ROLLBACK):
        return _stop(d, now, "stopped by the operator", "user", rollback=False)
    d, firing = _watched(d, obs)
    if firing:
        return _stop(d, now, f"alarm {firing[0]} in ALARM", f"alarm:{firing[0]}", rollback=False)
    if d.pre_traffic_hook is not None:
        hook = hook_of(obs.hooks, "BeforeAllowTraffic")
        outcome = _hook_outcome(d, hook, now)
        if outcome is None:
            return Plan(_wait(d, now, hook.deadline if hook else None))
        if outcome is not HookStatus.SUCCEEDED:
            return _hook_failed(d, hook, now, rollback=False)
    return _enter_step(d, 0, obs, State.ALLOW_TRAFFIC, "BeforeAllowTraffic complete")


def _allow_traffic(d: Deployment, obs: Observation) -> Plan:
    now = obs.now
    if obs.command is Command.STOP_NO_ROLLBACK:
        return _stop(d, now, "stopped by the operator without rollback", "user", rollback=False)
    if obs.command is Command.STOP:
        return _stop(d, now, "stopped by the operator", "user", rollback=True)
    if obs.command is Command.ROLLBACK:
        return _stop(d, now, "rolled back by the operator", "user:rollback", rollback=True)
    d, firing = _watched(d, obs)
    if firing:
        return _stop(d, now, f"alarm {firing[0]} in ALARM", f"alarm:{firing[0]}", rollback=True)
    if obs.verdict is Verdict.ROLLBACK:
        return _stop(d, now, f"the judge: {obs.verdict_reason}", "judge", rollback=True)
    if obs.command is Command.PROMOTE_FULL or obs.verdict is Verdict.PROMOTE:
        why = "promoted fully by the operator" if obs.command else f"judge: {obs.verdict_reason}"
        return _enter_step(d, len(d.steps) - 1, obs, State.ALLOW_TRAFFIC, why)
    step = d.current_step
    started = d.step_started_at if d.step_started_at is not None else now
    if obs.command is Command.PROMOTE:
        return _enter_step(
            d, d.step_index + 1, obs, State.ALLOW_TRAFFIC, "promoted by the operator"
        )
    match step:
        case SetWeight(weight=w, duration_s=duration):
            if w >= 1.0 or now >= started + duration:
                return _step_done(d, step, started, obs)
            return Plan(_wait(d, now, started + duration))
        case ManualGate():
            return Plan(_wait(d, now, None))
        case RequestGate(count=n, completion=completion, timeout_s=timeout):
            succeeded = "reported Succeeded" if completion == "reported" else "succeeded"
            deadline = None if timeout is None else started + timeout
            if obs.gate.failed:
                why = f"{obs.gate.failed} of the first {n} requests on the new version failed"
                if obs.gate.reason:
                    why += f": {obs.gate.reason}"
                return _stop(d, now, why, "request_gate", rollback=True, failed=True)
            if obs.gate.succeeded >= n:
                return _enter_step(
                    d,
                    d.step_index + 1,
                    obs,
                    State.ALLOW_TRAFFIC,
                    f"the first {n} requests {succeeded}",
                )
            if deadline is not None and now >= deadline:
                why = (
                    f"request gate timed out after {timeout:g}s: {obs.gate.succeeded} of "
                    f"the first {n} requests {succeeded}, {obs.gate.routed} routed"
                )
                return _stop(d, now, why, "request_gate", rollback=True, failed=True)
            if obs.gate.routed >= n and obs.gate.open:
                # N requests went to the new version: send it no more until they finish.
                ev = _event(
                    d,
                    now,
                    "step",
                    f"request gate: {obs.gate.routed} requests routed to the new version; "
                    f"no more until {n} have {succeeded}",
                    {"index": d.step_index, "weight": 0.0},
                )
                return Plan(_wait(d, now, deadline), aliases=aliases_at(d, 0.0), events=(ev,))
            return Plan(_wait(d, now, deadline))
        case None:
            return _enter_step(d, 0, obs, State.ALLOW_TRAFFIC, "resuming")
        case _:
            assert_never(step)


def _after_allow_traffic(d: Deployment, obs: Observation) -> Plan:
    now = obs.now
    if obs.command is Command.STOP_NO_ROLLBACK:
        return _stop(d, now, "stopped by the operator without rollback", "user", rollback=False)
    if obs.command is Command.STOP:
        return _stop(d, now, "stopped by the operator", "user", rollback=True)
    if obs.command is Command.ROLLBACK:
        return _stop(d, now, "rolled back by the operator", "user:rollback", rollback=True)
    d, firing = _watched(d, obs)
    if firing:
        return _stop(d, now, f"alarm {firing[0]} in ALARM", f"alarm:{firing[0]}", rollback=True)
    if d.post_traffic_hook is not None:
        hook = hook_of(obs.hooks, "AfterAllowTraffic")
        outcome = _hook_outcome(d, hook, now)
        if outcome is None:
            return Plan(_wait(d, now, hook.deadline if hook else None))
        if outcome is not HookStatus.SUCCEEDED:
            return _hook_failed(d, hook, now, rollback=True)
    new, ev = transition(d, State.SUCCEEDED, now, reason="AfterAllowTraffic complete")
    return Plan(_sleep(new), events=(ev,), actions=(Notify(NotificationEvent.SUCCESS),))


# ---- helpers ------------------------------------------------------------------------


def _watched(d: Deployment, obs: Observation) -> tuple[Deployment, list[str]]:
    """The deployment's alarms in ALARM now, but the muted ones (see ``muted_alarms``);
    an alarm that has left ALARM since is watched again from now on."""
    firing = [a for a in obs.alarms_in_alarm if a in d.alarms]
    if not d.muted_alarms:
        return d, firing
    still = tuple(a for a in d.muted_alarms if a in firing)
    if still != d.muted_alarms:
        d = replace(d, muted_alarms=still)
    return d, [a for a in firing if a not in still]


def _step_done(d: Deployment, step: SetWeight, started: float, obs: Observation) -> Plan:
    """A weighted step's duration is over: go on, unless it requires a detectable failure
    rate the judge has not reached yet; then hold, at most ``max_hold_s`` (default: the
    step's duration again; in a rehearsal, until the step has lasted its duration in wall
    time), and at the cap do what ``undetectable`` says."""
    now = obs.now
    settings = d.judge.settings
    need = step.min_detectable if step.min_detectable is not None else settings.min_detectable
    progress = d.judge.progress
    seen = progress.detectable
    if need is None or step.weight >= 1.0 or not settings.enabled:
        return _enter_step(d, d.step_index + 1, obs, State.ALLOW_TRAFFIC, "step complete")
    served = f"{progress.canary_requests} canary requests"
    if seen is not None and seen <= need:
        why = f"step complete; {seen:.1%} failing was detectable after {served}"
        return _enter_step(d, d.step_index + 1, obs, State.ALLOW_TRAFFIC, why)
    hold = settings.max_hold_s
    if hold is None:
        hold = step.duration_s * max(1.0, settings.rehearsal_scale - 1.0)
    cap = started + step.duration_s + hold
    if now < cap:
        end = started + step.duration_s
        if d.next_wake_at is not None and d.next_wake_at > end:
            return Plan(_wait(d, now, cap))  # holding already: said so when it began
        so_far = "nothing yet" if seen is None else f"{seen:.1%}"
        message = (
            f"step {d.step_index + 1}: holding past its duration until a canary failing "
            f"{need:.1%} would be caught (detectable after {served}: {so_far}), at most {hold:g}s"
        )
        ev = _event(d, now, "judge", message, {"holding": True, "until": cap})
        return Plan(_wait(d, now, cap), events=(ev,))
    could = "no failure rate" if seen is None else f"only {seen:.1%} failing"
    why = (
        f"the judge could not judge this release: after {served} {could} was detectable, "
        f"{need:.1%} required (held {hold:g}s past the step)"
    )
    if seen is not None and progress.canary_requests:
        # the rate it detects falls about as 1/n when the stable version rarely fails
        enough = math.ceil(progress.canary_requests * seen / need)
        why += (
            f"; about {enough} canary requests would do: more traffic during the step, "
            "or `canaria deploy --undetectable promote` to promote with a warning"
        )
    match settings.undetectable:
        case Undetectable.FAIL:
            return _stop(d, now, why, "judge:inconclusive", rollback=True, failed=True)
        case Undetectable.PROMOTE:
            warn = _event(d, now, "judge", f"warning: {why}; promoting anyway", {"warning": True})
            plan = _enter_step(d, d.step_index + 1, obs, State.ALLOW_TRAFFIC, "step complete")
            return replace(plan, events=(warn, *plan.events))
        case _:
            assert_never(settings.undetectable)


def _enter_step(d: Deployment, index: int, obs: Observation, state: State, reason: str) -> Plan:
    """Apply step ``index``; past the last step, move on to AfterAllowTraffic."""
    now = obs.now
    events: list[DeploymentEvent] = []
    if d.state is not State.ALLOW_TRAFFIC:
        d, ev = transition(d, State.ALLOW_TRAFFIC, now, reason=reason)
        events.append(ev)
    index = min(index, len(d.steps) - 1)
    step = d.steps[index]
    aliases: tuple[Alias, ...] = ()
    if isinstance(step, SetWeight):
        aliases = aliases_at(d, step.weight)
    elif isinstance(step, RequestGate):
        aliases = aliases_at(d, gate_weight(d))
    d = replace(d, step_index=index, step_started_at=now, updated_at=now)
    events.append(
        _event(
            d,
            now,
            "step",
            f"step {index + 1}/{len(d.steps)}: {step_label(step)} ({reason})",
            {"index": index, "weight": d.current_weight},
        )
    )
    if isinstance(step, SetWeight) and step.weight >= 1.0:
        return _finish_traffic(d, obs, aliases, events)
    wake = now + step.duration_s if isinstance(step, SetWeight) else None
    return Plan(_wait(d, now, wake), aliases=aliases, events=tuple(events))


def _finish_traffic(
    d: Deployment, obs: Observation, aliases: tuple[Alias, ...], events: list[DeploymentEvent]
) -> Plan:
    now = obs.now
    new, ev = transition(d, State.AFTER_ALLOW_TRAFFIC, now, reason="all traffic shifted")
    events.append(ev)
    actions: list[Action] = []
    hooks: tuple[HookExecution, ...] = ()
    wake: float | None = now
    if d.post_traffic_hook is not None:
        hook = _new_hook(d, "AfterAllowTraffic", d.post_traffic_hook, obs)
        hooks = (hook,)
        actions.append(InvokeHook(hook, _hook_payload(hook), d.post_traffic_hook_version))
        events.append(_event(d, now, "hook", f"PostTraffic hook {hook.function} invoked", hook))
        wake = min(hook.deadline, now + TICK_S)
    return Plan(
        replace(new, next_wake_at=wake),
        aliases=aliases,
        events=tuple(events),
        hooks=hooks,
        actions=tuple(actions),
    )


def _stop(
    d: Deployment, now: float, reason: str, by: str, *, rollback: bool, failed: bool = False
) -> Plan:
    to = State.FAILED if failed else State.STOPPED
    code = ErrorCode.DEPLOYMENT_STOPPED if by.startswith("user") else ErrorCode.ALARM_ACTIVE
    if by in ("judge", "request_gate"):
        code = ErrorCode.JUDGE_ROLLBACK if by == "judge" else ErrorCode.REQUEST_GATE_FAILURE
    if by == "judge:inconclusive":
        code = ErrorCode.JUDGE_INCONCLUSIVE
    new, ev = transition(
        d, to, now, reason=reason, error_code=code, stopped_by=by, rolled_back=rollback
    )
    actions: list[Action] = [
        Notify(NotificationEvent.FAILURE if failed else NotificationEvent.STOP)
    ]
    aliases: tuple[Alias, ...] = ()
    if rollback:
        aliases = aliases_at(d, 0.0)
        actions.append(Notify(NotificationEvent.ROLLBACK))
    return Plan(_sleep(new), aliases=aliases, events=(ev,), actions=tuple(actions))


def _hook_outcome(d: Deployment, hook: HookExecution | None, now: float) -> HookStatus | None:
    """SUCCEEDED, FAILED (also on timeout), or None while still waiting."""
    if hook is None:
        return None
    if hook.status in (HookStatus.SUCCEEDED, HookStatus.FAILED):
        return hook.status
    if now >= hook.deadline:
        return HookStatus.FAILED
    return None


# the message of a hook execution failed because its function did (crashed, timed out,
# did not import) before reporting: CodeDeploy would wait out the hook's hour
HOOK_CRASHED = "the hook function failed: "


def _hook_failed(d: Deployment, hook: HookExecution | None, now: float, *, rollback: bool) -> Plan:
    assert hook is not None
    timed_out = hook.status not in (HookStatus.SUCCEEDED, HookStatus.FAILED)
    phase = hook.phase
    if timed_out:
        reason = f"{phase} hook {hook.function} did not report within {d.hook_timeout_s:g}s"
        code = ErrorCode.TIMEOUT
        hook = replace(hook, status=HookStatus.FAILED, finished_at=now, message="timed out")
    elif hook.message.startswith(HOOK_CRASHED):
        reason = (
            f"{phase} hook {hook.function} failed before it reported: "
            f"{hook.message.removeprefix(HOOK_CRASHED)}"
        )
        code = ErrorCode.HOOK_EXECUTION_FAILURE
    else:
        reason = f"{phase} hook {hook.function} reported Failed"
        if hook.message and hook.message != "reported by the hook":
            reason += f": {hook.message}"
        code = ErrorCode.HOOK_EXECUTION_FAILURE
    new, ev = transition(
        d,
        State.FAILED,
        now,
        reason=reason,
        error_code=code,
        stopped_by=f"hook:{phase}",
        rolled_back=rollback,
    )
    actions: list[Action] = [Notify(NotificationEvent.FAILURE)]
    aliases: tuple[Alias, ...] = ()
    if rollback:
        aliases = aliases_at(d, 0.0)
        actions.append(Notify(NotificationEvent.ROLLBACK))
    return Plan(
        _sleep(new),
        aliases=aliases,
        events=(ev,),
        hooks=(hook,) if timed_out else (),
        actions=tuple(actions),
    )


def _new_hook(d: Deployment, phase: str, function: str, obs: Observation) -> HookExecution:
    now = obs.now
    return HookExecution(
        execution_id=obs.hook_execution_id,
        deployment_id=d.id,
        phase=phase,  # type: ignore[arg-type]
        function=function,
        status=HookStatus.PENDING,
        started_at=now,
        deadline=now + d.hook_timeout_s,
    )


def _hook_payload(hook: HookExecution) -> dict[str, str]:
    return {"DeploymentId": hook.deployment_id, "LifecycleEventHookExecutionId": hook.execution_id}


def _event(d: Deployment, now: float, kind: str, message: str, data: object) -> DeploymentEvent:
    payload = (
        data if isinstance(data, dict) else {"execution_id": getattr(data, "execution_id", "")}
    )
    return DeploymentEvent(deployment_id=d.id, time=now, kind=kind, message=message, data=payload)


def _wait(d: Deployment, now: float, until: float | None) -> Deployment:
    """Sleep until ``until`` but look again within a tick (alarms, judge, commands)."""
    wake = now + TICK_S if until is None else min(until, now + TICK_S)
    return replace(d, next_wake_at=max(wake, now))


def _sleep(d: Deployment) -> Deployment:
    return replace(d, next_wake_at=None)
