"""``AWS::Events::EventBus`` and ``AWS::Events::Rule`` → specs for the services engine.

A rule's targets are kept when the engine delivers to them (its SQS queues and event
buses); the others (SNS topics, functions, Batch, AppSync, ...) are left out with a
warning, because moto's EventBridge fails ``PutEvents`` outright on a matching rule whose
target it cannot deliver to.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

from canaria.models.schedules import ScheduleKind, check_expression
from canaria.models.services import EventBusSpec, RuleSpec, RuleTarget
from canaria.template.context import Context
from canaria.template.index import Entry
from canaria.template.intrinsics import NO_VALUE
from canaria.template.nodes import as_list, as_map, as_str, check_keys, plain
from canaria.template.service_props import function_of, resource_name, tags_of, warn_function
from canaria.template.service_refs import rule_bus

EVENT_BUS_KEYS = (
    "DeadLetterConfig",
    "Description",
    "EventSourceName",
    "KmsKeyIdentifier",
    "LogConfig",
    "Name",
    "Policy",
    "Tags",
)
RULE_KEYS = (
    "Description",
    "EventBusName",
    "EventPattern",
    "Name",
    "RoleArn",
    "ScheduleExpression",
    "State",
    "Targets",
)
# rule targets the engine delivers to: its queues and its buses (moto's EventBridge fails
# PutEvents outright on a matching rule with any other kind of target, an SNS topic too)
DELIVERED_TARGETS = ("sqs", "events")
RULE_STATES = ("ENABLED", "DISABLED", "ENABLED_WITH_ALL_CLOUDTRAIL_MANAGEMENT_EVENTS")
TARGET_KEYS = (
    "AppSyncParameters",
    "Arn",
    "BatchParameters",
    "DeadLetterConfig",
    "EcsParameters",
    "HttpParameters",
    "Id",
    "Input",
    "InputPath",
    "InputTransformer",
    "KinesisParameters",
    "RedshiftDataParameters",
    "RetryPolicy",
    "RoleArn",
    "RunCommandParameters",
    "SageMakerPipelineParameters",
    "SqsParameters",
)
_RULE_NAME = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
_BUS_NAME = re.compile(r"^[/.\-_A-Za-z0-9]{1,256}$")


def event_bus(ctx: Context, entry: Entry) -> EventBusSpec:
    check_keys(entry.props, entry.props_at, EVENT_BUS_KEYS, required=("Name",))
    name = resource_name(ctx, entry, _BUS_NAME, "letters, digits and / . - _, up to 256 characters")
    if name == "default":
        raise ctx.at(entry, "Name").error(
            "the default event bus exists already", allowed="a name of your own"
        )
    return EventBusSpec(entry.logical_id, name, tags_of(ctx, entry))


def rule(ctx: Context, entry: Entry, functions: Mapping[str, str]) -> RuleSpec:
    check_keys(entry.props, entry.props_at, RULE_KEYS)
    name = resource_name(ctx, entry, _RULE_NAME, "letters, digits and . - _, up to 64 characters")
    pattern: Mapping[str, Any] | None = None
    raw = ctx.get(entry, "EventPattern")
    if raw is not NO_VALUE:
        at = ctx.at(entry, "EventPattern")
        if isinstance(raw, str):
            try:
                raw = json.loads(raw)
            except json.JSONDecodeError as exc:
                raise at.error(f"EventPattern is not JSON: {exc.msg}") from None
        pattern = plain(as_map(raw, at))
    schedule = None
    if "ScheduleExpression" in entry.props:
        sat = ctx.at(entry, "ScheduleExpression")
        schedule = as_str(ctx.get(entry, "ScheduleExpression"), sat).strip()
        if problem := check_expression(schedule, ScheduleKind.RULE):
            raise sat.error(problem, allowed="rate(...) or cron(...)")
    if pattern is None and schedule is None:
        raise entry.props_at.error(
            "a rule needs an EventPattern or a ScheduleExpression",
            allowed="EventPattern, ScheduleExpression",
        )
    state = "ENABLED"
    if "State" in entry.props:
        state = as_str(ctx.get(entry, "State"), ctx.at(entry, "State"))
        if state not in RULE_STATES:
            raise ctx.at(entry, "State").error(f"unknown rule state {state!r}", allowed=RULE_STATES)
    description = ctx.get(entry, "Description")
    targets, to_functions = _targets(ctx, entry, functions)
    if schedule is not None and targets:
        ctx.warn(
            entry,
            "ScheduleExpression fires the rule's Lambda function targets only; "
            f"{', '.join(t.id for t in targets)} get nothing on schedule",
        )
    return RuleSpec(
        entry.logical_id,
        name,
        rule_bus(lambda key: ctx.get(entry, key)),
        pattern,
        schedule,
        state,
        "" if description is NO_VALUE else as_str(description, ctx.at(entry, "Description")),
        targets,
        to_functions,
    )


def _targets(
    ctx: Context, entry: Entry, functions: Mapping[str, str]
) -> tuple[tuple[RuleTarget, ...], tuple[RuleTarget, ...]]:
    """The targets the engine delivers to, and those naming the template's functions."""
    raw = ctx.get(entry, "Targets")
    if raw is NO_VALUE:
        return (), ()
    at = ctx.at(entry, "Targets")
    out: list[RuleTarget] = []
    to_functions: list[RuleTarget] = []
    for i, item in enumerate(as_list(raw, at)):
        iat = at.index(raw, i)
        node = as_map(item, iat)
        check_keys(node, iat, TARGET_KEYS, required=("Arn", "Id"))
        arn = as_str(node["Arn"], iat.key(node, "Arn"))
        parts = arn.split(":", 5) if arn.startswith("arn:") else []
        service = parts[2] if len(parts) == 6 else ""
        if service == "events" and not parts[5].startswith("event-bus/"):
            service = ""  # an archive or an API destination
        if service == "lambda" and function_of(arn, functions) is not None:
            text = as_str(node["Input"], iat.key(node, "Input")) if "Input" in node else None
            to_functions.append(RuleTarget(as_str(node["Id"], iat.key(node, "Id")), arn, text))
            continue
        if service not in DELIVERED_TARGETS:
            if not warn_function(ctx, entry, arn, functions):
                ctx.warn(
                    entry,
                    f"Targets[{i}] ({arn}) is not delivered locally: rules deliver to SQS "
                    "queues and event buses",
                )
            continue
        for key in node:
            if key not in ("Arn", "Id", "Input", "SqsParameters"):
                ctx.warn(entry, f"Targets[{i}].{key} is accepted but not applied locally")
        text = sqs = None
        if "Input" in node:
            text = as_str(node["Input"], iat.key(node, "Input"))
        if "SqsParameters" in node:
            sat = iat.key(node, "SqsParameters")
            params = as_map(node["SqsParameters"], sat)
            check_keys(params, sat, ("MessageGroupId",), required=("MessageGroupId",))
            sqs = as_str(params["MessageGroupId"], sat.key(params, "MessageGroupId"))
        out.append(RuleTarget(as_str(node["Id"], iat.key(node, "Id")), arn, text, sqs))
    return tuple(out), tuple(to_functions)
