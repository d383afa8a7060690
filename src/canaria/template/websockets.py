"""WebSocket APIs, written either way a template may write one: SAM's
``AWS::Serverless::WebSocketApi``, or API Gateway's own CloudFormation resources (an
``AWS::ApiGatewayV2::Api`` with ``ProtocolType: WEBSOCKET``). Both are read into the same
``WebSocketApiSpec`` and served alike:

- The API's ``RouteSelectionExpression`` picks each message's route: ``$request.body.<name>``
  (a dotted path into the JSON message, ``${request.body.<name>}`` written alike); any
  other expression sends every message to ``$default``, with a warning.
- Each route that is a Lambda proxy to a function of the template is served under its key
  (``$connect``, ``$disconnect``, ``$default`` or a value of the selection expression),
  two-way (the function's answer is sent back on the connection) when its
  ``RouteResponseSelectionExpression`` is ``$default``. A route to an integration of
  another kind (an AWS service, mock, HTTP, a function with mapping templates) is
  served as ``template.integrations`` reads it, its request template chosen by the
  integration's ``TemplateSelectionExpression`` and its ``IntegrationResponse``s keyed
  ``$default`` or ``/<status regex>/``; a route to a function elsewhere is not served,
  with a warning.
- ``$connect`` may be guarded by a Lambda ``REQUEST`` authorizer, its identity sources the
  ``route.request.header.<name>`` and ``route.request.querystring.<name>`` entries of its
  ``IdentitySource``; ``AWS_IAM``: the handshake must be signed with SigV4 by keys
  canaria issued.
- The API is served at its stage, with the stage's variables.

SAM's ``AWS::Serverless::WebSocketApi`` is read as the resources SAM generates for it:
each entry of ``Routes`` a route to its ``FunctionArn``; ``Auth`` on ``$connect`` alone, as
SAM applies it (``AuthType: CUSTOM``: the authorizer ``AuthArn`` names, with its
``IdentitySource``; ``AWS_IAM``); the stage its ``StageName`` (``default`` when not
written), with its ``StageVariables``. What SAM refuses (a route key neither alphanumeric
nor one of API Gateway's three, a ``$default`` stage, ``CUSTOM`` without ``AuthArn``, ...)
is reported as SAM's error.

Written as API Gateway's resources, a ``Route``'s ``Target`` is an ``Integration``
(``AWS_PROXY`` for a function); a ``RouteResponse`` with key ``$default`` makes its route
two-way too; ``$connect``'s authorizer is an ``Authorizer`` (``AuthorizationType:
CUSTOM``); the stage is the API's ``Stage``. What CloudFormation refuses is refused here
too: two routes of one API with the same key, a key starting with ``$`` other than the
three API Gateway defines. Authorization on a route other than ``$connect`` (API Gateway
authorizes the connection only) is not applied, with a warning.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from functools import partial
from typing import Any

from canaria.models import (
    IAM_AUTHORIZER,
    AuthorizerSpec,
    WebSocketApiSpec,
    WebSocketRoute,
    iam_authorizer,
)
from canaria.models.integrations import IntegrationResponseSpec, IntegrationSpec
from canaria.template.cfn_apis import (
    V2_API,
    V2_AUTHORIZER,
    V2_INTEGRATION,
    V2_ROUTE,
    V2_STAGE,
    ApiResources,
)
from canaria.template.context import Context
from canaria.template.index import WEBSOCKET_API, Entry
from canaria.template.integrations import read_integration
from canaria.template.intrinsics import NO_VALUE
from canaria.template.nodes import Problems, as_str
from canaria.template.resources import stage_variables

V2_ROUTE_RESPONSE = "AWS::ApiGatewayV2::RouteResponse"
V2_INTEGRATION_RESPONSE = "AWS::ApiGatewayV2::IntegrationResponse"
_TYPES_READ = (
    V2_API,
    V2_ROUTE,
    V2_INTEGRATION,
    V2_STAGE,
    V2_AUTHORIZER,
    V2_ROUTE_RESPONSE,
    V2_INTEGRATION_RESPONSE,
)
# a model applies to non-proxy integrations only (a request's schema); not checked here
V2_MODEL = "AWS::ApiGatewayV2::Model"
# read here (or implied by serving the API), so not reported as skipped; the types a
# WebSocket API shares with an HTTP API are cfn_apis' ``TYPES``
TYPES = (WEBSOCKET_API, V2_ROUTE_RESPONSE, V2_INTEGRATION_RESPONSE, V2_MODEL)
WEBSOCKET = "WEBSOCKET"
CONNECT = "$connect"
RESERVED_KEYS = (CONNECT, "$disconnect", "$default")
_KEYS_ALLOWED = ", ".join(RESERVED_KEYS) + ", or a value of the API's RouteSelectionExpression"
DEFAULT_SELECTION = "$request.body.action"
# a dotted path of JSON member names (each anything but a dot, a ``$``, a brace or a space)
_PATH = r"[^.${}\s]+(?:\.[^.${}\s]+)*"
_SELECTION = re.compile(
    rf"^\$(?:request\.body\.(?P<bare>{_PATH})|\{{request\.body\.(?P<braced>{_PATH})\}})$"
)
_HEADER = "route.request.header."
_QUERY = "route.request.querystring."


@dataclass(frozen=True)
class _Written:
    """A route as the template writes it, before what of it canaria serves is decided."""

    entry: Entry  # where a warning about the route goes
    key: str
    function: str | None  # the template's function it invokes by a Lambda proxy, else None
    authorization: str  # NONE, AWS_IAM or CUSTOM
    authorizer: AuthorizerSpec | None  # CUSTOM: the authorizer (None: one canaria does not run)
    two_way: bool
    integration: IntegrationSpec | None = None  # not a Lambda proxy (``function`` then "")


def is_websocket(ctx: Context, api: Entry) -> bool:
    """Whether an ``AWS::ApiGatewayV2::Api`` is a WebSocket API."""
    protocol = ctx.get(api, "ProtocolType")
    return isinstance(protocol, str) and protocol.upper() == WEBSOCKET


def build_websockets(
    ctx: Context, live: list[Entry], function_names: Mapping[str, str]
) -> dict[str, WebSocketApiSpec]:
    """The template's WebSocket APIs canaria serves, by logical id; every problem (a route
    key CloudFormation refuses, ...) is raised at once."""
    reader = ApiResources(ctx, live, function_names, _TYPES_READ)
    problems = Problems()
    out: dict[str, WebSocketApiSpec] = {}
    apis = [
        e for e in live if e.type == WEBSOCKET_API or (e.type == V2_API and is_websocket(ctx, e))
    ]
    answered = _route_responses(reader) if any(e.type == V2_API for e in apis) else set()
    for api in apis:
        spec: WebSocketApiSpec | None = None
        with problems.catch():
            if api.type == WEBSOCKET_API:
                spec = _sam_websocket(reader, api)
            else:
                spec = _websocket(reader, api, answered, problems)
        if spec is not None:
            out[api.logical_id] = spec
    problems.raise_any()
    return out


def _sam_websocket(reader: ApiResources, api: Entry) -> WebSocketApiSpec:
    """An ``AWS::Serverless::WebSocketApi``, read as the routes, integrations, authorizer
    and stage SAM generates for it (SAM has refused what it does not accept)."""
    ctx = reader.ctx
    kind, authorizer = _sam_auth(reader, api)
    written: list[_Written] = []
    routes = api.props.get("Routes")
    at = ctx.at(api, "Routes")
    for key, route in routes.items() if isinstance(routes, Mapping) else ():
        if not isinstance(route, Mapping):
            continue
        route_at = at.key(routes, key)
        function = reader.function(ctx.resolver.get(route, "FunctionArn", route_at))
        expression = ctx.resolver.get(route, "RouteResponseSelectionExpression", route_at)
        two_way = _is_default(expression if isinstance(expression, str) else None)
        connect = key == CONNECT  # SAM authorizes the connection only
        written.append(
            _Written(
                api,
                str(key),
                function,
                kind if connect else "NONE",
                authorizer if connect else None,
                two_way,
            )
        )
    return WebSocketApiSpec(
        api.logical_id,
        ctx.index.stage_of(api.logical_id),
        _selection(ctx, api),
        _served(ctx, api, written),
        stage_variables(ctx, api, "StageVariables"),
    )


def _sam_auth(reader: ApiResources, api: Entry) -> tuple[str, AuthorizerSpec | None]:
    """The API's ``Auth``: its ``AuthType`` and, for ``CUSTOM``, the ``REQUEST`` authorizer
    of the function ``AuthArn`` names (None: a function canaria does not run). SAM names
    the authorizer ``<Api>ConnectAuthorizer``, and compares ``AuthType`` as written."""
    auth = reader.ctx.get(api, "Auth")
    if not isinstance(auth, Mapping):
        return "NONE", None
    kind = auth.get("AuthType")
    if kind == "CUSTOM":
        name = f"{api.logical_id}ConnectAuthorizer"
        return kind, _lambda_authorizer(
            reader, name, auth.get("AuthArn"), auth.get("IdentitySource")
        )
    return ("AWS_IAM" if kind == "AWS_IAM" else "NONE"), None


def _websocket(
    reader: ApiResources, api: Entry, answered: set[str], problems: Problems
) -> WebSocketApiSpec | None:
    ctx, name = reader.ctx, api.logical_id
    keyed: list[tuple[Entry, str]] = []  # (route, its key)
    for route in reader.naming(V2_ROUTE, "ApiId", name):
        with problems.catch():
            keyed.append((route, _route_key(ctx, route, keyed, name)))
    stages = [e for e in reader.naming(V2_STAGE, "ApiId", name) if reader.text(e, "StageName")]
    if not stages:
        ctx.warn(api, "it has no stage (an AWS::ApiGatewayV2::Stage): not served")
        return None
    stage_name = reader.text(stages[0], "StageName") or ""
    if len(stages) > 1:
        ctx.warn(api, f"it has {len(stages)} stages: served at the first, {stage_name}")
    variables = stage_variables(ctx, stages[0], "StageVariables")
    selection = _selection(ctx, api)
    authorizers = _authorizers(reader, api)
    # integration id → (function, or "" for none; its integration when not a proxy)
    targets: dict[str, tuple[str, IntegrationSpec | None]] = {}
    for e in reader.naming(V2_INTEGRATION, "ApiId", name):
        if str(reader.text(e, "IntegrationType") or "").upper() == "AWS_PROXY":
            function = reader.function(reader.text(e, "IntegrationUri"))
            if function is not None:
                targets[e.logical_id] = (function, None)
            continue
        mapped = _integration(reader, e)
        if mapped is not None:
            targets[e.logical_id] = (mapped.function or "", mapped)
    written: list[_Written] = []
    for route, key in keyed:
        target = reader.text(route, "Target") or ""
        function, mapped = targets.get(target.removeprefix("integrations/"), (None, None))
        kind = str(reader.text(route, "AuthorizationType") or "NONE").upper()
        authorizer = None
        if kind == "CUSTOM":
            authorizer = authorizers.get(reader.text(route, "AuthorizerId") or "")
        if ctx.get(route, "ApiKeyRequired") in (True, "true", "True"):
            ctx.warn(
                route,
                "ApiKeyRequired is not applied by canaria on a WebSocket route: it is served "
                "without an API key check",
            )
        expression = reader.text(route, "RouteResponseSelectionExpression")
        two_way = route.logical_id in answered or _is_default(expression)
        written.append(_Written(route, key, function, kind, authorizer, two_way, mapped))
    routes = _served(ctx, api, written)
    return WebSocketApiSpec(name, stage_name, selection, routes, variables)


def _integration(reader: ApiResources, e: Entry) -> IntegrationSpec | None:
    """A WebSocket integration that is not a Lambda proxy, with its integration responses
    (``IntegrationResponseKey``: ``$default``, or ``/<status regex>/``)."""
    ctx = reader.ctx
    raw = {
        "type": reader.text(e, "IntegrationType"),
        "uri": reader.text(e, "IntegrationUri"),
        "httpMethod": reader.text(e, "IntegrationMethod"),
        "requestTemplates": reader.mapping(e, "RequestTemplates"),
        "requestParameters": reader.mapping(e, "RequestParameters"),
        "passthroughBehavior": reader.text(e, "PassthroughBehavior"),
        "timeoutInMillis": ctx.get(e, "TimeoutInMillis"),
    }
    mapped = read_integration(raw, reader.target, partial(ctx.warn, e))
    if mapped is None:
        return None
    responses = []
    for r in reader.naming(V2_INTEGRATION_RESPONSE, "IntegrationId", e.logical_id):
        key = (reader.text(r, "IntegrationResponseKey") or "").removeprefix("\\")
        pattern = None
        if key != "$default":
            pattern = key[1:-1] if len(key) >= 2 and key[0] == key[-1] == "/" else key
        templates = tuple(
            (str(k), str(v)) for k, v in reader.mapping(r, "ResponseTemplates").items()
        )
        responses.append(IntegrationResponseSpec(0, pattern or None, templates))
    if not responses:
        responses.append(IntegrationResponseSpec(0))  # the backend's answer as it is
    return replace(
        mapped,
        responses=tuple(responses),
        template_selection=reader.text(e, "TemplateSelectionExpression"),
    )


def _served(ctx: Context, api: Entry, written: list[_Written]) -> tuple[WebSocketRoute, ...]:
    """The routes canaria serves: those to a function of the template, each with its
    authorizer on ``$connect``; what is not served or not applied, a warning."""
    routes: list[WebSocketRoute] = []
    others = unapplied = 0
    for route in written:
        if route.function is None:
            others += 1
            continue
        kind, authorizer = route.authorization, None
        if route.key != CONNECT:
            if kind != "NONE":
                ctx.warn(
                    route.entry,
                    f"AuthorizationType {kind} on route {route.key!r} is ignored: API Gateway "
                    f"authorizes a WebSocket connection once, on its {CONNECT} route",
                )
        elif kind == "CUSTOM":
            authorizer = route.authorizer
            unapplied += authorizer is None
        elif kind == IAM_AUTHORIZER:
            authorizer = iam_authorizer("http")
        else:
            unapplied += kind != "NONE"
        routes.append(
            WebSocketRoute(route.key, route.function, route.two_way, authorizer, route.integration)
        )
    _warn(ctx, api, others, unapplied)
    return tuple(routes)


def _route_key(ctx: Context, route: Entry, keyed: list[tuple[Entry, str]], api: str) -> str:
    """The route's ``RouteKey``, refused as CloudFormation refuses it: missing, reserved
    (``$`` and not one of API Gateway's), or the key of an earlier route of the API."""
    at = ctx.at(route, "RouteKey")
    value = ctx.get(route, "RouteKey")
    if value is NO_VALUE or value is None:
        raise at.error("the route has no RouteKey", allowed=_KEYS_ALLOWED)
    key = as_str(value, at)
    if not key or (key.startswith("$") and key not in RESERVED_KEYS):
        raise at.error(f"route key {key!r} is not one API Gateway accepts", allowed=_KEYS_ALLOWED)
    first = next((r.logical_id for r, k in keyed if k == key), None)
    if first is not None:
        raise at.error(
            f"route key {key!r} already exists on {api} (route {first}): CloudFormation "
            "refuses a second route with the same key",
            allowed="one route per key",
        )
    return key


def _selection(ctx: Context, api: Entry) -> str:
    """The API's ``RouteSelectionExpression``, ``$request.body.<path>`` when canaria
    evaluates it, else as written (every message then goes to ``$default``)."""
    value = ctx.get(api, "RouteSelectionExpression")
    if value is NO_VALUE or value is None:
        ctx.warn(
            api,
            f"a WEBSOCKET API needs a RouteSelectionExpression (CloudFormation requires "
            f"one): {DEFAULT_SELECTION} is used",
        )
        return DEFAULT_SELECTION
    text = as_str(value, ctx.at(api, "RouteSelectionExpression"))
    found = _SELECTION.match(text)
    if found is None:
        ctx.warn(
            api,
            f"RouteSelectionExpression {text!r} is not one canaria evaluates "
            "($request.body.<name>, or a dotted path into the message, $ or ${...}): "
            "every message goes to the $default route",
        )
        return text
    return f"$request.body.{found['bare'] or found['braced']}"


def _route_responses(reader: ApiResources) -> set[str]:
    """The routes a ``$default`` route response makes two-way (the only key API Gateway
    allows a WebSocket route response)."""
    out: set[str] = set()
    for e in reader.of.get(V2_ROUTE_RESPONSE, []):
        key = reader.text(e, "RouteResponseKey")
        if not _is_default(key):
            reader.ctx.warn(
                e, f"RouteResponseKey {key!r} is not $default, the only one API Gateway allows"
            )
            continue
        route = reader.text(e, "RouteId")
        if route is not None:
            out.add(route)
    return out


def _is_default(expression: str | None) -> bool:
    return expression is not None and expression.removeprefix("\\") == "$default"


def _authorizers(reader: ApiResources, api: Entry) -> dict[str, AuthorizerSpec | None]:
    """The API's authorizers by logical id (None: one canaria does not run, a warning).
    A WebSocket API's Lambda authorizer is a ``REQUEST`` one, invoked on ``$connect``
    with API Gateway's REST-style event; its answer is not cached."""
    out: dict[str, AuthorizerSpec | None] = {}
    for entry in reader.naming(V2_AUTHORIZER, "ApiId", api.logical_id):
        kind = str(reader.text(entry, "AuthorizerType") or "").upper()
        authorizer = None
        if kind == "REQUEST":
            uri = reader.text(entry, "AuthorizerUri")
            sources = reader.ctx.get(entry, "IdentitySource")
            authorizer = _lambda_authorizer(reader, entry.logical_id, uri, sources)
        if authorizer is None:
            reader.ctx.warn(
                entry,
                "this authorizer is not run (its type, or its function, is not one canaria "
                "runs): the routes it guards are served without it",
            )
        out[entry.logical_id] = authorizer
    return out


def _lambda_authorizer(
    reader: ApiResources, name: str, uri: Any, sources: Any
) -> AuthorizerSpec | None:
    """A WebSocket API's Lambda ``REQUEST`` authorizer: the function ``uri`` names (an
    integration URI or the function's ARN; an alias or version it ends with is the one
    invoked), its identity sources ``sources``; None when that is no function of the
    template."""
    target = reader.target(uri)
    if target is None:
        return None
    headers, queries = _identity(sources)
    return AuthorizerSpec(
        name,
        "rest",
        target[0],
        target[1],
        payload_type="REQUEST",
        headers=headers,
        query_strings=queries,
        ttl_s=0,
    )


def _identity(sources: Any) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """Header (lower case) and query string names of a WebSocket authorizer's
    ``IdentitySource`` (a list, or one comma-separated text); its ``stageVariables.*``
    and ``context.*`` entries are not checked before the authorizer runs."""
    if isinstance(sources, str):
        sources = sources.split(",")
    headers: list[str] = []
    queries: list[str] = []
    for source in sources if isinstance(sources, list) else ():
        source = str(source).strip()
        if source.startswith(_HEADER):
            headers.append(source.removeprefix(_HEADER).lower())
        elif source.startswith(_QUERY):
            queries.append(source.removeprefix(_QUERY))
    return tuple(headers), tuple(queries)


def _warn(ctx: Context, api: Entry, others: int, unapplied: int) -> None:
    if others:
        ctx.warn(
            api,
            f"{others} route(s) are Lambda proxies of a function this template does not "
            "declare: not served",
        )
    if unapplied:
        ctx.warn(
            api,
            f"{unapplied} route(s) are authorized by an authorizer canaria does not run: "
            "served without it",
        )
