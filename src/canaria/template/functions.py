"""``AWS::Serverless::Function`` → ``FunctionSpec``: configuration, alias, routes.

canaria names every function by its logical id, whatever ``FunctionName`` says: that is
the name ``!Ref`` gives, the name alarms and hooks use, and the name the Lambda edge
answers to. ``FunctionName`` is accepted and set aside (hook functions are often named
``CodeDeployHook_*`` for the IAM policy SAM generates); where an alarm dimension or a hook
names a function by its ``FunctionName``, it is translated to the logical id.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any, TypeVar, assert_never

from canaria import nodejs, pythons, runtimes
from canaria.errors import TemplateError
from canaria.models import (
    AlarmSpec,
    ApiSpec,
    DeploymentPreference,
    DurableSpec,
    FunctionConfig,
    FunctionSpec,
    FunctionUrlSpec,
    LayerSpec,
    RouteSpec,
)
from canaria.models.app import ApiKind, InlineCode
from canaria.models.routes import DEFAULT_ROUTE, parse_path
from canaria.template.authorizers import route_api_key, route_authorizer
from canaria.template.builds import esbuild_options
from canaria.template.context import Context
from canaria.template.cors import http_cors
from canaria.template.images import image_function, is_image
from canaria.template.index import IMPLICIT_HTTP_API, IMPLICIT_REST_API, Entry
from canaria.template.intrinsics import NO_VALUE
from canaria.template.layers import function_layers
from canaria.template.log_groups import function_log_group
from canaria.template.nodes import (
    LineMap,
    Problems,
    Where,
    as_bool,
    as_int,
    as_map,
    as_str,
    check_keys,
    choices,
    type_name,
)
from canaria.template.preferences import deployment_preference
from canaria.template.sam_rules import sam_event_types, sam_properties
from canaria.template.validation import event_validation

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
    "DurableConfig",
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
T = TypeVar("T")
ALIAS_NAME = re.compile(r"(?!^[0-9]+$)([a-zA-Z0-9-_]+)")
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
    "MSK",
    "MQ",
    "SelfManagedKafka",
    "DocumentDB",
)
EVENT_TYPES = ("Api", "HttpApi", "Cognito", *UNTRIGGERED_EVENTS)
# Lambda durable functions: an execution started by a synchronous invocation must end
# within 15 minutes; these events invoke their function synchronously
SYNC_DURABLE_LIMIT_S = 900
SYNCHRONOUS_EVENTS = frozenset(
    {"Api", "HttpApi", "SQS", "Kinesis", "DynamoDB", "MQ", "MSK", "SelfManagedKafka",
     "DocumentDB", "Cognito"}
)  # fmt: skip
# read by template.event_sources (polled queues), template.streams (read shards),
# template.schedules (fired on time) and template.user_pool_triggers (a pool's triggers)
DELIVERED_EVENTS = (
    "CloudWatchLogs",  # template.log_subscriptions
    "SQS",
    "Kinesis",
    "DynamoDB",
    "SNS",
    "EventBridgeRule",
    "CloudWatchEvent",
    "S3",
    "Schedule",
    "ScheduleV2",
    "Cognito",  # template.user_pool_triggers: a user pool's triggers
)


def build_function(
    ctx: Context,
    entry: Entry,
    apis: Mapping[str, ApiSpec],
    alarms: Mapping[str, AlarmSpec],
    config_names: tuple[str, ...],
    function_names: Mapping[str, str],
    layers: Mapping[str, LayerSpec | None],
) -> FunctionSpec:
    """The function's spec; ``function_names`` maps FunctionName values to logical ids,
    ``layers`` the template's layer ARNs to its layers."""
    props = entry.props
    for key in props:
        if key not in FUNCTION_PROPERTIES and key in sam_properties(entry.type):
            ctx.warn(entry, f"{key} is a SAM property canaria does not apply locally: ignored")
    check_keys(props, entry.props_at, (*FUNCTION_PROPERTIES, *sam_properties(entry.type)))
    if "FileSystemConfigs" in props:
        mounts = ctx.get(entry, "FileSystemConfigs")
        paths = [
            m["LocalMountPath"]
            for m in (mounts if isinstance(mounts, list) else [])
            if isinstance(m, Mapping) and isinstance(m.get("LocalMountPath"), str)
        ]
        ctx.warn(
            entry,
            f"FileSystemConfigs: canaria does not mount EFS file systems; "
            f"{', '.join(paths) or 'its LocalMountPath'} is not there for the function",
        )
    problems = Problems()  # the function's independent properties, all checked

    def checked(get: Callable[[], T], default: T) -> T:
        with problems.catch():
            return get()
        return default

    # an image function's Dockerfile gives its runtime and handler
    image = checked(lambda: image_function(ctx, entry), None)
    no_layers: tuple[LayerSpec, ...] = ()
    used_layers = checked(lambda: function_layers(ctx, entry, layers), no_layers)
    inline = "InlineCode" in props
    if image is not None:
        handler, code_uri, runtime = image.handler, image.build.context, image.runtime
        checked(lambda: _accept_runtime(ctx, entry, runtime, "", used_layers), None)
    elif problems.errors and is_image(ctx, entry):  # said: nothing else to read of its code
        handler, code_uri, runtime = "", "", runtimes.RUNNING_PYTHON
    else:
        handler = checked(lambda: _handler(ctx, entry), "")
        code_uri = "" if inline else checked(lambda: _code_uri(ctx, entry), "")
        runtime = checked(
            lambda: _runtime(ctx, entry, code_uri, used_layers), runtimes.RUNNING_PYTHON
        )
    inline_code = checked(lambda: _inline_code(ctx, entry, runtime, handler), None)
    name = ctx.get(entry, "FunctionName")
    if name is not NO_VALUE:  # checked, then set aside: canaria serves the logical id
        checked(lambda: as_str(name, ctx.at(entry, "FunctionName")), "")
    config = FunctionConfig(
        handler=handler,
        runtime=runtime,
        code_uri=code_uri,
        environment={
            **(image.environment if image is not None else {}),
            **checked(lambda: _environment(ctx, entry), {}),
        },
        timeout_s=float(checked(lambda: _int(ctx, entry, "Timeout", 3, 1, 900), 3)),
        memory_mb=checked(lambda: _int(ctx, entry, "MemorySize", 128, 128, 10240), 128),
        reserved_concurrency=checked(
            lambda: _optional_int(ctx, entry, "ReservedConcurrentExecutions", 0), None
        ),
    )
    build = None
    if not inline and image is None:
        build = checked(lambda: esbuild_options(ctx, entry, runtime, code_uri, handler), None)
    alias = checked(lambda: _alias(ctx, entry), None)
    sha = ctx.get(entry, "AutoPublishCodeSha256")
    code_sha256 = None
    if sha is not NO_VALUE:
        code_sha256 = checked(lambda: as_str(sha, ctx.at(entry, "AutoPublishCodeSha256")), None)
    preference = checked(
        lambda: _preference(ctx, entry, alias, alarms, config_names, function_names), None
    )
    no_routes: tuple[RouteSpec, ...] = ()
    routes = checked(lambda: _routes(ctx, entry, apis), no_routes)
    url = checked(lambda: _function_url(ctx, entry), None)
    durable = checked(lambda: _durable(ctx, entry), None)
    log_group = checked(lambda: function_log_group(ctx, entry), None)
    problems.raise_any()
    return FunctionSpec(
        name=entry.logical_id,
        config=config,
        auto_publish_alias=alias,
        code_sha256=code_sha256,
        deployment_preference=preference,
        routes=routes,
        line=entry.where.line,
        build=build,
        layers=used_layers,
        url=url,
        inline=inline_code,
        durable=durable,
        log_group=log_group,
        image=image.build if image is not None else None,
    )


def _durable(ctx: Context, entry: Entry) -> DurableSpec | None:
    """``DurableConfig``: each invocation starts a durable execution (``canaria.durable``)."""
    raw = ctx.get(entry, "DurableConfig")
    if raw is NO_VALUE:
        return None
    at = ctx.at(entry, "DurableConfig")
    config = as_map(raw, at)
    check_keys(
        config,
        at,
        ("ExecutionTimeout", "RetentionPeriodInDays", "KMSKeyArn"),
        required=("ExecutionTimeout",),
    )
    timeout = as_int(config["ExecutionTimeout"], at.key(config, "ExecutionTimeout"), 1, 31_622_400)
    retention = 14
    if "RetentionPeriodInDays" in config:
        retention = as_int(
            config["RetentionPeriodInDays"], at.key(config, "RetentionPeriodInDays"), 1, 90
        )
    if timeout > SYNC_DURABLE_LIMIT_S:
        synchronous = sorted(_event_types(ctx, entry) & SYNCHRONOUS_EVENTS)
        if synchronous:
            ctx.warn(
                entry,
                f"DurableConfig: ExecutionTimeout {timeout} s is over the "
                f"{SYNC_DURABLE_LIMIT_S} s Lambda allows an execution that a synchronous "
                f"invocation starts, and its {', '.join(synchronous)} events invoke it "
                f"synchronously: each of their invocations is refused (ExecutionTimeout of "
                f"{SYNC_DURABLE_LIMIT_S} or less, or an asynchronous Invoke, starts it)",
            )
    return DurableSpec(timeout, retention)


def _event_types(ctx: Context, entry: Entry) -> set[str]:
    """The ``Type`` of each of the function's events (``_routes`` checks them)."""
    raw = entry.props.get("Events")
    if raw is None:
        return set()
    events = ctx.resolver.resolve(raw, ctx.at(entry, "Events"))
    if not isinstance(events, Mapping):
        return set()
    return {str(event.get("Type")) for event in events.values() if isinstance(event, Mapping)}


def _function_url(ctx: Context, entry: Entry) -> FunctionUrlSpec | None:
    """``FunctionUrlConfig``, checked: served on a port of its own, through the alias."""
    raw = ctx.get(entry, "FunctionUrlConfig")
    if raw is NO_VALUE:
        return None
    at = ctx.at(entry, "FunctionUrlConfig")
    config = as_map(raw, at)
    check_keys(config, at, ("AuthType", "InvokeMode", "Cors"), required=("AuthType",))
    return read_function_url(ctx, entry, config, at, "FunctionUrlConfig")


def read_function_url(
    ctx: Context, entry: Entry, config: Mapping[str, Any], at: Where, what: str
) -> FunctionUrlSpec:
    """A function URL's ``AuthType``, ``InvokeMode`` and ``Cors`` (``what``: where they are
    written, for the warnings), its keys already checked."""
    auth = _one_of(config, at, "AuthType", ("NONE", "AWS_IAM"))
    mode = _one_of(config, at, "InvokeMode", ("BUFFERED", "RESPONSE_STREAM"))
    cors = None
    if config.get("Cors") is not None:
        cors = http_cors(config["Cors"], at.key(config, "Cors"))
    return FunctionUrlSpec(auth, mode, cors)


def _one_of(node: Mapping[str, Any], at: Where, key: str, allowed: tuple[str, ...]) -> str:
    """``node[key]`` (the first of ``allowed`` when absent), one of ``allowed``."""
    if key not in node:
        return allowed[0]
    kat = at.key(node, key)
    value = as_str(node[key], kat)
    if value not in allowed:
        raise kat.error(f"{key} {value!r} is not one of Lambda's", allowed=", ".join(allowed))
    return value


def _inline_code(ctx: Context, entry: Entry, runtime: str, handler: str) -> InlineCode | None:
    """``InlineCode``: the file Lambda writes it to (Node.js and Python runtimes only)."""
    if "InlineCode" not in entry.props:
        return None
    at = ctx.at(entry, "InlineCode")
    text = as_str(ctx.get(entry, "InlineCode"), at)
    family = runtimes.family(runtime)
    if family is runtimes.Family.PYTHON:
        file = "index.py"
    elif family is runtimes.Family.NODEJS:
        file = "index.js"
    else:
        raise at.error(
            f"InlineCode runs on Node.js and Python runtimes only, not {runtime}",
            allowed="CodeUri: <directory> with the function's bootstrap",
        )
    module = handler.rsplit(".", 1)[0]
    if handler and module != "index":
        ctx.warn(
            entry,
            f"Handler {handler}: Lambda writes InlineCode to {file}, so module {module!r} "
            "will not be found (Runtime.ImportModuleError), as on AWS; name it index.<function>",
        )
    return InlineCode(file, text)


def _runtime(ctx: Context, entry: Entry, code_uri: str, layers: tuple[LayerSpec, ...]) -> str:
    runtime = _required_str(ctx, entry, "Runtime")
    _accept_runtime(ctx, entry, runtime, code_uri, layers)
    return runtime


def _accept_runtime(
    ctx: Context, entry: Entry, runtime: str, code_uri: str, layers: tuple[LayerSpec, ...] = ()
) -> None:
    """Refuse a runtime that cannot run here; warn when it runs on another version, and
    when Lambda itself no longer takes it."""
    at = ctx.at(entry, "Runtime")
    if runtimes.retired(runtime):
        ctx.warn(
            entry,
            f"Runtime {runtime} is deprecated by Lambda, which no longer creates functions "
            "on it: canaria runs it, but this template will not deploy to AWS as it is",
        )
    match runtimes.family(runtime):
        case None:
            raise at.error(f"runtime {runtime!r} is not supported", allowed=runtimes.ALLOWED)
        case runtimes.Family.PYTHON:
            line = pythons.line_of(runtime)
            if runtime != runtimes.RUNNING_PYTHON and (line is None or pythons.find(line) is None):
                ctx.warn(
                    entry,
                    f"Runtime {runtime}: canaria runs it with the installed "
                    f"{runtimes.RUNNING_PYTHON} (this machine has no {runtime} on PATH, "
                    "under pyenv or uv; canaria runs a function on its own version when it "
                    "finds one)",
                )
        case runtimes.Family.NODEJS:
            node = runtimes.installed_node()
            if node is None:
                raise at.error(
                    f"function {entry.logical_id} needs Node.js ({runtime}) but there is no "
                    "`node` on PATH: install Node.js (https://nodejs.org, or your system's "
                    "`nodejs` package) and run canaria again",
                    allowed="a `node` executable on PATH",
                )
            major = runtimes.node_major(runtime)
            if node.major == major or (major is not None and nodejs.installed(major)):
                return
            if nodejs.wanted(runtime) is not None and nodejs.package_name() is not None:
                ctx.warn(
                    entry,
                    f"Runtime {runtime}: Node.js {major} is installed from the npm registry "
                    f"when canaria first builds this function ({nodejs.package_name()}, "
                    f"about 50 MB to download; `canaria setup --node {major}` does it ahead)",
                )
            else:
                ctx.warn(
                    entry,
                    f"Runtime {runtime}: canaria runs it with the installed Node.js {node.version}",
                )
        case runtimes.Family.PROVIDED:
            problem = runtimes.bootstrap_problem(code_uri) if code_uri else None
            # as on Lambda, a bootstrap in /opt (a custom runtime's layer) starts it too
            in_layer = any(
                layer.build is None and runtimes.bootstrap_problem(layer.content_uri) is None
                for layer in layers
            )
            if problem is not None and not in_layer:
                metadata = entry.node.get("Metadata")
                method = metadata.get("BuildMethod") if isinstance(metadata, Mapping) else None
                if isinstance(method, str):  # go1.x, rust-cargolambda, makefile: not run here
                    problem += (
                        f"; its Metadata.BuildMethod {method} is a build `sam build` runs and "
                        "canaria does not: build first and give canaria the built template "
                        "(.aws-sam/build/template.yaml)"
                    )
                raise at.error(
                    f"runtime {runtime!r} starts the function's own bootstrap, but {problem}",
                    allowed="an executable file named 'bootstrap' at the top of CodeUri, or "
                    "of one of its layers",
                )
        case unreachable:
            assert_never(unreachable)


def _preference(
    ctx: Context,
    entry: Entry,
    alias: str | None,
    alarms: Mapping[str, AlarmSpec],
    config_names: tuple[str, ...],
    function_names: Mapping[str, str],
) -> DeploymentPreference | None:
    if "DeploymentPreference" not in entry.props:
        return None
    raw = ctx.get(entry, "DeploymentPreference")
    at = ctx.at(entry, "DeploymentPreference")
    if raw is NO_VALUE:
        return None
    if alias is None and _disabled(raw, at):
        ctx.warn(entry, "DeploymentPreference is disabled (Enabled: false): ignored")
        return None
    if alias is None:
        raise at.error(
            "DeploymentPreference requires AutoPublishAlias (SAM refuses it too)",
            allowed="AutoPublishAlias: <alias name> on this function",
        )
    return deployment_preference(
        ctx, entry, as_map(raw, at), at, alarms, config_names, function_names
    )


def _disabled(raw: Any, at: Where) -> bool:
    node = as_map(raw, at)
    return "Enabled" in node and not as_bool(node["Enabled"], at.key(node, "Enabled"))


def _required_str(ctx: Context, entry: Entry, key: str) -> str:
    value = ctx.get(entry, key)
    if value is NO_VALUE or value is None:
        raise entry.props_at.at(entry.props).error(
            f"{key} is required (here or in Globals.Function)"
        )
    return as_str(value, ctx.at(entry, key))


def _handler(ctx: Context, entry: Entry) -> str:
    """``Handler``: its module is a file of the function's code (``src/app.handler`` is
    ``src/app.js`` to Node). canaria runs a copy of ``CodeUri``, so a module path that
    leaves it (``../../elsewhere/x.handler``, ``/abs/x.handler``) would load a file from
    outside the code: refused."""
    handler = _required_str(ctx, entry, "Handler")
    if runtimes.module_outside(handler):
        raise ctx.at(entry, "Handler").error(
            f"Handler {handler!r} names a module outside CodeUri",
            allowed="a module inside CodeUri, e.g. app.handler or src/app.handler",
        )
    return handler


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
    allowed = "a directory relative to the template, a .zip file of the code, or its one file"
    text, path = ctx.local_path(value, at, allowed=allowed)
    if not path.exists():
        raise at.error(f"CodeUri {text!r} does not exist ({path})", allowed=allowed)
    if not path.is_dir() and not path.is_file():
        raise at.error(f"CodeUri {text!r} is neither a directory nor a file ({path})")
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
        if kind not in EVENT_TYPES and kind not in sam_event_types():
            raise eat.key(event, "Type").error(
                f"unknown event type {kind!r}", allowed=choices(sam_event_types(), near=kind)
            )
        props = as_map(event.get("Properties") or LineMap(), eat.key(event, "Properties"))
        pat = eat.key(event, "Properties").at(props)
        if kind == "Api":
            if (route := _route(ctx, entry, name, props, pat, "rest", apis)) is not None:
                routes.append(route)
        elif kind == "HttpApi":
            if (route := _route(ctx, entry, name, props, pat, "http", apis)) is not None:
                routes.append(route)
        elif kind not in DELIVERED_EVENTS:
            ctx.warn(
                entry,
                f"event {name} ({kind}) is not triggered by canaria; invoke the "
                "function through the Lambda API to exercise it",
            )
    return tuple(routes)


def _route(
    ctx: Context,
    entry: Entry,
    name: str,
    props: LineMap,
    at: Where,
    kind: ApiKind,
    apis: Mapping[str, ApiSpec],
) -> RouteSpec | None:
    api_key = "RestApiId" if kind == "rest" else "ApiId"
    raw_api = props.get(api_key)
    raw_type = ctx.index.type_of(raw_api) if isinstance(raw_api, str) else None
    if raw_type in ("AWS::ApiGateway::RestApi", "AWS::ApiGatewayV2::Api"):
        # SAM adds no method to an API CloudFormation declares itself (only the
        # permission to invoke): the API's own methods or routes serve the function
        ctx.warn(
            entry,
            f"event {name} names {raw_api}, an {raw_type}: SAM adds no route to it, so the "
            "function is served by the methods or routes that API declares",
        )
        return None
    if api_key in props:
        api = _api_of(props, api_key, at, kind, apis, entry)
    else:
        api = IMPLICIT_REST_API if kind == "rest" else IMPLICIT_HTTP_API
        if api not in apis:  # the template declares a resource of that name itself
            raise at.error(
                f"this event needs the implicit API {api}, but the template's own "
                f"{api} is not an {'AWS::Serverless::Api' if kind == 'rest' else 'HttpApi'}",
                allowed=f"{'RestApiId' if kind == 'rest' else 'ApiId'} naming an API of "
                f"the template, or another logical id for the resource named {api}",
            )
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
    spec_api = apis[api]
    authorizer = route_authorizer(
        ctx,
        entry,
        props,
        at,
        spec_api.authorizers,
        spec_api.default_authorizer,
        spec_api.skipped_authorizers,
        kind=kind,
    )
    spec = RouteSpec(
        method,
        path,
        kind,
        api,
        spec_api.stage,
        entry.logical_id,
        authorizer,
        spec_api.cors,
        payload_v1=kind == "http" and _payload_version(props, at) == "1.0",
        stage_variables=spec_api.stage_variables,
        gateway_responses=spec_api.gateway_responses,
        # the keys it accepts are filled in once the template's keys are read
        api_keys=() if route_api_key(ctx, entry, props, at, spec_api) else None,
        validation=event_validation(props, at, spec_api) if kind == "rest" else None,
    )
    try:
        if path != DEFAULT_ROUTE:
            parse_path(path, f"route {method} {path} of {entry.logical_id}")
    except TemplateError as exc:
        raise at.key(props, "Path").error(
            exc.message.split(": ", 1)[-1].split(" (allowed")[0], allowed=exc.allowed
        ) from None
    return spec


def _payload_version(props: LineMap, at: Where) -> str:
    """An HttpApi event's ``PayloadFormatVersion`` ("2.0" when absent)."""
    if props.get("PayloadFormatVersion") is None:
        return "2.0"
    pat = at.key(props, "PayloadFormatVersion")
    version = str(props["PayloadFormatVersion"])
    if version not in ("1.0", "2.0"):
        raise pat.error(f"unknown PayloadFormatVersion {version!r}", allowed="'1.0', '2.0'")
    return version


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
    text = raw if isinstance(raw, str) else None
    for spec in apis.values():
        if spec.kind == kind and text in (spec.logical_id, spec.logical_id.lower()):
            return spec.logical_id
    shown = repr(text) if text is not None else f"({type_name(raw)})"
    raise kat.error(
        f"{key} {shown} is not an {wanted} of this template",
        allowed=", ".join(candidates) or f"none: declare an {wanted} or leave {key} out",
    )
