"""``load``: a SAM template file → ``Application``, every problem a ``TemplateError``.

Order: read the document; check its sections and ``Transform``; resolve parameters
(overrides > samconfig.toml > Default); index the resources (``Globals`` merged, each
``Condition`` evaluated); then build APIs, alarms, deployment configs, tables, state
machines and functions, which refer to all of those; last, the API keys, which the
routes that require one are given.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

from canaria.errors import TemplateError, TemplateErrors
from canaria.log_groups import function_groups, group_key
from canaria.models import (
    AlarmSpec,
    ApiKeySpec,
    ApiSpec,
    Application,
    DeploymentConfigSpec,
    FunctionSpec,
    LayerSpec,
    LogGroupSpec,
    LogSubscriptionSpec,
    MetricFilterSpec,
    PipeSpec,
    RouteSpec,
    SkippedResource,
    StateMachineSpec,
    TableSpec,
    WebSocketApiSpec,
)
from canaria.models.app import ApiKind
from canaria.models.appsync import GraphQLApiSpec
from canaria.models.arns import function_arn, layer_arn
from canaria.models.firehose import DeliveryStreamSpec
from canaria.models.load_balancers import ListenerSpec
from canaria.models.schedules import ScheduledInvocation
from canaria.models.services import ApiDestinationSpec, EventSource, ServiceResource
from canaria.template import language_extensions, sam_globals
from canaria.template.access_logs import access_log
from canaria.template.alarms import api_labels, build_alarm
from canaria.template.api_destinations import destinations_of
from canaria.template.api_keys import TYPES as API_KEY_TYPES
from canaria.template.api_keys import accept_keys, build_api_keys
from canaria.template.appsync import TYPES as GRAPHQL_TYPES
from canaria.template.appsync import build_graphql_apis
from canaria.template.authorizers import ApiKeyAuth, api_auth, api_key_auth
from canaria.template.cfn_apis import TYPES as CFN_API_TYPES
from canaria.template.cfn_apis import cfn_apis
from canaria.template.cfn_functions import convert as convert_functions
from canaria.template.context import Context, ReadablePaths
from canaria.template.cors import api_cors
from canaria.template.event_sources import build_event_sources
from canaria.template.firehose import DELIVERY_STREAM, build_delivery_streams
from canaria.template.function_urls import URL as FUNCTION_URL
from canaria.template.function_urls import add_url_resources
from canaria.template.functions import build_function
from canaria.template.gateway_responses import gateway_responses
from canaria.template.index import (
    ALARM,
    API,
    DEPLOYMENT_CONFIG,
    FUNCTION,
    HTTP_API,
    SAM_STATE_MACHINE,
    SFN_STATE_MACHINE,
    SIMPLE_TABLE,
    TABLE,
    Entry,
    ResourceIndex,
)
from canaria.template.intrinsics import Resolver, pseudo_parameters
from canaria.template.language_extensions import collections, expand
from canaria.template.layers import LAYER, build_layer
from canaria.template.load_balancers import TYPES as LOAD_BALANCER_TYPES
from canaria.template.load_balancers import build_listeners
from canaria.template.log_groups import LOG_GROUP, LOG_STREAM, build_log_groups
from canaria.template.log_subscriptions import (
    SUBSCRIPTION_FILTER,
    build_subscription_filter,
    subscription_events,
)
from canaria.template.mappings import MAPPING, build_mappings
from canaria.template.metric_filters import METRIC_FILTER, build_metric_filter
from canaria.template.nested import Nesting, flatten
from canaria.template.nodes import LineMap, Problems, Where, as_map, as_str, check_keys
from canaria.template.openapi import openapi_routes
from canaria.template.outputs import build_stack
from canaria.template.parameters import (
    SSM_VALUE,
    Parameter,
    resolve_parameters,
    samconfig_overrides,
)
from canaria.template.pipes import PIPE, build_pipes
from canaria.template.references import reference_errors
from canaria.template.resources import (
    build_api,
    build_deployment_config,
    skipped,
    stage_variables,
    step_lists,
)
from canaria.template.sam_rules import Include, merge, sam_errors, sam_types
from canaria.template.schedules import SCHEDULE, build_scheduler_resources, build_schedules
from canaria.template.services import TYPES as SERVICE_TYPES
from canaria.template.services import build_service_resources, ordered
from canaria.template.statemachines import build_state_machine
from canaria.template.streams import build_stream_sources
from canaria.template.tables import build_simple_table, build_table
from canaria.template.websockets import TYPES as WEBSOCKET_TYPES
from canaria.template.websockets import build_websockets
from canaria.template.yamlload import Repeated, load_document

SECTIONS = (
    "AWSTemplateFormatVersion",
    "Description",
    "Metadata",
    "Parameters",
    "Rules",
    "Mappings",
    "Conditions",
    "Transform",
    "Globals",
    "Resources",
    "Outputs",
)
SERVERLESS_TRANSFORM = "AWS::Serverless-2016-10-31"
RESOURCE_ATTRIBUTES = (
    "Type",
    "Properties",
    "Condition",
    "DependsOn",
    "Metadata",
    "DeletionPolicy",
    "UpdateReplacePolicy",
    "UpdatePolicy",
    "CreationPolicy",
    "IgnoreGlobals",
    "Connectors",
    # not in CloudFormation's documentation, yet accepted and ignored by it: templates
    # CodeStar generated carry one on every resource, and public SAM applications too
    "Description",
    # the same: AWS's early custom resource examples write ``Version: "1.0"``, and public
    # templates copied them
    "Version",
)
OTHER_HANDLED = (
    TABLE,
    LOG_GROUP,
    LOG_STREAM,
    ALARM,
    METRIC_FILTER,
    SUBSCRIPTION_FILTER,
    DEPLOYMENT_CONFIG,
    SFN_STATE_MACHINE,
    PIPE,
    MAPPING,
    SCHEDULE,
    DELIVERY_STREAM,
)
HANDLED = (
    FUNCTION,
    API,
    HTTP_API,
    SIMPLE_TABLE,
    SAM_STATE_MACHINE,
    LAYER,
    *OTHER_HANDLED,
    *SERVICE_TYPES,
    *CFN_API_TYPES,
    *WEBSOCKET_TYPES,
    *API_KEY_TYPES,
    FUNCTION_URL,
    *GRAPHQL_TYPES,
    *LOAD_BALANCER_TYPES,
)
_TYPE = re.compile(r"^[A-Za-z0-9]+::[A-Za-z0-9]+::[A-Za-z0-9]+$")
_LOGICAL_ID = re.compile(r"^[A-Za-z0-9]+$")


def load(
    path: str,
    overrides: Mapping[str, str] | None = None,
    *,
    config_env: str | None = None,
    readable: ReadablePaths | None = None,
    api_key_value: Callable[[str], str] | None = None,
    graphql_url: Callable[[str], str] | None = None,
) -> Application:
    """The application the SAM template at ``path`` declares, fully resolved.

    ``readable`` (the server's ``FileAccess``) confines the local paths the template
    names (``CodeUri``, a state machine's ``DefinitionUri``) to the directories canaria may
    read; without it (a template named on the command line) any path is read.

    ``api_key_value`` (the server's ``Keyring.api_key_value``) gives an API key the
    template writes no ``Value`` for its value, from the key's logical id; without it such
    a key has none (``template.api_keys`` says why the value is made this way).

    ``graphql_url`` (the server's ``GraphQLApis.url_for``) gives a GraphQL API's local URL
    from its logical id, for ``!GetAtt Api.GraphQLUrl``; without it that is AppSync's.

    Every problem found is raised at once, as a ``TemplateErrors``: first the template's
    structure, its parameters and SAM's own rules; when those pass, what canaria builds."""
    display = str(path)
    template = Path(path).resolve()
    repeated: Repeated = []
    doc = load_document(template, display, repeated)
    warnings = [
        f"{display}:{line}: key {key!r} is written again (first on line {first}): the "
        "later value is used, as CloudFormation and SAM use it"
        for key, first, line in repeated
    ]
    top = Where(display, "", doc.line)
    problems = Problems()
    with problems.catch():
        check_keys(doc, top, SECTIONS, what="top-level section")
    # the stack samconfig.toml deploys, else one named after the template's folder
    config, config_file, configured_stack = samconfig_overrides(template, config_env)
    stack = configured_stack or stack_name(template.parent.name)
    params: dict[str, Parameter] = {}
    with problems.catch():
        params = resolve_parameters(
            doc.get("Parameters"), top.key(doc, "Parameters"), overrides or {}, config, config_file
        )
    warnings += [
        f"{display}: parameter {p.name} ({p.type}): CloudFormation would read the value of "
        f"the SSM parameter {p.value!r}; canaria uses {p.value!r} itself (give the value "
        f"with --parameter-overrides {p.name}=<value>)"
        for p in params.values()
        if p.type.startswith(SSM_VALUE) and p.source == "Default"
    ]
    expanding = len(problems.errors)
    with problems.catch():  # AWS::LanguageExtensions: loops expanded before all else
        expand(doc, top, collections(doc, top, params, stack))
    if len(problems.errors) > expanding:  # the rest would read a template half expanded
        problems.raise_any()
    nesting = Nesting()
    with problems.catch():  # the nested templates' resources join this one's
        refusal = readable.refusal if readable is not None else None
        nesting = flatten(
            doc,
            top,
            template.parent,
            stack=stack,
            refusal=refusal,
            warnings=warnings,
            within=(template,),
        )
    with problems.catch():  # Lambda's own function, version and alias, as SAM's function
        convert_functions(doc, top, warnings)
    values = {k: p.value for k, p in params.items()}
    sam, references = _sam_and_references(
        doc, top, params, warnings, _includer(template.parent, readable)
    )

    def checkpoint(final: bool = False) -> None:
        if problems.errors or (final and (sam or references)):
            problems.errors = merge(problems.errors, sam, references)
            problems.raise_any()

    checkpoint()
    try:
        resolver = Resolver(
            params,
            pseudo_parameters(stack),
            _section(doc, "Mappings", top),
            _section(doc, "Conditions", top),
            top.key(doc, "Conditions"),
        )
        resolver.extensions = language_extensions.declared(doc)
        for name in resolver.conditions:  # every condition is evaluated: errors surface early
            with problems.catch():
                resolver.condition(name, top.key(doc, "Conditions"))
        entries = _entries(doc, top, resolver, problems)
        with problems.catch():
            _check_transform(doc, top, entries)
        checkpoint()
        index = ResourceIndex(entries, stack, resolver, graphql_url)
        resolver.resources = index
        ctx = Context(
            display,
            template.parent,
            resolver,
            index,
            warnings,
            readable,
            api_key_value,
            nesting.directories,
        )
        app = _build(ctx, template, doc, top, entries, values, problems)
        with problems.catch():  # what DescribeStacks gives: the resources are known now
            described = build_stack(doc, top, stack, index, params, ctx.warnings)
            app = replace(app, stack=described, warnings=tuple(ctx.warnings))
    except TemplateErrors:
        raise
    except TemplateError as exc:  # a structural error the later steps cannot go past
        problems.errors.append(exc)
        checkpoint(final=True)
        raise
    except Exception:
        if not sam:
            raise
        # a template SAM refuses took canaria's builders where they do not go: SAM's errors
        checkpoint(final=True)
        raise
    checkpoint(final=True)
    return app


def stack_name(folder: str) -> str:
    """The stack name of a template in ``folder`` (``AWS::StackName`` and the names
    CloudFormation would generate): the folder's name made a valid CloudFormation stack
    name, letters, digits and hyphens starting with a letter, at most 128 characters."""
    name = re.sub(r"[^A-Za-z0-9-]+", "-", folder).strip("-")
    if not name[:1].isalpha():
        name = f"stack-{name}".rstrip("-")
    return name[:128].rstrip("-")


def _sam_and_references(
    doc: LineMap,
    top: Where,
    params: Mapping[str, Parameter],
    warnings: list[str],
    include: Include,
) -> tuple[list[TemplateError], list[TemplateError]]:
    """SAM's errors, and when SAM accepts the template, its references to nothing (each
    at the reference: every one is reported, beside canaria's own errors)."""
    given = {k: p.value for k, p in params.items() if p.source != "Default"}
    checked = sam_errors(doc, top, given, warnings, include)  # SAM reads the Defaults itself
    if checked.resources is None:
        return checked.errors, []
    declared = doc.get("Parameters")
    resources = doc.get("Resources")
    own = list(resources) if isinstance(resources, dict) else []
    known = [*checked.resources, *own, *(declared if isinstance(declared, dict) else ())]
    return checked.errors, reference_errors(doc, top, known, own, checked.unresolved)


def _includer(directory: Path, readable: ReadablePaths | None) -> Include:
    """Reads a file an ``AWS::Include`` names for SAM's check, under the same rule as every
    local path of the template; what cannot be read is left for the API's own loading
    to report, with its line."""

    def include(location: str) -> Any:
        path = (directory / location).resolve()
        if "\0" in location or (readable is not None and readable.refusal(path) is not None):
            return None
        try:
            return load_document(path, str(path))
        except TemplateError:
            return None

    return include


def _section(doc: LineMap, key: str, top: Where) -> LineMap:
    value = doc.get(key)
    return LineMap() if value is None else as_map(value, top.key(doc, key))


def _check_transform(doc: LineMap, top: Where, entries: Mapping[str, Entry]) -> None:
    at = top.key(doc, "Transform")
    raw = doc.get("Transform")
    transforms = [] if raw is None else raw if isinstance(raw, list) else [raw]
    for t in transforms:
        if t not in (SERVERLESS_TRANSFORM, language_extensions.TRANSFORM):
            raise at.error(
                f"transform {t!r} is not supported",
                allowed=f"{SERVERLESS_TRANSFORM}, {language_extensions.TRANSFORM}",
            )
    transforms = [t for t in transforms if t == SERVERLESS_TRANSFORM]
    if not transforms:
        for e in entries.values():
            if e.type.startswith("AWS::Serverless::"):
                raise e.where.key(e.node, "Type").error(
                    f"{e.type} needs the SAM transform",
                    allowed=f"Transform: {SERVERLESS_TRANSFORM} at the top of the template",
                )


def _entries(doc: LineMap, top: Where, resolver: Resolver, problems: Problems) -> dict[str, Entry]:
    if "Resources" not in doc:
        raise top.error("the template has no Resources section")
    rat = top.key(doc, "Resources")
    resources = as_map(doc["Resources"], rat)
    if not resources:
        raise rat.error("Resources is empty")
    globals_: dict[str, LineMap] = {}
    with problems.catch():
        globals_ = sam_globals.read_globals(doc.get("Globals"), top.key(doc, "Globals"))
    entries: dict[str, Entry] = {}
    for logical_id, node in resources.items():
        with problems.catch():
            entries[logical_id] = _entry(
                logical_id, node, rat.key(resources, logical_id), globals_, resolver
            )
    return entries


def _entry(
    logical_id: str, node: Any, at: Where, globals_: dict[str, LineMap], resolver: Resolver
) -> Entry:
    if not _LOGICAL_ID.match(logical_id):
        raise at.error(f"logical id {logical_id!r} is not valid", allowed="letters and digits")
    node = as_map(node, at)
    check_keys(node, at, RESOURCE_ATTRIBUTES, what="resource attribute")
    if "Type" not in node:
        raise at.error(
            "the resource has no Type",
            allowed=", ".join(sam_types()) + ", or any AWS::<Service>::<Resource>",
        )
    type_ = as_str(node["Type"], at.key(node, "Type"))
    _check_type(type_, at.key(node, "Type"))
    props_at = at.key(node, "Properties")
    props = node.get("Properties")
    props = LineMap(line=props_at.line) if props is None else as_map(props, props_at)
    if type_.startswith("AWS::Serverless::"):
        short = type_.removeprefix("AWS::Serverless::")
        props = sam_globals.apply(_unignored(globals_, node, at), short, props)
    condition = node.get("Condition")
    enabled = True
    if condition is not None:
        cat = at.key(node, "Condition")
        condition = as_str(condition, cat)
        enabled = resolver.condition(condition, cat)
    return Entry(logical_id, type_, props, at, props_at.at(props), node, enabled, condition)


def _check_type(type_: str, at: Where) -> None:
    # a SAM type canaria does not run is skipped with a warning like any other
    if type_.startswith("AWS::Serverless::"):
        if type_ not in sam_types():
            raise at.error(f"unknown SAM resource type {type_!r}", allowed=sam_types())
    elif not (_TYPE.match(type_) or type_.startswith("Custom::")):
        raise at.error(
            f"{type_!r} is not a resource type",
            allowed="AWS::Serverless::<Type>, AWS::<Service>::<Resource> or Custom::<Name>",
        )


def _unignored(globals_: dict[str, LineMap], node: LineMap, at: Where) -> dict[str, LineMap]:
    ignore = node.get("IgnoreGlobals")
    if ignore is None:
        return globals_
    if ignore == "*":
        return {}
    names = (
        {as_str(n, at.key(node, "IgnoreGlobals")) for n in ignore}
        if isinstance(ignore, list)
        else {as_str(ignore, at.key(node, "IgnoreGlobals"))}
    )
    return {k: v.like((p, x) for p, x in v.items() if p not in names) for k, v in globals_.items()}


def _build(
    ctx: Context,
    template: Path,
    doc: LineMap,
    top: Where,
    entries: dict[str, Entry],
    parameters: dict[str, str],
    problems: Problems,
) -> Application:
    live = [e for e in entries.values() if e.enabled]

    def of(*types: str) -> list[Entry]:
        return [e for e in live if e.type in types]

    function_names: dict[str, str] = {}
    for e in of(FUNCTION):
        value = ctx.get(e, "FunctionName")
        if isinstance(value, str):
            function_names[value] = e.logical_id
    apis: dict[str, ApiSpec] = {}
    for e in of(API, HTTP_API):
        with problems.catch():
            apis[e.logical_id] = build_api(ctx, e, function_names)
        if e.logical_id not in apis:  # refused: its events are not refused again for it
            apis[e.logical_id] = ApiSpec(e.logical_id, "rest" if e.type == API else "http", "")
    for name, type_ in ctx.index.implicit.items():
        if type_ in (API, HTTP_API):
            rest = type_ == API
            apis[name] = ApiSpec(name, "rest" if rest else "http", "Prod" if rest else "$default")
            with problems.catch():
                apis[name] = _implicit_api(ctx, doc, top, name, type_, function_names)
    alarms: dict[str, AlarmSpec] = {}
    labels = api_labels(ctx, live)
    for e in of(ALARM):
        with problems.catch():
            spec = build_alarm(ctx, e, function_names, labels)
            if spec is not None:
                _unique(alarms, spec.name, spec, e, "AlarmName")
    log_groups: dict[str, LogGroupSpec] = {}
    with problems.catch():
        log_groups = build_log_groups(ctx, of(LOG_GROUP), of(LOG_STREAM))
    metric_filters: list[MetricFilterSpec] = []
    groups = _log_groups(ctx, of(FUNCTION), function_names, log_groups)
    for e in of(METRIC_FILTER):
        with problems.catch():
            metric_filters.extend(build_metric_filter(ctx, e, groups))
    subscriptions: list[LogSubscriptionSpec] = []
    for e in of(SUBSCRIPTION_FILTER):
        with problems.catch():
            subscriptions.extend(
                build_subscription_filter(
                    ctx, e, groups, function_names, [f.logical_id for f in of(FUNCTION)]
                )
            )
    with problems.catch():
        subscriptions.extend(subscription_events(ctx, of(FUNCTION), groups))
    configs: dict[str, DeploymentConfigSpec] = {}
    with problems.catch():
        configs.update(step_lists(doc.get("Metadata"), top.key(doc, "Metadata")))
    for e in of(DEPLOYMENT_CONFIG):
        with problems.catch():
            config = build_deployment_config(ctx, e)
            _unique(configs, config.name, config, e, "DeploymentConfigName")
    tables: dict[str, TableSpec] = {}
    for e in of(TABLE, SIMPLE_TABLE):
        with problems.catch():
            table = build_table(ctx, e) if e.type == TABLE else build_simple_table(ctx, e)
            if any(t.table_name == table.table_name for t in tables.values()):
                raise ctx.at(e, "TableName").error(f"table name {table.table_name!r} is used twice")
            tables[e.logical_id] = table
    machines: dict[str, StateMachineSpec] = {}
    for e in of(SAM_STATE_MACHINE, SFN_STATE_MACHINE):
        with problems.catch():
            machine = build_state_machine(ctx, e)
            if any(m.name == machine.name for m in machines.values()):
                raise e.where.error(f"state machine name {machine.name!r} is used twice")
            machines[e.logical_id] = machine
    services: dict[str, ServiceResource] = {}
    event_sources: tuple[EventSource, ...] = ()
    schedules: tuple[ScheduledInvocation, ...] = ()
    hidden: dict[str, ServiceResource] = {}
    destinations: dict[str, ApiDestinationSpec] = {}
    with problems.catch():
        destinations = destinations_of(ctx, of(*SERVICE_TYPES))
        services = build_service_resources(
            ctx,
            of(*SERVICE_TYPES),
            {function_arn(e.logical_id): e.logical_id for e in of(FUNCTION)},
            destinations,
        )
        built = [
            (e, machines[e.logical_id]) for e in of(SAM_STATE_MACHINE) if e.logical_id in machines
        ]
        queue_sources, hidden = build_event_sources(
            ctx, of(FUNCTION), services, built, machines, of("AWS::Events::Rule")
        )
        streamed = build_stream_sources(ctx, of(FUNCTION), services, tables)
        event_sources = (*queue_sources, *streamed)
        event_sources += build_mappings(
            ctx, of(MAPPING), of(FUNCTION), function_names, services, tables
        )
        relays = {s.queue_name for s in queue_sources if s.forward is not None}
        schedules = build_schedules(ctx, of(FUNCTION), built, services, machines, relays)
        schedules += build_scheduler_resources(ctx, of(SCHEDULE), of(FUNCTION), machines, services)
    pipes: dict[str, PipeSpec] = {}
    with problems.catch():
        pipes, piped = build_pipes(
            ctx, of(PIPE), services, tables, machines, of(FUNCTION), destinations
        )
        event_sources = (*event_sources, *piped)
    delivery_streams: dict[str, DeliveryStreamSpec] = {}
    with problems.catch():
        delivery_streams, read = build_delivery_streams(
            ctx, of(DELIVERY_STREAM), services, of(FUNCTION), function_names
        )
        event_sources = (*event_sources, *read)
    layers: dict[str, LayerSpec | None] = {}
    for e in of(LAYER):
        with problems.catch():
            layers[layer_arn(e.logical_id)] = build_layer(ctx, e)
    functions: dict[str, FunctionSpec] = {}
    routes: dict[tuple[str, str, str], str] = {}
    for e in of(FUNCTION):
        with problems.catch():
            fn = build_function(ctx, e, apis, alarms, tuple(configs), function_names, layers)
            for r in fn.routes:
                key = (r.api_id, r.method, r.path)
                if key in routes:
                    raise ctx.at(e, "Events").error(
                        f"route {r.method} {r.path} of {r.api_id} is already served by "
                        f"{routes[key]}"
                    )
                routes[key] = fn.name
            functions[fn.name] = fn
    unowned: list[RouteSpec] = []  # service, mock and HTTP integrations: no function's
    for e in of(API, HTTP_API):
        unowned += _add_openapi_routes(
            ctx, e, apis[e.logical_id], functions, routes, function_names
        )
    with problems.catch():
        unowned += _add_cfn_api_routes(ctx, live, apis, functions, routes, function_names)
    with problems.catch():
        add_url_resources(ctx, of(FUNCTION_URL), functions, function_names)
    api_keys: dict[str, ApiKeySpec] = {}
    with problems.catch():
        api_keys, plan_limits = build_api_keys(ctx, of(*API_KEY_TYPES), apis)
        unowned = accept_keys(ctx, apis, api_keys, functions, unowned, plan_limits)
    websockets: dict[str, WebSocketApiSpec] = {}
    with problems.catch():
        websockets = build_websockets(ctx, live, function_names)
    graphql_apis: dict[str, GraphQLApiSpec] = {}
    with problems.catch():
        graphql_apis = build_graphql_apis(ctx, live, function_names)
    listeners: dict[str, ListenerSpec] = {}
    with problems.catch():
        listeners = build_listeners(ctx, live, function_names, set(functions))
    skipped_resources: list[SkippedResource] = []
    for e in live:
        if e.type not in HANDLED:
            s = skipped(e)
            skipped_resources.append(s)
            ctx.warn(e, f"{s.type} is skipped: {s.reason}")
    all_routes = [*(r for f in functions.values() for r in f.routes), *unowned]
    ctx.warnings.extend(f"{ctx.file}: {message}" for message in _shadowed(all_routes))
    return Application(
        template_path=str(template),
        functions=functions,
        apis=apis,
        alarms=alarms,
        metric_filters=tuple(metric_filters),
        log_subscriptions=tuple(subscriptions),
        api_labels=labels,
        deployment_configs=configs,
        tables=tables,
        state_machines=machines,
        services=ordered({**services, **hidden}),
        event_sources=event_sources,
        pipes=pipes,
        delivery_streams=delivery_streams,
        websockets=websockets,
        graphql_apis=graphql_apis,
        listeners=listeners,
        integration_routes=tuple(unowned),
        schedules=schedules,
        api_keys=api_keys,
        skipped=tuple(skipped_resources),
        warnings=tuple(ctx.warnings),
        parameters=parameters,
        function_names=function_names,
        log_groups=log_groups,
    )


def _shadowed(routes: Iterable[RouteSpec]) -> list[str]:
    """A route another API's answers first: canaria serves every API on one port by path
    (``/<stage>/<path>`` and ``/<path>``), so two APIs of one stage name with the same
    method and path (a nested application's and its parent's, say) reach the first one
    unless the request's ``Host`` names the API (``gateway.routes.Router.for_host``)."""
    first: dict[tuple[str, str, str], RouteSpec] = {}
    out: list[str] = []
    for route in routes:
        shape = re.sub(r"\{[^}/]*\}", "{}", route.path)
        key = (route.method, shape, route.stage)
        seen = first.setdefault(key, route)
        if seen.api_id == route.api_id:
            continue
        out.append(
            f"{route.method} {route.path} of {route.api_id} ({_served_by(route)}) is "
            f"answered by {seen.api_id}'s {seen.method} {seen.path} ({_served_by(seen)}) on "
            "the gateway's shared paths; a request whose Host names the API's id reaches it "
            f"(curl http://{route.api_id.lower()}.localhost:<gateway port>/...), as AWS "
            "reaches each API by its own host"
        )
    return out


def _served_by(route: RouteSpec) -> str:
    return f"function {route.function}" if route.function else "its integration"


def _add_cfn_api_routes(
    ctx: Context,
    live: list[Entry],
    apis: dict[str, ApiSpec],
    functions: dict[str, FunctionSpec],
    routes: dict[tuple[str, str, str], str],
    function_names: dict[str, str],
) -> list[RouteSpec]:
    """The routes of APIs written as API Gateway's own resources, added to their
    functions; those of no function (service, mock and HTTP integrations) returned."""
    found = cfn_apis(ctx, live, function_names)
    apis.update(found.apis)
    return _add_routes(found.routes, functions, routes)


def _add_routes(
    found: Iterable[RouteSpec],
    functions: dict[str, FunctionSpec],
    routes: dict[tuple[str, str, str], str],
) -> list[RouteSpec]:
    """``found`` added to their functions unless a route of the same key is there first
    (an event's), except that an API definition's integration that is not a Lambda proxy
    takes the place of an event's route, as SAM keeps the definition's integration when it
    merges the event in; the routes of no function returned."""
    added: dict[str, list[RouteSpec]] = {}
    unowned: list[RouteSpec] = []
    for route in found:
        key = (route.api_id, route.method, route.path)
        if route.function and route.function not in functions:
            continue
        if key in routes and route.integration is not None and routes[key] in functions:
            owner = functions[routes[key]]
            kept = tuple(r for r in owner.routes if (r.api_id, r.method, r.path) != key)
            functions[owner.name] = replace(owner, routes=kept)
            del routes[key]
        if key in routes:
            continue
        routes[key] = route.function
        if route.function:
            added.setdefault(route.function, []).append(route)
        else:
            unowned.append(route)
    for function, extra in added.items():
        fn = functions[function]
        functions[function] = replace(fn, routes=(*fn.routes, *extra))
    return unowned


def _add_openapi_routes(
    ctx: Context,
    entry: Entry,
    api: ApiSpec,
    functions: dict[str, FunctionSpec],
    routes: dict[tuple[str, str, str], str],
    function_names: dict[str, str],
) -> list[RouteSpec]:
    """The routes of the API's own OpenAPI definition, added to their functions (a route
    an event declares too is the event's); those of no function returned."""
    found: list[RouteSpec] = []
    definition = openapi_routes(ctx, entry, api.kind, function_names)
    default = api.authorizer(api.default_authorizer) if api.default_authorizer else None
    for route in definition.routes:
        authorizer = default
        if route.security == "":  # security: [] opts the operation out
            authorizer = None
        elif route.security is not None:  # the operation's (or document's) authorizer
            named = definition.authorizers.get(route.security)
            authorizer = named or api.authorizer(route.security) or default
        spec = RouteSpec(
            route.method,
            route.path,
            api.kind,
            api.logical_id,
            api.stage,
            route.function,
            authorizer,
            api.cors,
            payload_v1=api.kind == "http" and route.payload_v1,
            stage_variables=api.stage_variables,
            gateway_responses=api.gateway_responses,
            integration=route.integration,
            validation=route.validation,
            raw_stream=route.stream,
            # SAM's Auth.ApiKeyRequired reaches every method of the definition too
            api_keys=() if api.kind == "rest" and (api.api_key_required or route.api_key) else None,
        )
        found.append(spec)
    return _add_routes(found, functions, routes)


IMPLICIT_API_GLOBALS = (
    "Auth",
    "Cors",
    "CorsConfiguration",
    "GatewayResponses",
    "Variables",
    "AccessLogSetting",
    "AccessLogSettings",
)


def _log_groups(
    ctx: Context,
    functions: list[Entry],
    function_names: Mapping[str, str],
    declared: Mapping[str, LogGroupSpec],
) -> dict[str, tuple[str, ...]]:
    """Each log group name filters may read -> whose lines they read, as the log book keys
    them: the functions writing to it (``/aws/lambda/<FunctionName or logical id>``, or
    the group a ``LoggingConfig`` names, which several may share), or, for a group no
    function writes to, its own lines (``log_groups``: what a state machine, a rule, a
    pipe or code writes there). A function's own group answers to
    ``/aws/lambda/<logical id>`` too."""

    def custom(e: Entry) -> str | None:
        logging = ctx.get(e, "LoggingConfig")
        group = logging.get("LogGroup") if isinstance(logging, Mapping) else None
        return group if isinstance(group, str) else None

    written, aliases = function_groups(
        ((e.logical_id, custom(e)) for e in functions), function_names
    )
    writers: dict[str, list[str]] = {name: [] for name in declared} | written
    # a group no function writes to holds its own lines (PutLogEvents, a state machine's,
    # a rule's, a pipe's); a function's group, its functions' (written lines beside them
    # are not filtered)
    groups = {name: tuple(keys) or (group_key(name),) for name, keys in writers.items()}
    for alias, group in aliases.items():  # a declared group of that name is the function's
        if not writers.get(alias):
            groups[alias] = groups[group]
    return groups


def _implicit_api(
    ctx: Context, doc: LineMap, top: Where, name: str, type_: str, function_names: dict[str, str]
) -> ApiSpec:
    """The API SAM makes for events without an ``RestApiId`` / ``ApiId``: its stage is
    SAM's, its ``Auth`` and CORS the ones ``Globals`` gives every API of its type."""
    short = "Api" if type_ == API else "HttpApi"
    gat = top.key(doc, "Globals")
    props = sam_globals.apply(sam_globals.read_globals(doc.get("Globals"), gat), short, LineMap())
    props = props.like((k, v) for k, v in props.items() if k in IMPLICIT_API_GLOBALS)
    stage = "Prod" if type_ == API else "$default"
    if not props:
        return ApiSpec(name, "rest" if type_ == API else "http", stage)
    at = gat.key(doc["Globals"], short)
    entry = Entry(name, type_, props, at, at, LineMap(), True, None)
    kind: ApiKind = "rest" if type_ == API else "http"
    authorizers, default, skipped = api_auth(
        ctx, entry, ctx.get(entry, "Auth"), ctx.at(entry, "Auth"), kind, function_names
    )
    rest = kind == "rest"
    keys = ApiKeyAuth()
    if rest:
        keys = api_key_auth(ctx, entry, ctx.get(entry, "Auth"), ctx.at(entry, "Auth"))
    cors = api_cors(ctx, entry, kind)
    if keys.required and keys.preflight and cors is not None:
        cors = replace(cors, preflight_api_keys=())  # the API's keys, filled in later
    return ApiSpec(
        name,
        kind,
        stage,
        authorizers,
        default,
        skipped,
        cors,
        stage_variables(ctx, entry, "Variables") if rest else (),
        gateway_responses(ctx, entry) if rest else (),
        api_key_required=keys.required,
        usage_plan=keys.usage_plan,
        usage_limits=keys.limits,
        access_log=access_log(ctx, entry, "AccessLogSetting" if rest else "AccessLogSettings"),
    )


def _unique(table: dict[str, Any], name: str, value: Any, entry: Entry, key: str) -> None:
    if name in table:
        raise entry.where.key(entry.node, "Properties").error(
            f"{key} {name!r} is used twice", allowed="a unique name"
        )
    table[name] = value
