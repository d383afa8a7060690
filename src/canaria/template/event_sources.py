"""Functions' ``Events: {Type: SQS}`` and ``{Type: SNS}`` → the queues canaria polls for
them (``canaria.services.pollers``), checked as Lambda checks an event source mapping.

An SNS event gets a queue of its own, subscribed to the topic (with the event's
``FilterPolicy``): the engine delivers to SQS only, and a queue gives Lambda's
asynchronous retries for free (a failed invocation returns after the function's timeout;
after three attempts the message is dropped, as Lambda drops it without a DLQ).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

from canaria.models.services import (
    EventSourceKind,
    QueueEventSource,
    QueueSpec,
    ServiceResource,
    SubscriptionSpec,
    TopicSpec,
)
from canaria.template.context import Context
from canaria.template.index import Entry
from canaria.template.intrinsics import NO_VALUE
from canaria.template.nodes import (
    Where,
    as_bool,
    as_int,
    as_list,
    as_map,
    as_str,
    check_keys,
    plain,
)
from canaria.template.service_refs import queue_arn, subscription_arn, topic_arn

SQS_EVENT_KEYS = (
    "BatchSize",
    "Enabled",
    "FilterCriteria",
    "FunctionResponseTypes",
    "KmsKeyArn",
    "MaximumBatchingWindowInSeconds",
    "MetricsConfig",
    "ProvisionedPollerConfig",
    "Queue",
    "ScalingConfig",
)


SNS_EVENT_KEYS = (
    "FilterPolicy",
    "FilterPolicyScope",
    "RedrivePolicy",
    "Region",
    "SqsSubscription",
    "Topic",
)


def build_event_sources(
    ctx: Context, functions: list[Entry], services: Mapping[str, ServiceResource]
) -> tuple[tuple[QueueEventSource, ...], dict[str, ServiceResource]]:
    """Every ``Events: {Type: SQS | SNS}`` of ``functions`` whose queue or topic the
    template declares, and the queues and subscriptions SNS events need."""
    queues = {queue_arn(r.name): r for r in services.values() if isinstance(r, QueueSpec)}
    topics = {topic_arn(r.name) for r in services.values() if isinstance(r, TopicSpec)}
    out: list[QueueEventSource] = []
    extra: dict[str, ServiceResource] = {}
    for entry in functions:
        raw = entry.props.get("Events")
        if raw is None:
            continue
        at = ctx.at(entry, "Events")
        events = as_map(ctx.resolver.resolve(raw, at), at)
        for name, event in events.items():
            if not isinstance(event, Mapping) or event.get("Type") not in ("SQS", "SNS"):
                continue
            eat = at.key(events, name)
            pat = eat.key(event, "Properties")
            props = as_map(event.get("Properties") or {}, pat)
            source: QueueEventSource | None
            if event["Type"] == "SQS":
                check_keys(props, pat, SQS_EVENT_KEYS, required=("Queue",))
                source = _queue_event(ctx, entry, name, props, pat, queues)
            else:
                check_keys(props, pat, SNS_EVENT_KEYS, required=("Topic",))
                source = _topic_event(ctx, entry, name, props, pat, topics, extra)
            if source is not None:
                out.append(source)
    return tuple(out), extra


def _topic_event(
    ctx: Context,
    entry: Entry,
    name: str,
    props: Mapping[str, Any],
    at: Where,
    topics: set[str],
    extra: dict[str, ServiceResource],
) -> QueueEventSource | None:
    topic = as_str(props["Topic"], at.key(props, "Topic"))
    if topic not in topics:
        ctx.warn(
            entry,
            f"event {name} (SNS) is not delivered: {topic} is not a topic this template declares",
        )
        return None
    if "SqsSubscription" in props:
        ctx.warn(entry, f"event {name} (SNS): SqsSubscription is not applied locally")
    timeout = ctx.get(entry, "Timeout")
    timeout_s = 3 if timeout is NO_VALUE else as_int(timeout, ctx.at(entry, "Timeout"), 1)
    base = f"{entry.logical_id}.Events.{name}"
    queue_name = re.sub(r"[^A-Za-z0-9_-]", "-", f"canaria-{entry.logical_id}-{name}")[:80]
    attributes: dict[str, str] = {}
    for key in ("FilterPolicy", "FilterPolicyScope"):
        if key in props:
            value = props[key]
            if isinstance(value, Mapping):
                attributes[key] = json.dumps(plain(value))
            else:
                attributes[key] = as_str(value, at.key(props, key))
    extra[f"{base}.Queue"] = QueueSpec(
        f"{base}.Queue", queue_name, {"VisibilityTimeout": str(timeout_s + 1)}
    )
    extra[f"{base}.Subscription"] = SubscriptionSpec(
        f"{base}.Subscription", topic, "sqs", queue_arn(queue_name), attributes
    )
    return QueueEventSource(
        entry.logical_id,
        name,
        queue_name,
        queue_arn(queue_name),
        batch_size=1,
        kind=EventSourceKind.SNS,
        subscription_arn=subscription_arn(f"{base}.Subscription", topic),
    )


def _queue_event(
    ctx: Context,
    entry: Entry,
    name: str,
    props: Mapping[str, Any],
    at: Where,
    queues: Mapping[str, QueueSpec],
) -> QueueEventSource | None:
    arn = as_str(props["Queue"], at.key(props, "Queue"))
    queue = queues.get(arn)
    if queue is None:
        ctx.warn(
            entry,
            f"event {name} (SQS) is not polled: {arn} is not a queue this template declares",
        )
        return None
    batch = as_int(props.get("BatchSize", 10), at.key(props, "BatchSize"), 1, 10000)
    window = as_int(
        props.get("MaximumBatchingWindowInSeconds", 0),
        at.key(props, "MaximumBatchingWindowInSeconds"),
        0,
        300,
    )
    if batch > 10 and window < 1:
        raise at.key(props, "BatchSize").error(
            f"a BatchSize of {batch} needs MaximumBatchingWindowInSeconds of at least 1",
            allowed="BatchSize up to 10, or a batching window",
        )
    enabled = as_bool(props.get("Enabled", True), at.key(props, "Enabled"))
    types = [
        as_str(t, at.key(props, "FunctionResponseTypes"))
        for t in as_list(
            props.get("FunctionResponseTypes", []), at.key(props, "FunctionResponseTypes")
        )
    ]
    for t in types:
        if t != "ReportBatchItemFailures":
            raise at.key(props, "FunctionResponseTypes").error(
                f"unknown response type {t!r}", allowed="ReportBatchItemFailures"
            )
    if "FilterCriteria" in props:
        ctx.warn(entry, f"event {name} (SQS): FilterCriteria is not applied locally")
    timeout = ctx.get(entry, "Timeout")
    timeout_s = 3 if timeout is NO_VALUE else as_int(timeout, ctx.at(entry, "Timeout"), 1)
    visibility = int(queue.attributes.get("VisibilityTimeout", "30"))
    if visibility < timeout_s:
        raise at.key(props, "Queue").error(
            f"queue {queue.name}'s VisibilityTimeout ({visibility} s) is less than "
            f"{entry.logical_id}'s Timeout ({timeout_s} s): Lambda refuses this event source",
            allowed=f"VisibilityTimeout of at least {timeout_s} on {queue.logical_id}",
        )
    return QueueEventSource(
        entry.logical_id,
        name,
        queue.name,
        arn,
        batch,
        window,
        enabled,
        "ReportBatchItemFailures" in types,
    )
