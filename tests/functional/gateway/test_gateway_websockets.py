"""WebSocket APIs on a real GatewayServer on loopback, driven by an independent client
(the ``websockets`` library) against an in-process Invoker."""

from __future__ import annotations

import asyncio
import base64
import os
import socket
from collections.abc import AsyncIterator
from typing import Any

import orjson
import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from canaria.auth import Keyring
from canaria.clock import RealClock
from canaria.gateway import GatewayServer, Routing
from canaria.gateway.websockets import websocket_api_id
from canaria.models import (
    Alias,
    AuthorizerSpec,
    RouteSpec,
    WebSocketApiSpec,
    WebSocketRoute,
    iam_authorizer,
)
from tests.unit.gateway.fakes import FakeInvoker, ListRecorder, proxy


def on_connect(event: dict[str, Any], version: int) -> Any:
    query = event.get("queryStringParameters") or {}
    if query.get("refuse"):
        return proxy(int(query["refuse"]), "go away")
    if query.get("crash"):
        raise RuntimeError("connect crashed")
    if query.get("protocol"):
        return {"statusCode": 200, "headers": {"Sec-WebSocket-Protocol": query["protocol"]}}
    return {"statusCode": 200}


def echo(event: dict[str, Any], version: int) -> Any:
    message = orjson.loads(event["body"])
    if message.get("crash"):
        raise ValueError("echo crashed")
    return {"statusCode": 200, "body": orjson.dumps({"echo": message, "v": version}).decode()}


def fallback(event: dict[str, Any], version: int) -> Any:
    return {"statusCode": 200, "body": f"default got {event['body']!r}"}


def silent(event: dict[str, Any], version: int) -> Any:
    return {"statusCode": 200, "body": "not sent: one-way route"}


def disconnected(event: dict[str, Any], version: int) -> Any:
    return {"statusCode": 200}


def authorize(event: dict[str, Any], version: int) -> Any:
    token = event["queryStringParameters"].get("token")
    effect = "Allow" if token == "allow" else "Deny"
    statement = {"Action": "execute-api:Invoke", "Effect": effect, "Resource": event["methodArn"]}
    return {
        "principalId": "me",
        "policyDocument": {"Version": "2012-10-17", "Statement": [statement]},
        "context": {"tenant": "blue"},
    }


CHAT = WebSocketApiSpec(
    "ChatApi",
    "Prod",
    "$request.body.action",
    (
        WebSocketRoute("$connect", "connect"),
        WebSocketRoute("$disconnect", "disconnect"),
        WebSocketRoute("echo", "echo", two_way=True),
        WebSocketRoute("quiet", "silent"),
    ),
    stage_variables=(("color", "red"),),
)
DEFAULTED = WebSocketApiSpec(
    "Defaulted",
    "dev",
    "${request.body.route.name}",
    (WebSocketRoute("$default", "fallback", two_way=True),),
)
GUARDED = WebSocketApiSpec(
    "Guarded",
    "secure",
    "$request.body.action",
    (
        WebSocketRoute(
            "$connect",
            "connect",
            authorizer=AuthorizerSpec(
                "Auth",
                "rest",
                "authorize",
                payload_type="REQUEST",
                headers=(),
                query_strings=("token",),
                ttl_s=0,
            ),
        ),
        WebSocketRoute("echo", "echo", two_way=True),
    ),
)


class Gateway:
    def __init__(self, server: GatewayServer, invoker: FakeInvoker, recorder: ListRecorder):
        self.server = server
        self.invoker = invoker
        self.recorder = recorder

    def url(self, stage: str, query: str = "") -> str:
        return f"ws://127.0.0.1:{self.server.port}/{stage}" + (f"?{query}" if query else "")

    def events(self, function: str) -> list[dict[str, Any]]:
        return [e for f, _, _, e in self.invoker.calls if f == function]

    async def until(self, function: str, count: int = 1) -> list[dict[str, Any]]:
        for _ in range(500):
            found = self.events(function)
            if len(found) >= count:
                return found
            await asyncio.sleep(0.01)
        raise AssertionError(f"{function} was invoked {len(self.events(function))} times")


@pytest.fixture
async def gw() -> AsyncIterator[Gateway]:
    routing = Routing()
    routing.set_routes(
        [RouteSpec("GET", "/hello", "rest", "RestApi", "Prod", "silent")], {"echo": "live"}
    )
    routing.set_alias(Alias("echo", "live", 2))
    for fn in ("connect", "disconnect", "fallback", "silent", "authorize"):
        routing.set_latest(fn, 1)
    invoker = FakeInvoker(
        {
            "connect": on_connect,
            "disconnect": disconnected,
            "echo": echo,
            "fallback": fallback,
            "silent": silent,
            "authorize": authorize,
        }
    )
    recorder = ListRecorder()
    server = GatewayServer(routing, invoker, recorder, RealClock(), port=0)
    server.websockets.configure({"ChatApi": CHAT, "Defaulted": DEFAULTED, "Guarded": GUARDED})
    await server.start()
    try:
        yield Gateway(server, invoker, recorder)
    finally:
        await server.stop()


async def test_a_conversation_runs_connect_routes_and_disconnect(gw: Gateway) -> None:
    async with connect(gw.url("Prod", "name=ana"), user_agent_header="chat-test") as ws:
        connected = (await gw.until("connect"))[0]
        ctx = connected["requestContext"]
        assert ctx["eventType"] == "CONNECT" and ctx["routeKey"] == "$connect"
        assert ctx["stage"] == "Prod" and ctx["messageDirection"] == "IN"
        assert ctx["apiId"] == websocket_api_id("ChatApi")
        assert ctx["domainName"] == f"{ctx['apiId']}.execute-api.us-east-1.amazonaws.com"
        assert ctx["identity"] == {"userAgent": "chat-test", "sourceIp": "127.0.0.1"}
        assert connected["queryStringParameters"] == {"name": "ana"}
        assert connected["headers"]["Sec-WebSocket-Version"] == "13"
        assert connected["stageVariables"] == {"color": "red"}

        await ws.send(orjson.dumps({"action": "echo", "n": 1}).decode())
        reply = orjson.loads(await ws.recv())
        assert reply == {"echo": {"action": "echo", "n": 1}, "v": 2}  # through the alias
        message = gw.events("echo")[0]
        assert message["requestContext"]["eventType"] == "MESSAGE"
        assert message["requestContext"]["routeKey"] == "echo"
        assert message["requestContext"]["connectionId"] == ctx["connectionId"]
        assert message["requestContext"]["connectedAt"] == ctx["connectedAt"]
        assert message["requestContext"]["messageId"]
        assert message["isBase64Encoded"] is False

        # a one-way route sends nothing back; the next two-way answer is the next frame
        await ws.send(orjson.dumps({"action": "quiet"}).decode())
        await gw.until("silent")
        await ws.send(orjson.dumps({"action": "echo", "n": 2}).decode())
        assert orjson.loads(await ws.recv())["echo"]["n"] == 2

        # a route the API lacks, without $default: API Gateway's Forbidden
        await ws.send('{"action": "nope"}')
        forbidden = orjson.loads(await ws.recv())
        assert forbidden["message"] == "Forbidden"
        assert forbidden["connectionId"] == ctx["connectionId"] and forbidden["requestId"]

        # a crashing function: Internal server error, and the connection stays
        await ws.send('{"action": "echo", "crash": true}')
        assert orjson.loads(await ws.recv())["message"] == "Internal server error"
        await ws.send('{"action": "echo", "n": 3}')
        assert orjson.loads(await ws.recv())["echo"]["n"] == 3

    gone = (await gw.until("disconnect"))[0]["requestContext"]
    assert gone["eventType"] == "DISCONNECT" and gone["routeKey"] == "$disconnect"
    assert gone["disconnectStatusCode"] == 1000
    assert gone["connectionId"] == ctx["connectionId"]
    assert gw.server.websockets.connections == {}
    recorded = [(r.function, r.alias, r.version) for r in gw.recorder.records]
    assert ("echo", "live", 2) in recorded and ("connect", None, 1) in recorded
    failed = [r for r in gw.recorder.records if r.result and r.result.function_error]
    assert [r.function for r in failed] == ["echo"]  # the crash counts against echo


async def test_messages_that_select_nothing_go_to_default(gw: Gateway) -> None:
    async with connect(gw.url("dev")) as ws:
        await ws.send("plain text, not JSON")
        assert await ws.recv() == "default got 'plain text, not JSON'"
        await ws.send('{"route": {"name": "missing"}}')
        assert "missing" in str(await ws.recv())
        await ws.send(b"\x00\x01binary")
        assert await ws.recv() == "default got 'AAFiaW5hcnk='"
        binary = gw.events("fallback")[-1]
        assert binary["isBase64Encoded"] is True


async def test_connect_refusals_are_answered_before_the_upgrade(gw: Gateway) -> None:
    with pytest.raises(InvalidStatus) as refused:
        async with connect(gw.url("Prod", "refuse=403")):
            pass
    assert refused.value.response.status_code == 403
    with pytest.raises(InvalidStatus) as crashed:
        async with connect(gw.url("Prod", "crash=1")):
            pass
    assert crashed.value.response.status_code == 500
    assert gw.server.websockets.connections == {}
    assert gw.events("disconnect") == []  # never connected: no $disconnect


async def test_connect_chooses_the_subprotocol_its_function_names(gw: Gateway) -> None:
    async with connect(gw.url("Prod", "protocol=chat.v2"), subprotocols=["chat.v2"]) as ws:
        assert ws.subprotocol == "chat.v2"


async def test_the_connect_authorizer_guards_the_connection(gw: Gateway) -> None:
    with pytest.raises(InvalidStatus) as denied:
        async with connect(gw.url("secure", "token=deny")):
            pass
    assert denied.value.response.status_code == 403
    with pytest.raises(InvalidStatus) as missing:
        async with connect(gw.url("secure")):
            pass
    assert missing.value.response.status_code == 401
    async with connect(gw.url("secure", "token=allow")) as ws:
        await ws.send('{"action": "echo"}')
        await ws.recv()
    asked = gw.events("authorize")[-1]
    assert asked["type"] == "REQUEST"
    assert asked["methodArn"].endswith(f"{websocket_api_id('Guarded')}/secure/$connect")
    message = gw.events("echo")[-1]
    assert message["requestContext"]["authorizer"]["tenant"] == "blue"
    assert message["requestContext"]["authorizer"]["principalId"] == "me"


async def test_a_message_over_128_kb_closes_the_connection(gw: Gateway) -> None:
    async with connect(gw.url("Prod"), max_size=None) as ws:
        await ws.send("x" * (128 * 1024 + 1))
        with pytest.raises(ConnectionClosed) as closed:
            await ws.recv()
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 1009
    gone = (await gw.until("disconnect"))[0]["requestContext"]
    assert gone["disconnectStatusCode"] == 1009


async def test_http_requests_and_other_paths_are_not_upgraded(gw: Gateway) -> None:
    status, _, _ = await asyncio.to_thread(_get, gw.server.port, "/Prod/hello")
    assert status == 200  # the REST route under the same stage name still answers
    with pytest.raises(InvalidStatus) as other:
        async with connect(f"ws://127.0.0.1:{gw.server.port}/Nope"):
            pass
    assert other.value.response.status_code == 403  # no route: API Gateway's 403


async def test_stopping_the_gateway_closes_open_connections(gw: Gateway) -> None:
    async with connect(gw.url("Prod")) as ws:
        await gw.until("connect")
        await gw.server.stop()
        with pytest.raises(ConnectionClosed) as closed:
            await ws.recv()
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 1001


def _get(port: int, path: str) -> tuple[int, dict[str, str], bytes]:
    import http.client

    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request("GET", path)
        resp = conn.getresponse()
        return resp.status, dict(resp.getheaders()), resp.read()
    finally:
        conn.close()


def _raw_handshake(port: int, stage: str) -> socket.socket:
    """A WebSocket connection opened by hand (no client library): its socket, past the
    101."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    key = base64.b64encode(os.urandom(16)).decode()
    sock.sendall(
        (
            f"GET /{stage} HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
            f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
            "Sec-WebSocket-Version: 13\r\n\r\n"
        ).encode()
    )
    head = b""
    while b"\r\n\r\n" not in head:
        head += sock.recv(1)
    assert head.startswith(b"HTTP/1.1 101"), head
    return sock


async def test_a_client_that_does_not_read_is_dropped_not_buffered(gw: Gateway) -> None:
    sock = await asyncio.to_thread(_raw_handshake, gw.server.port, "Prod")
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    try:
        for _ in range(100):
            if gw.server.websockets.connections:
                break
            await asyncio.sleep(0.01)
        (session,) = gw.server.websockets.connections.values()
        sent = 0
        while not session.closed and sent < 4000:  # 500 MB if it were all held
            session.send_data(b"x" * 128 * 1024)
            sent += 1
            await asyncio.sleep(0)
        assert session.closed and sent < 4000
        gone = (await gw.until("disconnect"))[0]["requestContext"]
        assert gone["disconnectStatusCode"] == 1006
        assert gw.server.websockets.connections == {}
    finally:
        sock.close()


async def test_a_frame_that_breaks_the_protocol_closes_the_connection(gw: Gateway) -> None:
    sock = await asyncio.to_thread(_raw_handshake, gw.server.port, "Prod")
    try:
        sock.sendall(b"\x81\x02hi")  # a client's text frame must be masked
        answer = await asyncio.to_thread(sock.recv, 64)
        assert answer[:1] == b"\x88"  # a close frame ...
        assert int.from_bytes(answer[2:4], "big") == 1002  # ... for a protocol error
    finally:
        sock.close()
    gone = (await gw.until("disconnect"))[0]["requestContext"]
    assert gone["disconnectStatusCode"] == 1002


async def test_a_connect_function_past_the_integration_timeout_is_answered_504() -> None:
    async def slow_connect(event: dict[str, Any], version: int) -> Any:
        await asyncio.sleep(1.0)
        return {"statusCode": 200}

    routing = Routing()
    routing.set_latest("slow", 1)
    invoker = FakeInvoker({"slow": slow_connect})
    recorder = ListRecorder()
    server = GatewayServer(
        routing, invoker, recorder, RealClock(), port=0, integration_timeout_s=0.2
    )
    api = WebSocketApiSpec(
        "Slow", "s", "$request.body.action", (WebSocketRoute("$connect", "slow"),)
    )
    server.websockets.configure({"Slow": api})
    await server.start()
    try:
        with pytest.raises(InvalidStatus) as timed_out:
            async with connect(f"ws://127.0.0.1:{server.port}/s"):
                pass
        assert timed_out.value.response.status_code == 504
        for _ in range(300):  # the invocation went on, and is recorded when it ends
            if recorder.records:
                break
            await asyncio.sleep(0.01)
        assert [r.function for r in recorder.records] == ["slow"]
    finally:
        await server.stop()


async def test_a_connection_keeps_the_version_its_upgrade_pinned(gw: Gateway) -> None:
    gw.server.routing.set_alias(
        Alias("echo", "live", 2, additional_version=3, additional_weight=0.5)
    )
    async with connect(gw.url("Prod"), additional_headers={"X-Canaria-Version": "3"}) as ws:
        for n in range(6):
            await ws.send(orjson.dumps({"action": "echo", "n": n}).decode())
            assert orjson.loads(await ws.recv())["v"] == 3
    async with connect(gw.url("Prod")) as ws:  # unpinned: the alias's split
        seen = set()
        for n in range(6):
            await ws.send(orjson.dumps({"action": "echo", "n": n}).decode())
            seen.add(orjson.loads(await ws.recv())["v"])
    assert seen == {2, 3}


async def test_an_iam_connect_needs_a_handshake_signed_by_canarias_keys() -> None:
    keyring = Keyring("a-token-of-the-operator")
    routing = Routing()
    routing.set_routes([], {"echo": "live"})
    routing.set_alias(Alias("echo", "live", 1))
    routing.set_latest("connect", 1)
    invoker = FakeInvoker({"connect": on_connect, "echo": echo})
    server = GatewayServer(routing, invoker, ListRecorder(), RealClock(), port=0, keyring=keyring)
    signed = WebSocketApiSpec(
        "Signed",
        "v1",
        "$request.body.action",
        (
            WebSocketRoute("$connect", "connect", authorizer=iam_authorizer("http")),
            WebSocketRoute("echo", "echo", two_way=True),
        ),
    )
    server.websockets.configure({"Signed": signed})
    await server.start()
    try:
        url = f"ws://127.0.0.1:{server.port}/v1"
        with pytest.raises(InvalidStatus) as unsigned:
            async with connect(url):
                pass
        assert unsigned.value.response.status_code == 403
        # the handshake's GET, signed as botocore signs it (awscurl and the SDKs alike)
        request = AWSRequest(method="GET", url=url.replace("ws://", "http://"))
        keys = Credentials(keyring.access_key, keyring.secret_key)
        SigV4Auth(keys, "execute-api", "us-east-1").add_auth(request)
        headers = {k: v for k, v in request.headers.items() if k.lower() != "host"}
        async with connect(url, additional_headers=headers) as ws:
            await ws.send('{"action": "echo"}')
            await ws.recv()
        [message] = [e for f, _, _, e in invoker.calls if f == "echo"]
        identity = message["requestContext"]["identity"]
        assert identity["accessKey"] == keyring.access_key
        assert identity["userArn"] == "arn:aws:iam::123456789012:user/canaria"
        assert "authorizer" not in message["requestContext"]
    finally:
        await server.stop()
