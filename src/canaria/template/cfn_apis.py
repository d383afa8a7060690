"""APIs written as CloudFormation's own API Gateway resources rather than SAM's, served
like SAM's: each Lambda proxy method or route that invokes a function of the template.

- **REST** (``AWS::ApiGateway::RestApi``): its ``Resource`` tree gives each ``Method`` its
  path; a method whose ``Integration`` is ``AWS_PROXY`` to a function of the template is
  a route at the API's stage (its ``Stage``, else its ``Deployment``'s ``StageName``),
  with the stage's ``Variables``; ``AuthorizationType: CUSTOM`` or ``COGNITO_USER_POOLS``
  runs the ``AWS::ApiGateway::Authorizer`` its ``AuthorizerId`` names.
- **HTTP** (``AWS::ApiGatewayV2::Api`` with ``ProtocolType: HTTP``): each ``Route`` whose
  ``Target`` is an ``AWS_PROXY`` ``Integration`` to a function (payload 2.0, or 1.0 as
  its ``PayloadFormatVersion`` says), guarded by its ``AWS::ApiGatewayV2::Authorizer``;
  the API's quick-create ``Target`` is its ``$default`` route; its ``CorsConfiguration``
  applies as an ``HttpApi``'s.

Either kind may carry an OpenAPI definition instead (``Body``, or a local
``BodyS3Location``): its Lambda proxy operations are routes too, as in a SAM API's
``DefinitionBody``.

A REST path's ``OPTIONS`` method with a ``MOCK`` integration whose response sets
``Access-Control-Allow-*`` headers (the hand-written CORS preflight) is answered as SAM's
``Cors`` preflight is, with those headers.

References between them are read as CloudFormation resolves them here (``Ref`` of these
types is the logical id, ``!GetAtt Api.RootResourceId`` the root). Methods and routes
that are not Lambda proxies (mock, HTTP, AWS service integrations) are read by
``integrations``. ``AuthorizationType: AWS_IAM`` requires requests signed with SigV4 by
keys canaria issued. A method's ``ApiKeyRequired`` requires an API key (``api_keys``
reads the keys and usage plans that say which). A WebSocket API (``ProtocolType:
WEBSOCKET``) and its routes, integrations, stages and authorizers are read by
``websockets``.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from functools import partial
from typing import Any

from canaria.errors import TemplateError
from canaria.models import (
    IAM_AUTHORIZER,
    AuthorizerSpec,
    CorsSpec,
    RequestValidation,
    RouteSpec,
    iam_authorizer,
)
from canaria.models.app import ApiKind, ApiSpec
from canaria.models.integrations import IntegrationSpec
from canaria.models.routes import DEFAULT_ROUTE, parse_path
from canaria.template.access_logs import access_log
from canaria.template.api_keys import key_source
from canaria.template.context import Context
from canaria.template.cors import http_cors, mock_preflight
from canaria.template.index import FUNCTION, Entry
from canaria.template.integrations import read_integration
from canaria.template.intrinsics import NO_VALUE
from canaria.template.openapi import (
    METHODS,
    authorizer_of_scheme,
    function_of_uri,
    openapi_routes,
    streams,
    target_of_uri,
)
from canaria.template.resources import stage_variables
from canaria.template.validation import REQUEST_PARAMETER, schema_text, validation

REST_API = "AWS::ApiGateway::RestApi"
REST_RESOURCE = "AWS::ApiGateway::Resource"
REST_METHOD = "AWS::ApiGateway::Method"
REST_STAGE = "AWS::ApiGateway::Stage"
REST_DEPLOYMENT = "AWS::ApiGateway::Deployment"
REST_AUTHORIZER = "AWS::ApiGateway::Authorizer"
REST_VALIDATOR = "AWS::ApiGateway::RequestValidator"
REST_MODEL = "AWS::ApiGateway::Model"
V2_API = "AWS::ApiGatewayV2::Api"
V2_ROUTE = "AWS::ApiGatewayV2::Route"
V2_INTEGRATION = "AWS::ApiGatewayV2::Integration"
V2_STAGE = "AWS::ApiGatewayV2::Stage"
V2_AUTHORIZER = "AWS::ApiGatewayV2::Authorizer"
V2_DEPLOYMENT = "AWS::ApiGatewayV2::Deployment"  # nothing to read: a stage serves its routes
# read here (or implied by serving the API), so not reported as skipped; their other
# properties are not run
TYPES = (
    REST_API,
    REST_RESOURCE,
    REST_METHOD,
    REST_STAGE,
    REST_DEPLOYMENT,
    REST_AUTHORIZER,
    REST_VALIDATOR,
    REST_MODEL,
    V2_API,
    V2_ROUTE,
    V2_INTEGRATION,
    V2_STAGE,
    V2_AUTHORIZER,
    V2_DEPLOYMENT,
)


@dataclass(frozen=True)
class CfnApis:
    apis: Mapping[str, ApiSpec]
    routes: tuple[RouteSpec, ...]


class ApiResources:
    """The template's API Gateway resources of ``types``, grouped by type and by the API
    they name (this module's REST and HTTP APIs; ``websockets``' WebSocket APIs)."""

    def __init__(
        self,
        ctx: Context,
        live: list[Entry],
        function_names: Mapping[str, str],
        types: tuple[str, ...] = TYPES,
    ):
        self.ctx = ctx
        self.function_names = function_names
        self.functions = {e.logical_id for e in live if e.type == FUNCTION}
        self.of: dict[str, list[Entry]] = {}
        for e in live:
            if e.type in types:
                self.of.setdefault(e.type, []).append(e)

    def text(self, entry: Entry, key: str) -> str | None:
        value = self.ctx.get(entry, key)
        return value if isinstance(value, str) else None

    def mapping(self, entry: Entry, key: str) -> Mapping[str, Any]:
        value = self.ctx.get(entry, key)
        return value if isinstance(value, Mapping) else {}

    def naming(self, type_: str, key: str, api: str) -> list[Entry]:
        """The resources of ``type_`` whose ``key`` (``RestApiId``, ``ApiId``) is ``api``."""
        return [e for e in self.of.get(type_, []) if self.text(e, key) == api]

    def function(self, uri: Any) -> str | None:
        return function_of_uri(uri, self.functions, self.function_names)

    def target(self, uri: Any) -> tuple[str, str | None] | None:
        """The function ``uri`` names and the alias or version its ARN names."""
        return target_of_uri(uri, self.functions, self.function_names)


def cfn_apis(ctx: Context, live: list[Entry], function_names: Mapping[str, str]) -> CfnApis:
    reader = ApiResources(ctx, live, function_names)
    apis: dict[str, ApiSpec] = {}
    routes: list[RouteSpec] = []
    for api in reader.of.get(REST_API, []):
        built = _rest(reader, api)
        if built is not None:
            apis[api.logical_id], served = built
            routes += served
    for api in reader.of.get(V2_API, []):
        built = _http(reader, api)
        if built is not None:
            apis[api.logical_id], served = built
            routes += served
    return CfnApis(apis, tuple(routes))


def _rest(reader: ApiResources, api: Entry) -> tuple[ApiSpec, list[RouteSpec]] | None:
    ctx, name = reader.ctx, api.logical_id
    stages = reader.naming(REST_STAGE, "RestApiId", name)
    stage_name = next((s for s in (reader.text(e, "StageName") for e in stages) if s), None)
    variables: tuple[tuple[str, str], ...] = ()
    logs = None
    if stage_name is not None:
        stage = next(s for s in stages if reader.text(s, "StageName") == stage_name)
        variables = stage_variables(ctx, stage, "Variables")
        logs = access_log(ctx, stage, "AccessLogSetting")
    else:
        deployments = reader.naming(REST_DEPLOYMENT, "RestApiId", name)
        stage_name = next(
            (s for s in (reader.text(d, "StageName") for d in deployments) if s), None
        )
    if stage_name is None:
        ctx.warn(api, "it has no stage (a Stage, or a Deployment's StageName): not served")
        return None
    authorizers = _authorizers(reader, api, REST_AUTHORIZER, "RestApiId", "rest")
    parents = {
        r.logical_id: (reader.text(r, "ParentId"), reader.text(r, "PathPart") or "")
        for r in reader.naming(REST_RESOURCE, "RestApiId", name)
    }

    def path_of(resource: str | None, depth: int = 0) -> str | None:
        if resource == f"{name}.RootResourceId":
            return ""
        if resource not in parents or depth > 64:
            return None
        parent, part = parents[resource]
        above = path_of(parent, depth + 1)
        return None if above is None else f"{above}/{part}"

    methods = reader.naming(REST_METHOD, "RestApiId", name)
    checks = _Checks(reader, name)
    preflights = _mock_preflights(reader, methods, path_of)  # path → (its CORS, the method)
    answered = {method for _, method in preflights.values()}
    routes: list[RouteSpec] = []
    others = unapplied = 0
    for method in methods:
        if method.logical_id in answered:
            continue  # its path's preflight
        integration = reader.mapping(method, "Integration")
        function = None
        mapped = None
        if str(integration.get("Type", "")).upper() == "AWS_PROXY":
            function = reader.function(integration.get("Uri"))
        else:
            mapped = read_integration(integration, reader.target, partial(ctx.warn, method))
            if mapped is None:
                continue  # ``read_integration`` said why
            function = mapped.function or ""
        path = path_of(reader.text(method, "ResourceId"))
        verb = str(reader.text(method, "HttpMethod") or "").upper()
        if function is None or path is None or verb not in (*METHODS.values(), "ANY"):
            others += 1
            continue
        path = path or "/"
        if not _servable(ctx, method, path):
            continue
        kind = str(reader.text(method, "AuthorizationType") or "NONE").upper()
        authorizer = None
        if kind in ("CUSTOM", "COGNITO_USER_POOLS"):
            authorizer = authorizers.get(reader.text(method, "AuthorizerId") or "")
        elif kind == IAM_AUTHORIZER:
            authorizer = iam_authorizer("rest")
        unapplied += kind != "NONE" and authorizer is None
        routes.append(
            RouteSpec(
                verb,
                path,
                "rest",
                name,
                stage_name,
                function,
                authorizer,
                preflights[path][0] if path in preflights else None,
                stage_variables=variables,
                integration=mapped,
                api_keys=() if _key_required(ctx, method) else None,  # filled in later
                validation=checks.of(method),
                raw_stream=mapped is None
                and streams(integration, "ResponseTransferMode", ctx.at(method, "Integration")),
            )
        )
    _warn(ctx, api, others, unapplied, "method")
    valid = tuple(a for a in authorizers.values() if a is not None)
    spec = ApiSpec(
        name,
        "rest",
        stage_name,
        valid,
        stage_variables=variables,
        api_key_source=key_source(ctx, api),
        access_log=logs,
    )
    return spec, routes + _body_routes(reader, api, spec)


class _Checks:
    """A REST API's request validators and models (``AWS::ApiGateway::RequestValidator``,
    ``AWS::ApiGateway::Model``), and what a method's ``RequestValidatorId``,
    ``RequestModels`` and ``RequestParameters`` make of them."""

    def __init__(self, reader: ApiResources, api: str) -> None:
        self.reader = reader
        ctx = reader.ctx
        self.validators: dict[str, tuple[bool, bool]] = {}
        for e in reader.naming(REST_VALIDATOR, "RestApiId", api):
            self.validators[e.logical_id] = (
                ctx.get(e, "ValidateRequestBody") is True,
                ctx.get(e, "ValidateRequestParameters") is True,
            )
        # a model by its logical id (canaria's Ref) and by its Name (AWS's Ref)
        self.models: dict[str, str] = {}
        for e in reader.naming(REST_MODEL, "RestApiId", api):
            schema = ctx.get(e, "Schema")
            if isinstance(schema, str):  # a Schema written as JSON text
                try:
                    schema = json.loads(schema)
                except ValueError:
                    raise ctx.at(e, "Schema").error("Schema is not JSON") from None
            if not isinstance(schema, Mapping):
                continue  # no schema: nothing to validate against
            text = schema_text(schema, ctx.at(e, "Schema"))
            self.models[e.logical_id] = text
            model_name = reader.text(e, "Name")
            if model_name:
                self.models[model_name] = text

    def of(self, method: Entry) -> RequestValidation | None:
        """The method's validator: none without a ``RequestValidatorId``."""
        ctx = self.reader.ctx
        named = self.reader.text(method, "RequestValidatorId")
        if named is None:
            return None
        flags = self.validators.get(named.removesuffix(".RequestValidatorId"))
        if flags is None:
            raise ctx.at(method, "RequestValidatorId").error(
                f"RequestValidatorId {named!r} names no AWS::ApiGateway::RequestValidator of "
                "its API",
                allowed=", ".join(self.validators) or "none: declare one",
            )
        body: list[tuple[str, str]] = []
        if flags[0]:
            for content_type, model in self.reader.mapping(method, "RequestModels").items():
                text = self.models.get(str(model))
                if text is None:
                    if str(model) != "Empty":  # API Gateway's own empty model
                        ctx.warn(method, f"its request model {model!r} is not a Model of its API")
                    continue
                body.append((str(content_type).lower(), text))
        required: list[str] = []
        if flags[1]:
            for name, value in self.reader.mapping(method, "RequestParameters").items():
                m = REQUEST_PARAMETER.match(str(name))
                if m is not None and (value is True or str(value).lower() == "true"):
                    required.append(f"{m.group(1)}.{m.group(2)}")
        return validation(required, body)


def _key_required(ctx: Context, method: Entry) -> bool:
    """A method's ``ApiKeyRequired`` (a String parameter's "true" counts)."""
    value = ctx.get(method, "ApiKeyRequired")
    return value is True or (isinstance(value, str) and value.lower() == "true")


def _http(reader: ApiResources, api: Entry) -> tuple[ApiSpec, list[RouteSpec]] | None:
    ctx, name = reader.ctx, api.logical_id
    protocol = str(reader.text(api, "ProtocolType") or "HTTP").upper()
    if protocol == "WEBSOCKET":
        return None  # ``websockets`` reads it
    if protocol != "HTTP":
        ctx.warn(api, f"a {protocol} API is not served (canaria serves REST and HTTP APIs)")
        return None
    quick = ctx.get(api, "Target")
    stages = [e for e in reader.naming(V2_STAGE, "ApiId", name) if reader.text(e, "StageName")]
    stage_name = reader.text(stages[0], "StageName") if stages else None
    if stage_name is None and quick is NO_VALUE:
        ctx.warn(api, "it has no stage (an AWS::ApiGatewayV2::Stage): not served")
        return None
    variables = stage_variables(ctx, stages[0], "StageVariables") if stages else ()
    logs = access_log(ctx, stages[0], "AccessLogSettings") if stages else None
    stage_name = stage_name or "$default"  # a quick-created API's own
    cors = None
    if "CorsConfiguration" in api.props:
        cors = http_cors(ctx.get(api, "CorsConfiguration"), ctx.at(api, "CorsConfiguration"))
    authorizers = _authorizers(reader, api, V2_AUTHORIZER, "ApiId", "http")
    # integration id → (function, payload 1.0, a service integration)
    targets: dict[str, tuple[str, bool, IntegrationSpec | None]] = {}
    for e in reader.naming(V2_INTEGRATION, "ApiId", name):
        function = None
        mapped = None
        kind = str(reader.text(e, "IntegrationType") or "").upper()
        if reader.text(e, "IntegrationSubtype") or kind == "HTTP_PROXY":
            raw = {
                "type": kind,
                "uri": reader.text(e, "IntegrationUri"),
                "httpMethod": reader.text(e, "IntegrationMethod") or "ANY",
                "integrationSubtype": reader.text(e, "IntegrationSubtype"),
                "requestParameters": reader.mapping(e, "RequestParameters"),
                "timeoutInMillis": ctx.get(e, "TimeoutInMillis"),
            }
            mapped = read_integration(raw, reader.target, partial(ctx.warn, e))
            function = "" if mapped is not None else None
        elif kind == "AWS_PROXY":
            function = reader.function(reader.text(e, "IntegrationUri"))
        if function is not None:
            v1 = str(ctx.get(e, "PayloadFormatVersion")) == "1.0"
            targets[e.logical_id] = (function, v1, mapped)
    keyed: list[tuple[Entry, str, str]] = []  # (route, its key, its integration)
    for route in reader.naming(V2_ROUTE, "ApiId", name):
        target = reader.text(route, "Target") or ""
        keyed.append(
            (route, reader.text(route, "RouteKey") or "", target.removeprefix("integrations/"))
        )
    if quick is not NO_VALUE:
        function = reader.function(quick)
        key = reader.text(api, "RouteKey") or DEFAULT_ROUTE
        if function is not None:
            targets[f"{name}.Target"] = (function, False, None)
        keyed.append((api, key, f"{name}.Target"))
    routes: list[RouteSpec] = []
    others = unapplied = 0
    for entry, key, integration in keyed:
        found = targets.get(integration)
        verb, _, path = key.partition(" ")
        if key == DEFAULT_ROUTE:
            verb, path = "ANY", DEFAULT_ROUTE
        verb = verb.upper()
        if found is None or verb not in (*METHODS.values(), "ANY") or not path:
            others += 1
            continue
        if path != DEFAULT_ROUTE and not _servable(ctx, entry, path):
            continue
        authorizer = None
        if entry is not api:
            kind = str(reader.text(entry, "AuthorizationType") or "NONE").upper()
            if kind in ("CUSTOM", "JWT"):
                authorizer = authorizers.get(reader.text(entry, "AuthorizerId") or "")
            elif kind == IAM_AUTHORIZER:
                authorizer = iam_authorizer("http")
            unapplied += kind != "NONE" and authorizer is None
        function, v1, mapped = found
        routes.append(
            RouteSpec(
                verb,
                path,
                "http",
                name,
                stage_name,
                function,
                authorizer,
                cors,
                payload_v1=v1,
                stage_variables=variables,
                integration=mapped,
            )
        )
    _warn(ctx, api, others, unapplied, "route")
    valid = tuple(a for a in authorizers.values() if a is not None)
    spec = ApiSpec(
        name, "http", stage_name, valid, cors=cors, stage_variables=variables, access_log=logs
    )
    return spec, routes + _body_routes(reader, api, spec)


def _mock_preflights(
    reader: ApiResources, methods: list[Entry], path_of: Callable[[str | None], str | None]
) -> dict[str, tuple[CorsSpec, str]]:
    """The paths whose ``OPTIONS`` method is a ``MOCK`` answering CORS headers, as the
    console and many templates write a REST API's preflight: each becomes the path's
    preflight, answered by canaria as SAM's ``Cors`` preflight is."""
    out: dict[str, tuple[CorsSpec, str]] = {}
    for method in methods:
        integration = reader.mapping(method, "Integration")
        verb = str(reader.text(method, "HttpMethod") or "").upper()
        if verb != "OPTIONS" or str(integration.get("Type", "")).upper() != "MOCK":
            continue
        path = path_of(reader.text(method, "ResourceId"))
        responses = integration.get("IntegrationResponses")
        first = responses[0] if isinstance(responses, list) and responses else {}
        parameters = first.get("ResponseParameters") if isinstance(first, Mapping) else None
        spec = mock_preflight(parameters) if isinstance(parameters, Mapping) else None
        if path is not None and spec is not None:
            # authorized only when the method itself is (an OPTIONS method is its own),
            # and requiring a key only when it says so
            kind = str(reader.text(method, "AuthorizationType") or "NONE").upper()
            keys = () if _key_required(reader.ctx, method) else None
            spec = replace(spec, preflight_authorized=kind != "NONE", preflight_api_keys=keys)
            out[path or "/"] = (spec, method.logical_id)
    return out


def _body_routes(reader: ApiResources, api: Entry, spec: ApiSpec) -> list[RouteSpec]:
    """The Lambda proxy operations of the API's OpenAPI ``Body`` (or ``BodyS3Location``),
    each guarded by the authorizer its ``security`` names."""
    definition = openapi_routes(reader.ctx, api, spec.kind, reader.function_names)
    return [
        RouteSpec(
            route.method,
            route.path,
            spec.kind,
            spec.logical_id,
            spec.stage,
            route.function,
            definition.authorizers.get(route.security or ""),
            spec.cors,
            payload_v1=spec.kind == "http" and route.payload_v1,
            stage_variables=spec.stage_variables,
            integration=route.integration,
            api_keys=() if spec.kind == "rest" and route.api_key else None,
            validation=route.validation,
            raw_stream=route.stream,
        )
        for route in definition.routes
    ]


def _authorizers(
    reader: ApiResources, api: Entry, type_: str, key: str, kind: ApiKind
) -> dict[str, AuthorizerSpec | None]:
    """The API's authorizers by logical id (None: one canaria does not run, a warning),
    read as the ``x-amazon-apigateway-authorizer`` extension that describes the same."""
    out: dict[str, AuthorizerSpec | None] = {}
    for entry in reader.naming(type_, key, api.logical_id):
        sources = reader.ctx.get(entry, "IdentitySource")
        jwt = reader.mapping(entry, "JwtConfiguration")
        config = {
            "type": str(reader.text(entry, "Type" if kind == "rest" else "AuthorizerType") or ""),
            "authorizerUri": reader.text(entry, "AuthorizerUri"),
            "identitySource": ",".join(sources) if isinstance(sources, list) else sources or "",
            "authorizerResultTtlInSeconds": reader.ctx.get(entry, "AuthorizerResultTtlInSeconds"),
            "identityValidationExpression": reader.text(entry, "IdentityValidationExpression"),
            "authorizerPayloadFormatVersion": reader.text(entry, "AuthorizerPayloadFormatVersion"),
            "enableSimpleResponses": reader.ctx.get(entry, "EnableSimpleResponses") is True,
            "jwtConfiguration": {"issuer": jwt.get("Issuer"), "audience": jwt.get("Audience")},
            "providerARNs": reader.ctx.get(entry, "ProviderARNs"),
        }
        spec = authorizer_of_scheme(
            entry.logical_id,
            {},
            config,
            kind,
            reader.functions,
            reader.function_names,
            reader.ctx.index.user_pool_ids(),
        )
        if spec is None:
            reader.ctx.warn(
                entry,
                "this authorizer is not run (its type, or its function, is not one canaria "
                "runs): the routes it guards are served without it",
            )
        out[entry.logical_id] = spec
    return out


def _servable(ctx: Context, entry: Entry, path: str) -> bool:
    try:
        parse_path(path, f"path {path}")
    except TemplateError as exc:
        ctx.warn(entry, f"path {path!r} is not served: {exc.message}")
        return False
    return True


def _warn(ctx: Context, api: Entry, others: int, unapplied: int, what: str) -> None:
    if others:
        ctx.warn(
            api,
            f"{others} {what}(s) are Lambda proxies of a function this template does not "
            "declare, or have no path or method canaria can serve: not served",
        )
    if unapplied:
        ctx.warn(
            api,
            f"{unapplied} {what}(s) are authorized by an authorizer canaria does not run: "
            "served without it",
        )
