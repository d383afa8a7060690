"""Functions' and state machines' ``Schedule`` and ``ScheduleV2`` events, and
``AWS::Events::Rule`` resources with a ``ScheduleExpression`` targeting a function → the
``ScheduledInvocation`` list canaria fires (``canaria.services.schedules``)."""

from __future__ import annotations

import json
from collections.abc import Collection, Mapping, Sequence
from dataclasses import replace
from typing import Any

from canaria.models.app import StateMachineSpec
from canaria.models.arns import ACCOUNT, REGION, function_arn
from canaria.models.event_transforms import EventTransform
from canaria.models.schedules import (
    ScheduledInvocation,
    ScheduleKind,
    ScheduleTarget,
    check_expression,
    check_timezone,
)
from canaria.models.services import QueueSpec, RuleSpec, RuleTarget, ServiceResource
from canaria.template.context import Context
from canaria.template.event_sources import events_of, relay_queue_name
from canaria.template.index import Entry, state_machine_arn
from canaria.template.nodes import Where, as_bool, as_map, as_str, check_keys, plain
from canaria.template.service_props import function_of
from canaria.template.service_refs import queue_arn, rule_arn

SCHEDULE_EVENT_KEYS = (
    "DeadLetterConfig",
    "Description",
    "Enabled",
    "Input",
    "Name",
    "RetryPolicy",
    "RoleArn",
    "Schedule",
    "State",
    "Target",  # a state machine's: the rule target's Id
)
SCHEDULE_V2_EVENT_KEYS = (
    "DeadLetterConfig",
    "Description",
    "EndDate",
    "FlexibleTimeWindow",
    "GroupName",
    "Input",
    "KmsKeyArn",
    "Name",
    "OmitName",
    "PermissionsBoundary",
    "RetryPolicy",
    "RoleArn",
    "ScheduleExpression",
    "ScheduleExpressionTimezone",
    "StartDate",
    "State",
)
# what a function could observe but canaria does not apply (a warning says so); the
# other keys (names, roles, keys, FlexibleTimeWindow) change nothing it can observe
_UNAPPLIED = ("StartDate", "EndDate", "RetryPolicy", "DeadLetterConfig")
# CloudFormation passes a rule's State to EventBridge, which reads it without regard to case
_STATES = ("ENABLED", "DISABLED", "ENABLED_WITH_ALL_CLOUDTRAIL_MANAGEMENT_EVENTS")


def build_schedules(
    ctx: Context,
    functions: list[Entry],
    machines: Sequence[tuple[Entry, StateMachineSpec]],
    services: Mapping[str, ServiceResource],
    all_machines: Mapping[str, StateMachineSpec] | None = None,
    relays: Collection[str] = (),
) -> tuple[ScheduledInvocation, ...]:
    """Every schedule that invokes one of ``functions`` or starts one of ``machines``
    (each SAM state machine's entry, and what was built from it), and every scheduled
    rule's targets: its functions and state machines (of ``all_machines``) directly, the
    others through their relay queues (``relays``: the ones ``event_sources`` made)."""
    machine_names = {state_machine_arn(m.name): m.name for m in (all_machines or {}).values()}
    out: list[ScheduledInvocation] = []
    targets = [(e, e.logical_id, ScheduleTarget.FUNCTION) for e in functions]
    targets += [(e, m.name, ScheduleTarget.STATE_MACHINE) for e, m in machines]
    for entry, target, target_type in targets:
        for name, kind, event, eat in events_of(ctx, entry):
            if kind not in ("Schedule", "ScheduleV2"):
                delivered = kind in ("EventBridgeRule", "CloudWatchEvent")  # event_sources'
                if target_type is ScheduleTarget.STATE_MACHINE and not delivered:
                    ctx.warn(
                        entry,
                        f"event {name} ({kind}) is not triggered by canaria; start the "
                        "state machine through the Step Functions API to exercise it",
                    )
                continue
            pat = eat.key(event, "Properties")
            props = as_map(event.get("Properties") or {}, pat)
            build = _rule_schedule if kind == "Schedule" else _scheduler_schedule
            schedule = build(ctx, entry, name, props, pat)
            out.append(replace(schedule, target=target, target_type=target_type))
    by_arn = {function_arn(e.logical_id): e.logical_id for e in functions}
    for rule in [r for r in services.values() if isinstance(r, RuleSpec)]:
        if rule.schedule_expression is None:
            continue
        for rule_target in rule.function_targets:
            function = function_of(rule_target.arn, by_arn)
            assert function is not None  # the rule's builder kept only those
            out.append(
                ScheduledInvocation(
                    function,
                    f"{rule.logical_id}.{rule_target.id}",
                    rule.schedule_expression,
                    ScheduleKind.RULE,
                    rule_arn(rule.name, rule.event_bus),
                    input=rule_target.input,
                    enabled=rule.state == "ENABLED",
                    transform=_shaping(rule_target),
                )
            )
        for rule_target in rule.relayed_targets:
            machine = machine_names.get(rule_target.arn)
            if machine is None:
                queue = relay_queue_name(rule.logical_id, rule_target.id)
                if queue in relays:  # carried on as a matched event is (its transform too)
                    out.append(
                        ScheduledInvocation(
                            queue,
                            f"{rule.logical_id}.{rule_target.id}",
                            rule.schedule_expression,
                            ScheduleKind.RULE,
                            rule_arn(rule.name, rule.event_bus),
                            enabled=rule.state == "ENABLED",
                            target_type=ScheduleTarget.QUEUE,
                        )
                    )
                continue  # else event_sources warned
            out.append(
                ScheduledInvocation(
                    machine,
                    f"{rule.logical_id}.{rule_target.id}",
                    rule.schedule_expression,
                    ScheduleKind.RULE,
                    rule_arn(rule.name, rule.event_bus),
                    input=rule_target.input,
                    enabled=rule.state == "ENABLED",
                    target_type=ScheduleTarget.STATE_MACHINE,
                    transform=_shaping(rule_target),
                )
            )
    return tuple(out)


def _shaping(target: RuleTarget) -> EventTransform | None:
    """A scheduled rule target's ``InputPath`` or ``InputTransformer`` (its ``Input`` is
    the schedule's input)."""
    transform = target.transform
    return None if transform is None or transform.input is not None else transform


SCHEDULE = "AWS::Scheduler::Schedule"
SCHEDULE_KEYS = (
    "ActionAfterCompletion",
    "Description",
    "EndDate",
    "FlexibleTimeWindow",
    "GroupName",
    "KmsKeyArn",
    "Name",
    "ScheduleExpression",
    "ScheduleExpressionTimezone",
    "StartDate",
    "State",
    "Target",
)
_TARGET_KEYS = (
    "Arn",
    "DeadLetterConfig",
    "EcsParameters",
    "EventBridgeParameters",
    "Input",
    "KinesisParameters",
    "RetryPolicy",
    "RoleArn",
    "SageMakerPipelineParameters",
    "SqsParameters",
)


def build_scheduler_resources(
    ctx: Context,
    schedules: list[Entry],
    functions: list[Entry],
    machines: Mapping[str, StateMachineSpec],
    services: Mapping[str, ServiceResource] | None = None,
) -> tuple[ScheduledInvocation, ...]:
    """Every ``AWS::Scheduler::Schedule`` whose target is one of ``functions`` (by its
    ARN, or an alias's) or ``machines``: fired as a ``ScheduleV2`` event would be; or a
    standard queue of ``services``: its ``Input`` (else ``{}``) sent as the message body.
    Another target (a FIFO queue, a topic, a universal target) is a warning: the schedule
    is not run."""
    queues = {
        queue_arn(r.name): r.name
        for r in (services or {}).values()
        if isinstance(r, QueueSpec) and not r.name.endswith(".fifo")
    }
    by_arn = {function_arn(e.logical_id): e.logical_id for e in functions}
    out: list[ScheduledInvocation] = []
    for entry in schedules:
        at = entry.props_at
        check_keys(
            entry.props,
            at,
            SCHEDULE_KEYS,
            required=("ScheduleExpression", "FlexibleTimeWindow", "Target"),
        )
        props = {key: ctx.get(entry, key) for key in entry.props}
        tat = at.key(props, "Target")
        target = as_map(props["Target"], tat)
        check_keys(target, tat, _TARGET_KEYS, required=("Arn", "RoleArn"))
        arn = as_str(target["Arn"], tat.key(target, "Arn"))
        function = function_of(arn, by_arn)
        machine = next(
            (m.name for m in machines.values() if state_machine_arn(m.name) == arn), None
        )
        queue = queues.get(arn)
        if function is None and machine is None and queue is None:
            ctx.warn(
                entry,
                f"the schedule is not run: its target {arn} is not a function, a state "
                "machine or a standard queue of this template",
            )
            continue
        flat = {k: v for k, v in props.items() if k in SCHEDULE_V2_EVENT_KEYS}
        # a queue's message body may be any text; a function's or machine's input is JSON
        carried = ("RetryPolicy", "DeadLetterConfig") + (() if queue else ("Input",))
        flat |= {k: v for k, v in target.items() if k in carried}
        schedule = _scheduler_schedule(ctx, entry, entry.logical_id, flat, at)
        if function is not None:
            out.append(replace(schedule, target=function))
        elif machine is not None:
            out.append(replace(schedule, target=machine, target_type=ScheduleTarget.STATE_MACHINE))
        else:
            assert queue is not None
            text = None
            if "Input" in target:
                text = as_str(target["Input"], tat.key(target, "Input"))
            out.append(
                replace(schedule, target=queue, target_type=ScheduleTarget.QUEUE, input=text)
            )
    return tuple(out)


def _rule_schedule(
    ctx: Context, entry: Entry, name: str, props: Mapping[str, Any], at: Where
) -> ScheduledInvocation:
    check_keys(props, at, SCHEDULE_EVENT_KEYS, required=("Schedule",))
    _warn_unapplied(ctx, entry, name, props)
    expression = _expression(props, at, "Schedule", ScheduleKind.RULE)
    enabled = True
    if "Enabled" in props:
        enabled = as_bool(props["Enabled"], at.key(props, "Enabled"))
    if "State" in props:
        enabled = _state(props, at) != "DISABLED"
    rule_name = _name(props, at) or f"{entry.logical_id}{name}"
    return ScheduledInvocation(
        entry.logical_id,
        name,
        expression,
        ScheduleKind.RULE,
        rule_arn(rule_name, "default"),
        input=_input(props, at),
        enabled=enabled,
    )


def _scheduler_schedule(
    ctx: Context, entry: Entry, name: str, props: Mapping[str, Any], at: Where
) -> ScheduledInvocation:
    check_keys(props, at, SCHEDULE_V2_EVENT_KEYS, required=("ScheduleExpression",))
    _warn_unapplied(ctx, entry, name, props)
    expression = _expression(props, at, "ScheduleExpression", ScheduleKind.SCHEDULER)
    timezone = "UTC"
    if "ScheduleExpressionTimezone" in props:
        zat = at.key(props, "ScheduleExpressionTimezone")
        timezone = as_str(props["ScheduleExpressionTimezone"], zat)
        if problem := check_timezone(timezone):
            raise zat.error(problem)
    group = "default"
    if "GroupName" in props:
        group = as_str(props["GroupName"], at.key(props, "GroupName"))
    schedule_name = _name(props, at) or f"{entry.logical_id}{name}"
    return ScheduledInvocation(
        entry.logical_id,
        name,
        expression,
        ScheduleKind.SCHEDULER,
        f"arn:aws:scheduler:{REGION}:{ACCOUNT}:schedule/{group}/{schedule_name}",
        input=_input(props, at),
        timezone=timezone,
        enabled="State" not in props or _state(props, at) != "DISABLED",
    )


def _expression(props: Mapping[str, Any], at: Where, key: str, kind: ScheduleKind) -> str:
    kat = at.key(props, key)
    expression = as_str(props[key], kat).strip()
    if problem := check_expression(expression, kind):
        allowed = "rate(...), cron(...)" + (", at(...)" if kind is ScheduleKind.SCHEDULER else "")
        raise kat.error(problem, allowed=allowed)
    return expression


def _input(props: Mapping[str, Any], at: Where) -> str | None:
    """The event's ``Input``: a JSON text (SAM passes it through; EventBridge requires
    JSON for a Lambda target)."""
    if "Input" not in props:
        return None
    iat = at.key(props, "Input")
    value = props["Input"]
    if isinstance(value, Mapping):
        return json.dumps(plain(value))
    text = as_str(value, iat)
    try:
        json.loads(text)
    except json.JSONDecodeError as exc:
        raise iat.error(f"Input is not JSON: {exc.msg}") from None
    return text


def _state(props: Mapping[str, Any], at: Where) -> str:
    sat = at.key(props, "State")
    state = as_str(props["State"], sat)
    if state.upper() not in _STATES:
        raise sat.error(f"unknown State {state!r}", allowed=_STATES)
    return state.upper()


def _name(props: Mapping[str, Any], at: Where) -> str | None:
    return as_str(props["Name"], at.key(props, "Name")) if "Name" in props else None


def _warn_unapplied(ctx: Context, entry: Entry, name: str, props: Mapping[str, Any]) -> None:
    for key in props:
        if key in _UNAPPLIED:
            ctx.warn(entry, f"event {name}: {key} is accepted but not applied locally")
