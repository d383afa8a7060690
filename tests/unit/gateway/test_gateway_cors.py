"""CORS in the handler, without a socket: a REST API's preflight routes (SAM's mock
OPTIONS), an HTTP API's own preflight answers and the headers on its answers."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from canaria.clock import ManualClock
from canaria.gateway import Handler, Routing
from canaria.gateway.types import Request
from canaria.models import AuthorizerSpec, CorsSpec, RouteSpec

from .fakes import FakeInvoker, ListRecorder, ListResponder, proxy

REST_CORS = CorsSpec(("https://app.example",), allow_headers=("Content-Type",), max_age=600)
REST_AUTHORIZED = CorsSpec(("*",))  # preflight through the default authorizer
HTTP_CORS = CorsSpec(
    ("https://app.example", "https://*.example.org"),
    allow_methods=("GET", "POST"),
    allow_headers=("content-type",),
    expose_headers=("x-total",),
    max_age=300,
    allow_credentials=True,
)
TOKEN = AuthorizerSpec("Token", "rest", "auth", ttl_s=0)


def answer_with_own_cors(event: dict[str, Any], version: int) -> Any:
    return proxy(200, "ok", headers={"Access-Control-Allow-Origin": "*", "x-total": "3"})


def allow(event: dict[str, Any], version: int) -> Any:
    statement = {"Action": "execute-api:Invoke", "Effect": "Allow", "Resource": "*"}
    return {"principalId": "p", "policyDocument": {"Version": "1", "Statement": [statement]}}


def setup() -> tuple[Handler, FakeInvoker, ListRecorder]:
    routing = Routing()
    routes = [
        RouteSpec("GET", "/items", "rest", "Api", "Prod", "fn", cors=REST_CORS),
        RouteSpec("POST", "/items", "rest", "Api", "Prod", "fn", cors=REST_CORS),
        RouteSpec("ANY", "/any", "rest", "Api", "Prod", "fn", cors=REST_CORS),
        RouteSpec("OPTIONS", "/own", "rest", "Api", "Prod", "fn", cors=REST_CORS),
        RouteSpec("GET", "/guarded", "rest", "Api", "Prod", "fn", TOKEN, REST_AUTHORIZED),
        RouteSpec("GET", "/plain", "rest", "Api", "Prod", "fn"),
        RouteSpec("GET", "/things", "http", "Http", "$default", "fn", cors=HTTP_CORS),
    ]
    routing.set_routes(routes, {})
    routing.set_latest("fn", 1)
    routing.set_latest("auth", 1)
    invoker = FakeInvoker({"fn": answer_with_own_cors, "auth": allow})
    recorder = ListRecorder()
    return Handler(routing, invoker, recorder, ManualClock()), invoker, recorder


async def answer(
    handler: Handler, method: str, path: str, headers: dict[str, str] | None = None
) -> tuple[int, dict[str, str], bytes]:
    out = ListResponder()
    pairs = [("Host", "localhost"), *(headers or {}).items()]
    await handler.handle(Request(method, path, "", pairs, b""), out)
    [(_, response, _)] = out.answers
    return response.status, dict(response.headers), response.body


PREFLIGHT = {"Origin": "https://app.example", "Access-Control-Request-Method": "POST"}


async def test_a_rest_preflight_answers_samss_mock_without_invoking() -> None:
    handler, invoker, recorder = setup()
    status, headers, body = await answer(handler, "OPTIONS", "/Prod/items", PREFLIGHT)
    assert (status, orjson.loads(body)) == (200, {})
    assert headers == {
        "Content-Type": "application/json",
        "Access-Control-Allow-Origin": "https://app.example",
        "Access-Control-Allow-Headers": "Content-Type",
        "Access-Control-Allow-Methods": "GET,OPTIONS,POST",
        "Access-Control-Max-Age": "600",
    }
    # an ANY route allows every method; a path with its own OPTIONS route keeps it
    _, headers, _ = await answer(handler, "OPTIONS", "/any")
    assert headers["Access-Control-Allow-Methods"] == "DELETE,GET,HEAD,OPTIONS,PATCH,POST,PUT"
    assert (await answer(handler, "OPTIONS", "/own"))[1] != headers
    assert [fn for fn, *_ in invoker.calls] == ["fn"]  # the /own route's function only
    assert [r.function for r in recorder.records] == ["fn"]
    # a REST API adds nothing to the function's answer; an API without Cors has no preflight
    _, headers, _ = await answer(handler, "GET", "/items", {"Origin": "https://other.example"})
    assert headers["Access-Control-Allow-Origin"] == "*"
    assert (await answer(handler, "OPTIONS", "/Prod/plain", PREFLIGHT))[0] == 403


async def test_a_rest_preflight_goes_through_the_default_authorizer() -> None:
    handler, invoker, _ = setup()
    status, _, body = await answer(handler, "OPTIONS", "/guarded", PREFLIGHT)
    assert (status, orjson.loads(body)) == (401, {"message": "Unauthorized"})
    status, headers, _ = await answer(
        handler, "OPTIONS", "/guarded", {**PREFLIGHT, "Authorization": "t"}
    )
    assert (status, headers["Access-Control-Allow-Origin"]) == (200, "*")
    assert [fn for fn, *_ in invoker.calls] == ["auth"]


@pytest.mark.parametrize(
    ("origin", "allowed"),
    [
        ("https://app.example", "https://app.example"),
        ("https://a.example.org", "https://a.example.org"),
        ("https://evil.example", None),
    ],
)
async def test_an_http_api_answers_preflights_and_sets_its_headers(
    origin: str, allowed: str | None
) -> None:
    handler, invoker, _ = setup()
    preflight = {"Origin": origin, "Access-Control-Request-Method": "GET"}
    status, headers, _ = await answer(handler, "OPTIONS", "/things", preflight)
    assert status == 204
    assert not invoker.calls
    cors = {
        "Access-Control-Allow-Origin": allowed,
        "Access-Control-Allow-Credentials": "true",
        "Access-Control-Expose-Headers": "x-total",
    }
    if allowed is None:
        assert headers == {}
    else:
        assert headers == {
            **cors,
            "Access-Control-Allow-Methods": "GET,POST",
            "Access-Control-Allow-Headers": "content-type",
            "Access-Control-Max-Age": "300",
        }
    status, headers, _ = await answer(handler, "GET", "/things", {"Origin": origin})
    assert status == 200 and headers["x-total"] == "3"
    # the function's own Access-Control-Allow-Origin: * is dropped, as API Gateway drops it
    got = {k: v for k, v in headers.items() if k.startswith("Access-Control-")}
    assert got == ({} if allowed is None else cors)


async def test_an_http_options_request_that_is_not_a_preflight_is_routed() -> None:
    handler, _, _ = setup()
    # no Access-Control-Request-Method: an ordinary OPTIONS request, and /things has none
    assert (await answer(handler, "OPTIONS", "/things", {"Origin": "https://app.example"}))[
        0
    ] == 404
