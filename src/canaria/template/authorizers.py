"""An API's ``Auth``: the Lambda authorizers canaria runs, and which one guards a route.

SAM's shapes (``AWS::Serverless::Api`` and ``AWS::Serverless::HttpApi``, their
``Globals``, and an ``Api`` / ``HttpApi`` event's ``Auth``):

- REST: ``Authorizers: {Name: {FunctionArn, FunctionPayloadType: TOKEN | REQUEST,
  Identity: {Header, ValidationExpression, ReauthorizeEvery} | {Headers, QueryStrings,
  StageVariables, Context, ReauthorizeEvery}}}``; ``UserPoolArn`` makes a Cognito one.
- HTTP API: ``Authorizers: {Name: {FunctionArn, AuthorizerPayloadFormatVersion,
  EnableSimpleResponses, Identity: {Headers, QueryStrings, ..., ReauthorizeEvery}}}``;
  ``JwtConfiguration`` makes a JWT one.
- ``DefaultAuthorizer`` guards every route of the API; an event's ``Auth: {Authorizer:
  NONE}`` opts its route out, ``Authorizer: Name`` picks another.

A Lambda authorizer's ``FunctionArn`` must name a function of the template (canaria runs
only those). Cognito and JWT authorizers verify tokens against an identity provider that
canaria cannot reach; they, ``AWS_IAM`` authorization, API keys and resource policies are
not applied, with a warning each.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Mapping
from typing import Any

from canaria.errors import InvalidRequest
from canaria.models import AuthorizerSpec
from canaria.models.app import ApiKind
from canaria.models.arns import parse_function
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
    check_keys,
    choices,
)

NONE = "NONE"  # an event's Authorizer that opts its route out of the default one
IAM = "AWS_IAM"

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
MAX_TTL_S = 3600  # API Gateway's limit on ReauthorizeEvery


def api_auth(
    ctx: Context,
    entry: Entry,
    auth: Any,
    at: Where,
    kind: ApiKind,
    function_names: Mapping[str, str],
) -> tuple[tuple[AuthorizerSpec, ...], str | None, tuple[tuple[str, str], ...]]:
    """(the Lambda authorizers, the default authorizer's name, the authorizers not run as
    (name, what)) of an API's ``Auth`` (``NO_VALUE``: none)."""
    if auth is NO_VALUE or auth is None:
        return (), None, ()
    auth = as_map(auth, at)
    check_keys(auth, at, REST_AUTH_KEYS if kind == "rest" else HTTP_AUTH_KEYS)
    lambdas: list[AuthorizerSpec] = []
    unapplied: list[tuple[str, str]] = []
    if auth.get("Authorizers") is not None:
        aat = at.key(auth, "Authorizers")
        for name, node in as_map(auth["Authorizers"], aat).items():
            nat = aat.key(auth["Authorizers"], name)
            node = as_map(node, nat)
            what = _other_kind(node, kind)
            if what is not None:
                unapplied.append((name, what))
                ctx.warn(
                    entry,
                    f"{what} {name} is not applied: canaria cannot reach the identity "
                    "provider to verify tokens, so the routes it guards are served without "
                    "checking them and without requestContext.authorizer claims",
                )
                continue
            lambdas.append(_lambda_authorizer(ctx, name, node, nat, kind, function_names))
    default = None
    if auth.get("DefaultAuthorizer") is not None:
        dat = at.key(auth, "DefaultAuthorizer")
        default = as_str(auth["DefaultAuthorizer"], dat)
        declared = [a.name for a in lambdas] + [n for n, _ in unapplied]
        if default == IAM:
            ctx.warn(entry, "DefaultAuthorizer AWS_IAM is not applied: requests are not signed")
            default = None
        elif default not in declared:
            raise dat.error(
                f"DefaultAuthorizer {default!r} is not one of the API's Authorizers",
                allowed=choices([*declared, IAM], near=default),
            )
    for key in ("ApiKeyRequired", "ResourcePolicy", "UsagePlan", "EnableIamAuthorizer"):
        if auth.get(key) not in (None, False):
            ctx.warn(entry, f"Auth.{key} is not applied by canaria")
    return tuple(lambdas), default, tuple(unapplied)


def _other_kind(node: LineMap, kind: ApiKind) -> str | None:
    """What an authorizer canaria does not run is (``None``: a Lambda authorizer)."""
    if kind == "rest" and "UserPoolArn" in node:
        return "the Cognito user pool authorizer"
    if kind == "http" and "JwtConfiguration" in node:
        return "the JWT authorizer"
    return None


def _lambda_authorizer(
    ctx: Context,
    name: str,
    node: LineMap,
    at: Where,
    kind: ApiKind,
    function_names: Mapping[str, str],
) -> AuthorizerSpec:
    keys = REST_LAMBDA_KEYS if kind == "rest" else HTTP_LAMBDA_KEYS
    check_keys(node, at, keys, required=("FunctionArn",))
    function, qualifier = _authorizer_function(
        ctx, node["FunctionArn"], at.key(node, "FunctionArn"), function_names
    )
    identity = node.get("Identity")
    iat = at.key(node, "Identity")
    identity = LineMap() if identity is None else as_map(identity, iat)
    if kind == "rest":
        payload_type = "TOKEN"
        if node.get("FunctionPayloadType") is not None:
            pat = at.key(node, "FunctionPayloadType")
            payload_type = as_str(node["FunctionPayloadType"], pat)
            if payload_type not in ("TOKEN", "REQUEST"):
                raise pat.error(
                    f"unknown FunctionPayloadType {payload_type!r}", allowed="TOKEN, REQUEST"
                )
        if payload_type == "TOKEN":
            check_keys(identity, iat, TOKEN_IDENTITY_KEYS)
            header = identity.get("Header", "Authorization")
            validation = identity.get("ValidationExpression")
            if validation is not None:
                vat = iat.key(identity, "ValidationExpression")
                validation = as_str(validation, vat)
                try:
                    re.compile(validation)
                except re.error as exc:
                    raise vat.error(
                        f"ValidationExpression is not a regular expression: {exc}"
                    ) from None
            return AuthorizerSpec(
                name,
                kind,
                function,
                qualifier,
                payload_type="TOKEN",
                headers=(as_str(header, iat.key(identity, "Header")).lower(),),
                validation=validation,
                ttl_s=_ttl(identity, iat, 300),
            )
        check_keys(identity, iat, REQUEST_IDENTITY_KEYS)
        headers, queries = _sources(identity, iat)
        return AuthorizerSpec(
            name,
            kind,
            function,
            qualifier,
            payload_type="REQUEST",
            headers=headers,
            query_strings=queries,
            ttl_s=_ttl(identity, iat, 300),
        )
    version_at = at.key(node, "AuthorizerPayloadFormatVersion")
    raw_version = node.get("AuthorizerPayloadFormatVersion")
    if raw_version is None:
        raise at.error(
            "AuthorizerPayloadFormatVersion is required for an HTTP API's Lambda authorizer",
            allowed="'1.0', '2.0'",
        )
    version = str(raw_version)
    if version not in ("1.0", "2.0"):
        raise version_at.error(
            f"unknown AuthorizerPayloadFormatVersion {version!r}", allowed="'1.0', '2.0'"
        )
    simple = False
    if node.get("EnableSimpleResponses") is not None:
        sat = at.key(node, "EnableSimpleResponses")
        simple = as_bool(node["EnableSimpleResponses"], sat)
        if simple and version != "2.0":
            raise sat.error(
                "EnableSimpleResponses needs AuthorizerPayloadFormatVersion '2.0'",
                allowed="AuthorizerPayloadFormatVersion: '2.0'",
            )
    check_keys(identity, iat, REQUEST_IDENTITY_KEYS)
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
        ttl_s=_ttl(identity, iat, 0),
    )


def _authorizer_function(
    ctx: Context, value: Any, at: Where, function_names: Mapping[str, str]
) -> tuple[str, str | None]:
    functions = sorted(n for n, e in ctx.index.entries.items() if e.type == FUNCTION and e.enabled)
    text = as_str(value, at)
    name, qualifier = text, None
    with contextlib.suppress(InvalidRequest):
        name, qualifier = parse_function(text)
    name = function_names.get(name, name)
    if name not in functions:
        raise at.error(
            f"authorizer function {text!r} is not a function of this template "
            "(canaria runs the template's functions only)",
            allowed="!GetAtt <Function>.Arn of a function of the template: " + choices(functions),
        )
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
    unapplied: tuple[tuple[str, str], ...],
) -> AuthorizerSpec | None:
    """The Lambda authorizer guarding one event's route: its ``Auth.Authorizer``, else the
    API's default (``None``: none, or one canaria does not run)."""
    name = default
    auth = event_props.get("Auth")
    if auth is not None:
        aat = at.key(event_props, "Auth")
        auth = as_map(auth, aat)
        if auth.get("Authorizer") is not None:
            nat = aat.key(auth, "Authorizer")
            name = as_str(auth["Authorizer"], nat)
            declared = [a.name for a in authorizers] + [n for n, _ in unapplied]
            if name == IAM:
                ctx.warn(entry, f"{at.path}: Auth.Authorizer AWS_IAM is not applied")
                return None
            if name != NONE and name not in declared:
                raise nat.error(
                    f"authorizer {name!r} is not one of the API's Authorizers",
                    allowed=choices([*declared, NONE, IAM], near=name),
                )
        for key in ("ApiKeyRequired", "ResourcePolicy"):
            if auth.get(key) not in (None, False):
                ctx.warn(entry, f"{at.path}: Auth.{key} is not applied by canaria")
    if name is None or name == NONE:
        return None
    return next((a for a in authorizers if a.name == name), None)
