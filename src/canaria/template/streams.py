"""``AWS::Kinesis::Stream`` → ``StreamSpec``, and functions' ``Events: {Type: Kinesis}``
and ``{Type: DynamoDB}`` → ``StreamEventSource`` (read by ``canaria.services.streams``),
checked as CloudFormation checks the stream and Lambda checks an event source mapping. A
DynamoDB event reads the stream of a table of the template (its ``StreamArn``).

``ParallelizationFactor`` and ``TumblingWindowInSeconds`` are accepted and named in a
warning: canaria reads each shard with one batch in flight and passes no window state.
An event naming an enhanced fan-out consumer (``AWS::Kinesis::StreamConsumer``) reads the
consumer's stream.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, Literal

from canaria.models import TableSpec
from canaria.models.services import (
    QueueSpec,
    ServiceResource,
    StartingPosition,
    StreamEventSource,
    StreamSpec,
    TopicSpec,
)
from canaria.template.context import Context
from canaria.template.event_sources import events_of, filters_of
from canaria.template.index import Entry
from canaria.template.intrinsics import NO_VALUE
from canaria.template.nodes import Where, as_bool, as_int, as_list, as_map, as_str, check_keys
from canaria.template.service_props import resource_name, tags_of
from canaria.template.service_refs import queue_arn, stream_arn, topic_arn

STREAM_KEYS = (
    "DesiredShardLevelMetrics",
    "MaxRecordSizeInKiB",
    "Name",
    "RetentionPeriodHours",
    "ShardCount",
    "StreamEncryption",
    "StreamModeDetails",
    "Tags",
    "WarmThroughputMiBps",
)
STREAM_EVENT_KEYS = (
    "BatchSize",
    "BisectBatchOnFunctionError",
    "DestinationConfig",
    "Enabled",
    "FilterCriteria",
    "FunctionResponseTypes",
    "KmsKeyArn",
    "MaximumBatchingWindowInSeconds",
    "MaximumRecordAgeInSeconds",
    "MaximumRetryAttempts",
    "MetricsConfig",
    "ParallelizationFactor",
    "StartingPosition",
    "StartingPositionTimestamp",
    "Stream",
    "TumblingWindowInSeconds",
)
_STREAM_NAME = re.compile(r"^[a-zA-Z0-9_.-]{1,128}$")
_TABLE_STREAM = re.compile(r"^arn:aws[a-z-]*:dynamodb:[^:]*:[^:]*:table/([^/]+)/stream/.+$")


def stream_spec(ctx: Context, entry: Entry) -> StreamSpec:
    check_keys(entry.props, entry.props_at, STREAM_KEYS)
    name = resource_name(
        ctx, entry, _STREAM_NAME, "1 to 128 letters, digits, underscores, periods and hyphens"
    )
    mode = "PROVISIONED"
    raw = ctx.get(entry, "StreamModeDetails")
    if raw is not NO_VALUE:
        at = ctx.at(entry, "StreamModeDetails")
        node = as_map(raw, at)
        check_keys(node, at, ("StreamMode",), required=("StreamMode",))
        mode = as_str(node["StreamMode"], at.key(node, "StreamMode"))
        if mode not in ("PROVISIONED", "ON_DEMAND"):
            raise at.key(node, "StreamMode").error(
                f"unknown stream mode {mode!r}", allowed="PROVISIONED, ON_DEMAND"
            )
    shards: int | None = None
    count = ctx.get(entry, "ShardCount")
    if mode == "PROVISIONED":
        shards = 1 if count is NO_VALUE else as_int(count, ctx.at(entry, "ShardCount"), 1, 10_000)
    elif count is not NO_VALUE:
        raise ctx.at(entry, "ShardCount").error(
            "an ON_DEMAND stream has no ShardCount", allowed="StreamMode: PROVISIONED"
        )
    retention = ctx.get(entry, "RetentionPeriodHours")
    hours = (
        24
        if retention is NO_VALUE
        else as_int(retention, ctx.at(entry, "RetentionPeriodHours"), 24, 8760)
    )
    return StreamSpec(entry.logical_id, name, shards, hours, tags_of(ctx, entry))


def check_consumer(entry: Entry) -> None:
    """An ``AWS::Kinesis::StreamConsumer`` (enhanced fan-out): its properties. Its Kinesis
    events read its stream as any other."""
    check_keys(
        entry.props,
        entry.props_at,
        ("ConsumerName", "StreamARN", "Tags"),
        required=("ConsumerName", "StreamARN"),
    )


def build_stream_sources(
    ctx: Context,
    functions: list[Entry],
    services: Mapping[str, ServiceResource],
    tables: Mapping[str, TableSpec],
) -> tuple[StreamEventSource, ...]:
    """Every ``Events: {Type: Kinesis | DynamoDB}`` of ``functions`` whose stream the
    template declares (another stream's is a warning: nothing here puts records in it)."""
    streams = {stream_arn(r.name): r for r in services.values() if isinstance(r, StreamSpec)}
    by_table = {t.table_name: t for t in tables.values()}
    destinations = {queue_arn(r.name) for r in services.values() if isinstance(r, QueueSpec)}
    destinations |= {topic_arn(r.name) for r in services.values() if isinstance(r, TopicSpec)}
    out: list[StreamEventSource] = []
    for entry in functions:
        for name, kind, event, eat in events_of(ctx, entry):
            if kind not in ("Kinesis", "DynamoDB"):
                continue
            pat = eat.key(event, "Properties")
            props = as_map(event.get("Properties") or {}, pat)
            check_keys(props, pat, STREAM_EVENT_KEYS, required=("Stream", "StartingPosition"))
            arn = as_str(props["Stream"], pat.key(props, "Stream"))
            if kind == "DynamoDB":
                table = streamed_table(arn, by_table, pat.key(props, "Stream"))
                if table is None:
                    ctx.warn(
                        entry,
                        f"event {name} (DynamoDB) is not read: {arn} is not the stream of a "
                        "table this template declares",
                    )
                    continue
                out.append(
                    stream_event(ctx, entry, name, props, pat, "dynamodb", table, arn, destinations)
                )
                continue
            stream = streams.get(arn.split("/consumer/", 1)[0])  # an enhanced fan-out consumer
            if stream is None:
                ctx.warn(
                    entry,
                    f"event {name} (Kinesis) is not read: {arn} is not a stream this "
                    "template declares",
                )
                continue
            out.append(
                stream_event(
                    ctx,
                    entry,
                    name,
                    props,
                    pat,
                    "kinesis",
                    stream.name,
                    stream_arn(stream.name),
                    destinations,
                )
            )
    return tuple(out)


def streamed_table(arn: str, tables: Mapping[str, TableSpec], at: Where) -> str | None:
    """The table whose stream ``arn`` is (None: not a table of the template). A table
    without a ``StreamSpecification`` has no stream to read: an error, as on AWS."""
    match = _TABLE_STREAM.match(arn)
    if match is None:
        return None
    table = tables.get(match.group(1))
    if table is None:
        return None
    spec = table.definition.get("StreamSpecification")
    if not isinstance(spec, Mapping) or not spec.get("StreamViewType"):
        raise at.error(
            f"table {table.table_name} ({table.logical_id}) has no stream: give it a "
            "StreamSpecification",
            allowed="StreamViewType: NEW_IMAGE | OLD_IMAGE | NEW_AND_OLD_IMAGES | KEYS_ONLY",
        )
    return table.table_name


def stream_event(
    ctx: Context,
    entry: Entry,
    name: str,
    props: Mapping[str, Any],
    at: Where,
    kind: Literal["kinesis", "dynamodb"],
    stream_name: str,
    arn: str,
    destinations: set[str],
) -> StreamEventSource:
    label = "Kinesis" if kind == "kinesis" else "DynamoDB"

    def number(key: str, default: int, lo: int, hi: int) -> int:
        return as_int(props.get(key, default), at.key(props, key), lo, hi)

    position_at = at.key(props, "StartingPosition")
    text = as_str(props["StartingPosition"], position_at)
    positions = [p for p in StartingPosition if kind == "kinesis" or p.value != "AT_TIMESTAMP"]
    try:
        position = StartingPosition(text)
        if position not in positions:
            raise ValueError(text)
    except ValueError:
        raise position_at.error(
            f"unknown starting position {text!r} for a {label} stream",
            allowed=", ".join(p.value for p in positions),
        ) from None
    timestamp: float | None = None
    if position is StartingPosition.AT_TIMESTAMP:
        tat = at.key(props, "StartingPositionTimestamp")
        if "StartingPositionTimestamp" not in props:
            raise tat.error(
                "AT_TIMESTAMP needs StartingPositionTimestamp", allowed="a Unix time in seconds"
            )
        timestamp = _seconds(props["StartingPositionTimestamp"], tat)
    age = number("MaximumRecordAgeInSeconds", -1, -1, 604_800)
    if 0 <= age < 60:
        raise at.key(props, "MaximumRecordAgeInSeconds").error(
            f"MaximumRecordAgeInSeconds of {age}", allowed="-1 (no limit), or 60 to 604800"
        )
    rat = at.key(props, "FunctionResponseTypes")
    types = [as_str(t, rat) for t in as_list(props.get("FunctionResponseTypes", []), rat)]
    for t in types:
        if t != "ReportBatchItemFailures":
            raise rat.error(f"unknown response type {t!r}", allowed="ReportBatchItemFailures")
    for key, default, lo, hi in (
        ("ParallelizationFactor", 1, 1, 10),
        ("TumblingWindowInSeconds", 0, 0, 900),
    ):
        if number(key, default, lo, hi) != default:
            ctx.warn(
                entry,
                f"event {name} ({label}): {key} is not applied; canaria reads each shard "
                "with one batch in flight",
            )
    return StreamEventSource(
        entry.logical_id,
        name,
        stream_name,
        arn,
        position,
        timestamp,
        batch_size=number("BatchSize", 100, 1, 10_000),
        max_batching_window_s=number("MaximumBatchingWindowInSeconds", 0, 0, 300),
        enabled=as_bool(props.get("Enabled", True), at.key(props, "Enabled")),
        report_batch_item_failures=bool(types),
        bisect_on_error=as_bool(
            props.get("BisectBatchOnFunctionError", False),
            at.key(props, "BisectBatchOnFunctionError"),
        ),
        max_retry_attempts=number("MaximumRetryAttempts", -1, -1, 10_000),
        max_record_age_s=age,
        on_failure=_on_failure(ctx, entry, name, label, props, at, destinations),
        filters=filters_of(props, at) if "FilterCriteria" in props else (),
        kind=kind,
    )


def _seconds(value: Any, at: Where) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        raise at.error(f"{value!r} is not a time", allowed="a Unix time in seconds") from None


def _on_failure(
    ctx: Context,
    entry: Entry,
    name: str,
    label: str,
    props: Mapping[str, Any],
    at: Where,
    destinations: set[str],
) -> str | None:
    """``DestinationConfig: {OnFailure: {Destination, Type}}``: the queue or topic that
    gets a record of each batch discarded; one the template does not declare is a
    warning (the batch is dropped, as without a destination)."""
    if props.get("DestinationConfig") is None:  # absent, or written empty
        return None
    dat = at.key(props, "DestinationConfig")
    config = as_map(props["DestinationConfig"], dat)
    check_keys(config, dat, ("OnFailure",))
    if "OnFailure" not in config:
        return None
    oat = dat.key(config, "OnFailure")
    on_failure = as_map(config["OnFailure"], oat)
    check_keys(on_failure, oat, ("Destination", "Type"), required=("Destination",))
    arn = as_str(on_failure["Destination"], oat.key(on_failure, "Destination"))
    if arn not in destinations:
        ctx.warn(
            entry,
            f"event {name} ({label}): its OnFailure destination {arn} is not a queue or "
            "topic this template declares; discarded batches are only logged",
        )
        return None
    return arn
