"""A weighted step that requires a detectable failure rate holds past its duration until
the judge reaches it, at most ``max_hold_s``, then fails or promotes as the user chose;
step lists, the control API and rehearsals (``--time-scale``) set the requirement."""

from __future__ import annotations

from dataclasses import replace

import pytest

from canaria.controller.deployments import judge_override, new_deployment
from canaria.controller.plan import Observation
from canaria.controller.reconcile import reconcile
from canaria.errors import InvalidRequest
from canaria.models import (
    REHEARSAL_MIN_DETECTABLE,
    DeploymentPreference,
    JudgeSettings,
    Undetectable,
)
from canaria.models.configs import parse_rate, parse_step_list
from canaria.models.deployment import (
    Deployment,
    DeploymentJudge,
    ErrorCode,
    JudgeProgress,
    SetWeight,
    State,
    Target,
)

STARTED = 1_000.0
DURATION = 300.0


def canary(
    need: float | None = 0.05,
    detectable: float | None = 0.2,
    *,
    step_need: float | None = None,
    max_hold_s: float | None = None,
    undetectable: Undetectable = Undetectable.FAIL,
    enabled: bool = True,
) -> Deployment:
    settings = JudgeSettings(
        enabled=enabled,
        min_detectable=need,
        max_hold_s=max_hold_s,
        undetectable=undetectable,
    )
    progress = JudgeProgress(
        evidence={"errors": 1.0}, threshold=300.0, detectable=detectable, canary_requests=13
    )
    return Deployment(
        id="d-DETECT",
        application="app",
        targets=(Target("Fn", "live", 1, 2),),
        config_name="Custom",
        steps=(SetWeight(0.1, DURATION, step_need), SetWeight(1.0)),
        state=State.ALLOW_TRAFFIC,
        step_index=0,
        step_started_at=STARTED,
        judge=DeploymentJudge(settings, progress),
    )


def at(d: Deployment, t: float) -> tuple[Deployment, list[str]]:
    plan = reconcile(d, Observation(now=t))
    return plan.deployment, [e.message for e in plan.events]


def test_without_a_requirement_the_step_ends_on_time() -> None:
    d, _ = at(canary(need=None, detectable=None), STARTED + DURATION)
    assert d.state is State.AFTER_ALLOW_TRAFFIC


def test_the_step_ends_on_time_once_the_rate_is_detectable() -> None:
    d, events = at(canary(need=0.25, detectable=0.2), STARTED + DURATION)
    assert d.state is State.AFTER_ALLOW_TRAFFIC
    assert any("20.0% failing was detectable after 13 canary requests" in m for m in events)


def test_the_step_holds_past_its_duration_until_the_cap_and_says_so_once() -> None:
    d = replace(canary(), next_wake_at=STARTED + DURATION)
    d, events = at(d, STARTED + DURATION)
    assert d.state is State.ALLOW_TRAFFIC and d.step_index == 0
    assert events == [
        "step 1: holding past its duration until a canary failing 5.0% would be caught "
        "(detectable after 13 canary requests: 20.0%), at most 300s"
    ]
    # it looks again within a tick, and never sleeps past the cap (as long again)
    assert d.next_wake_at is not None and d.next_wake_at <= STARTED + 2 * DURATION
    d, events = at(d, STARTED + DURATION + 10)
    assert d.state is State.ALLOW_TRAFFIC and not events


def test_the_judge_reaching_the_rate_while_holding_ends_the_step() -> None:
    d, _ = at(canary(detectable=0.049), STARTED + DURATION + 100)
    assert d.state is State.AFTER_ALLOW_TRAFFIC


def test_at_the_cap_the_deployment_fails_and_rolls_back_by_default() -> None:
    d, _ = at(canary(detectable=None), STARTED + 2 * DURATION)
    assert d.state is State.FAILED and d.rolled_back
    assert d.error_code is ErrorCode.JUDGE_INCONCLUSIVE
    assert d.error_message is not None and "could not judge" in d.error_message
    assert "not even" not in d.error_message and "no failure rate" in d.error_message
    assert "5.0% required" in d.error_message


def test_at_the_cap_promote_goes_on_with_a_warning() -> None:
    d, events = at(canary(undetectable=Undetectable.PROMOTE), STARTED + 2 * DURATION)
    assert d.state is State.AFTER_ALLOW_TRAFFIC and not d.rolled_back
    assert events[0].startswith("warning: the judge could not judge this release")
    assert "only 20.0% failing was detectable" in events[0]
    # what would have been enough: 13 requests detected 20 %, 5 % needs about four times
    assert "about 52 canary requests would do" in events[0]


def test_max_hold_sets_the_cap() -> None:
    d, _ = at(canary(max_hold_s=60), STARTED + DURATION + 59)
    assert d.state is State.ALLOW_TRAFFIC
    d, _ = at(canary(max_hold_s=60), STARTED + DURATION + 60)
    assert d.state is State.FAILED


def test_a_step_requirement_overrides_the_judge_default() -> None:
    d, _ = at(canary(need=0.01, step_need=0.3), STARTED + DURATION)
    assert d.state is State.AFTER_ALLOW_TRAFFIC
    d, _ = at(canary(need=None, step_need=0.1), STARTED + DURATION)
    assert d.state is State.ALLOW_TRAFFIC


def test_a_switched_off_judge_requires_nothing() -> None:
    d, _ = at(canary(enabled=False, detectable=None), STARTED + DURATION)
    assert d.state is State.AFTER_ALLOW_TRAFFIC


def test_step_lists_take_min_detectable() -> None:
    steps = parse_step_list(
        [{"weight": 10, "duration": "5m", "min_detectable": "5%"}, {"weight": 50}], "Careful"
    )
    assert steps[0] == SetWeight(0.1, 300.0, 0.05)
    assert parse_rate(2.5, "x") == 0.025


@pytest.mark.parametrize("bad", ["0%", "150%", "five", True, "-3%"])
def test_a_bad_min_detectable_names_the_step(bad: object) -> None:
    with pytest.raises(InvalidRequest, match=r"Careful: step 1: min_detectable .* \(0, 100\] %"):
        parse_step_list([{"weight": 10, "min_detectable": bad}], "Careful")


def test_the_control_api_takes_the_requirement_and_checks_it() -> None:
    out = judge_override({"min_detectable": 0.05, "max_hold_s": 600, "undetectable": "promote"})
    assert out == {"min_detectable": 0.05, "max_hold_s": 600.0, "undetectable": "promote"}
    with pytest.raises(ValueError) as e:
        judge_override({"min_detectable": 5, "undetectable": "maybe"})
    assert "judge.min_detectable must be a rate in (0, 1]" in str(e.value)
    assert "judge.undetectable must be fail or promote" in str(e.value)


def test_a_rehearsal_requires_a_detectable_rate_unless_the_user_set_one() -> None:
    def start(preference: DeploymentPreference, time_scale: float) -> JudgeSettings:
        return new_deployment(
            application="app",
            targets=(Target("Fn", "live", 1, 2),),
            preference=preference,
            custom_configs={},
            now=0.0,
            time_scale=time_scale,
        ).judge.settings

    plain = DeploymentPreference("Canary10Percent5Minutes")
    assert start(plain, 1.0) == JudgeSettings()
    rehearsal = start(plain, 60.0)
    assert rehearsal.min_detectable == REHEARSAL_MIN_DETECTABLE
    assert rehearsal.rehearsal_scale == 60.0
    own = replace(plain, judge=JudgeSettings(min_detectable=0.3))
    assert start(own, 60.0).min_detectable == 0.3


def test_a_rehearsal_step_holds_until_it_has_lasted_its_duration_in_wall_time() -> None:
    d = canary()
    d = replace(d, judge=replace(d.judge, settings=replace(d.judge.settings, rehearsal_scale=60)))
    held, _ = at(d, STARTED + 60 * DURATION - 1)
    assert held.state is State.ALLOW_TRAFFIC
    failed, _ = at(d, STARTED + 60 * DURATION)
    assert failed.state is State.FAILED
