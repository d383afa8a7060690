"""Cognito and JWT authorizers over a user pool the services engine serves: the token's
signature is checked with the engine's keys, its issuer with the pool's, and a REST
Cognito authorizer takes the token API Gateway takes (ID without scopes, access with)."""

from __future__ import annotations

import time
from typing import Any

import orjson
from joserfc import jwt
from joserfc.jwk import KeySet, RSAKey

from canaria.clock import ManualClock
from canaria.gateway import Handler, Routing
from canaria.gateway.authorizers import TokenKeys
from canaria.gateway.types import Request
from canaria.models import Alias, AuthorizerSpec, RouteSpec

from .fakes import FakeInvoker, ListRecorder, ListResponder, proxy

ISSUER = "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_pool"
ENGINE_KEY = RSAKey.generate_key(2048, parameters={"kid": "engine"})
OTHER_KEY = RSAKey.generate_key(2048, parameters={"kid": "engine"})  # same kid, not the key

POOL = AuthorizerSpec("Pool", "rest", "", ttl_s=0, type="cognito", issuers=(ISSUER,), signed=True)
SCOPED = AuthorizerSpec(
    "Pool",
    "rest",
    "",
    ttl_s=0,
    type="cognito",
    issuers=(ISSUER,),
    signed=True,
    scopes=("aws.cognito.signin.user.admin",),
)
FOREIGN = AuthorizerSpec("Aws", "rest", "", ttl_s=0, type="cognito", issuers=(ISSUER,))
JWT = AuthorizerSpec(
    "Jwt",
    "http",
    "",
    payload_type="REQUEST",
    ttl_s=0,
    type="jwt",
    issuer=ISSUER,
    audience=("client-1",),
    signed=True,
)


def echo(event: dict[str, Any], version: int) -> Any:
    return proxy(200, {"authorizer": event["requestContext"].get("authorizer")})


def setup(loads: list[int] | None = None) -> tuple[Handler, ManualClock]:
    def keys() -> KeySet:
        if loads is not None:
            loads.append(1)
        return KeySet([RSAKey.import_key(ENGINE_KEY.as_dict(private=False))])

    routing = Routing()
    routing.set_routes(
        [
            RouteSpec("GET", "/pool", "rest", "Api", "Prod", "echo", POOL),
            RouteSpec("GET", "/scoped", "rest", "Api", "Prod", "echo", SCOPED),
            RouteSpec("GET", "/foreign", "rest", "Api", "Prod", "echo", FOREIGN),
            RouteSpec("GET", "/jwt", "http", "Http", "$default", "echo", JWT),
        ],
        {"echo": "live"},
    )
    routing.set_alias(Alias("echo", "live", 1))
    clock = ManualClock(time.time())
    handler = Handler(
        routing, FakeInvoker({"echo": echo}), ListRecorder(), clock, token_keys=TokenKeys(keys)
    )
    return handler, clock


def token(key: RSAKey = ENGINE_KEY, **claims: Any) -> str:
    now = int(time.time())
    base = {"iss": ISSUER, "sub": "u-1", "token_use": "id", "aud": "client-1", "exp": now + 3600}
    return jwt.encode({"alg": "RS256", "kid": "engine"}, base | claims, key)


async def status_of(handler: Handler, path: str, value: str) -> int:
    out = ListResponder()
    await handler.handle(
        Request("GET", path, "", [("Host", "h"), ("Authorization", value)], b""), out
    )
    return out.answers[0][1].status


async def test_a_token_signed_by_the_engine_opens_the_route_with_its_claims() -> None:
    handler, _ = setup()
    out = ListResponder()
    req = Request("GET", "/pool", "", [("Host", "h"), ("Authorization", token(email="a@b"))], b"")
    await handler.handle(req, out)
    response = out.answers[0][1]
    assert response.status == 200
    claims = orjson.loads(response.body)["authorizer"]["claims"]
    assert (claims["email"], claims["iss"]) == ("a@b", ISSUER)
    assert await status_of(handler, "/jwt", "Bearer " + token()) == 200


async def test_a_token_another_key_signed_or_nobody_signed_is_refused() -> None:
    handler, _ = setup()
    for path in ("/pool", "/jwt"):
        assert await status_of(handler, path, token(OTHER_KEY)) == 401
        head, body, _ = token().split(".")
        assert await status_of(handler, path, f"{head}.{body}.c2lnbmF0dXJl") == 401
        assert await status_of(handler, path, f"{head}.{body}.") == 401
    # a pool that is not the template's: AWS's keys cannot be fetched, the claims decide
    assert await status_of(handler, "/foreign", token(OTHER_KEY)) == 200


async def test_a_token_of_another_pool_is_refused_though_the_engine_signed_it() -> None:
    handler, _ = setup()
    other_pool = "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_other"
    assert await status_of(handler, "/pool", token(iss=other_pool)) == 401
    assert await status_of(handler, "/jwt", token(iss=other_pool)) == 401


async def test_the_rest_authorizer_takes_an_id_token_without_scopes_an_access_token_with() -> None:
    handler, _ = setup()
    access = token(token_use="access", scope="aws.cognito.signin.user.admin", aud=None)
    assert await status_of(handler, "/pool", token()) == 200
    assert await status_of(handler, "/pool", access) == 401
    assert await status_of(handler, "/scoped", access) == 200
    assert await status_of(handler, "/scoped", token()) == 401


async def test_an_expired_token_is_refused_on_canarias_clock() -> None:
    handler, clock = setup()
    good = token()
    assert await status_of(handler, "/pool", good) == 200
    clock.advance(3601)
    assert await status_of(handler, "/pool", good) == 401


async def test_the_keys_are_read_once_and_a_token_checked_once() -> None:
    loads: list[int] = []
    handler, _ = setup(loads)
    assert loads == []  # nothing read before the first token to check
    good, bad = token(), token(OTHER_KEY)
    for _ in range(3):
        assert await status_of(handler, "/pool", good) == 200
        assert await status_of(handler, "/pool", bad) == 401
    assert loads == [1]


def test_without_keys_no_token_of_a_served_pool_is_taken() -> None:
    assert TokenKeys(None).verified(token()) is False
    assert TokenKeys(lambda: KeySet([ENGINE_KEY])).verified(token()) is True
    assert TokenKeys(lambda: KeySet([ENGINE_KEY])).verified("a.b.c") is False
