"""Routes an API declares in its own OpenAPI document rather than in functions' events.

An ``AWS::Serverless::Api`` or ``HttpApi`` may carry its definition: ``DefinitionBody``
(inline, or ``Fn::Transform: {Name: AWS::Include, Parameters: {Location: file}}``) or
``DefinitionUri`` (a local file). Each operation whose ``x-amazon-apigateway-integration``
is a Lambda proxy (``type: aws_proxy``) whose ``uri`` names a function of the template
(``arn:...:apigateway:...:lambda:path/2015-03-31/functions/<function ARN>/invocations``,
resolved, or ``${Fn.Arn}`` / ``${Fn.Alias}`` as a ``DefinitionUri`` file leaves it) is
a route of that function, as SAM and API Gateway make it; ``x-amazon-apigateway-any-method``
is ``ANY``, an HTTP API's ``$default`` path its default route. A route an event declares
too is the event's. The API's ``DefaultAuthorizer`` guards them, as SAM adds it to every
method of the definition. A REST operation whose ``security`` names an API key scheme
(``type: apiKey``, ``name: x-api-key``, ``in: header``, as SAM writes ``api_key``)
requires an API key, as API Gateway imports it.

A REST API's operations with other integrations (a service action, a function invoked
with mapping templates, mock, HTTP) are routes too, run as ``template.integrations`` reads
them, and so are an HTTP API's AWS service integrations (``integrationSubtype``); an HTTP
API's other integrations are not served: one warning per API names how many. A
definition canaria cannot read (a file outside the allowed directories, an S3 location)
is a warning, and the API keeps its events' routes.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

from canaria.errors import InvalidRequest, TemplateError
from canaria.models import AuthorizerSpec, RequestValidation, iam_authorizer
from canaria.models.app import ApiKind
from canaria.models.arns import parse_function
from canaria.models.integrations import IntegrationSpec
from canaria.models.routes import DEFAULT_ROUTE, parse_path
from canaria.template import user_pools
from canaria.template.context import Context
from canaria.template.index import FUNCTION, Entry
from canaria.template.integrations import read_integration
from canaria.template.intrinsics import NO_VALUE, intrinsic_name
from canaria.template.nodes import LineMap, Where
from canaria.template.validation import openapi_validation
from canaria.template.yamlload import load_document

METHODS = {
    "get": "GET",
    "post": "POST",
    "put": "PUT",
    "delete": "DELETE",
    "patch": "PATCH",
    "head": "HEAD",
    "options": "OPTIONS",
    "x-amazon-apigateway-any-method": "ANY",
}
# ``/invocations``, or ``/response-streaming-invocations`` (a REST method whose
# ``responseTransferMode`` is ``STREAM``: its answer is streamed as a function URL's)
_FUNCTION = re.compile(r"functions/(?P<arn>.+?)/(?:response-streaming-)?invocations$")
_UNRESOLVED = re.compile(r"^\$\{(?P<id>[A-Za-z0-9]+)(?:\.(?:Arn|Alias))?\}$")
INCLUDE = "AWS::Include"


@dataclass(frozen=True)
class OpenApiRoute:
    method: str
    path: str
    function: str  # logical id ("" for an integration without one)
    payload_v1: bool  # payloadFormatVersion "1.0"
    # the authorizer its ``security`` names (the document's when it has none); "" when
    # it names none (``security: []``); None when neither says
    security: str | None
    integration: IntegrationSpec | None = None  # a REST operation that is not a proxy
    api_key: bool = False  # its security (the document's when it has none) names an API key
    validation: RequestValidation | None = None  # its x-amazon-apigateway-request-validator
    stream: bool = False  # a REST Lambda proxy with responseTransferMode STREAM


@dataclass(frozen=True)
class OpenApi:
    routes: tuple[OpenApiRoute, ...] = ()
    # the document's own authorizers (``x-amazon-apigateway-authorizer`` security schemes)
    authorizers: Mapping[str, AuthorizerSpec] = field(default_factory=dict)


def openapi_routes(
    ctx: Context, entry: Entry, kind: ApiKind, function_names: Mapping[str, str]
) -> OpenApi:
    """The Lambda proxy operations of the API's definition and the authorizers it
    declares; empty when it has none (or none canaria can read: a warning)."""
    try:
        document = _document(ctx, entry)
    except TemplateError as exc:
        ctx.warn(
            entry,
            f"its OpenAPI definition is not read, so only events give it routes: {exc.message}",
        )
        return OpenApi()
    if not isinstance(document, Mapping) or not isinstance(document.get("paths"), Mapping):
        return OpenApi()
    functions = {n for n, e in ctx.index.entries.items() if e.type == FUNCTION and e.enabled}
    authorizers = _authorizers(ctx, entry, document, kind, functions, function_names)
    keys = _key_schemes(document)
    default = _security(document.get("security"), keys)
    default_key = bool(_names_key(document.get("security"), keys))
    routes: list[OpenApiRoute] = []
    others = 0
    for path, operations in document["paths"].items():
        if not isinstance(operations, Mapping):
            continue
        for key, operation in operations.items():
            method = METHODS.get(str(key).lower())
            if method is None or not isinstance(operation, Mapping):
                continue
            integration = operation.get("x-amazon-apigateway-integration")
            if not isinstance(integration, Mapping):
                continue
            function = _proxied_function(integration, functions, function_names)
            mapped = None
            if function is None and (
                kind == "rest"
                or "integrationSubtype" in integration
                or str(integration.get("type", "")).lower() == "http_proxy"
            ):
                mapped = read_integration(
                    integration,
                    lambda uri: target_of_uri(uri, functions, function_names),
                    partial(_warn_operation, ctx, entry, f"{key} {path}"),
                )
                if mapped is None:
                    continue  # ``read_integration`` said why
                function = mapped.function or ""
            if function is None:
                others += 1
                continue
            route_path = DEFAULT_ROUTE if path in ("$default", "/$default") else str(path)
            if route_path != DEFAULT_ROUTE:
                try:
                    parse_path(route_path, f"OpenAPI path {route_path}")
                except TemplateError as exc:
                    ctx.warn(entry, f"OpenAPI path {route_path!r} is not served: {exc.message}")
                    continue
            v1 = str(integration.get("payloadFormatVersion", "")) == "1.0"
            checked = None
            if kind == "rest":
                at = ctx.at(entry, "DefinitionBody")
                checked = openapi_validation(document, operations, operation, at)
            security = _security(operation.get("security"), keys)
            key = _names_key(operation.get("security"), keys)
            routes.append(
                OpenApiRoute(
                    method,
                    route_path,
                    function,
                    v1,
                    default if security is None else security,
                    mapped,
                    default_key if key is None else key,
                    checked,
                    kind == "rest"
                    and mapped is None
                    and streams(
                        integration, "responseTransferMode", ctx.at(entry, "DefinitionBody")
                    ),
                )
            )
    if others:
        ctx.warn(
            entry,
            f"{others} operation(s) of its OpenAPI definition are Lambda proxies of a "
            "function this template does not declare, or (an HTTP API's) integrations "
            "canaria does not run: not served",
        )
    return OpenApi(tuple(routes), authorizers)


def streams(integration: Mapping[str, Any], key: str, at: Where) -> bool:
    """Whether a REST Lambda proxy's ``responseTransferMode`` (CloudFormation's
    ``ResponseTransferMode``) is ``STREAM``: API Gateway passes the function's streamed
    response on as it is written. A value other than ``BUFFERED`` is refused, as API
    Gateway refuses it."""
    mode = integration.get(key, "BUFFERED")
    if mode not in ("BUFFERED", "STREAM"):
        raise at.error(f"{key} {mode!r} is not a transfer mode", allowed="BUFFERED, STREAM")
    return bool(mode == "STREAM")


def _warn_operation(ctx: Context, entry: Entry, operation: str, message: str) -> None:
    ctx.warn(entry, f"OpenAPI operation {operation}: {message}")


def _security(value: Any, keys: frozenset[str] = frozenset()) -> str | None:
    """The scheme an OpenAPI ``security`` list names first ("" for none, ``[]``), an
    authorizer before an API key scheme (``keys``)."""
    if not isinstance(value, list):
        return None
    names = [str(n) for r in value if isinstance(r, Mapping) for n in r]
    return next((n for n in names if n not in keys), names[0] if names else "")


def _schemes(document: Mapping[str, Any]) -> Mapping[str, Any]:
    """The document's security schemes (OpenAPI 2's or 3's)."""
    schemes = document.get("securityDefinitions")
    components = document.get("components")
    if not isinstance(schemes, Mapping) and isinstance(components, Mapping):
        schemes = components.get("securitySchemes")
    return schemes if isinstance(schemes, Mapping) else {}


def _key_schemes(document: Mapping[str, Any]) -> frozenset[str]:
    """The names of the document's API key schemes: the ``x-api-key`` header."""
    return frozenset(
        str(name)
        for name, scheme in _schemes(document).items()
        if isinstance(scheme, Mapping)
        and str(scheme.get("type", "")).lower() == "apikey"
        and str(scheme.get("name", "")).lower() == "x-api-key"
        and str(scheme.get("in", "")).lower() == "header"
    )


def _names_key(value: Any, keys: frozenset[str]) -> bool | None:
    """Whether an OpenAPI ``security`` list names an API key scheme (None: no list)."""
    if not isinstance(value, list):
        return None
    return any(isinstance(r, Mapping) and any(str(n) in keys for n in r) for r in value)


def _authorizers(
    ctx: Context,
    entry: Entry,
    document: Mapping[str, Any],
    kind: ApiKind,
    functions: set[str],
    function_names: Mapping[str, str],
) -> dict[str, AuthorizerSpec]:
    """The ``x-amazon-apigateway-authorizer`` security schemes canaria runs, and the
    ``awsSigv4`` ones (``AWS_IAM``)."""
    out: dict[str, AuthorizerSpec] = {}
    for name, scheme in _schemes(document).items():
        if not isinstance(scheme, Mapping):
            continue
        if str(scheme.get("x-amazon-apigateway-authtype", "")).lower() == "awssigv4":
            out[str(name)] = iam_authorizer(kind)  # AWS_IAM: requests signed with SigV4
            continue
        config = scheme.get("x-amazon-apigateway-authorizer")
        if not isinstance(config, Mapping):
            continue
        spec = authorizer_of_scheme(
            str(name), scheme, config, kind, functions, function_names, ctx.index.user_pool_ids()
        )
        if spec is None:
            ctx.warn(
                entry,
                f"the OpenAPI authorizer {name} is not run (its type, or its function, is "
                "not one canaria runs): the operations it guards are served without it",
            )
        else:
            out[str(name)] = spec
    return out


def authorizer_of_scheme(
    name: str,
    scheme: Mapping[str, Any],
    config: Mapping[str, Any],
    kind: ApiKind,
    functions: set[str],
    function_names: Mapping[str, str],
    pools: frozenset[str],
) -> AuthorizerSpec | None:
    """An ``x-amazon-apigateway-authorizer`` (or the authorizer resource that says the
    same) as canaria runs it; None for a type or a function it does not run. ``pools``:
    the template's user pools, whose tokens' signatures are checked."""
    kind_of = str(config.get("type", "")).lower()
    sources = str(config.get("identitySource", "") or "")
    headers, queries = _identity(sources, scheme)
    ttl = config.get("authorizerResultTtlInSeconds")
    ttl_s = (
        int(ttl) if isinstance(ttl, int) and 0 <= ttl <= 3600 else (300 if kind == "rest" else 0)
    )
    if kind_of == "jwt":
        jwt = config.get("jwtConfiguration")
        jwt = jwt if isinstance(jwt, Mapping) else {}
        audience = jwt.get("audience")
        issuer = str(jwt["issuer"]) if jwt.get("issuer") else None
        return AuthorizerSpec(
            name,
            kind,
            "",
            payload_type="REQUEST",
            headers=headers,
            query_strings=queries,
            ttl_s=0,
            type="jwt",
            issuer=issuer,
            signed=issuer in {user_pools.provider_url(p) for p in pools},
            audience=tuple(str(a) for a in audience) if isinstance(audience, list) else (),
        )
    if kind_of == "cognito_user_pools":
        arns = config.get("providerARNs")
        ids = [user_pools.pool_of_arn(str(a)) for a in arns] if isinstance(arns, list) else []
        known = [i for i in ids if i is not None]
        return AuthorizerSpec(
            name,
            kind,
            "",
            headers=headers or ("authorization",),
            ttl_s=0,
            type="cognito",
            issuers=tuple(user_pools.provider_url(i) for i in known),
            signed=bool(ids) and len(known) == len(ids) and set(known) <= pools,
        )
    if kind_of not in ("token", "request"):
        return None
    function = function_of_uri(config.get("authorizerUri"), functions, function_names)
    if function is None:
        return None
    if kind == "http":
        version = str(config.get("authorizerPayloadFormatVersion", "2.0"))
        return AuthorizerSpec(
            name,
            kind,
            function,
            payload_type="REQUEST",
            payload_version="1.0" if version == "1.0" else "2.0",
            simple_responses=config.get("enableSimpleResponses") is True,
            headers=headers,
            query_strings=queries,
            ttl_s=ttl_s,
        )
    if kind_of == "token":
        validation = config.get("identityValidationExpression")
        return AuthorizerSpec(
            name,
            kind,
            function,
            payload_type="TOKEN",
            headers=headers[:1] or ("authorization",),
            validation=str(validation) if validation else None,
            ttl_s=ttl_s,
        )
    return AuthorizerSpec(
        name,
        kind,
        function,
        payload_type="REQUEST",
        headers=headers,
        query_strings=queries,
        ttl_s=ttl_s,
    )


def _identity(sources: str, scheme: Mapping[str, Any]) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """Header (lower case) and query string names of an ``identitySource``; a TOKEN
    scheme names its header as an OpenAPI ``apiKey`` in ``header`` too."""
    headers: list[str] = []
    queries: list[str] = []
    for source in (s.strip() for s in sources.split(",") if s.strip()):
        for prefix in ("method.request.header.", "$request.header."):
            if source.startswith(prefix):
                headers.append(source.removeprefix(prefix).lower())
        for prefix in ("method.request.querystring.", "$request.querystring."):
            if source.startswith(prefix):
                queries.append(source.removeprefix(prefix))
    if not headers and not queries and scheme.get("in") == "header" and scheme.get("name"):
        headers.append(str(scheme["name"]).lower())
    return tuple(headers), tuple(queries)


def _document(ctx: Context, entry: Entry) -> Any:
    """The API's OpenAPI document, intrinsics resolved; None when it has none. SAM's APIs
    hold it in ``DefinitionBody`` / ``DefinitionUri``, CloudFormation's in ``Body`` /
    ``BodyS3Location`` (a local path, as ``aws cloudformation package`` uploads it)."""
    serverless = entry.type.startswith("AWS::Serverless::")
    body_key, uri_key = (
        ("DefinitionBody", "DefinitionUri") if serverless else ("Body", "BodyS3Location")
    )
    raw = entry.props.get(body_key)
    if raw is not None:
        at = ctx.at(entry, body_key)
        include = _include_location(raw)
        if include is None:
            body = ctx.get(entry, body_key)
            return None if body is NO_VALUE else body
        return _read(ctx, include, at)
    uri = entry.props.get(uri_key)
    if uri is not None:
        at = ctx.at(entry, uri_key)
        value = ctx.get(entry, uri_key)
        if value is NO_VALUE or not isinstance(value, str):
            raise at.error(f"{uri_key} names an S3 object; canaria reads local files")
        return _read(ctx, value, at)
    return None


def _include_location(raw: Any) -> Any | None:
    """``Location`` of ``Fn::Transform: {Name: AWS::Include, ...}``, else None."""
    if intrinsic_name(raw) != "Fn::Transform":
        return None
    transform = raw["Fn::Transform"]
    if not isinstance(transform, Mapping) or transform.get("Name") != INCLUDE:
        return None
    parameters = transform.get("Parameters")
    return parameters.get("Location") if isinstance(parameters, Mapping) else None


def _read(ctx: Context, location: Any, at: Where) -> Any:
    """A local definition file, its intrinsics resolved (as ``AWS::Include`` does)."""
    _, path = ctx.local_path(location, at, allowed="a local OpenAPI file")
    if not Path(path).is_file():
        raise at.error(f"the OpenAPI file {path} does not exist")
    document = load_document(Path(path), str(path))
    holder = LineMap({"Definition": document})
    return ctx.resolver.get(holder, "Definition", Where(str(path)))


def _proxied_function(
    integration: Mapping[str, Any], functions: set[str], function_names: Mapping[str, str]
) -> str | None:
    """The template's function a Lambda proxy integration invokes, else None."""
    if str(integration.get("type", "")).lower() != "aws_proxy":
        return None
    return function_of_uri(integration.get("uri"), functions, function_names)


def function_of_uri(uri: Any, functions: set[str], function_names: Mapping[str, str]) -> str | None:
    """The template's function an integration URI names (API Gateway's
    ``.../functions/<ARN>/invocations``, or an HTTP API's bare function ARN), else None."""
    target = target_of_uri(uri, functions, function_names)
    return None if target is None else target[0]


def target_of_uri(
    uri: Any, functions: set[str], function_names: Mapping[str, str]
) -> tuple[str, str | None] | None:
    """The template's function an integration URI names and the qualifier its ARN ends
    with (an alias or a version; None for none or ``$LATEST``), else None."""
    if not isinstance(uri, str):
        return None
    found = _FUNCTION.search(uri)
    return _function_named(found["arn"] if found else uri, functions, function_names)


def _function_named(
    arn: str, functions: set[str], function_names: Mapping[str, str]
) -> tuple[str, str | None] | None:
    """The template's function an ARN in an ``.../functions/<ARN>/invocations`` URI names,
    and its qualifier."""
    unresolved = _UNRESOLVED.match(arn)
    qualifier = None
    if unresolved is not None:
        name = unresolved["id"]
    else:
        name = arn
        with contextlib.suppress(InvalidRequest):
            name, qualifier = parse_function(arn)
        name = function_names.get(name, name)
    if name not in functions:
        return None
    return name, None if qualifier == "$LATEST" else qualifier
