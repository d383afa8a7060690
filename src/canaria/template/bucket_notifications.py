"""A bucket's ``NotificationConfiguration`` → what the services engine delivers: queue and
topic notifications, and EventBridge (object events on the default bus, where rules and
functions' ``EventBridgeRule`` events pick them up). A ``LambdaConfigurations`` entry is
not run: a function gets object events through its own ``S3`` event."""

from __future__ import annotations

from typing import Any

from canaria.models.services import BucketNotificationSpec, QueueNotification
from canaria.template.context import Context
from canaria.template.index import Entry
from canaria.template.intrinsics import NO_VALUE
from canaria.template.nodes import Where, as_bool, as_list, as_map, as_str, check_keys

NOTIFICATION_KEYS = (
    "EventBridgeConfiguration",
    "LambdaConfigurations",
    "QueueConfigurations",
    "TopicConfigurations",
)


def bucket_notifications(ctx: Context, entry: Entry, bucket: str) -> BucketNotificationSpec | None:
    raw = ctx.get(entry, "NotificationConfiguration")
    if raw is NO_VALUE:
        return None
    at = ctx.at(entry, "NotificationConfiguration")
    node = as_map(raw, at)
    check_keys(node, at, NOTIFICATION_KEYS)
    event_bridge = False
    if "EventBridgeConfiguration" in node:
        eat = at.key(node, "EventBridgeConfiguration")
        config = as_map(node["EventBridgeConfiguration"], eat)
        check_keys(config, eat, ("EventBridgeEnabled",))
        enabled = config.get("EventBridgeEnabled", True)
        event_bridge = as_bool(enabled, eat.key(config, "EventBridgeEnabled"))
    if "LambdaConfigurations" in node:
        ctx.warn(
            entry,
            "NotificationConfiguration.LambdaConfigurations is not delivered locally: give "
            "the function an S3 event for the bucket instead",
        )
    queues = _targets(node, at, "QueueConfigurations", "Queue", entry.logical_id)
    topics = _targets(node, at, "TopicConfigurations", "Topic", entry.logical_id)
    if not (queues or topics or event_bridge):
        return None
    key = f"{entry.logical_id}.Notifications"
    return BucketNotificationSpec(key, bucket, queues, topics, event_bridge)


def _targets(
    node: Any, at: Where, key: str, arn_key: str, logical_id: str
) -> tuple[QueueNotification, ...]:
    if key not in node:
        return ()
    lat = at.key(node, key)
    out = []
    for i, item in enumerate(as_list(node[key], lat)):
        iat = lat.index(node[key], i)
        config = as_map(item, iat)
        check_keys(config, iat, ("Event", arn_key, "Filter"), required=("Event", arn_key))
        out.append(
            QueueNotification(
                f"{logical_id}{arn_key}{i}",
                as_str(config[arn_key], iat.key(config, arn_key)),
                (as_str(config["Event"], iat.key(config, "Event")),),
                filter_rules(config.get("Filter"), iat.key(config, "Filter")),
            )
        )
    return tuple(out)


def filter_rules(value: Any, at: Where) -> tuple[tuple[str, str], ...]:
    """``Filter: {S3Key: {Rules: [{Name: prefix | suffix, Value}]}}`` → rules."""
    if value is None:
        return ()
    node = as_map(value, at)
    check_keys(node, at, ("S3Key",), required=("S3Key",))
    kat = at.key(node, "S3Key")
    s3key = as_map(node["S3Key"], kat)
    check_keys(s3key, kat, ("Rules",), required=("Rules",))
    rat = kat.key(s3key, "Rules")
    rules = []
    for i, item in enumerate(as_list(s3key["Rules"], rat)):
        iat = rat.index(s3key["Rules"], i)
        rule = as_map(item, iat)
        check_keys(rule, iat, ("Name", "Value"), required=("Name", "Value"))
        name = as_str(rule["Name"], iat.key(rule, "Name")).lower()
        if name not in ("prefix", "suffix"):
            raise iat.key(rule, "Name").error(
                f"unknown filter rule {name!r}", allowed="prefix, suffix"
            )
        rules.append((name, as_str(rule["Value"], iat.key(rule, "Value"))))
    return tuple(rules)
