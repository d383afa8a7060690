"""``AWS::Events::Connection`` and ``AWS::Events::ApiDestination`` → the specs canaria
calls an API destination target with (``services.api_destinations``), and the parts of a
rule's target that shape the call and its retries: ``HttpParameters``, ``RetryPolicy``,
``DeadLetterConfig``.

Neither resource is created in the services engine: canaria carries a rule's events to an
API destination itself, as it carries them to topics and state machines
(``template.eventbridge``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal, cast

from canaria.models.services import (
    ApiDestinationSpec,
    ConnectionSpec,
    Delivery,
    HttpParameters,
    OAuthSpec,
    Pairs,
)
from canaria.template.context import Context
from canaria.template.index import Entry
from canaria.template.intrinsics import NO_VALUE
from canaria.template.nodes import Where, as_int, as_list, as_map, as_str, check_keys
from canaria.template.service_refs import (
    API_DESTINATION,
    CONNECTION,
    api_destination_arn,
    connection_arn,
)

CONNECTION_KEYS = (
    "AuthParameters",
    "AuthorizationType",
    "Description",
    "InvocationConnectivityParameters",
    "KmsKeyIdentifier",
    "Name",
)
AUTH_KEYS = (
    "ApiKeyAuthParameters",
    "BasicAuthParameters",
    "ConnectivityParameters",
    "InvocationHttpParameters",
    "OAuthParameters",
)
AUTHORIZATION = ("API_KEY", "BASIC", "OAUTH_CLIENT_CREDENTIALS")
DESTINATION_KEYS = (
    "ConnectionArn",
    "Description",
    "HttpMethod",
    "InvocationEndpoint",
    "InvocationRateLimitPerSecond",
    "Name",
)
METHODS = ("POST", "GET", "HEAD", "OPTIONS", "PUT", "PATCH", "DELETE")
PARAMETER_LIST_KEYS = ("BodyParameters", "HeaderParameters", "QueryStringParameters")


def connection(ctx: Context, entry: Entry) -> ConnectionSpec:
    check_keys(entry.props, entry.props_at, CONNECTION_KEYS)
    name = ctx.index.name_of(entry.logical_id)
    kind = ctx.get(entry, "AuthorizationType")
    if kind is NO_VALUE:
        raise entry.props_at.error(
            "a connection to a public endpoint needs its AuthorizationType",
            allowed=AUTHORIZATION,
        )
    kat = ctx.at(entry, "AuthorizationType")
    authorization = as_str(kind, kat)
    if authorization not in AUTHORIZATION:
        raise kat.error(f"unknown AuthorizationType {authorization!r}", allowed=AUTHORIZATION)
    raw = ctx.get(entry, "AuthParameters")
    if raw is NO_VALUE:
        raise entry.props_at.error(
            f"AuthorizationType {authorization} needs AuthParameters",
            allowed="AuthParameters",
        )
    at = ctx.at(entry, "AuthParameters")
    auth = as_map(raw, at)
    check_keys(auth, at, AUTH_KEYS)
    wanted = {
        "API_KEY": "ApiKeyAuthParameters",
        "BASIC": "BasicAuthParameters",
        "OAUTH_CLIENT_CREDENTIALS": "OAuthParameters",
    }[authorization]
    if wanted not in auth:
        raise at.error(f"AuthorizationType {authorization} needs {wanted}", allowed=wanted)
    wat = at.key(auth, wanted)
    part = as_map(auth[wanted], wat)
    api_key = basic = oauth = None
    if authorization == "API_KEY":
        check_keys(part, wat, ("ApiKeyName", "ApiKeyValue"), required=("ApiKeyName", "ApiKeyValue"))
        api_key = (_text(part, "ApiKeyName", wat), _text(part, "ApiKeyValue", wat))
    elif authorization == "BASIC":
        check_keys(part, wat, ("Username", "Password"), required=("Username", "Password"))
        basic = (_text(part, "Username", wat), _text(part, "Password", wat))
    else:
        oauth = _oauth(part, wat)
    headers: Pairs = ()
    query: Pairs = ()
    body: Pairs = ()
    if "InvocationHttpParameters" in auth:
        headers, query, body = _parameter_lists(auth, "InvocationHttpParameters", at)
    private = ctx.get(entry, "InvocationConnectivityParameters")
    if "ConnectivityParameters" in auth or private not in (NO_VALUE, None):
        ctx.warn(
            entry,
            "its private connectivity (VPC Lattice) is not used: canaria calls the endpoint "
            "directly",
        )
    return ConnectionSpec(
        entry.logical_id,
        name,
        cast(Literal["API_KEY", "BASIC", "OAUTH_CLIENT_CREDENTIALS"], authorization),
        api_key,
        basic,
        oauth,
        headers,
        query,
        body,
    )


def _text(node: Mapping[str, Any], key: str, at: Where) -> str:
    return as_str(node[key], at.key(node, key))


def _oauth(part: Mapping[str, Any], at: Where) -> OAuthSpec:
    check_keys(
        part,
        at,
        ("AuthorizationEndpoint", "ClientParameters", "HttpMethod", "OAuthHttpParameters"),
        required=("AuthorizationEndpoint", "ClientParameters", "HttpMethod"),
    )
    method = _text(part, "HttpMethod", at)
    if method not in ("GET", "POST", "PUT"):
        raise at.key(part, "HttpMethod").error(
            f"unknown OAuth HttpMethod {method!r}", allowed=("GET", "POST", "PUT")
        )
    cat = at.key(part, "ClientParameters")
    client = as_map(part["ClientParameters"], cat)
    check_keys(client, cat, ("ClientID", "ClientSecret"), required=("ClientID", "ClientSecret"))
    headers: Pairs = ()
    query: Pairs = ()
    body: Pairs = ()
    if "OAuthHttpParameters" in part:
        headers, query, body = _parameter_lists(part, "OAuthHttpParameters", at)
    return OAuthSpec(
        _text(part, "AuthorizationEndpoint", at),
        method,
        _text(client, "ClientID", cat),
        _text(client, "ClientSecret", cat),
        headers,
        query,
        body,
    )


def _parameter_lists(
    parent: Mapping[str, Any], key: str, parent_at: Where
) -> tuple[Pairs, Pairs, Pairs]:
    """``parent[key]``'s ``HeaderParameters``, ``QueryStringParameters`` and
    ``BodyParameters``: lists of ``{Key, Value, IsValueSecret}``."""
    at = parent_at.key(parent, key)
    node = as_map(parent[key], at)
    check_keys(node, at, PARAMETER_LIST_KEYS)
    out: list[Pairs] = []
    for name in ("HeaderParameters", "QueryStringParameters", "BodyParameters"):
        if name not in node:
            out.append(())
            continue
        lat = at.key(node, name)
        items = as_list(node[name], lat)
        pairs = []
        for i, item in enumerate(items):
            iat = lat.index(items, i)
            pair = as_map(item, iat)
            check_keys(pair, iat, ("Key", "Value", "IsValueSecret"), required=("Key", "Value"))
            pairs.append((_text(pair, "Key", iat), _text(pair, "Value", iat)))
        out.append(tuple(pairs))
    return out[0], out[1], out[2]


def api_destination(
    ctx: Context, entry: Entry, connections: Mapping[str, ConnectionSpec]
) -> ApiDestinationSpec | None:
    """The destination, or None (with a warning) when its connection is not one of the
    template's: canaria could not authorize its calls."""
    check_keys(
        entry.props,
        entry.props_at,
        DESTINATION_KEYS,
        required=("ConnectionArn", "HttpMethod", "InvocationEndpoint"),
    )
    name = ctx.index.name_of(entry.logical_id)
    mat = ctx.at(entry, "HttpMethod")
    method = as_str(ctx.get(entry, "HttpMethod"), mat)
    if method not in METHODS:
        raise mat.error(f"unknown HttpMethod {method!r}", allowed=METHODS)
    eat = ctx.at(entry, "InvocationEndpoint")
    endpoint = as_str(ctx.get(entry, "InvocationEndpoint"), eat)
    if not endpoint.startswith(("https://", "http://")):
        ctx.warn(
            entry,
            f"InvocationEndpoint {endpoint!r} is not an HTTP(S) URL: the destination is not "
            "called (give it https://host/path, or a local server's http:// URL)",
        )
        return None
    if endpoint.startswith("http://"):
        ctx.warn(
            entry,
            f"InvocationEndpoint {endpoint} is plain HTTP: EventBridge calls HTTPS endpoints "
            "only; canaria calls it as written",
        )
    rate = None
    if "InvocationRateLimitPerSecond" in entry.props:
        rat = ctx.at(entry, "InvocationRateLimitPerSecond")
        rate = as_int(ctx.get(entry, "InvocationRateLimitPerSecond"), rat, 1)
        if rate > 300:
            raise rat.error(f"InvocationRateLimitPerSecond {rate} is over 300", allowed="1 to 300")
    cat = ctx.at(entry, "ConnectionArn")
    arn = as_str(ctx.get(entry, "ConnectionArn"), cat)
    found = next((c for c in connections.values() if connection_arn(c.name) == arn), None)
    if found is None:
        ctx.warn(
            entry,
            f"its connection {arn} is not an AWS::Events::Connection of this template: "
            "the destination is not called",
        )
        return None
    return ApiDestinationSpec(
        entry.logical_id, name, api_destination_arn(name), endpoint, method, found, rate
    )


def destinations_of(ctx: Context, entries: list[Entry]) -> dict[str, ApiDestinationSpec]:
    """The API destinations among ``entries`` canaria calls, by ARN (with their
    connections)."""
    connections = {e.logical_id: connection(ctx, e) for e in entries if e.type == CONNECTION}
    out: dict[str, ApiDestinationSpec] = {}
    for e in entries:
        if e.type == API_DESTINATION:
            found = api_destination(ctx, e, connections)
            if found is not None:
                out[found.arn] = found
    return out


def http_parameters(node: Mapping[str, Any], at: Where) -> HttpParameters:
    """A target's ``HttpParameters``."""
    check_keys(node, at, ("HeaderParameters", "PathParameterValues", "QueryStringParameters"))
    path: tuple[str, ...] = ()
    if "PathParameterValues" in node:
        pat = at.key(node, "PathParameterValues")
        items = as_list(node["PathParameterValues"], pat)
        path = tuple(as_str(v, pat.index(items, i)) for i, v in enumerate(items))

    def pairs(key: str) -> Pairs:
        if key not in node:
            return ()
        kat = at.key(node, key)
        raw = as_map(node[key], kat)
        return tuple((str(k), as_str(v, kat.key(raw, k))) for k, v in raw.items())

    return HttpParameters(path, pairs("HeaderParameters"), pairs("QueryStringParameters"))


def delivery(node: Mapping[str, Any], at: Where) -> Delivery:
    """A target's ``RetryPolicy`` and ``DeadLetterConfig``, checked as ``PutTargets``
    checks them."""
    attempts, age, dead_letter = 185, 86_400, None
    if "RetryPolicy" in node:
        rat = at.key(node, "RetryPolicy")
        policy = as_map(node["RetryPolicy"], rat)
        check_keys(policy, rat, ("MaximumEventAgeInSeconds", "MaximumRetryAttempts"))
        if "MaximumRetryAttempts" in policy:
            kat = rat.key(policy, "MaximumRetryAttempts")
            attempts = as_int(policy["MaximumRetryAttempts"], kat, 0)
            if attempts > 185:
                raise kat.error(f"MaximumRetryAttempts {attempts} is over 185", allowed="0 to 185")
        if "MaximumEventAgeInSeconds" in policy:
            kat = rat.key(policy, "MaximumEventAgeInSeconds")
            age = as_int(policy["MaximumEventAgeInSeconds"], kat, 60)
            if age > 86_400:
                raise kat.error(
                    f"MaximumEventAgeInSeconds {age} is over 86400", allowed="60 to 86400"
                )
    if "DeadLetterConfig" in node:
        dat = at.key(node, "DeadLetterConfig")
        config = as_map(node["DeadLetterConfig"], dat)
        check_keys(config, dat, ("Arn",), required=("Arn",))
        dead_letter = as_str(config["Arn"], dat.key(config, "Arn"))
        if not dead_letter.startswith("arn:aws:sqs:") or dead_letter.endswith(".fifo"):
            raise dat.key(config, "Arn").error(
                f"{dead_letter!r} is not a standard SQS queue's ARN: EventBridge's dead-letter "
                "queue is one",
                allowed="!GetAtt Queue.Arn of a standard queue",
            )
    return Delivery(attempts, age, dead_letter)
