"""API keys in the handler, without a socket: a REST method requiring one answers only
requests presenting a key it accepts, after its authorizer, and gives its event the key."""

from __future__ import annotations

import calendar
from typing import Any

import orjson

from canaria.clock import ManualClock
from canaria.gateway import Handler, Routing
from canaria.gateway.api_keys import QUOTA_EXCEEDED, THROTTLED, UsageMeter, period_start
from canaria.gateway.types import Request
from canaria.models import AuthorizerSpec, CorsSpec, GatewayResponseSpec, RouteSpec, UsageLimits
from canaria.models.integrations import IntegrationResponseSpec, IntegrationSpec

from .fakes import FakeInvoker, ListRecorder, ListResponder, proxy

KEY = ("k" * 30, "abcde12345")
OTHER = ("o" * 30, "fghij67890")
KEYS = (KEY, OTHER)
TOKEN = AuthorizerSpec("Token", "rest", "auth", ttl_s=0)
CUSTOM = (
    (
        "INVALID_API_KEY",
        GatewayResponseSpec(401, (("X-Why", "key"),), '{"error": $context.error.messageString}'),
    ),
)
MOCK = IntegrationSpec(
    "mock",
    request_templates=(("application/json", '{"statusCode": 200}'),),
    responses=(
        IntegrationResponseSpec(
            200,
            templates=(
                (
                    "application/json",
                    '{"key": "$context.identity.apiKey", "id": "$context.identity.apiKeyId"}',
                ),
            ),
        ),
    ),
)


def echo(event: dict[str, Any], version: int) -> Any:
    return proxy(200, orjson.dumps(event["requestContext"]["identity"]).decode())


def allow(event: dict[str, Any], version: int) -> Any:
    statement = {"Action": "execute-api:Invoke", "Effect": "Allow", "Resource": "*"}
    return {"principalId": "p", "policyDocument": {"Version": "1", "Statement": [statement]}}


def setup() -> tuple[Handler, FakeInvoker]:
    routing = Routing()
    cors = CorsSpec(("*",), preflight_api_keys=KEYS)
    routes = [
        RouteSpec("GET", "/keyed", "rest", "Api", "Prod", "fn", api_keys=KEYS),
        RouteSpec("GET", "/open", "rest", "Api", "Prod", "fn"),
        RouteSpec("GET", "/nobody", "rest", "Api", "Prod", "fn", api_keys=()),
        RouteSpec("GET", "/guarded", "rest", "Api", "Prod", "fn", TOKEN, api_keys=KEYS),
        RouteSpec(
            "GET", "/custom", "rest", "Api", "Prod", "fn", gateway_responses=CUSTOM, api_keys=KEYS
        ),
        RouteSpec("GET", "/cors", "rest", "Api", "Prod", "fn", cors=cors, api_keys=KEYS),
        RouteSpec("GET", "/mock", "rest", "Api", "Prod", "", integration=MOCK, api_keys=KEYS),
    ]
    routing.set_routes(routes, {})
    routing.set_latest("fn", 1)
    routing.set_latest("auth", 1)
    invoker = FakeInvoker({"fn": echo, "auth": allow})
    return Handler(routing, invoker, ListRecorder(), ManualClock()), invoker


async def answer(
    handler: Handler, method: str, path: str, headers: dict[str, str] | None = None
) -> tuple[int, dict[str, str], Any]:
    out = ListResponder()
    pairs = [("Host", "localhost"), *(headers or {}).items()]
    await handler.handle(Request(method, path, "", pairs, b""), out)
    [(_, response, _)] = out.answers
    return response.status, dict(response.headers), orjson.loads(response.body or b"null")


FORBIDDEN = (
    403,
    {"Content-Type": "application/json", "x-amzn-ErrorType": "ForbiddenException"},
    {"message": "Forbidden"},
)


async def test_a_method_requiring_a_key_answers_only_the_keys_it_accepts() -> None:
    handler, invoker = setup()
    assert await answer(handler, "GET", "/Prod/keyed") == FORBIDDEN
    assert await answer(handler, "GET", "/Prod/keyed", {"x-api-key": "nope"}) == FORBIDDEN
    assert invoker.calls == []
    for value, key_id in KEYS:
        status, _, identity = await answer(handler, "GET", "/Prod/keyed", {"X-API-Key": value})
        assert status == 200
        assert (identity["apiKey"], identity["apiKeyId"]) == (value, key_id)
    status, _, identity = await answer(handler, "GET", "/Prod/open")
    assert status == 200 and "apiKey" not in identity


async def test_a_method_no_key_is_valid_for_refuses_every_request() -> None:
    handler, _ = setup()
    assert await answer(handler, "GET", "/nobody", {"x-api-key": KEY[0]}) == FORBIDDEN


async def test_the_key_is_checked_after_the_authorizer() -> None:
    handler, invoker = setup()
    status, _, body = await answer(handler, "GET", "/guarded", {"x-api-key": KEY[0]})
    assert (status, body) == (401, {"message": "Unauthorized"})
    assert await answer(handler, "GET", "/guarded", {"Authorization": "t"}) == FORBIDDEN
    assert [fn for fn, *_ in invoker.calls] == ["auth"]
    headers = {"Authorization": "t", "x-api-key": KEY[0]}
    assert (await answer(handler, "GET", "/guarded", headers))[0] == 200


async def test_gateway_responses_change_the_invalid_api_key_answer() -> None:
    handler, _ = setup()
    status, headers, body = await answer(handler, "GET", "/custom")
    assert (status, headers["X-Why"], body) == (401, "key", {"error": "Forbidden"})


async def test_a_preflight_requiring_the_key() -> None:
    handler, _ = setup()
    preflight = {"Origin": "https://app.example", "Access-Control-Request-Method": "GET"}
    assert (await answer(handler, "OPTIONS", "/cors", preflight))[0] == 403
    status, headers, _ = await answer(
        handler, "OPTIONS", "/cors", {**preflight, "x-api-key": KEY[0]}
    )
    assert (status, headers["Access-Control-Allow-Origin"]) == (200, "*")


async def test_an_integration_requiring_a_key_sees_it_in_its_context() -> None:
    handler, _ = setup()
    assert await answer(handler, "GET", "/mock") == FORBIDDEN
    status, _, body = await answer(handler, "GET", "/mock", {"x-api-key": OTHER[0]})
    assert (status, body) == (200, {"key": OTHER[0], "id": OTHER[1]})


def test_quota_periods_start_at_the_day_the_monday_and_the_month_utc() -> None:
    now = calendar.timegm((2026, 12, 2, 15, 30, 0))  # a Wednesday
    assert period_start("DAY", now) == calendar.timegm((2026, 12, 2, 0, 0, 0))
    assert period_start("WEEK", now) == calendar.timegm((2026, 11, 30, 0, 0, 0))
    assert period_start("MONTH", now) == calendar.timegm((2026, 12, 1, 0, 0, 0))


def test_the_meter_spends_the_offset_first_and_refused_requests_spend_no_quota() -> None:
    meter = UsageMeter()
    limits = UsageLimits("Plan", rate=1.0, burst=1, quota=3, period="DAY", offset=1)
    t = calendar.timegm((2026, 12, 2, 10, 0, 0))
    assert meter.admit(limits, "k", t) is None
    assert meter.admit(limits, "k", t) is THROTTLED  # the bucket is empty until a second
    assert meter.admit(limits, "k", t + 1) is None  # the quota's third (the offset is one)
    assert meter.admit(limits, "k", t + 2) is QUOTA_EXCEEDED
    assert meter.admit(limits, "other", t + 2) is None  # each key counts on its own
    assert meter.admit(limits, "k", t + 86_400) is None  # a new day, without the offset
    assert meter.admit(limits, "k", t + 86_401) is None
    assert meter.admit(limits, "k", t + 86_402) is None
    assert meter.admit(limits, "k", t + 86_403) is QUOTA_EXCEEDED
