"""``AWS::Logs::MetricFilter`` on a function's log group, read into ``MetricFilterSpec``.

A function's log group is ``/aws/lambda/<name>`` (the name a ``FunctionName`` gives, or
the logical id canaria uses, which is what ``!Ref`` of the function gives), or the group
its ``LoggingConfig.LogGroup`` names. ``LogGroupName`` may be written out, built with
``!Sub``, or be ``!Ref`` of an ``AWS::Logs::LogGroup`` of the template (its
``LogGroupName``), whose lines are a function's, a state machine's, a rule's or what
code writes there (``canaria.log_groups``). A filter on a group the template neither
declares nor writes to (API Gateway access logs, a group of another stack) is skipped
with a warning.

What CloudFormation refuses is refused at its line: a pattern that does not parse, not
exactly one transformation, a ``MetricValue`` that is neither a number nor a field of the
event (``$.field``, ``$field``), ``Dimensions`` (a list of ``Key`` / ``Value``, at most
three) with an unstructured pattern or together with ``DefaultValue``, a namespace starting
``AWS/``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from canaria.models import MetricFilterSpec, MetricTransformationSpec
from canaria.models.filter_syntax import FilterPatternError, parse_form, value_selector
from canaria.template.context import Context
from canaria.template.index import LOG_GROUP, Entry
from canaria.template.intrinsics import NO_VALUE
from canaria.template.nodes import Where, as_float, as_list, as_map, as_str, check_keys

__all__ = ["LOG_GROUP", "METRIC_FILTER", "build_metric_filter"]

METRIC_FILTER = "AWS::Logs::MetricFilter"
PROPERTIES = (
    "FilterName",
    "FilterPattern",
    "LogGroupName",
    "MetricTransformations",
    "ApplyOnTransformedLogs",
)
MAX_DIMENSIONS = 3
TRANSFORMATION_KEYS = (
    "DefaultValue",
    "Dimensions",
    "MetricName",
    "MetricNamespace",
    "MetricValue",
    "Unit",
)


def build_metric_filter(
    ctx: Context, entry: Entry, groups: Mapping[str, tuple[str, ...]]
) -> list[MetricFilterSpec]:
    """The filter, one spec per writer of its group, or none (with a warning) when canaria
    keeps no such log group. ``groups``: log group name -> whose lines it holds (the log
    book's keys: the functions writing to it, and its own)."""
    props = entry.props
    check_keys(
        props,
        entry.props_at,
        PROPERTIES,
        required=("FilterPattern", "LogGroupName", "MetricTransformations"),
    )
    group = as_str(ctx.get(entry, "LogGroupName"), ctx.at(entry, "LogGroupName"))
    pat = ctx.at(entry, "FilterPattern")
    pattern = as_str(ctx.get(entry, "FilterPattern"), pat)
    try:
        parse_form(pattern)
    except FilterPatternError as exc:
        raise pat.error(str(exc)) from None  # it names the pattern and the column
    raw, at = ctx.get(entry, "MetricTransformations"), ctx.at(entry, "MetricTransformations")
    items = as_list(raw, at)
    if len(items) != 1:
        raise at.error("a metric filter has exactly one transformation", allowed="a list of one")
    structured = pattern.strip().startswith(("{", "["))  # JSON or space-delimited
    transformation = _transformation(items[0], at.index(raw, 0), structured=structured)
    keys = groups.get(group)
    if keys is None:
        ctx.warn(
            entry,
            f"metric filter on log group {group!r} is skipped: it is not a log group of this "
            f"template or of its functions ({', '.join(sorted(groups)) or 'none declared'}); "
            "its metric is never published",
        )
        return []
    return [MetricFilterSpec(entry.logical_id, key, pattern, (transformation,)) for key in keys]


def _transformation(item: Any, at: Where, *, structured: bool) -> MetricTransformationSpec:
    node = as_map(item, at)
    check_keys(
        node, at, TRANSFORMATION_KEYS, required=("MetricName", "MetricNamespace", "MetricValue")
    )
    namespace = as_str(node["MetricNamespace"], at.key(node, "MetricNamespace"))
    if namespace.startswith("AWS/"):
        raise at.key(node, "MetricNamespace").error(
            f"namespace {namespace!r}: namespaces starting AWS/ are AWS's",
            allowed="a namespace of your own, e.g. MyApp",
        )
    name = as_str(node["MetricName"], at.key(node, "MetricName"))
    vat = at.key(node, "MetricValue")
    value = (
        as_str(node["MetricValue"], vat)
        if not isinstance(node["MetricValue"], int | float)
        else str(node["MetricValue"])
    )
    if value.startswith("$"):
        _check_selector(value, vat)
    else:
        try:
            number = float(value)
        except ValueError:
            number = math.nan
        if not math.isfinite(number):
            raise vat.error(
                f"MetricValue {value!r} is neither a number nor a field of the event",
                allowed="a number such as 1, or $.field (JSON) / $field (space-delimited)",
            )
    default = None
    if "DefaultValue" in node:
        default = as_float(node["DefaultValue"], at.key(node, "DefaultValue"))
    dimensions: dict[str, str] = {}
    if "Dimensions" in node and node["Dimensions"] is not NO_VALUE:
        dat = at.key(node, "Dimensions")
        if not structured:
            raise dat.error(
                "dimensions need a JSON or space-delimited pattern: their values are fields "
                "of the event"
            )
        if default is not None:
            raise dat.error("a transformation has Dimensions or DefaultValue, not both")
        raw_dims = node["Dimensions"]
        listed = as_list(raw_dims, dat)
        if len(listed) > MAX_DIMENSIONS:
            raise dat.error(f"a metric filter has at most {MAX_DIMENSIONS} dimensions")
        for i, item in enumerate(listed):
            iat = dat.index(raw_dims, i)
            dim = as_map(item, iat)
            check_keys(dim, iat, ("Key", "Value"), required=("Key", "Value"))
            key = as_str(dim["Key"], iat.key(dim, "Key"))
            vat_ = iat.key(dim, "Value")
            text = as_str(dim["Value"], vat_)
            if not text.startswith("$"):
                raise vat_.error(
                    f"dimension {key!r}: {text!r} is not a field of the event",
                    allowed="$.field or $field",
                )
            _check_selector(text, vat_)
            if key in dimensions:
                raise iat.error(f"dimension {key!r} is given twice")
            dimensions[key] = text
    return MetricTransformationSpec(namespace, name, value, default, dimensions)


def _check_selector(selector: str, at: Where) -> None:
    """A value selector that reads an event (``$.a.b``, ``$field``), checked now rather
    than on the first log line."""
    if not selector.startswith(("$.", "$[")):
        return  # $field: a space-delimited pattern's field, any name
    try:
        value_selector(selector)
    except FilterPatternError as exc:
        raise at.error(str(exc), allowed="$.field (JSON) or $field (space-delimited)") from None
