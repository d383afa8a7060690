"""Helpers the builders of the services engine's resources share."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from canaria.errors import InvalidRequest
from canaria.models.arns import parse_function
from canaria.template.context import Context
from canaria.template.index import Entry
from canaria.template.intrinsics import NO_VALUE
from canaria.template.nodes import Where, as_list, as_map, as_str, check_keys
from canaria.template.service_refs import NAME_KEYS


def function_of(arn: str, functions: Mapping[str, str]) -> str | None:
    """The template's function ``arn`` names (``functions``: ARN → logical id), if any."""
    for prefix, logical_id in functions.items():
        if arn in (logical_id, prefix) or arn.startswith(prefix + ":"):
            return logical_id
    return None


def function_and_qualifier(arn: str, functions: Mapping[str, str]) -> tuple[str, str | None] | None:
    """(logical id, the qualifier after it or None) of the template's function ``arn``
    names (``functions``: ARN → logical id), if any."""
    for base, logical_id in functions.items():
        if arn == base:
            return logical_id, None
        if arn.startswith(base + ":"):
            return logical_id, arn[len(base) + 1 :]
    return None


def function_named(
    node: Mapping[str, Any], key: str, at: Where, function_names: Mapping[str, str]
) -> tuple[str, str]:
    """(the function name ``node[key]`` names, the logical id it is in this template, when
    it is one) from any form Lambda accepts (a name, an ARN, with a qualifier: dropped, as
    canaria invokes through the function's own alias); a malformed one refused."""
    kat = at.key(node, key)
    try:
        name, _ = parse_function(as_str(node[key], kat))
    except InvalidRequest as exc:
        raise kat.error(exc.message) from None
    return name, function_names.get(name, name)


def warn_function(ctx: Context, entry: Entry, arn: str, functions: Mapping[str, str]) -> bool:
    """Warn when ``arn`` names one of the template's functions; say whether it did."""
    logical_id = function_of(arn, functions)
    if logical_id is None:
        return False
    ctx.warn(
        entry,
        f"delivery to function {logical_id} is not run locally: give "
        f"{logical_id} an SNS or EventBridgeRule event for it instead",
    )
    return True


def resource_name(ctx: Context, entry: Entry, pattern: re.Pattern[str], allowed: str) -> str:
    name = ctx.index.name_of(entry.logical_id)
    if not pattern.match(name):
        key = NAME_KEYS.get(entry.type, "Name")
        where = ctx.at(entry, key) if key in entry.props else entry.props_at
        raise where.error(f"{name!r} is not a valid {entry.type} name", allowed=allowed)
    return name


def tags_of(ctx: Context, entry: Entry) -> dict[str, str]:
    """``Tags`` as a list of ``{Key, Value}`` (or a map, as SSM parameters write it)."""
    raw = ctx.get(entry, "Tags")
    if raw is NO_VALUE:
        return {}
    at = ctx.at(entry, "Tags")
    if isinstance(raw, Mapping):
        return {str(k): as_str(v, at.key(raw, str(k))) for k, v in raw.items()}
    out: dict[str, str] = {}
    for i, item in enumerate(as_list(raw, at)):
        iat = at.index(raw, i)
        tag = as_map(item, iat)
        check_keys(tag, iat, ("Key", "Value"), required=("Key", "Value"))
        out[as_str(tag["Key"], iat.key(tag, "Key"))] = as_str(tag["Value"], iat.key(tag, "Value"))
    return out
