"""``AWS::Events::EventBus`` and ``AWS::Events::Rule`` → specs for the services engine.

The engine (moto's EventBridge) matches events and delivers them to SQS queues and event
buses. Its ``PutEvents`` fails outright on a matching rule whose target it cannot deliver
to, it applies neither ``Input`` nor ``InputPath``, and the events it writes have no
``account``. So the engine delivers only to buses. Every other target (one of the
template's functions, state machines, queues, SNS topics, API destinations or GraphQL
APIs) is given a queue of canaria's own instead, read by canaria, which hands each event
on, written and transformed as EventBridge writes and transforms it
(``models.event_transforms``, ``services.forwarding``). Other targets (Batch, CloudWatch
Logs, CodeBuild, ...) are left out with a warning.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

from canaria.models.event_transforms import EventTransform, check_path, check_transformer
from canaria.models.schedules import ScheduleKind, check_expression
from canaria.models.services import ApiDestinationSpec, EventBusSpec, RuleSpec, RuleTarget
from canaria.template import api_destinations
from canaria.template.context import Context
from canaria.template.index import GRAPHQL_APIS, Entry, api_id
from canaria.template.intrinsics import NO_VALUE
from canaria.template.nodes import Where, as_list, as_map, as_str, check_keys, plain
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
# rule targets delivered locally (by ARN service): buses by the engine, the others by
# canaria through a queue of its own
DELIVERED_TARGETS = (
    "sqs",
    "events",
    "states",
    "sns",
    "api-destination",
    "appsync",
    "logs",
    "firehose",
)
# target properties read but not acted on
NOT_APPLIED = (
    "BatchParameters",
    "EcsParameters",
    "KinesisParameters",
    "RedshiftDataParameters",
    "RoleArn",
    "RunCommandParameters",
    "SageMakerPipelineParameters",
)
MACHINE_ARN = "arn:aws:states:"
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


def rule(
    ctx: Context,
    entry: Entry,
    functions: Mapping[str, str],
    destinations: Mapping[str, ApiDestinationSpec] | None = None,
) -> RuleSpec:
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
    targets, to_functions, relayed = _targets(ctx, entry, functions, destinations or {})
    unscheduled = [t.id for t in targets]  # the engine's: buses
    if schedule is not None and unscheduled:
        ctx.warn(
            entry,
            "ScheduleExpression fires the rule's targets but its event buses; "
            f"{', '.join(unscheduled)} get nothing on schedule",
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
        relayed,
    )


def event_transform(node: Mapping[str, Any], at: Where) -> EventTransform | None:
    """A target's (or a SAM EventBridgeRule event's) ``Input``, ``InputPath`` or
    ``InputTransformer``, checked as ``PutTargets`` checks it; None for none of them."""
    given = [key for key in ("Input", "InputPath", "InputTransformer") if key in node]
    if len(given) > 1:
        raise at.key(node, given[1]).error(
            f"{given[0]} and {given[1]} are both given: a target takes one of Input, "
            "InputPath and InputTransformer",
            allowed="one of Input, InputPath, InputTransformer",
        )
    if not given:
        return None
    key = given[0]
    kat = at.key(node, key)
    if key == "Input":
        text = as_str(node[key], kat)
        try:
            json.loads(text)
        except ValueError:
            raise kat.error(
                f"Input is not JSON: {text[:60]!r}", allowed="JSON text (a string is quoted)"
            ) from None
        return EventTransform(input=text)
    if key == "InputPath":
        path = as_str(node[key], kat)
        if problem := check_path(path):
            raise kat.error(problem)
        return EventTransform(input_path=path)
    spec = as_map(node[key], kat)
    check_keys(spec, kat, ("InputPathsMap", "InputTemplate"), required=("InputTemplate",))
    template = as_str(spec["InputTemplate"], kat.key(spec, "InputTemplate"))
    paths: dict[str, str] = {}
    if "InputPathsMap" in spec:
        pat = kat.key(spec, "InputPathsMap")
        raw = as_map(spec["InputPathsMap"], pat)
        paths = {str(k): as_str(v, pat.key(raw, k)) for k, v in raw.items()}
    if problem := check_transformer(paths, template):
        raise kat.error(problem)
    return EventTransform(paths=tuple(paths.items()), template=template)


def _targets(
    ctx: Context,
    entry: Entry,
    functions: Mapping[str, str],
    destinations: Mapping[str, ApiDestinationSpec],
) -> tuple[tuple[RuleTarget, ...], tuple[RuleTarget, ...], tuple[RuleTarget, ...]]:
    """The targets the engine delivers to (buses), those naming the template's functions,
    and those canaria carries on itself (state machines, topics, API destinations,
    queues, GraphQL APIs, log groups)."""
    raw = ctx.get(entry, "Targets")
    if raw is NO_VALUE:
        return (), (), ()
    at = ctx.at(entry, "Targets")
    out: list[RuleTarget] = []
    to_functions: list[RuleTarget] = []
    relayed: list[RuleTarget] = []
    for i, item in enumerate(as_list(raw, at)):
        iat = at.index(raw, i)
        node = as_map(item, iat)
        check_keys(node, iat, TARGET_KEYS, required=("Arn", "Id"))
        target_id = as_str(node["Id"], iat.key(node, "Id"))
        arn = as_str(node["Arn"], iat.key(node, "Arn"))
        parts = arn.split(":", 5) if arn.startswith("arn:") else []
        service = parts[2] if len(parts) == 6 else ""
        destination = destinations.get(arn)
        graphql = None
        if destination is not None:
            service = "api-destination"
        elif service == "appsync":
            graphql = _graphql_target(ctx, node, iat, arn)
            service = "appsync" if graphql is not None else ""
        elif service == "events" and not parts[5].startswith("event-bus/"):
            service = ""  # an archive, or an API destination not of this template
        if service == "states" and not parts[5].startswith("stateMachine:"):
            service = ""  # an activity
        transform = event_transform(node, iat)
        delivery = api_destinations.delivery(node, iat)
        http = None
        if "HttpParameters" in node:
            hat = iat.key(node, "HttpParameters")
            http = api_destinations.http_parameters(as_map(node["HttpParameters"], hat), hat)
        function = service == "lambda" and function_of(arn, functions) is not None
        if not function and service not in DELIVERED_TARGETS:
            if not warn_function(ctx, entry, arn, functions):
                ctx.warn(
                    entry,
                    f"Targets[{i}] ({arn}) is not delivered locally: rules deliver to the "
                    "template's functions, state machines, SQS queues, SNS topics, API "
                    "destinations, GraphQL APIs, delivery streams and log groups, and to "
                    "event buses",
                )
            continue
        for key in node:
            if key in NOT_APPLIED:
                ctx.warn(entry, f"Targets[{i}].{key} is accepted but not applied locally")
        if function:
            to_functions.append(RuleTarget(target_id, arn, transform))
            continue
        if service == "events" and transform is not None:
            ctx.warn(
                entry,
                f"Targets[{i}]: an event bus gets the event as it is; its "
                f"{_given(node)} is not applied locally",
            )
            transform = None
        group = None
        if "SqsParameters" in node:
            sat = iat.key(node, "SqsParameters")
            params = as_map(node["SqsParameters"], sat)
            check_keys(params, sat, ("MessageGroupId",), required=("MessageGroupId",))
            group = as_str(params["MessageGroupId"], sat.key(params, "MessageGroupId"))
        if http is not None and destination is None:
            ctx.warn(entry, f"Targets[{i}].HttpParameters applies to API destinations only")
        if "AppSyncParameters" in node and graphql is None:
            ctx.warn(entry, f"Targets[{i}].AppSyncParameters applies to AppSync targets only")
        target = RuleTarget(target_id, arn, transform, group, destination, http, delivery, graphql)
        # the engine delivers to buses; every other target through canaria, which writes
        # the event as EventBridge does (the engine leaves out its account)
        (out if service == "events" else relayed).append(target)
    return tuple(out), tuple(to_functions), tuple(relayed)


def _graphql_target(
    ctx: Context, node: Mapping[str, Any], at: Where, arn: str
) -> tuple[str, str] | None:
    """(the template's GraphQL API an AppSync target names, its GraphQLOperation), or
    None when the API is not one of the template's."""
    wanted = arn.rsplit("/", 1)[-1]
    api = next(
        (
            name
            for name in ctx.index.names()
            if ctx.index.type_of(name) in GRAPHQL_APIS and api_id(name) == wanted
        ),
        None,
    )
    if api is None or not arn.split(":", 5)[5].startswith("endpoints/graphql-api/"):
        return None
    if "AppSyncParameters" not in node:
        raise at.error(
            "an AppSync target needs AppSyncParameters with its GraphQLOperation",
            allowed="AppSyncParameters: {GraphQLOperation: mutation ...}",
        )
    pat = at.key(node, "AppSyncParameters")
    params = as_map(node["AppSyncParameters"], pat)
    check_keys(params, pat, ("GraphQLOperation",), required=("GraphQLOperation",))
    return api, as_str(params["GraphQLOperation"], pat.key(params, "GraphQLOperation"))


def _given(node: Mapping[str, Any]) -> str:
    return next(k for k in ("Input", "InputPath", "InputTransformer") if k in node)
