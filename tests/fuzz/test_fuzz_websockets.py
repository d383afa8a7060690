"""Fuzzing a WebSocket API on a real GatewayServer with Hypothesis: whatever bytes follow
the handshake, and whatever text a client sends as a message, the gateway logs no error
of its own, answers every message once, and goes on serving the next connection."""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import os
import socket
from typing import Any

import orjson
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from websockets.asyncio.client import connect

from canaria.clock import RealClock
from canaria.gateway import GatewayServer, Routing
from canaria.models import WebSocketApiSpec, WebSocketRoute
from tests.unit.gateway.fakes import FakeInvoker, ListRecorder

FUZZ = settings(
    max_examples=100,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
    derandomize=True,  # the same examples at every run: a test run never fails by chance
)
API = WebSocketApiSpec(
    "Fuzzed",
    "f",
    "$request.body.route.name",
    (
        WebSocketRoute("$connect", "hello"),
        WebSocketRoute("$disconnect", "hello"),
        WebSocketRoute("echo", "echo", two_way=True),
        WebSocketRoute("$default", "echo", two_way=True),
    ),
)


def echo(event: dict[str, Any], version: int) -> Any:
    return {"statusCode": 200, "body": orjson.dumps({"got": event.get("body")}).decode()}


class Errors(logging.Handler):
    """The gateway's own error lines (a function's failure is not one: none fails here)."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())


async def serve() -> tuple[GatewayServer, Errors]:
    routing = Routing()
    routing.set_latest("hello", 1)
    routing.set_latest("echo", 1)
    invoker = FakeInvoker({"hello": lambda e, v: {"statusCode": 200}, "echo": echo})
    server = GatewayServer(routing, invoker, ListRecorder(), RealClock(), port=0)
    server.websockets.configure({"Fuzzed": API})
    await server.start()
    errors = Errors()
    logging.getLogger("canaria.gateway").addHandler(errors)
    return server, errors


async def stop(server: GatewayServer, errors: Errors) -> None:
    logging.getLogger("canaria.gateway").removeHandler(errors)
    await server.stop()


def raw_session(port: int, data: bytes) -> None:
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        key = base64.b64encode(os.urandom(16)).decode()
        sock.sendall(
            (
                "GET /f HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
            ).encode()
            + data
        )
        sock.settimeout(0.2)
        try:
            while sock.recv(65536):
                pass
        except TimeoutError:
            pass


async def still_serves(port: int) -> None:
    async with connect(f"ws://127.0.0.1:{port}/f") as ws:
        await ws.send('{"route": {"name": "echo"}}')
        reply = orjson.loads(await asyncio.wait_for(ws.recv(), 5))
        assert reply == {"got": '{"route": {"name": "echo"}}'}


async def frames(data: bytes) -> None:
    server, errors = await serve()
    try:
        await asyncio.to_thread(raw_session, server.port, data)
        await still_serves(server.port)
        await asyncio.sleep(0.01)  # the $disconnects of both
        assert errors.lines == []
    finally:
        await stop(server, errors)


@FUZZ
@given(data=st.binary(max_size=300))
@example(data=b"\x81\x02hi")  # unmasked
@example(data=b"\x81\xff" + b"\x00" * 8)  # a 64-bit length of 0 with the mask bit
@example(data=b"\x89\x80abcd")  # a ping
@example(data=b"\x88\x82abcd\x00\x00")  # a close with a masked code
@example(data=b"\x01\x80abcd\x01\x80abcd")  # a fragment, then a new message
def test_fuzz_bytes_after_the_handshake(data: bytes) -> None:
    asyncio.run(frames(data))


async def messages(texts: list[str]) -> None:
    server, errors = await serve()
    try:
        async with connect(f"ws://127.0.0.1:{server.port}/f", max_size=None) as ws:
            for text in texts:
                await ws.send(text)
            replies = [orjson.loads(await asyncio.wait_for(ws.recv(), 5)) for _ in texts]
        # every message answered once, by echo or $default; none lost, none twice
        assert sorted(r["got"] for r in replies) == sorted(texts)
        assert errors.lines == []
    finally:
        await stop(server, errors)


@FUZZ
@given(
    texts=st.lists(
        st.one_of(
            st.text(max_size=60),
            st.builds(
                lambda v: json.dumps({"route": {"name": v}}),  # integers past 64 bits too
                st.one_of(st.text(max_size=10), st.integers(), st.booleans(), st.none()),
            ),
        ),
        min_size=1,
        max_size=5,
    )
)
@example(texts=['{"route": {"name": "$connect"}}', '{"route": "x"}', "[1]", "", "\x00"])
@example(
    texts=['{"route": {"name": 123456789012345678901234567890}}', '{"route": {"name": 1e400}}']
)
def test_fuzz_message_texts(texts: list[str]) -> None:
    asyncio.run(messages(texts))
