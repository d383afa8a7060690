"""The guard's decision for one deployment and one poll: pure, no I/O.

``plan(previous, observed, counts, ...)`` returns the new record, the events to append and
the actions to take. It never acts twice: once a record holds an action that was
requested, done or refused, no later plan repeats it, and a deployment that AWS reports
finished (Succeeded, Failed, Stopped), or that is CodeDeploy's own rollback, is only
recorded, never acted on. An action that was only *requested* (the guard died between
writing its intent and hearing AWS's answer) is not repeated either: the next poll reads
the deployment's status from AWS instead. A dry run's decision (``would``) is acted on
once the same deployment is guarded in a mode that acts.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import assert_never

from canaria.analysis.judge import Judge, TickCounts, Verdict, state_from_json, state_to_json
from canaria.guard.model import (
    Action,
    ActionStatus,
    GuardEvent,
    GuardRecord,
    Mode,
    Observed,
    SetAlarmState,
    StopDeployment,
)

__all__ = ["GuardPlan", "new_record", "plan"]


@dataclass(frozen=True)
class GuardPlan:
    record: GuardRecord
    events: tuple[GuardEvent, ...] = ()
    actions: tuple[Action, ...] = ()


def new_record(observed: Observed, mode: Mode, judge: Judge, now: float) -> GuardRecord:
    target = observed.target
    assert target is not None
    return GuardRecord(
        deployment_id=observed.deployment_id,
        application=observed.application,
        group=observed.group,
        function=target.function,
        alias=target.alias,
        current_version=target.current_version,
        target_version=target.target_version,
        status=observed.status,
        mode=mode,
        judge={"state": state_to_json(judge.initial_state()), "evidence": {}},
        created_at=now,
        updated_at=now,
    )


def _action(record: GuardRecord, mode: Mode, alarm_name: str | None, why: str) -> Action | None:
    match mode:
        case Mode.DRY_RUN | Mode.STOP:
            return StopDeployment(record.deployment_id)
        case Mode.ALARM:
            assert alarm_name is not None
            return SetAlarmState(alarm_name, f"canaria judge: {why}")
        case _:
            assert_never(mode)


def plan(
    previous: GuardRecord | None,
    observed: Observed,
    counts: TickCounts | None,
    *,
    judge: Judge,
    mode: Mode,
    alarm_name: str | None,
    now: float,
    first_canary_at: float | None = None,
) -> GuardPlan:
    """One poll's decision. ``counts`` is None when no signals were read this poll."""
    if observed.target is None:
        raise ValueError(f"deployment {observed.deployment_id} has no Lambda target to judge")
    if mode is Mode.ALARM and not alarm_name:
        raise ValueError("mode 'alarm' needs the name of the alarm to set")
    events: list[GuardEvent] = []
    did = observed.deployment_id
    record = previous or new_record(observed, mode, judge, now)
    if previous is None:
        t = observed.target
        events.append(
            GuardEvent(
                did,
                now,
                "watch",
                f"watching {t.function}:{t.alias} {t.current_version} → {t.target_version} "
                f"({observed.status.value}, {observed.config_name or 'config unknown'}); "
                f"mode {mode.value}"
                + (
                    f"; a rollback ({observed.creator}): judged, never stopped"
                    if observed.is_rollback
                    else ""
                ),
            )
        )
    if observed.status is not record.status:
        events.append(GuardEvent(did, now, "aws", f"CodeDeploy reports {observed.status.value}"))
    if record.mode is not mode:
        # e.g. a dry run's decision, then the same deployment guarded for real: the
        # verdict stands and is acted on now
        events.append(GuardEvent(did, now, "watch", f"mode {record.mode.value} → {mode.value}"))
    record = replace(record, status=observed.status, mode=mode, updated_at=now)
    if observed.target.weight is not None:
        record = replace(record, weight=observed.target.weight)
    if record.first_canary_at is None and first_canary_at is not None:
        record = replace(record, first_canary_at=first_canary_at)

    state = state_from_json(record.judge["state"])
    verdict = state.decided
    if counts is not None and observed.status.active:
        state, verdict_now = judge.update(state, counts)
        evidence = judge.evidence(state)
        record = replace(
            record,
            judge={"state": state_to_json(state), "evidence": evidence},
            canary_invocations=record.canary_invocations + counts.canary_invocations,
            stable_invocations=record.stable_invocations + counts.stable_invocations,
            canary_errors=record.canary_errors + counts.canary_errors,
            stable_errors=record.stable_errors + counts.stable_errors,
        )
        if verdict is None and verdict_now is not Verdict.CONTINUE:
            worst = max(evidence, key=lambda m: evidence[m])
            events.append(
                GuardEvent(
                    did,
                    now,
                    "judge",
                    f"judge: {verdict_now.value} ({worst} evidence {evidence[worst]:.1f} ≥ "
                    f"{judge.threshold():.0f}; canary {record.canary_errors}/"
                    f"{record.canary_invocations} failed, stable {record.stable_errors}/"
                    f"{record.stable_invocations})",
                )
            )
            record = replace(record, verdict=verdict_now.value)
        verdict = state.decided

    actions: list[Action] = []
    if (
        verdict is Verdict.ROLLBACK
        and observed.status.active
        and (
            record.action_status is ActionStatus.NONE
            or (record.action_status is ActionStatus.WOULD and mode is not Mode.DRY_RUN)
        )
        and not observed.is_rollback
    ):
        why = f"{record.function}:{record.alias} version {record.target_version} is worse"
        action = _action(record, mode, alarm_name, why)
        assert action is not None
        if mode is Mode.DRY_RUN:
            record = replace(record, action=action.describe(), action_status=ActionStatus.WOULD)
            events.append(
                GuardEvent(did, now, "action", f"dry run: would call {action.describe()}")
            )
        else:
            record = replace(record, action=action.describe(), action_status=ActionStatus.REQUESTED)
            events.append(GuardEvent(did, now, "action", f"calling {action.describe()}"))
            actions.append(action)
    if (
        mode is Mode.ALARM
        and alarm_name
        and not observed.status.active
        and record.action_status is ActionStatus.DONE
        and not record.alarm_reset
    ):
        reset = SetAlarmState(
            alarm_name,
            f"canaria judge: deployment {did} finished ({observed.status.value}); reset",
            state="OK",
        )
        record = replace(record, alarm_reset=True)
        events.append(GuardEvent(did, now, "action", f"calling {reset.describe()}"))
        actions.append(reset)
    return GuardPlan(record, tuple(events), tuple(actions))
