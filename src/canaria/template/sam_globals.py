"""The ``Globals`` section, merged into resources as SAM's translator does.

Rules (``samtranslator/plugins/globals/globals.py``): when the global and the local value
are both mappings they merge key by key; both lists: global items then local items; any
other pair (scalars, intrinsic functions, different kinds): the local value wins. A key
that came from ``Globals`` keeps its own path and line for error messages.
"""

from __future__ import annotations

from typing import Any

from canaria.template.intrinsics import intrinsic_name
from canaria.template.nodes import LineList, LineMap, Where, as_map, choices
from canaria.template.sam_rules import sam_globals

SUPPORTED: dict[str, tuple[str, ...]] = {
    "Function": (
        "Handler",
        "Runtime",
        "CodeUri",
        "DeadLetterQueue",
        "Description",
        "MemorySize",
        "Timeout",
        "VpcConfig",
        "Environment",
        "Tags",
        "PropagateTags",
        "Tracing",
        "KmsKeyArn",
        "Layers",
        "AutoPublishAlias",
        "AutoPublishAliasAllProperties",
        "DeploymentPreference",
        "PermissionsBoundary",
        "ReservedConcurrentExecutions",
        "ProvisionedConcurrencyConfig",
        "AssumeRolePolicyDocument",
        "EventInvokeConfig",
        "Architectures",
        "EphemeralStorage",
        "SnapStart",
        "FunctionUrlConfig",
        "RuntimeManagementConfig",
        "LoggingConfig",
        "RecursiveLoop",
        "SourceKMSKeyArn",
        "CodeSigningConfigArn",
        "FileSystemConfigs",
        "VersionDeletionPolicy",
    ),
    "Api": (
        "Auth",
        "Name",
        "DefinitionUri",
        "CacheClusterEnabled",
        "CacheClusterSize",
        "MergeDefinitions",
        "Variables",
        "EndpointConfiguration",
        "MethodSettings",
        "BinaryMediaTypes",
        "MinimumCompressionSize",
        "Cors",
        "GatewayResponses",
        "AccessLogSetting",
        "CanarySetting",
        "TracingEnabled",
        "OpenApiVersion",
        "Domain",
        "AlwaysDeploy",
        "PropagateTags",
    ),
    "HttpApi": (
        "Auth",
        "AccessLogSettings",
        "StageVariables",
        "Tags",
        "PropagateTags",
        "RouteSettings",
        "FailOnWarnings",
        "Domain",
        "CorsConfiguration",
        "DefaultRouteSettings",
    ),
    "SimpleTable": ("SSESpecification", "PointInTimeRecoverySpecification"),
    "StateMachine": ("PropagateTags",),
    "LayerVersion": ("PropagateTags",),
}


def read_globals(section: Any, where: Where) -> dict[str, LineMap]:
    """``Globals`` checked: ``{"Function": {...}, ...}`` keyed by the short type name."""
    if section is None:
        return {}
    node = as_map(section, where)
    out: dict[str, LineMap] = {}
    supported = {k: {*v, *SUPPORTED.get(k, ())} for k, v in sam_globals().items()} or {
        k: set(v) for k, v in SUPPORTED.items()
    }
    for name, props in node.items():
        at = where.key(node, name)
        if name not in supported:
            raise at.error(
                f"Globals section {name!r} is not supported", allowed=choices(supported, near=name)
            )
        props = as_map(props, at)
        for key in props:
            if key not in supported[name]:
                raise at.key(props, key).error(
                    f"{key!r} is not a supported property of Globals.{name}",
                    allowed=choices(supported[name], near=key),
                )
        out[name] = _with_paths(props, at)
    return out


def _with_paths(props: LineMap, where: Where) -> LineMap:
    out = props.like(props.items())
    for key in props:
        at = where.key(props, key)
        out.paths[key] = (at.path, at.line, None)
    return out


def merge(global_value: Any, local_value: Any) -> Any:
    """``local_value`` merged over ``global_value``."""
    g_kind, l_kind = _kind(global_value), _kind(local_value)
    if g_kind != l_kind or g_kind == "primitive":
        return local_value
    if g_kind == "list":
        out = LineList([*global_value, *local_value], line=getattr(local_value, "line", None))
        out.lines = [*getattr(global_value, "lines", []), *getattr(local_value, "lines", [])]
        return out
    merged = (
        global_value.like(global_value.items())
        if isinstance(global_value, LineMap)
        else (LineMap(global_value))
    )
    if isinstance(local_value, LineMap):
        merged.line = local_value.line
    for key, value in local_value.items():
        merged[key] = merge(merged[key], value) if key in merged else value
        merged.paths.pop(key, None)
        if isinstance(local_value, LineMap) and key in local_value.lines:
            merged.lines[key] = local_value.lines[key]
    return merged


def _kind(value: Any) -> str:
    if isinstance(value, dict):
        return "primitive" if intrinsic_name(value) is not None else "dict"
    if isinstance(value, list):
        return "list"
    return "primitive"


def apply(globals_: dict[str, LineMap], short_type: str, props: LineMap) -> LineMap:
    """The resource's properties with the type's globals merged in."""
    if short_type not in globals_:
        return props
    merged = merge(globals_[short_type], props)
    assert isinstance(merged, LineMap)
    return merged
