"""A real GatewayServer on loopback, driven by real HTTP clients (http.client, raw sockets)
against an in-process Invoker."""

from __future__ import annotations

import asyncio
import http.client
import socket
from collections.abc import AsyncIterator
from typing import Any

import orjson
import pytest

from canaria.clock import RealClock
from canaria.gateway import GatewayServer, Routing
from canaria.gateway.protocol import MAX_BODY_BYTES
from canaria.models import Alias, RouteSpec
from tests.unit.gateway.fakes import FakeInvoker, ListRecorder, proxy


def echo(event: dict[str, Any], version: int) -> Any:
    body = event.get("body") or ""
    return proxy(
        200,
        {
            "version": version,
            "path": event.get("rawPath") or event.get("path"),
            "body": body,
            "len": len(body),
            "b64": event["isBase64Encoded"],
            "method": event.get("httpMethod") or event["requestContext"]["http"]["method"],
        },
    )


async def sleepy(event: dict[str, Any], version: int) -> Any:
    await asyncio.sleep(float(event["pathParameters"]["seconds"]))
    return proxy(200, {"slept": event["pathParameters"]["seconds"]})


def boom(event: dict[str, Any], version: int) -> Any:
    raise ValueError("handler crashed")


def no_content(event: dict[str, Any], version: int) -> Any:
    return proxy(204, "ignored")


class Gateway:
    def __init__(
        self, server: GatewayServer, invoker: FakeInvoker, recorder: ListRecorder, routing: Routing
    ) -> None:
        self.server = server
        self.invoker = invoker
        self.recorder = recorder
        self.routing = routing

    @property
    def port(self) -> int:
        return self.server.port

    def request(
        self,
        method: str,
        path: str,
        body: bytes | None = None,
        headers: dict[str, str] | None = None,
    ) -> tuple[int, dict[str, str], bytes]:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        try:
            conn.request(method, path, body=body, headers=headers or {})
            resp = conn.getresponse()
            return resp.status, {k.lower(): v for k, v in resp.getheaders()}, resp.read()
        finally:
            conn.close()

    async def call(
        self,
        method: str,
        path: str,
        body: bytes | None = None,
        headers: dict[str, str] | None = None,
    ) -> tuple[int, dict[str, str], Any]:
        status, h, raw = await asyncio.to_thread(self.request, method, path, body, headers)
        return status, h, orjson.loads(raw) if raw else None


@pytest.fixture
async def gw() -> AsyncIterator[Gateway]:
    routing = Routing()
    routes = [
        RouteSpec("ANY", "/echo/{proxy+}", "rest", "RestApi", "Prod", "echo"),
        RouteSpec("GET", "/sleep/{seconds}", "rest", "RestApi", "Prod", "sleepy"),
        RouteSpec("GET", "/boom", "rest", "RestApi", "Prod", "boom"),
        RouteSpec("ANY", "/h/{proxy+}", "http", "HttpApi", "$default", "echo"),
        RouteSpec("GET", "/hboom", "http", "HttpApi", "$default", "boom"),
        RouteSpec("DELETE", "/gone", "http", "HttpApi", "$default", "no_content"),
    ]
    routing.set_routes(routes, {"echo": "live"})
    routing.set_alias(Alias("echo", "live", 1))
    routing.set_latest("sleepy", 1)
    routing.set_latest("boom", 1)
    routing.set_latest("no_content", 1)
    invoker = FakeInvoker({"echo": echo, "sleepy": sleepy, "boom": boom, "no_content": no_content})
    recorder = ListRecorder()
    server = GatewayServer(routing, invoker, recorder, RealClock(), port=0)
    await server.start()
    try:
        yield Gateway(server, invoker, recorder, routing)
    finally:
        await server.stop()


def raw_exchange(port: int, data: bytes, *, expect: int, timeout: float = 10) -> list[bytes]:
    """Send ``data`` on one connection and read ``expect`` responses (or until closed)."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall(data)
        return read_responses(sock, expect)


def read_responses(sock: socket.socket, expect: int) -> list[bytes]:
    buf = b""
    out: list[bytes] = []
    while len(out) < expect:
        while b"\r\n\r\n" not in buf:
            chunk = sock.recv(65536)
            if not chunk:
                return out
            buf += chunk
        head, _, rest = buf.partition(b"\r\n\r\n")
        length = 0
        for line in head.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value)
        while len(rest) < length:
            chunk = sock.recv(65536)
            if not chunk:
                break
            rest += chunk
        out.append(head + b"\r\n\r\n" + rest[:length])
        buf = rest[length:]
    return out


def status_of(response: bytes) -> int:
    return int(response.split(b" ", 2)[1])


def body_of(response: bytes) -> Any:
    return orjson.loads(response.partition(b"\r\n\r\n")[2])


# ---- routes, stages, answers ------------------------------------------------------------


async def test_stage_prefix_with_and_without(gw: Gateway) -> None:
    for path in ("/Prod/echo/a/b", "/echo/a/b"):
        status, headers, body = await gw.call("GET", path)
        assert status == 200 and body["path"] == "/echo/a/b"
        assert headers["x-amzn-requestid"]
    status, headers, body = await gw.call("GET", "/h/x")
    assert status == 200 and body["path"] == "/h/x" and headers["apigw-requestid"]


async def test_not_found_bodies(gw: Gateway) -> None:
    status, _, body = await gw.call("GET", "/Prod/nope")
    assert (status, body) == (403, {"message": "Missing Authentication Token"})
    status, _, body = await gw.call("GET", "/nope")
    assert (status, body) == (404, {"message": "Not Found"})


async def test_function_error_and_throttle(gw: Gateway) -> None:
    assert (await gw.call("GET", "/boom"))[::2] == (502, {"message": "Internal server error"})
    assert (await gw.call("GET", "/hboom"))[::2] == (500, {"message": "Internal Server Error"})
    gw.invoker.throttled.add("echo")
    assert (await gw.call("GET", "/echo/x"))[::2] == (429, {"message": "Too Many Requests"})
    assert (await gw.call("GET", "/h/x"))[::2] == (429, {"message": "Too Many Requests"})
    throttles = [r for r in gw.recorder.records if r.throttled]
    assert len(throttles) == 2 and all(r.result is None for r in throttles)


# ---- HTTP/1.1 mechanics -------------------------------------------------------------------


async def test_keep_alive_reuses_one_connection(gw: Gateway) -> None:
    def run() -> list[tuple[int, int]]:
        conn = http.client.HTTPConnection("127.0.0.1", gw.port, timeout=10)
        seen = []
        conn.request("GET", "/echo/1")
        first = conn.getresponse()
        first.read()
        sock = conn.sock
        for i in range(5):
            conn.request("POST", f"/echo/{i}", body=b"x" * i)
            resp = conn.getresponse()
            seen.append((resp.status, orjson.loads(resp.read())["len"]))
            assert conn.sock is sock  # not reconnected
        conn.close()
        return seen

    assert await asyncio.to_thread(run) == [(200, i) for i in range(5)]


async def test_pipelined_requests_are_answered_in_order(gw: Gateway) -> None:
    # the first request is slow: answering out of order would put the fast ones first
    data = b"GET /sleep/0.2 HTTP/1.1\r\nHost: x\r\n\r\n" + b"".join(
        f"GET /echo/{i} HTTP/1.1\r\nHost: x\r\n\r\n".encode() for i in range(5)
    )
    responses = await asyncio.to_thread(raw_exchange, gw.port, data, expect=6)
    assert [status_of(r) for r in responses] == [200] * 6
    assert body_of(responses[0]) == {"slept": "0.2"}
    assert [body_of(r)["path"] for r in responses[1:]] == [f"/echo/{i}" for i in range(5)]


async def test_chunked_request_body(gw: Gateway) -> None:
    data = (
        b"POST /echo/chunked HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
        b"Content-Type: text/plain\r\n\r\n"
        b"5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n"
    )
    (response,) = await asyncio.to_thread(raw_exchange, gw.port, data, expect=1)
    assert status_of(response) == 200
    assert body_of(response)["body"] == "hello world"


async def test_binary_body_reaches_the_function_base64(gw: Gateway) -> None:
    status, _, body = await gw.call(
        "POST",
        "/h/bin",
        body=bytes(range(256)),
        headers={"Content-Type": "application/octet-stream"},
    )
    assert status == 200 and body["b64"] is True


async def test_connection_close(gw: Gateway) -> None:
    def run() -> tuple[bytes, bytes]:
        with socket.create_connection(("127.0.0.1", gw.port), timeout=10) as sock:
            sock.sendall(b"GET /echo/x HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            (response,) = read_responses(sock, 1)
            return response, sock.recv(10)

    response, after = await asyncio.to_thread(run)
    assert status_of(response) == 200 and b"Connection: close" in response
    assert after == b""  # the server closed the connection


async def test_http10_closes_unless_keep_alive(gw: Gateway) -> None:
    (response,) = await asyncio.to_thread(
        raw_exchange, gw.port, b"GET /echo/a HTTP/1.0\r\n\r\n", expect=1
    )
    assert status_of(response) == 200 and b"Connection: close" in response
    two = await asyncio.to_thread(
        raw_exchange,
        gw.port,
        b"GET /echo/a HTTP/1.0\r\nConnection: keep-alive\r\n\r\n" * 2,
        expect=2,
    )
    assert [status_of(r) for r in two] == [200, 200]
    assert b"Connection: keep-alive" in two[0]


async def test_head_has_no_body(gw: Gateway) -> None:
    status, headers, body = await gw.call("HEAD", "/echo/x")
    assert status == 200 and body is None and int(headers["content-length"]) > 0


async def test_204_has_no_body_and_the_connection_stays_usable(gw: Gateway) -> None:
    responses = await asyncio.to_thread(
        raw_exchange,
        gw.port,
        b"DELETE /gone HTTP/1.1\r\nHost: x\r\n\r\nGET /h/after HTTP/1.1\r\nHost: x\r\n\r\n",
        expect=2,
    )
    assert [status_of(r) for r in responses] == [204, 200]
    assert b"Content-Length" not in responses[0] and responses[0].endswith(b"\r\n\r\n")
    assert body_of(responses[1])["path"] == "/h/after"


async def test_parse_error_is_a_400_and_closes(gw: Gateway) -> None:
    responses = await asyncio.to_thread(
        raw_exchange, gw.port, b"GARBAGE\r\n\r\nGET /echo/x HTTP/1.1\r\n\r\n", expect=2
    )
    assert [status_of(r) for r in responses] == [400]
    assert body_of(responses[0]) == {"message": "Bad Request"}


async def test_a_request_after_a_good_one_that_fails_to_parse(gw: Gateway) -> None:
    responses = await asyncio.to_thread(
        raw_exchange,
        gw.port,
        b"GET /echo/ok HTTP/1.1\r\nHost: x\r\n\r\nGET /x HTTP/1.1\r\nBad Header\r\n\r\n",
        expect=3,
    )
    assert [status_of(r) for r in responses] == [200, 400]


async def test_too_large_by_content_length(gw: Gateway) -> None:
    head = (
        f"POST /echo/big HTTP/1.1\r\nHost: x\r\nContent-Length: {MAX_BODY_BYTES + 1}\r\n\r\n"
    ).encode()
    (response,) = await asyncio.to_thread(raw_exchange, gw.port, head, expect=2)
    assert status_of(response) == 413
    assert body_of(response) == {"message": "Request Too Long"}
    assert gw.invoker.calls == []


async def test_too_large_chunked(gw: Gateway) -> None:
    def run() -> list[bytes]:
        with socket.create_connection(("127.0.0.1", gw.port), timeout=10) as sock:
            sock.sendall(
                b"POST /echo/big HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
            )
            chunk = b"x" * (1024 * 1024)
            try:
                for _ in range(11):
                    sock.sendall(b"100000\r\n" + chunk + b"\r\n")
            except OSError:
                pass  # the server may close before we finish sending
            return read_responses(sock, 1)

    (response,) = await asyncio.to_thread(run)
    assert status_of(response) == 413


async def test_body_at_the_limit_is_accepted(gw: Gateway) -> None:
    status, _, body = await gw.call(
        "POST", "/h/limit", body=b"a" * MAX_BODY_BYTES, headers={"Content-Type": "text/plain"}
    )
    assert status == 200 and body["len"] == MAX_BODY_BYTES


async def test_expect_100_continue(gw: Gateway) -> None:
    def run() -> tuple[bytes, bytes]:
        with socket.create_connection(("127.0.0.1", gw.port), timeout=10) as sock:
            sock.sendall(
                b"POST /echo/e HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n"
                b"Expect: 100-continue\r\n\r\n"
            )
            interim = sock.recv(100)
            sock.sendall(b"hello")
            (response,) = read_responses(sock, 1)
            return interim, response

    interim, response = await asyncio.to_thread(run)
    assert interim == b"HTTP/1.1 100 Continue\r\n\r\n"
    assert body_of(response)["body"] == "hello"


# ---- splitting under load ------------------------------------------------------------------


async def test_pins_end_to_end(gw: Gateway) -> None:
    gw.routing.set_alias(Alias("echo", "live", 1, 2, 0.1))
    for headers in ({"X-Canaria-Version": "candidate"}, {"Cookie": "canaria-version=2"}):
        for _ in range(3):
            assert (await gw.call("GET", "/h/p", headers=headers))[2]["version"] == 2
    status, _, body = await gw.call("GET", "/h/p", headers={"X-Canaria-Version": "7"})
    assert status == 400 and "cannot pin to version '7'" in body["message"]


async def test_concurrent_clients_while_weights_change(gw: Gateway) -> None:
    """No request fails while the alias moves under load; each request runs a version the
    alias routed to at the moment it was chosen."""
    weights = [0.0, 0.1, 0.25, 0.5, 0.9]
    changes = 0
    wrong: list[tuple[int, dict[int, float]]] = []

    async def moving_echo(event: dict[str, Any], version: int) -> Any:
        nonlocal changes
        nth = len(gw.invoker.calls)  # this invocation's number
        alias = gw.routing.alias("echo", "live")
        assert alias is not None
        if version not in alias.weights():  # chosen, then invoked, with no await between
            wrong.append((version, alias.weights()))
        await asyncio.sleep(0)  # let other requests in while this one is in flight
        if nth % 7 == 0:
            w = weights[changes % len(weights)]
            gw.routing.set_alias(Alias("echo", "live", 1, 2 if w else None, w))
            changes += 1
        await asyncio.sleep(0)
        return echo(event, version)

    gw.invoker.handlers["echo"] = moving_echo

    def client(n: int) -> list[tuple[int, int]]:
        conn = http.client.HTTPConnection("127.0.0.1", gw.port, timeout=10)
        out = []
        for i in range(n):
            conn.request("GET", f"/h/c{i}")
            resp = conn.getresponse()
            out.append((resp.status, orjson.loads(resp.read())["version"]))
        conn.close()
        return out

    results = await asyncio.gather(*(asyncio.to_thread(client, 60) for _ in range(8)))
    flat = [r for rs in results for r in rs]
    assert len(flat) == 480
    assert {status for status, _ in flat} == {200}
    assert {version for _, version in flat} == {1, 2}
    assert changes == 480 // 7
    assert wrong == []
    echo_records = [r for r in gw.recorder.records if r.function == "echo"]
    assert len(echo_records) == 480
    assert all(r.result is not None and r.result.version == r.version for r in echo_records)


async def test_stop_lets_requests_in_flight_finish() -> None:
    routing = Routing()
    routing.set_routes([RouteSpec("GET", "/sleep/{seconds}", "http", "A", "$default", "s")], {})
    routing.set_latest("s", 1)
    invoker = FakeInvoker({"s": sleepy})
    recorder = ListRecorder()
    server = GatewayServer(routing, invoker, recorder, RealClock(), port=0)
    await server.start()
    port = server.port
    pending = asyncio.ensure_future(
        asyncio.to_thread(
            raw_exchange, port, b"GET /sleep/0.3 HTTP/1.1\r\nHost: x\r\n\r\n", expect=1
        )
    )
    while not invoker.calls:  # the request is in flight
        await asyncio.sleep(0.01)
    await server.stop(grace_s=30)
    assert len(recorder.records) == 1
    (response,) = await pending
    assert status_of(response) == 200 and b"Connection: close" in response
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", port), timeout=1).close()


async def test_stop_after_grace_cancels_what_still_runs() -> None:
    routing = Routing()
    routing.set_routes([RouteSpec("GET", "/sleep/{seconds}", "http", "A", "$default", "s")], {})
    routing.set_latest("s", 1)
    invoker = FakeInvoker({"s": sleepy})
    server = GatewayServer(routing, invoker, ListRecorder(), RealClock(), port=0)
    await server.start()
    pending = asyncio.ensure_future(
        asyncio.to_thread(
            raw_exchange, server.port, b"GET /sleep/600 HTTP/1.1\r\nHost: x\r\n\r\n", expect=1
        )
    )
    while not invoker.calls:
        await asyncio.sleep(0.01)
    await asyncio.wait_for(server.stop(grace_s=0.05), timeout=30)
    assert await pending == []  # closed without an answer


async def test_idle_connections_are_closed_after_keep_alive() -> None:
    routing = Routing()
    routing.set_routes([RouteSpec("GET", "/x", "http", "A", "$default", "f")], {})
    routing.set_latest("f", 1)
    server = GatewayServer(
        routing, FakeInvoker({"f": echo}), ListRecorder(), RealClock(), port=0, keep_alive_s=0.2
    )
    await server.start()

    def run() -> tuple[int, bytes]:
        with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
            sock.sendall(b"GET /x HTTP/1.1\r\nHost: x\r\n\r\n")
            (response,) = read_responses(sock, 1)
            return status_of(response), sock.recv(10)  # blocks until the server closes

    try:
        assert await asyncio.to_thread(run) == (200, b"")
    finally:
        await server.stop()
