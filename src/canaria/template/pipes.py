"""``AWS::Pipes::Pipe`` → ``PipeSpec`` and the event source that reads its source.

A pipe is run when its source is a queue, a Kinesis stream or a table's stream of the
template, its enrichment (if any) a function of the template, and its target a function,
a state machine, an event bus, a queue, a topic, a Kinesis stream, a Firehose delivery
stream or an API destination (its ``HttpParameters``) of the template, or a log group
(``CloudWatchLogsParameters``: a stream name, fixed or a ``$.`` path, else the pipe's
name; a ``Timestamp`` path to epoch milliseconds, else the time of delivery).
Another source or target (Amazon MQ, MSK, Batch, ...) is a warning
and the pipe is not run, so nothing is half delivered; so is a pipe whose
``DesiredState`` is ``STOPPED``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import replace
from typing import Any, Literal

from canaria.log_groups import name_of_arn
from canaria.models import PipeSpec, PipeStep, StateMachineSpec, TableSpec
from canaria.models.arns import ACCOUNT, REGION, function_arn
from canaria.models.services import (
    ApiDestinationSpec,
    EventBusSpec,
    EventSource,
    QueueEventSource,
    QueueSpec,
    ServiceResource,
    StreamEventSource,
    StreamSpec,
    TopicSpec,
)
from canaria.template.api_destinations import http_parameters
from canaria.template.context import Context
from canaria.template.event_sources import filters_of
from canaria.template.firehose import delivery_stream_arns
from canaria.template.index import Entry, state_machine_arn
from canaria.template.intrinsics import NO_VALUE
from canaria.template.nodes import Where, as_int, as_map, as_str, check_keys
from canaria.template.service_props import function_and_qualifier
from canaria.template.service_refs import event_bus_arn, queue_arn, stream_arn, topic_arn
from canaria.template.streams import stream_event, streamed_table

PIPE = "AWS::Pipes::Pipe"
PIPE_KEYS = (
    "Name",
    "Description",
    "DesiredState",
    "RoleArn",
    "Source",
    "SourceParameters",
    "Enrichment",
    "EnrichmentParameters",
    "Target",
    "TargetParameters",
    "LogConfiguration",
    "Tags",
    "KmsKeyIdentifier",
)
_STREAM_PARAMS = (
    "BatchSize",
    "DeadLetterConfig",
    "MaximumBatchingWindowInSeconds",
    "MaximumRecordAgeInSeconds",
    "MaximumRetryAttempts",
    "OnPartialBatchItemFailure",
    "ParallelizationFactor",
    "StartingPosition",
    "StartingPositionTimestamp",
)
_DEFAULT_BUS = re.compile(r"^arn:aws[a-z-]*:events:[^:]*:[^:]*:event-bus/default$")


class _NotRun(Exception):
    """What makes a pipe one canaria does not run (said in a warning)."""


def build_pipes(
    ctx: Context,
    pipes: list[Entry],
    services: Mapping[str, ServiceResource],
    tables: Mapping[str, TableSpec],
    machines: Mapping[str, StateMachineSpec],
    functions: list[Entry],
    destinations: Mapping[str, ApiDestinationSpec] | None = None,
) -> tuple[dict[str, PipeSpec], tuple[EventSource, ...]]:
    """Each pipe canaria runs, and the event source that reads its source
    (``destinations``: the template's API destinations, by ARN)."""
    out: dict[str, PipeSpec] = {}
    sources: list[EventSource] = []
    for entry in pipes:
        check_keys(entry.props, entry.props_at, PIPE_KEYS, required=("Source", "Target"))
        state = ctx.get(entry, "DesiredState")
        if state is not NO_VALUE and as_str(state, ctx.at(entry, "DesiredState")) == "STOPPED":
            ctx.warn(entry, "the pipe's DesiredState is STOPPED: it is not run")
            continue
        try:
            spec, source = _pipe(
                ctx, entry, services, tables, machines, functions, destinations or {}
            )
        except _NotRun as exc:
            ctx.warn(entry, f"the pipe is not run: {exc}")
            continue
        out[entry.logical_id] = spec
        sources.append(source)
    return out, tuple(sources)


def _pipe(
    ctx: Context,
    entry: Entry,
    services: Mapping[str, ServiceResource],
    tables: Mapping[str, TableSpec],
    machines: Mapping[str, StateMachineSpec],
    functions: list[Entry],
    destinations: Mapping[str, ApiDestinationSpec],
) -> tuple[PipeSpec, EventSource]:
    name = ctx.index.name_of(entry.logical_id)
    arn = f"arn:aws:pipes:{REGION}:{ACCOUNT}:pipe/{name}"
    source_arn = as_str(ctx.get(entry, "Source"), ctx.at(entry, "Source"))
    raw = ctx.get(entry, "SourceParameters")
    sat = ctx.at(entry, "SourceParameters")
    params = as_map(raw, sat) if raw is not NO_VALUE else {}
    filters = filters_of(params, sat) if "FilterCriteria" in params else ()
    queues = {queue_arn(r.name): r for r in services.values() if isinstance(r, QueueSpec)}
    streams = {stream_arn(r.name): r for r in services.values() if isinstance(r, StreamSpec)}
    by_table = {t.table_name: t for t in tables.values()}
    # a table's stream (None: not one; an error for a table of the template without one)
    table = (
        None
        if source_arn in queues or source_arn in streams
        else streamed_table(source_arn, by_table, ctx.at(entry, "Source"))
    )
    source: EventSource
    if source_arn in queues:
        queue = queues[source_arn]
        qat = sat.key(params, "SqsQueueParameters")
        sqs = as_map(params.get("SqsQueueParameters") or {}, qat)
        check_keys(sqs, qat, ("BatchSize", "MaximumBatchingWindowInSeconds"))
        source = QueueEventSource(
            entry.logical_id,
            "Source",
            queue.name,
            source_arn,
            batch_size=as_int(sqs.get("BatchSize", 10), qat.key(sqs, "BatchSize"), 1, 10_000),
            max_batching_window_s=as_int(
                sqs.get("MaximumBatchingWindowInSeconds", 0),
                qat.key(sqs, "MaximumBatchingWindowInSeconds"),
                0,
                300,
            ),
            report_batch_item_failures=True,
            filters=filters,
        )
        kind = "aws:sqs"
    elif source_arn in streams or table is not None:
        key = "DynamoDBStreamParameters" if table else "KinesisStreamParameters"
        pat = sat.key(params, key)
        if key not in params:
            raise pat.error(f"a pipe reading {source_arn} needs {key} with its StartingPosition")
        stream_params = as_map(params[key], pat)
        check_keys(stream_params, pat, _STREAM_PARAMS, required=("StartingPosition",))
        failures = set(queues) | {
            topic_arn(r.name) for r in services.values() if isinstance(r, TopicSpec)
        }
        source = _stream_source(
            ctx, entry, stream_params, pat, source_arn, table, streams, filters, failures
        )
        kind = "aws:dynamodb" if table else "aws:kinesis"
    else:
        raise _NotRun(
            f"its source {source_arn} is not a queue, a Kinesis stream or a table's stream "
            "of this template"
        )
    function_arns = {function_arn(f.logical_id): f.logical_id for f in functions}
    enrichment = None
    if ctx.get(entry, "Enrichment") is not NO_VALUE:
        eat = ctx.at(entry, "Enrichment")
        enrichment_arn = as_str(ctx.get(entry, "Enrichment"), eat)
        step = function_and_qualifier(enrichment_arn, function_arns)
        machine = next(
            (m.name for m in machines.values() if state_machine_arn(m.name) == enrichment_arn),
            None,
        )
        if step is None and machine is None:
            raise _NotRun(
                f"its enrichment {enrichment_arn} is not a function or a state machine of "
                "this template"
            )
        raw_params = ctx.get(entry, "EnrichmentParameters")
        epat = ctx.at(entry, "EnrichmentParameters")
        eparams = as_map(raw_params, epat) if raw_params is not NO_VALUE else {}
        check_keys(eparams, epat, ("InputTemplate", "HttpParameters"))
        template = eparams.get("InputTemplate")
        enrichment = PipeStep(
            "function" if step is not None else "state_machine",
            step[0] if step is not None else str(machine),
            enrichment_arn,
            step[1] if step is not None else None,
            input_template=None
            if template is None
            else as_str(template, epat.key(eparams, "InputTemplate")),
        )
    target_arn = as_str(ctx.get(entry, "Target"), ctx.at(entry, "Target"))
    target = _target(ctx, entry, target_arn, function_arns, services, machines, destinations)
    return (
        PipeSpec(entry.logical_id, name, arn, source_arn, kind, target, enrichment),
        source,
    )


def _stream_source(
    ctx: Context,
    entry: Entry,
    params: Mapping[str, Any],
    at: Where,
    arn: str,
    table: str | None,
    streams: Mapping[str, StreamSpec],
    filters: tuple[str, ...],
    destinations: set[str],
) -> StreamEventSource:
    """A pipe's stream source: its parameters in the words of a Lambda stream event (a
    pipe always reports partial failures; its dead-letter target is an OnFailure
    destination), read as that event is."""
    lambda_props: dict[str, Any] = {
        k: v
        for k, v in params.items()
        if k not in ("OnPartialBatchItemFailure", "DeadLetterConfig")
    }
    lambda_props["FunctionResponseTypes"] = ["ReportBatchItemFailures"]
    if params.get("OnPartialBatchItemFailure") == "AUTOMATIC_BISECT":
        lambda_props["BisectBatchOnFunctionError"] = True
    if params.get("DeadLetterConfig"):
        dat = at.key(params, "DeadLetterConfig")
        dead = as_map(params["DeadLetterConfig"], dat)
        check_keys(dead, dat, ("Arn",), required=("Arn",))
        lambda_props["DestinationConfig"] = {"OnFailure": {"Destination": dead["Arn"]}}
    kind: Literal["kinesis", "dynamodb"] = "dynamodb" if table else "kinesis"
    name = table if table else streams[arn].name
    source = stream_event(ctx, entry, "Source", lambda_props, at, kind, name, arn, destinations)
    return replace(source, filters=filters)


def _target(
    ctx: Context,
    entry: Entry,
    arn: str,
    functions: Mapping[str, str],
    services: Mapping[str, ServiceResource],
    machines: Mapping[str, StateMachineSpec],
    destinations: Mapping[str, ApiDestinationSpec],
) -> PipeStep:
    raw = ctx.get(entry, "TargetParameters")
    tat = ctx.at(entry, "TargetParameters")
    params = as_map(raw, tat) if raw is not NO_VALUE else {}

    def text(value: Any, at: Where) -> str | None:
        return None if value is None else as_str(value, at)

    template = text(params.get("InputTemplate"), tat.key(params, "InputTemplate"))

    def section(key: str, allowed: tuple[str, ...]) -> Mapping[str, Any]:
        sat = tat.key(params, key)
        node = as_map(params.get(key) or {}, sat)
        check_keys(node, sat, allowed)
        return node

    step = function_and_qualifier(arn, functions)
    if step is not None:
        node = section("LambdaFunctionParameters", ("InvocationType",))
        return PipeStep(
            "function",
            step[0],
            arn,
            step[1],
            input_template=template,
            fire_and_forget=node.get("InvocationType") == "FIRE_AND_FORGET",
        )
    for machine in machines.values():
        if arn == state_machine_arn(machine.name):
            node = section("StepFunctionStateMachineParameters", ("InvocationType",))
            return PipeStep(
                "state_machine",
                machine.name,
                arn,
                input_template=template,
                # Pipes' default is REQUEST_RESPONSE (StartSyncExecution), which only an
                # express machine supports: a standard one is started, not awaited
                fire_and_forget=node.get(
                    "InvocationType",
                    "REQUEST_RESPONSE" if machine.type == "EXPRESS" else "FIRE_AND_FORGET",
                )
                == "FIRE_AND_FORGET",
            )
    for resource in services.values():
        if isinstance(resource, EventBusSpec) and arn == event_bus_arn(resource.name):
            return _bus_step(resource.name, arn, template, section)
        if isinstance(resource, QueueSpec) and arn == queue_arn(resource.name):
            node = section("SqsQueueParameters", ("MessageGroupId", "MessageDeduplicationId"))
            sat = tat.key(params, "SqsQueueParameters")
            return PipeStep(
                "queue",
                resource.name,
                arn,
                input_template=template,
                message_group_id=text(node.get("MessageGroupId"), sat),
                message_deduplication_id=text(node.get("MessageDeduplicationId"), sat),
            )
        if isinstance(resource, TopicSpec) and arn == topic_arn(resource.name):
            return PipeStep("topic", arn, arn, input_template=template)
        if isinstance(resource, StreamSpec) and arn == stream_arn(resource.name):
            node = section("KinesisStreamParameters", ("PartitionKey",))
            if "PartitionKey" not in node:
                raise tat.error("a Kinesis target needs KinesisStreamParameters.PartitionKey")
            return PipeStep(
                "stream",
                resource.name,
                arn,
                input_template=template,
                partition_key=text(
                    node["PartitionKey"], tat.key(params, "KinesisStreamParameters")
                ),
            )
    if _DEFAULT_BUS.match(arn):
        return _bus_step("default", arn, template, section)
    if arn in delivery_stream_arns(ctx):
        return PipeStep("firehose", arn.rsplit("/", 1)[-1], arn, input_template=template)
    if arn in destinations:
        hat = tat.key(params, "HttpParameters")
        node = as_map(params.get("HttpParameters") or {}, hat)
        return PipeStep(
            "api_destination",
            destinations[arn].name,
            arn,
            input_template=template,
            destination=destinations[arn],
            http=http_parameters(node, hat) if node else None,
        )
    group = name_of_arn(arn)
    if group is not None:  # the template's or not: written to, created if it must be
        node = section("CloudWatchLogsParameters", ("LogStreamName", "Timestamp"))
        sat = tat.key(params, "CloudWatchLogsParameters")
        return PipeStep(
            "log_group",
            group,
            arn,
            input_template=template,
            log_stream=text(node.get("LogStreamName"), sat),
            timestamp=text(node.get("Timestamp"), sat),
        )
    raise _NotRun(
        f"its target {arn} is not a function, state machine, event bus, queue, topic, "
        "Kinesis stream, delivery stream, API destination or log group of this template"
    )


def _bus_step(name: str, arn: str, template: str | None, section: Any) -> PipeStep:
    node = section(
        "EventBridgeEventBusParameters", ("DetailType", "Source", "Resources", "Time", "EndpointId")
    )
    return PipeStep(
        "event_bus",
        name,
        arn,
        input_template=template,
        detail_type=None if node.get("DetailType") is None else str(node["DetailType"]),
        source=None if node.get("Source") is None else str(node["Source"]),
    )


__all__ = ["PIPE", "build_pipes"]
