"""``AWS::Lambda::Url``: a function URL written as CloudFormation's resource rather than as
the function's ``FunctionUrlConfig``. A URL of one of the template's functions
(``TargetFunctionArn``: its ``!Ref``, ``!GetAtt Fn.Arn``, an ARN or name with a qualifier)
is read as that function's ``FunctionUrlConfig`` would be: served on a port of its own,
through the alias its routes use, whatever ``Qualifier`` says. canaria serves one URL per
function: a second one (a ``FunctionUrlConfig`` and a resource, or two resources) is a
warning and the first is kept. A URL of a function the template does not declare is a
warning too: nothing here would answer it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import replace

from canaria.models import FunctionSpec
from canaria.template.context import Context
from canaria.template.functions import read_function_url
from canaria.template.index import Entry
from canaria.template.intrinsics import NO_VALUE
from canaria.template.nodes import check_keys
from canaria.template.service_props import function_named

URL = "AWS::Lambda::Url"
URL_KEYS = ("AuthType", "Cors", "InvokeMode", "Qualifier", "TargetFunctionArn")


def add_url_resources(
    ctx: Context,
    urls: Iterable[Entry],
    functions: dict[str, FunctionSpec],
    function_names: Mapping[str, str],
) -> None:
    """Give each function an ``AWS::Lambda::Url`` of the template names its URL."""
    for entry in urls:
        props = {k: v for k in entry.props if (v := ctx.get(entry, k)) is not NO_VALUE}
        at = entry.props_at
        check_keys(props, at, URL_KEYS, required=("AuthType", "TargetFunctionArn"))
        name, logical_id = function_named(props, "TargetFunctionArn", at, function_names)
        function = functions.get(logical_id)
        if function is None:
            ctx.warn(entry, f"this URL is not served: {name} is not a function of this template")
            continue
        url = read_function_url(ctx, entry, props, at, URL)
        if function.url is not None:
            ctx.warn(
                entry,
                f"{logical_id} already has a URL (its FunctionUrlConfig, or another "
                f"{URL}): canaria serves one per function, and keeps that one",
            )
            continue
        functions[logical_id] = replace(function, url=url)
