"""``AWS::Serverless::Function`` → ``FunctionSpec``: configuration, alias, routes.

canaria names every function by its logical id, whatever ``FunctionName`` says: that is
the name ``!Ref`` gives, the name alarms and hooks use, and the name the Lambda edge
answers to. ``FunctionName`` is accepted and set aside (hook functions are often named
``CodeDeployHook_*`` for the IAM policy SAM generates); where an alarm dimension or a hook
names a function by its ``FunctionName``, it is translated to the logical id.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Mapping
from typing import Any

from canaria.errors import TemplateError
from canaria.gateway.routes import DEFAULT_ROUTE, compile_route
from canaria.models import (
    AlarmSpec,
    ApiSpec,
    FunctionConfig,
    FunctionSpec,
    RouteSpec,
)
from canaria.models.app import ApiKind
from canaria.template.context import Context
from canaria.template.index import IMPLICIT_HTTP_API, IMPLICIT_REST_API, Entry
from canaria.template.intrinsics import NO_VALUE
from canaria.template.nodes import (
    LineMap,
    Where,
    as_int,
    as_map,
    as_str,
    check_keys,
    type_name,
)
from canaria.template.preferences import deployment_preference

FUNCTION_PROPERTIES = (
    "Architectures",
    "AssumeRolePolicyDocument",
    "AutoPublishAlias",
    "AutoPublishAliasAllProperties",
    "AutoPublishCodeSha256",
    "CodeSigningConfigArn",
    "CodeUri",
    "DeadLetterQueue",
    "DeploymentPreference",
    "Description",
    "Environment",
    "EphemeralStorage",
    "EventInvokeConfig",
    "Events",
    "FileSystemConfigs",
    "FunctionName",
    "FunctionUrlConfig",
    "Handler",
    "ImageConfig",
    "ImageUri",
    "InlineCode",
    "KmsKeyArn",
    "Layers",
    "LoggingConfig",
    "MemorySize",
    "PackageType",
    "PermissionsBoundary",
    "Policies",
    "PropagateTags",
    "ProvisionedConcurrencyConfig",
    "RecursiveLoop",
    "ReservedConcurrentExecutions",
    "Role",
    "RolePath",
    "Runtime",
    "RuntimeManagementConfig",
    "SnapStart",
    "SourceKMSKeyArn",
    "Tags",
    "Timeout",
    "Tracing",
    "VersionDeletionPolicy",
    "VersionDescription",
    "VpcConfig",
)
ALIAS_NAME = re.compile(r"(?!^[0-9]+$)([a-zA-Z0-9-_]+)")
PYTHON = re.compile(r"^python3\.\d+$")
RUNNING = f"python{sys.version_info.major}.{sys.version_info.minor}"
UNTRIGGERED_EVENTS = (
    "S3",
    "SNS",
    "Kinesis",
    "DynamoDB",
    "SQS",
    "Schedule",
    "ScheduleV2",
    "CloudWatchEvent",
    "EventBridgeRule",
    "CloudWatchLogs",
    "IoTRule",
    "AlexaSkill",
    "Cognito",
    "MSK",
    "MQ",
    "SelfManagedKafka",
    "DocumentDB",
)
EVENT_TYPES = ("Api", "HttpApi", *UNTRIGGERED_EVENTS)
POLLED_EVENTS = ("SQS", "SNS", "EventBridgeRule", "CloudWatchEvent", "S3")


def build_function(
    ctx: Context,
    entry: Entry,
    apis: Mapping[str, ApiSpec],
    alarms: Mapping[str, AlarmSpec],
    config_names: tuple[str, ...],
    function_names: Mapping[str, str],
) -> FunctionSpec:
    """The function's spec; ``function_names`` maps FunctionName values to logical ids."""
    props = entry.props
    check_keys(props, entry.props_at, FUNCTION_PROPERTIES)
    package = ctx.get(entry, "PackageType")
    if package == "Image" or "ImageUri" in props:
        raise ctx.at(entry, "PackageType" if "PackageType" in props else "ImageUri").error(
            "container image functions are not supported: canaria runs Python code from a "
            "local directory",
            allowed="PackageType: Zip with CodeUri",
        )
    if "InlineCode" in props:
        raise ctx.at(entry, "InlineCode").error(
            "InlineCode is not supported: put the code in a directory next to the template "
            "and name it with CodeUri",
            allowed="CodeUri: <directory>",
        )
    handler = _required_str(ctx, entry, "Handler")
    runtime = _required_str(ctx, entry, "Runtime")
    if not PYTHON.match(runtime):
        raise ctx.at(entry, "Runtime").error(
            f"runtime {runtime!r} is not supported: canaria runs Python functions",
            allowed="python3.x",
        )
    if runtime != RUNNING:
        ctx.warn(entry, f"Runtime {runtime}: canaria runs it with the installed {RUNNING}")
    name = ctx.get(entry, "FunctionName")
    if name is not NO_VALUE:  # checked, then set aside: canaria serves the logical id
        as_str(name, ctx.at(entry, "FunctionName"))
    config = FunctionConfig(
        handler=handler,
        runtime=runtime,
        code_uri=_code_uri(ctx, entry),
        environment=_environment(ctx, entry),
        timeout_s=float(_int(ctx, entry, "Timeout", 3, 1, 900)),
        memory_mb=_int(ctx, entry, "MemorySize", 128, 128, 10240),
        reserved_concurrency=_optional_int(ctx, entry, "ReservedConcurrentExecutions", 0),
    )
    alias = _alias(ctx, entry)
    sha = ctx.get(entry, "AutoPublishCodeSha256")
    preference = None
    if "DeploymentPreference" in props:
        raw = ctx.get(entry, "DeploymentPreference")
        if raw is not NO_VALUE:
            at = ctx.at(entry, "DeploymentPreference")
            if alias is None:
                raise at.error(
                    "DeploymentPreference requires AutoPublishAlias (SAM refuses it too)",
                    allowed="AutoPublishAlias: <alias name> on this function",
                )
            preference = deployment_preference(
                ctx, entry, as_map(raw, at), at, alarms, config_names, function_names
            )
    return FunctionSpec(
        name=entry.logical_id,
        config=config,
        auto_publish_alias=alias,
        code_sha256=None
        if sha is NO_VALUE
        else as_str(sha, ctx.at(entry, "AutoPublishCodeSha256")),
        deployment_preference=preference,
        routes=_routes(ctx, entry, apis),
        line=entry.where.line,
    )


def _required_str(ctx: Context, entry: Entry, key: str) -> str:
    value = ctx.get(entry, key)
    if value is NO_VALUE or value is None:
        raise entry.props_at.at(entry.props).error(
            f"{key} is required (here or in Globals.Function)"
        )
    return as_str(value, ctx.at(entry, key))


def _int(ctx: Context, entry: Entry, key: str, default: int, lo: int, hi: int) -> int:
    value = ctx.get(entry, key)
    return default if value is NO_VALUE else as_int(value, ctx.at(entry, key), lo, hi)


def _optional_int(ctx: Context, entry: Entry, key: str, lo: int) -> int | None:
    value = ctx.get(entry, key)
    return None if value is NO_VALUE else as_int(value, ctx.at(entry, key), lo)


def _code_uri(ctx: Context, entry: Entry) -> str:
    value = ctx.get(entry, "CodeUri")
    at = ctx.at(entry, "CodeUri")
    if value is NO_VALUE:
        value = "."  # as the SAM CLI: the template's directory
    text, path = ctx.local_path(value, at, allowed="a directory relative to the template")
    if not path.exists():
        raise at.error(f"CodeUri directory {text!r} does not exist ({path})")
    if not path.is_dir():
        raise at.error(
            f"CodeUri {text!r} is not a directory ({path})",
            allowed="a directory holding the handler's module",
        )
    return str(path)


def _environment(ctx: Context, entry: Entry) -> dict[str, str]:
    raw = ctx.get(entry, "Environment")
    if raw is NO_VALUE:
        return {}
    at = ctx.at(entry, "Environment")
    env = as_map(raw, at)
    check_keys(env, at, ("Variables",))
    variables = env.get("Variables")
    if variables is None:
        return {}
    vat = at.key(env, "Variables")
    variables = as_map(variables, vat)
    out: dict[str, str] = {}
    for key, value in variables.items():
        kat = vat.key(variables, key)
        if not re.fullmatch(r"[a-zA-Z][a-zA-Z0-9_]*", key):
            raise kat.error(
                f"environment variable name {key!r} is not valid",
                allowed="letters, digits and _, starting with a letter",
            )
        if isinstance(value, Mapping | list) or value is None:
            raise kat.error(f"environment value must be a string, got {type_name(value)}")
        out[key] = as_str(value, kat)
    return out


def _alias(ctx: Context, entry: Entry) -> str | None:
    value = ctx.get(entry, "AutoPublishAlias")
    if value is NO_VALUE:
        return None
    at = ctx.at(entry, "AutoPublishAlias")
    alias = as_str(value, at)
    if not ALIAS_NAME.fullmatch(alias):
        raise at.error(
            f"alias name {alias!r} is not valid",
            allowed="letters, digits, - and _, not only digits",
        )
    return alias


# ---- events ------------------------------------------------------------------------------


def _routes(ctx: Context, entry: Entry, apis: Mapping[str, ApiSpec]) -> tuple[RouteSpec, ...]:
    raw = entry.props.get("Events")
    if raw is None:
        return ()
    at = ctx.at(entry, "Events")
    events = as_map(ctx.resolver.resolve(raw, at), at)
    routes: list[RouteSpec] = []
    for name, event in events.items():
        eat = at.key(events, name)
        event = as_map(event, eat)
        check_keys(event, eat, ("Type", "Properties"), required=("Type",))
        kind = as_str(event["Type"], eat.key(event, "Type"))
        if kind not in EVENT_TYPES:
            raise eat.key(event, "Type").error(f"unknown event type {kind!r}", allowed=EVENT_TYPES)
        props = as_map(event.get("Properties") or LineMap(), eat.key(event, "Properties"))
        pat = eat.key(event, "Properties").at(props)
        if kind == "Api":
            routes.append(_route(ctx, entry, props, pat, "rest", apis))
        elif kind == "HttpApi":
            routes.append(_route(ctx, entry, props, pat, "http", apis))
        elif kind not in POLLED_EVENTS:  # those are read by template.services
            ctx.warn(
                entry,
                f"event {name} ({kind}) is not triggered by canaria; invoke the "
                "function through the Lambda API to exercise it",
            )
    return tuple(routes)


def _route(
    ctx: Context,
    entry: Entry,
    props: LineMap,
    at: Where,
    kind: ApiKind,
    apis: Mapping[str, ApiSpec],
) -> RouteSpec:
    api_key = "RestApiId" if kind == "rest" else "ApiId"
    if api_key in props:
        api = _api_of(props, api_key, at, kind, apis, entry)
    else:
        api = IMPLICIT_REST_API if kind == "rest" else IMPLICIT_HTTP_API
    if kind == "rest" or "Path" in props or "Method" in props:
        for key in ("Path", "Method"):
            if key not in props:
                raise at.error(
                    f"{key} is required for an {'Api' if kind == 'rest' else 'HttpApi'} event"
                )
        path = as_str(props["Path"], at.key(props, "Path"))
        method = as_str(props["Method"], at.key(props, "Method")).upper()
    else:  # an HttpApi event without Path and Method is the $default route
        path, method = DEFAULT_ROUTE, "ANY"
    methods = ("GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS", "ANY")
    if method not in methods:
        raise at.key(props, "Method").error(f"unknown method {method!r}", allowed=methods)
    spec = RouteSpec(method, path, kind, api, apis[api].stage, entry.logical_id)
    try:
        compile_route(spec)
    except TemplateError as exc:
        raise at.key(props, "Path").error(
            exc.message.split(": ", 1)[-1].split(" (allowed")[0], allowed=exc.allowed
        ) from None
    return spec


def _api_of(
    props: LineMap, key: str, at: Where, kind: ApiKind, apis: Mapping[str, ApiSpec], entry: Entry
) -> str:
    raw: Any = props[key]
    kat = at.key(props, key)
    wanted = "AWS::Serverless::Api" if kind == "rest" else "AWS::Serverless::HttpApi"
    candidates = sorted(
        a.logical_id
        for a in apis.values()
        if a.kind == kind and a.logical_id not in (IMPLICIT_REST_API, IMPLICIT_HTTP_API)
    )
    text = str(raw)
    for spec in apis.values():
        if spec.kind == kind and text in (spec.logical_id, spec.logical_id.lower()):
            return spec.logical_id
    raise kat.error(
        f"{key} {text!r} is not an {wanted} of this template",
        allowed=", ".join(candidates) or f"none: declare an {wanted} or leave {key} out",
    )
