"""The guard's pure decision: watch, judge, act once, never after AWS finished."""

from __future__ import annotations

from dataclasses import replace

import pytest

from canaria.analysis.judge import Judge, TickCounts
from canaria.guard.model import (
    ActionStatus,
    AwsStatus,
    LambdaTarget,
    Mode,
    Observed,
    SetAlarmState,
    StopDeployment,
)
from canaria.guard.plan import plan
from canaria.models import JudgeSettings

JUDGE = Judge(JudgeSettings())
TARGET = LambdaTarget("my-app-Hello-AbC", "live", "5", "6")


def observed(status: AwsStatus = AwsStatus.IN_PROGRESS) -> Observed:
    return Observed("d-ABCDEFGHI", "my-app", "HelloGroup", status, TARGET, 1000.0, "Canary")


def bad_tick() -> TickCounts:
    # the canary fails all 3 of its requests, the stable version none of its 27
    return TickCounts(3, 27, 3, 0, 0, 0, 0, 0)


def good_tick() -> TickCounts:
    return TickCounts(3, 27, 0, 1, 0, 0, 0, 0)


def test_first_poll_starts_watching_and_records_the_target() -> None:
    p = plan(None, observed(), None, judge=JUDGE, mode=Mode.STOP, alarm_name=None, now=5.0)
    assert p.actions == ()
    assert p.record.function == TARGET.function and p.record.target_version == "6"
    assert [e.kind for e in p.events] == ["watch"]


@pytest.mark.parametrize(
    ("mode", "expected"),
    [
        (Mode.STOP, StopDeployment("d-ABCDEFGHI")),
        (Mode.ALARM, SetAlarmState("canaria-judge", "")),
        (Mode.DRY_RUN, None),
    ],
)
def test_a_bad_canary_is_acted_on_once_per_mode(mode: Mode, expected: object) -> None:
    record = None
    actions = []
    for i in range(5):
        p = plan(
            record,
            observed(),
            bad_tick(),
            judge=JUDGE,
            mode=mode,
            alarm_name="canaria-judge",
            now=10.0 + i,
        )
        record = p.record
        actions.extend(p.actions)
    assert record is not None and record.verdict == "ROLLBACK"
    if expected is None:
        assert actions == [] and record.action_status is ActionStatus.WOULD
        assert record.action is not None and "StopDeployment" in record.action
    else:
        assert len(actions) == 1 and actions[0].kind == expected.kind  # type: ignore[attr-defined]
        assert record.action_status is ActionStatus.REQUESTED


def test_a_good_canary_is_left_alone() -> None:
    record = None
    for i in range(50):
        p = plan(
            record, observed(), good_tick(), judge=JUDGE, mode=Mode.STOP, alarm_name=None, now=i
        )
        record = p.record
        assert p.actions == ()
    assert record is not None and record.verdict is None and record.canary_invocations == 150


def test_after_a_restart_a_requested_action_is_not_repeated() -> None:
    record = None
    for i in range(5):
        record = plan(
            record, observed(), bad_tick(), judge=JUDGE, mode=Mode.STOP, alarm_name=None, now=i
        ).record
    assert record is not None and record.action_status is ActionStatus.REQUESTED
    again = plan(
        record, observed(), bad_tick(), judge=JUDGE, mode=Mode.STOP, alarm_name=None, now=9
    )
    assert again.actions == ()


def test_a_deployment_aws_finished_is_recorded_not_acted_on() -> None:
    record = plan(
        None, observed(), None, judge=JUDGE, mode=Mode.STOP, alarm_name=None, now=1
    ).record
    # the evidence is already damning, but CodeDeploy stopped the deployment on its own
    damning = replace(record, verdict="ROLLBACK")
    p = plan(
        damning,
        observed(AwsStatus.STOPPED),
        bad_tick(),
        judge=JUDGE,
        mode=Mode.STOP,
        alarm_name=None,
        now=2,
    )
    assert p.actions == ()
    assert p.record.status is AwsStatus.STOPPED
    assert any("Stopped" in e.message for e in p.events)


def test_bad_input_is_refused() -> None:
    with pytest.raises(ValueError, match="alarm"):
        plan(None, observed(), None, judge=JUDGE, mode=Mode.ALARM, alarm_name=None, now=0)
    with pytest.raises(ValueError, match="no Lambda target"):
        plan(
            None,
            replace(observed(), target=None),
            None,
            judge=JUDGE,
            mode=Mode.STOP,
            alarm_name=None,
            now=0,
        )


def test_alarm_mode_sets_the_alarm_back_to_ok_once_codedeploy_finished() -> None:
    record = None
    for i in range(5):
        record = plan(
            record,
            observed(),
            bad_tick(),
            judge=JUDGE,
            mode=Mode.ALARM,
            alarm_name="canaria-judge",
            now=i,
        ).record
    assert record is not None
    acted = replace(record, action_status=ActionStatus.DONE)
    p = plan(
        acted,
        observed(AwsStatus.STOPPED),
        None,
        judge=JUDGE,
        mode=Mode.ALARM,
        alarm_name="canaria-judge",
        now=9,
    )
    assert [(a.kind, getattr(a, "state", None)) for a in p.actions] == [("SetAlarmState", "OK")]
    assert p.record.alarm_reset
    again = plan(
        p.record,
        observed(AwsStatus.STOPPED),
        None,
        judge=JUDGE,
        mode=Mode.ALARM,
        alarm_name="canaria-judge",
        now=10,
    )
    assert again.actions == ()


@pytest.mark.parametrize("creator", ["codeDeployRollback", "CloudFormationRollback"])
def test_codedeploy_s_own_rollback_is_judged_but_never_stopped(creator: str) -> None:
    """Stopping a rollback would leave the alias on the version being rolled back."""
    seen = replace(observed(), creator=creator)
    p = plan(None, seen, None, judge=JUDGE, mode=Mode.STOP, alarm_name=None, now=1.0)
    assert f"a rollback ({creator}): judged, never stopped" in p.events[0].message
    record = p.record
    for t in range(2, 6):
        p = plan(record, seen, bad_tick(), judge=JUDGE, mode=Mode.STOP, alarm_name=None, now=t)
        record = p.record
        assert p.actions == ()
    assert record.verdict == "ROLLBACK" and record.action_status is ActionStatus.NONE
    user = replace(observed(), creator="CloudFormation")  # what `sam deploy` starts
    p = plan(record, user, bad_tick(), judge=JUDGE, mode=Mode.STOP, alarm_name=None, now=7.0)
    assert p.actions == (StopDeployment("d-ABCDEFGHI"),)


def test_a_dry_run_s_decision_is_acted_on_once_the_guard_acts() -> None:
    """`--dry-run` first, then the same deployment guarded for real (the README's
    walkthrough): the verdict stands and is acted on, once."""
    record = None
    for t in range(1, 6):
        p = plan(
            record, observed(), bad_tick(), judge=JUDGE, mode=Mode.DRY_RUN, alarm_name=None, now=t
        )
        record = p.record
        assert p.actions == ()
    assert record is not None and record.action_status is ActionStatus.WOULD
    p = plan(record, observed(), None, judge=JUDGE, mode=Mode.STOP, alarm_name=None, now=7.0)
    assert p.actions == (StopDeployment("d-ABCDEFGHI"),)
    assert p.record.mode is Mode.STOP and p.record.action_status is ActionStatus.REQUESTED
    assert p.events[0].message == "mode dry-run → stop"
    again = plan(p.record, observed(), None, judge=JUDGE, mode=Mode.STOP, alarm_name=None, now=8)
    assert again.actions == ()
    back = plan(p.record, observed(), None, judge=JUDGE, mode=Mode.DRY_RUN, alarm_name=None, now=9)
    assert back.actions == () and back.record.action_status is ActionStatus.REQUESTED


def test_the_weight_codedeploy_reports_is_kept() -> None:
    weighted = replace(observed(), target=replace(TARGET, weight=0.1))
    p = plan(None, weighted, None, judge=JUDGE, mode=Mode.STOP, alarm_name=None, now=1.0)
    assert p.record.weight == 0.1
    p = plan(p.record, observed(), None, judge=JUDGE, mode=Mode.STOP, alarm_name=None, now=2.0)
    assert p.record.weight == 0.1  # not read this poll: the last value stands
    later = replace(observed(), target=replace(TARGET, weight=0.2))
    p = plan(p.record, later, None, judge=JUDGE, mode=Mode.STOP, alarm_name=None, now=3.0)
    assert p.record.weight == 0.2
