"""Functions' ``Events`` of types ``SQS``, ``SNS``, ``EventBridgeRule`` (or its old name
``CloudWatchEvent``) and ``S3`` → the queues canaria polls for them
(``canaria.services.pollers``), checked as Lambda checks an event source mapping.

An SNS, EventBridge or S3 event gets a queue of its own, subscribed to the topic (with
the event's ``FilterPolicy``), targeted by a rule (with the event's ``Pattern``) or
notified by the bucket (with the event's ``Events`` and ``Filter``): the engine delivers
to SQS only, and a queue gives Lambda's asynchronous retries for free (a failed
invocation returns after the function's timeout; after three attempts the message is
dropped, as Lambda drops it without a DLQ).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import replace
from typing import Any, Literal, cast

from canaria.log_groups import name_of_arn
from canaria.models.app import StateMachineSpec
from canaria.models.arns import function_arn
from canaria.models.filters import MAX_FILTERS, check_pattern
from canaria.models.services import (
    BucketNotificationSpec,
    BucketSpec,
    EventBusSpec,
    EventSourceKind,
    Forward,
    QueueEventSource,
    QueueNotification,
    QueueSpec,
    RuleSpec,
    RuleTarget,
    ServiceResource,
    SubscriptionSpec,
    TopicSpec,
)
from canaria.template.bucket_notifications import filter_rules
from canaria.template.context import Context
from canaria.template.eventbridge import event_transform
from canaria.template.firehose import delivery_stream_arns
from canaria.template.index import Entry, state_machine_arn
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
from canaria.template.service_props import function_of
from canaria.template.service_refs import (
    bus_name,
    queue_arn,
    rule_arn,
    subscription_arn,
    topic_arn,
)

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


S3_EVENT_KEYS = ("Bucket", "Events", "Filter")
RULE_EVENT_KEYS = (
    "DeadLetterConfig",
    "EventBusName",
    "Input",
    "InputPath",
    "InputTransformer",
    "Pattern",
    "RetryPolicy",
    "RuleName",
    "State",
    "Target",
)

# what a subscription's attributes say about which messages reach its subscriber
SUBSCRIPTION_FILTER_KEYS = ("FilterPolicy", "FilterPolicyScope")


def build_event_sources(
    ctx: Context,
    functions: list[Entry],
    services: Mapping[str, ServiceResource],
    machines: Sequence[tuple[Entry, StateMachineSpec]] = (),
    all_machines: Mapping[str, StateMachineSpec] | None = None,
    rule_entries: Sequence[Entry] = (),
) -> tuple[tuple[QueueEventSource, ...], dict[str, ServiceResource]]:
    """Every ``Events: {Type: SQS | SNS | EventBridgeRule | S3}`` of ``functions`` whose
    queue, topic, bus or bucket the template declares, every ``EventBridgeRule`` event of
    ``machines`` (each SAM state machine's entry, and what was built from it), and the
    queues, subscriptions and rules they need."""
    queues = {queue_arn(r.name): r for r in services.values() if isinstance(r, QueueSpec)}
    topics = {topic_arn(r.name) for r in services.values() if isinstance(r, TopicSpec)}
    buses = {"default"} | {r.name for r in services.values() if isinstance(r, EventBusSpec)}
    out: list[QueueEventSource] = []
    extra: dict[str, ServiceResource] = {}
    for entry in functions:
        for name, kind, event, eat in events_of(ctx, entry):
            if kind not in ("SQS", "SNS", "EventBridgeRule", "CloudWatchEvent", "S3"):
                continue
            pat = eat.key(event, "Properties")
            props = as_map(event.get("Properties") or {}, pat)
            source: QueueEventSource | None
            if kind == "SQS":
                check_keys(props, pat, SQS_EVENT_KEYS, required=("Queue",))
                source = queue_event(ctx, entry, name, props, pat, queues)
            elif kind == "SNS":
                check_keys(props, pat, SNS_EVENT_KEYS, required=("Topic",))
                source = _topic_event(ctx, entry, name, props, pat, topics, extra)
            elif kind == "S3":
                check_keys(props, pat, S3_EVENT_KEYS, required=("Bucket", "Events"))
                source = _bucket_event(ctx, entry, name, props, pat, services, extra)
            else:
                check_keys(props, pat, RULE_EVENT_KEYS, required=("Pattern",))
                source = _rule_event(ctx, entry, name, props, pat, buses, extra)
            if source is not None:
                out.append(source)
    for entry, machine in machines:
        for name, kind, event, eat in events_of(ctx, entry):
            if kind not in ("EventBridgeRule", "CloudWatchEvent"):
                continue
            pat = eat.key(event, "Properties")
            props = as_map(event.get("Properties") or {}, pat)
            check_keys(props, pat, RULE_EVENT_KEYS, required=("Pattern",))
            source = _rule_event(ctx, entry, name, props, pat, buses, extra)
            if source is not None:
                out.append(replace(source, state_machine=machine.name))
    out.extend(
        _rule_routed_targets(
            ctx,
            functions,
            services,
            all_machines or {},
            {e.logical_id: e for e in rule_entries},
            extra,
        )
    )
    out.extend(_subscribed_functions(ctx, functions, services, extra))
    return tuple(out), extra


def events_of(ctx: Context, entry: Entry) -> Iterator[tuple[str, Any, Mapping[str, Any], Where]]:
    """A function's or state machine's ``Events``: each one's name, ``Type`` (None when
    it is not a mapping), the event itself and where it is."""
    raw = entry.props.get("Events")
    if raw is None:
        return
    at = ctx.at(entry, "Events")
    events = as_map(ctx.resolver.resolve(raw, at), at)
    for name, event in events.items():
        if isinstance(event, Mapping):
            yield name, event.get("Type"), event, at.key(events, name)
        else:
            yield name, None, {}, at.key(events, name)


def relay_queue_name(rule: str, target: str) -> str:
    """The queue of canaria's own a rule's target (not a function's) reads."""
    return re.sub(r"[^A-Za-z0-9_-]", "-", f"canaria-{rule}-{target}")[:80]


def _rule_routed_targets(
    ctx: Context,
    functions: list[Entry],
    services: Mapping[str, ServiceResource],
    machines: Mapping[str, StateMachineSpec],
    rule_entries: Mapping[str, Entry],
    extra: dict[str, ServiceResource],
) -> list[QueueEventSource]:
    """An ``AWS::Events::Rule``'s targets other than buses (the template's functions,
    state machines, queues, topics, API destinations, GraphQL APIs): the rule targets a
    queue of canaria's own instead, read for the target (an EventBridgeRule event of the
    function, the machine started, the event carried on by ``services.forwarding``)."""
    by_arn = {function_arn(e.logical_id): e.logical_id for e in functions}
    entries = {e.logical_id: e for e in functions}
    by_machine_arn = {state_machine_arn(m.name): (lid, m.name) for lid, m in machines.items()}
    topics = {topic_arn(r.name) for r in services.values() if isinstance(r, TopicSpec)}
    queues = {queue_arn(r.name) for r in services.values() if isinstance(r, QueueSpec)}
    delivery_streams = delivery_stream_arns(ctx)
    out: list[QueueEventSource] = []
    # a rule with only a schedule fires on time (template.schedules): its functions and
    # state machines directly, its other targets through these same queues
    rules = [
        (lid, r)
        for lid, r in services.items()
        if isinstance(r, RuleSpec) and (r.event_pattern or r.schedule_expression)
    ]
    for lid, rule in rules:
        added: list[RuleTarget] = []
        arn = rule_arn(rule.name, rule.event_bus)
        enabled = rule.state != "DISABLED"
        entry = rule_entries.get(lid)
        scheduled_only = not rule.event_pattern
        for i, target in enumerate(() if scheduled_only else rule.function_targets):
            function = function_of(target.arn, by_arn)
            assert function is not None  # the rule's builder kept only those
            _, queue = _own_queue(ctx, entries[function], f"{rule.logical_id}-{i}")
            queue = replace(queue, logical_id=f"{rule.logical_id}.Targets.{target.id}.Queue")
            extra[queue.logical_id] = queue
            added.append(RuleTarget(target.id, queue_arn(queue.name)))
            out.append(
                QueueEventSource(
                    function,
                    f"{rule.logical_id}.{target.id}",
                    queue.name,
                    queue_arn(queue.name),
                    batch_size=1,
                    enabled=enabled,
                    kind=EventSourceKind.EVENTBRIDGE,
                    transform=target.transform,
                    rule_arn=arn,
                    rule_name=rule.name,
                )
            )
        for target in rule.relayed_targets:
            machine = by_machine_arn.get(target.arn)
            if scheduled_only and machine is not None:
                continue  # started on schedule directly
            known = (
                machine is not None
                or target.destination is not None
                or target.graphql is not None
                or target.arn in topics
                or target.arn in queues
                or name_of_arn(target.arn) is not None
                or target.arn in delivery_streams
            )
            if not known:
                if entry is not None:
                    ctx.warn(
                        entry,
                        f"target {target.id} ({target.arn}) is not delivered locally: it is "
                        "not a state machine, topic, queue, API destination, GraphQL API or "
                        "delivery stream of this template, or a log group",
                    )
                continue
            queue = QueueSpec(
                f"{rule.logical_id}.Targets.{target.id}.Queue",
                relay_queue_name(rule.logical_id, target.id),
                {"VisibilityTimeout": "30"},
            )
            extra[queue.logical_id] = queue
            added.append(RuleTarget(target.id, queue_arn(queue.name)))
            forward = None
            if machine is None:
                kind: Literal[
                    "queue", "topic", "api_destination", "appsync", "log_group", "firehose"
                ]
                kind = "queue"
                if name_of_arn(target.arn) is not None:
                    kind = "log_group"
                elif target.arn in delivery_streams:
                    kind = "firehose"
                elif target.destination is not None:
                    kind = "api_destination"
                elif target.graphql is not None:
                    kind = "appsync"
                elif target.arn in topics:
                    kind = "topic"
                forward = Forward(
                    kind,
                    target.arn,
                    target.message_group_id,
                    target.destination,
                    target.http,
                    target.delivery,
                    target.graphql,
                )
            out.append(
                QueueEventSource(
                    machine[0] if machine is not None else rule.logical_id,
                    f"{rule.logical_id}.{target.id}",
                    queue.name,
                    queue_arn(queue.name),
                    batch_size=1,
                    enabled=enabled,
                    kind=EventSourceKind.EVENTBRIDGE,
                    state_machine=machine[1] if machine is not None else None,
                    transform=target.transform,
                    rule_arn=arn,
                    rule_name=rule.name,
                    forward=forward,
                )
            )
        if added and not scheduled_only:  # the engine matches; schedules fire here
            extra[rule.logical_id] = replace(rule, targets=(*rule.targets, *added))
    return out


def _subscribed_functions(
    ctx: Context,
    functions: list[Entry],
    services: Mapping[str, ServiceResource],
    extra: dict[str, ServiceResource],
) -> list[QueueEventSource]:
    """A topic's ``lambda`` subscription to one of the template's functions (an
    ``AWS::SNS::Subscription`` or a topic's ``Subscription`` entry): a queue of the
    function's own subscribes in its place, polled as an SNS event, so the function gets
    SNS's event through its alias and the subscription's filter policy still applies."""
    by_arn = {function_arn(e.logical_id): e.logical_id for e in functions}
    entries = {e.logical_id: e for e in functions}
    out: list[QueueEventSource] = []
    for sub in [r for r in services.values() if isinstance(r, SubscriptionSpec)]:
        if sub.protocol in ("email", "email-json", "sms", "firehose"):
            out.append(_mailed(sub, extra))
            continue
        function = function_of(sub.endpoint, by_arn) if sub.protocol == "lambda" else None
        if function is None:
            continue
        _, queue = _own_queue(ctx, entries[function], sub.logical_id)
        queue = replace(queue, logical_id=f"{sub.logical_id}.Queue")
        extra[queue.logical_id] = queue
        kept = {k: v for k, v in sub.attributes.items() if k in SUBSCRIPTION_FILTER_KEYS}
        extra[sub.logical_id] = replace(
            sub, protocol="sqs", endpoint=queue_arn(queue.name), attributes=kept
        )
        out.append(
            QueueEventSource(
                function,
                sub.logical_id,
                queue.name,
                queue_arn(queue.name),
                batch_size=1,
                kind=EventSourceKind.SNS,
                subscription_arn=subscription_arn(sub.logical_id, sub.topic_arn),
            )
        )
    return out


def _mailed(sub: SubscriptionSpec, extra: dict[str, ServiceResource]) -> QueueEventSource:
    """An ``email``, ``email-json``, ``sms`` or ``firehose`` subscription: a queue of
    canaria's own subscribes in its place, read into canaria's outbox
    (``services.outbox``) or the delivery stream."""
    label = "firehose" if sub.protocol == "firehose" else "outbox"
    name = re.sub(r"[^A-Za-z0-9_-]", "-", f"canaria-{sub.logical_id}-{label}")[:80]
    queue = QueueSpec(f"{sub.logical_id}.Queue", name, {"VisibilityTimeout": "30"})
    extra[queue.logical_id] = queue
    kept = {k: v for k, v in sub.attributes.items() if k in SUBSCRIPTION_FILTER_KEYS}
    extra[sub.logical_id] = replace(
        sub, protocol="sqs", endpoint=queue_arn(queue.name), attributes=kept
    )
    kind: Literal["email", "email-json", "sms", "firehose"] = cast(
        Literal["email", "email-json", "sms", "firehose"], sub.protocol
    )
    raw = sub.attributes.get("RawMessageDelivery", "false").lower() == "true"
    return QueueEventSource(
        sub.logical_id,
        sub.logical_id,
        queue.name,
        queue_arn(queue.name),
        batch_size=1,
        kind=EventSourceKind.SNS,
        subscription_arn=subscription_arn(sub.logical_id, sub.topic_arn),
        forward=Forward(kind, sub.endpoint, raw=raw),
    )


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
    base, queue = _own_queue(ctx, entry, name)
    queue_name = queue.name
    attributes: dict[str, str] = {}
    for key in SUBSCRIPTION_FILTER_KEYS:
        if key in props:
            value = props[key]
            if isinstance(value, Mapping):
                attributes[key] = json.dumps(plain(value))
            else:
                attributes[key] = as_str(value, at.key(props, key))
    extra[queue.logical_id] = queue
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


def queue_event(
    ctx: Context,
    entry: Entry,
    name: str,
    props: Mapping[str, Any],
    at: Where,
    queues: Mapping[str, QueueSpec],
    queue_key: str = "Queue",
) -> QueueEventSource | None:
    """A function's SQS event, or an event source mapping of a queue (whose queue is
    ``EventSourceArn``: ``queue_key``), checked as Lambda checks it."""
    arn = as_str(props[queue_key], at.key(props, queue_key))
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
    filters = filters_of(props, at) if "FilterCriteria" in props else ()
    timeout = ctx.get(entry, "Timeout")
    timeout_s = 3 if timeout is NO_VALUE else as_int(timeout, ctx.at(entry, "Timeout"), 1)
    visibility = int(queue.attributes.get("VisibilityTimeout", "30"))
    if visibility < timeout_s:
        raise at.key(props, queue_key).error(
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
        filters=filters,
    )


def filters_of(props: Mapping[str, Any], at: Where) -> tuple[str, ...]:
    """``FilterCriteria: {Filters: [{Pattern: ...}]}``: each pattern as JSON text, checked."""
    cat = at.key(props, "FilterCriteria")
    criteria = as_map(props["FilterCriteria"], cat)
    check_keys(criteria, cat, ("Filters",))
    fat = cat.key(criteria, "Filters")
    items = as_list(criteria.get("Filters", []), fat)
    if len(items) > MAX_FILTERS:
        raise fat.error(f"{len(items)} filters; Lambda allows {MAX_FILTERS} per event source")
    out: list[str] = []
    for i, item in enumerate(items):
        iat = fat.index(items, i)
        node = as_map(item, iat)
        check_keys(node, iat, ("Pattern",), required=("Pattern",))
        pat = iat.key(node, "Pattern")
        raw = node["Pattern"]
        text = json.dumps(plain(raw)) if isinstance(raw, Mapping) else as_str(raw, pat)
        if problem := check_pattern(text):
            raise pat.error(problem)
        out.append(text)
    return tuple(out)


def _own_queue(ctx: Context, entry: Entry, name: str) -> tuple[str, QueueSpec]:
    """The queue canaria adds for an SNS or EventBridge event (redelivered after the
    function's timeout)."""
    timeout = ctx.get(entry, "Timeout")
    timeout_s = 3 if timeout is NO_VALUE else as_int(timeout, ctx.at(entry, "Timeout"), 1)
    queue_name = re.sub(r"[^A-Za-z0-9_-]", "-", f"canaria-{entry.logical_id}-{name}")[:80]
    base = f"{entry.logical_id}.Events.{name}"
    return base, QueueSpec(f"{base}.Queue", queue_name, {"VisibilityTimeout": str(timeout_s + 1)})


def _rule_event(
    ctx: Context,
    entry: Entry,
    name: str,
    props: Mapping[str, Any],
    at: Where,
    buses: set[str],
    extra: dict[str, ServiceResource],
) -> QueueEventSource | None:
    bus = "default"
    if "EventBusName" in props:
        bus = bus_name(as_str(props["EventBusName"], at.key(props, "EventBusName")))
    if bus not in buses:
        ctx.warn(
            entry,
            f"event {name} (EventBridge) is not delivered: bus {bus!r} is not one this "
            "template declares",
        )
        return None
    for key in ("DeadLetterConfig", "RetryPolicy"):
        if key in props:
            ctx.warn(entry, f"event {name} (EventBridge): {key} is not applied locally")
    transform = event_transform(props, at)
    pattern = as_map(props["Pattern"], at.key(props, "Pattern"))
    state = "ENABLED"
    if "State" in props:
        state = as_str(props["State"], at.key(props, "State"))
    rule_name = f"{entry.logical_id}{name}"[:64]
    if "RuleName" in props:
        rule_name = as_str(props["RuleName"], at.key(props, "RuleName"))
    target_id = f"{entry.logical_id}{name}Target"[:64]
    if "Target" in props:
        tat = at.key(props, "Target")
        target = as_map(props["Target"], tat)
        check_keys(target, tat, ("Id",), required=("Id",))
        target_id = as_str(target["Id"], tat.key(target, "Id"))
    base, queue = _own_queue(ctx, entry, name)
    extra[queue.logical_id] = queue
    extra[f"{base}.Rule"] = RuleSpec(
        f"{base}.Rule",
        rule_name,
        bus,
        plain(pattern),
        state=state,
        targets=(RuleTarget(target_id, queue_arn(queue.name)),),
    )
    return QueueEventSource(
        entry.logical_id,
        name,
        queue.name,
        queue_arn(queue.name),
        batch_size=1,
        enabled=state == "ENABLED",
        kind=EventSourceKind.EVENTBRIDGE,
        transform=transform,
        rule_arn=rule_arn(rule_name, bus),
        rule_name=rule_name,
    )


S3_EVENT = re.compile(r"^s3:[A-Za-z]+:(\*|[A-Za-z]+)$")


def _bucket_event(
    ctx: Context,
    entry: Entry,
    name: str,
    props: Mapping[str, Any],
    at: Where,
    existing: Mapping[str, ServiceResource],
    extra: dict[str, ServiceResource],
) -> QueueEventSource | None:
    buckets = {r.name: r for r in existing.values() if isinstance(r, BucketSpec)}
    bat = at.key(props, "Bucket")
    bucket = buckets.get(as_str(props["Bucket"], bat))
    if bucket is None:
        raise bat.error(
            "an S3 event must name a bucket of this template", allowed="!Ref <a bucket>"
        )
    eat = at.key(props, "Events")
    raw = props["Events"]
    events = tuple(as_str(e, eat) for e in (as_list(raw, eat) if isinstance(raw, list) else [raw]))
    for e in events:
        if not S3_EVENT.match(e):
            raise eat.error(f"{e!r} is not an S3 event type", allowed="s3:ObjectCreated:*, ...")
    rules = filter_rules(props.get("Filter"), at.key(props, "Filter"))
    _, queue = _own_queue(ctx, entry, name)
    extra[queue.logical_id] = queue
    notification = QueueNotification(
        f"{entry.logical_id}{name}"[:64], queue_arn(queue.name), events, rules
    )
    key = f"{bucket.logical_id}.Notifications"
    previous = extra.get(key) or existing.get(key)  # the bucket's own configuration first
    if not isinstance(previous, BucketNotificationSpec):
        previous = BucketNotificationSpec(key, bucket.name)
    extra[key] = replace(previous, queues=(*previous.queues, notification))
    return QueueEventSource(
        entry.logical_id,
        name,
        queue.name,
        queue_arn(queue.name),
        batch_size=1,
        kind=EventSourceKind.S3,
    )
