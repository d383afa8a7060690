"""Deployment configurations → step lists.

CodeDeploy's predefined Lambda configs, custom ``AWS::CodeDeploy::DeploymentConfig``
(TimeBasedCanary / TimeBasedLinear / AllAtOnce) and canaria's own step lists all become
a tuple of ``Step``: ``SetWeight`` (weight, then hold), ``ManualGate``, ``RequestGate``.
The last step always sets weight 1.0.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from typing import Any

from canaria.errors import InvalidRequest
from canaria.models import DeploymentConfigSpec
from canaria.models.deployment import ManualGate, RequestGate, SetWeight, Step

PREFIX = "CodeDeployDefault.Lambda"

PREDEFINED: dict[str, tuple[str, int, int]] = {
    "AllAtOnce": ("all_at_once", 0, 0),
    "Canary10Percent5Minutes": ("canary", 10, 5),
    "Canary10Percent10Minutes": ("canary", 10, 10),
    "Canary10Percent15Minutes": ("canary", 10, 15),
    "Canary10Percent30Minutes": ("canary", 10, 30),
    "Linear10PercentEvery1Minute": ("linear", 10, 1),
    "Linear10PercentEvery2Minutes": ("linear", 10, 2),
    "Linear10PercentEvery3Minutes": ("linear", 10, 3),
    "Linear10PercentEvery10Minutes": ("linear", 10, 10),
}


def canary_steps(percentage: int, interval_minutes: int) -> tuple[Step, ...]:
    """TimeBasedCanary: ``percentage`` for ``interval`` minutes, then everything."""
    return (SetWeight(percentage / 100, interval_minutes * 60.0), SetWeight(1.0))


def linear_steps(percentage: int, interval_minutes: int) -> tuple[Step, ...]:
    """TimeBasedLinear: add ``percentage`` every ``interval`` minutes until 100 %."""
    steps: list[Step] = []
    weight = percentage
    while weight < 100:
        steps.append(SetWeight(weight / 100, interval_minutes * 60.0))
        weight += percentage
    steps.append(SetWeight(1.0))
    return tuple(steps)


def steps_for(name: str, custom: Mapping[str, DeploymentConfigSpec]) -> tuple[Step, ...]:
    """The steps of the config named ``name`` (with or without the CodeDeploy prefix)."""
    if name in custom:
        return steps_of_spec(custom[name])
    short = name.removeprefix(PREFIX)
    if short in PREDEFINED:
        kind, pct, minutes = PREDEFINED[short]
        return steps_of_spec(DeploymentConfigSpec(name, kind, pct, minutes))  # type: ignore[arg-type]
    allowed = ", ".join(sorted(PREDEFINED)) + (", " + ", ".join(sorted(custom)) if custom else "")
    raise InvalidRequest(f"unknown deployment configuration {name!r} (allowed: {allowed})")


def steps_of_spec(spec: DeploymentConfigSpec) -> tuple[Step, ...]:
    match spec.kind:
        case "all_at_once":
            return (SetWeight(1.0),)
        case "canary":
            return canary_steps(spec.percentage, spec.interval_minutes)
        case "linear":
            return linear_steps(spec.percentage, spec.interval_minutes)
        case "steps":
            return parse_step_list(spec.steps, where=spec.name)


COMPLETIONS = ("response", "reported")  # RequestGate.completion
REPORTED_GATE_TIMEOUT_S = 3600.0  # a "reported" gate's default limit, as a hook's

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|m|h|ms)?\s*$")


def parse_duration(value: Any, where: str) -> float:
    """``90``, ``"90s"``, ``"2m"``, ``"1h"`` → seconds (finite, not negative)."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        if not 0 <= value < math.inf:  # also NaN: a wake-up time computed from it is NaN
            raise InvalidRequest(f"{where}: duration {value!r} (allowed: seconds >= 0)")
        return float(value)
    m = _DURATION.match(str(value))
    if not m:
        raise InvalidRequest(f"{where}: duration {value!r} (allowed: seconds or '30s', '2m', '1h')")
    scale = {"s": 1.0, "m": 60.0, "h": 3600.0, "ms": 0.001, None: 1.0}[m.group(2)]
    return float(m.group(1)) * scale


_RATE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*%\s*$")


def parse_rate(value: Any, where: str, key: str = "min_detectable") -> float:
    """``"5%"`` or ``5`` (a percentage, as step weights are) → 0.05; in (0, 100] %."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        pct = float(value)
    else:
        m = _RATE.match(str(value))
        pct = float(m.group(1)) if m else math.nan
    if not 0 < pct <= 100:
        raise InvalidRequest(
            f"{where}: {key} {value!r} (allowed: a failure rate in (0, 100] %, e.g. '5%')"
        )
    return pct / 100


def parse_step_list(raw: Any, where: str) -> tuple[Step, ...]:
    """canaria step lists, e.g. ``[{weight: 1, duration: 2m}, {gate: manual}, {weight: 100}]``.

    Each entry is one of ``{weight: <percent>, duration: <time>}``, ``{gate: manual}`` or
    ``{requests: <N>, completion: response | reported, timeout: <time>}``. A request
    gate's ``completion`` says when one of its N requests has succeeded: ``response`` (the
    default) when the invocation returns without error; ``reported`` when the work it
    started reports ``Succeeded`` through ``POST /canaria/v1/functions/{function}/completions``
    (long jobs: see ``canaria.controller.signals``). A gate that has not passed within
    ``timeout`` of its start fails the deployment; the default is no limit for
    ``response`` and one hour for ``reported``. A final 100 % step is added when missing.
    A weighted step may add ``min_detectable: 5%``: it then ends only once the judge
    would have caught a canary failing 5 % of its requests (see ``JudgeSettings``).
    """
    if not isinstance(raw, list | tuple) or not raw:
        raise InvalidRequest(f"{where}: steps must be a non-empty list")
    steps: list[Step] = []
    last_weight = 0.0
    for i, entry in enumerate(raw):
        at = f"{where}: step {i + 1}"
        if not isinstance(entry, Mapping):
            raise InvalidRequest(f"{at}: must be a mapping (allowed: weight, gate, requests)")
        keys = set(entry)
        if "weight" in keys and keys <= {"weight", "duration", "min_detectable"}:
            pct = entry["weight"]
            if not isinstance(pct, int | float) or isinstance(pct, bool) or not 0 < pct <= 100:
                raise InvalidRequest(f"{at}: weight {pct!r} (allowed: a percentage in (0, 100])")
            if pct / 100 < last_weight:
                raise InvalidRequest(f"{at}: weight {pct}% is below the previous step's")
            last_weight = pct / 100
            need = entry.get("min_detectable")
            steps.append(
                SetWeight(
                    pct / 100,
                    parse_duration(entry.get("duration", 0), at),
                    None if need is None else parse_rate(need, at),
                )
            )
        elif keys == {"gate"} and entry["gate"] == "manual":
            steps.append(ManualGate())
        elif "requests" in keys and keys <= {"requests", "completion", "timeout"}:
            n = entry["requests"]
            if not isinstance(n, int) or isinstance(n, bool) or n < 1:
                raise InvalidRequest(f"{at}: requests {n!r} (allowed: an integer >= 1)")
            completion = entry.get("completion", "response")
            if completion not in COMPLETIONS:
                raise InvalidRequest(
                    f"{at}: completion {completion!r} (allowed: {', '.join(COMPLETIONS)})"
                )
            timeout = REPORTED_GATE_TIMEOUT_S if completion == "reported" else None
            if "timeout" in entry:
                timeout = parse_duration(entry["timeout"], at)
                if timeout <= 0:
                    raise InvalidRequest(f"{at}: timeout {entry['timeout']!r} must be > 0")
            steps.append(RequestGate(n, completion, timeout))
        else:
            raise InvalidRequest(
                f"{at}: {dict(entry)!r} (allowed: {{weight, duration, min_detectable}}, "
                "{gate: manual}, "
                "{requests: N, completion: response | reported, timeout: T})"
            )
    final = steps[-1]
    if not (isinstance(final, SetWeight) and final.weight == 1.0):
        steps.append(SetWeight(1.0))
    return tuple(steps)
