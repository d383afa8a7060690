"""``AWS::Lambda::EventSourceMapping`` → the event source it declares: a queue, a Kinesis
stream or a table's stream of the template read for one of the template's functions, as
a SAM ``SQS`` / ``Kinesis`` / ``DynamoDB`` event would be (the same checks, the same
reader). A mapping of another source (Kafka, Amazon MQ, DocumentDB, a resource the
template does not declare) or for a function the template does not declare is a
warning: nothing here would feed it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from canaria.models import TableSpec
from canaria.models.services import (
    EventSource,
    QueueSpec,
    ServiceResource,
    StreamSpec,
    TopicSpec,
)
from canaria.template.context import Context
from canaria.template.event_sources import queue_event
from canaria.template.index import Entry
from canaria.template.nodes import check_keys
from canaria.template.service_props import function_named
from canaria.template.service_refs import queue_arn, stream_arn, topic_arn
from canaria.template.streams import stream_event, streamed_table

MAPPING = "AWS::Lambda::EventSourceMapping"
MAPPING_KEYS = (
    "AmazonManagedKafkaEventSourceConfig",
    "BatchSize",
    "BisectBatchOnFunctionError",
    "DestinationConfig",
    "DocumentDBEventSourceConfig",
    "Enabled",
    "EventSourceArn",
    "FilterCriteria",
    "FunctionName",
    "FunctionResponseTypes",
    "KmsKeyArn",
    "LoggingConfig",
    "MaximumBatchingWindowInSeconds",
    "MaximumRecordAgeInSeconds",
    "MaximumRetryAttempts",
    "MetricsConfig",
    "ParallelizationFactor",
    "ProvisionedPollerConfig",
    "Queues",
    "ScalingConfig",
    "SelfManagedEventSource",
    "SelfManagedKafkaEventSourceConfig",
    "SourceAccessConfigurations",
    "StartingPosition",
    "StartingPositionTimestamp",
    "Tags",
    "Topics",
    "TumblingWindowInSeconds",
)
# what a queue's mapping may set (the others are for streams or other sources)
_QUEUE_KEYS = (
    "BatchSize",
    "Enabled",
    "FilterCriteria",
    "FunctionResponseTypes",
    "MaximumBatchingWindowInSeconds",
)
# ... and may set without a local effect (scaling, metrics, encryption, tags)
_QUEUE_IGNORED = (
    "KmsKeyArn",
    "LoggingConfig",
    "MetricsConfig",
    "ProvisionedPollerConfig",
    "ScalingConfig",
    "Tags",
)


def build_mappings(
    ctx: Context,
    mappings: list[Entry],
    functions: list[Entry],
    function_names: Mapping[str, str],
    services: Mapping[str, ServiceResource],
    tables: Mapping[str, TableSpec],
) -> tuple[EventSource, ...]:
    by_id = {e.logical_id: e for e in functions}
    queues = {queue_arn(r.name): r for r in services.values() if isinstance(r, QueueSpec)}
    streams = {stream_arn(r.name): r for r in services.values() if isinstance(r, StreamSpec)}
    by_table = {t.table_name: t for t in tables.values()}
    destinations = set(queues) | {
        topic_arn(r.name) for r in services.values() if isinstance(r, TopicSpec)
    }
    out: list[EventSource] = []
    for entry in mappings:
        check_keys(entry.props, entry.props_at, MAPPING_KEYS, required=("FunctionName",))
        props: dict[str, Any] = {}
        for key in entry.props:
            value = ctx.get(entry, key)
            if value is not None:
                props[key] = value
        at = entry.props_at
        # (its alias or version: the readers invoke through the function's own alias)
        name, logical_id = function_named(props, "FunctionName", at, function_names)
        function = by_id.get(logical_id)
        if function is None:
            ctx.warn(entry, f"the mapping is not run: {name} is not a function of this template")
            continue
        arn = props.get("EventSourceArn")
        if not isinstance(arn, str):
            ctx.warn(entry, "the mapping is not run: only queues and streams are read locally")
            continue
        source: EventSource | None
        if arn in queues:
            for key in props:
                if key not in (*_QUEUE_KEYS, *_QUEUE_IGNORED, "FunctionName", "EventSourceArn"):
                    raise at.key(props, key).error(
                        f"{key} is not a setting of a queue's event source mapping",
                        allowed=", ".join(_QUEUE_KEYS),
                    )
            source = queue_event(
                ctx, function, entry.logical_id, props, at, queues, queue_key="EventSourceArn"
            )
        elif arn in streams or arn.split("/consumer/", 1)[0] in streams:
            stream = streams[arn.split("/consumer/", 1)[0]]
            _needs_position(props, at)
            source = stream_event(
                ctx,
                function,
                entry.logical_id,
                props,
                at,
                "kinesis",
                stream.name,
                stream_arn(stream.name),
                destinations,
            )
        else:
            table = streamed_table(arn, by_table, at.key(props, "EventSourceArn"))
            if table is None:
                ctx.warn(
                    entry,
                    f"the mapping is not run: {arn} is not a queue, a Kinesis stream or a "
                    "table's stream of this template",
                )
                continue
            _needs_position(props, at)
            source = stream_event(
                ctx, function, entry.logical_id, props, at, "dynamodb", table, arn, destinations
            )
        if source is not None:
            out.append(source)
    return tuple(out)


def _needs_position(props: Mapping[str, Any], at: Any) -> None:
    if "StartingPosition" not in props:
        raise at.key(props, "StartingPosition").error(
            "a stream's event source mapping needs a StartingPosition",
            allowed="TRIM_HORIZON, LATEST (AT_TIMESTAMP for Kinesis)",
        )


__all__ = ["MAPPING", "build_mappings"]
