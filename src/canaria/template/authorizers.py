"""An API's ``Auth``: its authorizers, and which one guards each route.

SAM's shapes (``AWS::Serverless::Api`` and ``AWS::Serverless::HttpApi``, their
``Globals``, and an ``Api`` / ``HttpApi`` event's ``Auth``):

- REST: ``Authorizers: {Name: {FunctionArn, FunctionPayloadType: TOKEN | REQUEST,
  Identity: {Header, ValidationExpression, ReauthorizeEvery} | {Headers, QueryStrings,
  StageVariables, Context, ReauthorizeEvery}}}``; ``UserPoolArn`` makes a Cognito one.
- HTTP API: ``Authorizers: {Name: {FunctionArn, AuthorizerPayloadFormatVersion,
  EnableSimpleResponses, Identity: {Headers, QueryStrings, ..., ReauthorizeEvery}}}``;
  ``JwtConfiguration`` (with ``IdentitySource``) makes a JWT one.
- ``DefaultAuthorizer`` guards every route of the API; an event's ``Auth: {Authorizer:
  NONE}`` opts its route out, ``Authorizer: Name`` picks another, and its
  ``AuthorizationScopes`` replace the authorizer's.

A Lambda authorizer whose ``FunctionArn`` names no function of the template is not run
(canaria runs only those), with a warning: the routes it guards are served without it.
Cognito and JWT authorizers check the token's claims; a token of one of the template's
own user pools (``AWS::Cognito::UserPool``, served by the services engine) has its
signature checked too, with the engine's keys. Another issuer's signature is not checked
(canaria cannot fetch its keys), with a warning. ``AWS_IAM`` (a
``DefaultAuthorizer`` or an event's ``Authorizer``) requires requests signed with SigV4
by keys canaria issued (``canaria.gateway.iam``). A REST API's ``ApiKeyRequired`` (the
API's, with ``AddApiKeyRequiredToCorsPreflight``, and an event's, which may opt its route
out) and ``UsagePlan`` are read by ``api_key_auth`` and ``route_api_key``; the keys
themselves by ``api_keys``. Resource policies are not applied, with a warning. A property
SAM does not read where it is written is ignored with a warning: SAM's translator, which
runs first, refuses what SAM refuses."""

from __future__ import annotations

import contextlib
import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any, Literal

from canaria.errors import InvalidRequest
from canaria.models import IAM_AUTHORIZER, ApiSpec, AuthorizerSpec, UsageLimits, iam_authorizer
from canaria.models.app import ApiKind
from canaria.models.arns import parse_function
from canaria.template import user_pools
from canaria.template.context import Context
from canaria.template.index import FUNCTION, Entry
from canaria.template.intrinsics import NO_VALUE
from canaria.template.nodes import (
    LineMap,
    Where,
    as_bool,
    as_int,
    as_list,
    as_map,
    as_str,
    choices,
)
from canaria.template.usage_plans import SHARED_PLAN, read_limits

NONE = "NONE"  # an event's Authorizer that opts its route out of the default one
IAM = IAM_AUTHORIZER  # an API's or event's Authorizer: requests signed with SigV4

REST_AUTH_KEYS = (
    "AddApiKeyRequiredToCorsPreflight",
    "AddDefaultAuthorizerToCorsPreflight",
    "ApiKeyRequired",
    "Authorizers",
    "DefaultAuthorizer",
    "InvokeRole",
    "ResourcePolicy",
    "UsagePlan",
)
HTTP_AUTH_KEYS = ("Authorizers", "DefaultAuthorizer", "EnableIamAuthorizer")
REST_LAMBDA_KEYS = (
    "AuthorizationScopes",
    "DisableFunctionDefaultPermissions",
    "FunctionArn",
    "FunctionInvokeRole",
    "FunctionPayloadType",
    "Identity",
)
HTTP_LAMBDA_KEYS = (
    "AuthorizerPayloadFormatVersion",
    "EnableFunctionDefaultPermissions",
    "EnableSimpleResponses",
    "FunctionArn",
    "FunctionInvokeRole",
    "Identity",
)
TOKEN_IDENTITY_KEYS = ("Header", "ReauthorizeEvery", "ValidationExpression")
REQUEST_IDENTITY_KEYS = ("Context", "Headers", "QueryStrings", "ReauthorizeEvery", "StageVariables")
COGNITO_KEYS = ("AuthorizationScopes", "Identity", "UserPoolArn")
JWT_KEYS = ("AuthorizationScopes", "IdentitySource", "JwtConfiguration")
MAX_TTL_S = 3600  # API Gateway's limit on ReauthorizeEvery
USAGE_PLANS = ("PER_API", "SHARED", "NONE")  # Auth.UsagePlan.CreateUsagePlan
UNVERIFIED = (
    "checks the token's claims (issuer, audience, expiry, scopes), not its signature: "
    "canaria cannot fetch the identity provider's keys, so any well-formed token passes "
    "(a token of a user pool of the template is checked in full)"
)
UNVERIFIED_FOREIGN = (
    "checks the token's claims (issuer, expiry, scopes), not its signature, for a user pool "
    "that is not in the template: canaria cannot fetch its keys from AWS"
)


def api_auth(
    ctx: Context,
    entry: Entry,
    auth: Any,
    at: Where,
    kind: ApiKind,
    function_names: Mapping[str, str],
) -> tuple[tuple[AuthorizerSpec, ...], str | None, tuple[str, ...]]:
    """(the authorizers, the default authorizer's name, the names of those not run) of an
    API's ``Auth`` (``NO_VALUE``: none)."""
    if auth is NO_VALUE or auth is None:
        return (), None, ()
    auth = as_map(auth, at)
    _ignored(ctx, entry, auth, at, REST_AUTH_KEYS if kind == "rest" else HTTP_AUTH_KEYS)
    authorizers: list[AuthorizerSpec] = []
    skipped: list[str] = []
    if auth.get("Authorizers") is not None:
        aat = at.key(auth, "Authorizers")
        for name, node in as_map(auth["Authorizers"], aat).items():
            nat = aat.key(auth["Authorizers"], name)
            node = as_map(node, nat)
            if kind == "rest" and "UserPoolArn" in node:
                authorizers.append(_cognito_authorizer(ctx, entry, name, node, nat))
            elif kind == "http" and "JwtConfiguration" in node:
                authorizers.append(_jwt_authorizer(ctx, entry, name, node, nat))
            else:
                spec = _lambda_authorizer(ctx, entry, name, node, nat, kind, function_names)
                if spec is None:
                    skipped.append(name)
                else:
                    authorizers.append(spec)
    default = None
    if auth.get("DefaultAuthorizer") is not None:
        dat = at.key(auth, "DefaultAuthorizer")
        default = as_str(auth["DefaultAuthorizer"], dat)
        declared = [a.name for a in authorizers] + skipped
        if default != IAM and default not in declared:
            raise dat.error(
                f"DefaultAuthorizer {default!r} is not one of the API's Authorizers",
                allowed=choices([*declared, IAM], near=default),
            )
    if auth.get("ResourcePolicy") not in (None, False):
        ctx.warn(entry, "Auth.ResourcePolicy is not applied by canaria")
    return tuple(authorizers), default, tuple(skipped)


@dataclass(frozen=True)
class ApiKeyAuth:
    """What a SAM REST API's ``Auth`` says of API keys."""

    required: bool = False  # ApiKeyRequired: every method requires a key
    preflight: bool = True  # AddApiKeyRequiredToCorsPreflight: so does the CORS preflight
    usage_plan: Literal["PER_API", "SHARED"] | None = None  # UsagePlan.CreateUsagePlan
    limits: UsageLimits | None = None  # its Quota and Throttle


def api_key_auth(ctx: Context, entry: Entry, auth: Any, at: Where) -> ApiKeyAuth:
    """A SAM REST API's ``Auth.ApiKeyRequired``, ``AddApiKeyRequiredToCorsPreflight``
    and ``UsagePlan`` (``NO_VALUE``: no ``Auth``), with its ``Quota`` and ``Throttle``."""
    if auth is NO_VALUE or auth is None:
        return ApiKeyAuth()
    auth = as_map(auth, at)
    flags = []
    for key, default in (("ApiKeyRequired", False), ("AddApiKeyRequiredToCorsPreflight", True)):
        value = auth.get(key)
        flags.append(default if value is None else as_bool(value, at.key(auth, key)))
    plan: Literal["PER_API", "SHARED"] | None = None
    limits = None
    if auth.get("UsagePlan") is not None:
        pat = at.key(auth, "UsagePlan")
        node = as_map(auth["UsagePlan"], pat)
        if node.get("CreateUsagePlan") is None:
            raise pat.error("CreateUsagePlan is required in a UsagePlan", allowed=USAGE_PLANS)
        cat = pat.key(node, "CreateUsagePlan")
        create = as_str(node["CreateUsagePlan"], cat)
        if create not in USAGE_PLANS:
            raise cat.error(f"unknown CreateUsagePlan {create!r}", allowed=USAGE_PLANS)
        plan = "PER_API" if create == "PER_API" else "SHARED" if create == "SHARED" else None
        if plan is not None:
            name = f"{entry.logical_id}UsagePlan" if plan == "PER_API" else SHARED_PLAN
            limits = read_limits(name, node, pat)
    return ApiKeyAuth(flags[0], flags[1], plan, limits)


def _cognito_pools(
    ctx: Context, entry: Entry, name: str, arns: Any, at: Where
) -> tuple[tuple[str, ...], bool]:
    """(the token issuers, whether their tokens' signatures are checked) of a Cognito
    authorizer over ``arns``, its user pools' ARNs (one or a list); a warning when one
    of them is not a pool of the template (its tokens come from AWS, whose keys canaria
    cannot fetch)."""
    values = [arns] if isinstance(arns, str) else as_list(arns, at)
    served = ctx.index.user_pool_ids()
    issuers: list[str] = []
    signed = bool(values)
    for i, value in enumerate(values):
        arn = as_str(value, at.index(values, i) if not isinstance(arns, str) else at)
        pool = user_pools.pool_of_arn(arn)
        if pool is None:  # not a pool's ARN: its tokens' issuer is not known either
            issuers, signed = [], False
            break
        issuers.append(user_pools.provider_url(pool))
        signed = signed and pool in served
    if not signed:
        ctx.warn(entry, f"the Cognito user pool authorizer {name} {UNVERIFIED_FOREIGN}")
    return tuple(issuers), signed


def _cognito_authorizer(
    ctx: Context, entry: Entry, name: str, node: LineMap, at: Where
) -> AuthorizerSpec:
    _ignored(ctx, entry, node, at, COGNITO_KEYS)
    identity = node.get("Identity")
    iat = at.key(node, "Identity")
    identity = LineMap() if identity is None else as_map(identity, iat)
    _ignored(ctx, entry, identity, iat, TOKEN_IDENTITY_KEYS)
    issuers, signed = _cognito_pools(
        ctx, entry, name, node["UserPoolArn"], at.key(node, "UserPoolArn")
    )
    return AuthorizerSpec(
        name,
        "rest",
        "",
        headers=(as_str(identity.get("Header", "Authorization"), iat).lower(),),
        validation=_validation(identity, iat),
        ttl_s=0,
        type="cognito",
        issuers=issuers,
        signed=signed,
        scopes=_scopes(node, at),
    )


def _jwt_authorizer(
    ctx: Context, entry: Entry, name: str, node: LineMap, at: Where
) -> AuthorizerSpec:
    _ignored(ctx, entry, node, at, JWT_KEYS)
    jat = at.key(node, "JwtConfiguration")
    config = as_map(node["JwtConfiguration"], jat)
    _ignored(ctx, entry, config, jat, ("audience", "issuer"))
    issuer = None
    if config.get("issuer") is not None:
        issuer = as_str(config["issuer"], jat.key(config, "issuer"))
    audience: tuple[str, ...] = ()
    if config.get("audience") is not None:
        aud_at = jat.key(config, "audience")
        audience = tuple(as_str(a, aud_at) for a in as_list(config["audience"], aud_at))
    source = "$request.header.Authorization"
    if node.get("IdentitySource") is not None:
        source = as_str(node["IdentitySource"], at.key(node, "IdentitySource"))
    headers: tuple[str, ...] = ()
    queries: tuple[str, ...] = ()
    if source.startswith("$request.header."):
        headers = (source.removeprefix("$request.header.").lower(),)
    elif source.startswith("$request.querystring."):
        queries = (source.removeprefix("$request.querystring."),)
    else:
        raise at.key(node, "IdentitySource").error(
            f"a JWT authorizer reads its token from a header or a query string, not {source!r}",
            allowed="$request.header.<name>, $request.querystring.<name>",
        )
    signed = issuer is not None and issuer in {
        user_pools.provider_url(pool) for pool in ctx.index.user_pool_ids()
    }
    if not signed:
        ctx.warn(entry, f"the JWT authorizer {name} {UNVERIFIED}")
    return AuthorizerSpec(
        name,
        "http",
        "",
        payload_type="REQUEST",
        headers=headers,
        query_strings=queries,
        ttl_s=0,
        type="jwt",
        issuer=issuer,
        signed=signed,
        audience=audience,
        scopes=_scopes(node, at),
    )


def _scopes(node: LineMap, at: Where) -> tuple[str, ...]:
    """``AuthorizationScopes``: the token must hold one of them (none: any token)."""
    if node.get("AuthorizationScopes") is None:
        return ()
    sat = at.key(node, "AuthorizationScopes")
    return tuple(as_str(s, sat) for s in as_list(node["AuthorizationScopes"], sat))


def _validation(identity: LineMap, at: Where) -> str | None:
    """A TOKEN or Cognito authorizer's ``ValidationExpression``, checked."""
    validation = identity.get("ValidationExpression")
    if validation is None:
        return None
    vat = at.key(identity, "ValidationExpression")
    validation = as_str(validation, vat)
    try:
        re.compile(validation)
    except re.error as exc:
        raise vat.error(f"ValidationExpression is not a regular expression: {exc}") from None
    return validation


def _lambda_authorizer(
    ctx: Context,
    entry: Entry,
    name: str,
    node: LineMap,
    at: Where,
    kind: ApiKind,
    function_names: Mapping[str, str],
) -> AuthorizerSpec | None:
    """A Lambda authorizer (``None``: its function is not the template's, a warning)."""
    if "FunctionArn" not in node:
        raise at.at(node).error("FunctionArn is required for a Lambda authorizer")
    _ignored(ctx, entry, node, at, REST_LAMBDA_KEYS if kind == "rest" else HTTP_LAMBDA_KEYS)
    target = _authorizer_function(
        ctx, node["FunctionArn"], at.key(node, "FunctionArn"), function_names
    )
    if target is None:
        ctx.warn(
            entry,
            f"authorizer {name}: its function {node['FunctionArn']!r} is not a function of "
            "this template, which canaria cannot run: the routes it guards are served "
            "without it",
        )
        return None
    function, qualifier = target
    identity = node.get("Identity")
    iat = at.key(node, "Identity")
    identity = LineMap() if identity is None else as_map(identity, iat)
    if kind == "rest":
        if _rest_payload_type(node, at) == "TOKEN":
            _ignored(ctx, entry, identity, iat, TOKEN_IDENTITY_KEYS)
            header = identity.get("Header", "Authorization")
            return AuthorizerSpec(
                name,
                kind,
                function,
                qualifier,
                payload_type="TOKEN",
                headers=(as_str(header, iat.key(identity, "Header")).lower(),),
                validation=_validation(identity, iat),
                ttl_s=_ttl(identity, iat, 300),
            )
        version, simple, default_ttl = "1.0", False, 300
    else:
        version, simple = _http_payload(node, at)
        default_ttl = 0  # SAM sets no TTL unless ReauthorizeEvery is given
    _ignored(ctx, entry, identity, iat, REQUEST_IDENTITY_KEYS)
    headers, queries = _sources(identity, iat)
    return AuthorizerSpec(
        name,
        kind,
        function,
        qualifier,
        payload_type="REQUEST",
        payload_version="2.0" if version == "2.0" else "1.0",
        simple_responses=simple,
        headers=headers,
        query_strings=queries,
        ttl_s=_ttl(identity, iat, default_ttl),
    )


def _rest_payload_type(node: LineMap, at: Where) -> str:
    """A REST Lambda authorizer's ``FunctionPayloadType`` (TOKEN when absent)."""
    if node.get("FunctionPayloadType") is None:
        return "TOKEN"
    pat = at.key(node, "FunctionPayloadType")
    payload_type = as_str(node["FunctionPayloadType"], pat)
    if payload_type not in ("TOKEN", "REQUEST"):
        raise pat.error(f"unknown FunctionPayloadType {payload_type!r}", allowed="TOKEN, REQUEST")
    return payload_type


def _http_payload(node: LineMap, at: Where) -> tuple[str, bool]:
    """An HTTP API Lambda authorizer's payload format and ``EnableSimpleResponses``."""
    raw_version = node.get("AuthorizerPayloadFormatVersion")
    if raw_version is None:
        raise at.error(
            "AuthorizerPayloadFormatVersion is required for an HTTP API's Lambda authorizer",
            allowed="'1.0', '2.0'",
        )
    version = str(raw_version)
    if version not in ("1.0", "2.0"):
        raise at.key(node, "AuthorizerPayloadFormatVersion").error(
            f"unknown AuthorizerPayloadFormatVersion {version!r}", allowed="'1.0', '2.0'"
        )
    if node.get("EnableSimpleResponses") is None:
        return version, False
    sat = at.key(node, "EnableSimpleResponses")
    simple = as_bool(node["EnableSimpleResponses"], sat)
    if simple and version != "2.0":
        raise sat.error(
            "EnableSimpleResponses needs AuthorizerPayloadFormatVersion '2.0'",
            allowed="AuthorizerPayloadFormatVersion: '2.0'",
        )
    return version, simple


def _ignored(ctx: Context, entry: Entry, node: LineMap, at: Where, known: tuple[str, ...]) -> None:
    """Warn about each property SAM does not read here (its translator, which runs first,
    refuses what SAM refuses; what it lets through, it ignores, and so does canaria)."""
    for key in node:
        if key not in known:
            where = _relative(entry, at.key(node, key))
            ctx.warn(entry, f"{where} is not a property SAM reads here; ignored")


def _relative(entry: Entry, at: Where) -> str:
    """``at``'s property path within ``entry`` (the warning names the resource already)."""
    return at.path.removeprefix(entry.props_at.path + ".")


def _authorizer_function(
    ctx: Context, value: Any, at: Where, function_names: Mapping[str, str]
) -> tuple[str, str | None] | None:
    """(logical id, qualifier) of the template's function ``value`` names, else None."""
    functions = {n for n, e in ctx.index.entries.items() if e.type == FUNCTION and e.enabled}
    text = as_str(value, at)
    name, qualifier = text, None
    with contextlib.suppress(InvalidRequest):
        name, qualifier = parse_function(text)
    name = function_names.get(name, name)
    if name not in functions:
        return None
    return name, None if qualifier == "$LATEST" else qualifier


def _sources(identity: LineMap, at: Where) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The header (lower case) and query string names a request must carry."""
    out: list[tuple[str, ...]] = []
    for key in ("Headers", "QueryStrings"):
        names: tuple[str, ...] = ()
        if identity.get(key) is not None:
            kat = at.key(identity, key)
            names = tuple(as_str(n, kat) for n in as_list(identity[key], kat))
        out.append(tuple(n.lower() for n in names) if key == "Headers" else names)
    return out[0], out[1]


def _ttl(identity: LineMap, at: Where, default: int) -> int:
    if identity.get("ReauthorizeEvery") is None:
        return default
    return as_int(
        identity["ReauthorizeEvery"], at.key(identity, "ReauthorizeEvery"), lo=0, hi=MAX_TTL_S
    )


def route_authorizer(
    ctx: Context,
    entry: Entry,
    event_props: LineMap,
    at: Where,
    authorizers: tuple[AuthorizerSpec, ...],
    default: str | None,
    skipped: tuple[str, ...] = (),
    *,
    kind: ApiKind = "rest",
) -> AuthorizerSpec | None:
    """The authorizer guarding one event's route: its ``Auth.Authorizer``, else the
    API's default (``None``: none); the event's ``AuthorizationScopes`` go with it."""
    name = default
    scopes: tuple[str, ...] | None = None
    auth = event_props.get("Auth")
    if auth is not None:
        aat = at.key(event_props, "Auth")
        auth = as_map(auth, aat)
        if auth.get("Authorizer") is not None:
            nat = aat.key(auth, "Authorizer")
            name = as_str(auth["Authorizer"], nat)
            declared = [a.name for a in authorizers] + list(skipped)
            if name != IAM and name != NONE and name not in declared:
                raise nat.error(
                    f"authorizer {name!r} is not one of the API's Authorizers",
                    allowed=choices([*declared, NONE, IAM], near=name),
                )
        if auth.get("AuthorizationScopes") is not None:
            scopes = _scopes(auth, aat)
        if auth.get("ResourcePolicy") not in (None, False):
            where = _relative(entry, aat.key(auth, "ResourcePolicy"))
            ctx.warn(entry, f"{where} is not applied by canaria")
    if name is None or name == NONE:
        return None
    if name == IAM:
        return iam_authorizer(kind)
    spec = next((a for a in authorizers if a.name == name), None)
    if spec is not None and scopes is not None and spec.type != "lambda":
        spec = replace(spec, scopes=scopes)
    return spec


def route_api_key(
    ctx: Context, entry: Entry, event_props: LineMap, at: Where, api: ApiSpec
) -> bool:
    """Whether one event's route requires an API key: its ``Auth.ApiKeyRequired``, else
    its API's (a REST API's only: an HTTP API has no API keys, a warning)."""
    required = api.api_key_required
    auth = event_props.get("Auth")
    if auth is not None:
        aat = at.key(event_props, "Auth")
        auth = as_map(auth, aat)
        if auth.get("ApiKeyRequired") is not None:
            kat = aat.key(auth, "ApiKeyRequired")
            required = as_bool(auth["ApiKeyRequired"], kat)
            if required and api.kind == "http":
                where = _relative(entry, kat)
                ctx.warn(entry, f"{where} is ignored: HTTP APIs have no API keys")
    return required and api.kind == "rest"
