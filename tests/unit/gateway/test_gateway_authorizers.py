"""Lambda authorizers in the handler, without a socket: identity checks, API Gateway's
answers, the events each side gets, the answer cache and its per-resource evaluation."""

from __future__ import annotations

import base64
from typing import Any

import orjson
import pytest

from canaria.clock import ManualClock
from canaria.gateway import Handler, Routing
from canaria.gateway.authorizers import _matches
from canaria.gateway.types import Request
from canaria.models import Alias, AuthorizerSpec, GatewayResponseSpec, RouteSpec

from .fakes import FakeInvoker, ListRecorder, ListResponder, proxy

ARN = "arn:aws:execute-api:us-east-1:123456789012"


def policy(effect: str, resource: Any, context: Any = None, principal: Any = "user-1") -> Any:
    out: dict[str, Any] = {
        "principalId": principal,
        "policyDocument": {
            "Version": "2012-10-17",
            "Statement": [{"Action": "execute-api:Invoke", "Effect": effect, "Resource": resource}],
        },
    }
    if context is not None:
        out["context"] = context
    return out


def token_authorizer(event: dict[str, Any], version: int) -> Any:
    """AWS's sample TOKEN authorizer, in Python: the token names the outcome."""
    token = event["authorizationToken"]
    if token == "unauthorized":
        raise Exception("Unauthorized")
    if token == "boom":
        raise Exception("Error: Invalid token")
    if token == "nonsense":
        return {"principalId": "user-1"}
    if token == "object-context":
        return policy("Allow", event["methodArn"], {"nested": {"a": 1}})
    if token == "everything":
        return policy("Allow", f"{ARN}:Api/Prod/*", {"who": "all"})
    effect = "Deny" if token == "deny" else "Allow"
    return policy(effect, event["methodArn"], {"stringKey": "v", "numberKey": 123, "ok": True})


def request_authorizer(event: dict[str, Any], version: int) -> Any:
    if event.get("version") == "2.0":
        allowed = event["headers"]["x-key"] == "yes"
        return {"isAuthorized": allowed, "context": {"who": ["a", "b"], "level": 3}}
    allowed = (event.get("queryStringParameters") or {}).get("key") == "yes"
    return policy("Allow" if allowed else "Deny", event["methodArn"], {"who": "q"})


def echo(event: dict[str, Any], version: int) -> Any:
    return proxy(200, {"authorizer": event["requestContext"].get("authorizer")})


TOKEN = AuthorizerSpec("Token", "rest", "auth", validation=r"[a-z-]+")
TOKEN_UNCACHED = AuthorizerSpec("NoCache", "rest", "auth", ttl_s=0)
REQUEST = AuthorizerSpec(
    "Req", "rest", "req", payload_type="REQUEST", headers=(), query_strings=("key",)
)
SIMPLE = AuthorizerSpec(
    "Simple",
    "http",
    "req",
    payload_type="REQUEST",
    payload_version="2.0",
    simple_responses=True,
    headers=("x-key",),
    ttl_s=0,
)
HTTP_V1 = AuthorizerSpec(
    "V1", "http", "req", payload_type="REQUEST", headers=("x-key", "x-other"), ttl_s=0
)
ALIASED = AuthorizerSpec("Aliased", "rest", "auth", qualifier="live", ttl_s=0)
COGNITO = AuthorizerSpec("Pool", "rest", "", ttl_s=0, type="cognito")
JWT = AuthorizerSpec(
    "Jwt",
    "http",
    "",
    payload_type="REQUEST",
    ttl_s=0,
    type="jwt",
    issuer="https://issuer.example",
    audience=("app",),
    scopes=("read",),
)


def setup() -> tuple[Handler, FakeInvoker, ListRecorder, ManualClock]:
    routing = Routing()
    routes = [
        RouteSpec("GET", "/a", "rest", "Api", "Prod", "echo", TOKEN),
        RouteSpec("GET", "/b", "rest", "Api", "Prod", "echo", TOKEN),
        RouteSpec("GET", "/open", "rest", "Api", "Prod", "echo"),
        RouteSpec("GET", "/nocache", "rest", "Api", "Prod", "echo", TOKEN_UNCACHED),
        RouteSpec("POST", "/req/{id}", "rest", "Api", "Prod", "echo", REQUEST),
        RouteSpec("GET", "/aliased", "rest", "Api", "Prod", "echo", ALIASED),
        RouteSpec("GET", "/simple", "http", "Http", "$default", "echo", SIMPLE),
        RouteSpec("GET", "/v1", "http", "Http", "$default", "echo", HTTP_V1),
        RouteSpec("GET", "/cognito", "rest", "Api", "Prod", "echo", COGNITO),
        RouteSpec("GET", "/jwt", "http", "Http", "$default", "echo", JWT),
    ]
    routing.set_routes(routes, {"echo": "live"})
    routing.set_alias(Alias("echo", "live", 1))
    routing.set_alias(Alias("auth", "live", 4, 5, 0.5))
    routing.set_latest("auth", 7)
    routing.set_latest("req", 2)
    invoker = FakeInvoker({"echo": echo, "auth": token_authorizer, "req": request_authorizer})
    recorder = ListRecorder()
    clock = ManualClock()
    return Handler(routing, invoker, recorder, clock), invoker, recorder, clock


def request(
    path: str, headers: dict[str, str] | None = None, method: str = "GET", query: str = ""
) -> Request:
    pairs = [("Host", "localhost"), *(headers or {}).items()]
    return Request(method, path, query, pairs, b"a body")


async def answer(handler: Handler, req: Request) -> tuple[int, dict[str, str], Any]:
    out = ListResponder()
    await handler.handle(req, out)
    assert len(out.answers) == 1
    _, response, extra = out.answers[0]
    headers = dict(response.headers)
    headers[extra[0]] = extra[1]
    return response.status, headers, orjson.loads(response.body)


def calls_of(invoker: FakeInvoker, function: str) -> list[dict[str, Any]]:
    return [event for fn, _, _, event in invoker.calls if fn == function]


async def test_an_allowed_token_reaches_the_function_with_the_authorizer_context() -> None:
    handler, invoker, recorder, _ = setup()
    status, _, body = await answer(handler, request("/Prod/a", {"Authorization": "allow"}))
    assert status == 200
    # REST: principalId and the context, every value a string, and the authorizer's latency
    assert body["authorizer"] == {
        "principalId": "user-1",
        "stringKey": "v",
        "numberKey": "123",
        "ok": "true",
        "integrationLatency": 0,
    }
    assert calls_of(invoker, "auth") == [
        {"type": "TOKEN", "authorizationToken": "allow", "methodArn": f"{ARN}:Api/Prod/GET/a"}
    ]
    # the authorizer's invocation is its function's, at its latest version ($LATEST)
    assert [(r.function, r.alias, r.version) for r in recorder.records] == [
        ("auth", None, 7),
        ("echo", "live", 1),
    ]


@pytest.mark.parametrize(
    ("headers", "status", "body", "error_type"),
    [
        ({}, 401, {"message": "Unauthorized"}, "UnauthorizedException"),
        ({"Authorization": ""}, 401, {"message": "Unauthorized"}, "UnauthorizedException"),
        # fails the ValidationExpression: refused without invoking the authorizer
        ({"Authorization": "Bearer x"}, 401, {"message": "Unauthorized"}, "UnauthorizedException"),
        ({"Authorization": "unauthorized"}, 401, {"message": "Unauthorized"}, None),
        (
            {"Authorization": "deny"},
            403,
            {"message": "User is not authorized to access this resource with an explicit deny"},
            "AccessDeniedException",
        ),
        ({"Authorization": "boom"}, 500, {"message": None}, "AuthorizerConfigurationException"),
        ({"Authorization": "nonsense"}, 500, {"message": None}, "AuthorizerConfigurationException"),
        (
            {"Authorization": "object-context"},
            500,
            {"message": None},
            "AuthorizerConfigurationException",
        ),
    ],
)
async def test_refusals_are_api_gateways(
    headers: dict[str, str], status: int, body: Any, error_type: str | None
) -> None:
    handler, invoker, _, _ = setup()
    got, answer_headers, got_body = await answer(handler, request("/a", headers))
    assert (got, got_body) == (status, body)
    if error_type is not None:
        assert answer_headers["x-amzn-ErrorType"] == error_type
    assert calls_of(invoker, "echo") == []
    token = headers.get("Authorization", "")
    invoked = bool(token) and token != "Bearer x"
    assert len(calls_of(invoker, "auth")) == (1 if invoked else 0)


async def test_an_unguarded_route_invokes_no_authorizer() -> None:
    handler, invoker, _, _ = setup()
    status, _, body = await answer(handler, request("/open"))
    assert (status, body) == (200, {"authorizer": None})
    assert calls_of(invoker, "auth") == []


async def test_a_cached_policy_is_evaluated_for_each_resource() -> None:
    handler, invoker, _, clock = setup()
    assert (await answer(handler, request("/a", {"Authorization": "allow"})))[0] == 200
    # the same token within the TTL: the cached policy, which names /a only (AWS's gotcha)
    status, _, body = await answer(handler, request("/b", {"Authorization": "allow"}))
    assert (status, body) == (403, {"message": "User is not authorized to access this resource"})
    assert (await answer(handler, request("/a", {"Authorization": "allow"})))[0] == 200
    assert len(calls_of(invoker, "auth")) == 1
    # past ReauthorizeEvery (300 s) the authorizer is asked again
    clock.advance(301)
    assert (await answer(handler, request("/b", {"Authorization": "allow"})))[0] == 200
    assert len(calls_of(invoker, "auth")) == 2
    # a wildcard resource covers every route of the stage
    for path in ("/a", "/b", "/a"):
        assert (await answer(handler, request(path, {"Authorization": "everything"})))[0] == 200
    assert len(calls_of(invoker, "auth")) == 3


async def test_reauthorize_every_zero_asks_every_time() -> None:
    handler, invoker, _, _ = setup()
    for _ in range(3):
        assert (await answer(handler, request("/nocache", {"Authorization": "allow"})))[0] == 200
    assert len(calls_of(invoker, "auth")) == 3


async def test_an_authorizer_named_by_alias_runs_the_alias_split() -> None:
    handler, _, recorder, _ = setup()
    for _ in range(4):
        assert (await answer(handler, request("/aliased", {"Authorization": "allow"})))[0] == 200
    versions = [(r.alias, r.version) for r in recorder.records if r.function == "auth"]
    assert set(versions) == {("live", 4), ("live", 5)}


async def test_a_request_authorizer_gets_the_request_and_needs_its_sources() -> None:
    handler, invoker, _, _ = setup()
    status, _, body = await answer(handler, request("/req/42", method="POST"))
    assert (status, body) == (401, {"message": "Unauthorized"})
    assert calls_of(invoker, "req") == []
    status, _, body = await answer(
        handler, request("/Prod/req/42", {"X-Trace": "t"}, method="POST", query="key=yes")
    )
    assert status == 200
    assert body["authorizer"]["who"] == "q"
    [event] = calls_of(invoker, "req")
    assert event["type"] == "REQUEST"
    assert event["methodArn"] == f"{ARN}:Api/Prod/POST/req/42"
    assert event["resource"] == "/req/{id}"
    assert event["path"] == "/req/42"
    assert event["pathParameters"] == {"id": "42"}
    assert event["queryStringParameters"] == {"key": "yes"}
    assert event["headers"]["X-Trace"] == "t"
    # the authorizer is given the request, not its body
    assert "body" not in event and "isBase64Encoded" not in event
    status, _, _ = await answer(handler, request("/req/42", method="POST", query="key=no"))
    assert status == 403


async def test_an_http_api_simple_response() -> None:
    handler, invoker, _, _ = setup()
    assert (await answer(handler, request("/simple")))[:3:2] == (401, {"message": "Unauthorized"})
    status, _, body = await answer(handler, request("/simple", {"X-Key": "no"}))
    assert (status, body) == (403, {"message": "Forbidden"})
    status, _, body = await answer(handler, request("/simple", {"X-Key": "yes"}))
    assert status == 200
    # HTTP APIs pass the context under "lambda", values as the authorizer gave them
    assert body["authorizer"] == {"lambda": {"who": ["a", "b"], "level": 3}}
    event = calls_of(invoker, "req")[-1]
    assert event["version"] == "2.0"
    assert event["type"] == "REQUEST"
    assert event["routeArn"] == f"{ARN}:Http/$default/GET/simple"
    assert event["identitySource"] == ["yes"]
    assert event["routeKey"] == "GET /simple"
    assert event["headers"]["x-key"] == "yes"


async def test_an_http_api_payload_1_0_authorizer() -> None:
    handler, invoker, _, _ = setup()
    req = request("/v1", {"X-Key": "a", "X-Other": "b"}, query="key=yes")
    status, _, body = await answer(handler, req)
    assert status == 200
    assert body["authorizer"] == {"lambda": {"who": "q"}}
    [event] = calls_of(invoker, "req")
    assert event["version"] == "1.0"
    assert event["identitySource"] == event["authorizationToken"] == "a,b"
    assert event["methodArn"] == f"{ARN}:Http/$default/GET/v1"


async def test_a_throttled_authorizer_is_a_500_and_recorded() -> None:
    handler, invoker, recorder, _ = setup()
    invoker.throttled.add("auth")
    status, headers, body = await answer(handler, request("/a", {"Authorization": "allow"}))
    assert (status, body) == (500, {"message": None})
    assert headers["x-amzn-ErrorType"] == "AuthorizerConfigurationException"
    assert [(r.function, r.throttled) for r in recorder.records] == [("auth", True)]


@pytest.mark.parametrize(
    ("pattern", "arn", "matches"),
    [
        (f"{ARN}:Api/Prod/GET/a", f"{ARN}:Api/Prod/GET/a", True),
        (f"{ARN}:Api/Prod/GET/a", f"{ARN}:Api/Prod/GET/ab", False),
        (f"{ARN}:Api/Prod/*", f"{ARN}:Api/Prod/POST/req/42", True),
        (f"{ARN}:Api/*/GET/*", f"{ARN}:Api/Prod/GET/a/b", True),
        (f"{ARN}:Api/Prod/?ET/a", f"{ARN}:Api/Prod/GET/a", True),
        ("arn:aws:execute-api:*:*:*", f"{ARN}:Api/Prod/GET/a", True),
        ("*", f"{ARN}:Api/Prod/GET/a", True),
        (f"{ARN}:Api/Prod/GET/a.b", f"{ARN}:Api/Prod/GET/axb", False),
    ],
)
def test_resource_patterns(pattern: str, arn: str, matches: bool) -> None:
    assert _matches((pattern,), arn) is matches


def jwt(claims: dict[str, Any]) -> str:
    """A token shaped like a JWT (its signature is not checked, so any will do)."""

    def part(value: Any) -> str:
        return base64.urlsafe_b64encode(orjson.dumps(value)).decode().rstrip("=")

    return f"{part({'alg': 'RS256', 'kid': 'k'})}.{part(claims)}.c2lnbmF0dXJl"


async def test_a_cognito_authorizer_passes_the_claims_as_text() -> None:
    handler, invoker, recorder, clock = setup()
    exp = int(clock.now()) + 60
    claims = {"sub": "u-1", "exp": exp, "cognito:groups": ["admin", "ops"]}
    status, _, body = await answer(handler, request("/cognito", {"Authorization": jwt(claims)}))
    assert status == 200
    assert body["authorizer"] == {
        "claims": {"sub": "u-1", "exp": str(exp), "cognito:groups": "[admin ops]"}
    }
    for token in ("", "not-a-jwt", jwt({"sub": "u-1", "exp": clock.now() - 1})):
        status, _, body = await answer(handler, request("/cognito", {"Authorization": token}))
        assert (status, body) == (401, {"message": "Unauthorized"}), token
    # the clock is canaria's: a token expires on it (--time-scale included)
    clock.advance(61)
    assert (await answer(handler, request("/cognito", {"Authorization": jwt(claims)})))[0] == 401
    # nothing was invoked to check them
    assert [fn for fn, *_ in invoker.calls] == ["echo"]
    assert [r.function for r in recorder.records] == ["echo"]


@pytest.mark.parametrize(
    ("claims", "status"),
    [
        ({"iss": "https://issuer.example", "aud": "app", "scope": "read write"}, 200),
        ({"iss": "https://issuer.example", "client_id": "app", "scp": ["read"]}, 200),
        ({"iss": "https://elsewhere.example", "aud": "app", "scope": "read"}, 401),
        ({"iss": "https://issuer.example", "aud": "other", "scope": "read"}, 401),
        ({"iss": "https://issuer.example", "aud": ["other", "app"], "scope": "read"}, 200),
        ({"iss": "https://issuer.example", "aud": "app", "scope": "write"}, 403),
        ({"iss": "https://issuer.example", "aud": "app", "scope": "read", "nbf": 10**12}, 401),
    ],
)
async def test_a_jwt_authorizer_checks_issuer_audience_and_scopes(
    claims: dict[str, Any], status: int
) -> None:
    handler, _, _, _ = setup()
    got, _, body = await answer(
        handler, request("/jwt", {"Authorization": f"Bearer {jwt(claims)}"})
    )
    assert got == status, body
    if status == 200:
        assert body["authorizer"]["jwt"]["claims"]["iss"] == "https://issuer.example"
        assert "read" in body["authorizer"]["jwt"]["scopes"]
    elif status == 403:
        assert body == {"message": "Forbidden"}


async def test_gateway_responses_change_api_gateways_own_answers() -> None:
    """A REST API's GatewayResponses: the authorizer's 401 with the headers a browser
    needs, a DEFAULT_4XX for the explicit deny, the function's own answers untouched."""
    routing = Routing()
    responses = (
        (
            "UNAUTHORIZED",
            GatewayResponseSpec(
                headers=(("Access-Control-Allow-Origin", "*"), ("WWW-Authenticate", "Bearer")),
                template='{"error": $context.error.messageString, '
                '"type": "$context.error.responseType"}',
            ),
        ),
        ("DEFAULT_4XX", GatewayResponseSpec(status=418, headers=(("X-Why", "4xx"),))),
    )
    routing.set_routes(
        [RouteSpec("GET", "/a", "rest", "Api", "Prod", "echo", TOKEN, gateway_responses=responses)],
        {},
    )
    routing.set_latest("echo", 1)
    routing.set_latest("auth", 1)
    invoker = FakeInvoker({"echo": echo, "auth": token_authorizer})
    handler = Handler(routing, invoker, ListRecorder(), ManualClock())
    status, headers, body = await answer(handler, request("/a"))
    assert status == 401
    assert body == {"error": "Unauthorized", "type": "UNAUTHORIZED"}
    assert headers["Access-Control-Allow-Origin"] == "*"
    assert headers["WWW-Authenticate"] == "Bearer"
    assert headers["x-amzn-ErrorType"] == "UnauthorizedException"
    status, headers, body = await answer(handler, request("/a", {"Authorization": "deny"}))
    assert (status, headers["X-Why"]) == (418, "4xx")
    assert body == {
        "message": "User is not authorized to access this resource with an explicit deny"
    }
    status, headers, _ = await answer(handler, request("/a", {"Authorization": "allow"}))
    assert status == 200 and "X-Why" not in headers
