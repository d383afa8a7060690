"""CloudWatch Logs subscription filters that deliver a function's log events to a
function or a Firehose delivery stream of the template, read into
``LogSubscriptionSpec``.

Two ways to write one: an ``AWS::Logs::SubscriptionFilter`` whose ``DestinationArn`` is a
function of the template (``!GetAtt Fn.Arn``, its alias, or its ARN written out) or one
of its delivery streams, and SAM's ``CloudWatchLogs`` event (``LogGroupName``,
``FilterPattern``), whose destination is the function it is declared on. Either way the
log group must be a function's or one the template declares (``metric_filters`` says
which names are). A filter on another group, or one whose destination is not one of the
template's (a Kinesis stream, another account's function), is skipped with a warning. A
pattern that does not parse is refused at its line, as CloudWatch Logs refuses it.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator, Mapping
from typing import Any

from canaria.models import LogSubscriptionSpec
from canaria.models.filter_syntax import FilterPatternError, parse_form
from canaria.template.context import Context
from canaria.template.event_sources import events_of
from canaria.template.firehose import delivery_stream_arns
from canaria.template.index import Entry
from canaria.template.intrinsics import NO_VALUE
from canaria.template.nodes import Where, as_map, as_str, check_keys
from canaria.template.openapi import target_of_uri

__all__ = ["SUBSCRIPTION_FILTER", "build_subscription_filter", "subscription_events"]

SUBSCRIPTION_FILTER = "AWS::Logs::SubscriptionFilter"
PROPERTIES = (
    "ApplyOnTransformedLogs",
    "DestinationArn",
    "Distribution",
    "EmitSystemFields",
    "FieldSelectionCriteria",
    "FilterName",
    "FilterPattern",
    "LogGroupName",
    "RoleArn",
)
EVENT_PROPERTIES = ("FilterPattern", "LogGroupName")


def build_subscription_filter(
    ctx: Context,
    entry: Entry,
    groups: Mapping[str, tuple[str, ...]],
    function_names: Mapping[str, str],
    functions: Collection[str],
) -> list[LogSubscriptionSpec]:
    """The filter, one spec per writer of its group, or none (with a warning) when canaria
    cannot deliver it. ``groups``: log group name -> whose lines it holds (the log book's
    keys: the functions writing to it, and its own); ``functions``: the logical ids."""
    check_keys(
        entry.props,
        entry.props_at,
        PROPERTIES,
        required=("DestinationArn", "FilterPattern", "LogGroupName"),
    )
    group = as_str(ctx.get(entry, "LogGroupName"), ctx.at(entry, "LogGroupName"))
    pattern = _pattern(ctx.get(entry, "FilterPattern"), ctx.at(entry, "FilterPattern"))
    arn = as_str(ctx.get(entry, "DestinationArn"), ctx.at(entry, "DestinationArn"))
    target = target_of_uri(arn, set(functions) | set(function_names.values()), function_names)
    hose = arn if arn in delivery_stream_arns(ctx) else None
    if target is None and hose is None:
        ctx.warn(
            entry,
            f"subscription filter to {arn!r} is not delivered: canaria delivers a log group's "
            "events to the template's functions and delivery streams only",
        )
        return []
    name = ctx.get(entry, "FilterName")
    if name is NO_VALUE or name is None:
        name = entry.logical_id
    name = as_str(name, ctx.at(entry, "FilterName"))
    destination = target[0] if target is not None else ""
    return _spec(ctx, entry, name, group, pattern, destination, groups, hose)


def subscription_events(
    ctx: Context, functions: list[Entry], groups: Mapping[str, tuple[str, ...]]
) -> Iterator[LogSubscriptionSpec]:
    """The subscriptions SAM's ``CloudWatchLogs`` events declare: each delivers to the
    function it is an event of (SAM names the filter resource ``<Function><Event>``)."""
    for entry in functions:
        for name, kind, event, eat in events_of(ctx, entry):
            if kind != "CloudWatchLogs":
                continue
            pat = eat.key(event, "Properties")
            props = as_map(event.get("Properties"), pat)
            at = pat.at(props)
            check_keys(props, at, EVENT_PROPERTIES, required=EVENT_PROPERTIES)
            group = as_str(props["LogGroupName"], at.key(props, "LogGroupName"))
            pattern = _pattern(props["FilterPattern"], at.key(props, "FilterPattern"))
            yield from _spec(
                ctx, entry, f"{entry.logical_id}{name}", group, pattern, entry.logical_id, groups
            )


def _pattern(raw: Any, at: Where) -> str:
    pattern = as_str(raw, at)
    try:
        parse_form(pattern)
    except FilterPatternError as exc:
        raise at.error(str(exc)) from None  # it names the pattern and the column
    return pattern


def _spec(
    ctx: Context,
    entry: Entry,
    name: str,
    group: str,
    pattern: str,
    destination: str,
    groups: Mapping[str, tuple[str, ...]],
    delivery_stream: str | None = None,
) -> list[LogSubscriptionSpec]:
    sources = groups.get(group)
    if sources is None:
        ctx.warn(
            entry,
            f"subscription filter {name} on log group {group!r} is not delivered: it is not a "
            "log group of this template or of its functions "
            f"({', '.join(sorted(groups)) or 'none declared'})",
        )
        return []
    if destination in sources:
        ctx.warn(
            entry,
            f"subscription filter {name} is not delivered: it sends {group!r} to the function "
            "that writes it, so each delivery's own log lines would be delivered again, "
            "without end (on AWS too)",
        )
        return []
    return [
        LogSubscriptionSpec(name, group, source, pattern, destination, delivery_stream)
        for source in sources
    ]
