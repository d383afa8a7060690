"""Creating deployments: ids shaped like CodeDeploy's, and the initial stored record."""

from __future__ import annotations

import math
import secrets
import string
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

from canaria.errors import InvalidRequest
from canaria.models import (
    MAX_SLOW_TOLERANCE_MS,
    REHEARSAL_MIN_DETECTABLE,
    DeploymentConfigSpec,
    DeploymentPreference,
    JudgeSettings,
    Undetectable,
)
from canaria.models.configs import steps_for
from canaria.models.deployment import (
    Deployment,
    DeploymentJudge,
    SetWeight,
    State,
    Step,
    Target,
)

_ALPHABET = string.ascii_uppercase + string.digits


def new_deployment_id() -> str:
    """``d-`` and nine characters, as CodeDeploy's ids."""
    return "d-" + "".join(secrets.choice(_ALPHABET) for _ in range(9))


def judge_override(raw: object) -> dict[str, Any]:
    """A deployment's judge settings as sent to the control API (``deploy --no-judge``,
    ``--judge-alpha``, ...), checked: ValueError naming every problem."""
    if not isinstance(raw, Mapping):
        raise ValueError('judge must be an object, e.g. {"alpha": 0.01}')
    problems: list[str] = []
    out: dict[str, Any] = {}
    for key, value in raw.items():
        match key:
            case "enabled" | "early_promotion":
                if isinstance(value, bool):
                    out[key] = value
                else:
                    problems.append(f"judge.{key} must be true or false, got {value!r}")
            case "alpha" | "delta" | "slow_tolerance_ms":
                ok = isinstance(value, int | float) and not isinstance(value, bool)
                number = float(value) if ok else math.nan
                if key == "alpha":
                    ok = ok and 0 < number < 1
                    allowed = "a number in (0, 1), e.g. 0.01"
                elif key == "delta":
                    ok = ok and 0 < number < math.inf
                    allowed = "a number > 0, e.g. 0.5"
                else:
                    ok = ok and 0 <= number < MAX_SLOW_TOLERANCE_MS
                    allowed = "milliseconds >= 0, e.g. 1"
                if ok:
                    out[key] = number
                else:
                    problems.append(f"judge.{key} must be {allowed}, got {value!r}")
            case "min_detectable" | "max_hold_s":
                ok = isinstance(value, int | float) and not isinstance(value, bool)
                number = float(value) if ok else math.nan
                if (key == "min_detectable" and ok and 0 < number <= 1) or (
                    key == "max_hold_s" and ok and 0 <= number < math.inf
                ):
                    out[key] = number
                else:
                    allowed = (
                        "a rate in (0, 1], e.g. 0.05"
                        if key == "min_detectable"
                        else ("seconds >= 0")
                    )
                    problems.append(f"judge.{key} must be {allowed}, got {value!r}")
            case "undetectable":
                if value in tuple(Undetectable):
                    out[key] = Undetectable(value)
                else:
                    problems.append(f"judge.undetectable must be fail or promote, got {value!r}")
            case _:
                problems.append(
                    f"judge.{key} is not a judge setting (allowed: enabled, alpha, "
                    "early_promotion, delta, slow_tolerance_ms, min_detectable, max_hold_s, "
                    "undetectable)"
                )
    if problems:
        raise ValueError("; ".join(problems))
    return out


def new_deployment(
    *,
    application: str,
    targets: Sequence[Target],
    preference: DeploymentPreference,
    custom_configs: Mapping[str, DeploymentConfigSpec],
    now: float,
    ignore_alarms: bool = False,
    config_override: str | None = None,
    steps_override: Sequence[Step] | None = None,
    judge_override: Mapping[str, Any] | None = None,
    time_scale: float = 1.0,
    hook_versions: Mapping[str, int] | None = None,
) -> Deployment:
    """``time_scale`` > 1: a rehearsal (``--time-scale``): unless the user set one, the
    judge requires ``REHEARSAL_MIN_DETECTABLE``, and steps hold up to their duration in
    wall time (``JudgeSettings.rehearsal_scale``)."""
    config_name = config_override or preference.type
    steps = tuple(steps_override) if steps_override else steps_for(config_name, custom_configs)
    settings = replace(preference.judge, **dict(judge_override or {}))
    if time_scale > 1:
        settings = replace(settings, rehearsal_scale=time_scale)
        if settings.min_detectable is None:
            settings = replace(settings, min_detectable=REHEARSAL_MIN_DETECTABLE)
    return Deployment(
        id=new_deployment_id(),
        application=application,
        targets=tuple(targets),
        config_name=config_name,
        steps=steps,
        ignore_alarms=ignore_alarms,
        alarms=preference.alarms,
        pre_traffic_hook=preference.pre_traffic_hook,
        post_traffic_hook=preference.post_traffic_hook,
        pre_traffic_hook_version=(hook_versions or {}).get(preference.pre_traffic_hook or ""),
        post_traffic_hook_version=(hook_versions or {}).get(preference.post_traffic_hook or ""),
        hook_timeout_s=preference.hook_timeout_s,
        judge=DeploymentJudge(settings),
        triggers=tuple(
            {"name": t.name, "events": list(t.events), "target": t.target}
            for t in preference.triggers
        ),
        created_at=now,
        updated_at=now,
        next_wake_at=now,
    )


def rollback_deployment(of: Deployment, function: str, now: float) -> Deployment:
    """The deployment that undoes ``function``'s move in the finished deployment ``of``:
    its alias back to the version it had, all at once, without hooks or the judge
    (CodeDeploy records a rollback as a deployment too). InvalidRequest if ``of`` is not
    a finished, successful move of ``function`` that has somewhere to go back to."""
    target = next((t for t in of.targets if t.function == function), None)
    if target is None:
        raise InvalidRequest(f"deployment {of.id} does not deploy {function}")
    if of.state is not State.SUCCEEDED or of.rolled_back:
        raise InvalidRequest(
            f"deployment {of.id} is {of.state.value}"
            + (" and rolled back" if of.rolled_back else "")
            + ": only a succeeded deployment can be rolled back after it finished"
        )
    if target.from_version is None:
        raise InvalidRequest(
            f"deployment {of.id} created {function}:{target.alias}; there is no earlier "
            "version to roll back to"
        )
    return Deployment(
        id=new_deployment_id(),
        application=of.application,
        targets=(Target(function, target.alias, target.to_version, target.from_version),),
        config_name="CodeDeployDefault.LambdaAllAtOnce",
        steps=(SetWeight(1.0),),
        ignore_alarms=True,  # the alarms that ask for a rollback must not refuse it
        judge=DeploymentJudge(JudgeSettings(enabled=False)),
        creator="user",
        triggers=of.triggers,
        rollback_of=of.id,
        created_at=now,
        updated_at=now,
        next_wake_at=now,
    )
