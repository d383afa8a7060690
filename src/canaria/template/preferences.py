"""A function's ``DeploymentPreference`` and canaria's judge settings from its Metadata."""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from typing import Any

from canaria.errors import InvalidRequest
from canaria.models import (
    MAX_SLOW_TOLERANCE_MS,
    AlarmSpec,
    DeploymentPreference,
    JudgeSettings,
    TriggerConfig,
    Undetectable,
)
from canaria.models.arns import parse_function
from canaria.models.configs import PREDEFINED, PREFIX, parse_duration, parse_rate
from canaria.template.context import Context
from canaria.template.index import ALARM, FUNCTION, Entry
from canaria.template.nodes import (
    LineMap,
    Where,
    as_bool,
    as_float,
    as_list,
    as_map,
    as_str,
    check_keys,
)

PREFERENCE_KEYS = (
    "Type",
    "Alarms",
    "Hooks",
    "Enabled",
    "Role",
    "TriggerConfigurations",
    "PassthroughCondition",
)
TRIGGER_EVENTS = (
    "DeploymentStart",
    "DeploymentSuccess",
    "DeploymentFailure",
    "DeploymentStop",
    "DeploymentRollback",
    "DeploymentReady",
    "InstanceStart",
    "InstanceSuccess",
    "InstanceFailure",
    "InstanceReady",
)
JUDGE_KEYS = (
    "enabled",
    "alpha",
    "early_promotion",
    "delta",
    "slow_tolerance_ms",
    "min_detectable",
    "max_hold",
    "undetectable",
)


def deployment_preference(
    ctx: Context,
    entry: Entry,
    node: LineMap,
    at: Where,
    alarms: Mapping[str, AlarmSpec],
    config_names: tuple[str, ...],
    function_names: Mapping[str, str],
) -> DeploymentPreference:
    check_keys(node, at, PREFERENCE_KEYS)
    enabled = as_bool(node["Enabled"], at.key(node, "Enabled")) if "Enabled" in node else True
    if not enabled:
        # SAM reads nothing else of a disabled preference (no deployment group, no hooks):
        # Globals may give a hook function the Hooks that name it
        return DeploymentPreference(type="AllAtOnce", enabled=False)
    if "Type" not in node:
        raise at.error("Type is required", allowed=_config_choices(config_names))
    type_ = as_str(node.get("Type", "AllAtOnce"), at.key(node, "Type"))
    if type_ not in config_names and type_.removeprefix(PREFIX) not in PREDEFINED:
        raise at.key(node, "Type").error(
            f"unknown deployment configuration {type_!r}", allowed=_config_choices(config_names)
        )
    alarm_names: list[str] = []
    if "Alarms" in node:
        aat = at.key(node, "Alarms")
        items = as_list(node["Alarms"], aat)
        for i, item in enumerate(items):
            name = as_str(item, aat.index(node["Alarms"], i))
            if name not in alarms and name in _skipped_alarms(ctx):
                ctx.warn(entry, f"alarm {name} is skipped, so this deployment does not watch it")
                continue
            if name not in alarms:
                raise aat.index(node["Alarms"], i).error(
                    f"alarm {name!r} is not an AWS::CloudWatch::Alarm of this template",
                    allowed=", ".join(sorted(alarms)) or "none declared",
                )
            alarm_names.append(name)
    pre, post = _hooks(node, at, ctx, entry, function_names)
    return DeploymentPreference(
        type=type_,
        alarms=tuple(alarm_names),
        pre_traffic_hook=pre,
        post_traffic_hook=post,
        enabled=enabled,
        triggers=_triggers(ctx, entry, node, at),
        judge=judge_settings(entry),
    )


def _skipped_alarms(ctx: Context) -> set[str]:
    """Names of the template's alarms canaria skips (see ``build_alarm``)."""
    return {
        ctx.index.name_of(e.logical_id)
        for e in ctx.index.entries.values()
        if e.type == ALARM and e.enabled
    }


def _config_choices(config_names: tuple[str, ...]) -> str:
    names = sorted(PREDEFINED) + sorted(config_names)
    return ", ".join(names) + f" (predefined names also with the {PREFIX} prefix)"


def _hooks(
    node: LineMap, at: Where, ctx: Context, entry: Entry, function_names: Mapping[str, str]
) -> tuple[str | None, str | None]:
    if "Hooks" not in node:
        return None, None
    hat = at.key(node, "Hooks")
    hooks = as_map(node["Hooks"], hat)
    check_keys(hooks, hat, ("PreTraffic", "PostTraffic"))
    functions = sorted(n for n, e in ctx.index.entries.items() if e.type == FUNCTION and e.enabled)
    out: list[str | None] = []
    for key in ("PreTraffic", "PostTraffic"):
        if key not in hooks:
            out.append(None)
            continue
        kat = hat.key(hooks, key)
        value = as_str(hooks[key], kat)
        name = function_names.get(value, value)
        if name not in functions:
            with contextlib.suppress(InvalidRequest):
                name = parse_function(value)[0]
            name = function_names.get(name, name)
        if name not in functions:
            raise kat.error(
                f"hook {value!r} is not a function of this template",
                allowed=", ".join(f for f in functions if f != entry.logical_id),
            )
        if name == entry.logical_id:
            raise kat.error(
                f"{entry.logical_id} is its own hook: canaria runs a hook apart from the "
                "release it checks (SAM's guide: turn traffic shifting off on hook functions)",
                allowed=f"DeploymentPreference: {{Enabled: false}} on {entry.logical_id}, "
                "or another function as the hook",
            )
        out.append(name)
    return out[0], out[1]


def _triggers(ctx: Context, entry: Entry, node: LineMap, at: Where) -> tuple[TriggerConfig, ...]:
    if "TriggerConfigurations" not in node:
        return ()
    tat = at.key(node, "TriggerConfigurations")
    raw = node["TriggerConfigurations"]
    out: list[TriggerConfig] = []
    for i, item in enumerate(as_list(raw, tat)):
        iat = tat.index(raw, i)
        trigger = as_map(item, iat)
        check_keys(
            trigger,
            iat,
            ("TriggerName", "TriggerEvents", "TriggerTargetArn"),
            required=("TriggerName", "TriggerEvents", "TriggerTargetArn"),
        )
        name = as_str(trigger["TriggerName"], iat.key(trigger, "TriggerName"))
        eat = iat.key(trigger, "TriggerEvents")
        events = [as_str(e, eat) for e in as_list(trigger["TriggerEvents"], eat)]
        for event in events:
            if event not in TRIGGER_EVENTS:
                raise eat.error(f"unknown trigger event {event!r}", allowed=TRIGGER_EVENTS)
        target = as_str(trigger["TriggerTargetArn"], iat.key(trigger, "TriggerTargetArn"))
        if target.startswith(("http://", "https://", "arn:aws:sns:")):
            out.append(TriggerConfig(name, tuple(events), target))
        else:
            raise iat.key(trigger, "TriggerTargetArn").error(
                f"trigger target {target!r} is neither a webhook URL nor an SNS topic ARN",
                allowed="an SNS topic's ARN (canaria publishes the CodeDeploy trigger "
                "message to it), or an http(s) URL (canaria posts the message to it)",
            )
    return tuple(out)


def judge_settings(entry: Entry) -> JudgeSettings:
    """``Metadata: {canaria: {judge: {...}}}`` on the function, checked."""
    metadata = entry.node.get("Metadata")
    if not isinstance(metadata, Mapping) or "canaria" not in metadata:
        return JudgeSettings()
    mat = entry.where.key(entry.node, "Metadata")
    canaria = as_map(metadata["canaria"], mat.key(metadata, "canaria"))
    cat = mat.key(metadata, "canaria")
    check_keys(canaria, cat, ("judge",))
    if "judge" not in canaria:
        return JudgeSettings()
    jat = cat.key(canaria, "judge")
    judge = as_map(canaria["judge"], jat)
    check_keys(judge, jat, JUDGE_KEYS)
    values: dict[str, Any] = {}
    for key in ("enabled", "early_promotion"):
        if key in judge:
            values[key] = as_bool(judge[key], jat.key(judge, key))
    if "alpha" in judge:
        alpha = as_float(judge["alpha"], jat.key(judge, "alpha"))
        if not 0 < alpha < 1:
            raise jat.key(judge, "alpha").error(
                f"alpha {alpha} is out of range", allowed="0 < alpha < 1, e.g. 0.01"
            )
        values["alpha"] = alpha
    if "delta" in judge:
        delta = as_float(judge["delta"], jat.key(judge, "delta"))
        if delta <= 0:
            raise jat.key(judge, "delta").error(
                f"delta {delta} is out of range", allowed="delta > 0, e.g. 0.5"
            )
        values["delta"] = delta
    if "slow_tolerance_ms" in judge:
        at = jat.key(judge, "slow_tolerance_ms")
        tolerance = as_float(judge["slow_tolerance_ms"], at)
        if not 0 <= tolerance < MAX_SLOW_TOLERANCE_MS:
            raise at.error(
                f"slow_tolerance_ms {tolerance} is out of range",
                allowed="a number of milliseconds >= 0, e.g. 1 or 50",
            )
        values["slow_tolerance_ms"] = tolerance
    values.update(_detectable_settings(judge, jat))
    return JudgeSettings(**values)


def _detectable_settings(judge: Mapping[str, Any], jat: Where) -> dict[str, Any]:
    """``min_detectable: 5%``, ``max_hold: 10m``, ``undetectable: fail | promote``."""
    values: dict[str, Any] = {}
    checks = (
        ("min_detectable", parse_rate, "a failure rate in (0, 100] %, e.g. '5%'"),
        ("max_hold", parse_duration, "seconds or '30s', '10m', '1h'"),
    )
    for key, parse, allowed in checks:
        if key in judge:
            try:
                values["max_hold_s" if key == "max_hold" else key] = parse(judge[key], key)
            except InvalidRequest:
                raise jat.key(judge, key).error(
                    f"{key} {judge[key]!r} is not valid", allowed=allowed
                ) from None
    if "undetectable" in judge:
        at = jat.key(judge, "undetectable")
        raw = as_str(judge["undetectable"], at)
        if raw not in tuple(Undetectable):
            raise at.error(
                f"undetectable {raw!r} is not an outcome", allowed=[u.value for u in Undetectable]
            )
        values["undetectable"] = Undetectable(raw)
    return values
