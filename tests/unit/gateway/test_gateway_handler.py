"""One request through the handler, without a socket: outcomes, records, timeouts."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import orjson
import pytest

from canaria.clock import ManualClock
from canaria.gateway import Handler, Routing, find_pin
from canaria.gateway.types import Request
from canaria.models import Alias, RouteSpec

from .fakes import FakeInvoker, ListRecorder, ListResponder, proxy


def boom(event: dict[str, Any], version: int) -> Any:
    raise RuntimeError("boom")


class Release:
    """Holds ``slow`` until a test lets it finish (no race between two real durations)."""

    event: asyncio.Event | None = None


async def slow(event: dict[str, Any], version: int) -> Any:
    if Release.event is not None:
        await Release.event.wait()
    return proxy(200, "late")


def echo(event: dict[str, Any], version: int) -> Any:
    return proxy(200, {"version": version})


def setup(timeout: float = 29.0) -> tuple[Handler, FakeInvoker, ListRecorder, ManualClock]:
    routing = Routing()
    routes = []
    for kind, stage, prefix in (("rest", "Prod", "/r"), ("http", "$default", "/h")):
        for name in ("echo", "boom", "slow", "bad", "plain"):
            routes.append(RouteSpec("GET", f"{prefix}/{name}", kind, "Api", stage, name))  # type: ignore[arg-type]
    routing.set_routes(routes, {"echo": "live", "boom": "live", "slow": "live", "bad": "live"})
    for fn in ("echo", "boom", "slow", "bad"):
        routing.set_alias(Alias(fn, "live", 1, 2, 0.5))
    routing.set_latest("plain", 3)
    invoker = FakeInvoker(
        {
            "echo": echo,
            "boom": boom,
            "slow": slow,
            "bad": lambda e, v: {"body": "no status"},
            "plain": echo,
        }
    )
    recorder = ListRecorder()
    clock = ManualClock()
    return (
        Handler(routing, invoker, recorder, clock, integration_timeout_s=timeout),
        invoker,
        recorder,
        clock,
    )


def get(path: str, headers: list[tuple[str, str]] | None = None) -> Request:
    return Request("GET", path, "", [("Host", "localhost"), *(headers or [])], b"")


async def answer(handler: Handler, req: Request) -> tuple[int, dict[str, str], Any]:
    out = ListResponder()
    await handler.handle(req, out)
    assert len(out.answers) == 1
    _, response, extra = out.answers[0]
    headers = dict(response.headers)
    headers[extra[0]] = extra[1]
    body = orjson.loads(response.body) if response.body else None
    return response.status, headers, body


async def test_success_is_recorded_with_alias_and_version() -> None:
    handler, _, recorder, clock = setup()
    status, headers, body = await answer(handler, get("/h/echo"))
    assert (status, body) == (200, {"version": 1})
    assert headers["apigw-requestid"]
    status, headers, body = await answer(handler, get("/r/echo"))
    assert (status, body) == (200, {"version": 2})
    assert headers["x-amzn-RequestId"]
    assert [(r.function, r.alias, r.version, r.throttled) for r in recorder.records] == [
        ("echo", "live", 1, False),
        ("echo", "live", 2, False),
    ]
    assert all(r.result is not None and r.result.ok for r in recorder.records)
    assert recorder.records[0].started == clock.now()


async def test_function_without_alias_runs_latest() -> None:
    handler, _, recorder, _ = setup()
    assert (await answer(handler, get("/r/plain")))[2] == {"version": 3}
    assert recorder.records[0].alias is None


@pytest.mark.parametrize(
    ("path", "status", "message"),
    [
        ("/r/boom", 502, "Internal server error"),
        ("/h/boom", 500, "Internal Server Error"),
    ],
)
async def test_function_error(path: str, status: int, message: str) -> None:
    handler, _, recorder, _ = setup()
    got, _, body = await answer(handler, get(path))
    assert (got, body) == (status, {"message": message})
    assert recorder.records[0].result is not None
    assert recorder.records[0].result.function_error == "Unhandled"


async def test_malformed_response_is_logged(caplog: pytest.LogCaptureFixture) -> None:
    handler, _, recorder, _ = setup()
    with caplog.at_level(logging.WARNING, logger="canaria.gateway"):
        status, _, body = await answer(handler, get("/r/bad"))
    assert (status, body) == (502, {"message": "Internal server error"})
    assert "Malformed Lambda proxy response" in caplog.text
    # the invocation itself succeeded: metrics see no function error
    assert recorder.records[0].result is not None and recorder.records[0].result.ok


async def test_throttled() -> None:
    handler, invoker, recorder, _ = setup()
    invoker.throttled.add("echo")
    for path in ("/r/echo", "/h/echo"):
        status, _, body = await answer(handler, get(path))
        assert (status, body) == (429, {"message": "Too Many Requests"})
    assert [(r.result, r.throttled) for r in recorder.records] == [(None, True), (None, True)]


@pytest.mark.parametrize(
    ("path", "status", "message"),
    [
        ("/r/slow", 504, "Endpoint request timed out"),
        ("/h/slow", 503, "Service Unavailable"),
    ],
)
async def test_integration_timeout_answers_and_still_records(
    path: str, status: int, message: str
) -> None:
    handler, _, recorder, _ = setup(timeout=0.02)
    out = ListResponder()
    Release.event = released = asyncio.Event()  # the function runs until the test says
    try:
        task = asyncio.ensure_future(handler.handle(get(path), out))
        while not out.answers:
            await asyncio.sleep(0.005)
        response = out.answers[0][1]
        assert (response.status, orjson.loads(response.body)) == (status, {"message": message})
        assert recorder.records == []  # the function is still running
        released.set()
        await task
    finally:
        Release.event = None
    assert len(recorder.records) == 1 and recorder.records[0].result is not None
    assert len(out.answers) == 2  # the late answer is offered; the connection ignores it


async def test_not_found_is_not_recorded() -> None:
    handler, invoker, recorder, _ = setup()
    assert (await answer(handler, get("/nope")))[0] == 404
    assert (await answer(handler, get("/Prod/nope")))[0] == 403
    assert recorder.records == [] and invoker.calls == []


async def test_bad_pin_is_a_400_with_a_clear_message() -> None:
    handler, invoker, _, _ = setup()
    status, _, body = await answer(handler, get("/h/echo", [("X-Canaria-Version", "9")]))
    assert status == 400
    assert "cannot pin to version '9'" in body["message"]
    assert "routes to version 1 and 2" in body["message"]
    assert invoker.calls == []


async def test_pin_by_header_and_cookie() -> None:
    handler, _, _, _ = setup()
    for headers in (
        [("X-Canaria-Version", "candidate")],
        [("Cookie", "a=b; canaria-version=2")],
        [("x-canaria-version", "2")],
    ):
        for _ in range(3):
            assert (await answer(handler, get("/h/echo", headers)))[2] == {"version": 2}


async def test_missing_alias_is_an_internal_error() -> None:
    handler, _, _, _ = setup()
    handler.routing.set_routes(
        [RouteSpec("GET", "/x", "http", "Api", "$default", "ghost")], {"ghost": "live"}
    )
    status, _, body = await answer(handler, get("/x"))
    assert (status, body) == (500, {"message": "Internal Server Error"})


async def test_a_failing_recorder_does_not_fail_the_request() -> None:
    handler, _, _, _ = setup()

    class Broken:
        def record(self, *args: Any, **kwargs: Any) -> None:
            raise RuntimeError("metrics down")

    handler.recorder = Broken()
    assert (await answer(handler, get("/h/echo")))[0] == 200


def test_find_pin() -> None:
    assert find_pin(get("/", [("X-Canaria-Version", " 3 ")])) == " 3 "
    assert find_pin(get("/", [("Cookie", "canaria-version=candidate")])) == "candidate"
    assert find_pin(get("/", [("Cookie", 'x=1; canaria-version="2"')])) == "2"
    assert find_pin(get("/", [("Cookie", "my-canaria-version=2")])) is None
    assert find_pin(get("/", [("Cookie", "a=1"), ("X-Canaria-Version", "stable")])) == "stable"
    assert find_pin(get("/")) is None


async def test_an_http_api_route_taking_payload_1_0_is_answered_as_rest_reads_it() -> None:
    routing = Routing()
    routing.set_routes(
        [
            RouteSpec("GET", "/v1", "http", "Api", "$default", "fn", payload_v1=True),
            RouteSpec("GET", "/v2", "http", "Api", "$default", "fn"),
        ],
        {},
    )
    routing.set_latest("fn", 1)
    # a bare object: payload 2.0 takes it as the body of a 200, 1.0 needs a statusCode
    invoker = FakeInvoker({"fn": lambda e, v: {"version": e.get("version")}})
    handler = Handler(routing, invoker, ListRecorder(), ManualClock())
    assert (await answer(handler, get("/v2")))[::2] == (200, {"version": "2.0"})
    assert (await answer(handler, get("/v1")))[::2] == (500, {"message": "Internal Server Error"})
