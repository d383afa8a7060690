"""An Application Load Balancer's listener, without a socket: rules by priority and their
conditions, ALB's event and its reading of the answer, weighted forwards through the
alias, redirects to a sibling listener, and ALB's own answers."""

from __future__ import annotations

import base64
from typing import Any

import orjson
import pytest

from canaria.auth import COOKIE
from canaria.clock import ManualClock
from canaria.gateway import Routing
from canaria.gateway.load_balancers import ListenerHandler, alb_event, matches, redirect_location
from canaria.gateway.responses import Malformed, map_alb_result
from canaria.gateway.types import Request
from canaria.models import Alias
from canaria.models.load_balancers import (
    ActionSpec,
    ConditionSpec,
    ListenerSpec,
    RedirectSpec,
    RuleSpec,
    TargetGroupSpec,
)

from .fakes import FakeInvoker, ListRecorder, ListResponder

GROUP = TargetGroupSpec("TG", "arn:aws:elasticloadbalancing:us-east-1:1:targetgroup/tg/1", "echo")
MULTI = TargetGroupSpec("Multi", GROUP.arn, "echo", multi_value_headers=True)


def request(
    path: str = "/",
    query: str = "",
    headers: list[tuple[str, str]] | None = None,
    body: bytes = b"",
    method: str = "GET",
    source_ip: str = "127.0.0.1",
) -> Request:
    sent = [("Host", "shop.example.com:8080"), *(headers or [])]
    return Request(method, path, query, sent, body, source_ip=source_ip)


def listener(*rules: RuleSpec, default: ActionSpec | None = None) -> ListenerSpec:
    fallback = default or ActionSpec("fixed-response", status=404, body="none")
    return ListenerSpec("Http", "LB", 80, "HTTP", rules, (fallback,))


@pytest.mark.parametrize(
    ("condition", "req", "met"),
    [
        (ConditionSpec("path-pattern", ("/img/*",)), request("/img/a/b.png"), True),
        (ConditionSpec("path-pattern", ("/img/*",)), request("/IMG/a.png"), False),  # case
        (ConditionSpec("path-pattern", ("/v?/x",)), request("/v2/x"), True),
        (ConditionSpec("path-pattern", ("/v?/x",)), request("/v22/x"), False),
        (ConditionSpec("host-header", ("*.EXAMPLE.com",)), request(), True),  # no case, no port
        (ConditionSpec("host-header", ("api.example.com",)), request(), False),
        (ConditionSpec("http-request-method", ("POST", "PUT")), request(method="PUT"), True),
        (ConditionSpec("http-request-method", ("POST",)), request(), False),
        (
            ConditionSpec("http-header", ("*Mobile*",), header="user-agent"),
            request(headers=[("User-Agent", "x mobile y")]),
            True,
        ),
        (ConditionSpec("http-header", ("a",), header="X-Missing"), request(), False),
        (ConditionSpec("query-string", pairs=(("v", "2"),)), request(query="a=1&V=2"), True),
        (ConditionSpec("query-string", pairs=((None, "a b"),)), request(query="k=a%20b"), True),
        (ConditionSpec("query-string", pairs=(("v", "2"),)), request(query="v=3"), False),
        (ConditionSpec("source-ip", ("127.0.0.0/8",)), request(), True),
        (ConditionSpec("source-ip", ("10.0.0.0/8",)), request(), False),
    ],
)
def test_a_condition_matches_as_alb_reads_it(
    condition: ConditionSpec, req: Request, met: bool
) -> None:
    assert matches(condition, req) is met


def test_the_event_is_albs_and_the_multi_value_form_follows_the_group() -> None:
    req = request(
        "/a%20b",
        "x=1&x=2&y=%2F",
        [("Cookie", "a=1"), ("Cookie", "b=2"), ("Content-Type", "image/png")],
        b"\x89PNG",
        "POST",
    )
    event = orjson.loads(alb_event(req, GROUP, listener()))
    assert event["requestContext"] == {"elb": {"targetGroupArn": GROUP.arn}}
    assert (event["httpMethod"], event["path"]) == ("POST", "/a%20b")
    assert event["queryStringParameters"] == {"x": "2", "y": "%2F"}  # the last value, undecoded
    assert event["headers"]["cookie"] == "b=2"
    assert event["headers"]["x-forwarded-port"] == "80"
    assert event["headers"]["x-forwarded-proto"] == "http"
    assert event["headers"]["x-amzn-trace-id"].startswith("Root=1-")
    assert event["isBase64Encoded"] is True
    assert base64.b64decode(event["body"]) == b"\x89PNG"
    assert "multiValueHeaders" not in event
    multi = orjson.loads(alb_event(req, MULTI, listener()))
    assert multi["multiValueQueryStringParameters"] == {"x": ["1", "2"], "y": ["%2F"]}
    assert multi["multiValueHeaders"]["cookie"] == ["a=1", "b=2"]
    assert "headers" not in multi and "queryStringParameters" not in multi
    text = request(headers=[("Content-Type", "application/json")], body=b'{"a":1}')
    plain = orjson.loads(alb_event(text, GROUP, listener()))
    assert (plain["body"], plain["isBase64Encoded"]) == ('{"a":1}', False)
    assert orjson.loads(alb_event(request(), GROUP, listener()))["queryStringParameters"] == {}
    dashboard = request(headers=[("Cookie", f"{COOKIE}=secret; a=1"), ("Cookie", f"{COOKIE}=s")])
    assert orjson.loads(alb_event(dashboard, MULTI, listener()))["multiValueHeaders"]["cookie"] == [
        "a=1"
    ]  # the dashboard's session cookie never reaches a function


def test_the_answer_is_read_as_alb_reads_it() -> None:
    answer = map_alb_result(
        orjson.dumps(
            {
                "statusCode": 201,
                "statusDescription": "201 Created",
                "headers": {"Set-Cookie": "a=1", "Content-Length": "99"},
                "multiValueHeaders": {"Set-Cookie": ["b=2"]},
                "body": base64.b64encode(b"\x00\x01").decode(),
                "isBase64Encoded": True,
            }
        ),
        multi_value=False,
    )
    assert (answer.status, answer.headers, answer.body) == (201, [("Set-Cookie", "a=1")], b"\0\1")
    multi = map_alb_result(
        orjson.dumps({"statusCode": 200, "multiValueHeaders": {"Set-Cookie": ["b=2", "c=3"]}}),
        multi_value=True,
    )
    assert multi.headers == [("Set-Cookie", "b=2"), ("Set-Cookie", "c=3")]
    for bad in (b"[]", b'{"body": "no status"}', b"nope", b'{"statusCode": 99}'):
        with pytest.raises(Malformed):
            map_alb_result(bad, multi_value=False)


def test_a_redirect_to_a_sibling_listener_goes_to_its_port_here() -> None:
    https = RedirectSpec(301, protocol="HTTPS", port="443")
    sibling = {("LB", 443): 40443}

    def local(lb: str, port: int) -> int | None:
        return sibling.get((lb, port))

    req = request("/shop", "a=1")
    assert redirect_location(https, req, listener(), local) == (
        "http://shop.example.com:40443/shop?a=1"
    )
    away = RedirectSpec(302, protocol="HTTPS", host="www.example.org", port="443", path="/new")
    assert redirect_location(away, req, listener(), local) == "https://www.example.org/new?a=1"


def echo(event: dict[str, Any], version: int) -> Any:
    return {"statusCode": 200, "headers": {"x-version": str(version)}, "body": event["path"]}


def setup(
    spec: ListenerSpec,
) -> tuple[ListenerHandler, FakeInvoker, ListRecorder]:
    routing = Routing()
    routing.set_routes([], {"echo": "live"})
    routing.set_alias(Alias("echo", "live", 1, 2, 0.5))
    for fn in ("boom", "bad", "busy"):
        routing.set_latest(fn, 1)
    invoker = FakeInvoker(
        {
            "echo": echo,
            "boom": lambda e, v: 1 / 0,
            "bad": lambda e, v: {"body": "no status"},
        }
    )
    invoker.throttled.add("busy")
    recorder = ListRecorder()
    handler = ListenerHandler(spec, routing, invoker, recorder, ManualClock(), lambda lb, p: None)
    return handler, invoker, recorder


async def answer(handler: ListenerHandler, req: Request) -> tuple[int, dict[str, str], bytes]:
    out = ListResponder()
    await handler.handle(req, out)
    ((_, response, extra),) = out.answers
    return response.status, {**dict(response.headers), extra[0]: extra[1]}, response.body


def forward_to(*groups: TargetGroupSpec, weights: tuple[int, ...] = ()) -> ActionSpec:
    return ActionSpec("forward", tuple(zip(groups, weights or (1,) * len(groups), strict=True)))


async def test_the_first_rule_by_priority_answers_and_the_alias_splits() -> None:
    rule = RuleSpec("Api", 1, (ConditionSpec("path-pattern", ("/api/*",)),), (forward_to(GROUP),))
    handler, _, recorder = setup(listener(rule))
    versions = set()
    for _ in range(20):
        status, headers, body = await answer(handler, request("/api/x"))
        assert (status, body, headers["Server"]) == (200, b"/api/x", "awselb/2.0")
        versions.add(headers["x-version"])
    assert versions == {"1", "2"}  # the alias's split, as for any route
    assert {(r.function, r.alias) for r in recorder.records} == {("echo", "live")}
    assert await answer(handler, request("/other")) == (404, {"Server": "awselb/2.0"}, b"none")


async def test_weights_choose_the_group_and_albs_own_answers() -> None:
    boom = TargetGroupSpec("Boom", GROUP.arn, "boom")
    bad = TargetGroupSpec("Bad", GROUP.arn, "bad")
    busy = TargetGroupSpec("Busy", GROUP.arn, "busy")
    empty = TargetGroupSpec("Empty", GROUP.arn, None)
    pinned = TargetGroupSpec("V1", GROUP.arn, "echo", "1")

    def rule(n: int, path: str, action: ActionSpec) -> RuleSpec:
        return RuleSpec(f"R{n}", n, (ConditionSpec("path-pattern", (path,)),), (action,))

    handler, _, _ = setup(
        listener(
            rule(1, "/weighted", forward_to(GROUP, boom, weights=(1, 0))),
            rule(2, "/boom", forward_to(boom)),
            rule(3, "/bad", forward_to(bad)),
            rule(4, "/busy", forward_to(busy)),
            rule(5, "/empty", forward_to(empty)),
            rule(6, "/v1", forward_to(pinned)),
            rule(7, "/guarded", ActionSpec("authenticate", on_unauthenticated="deny")),
        )
    )
    for _ in range(5):
        assert (await answer(handler, request("/weighted")))[0] == 200  # weight 0: never
    assert (await answer(handler, request("/boom")))[0] == 502
    assert (await answer(handler, request("/bad")))[0] == 502
    assert (await answer(handler, request("/busy")))[0] == 503
    assert (await answer(handler, request("/empty")))[0] == 503
    assert (await answer(handler, request("/v1")))[1]["x-version"] == "1"
    assert (await answer(handler, request("/guarded")))[0] == 401
    big = request("/weighted", body=b"x" * (1024 * 1024 + 1), method="POST")
    assert (await answer(handler, big))[0] == 413
    upgrade = request("/weighted", headers=[("Upgrade", "websocket")])
    assert (await answer(handler, upgrade))[0] == 400
    pinned_request = request("/weighted", headers=[("X-Canaria-Version", "2")])
    assert (await answer(handler, pinned_request))[1]["x-version"] == "2"
