"""API Gateway Management API calls a function makes to an API's AWS endpoint, built from
its event as on Lambda, reach canaria's edge with no change to the function's code: the
Node.js SDKs (v3 and v2) through ``node/preload.js`` in real ``node`` processes, boto3
through the worker's ``boto_hooks.py`` in real workers. Each request keeps the endpoint's
path, names the API in ``x-canaria-api-id`` and is signed (SigV4, ``execute-api``) for the
host it reaches, as canaria's own verifier checks. Any other endpoint is left alone.

The edge here is a recording HTTP server on loopback. An endpoint left alone must still be
reachable to be seen, so those calls resolve every host name to loopback: boto3 through
the function's own ``socket.getaddrinfo``, Node.js through an agent's ``lookup``."""

from __future__ import annotations

import contextlib
import http.server
import os
import shutil
import subprocess
import textwrap
import threading
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any, NamedTuple

import orjson
import pytest

from canaria.clock import RealClock
from canaria.models import FunctionConfig, Version
from canaria.npm import node_modules
from canaria.runtime import FunctionRuntime, build_artifact
from canaria.runtime.launch import PRELOAD_JS
from canaria.sigv4 import verify
from tests.functional.harness import alive

KEY, SECRET = "AKIDCANARIATEST", "not-a-secret"
CREDENTIALS = {"AWS_ACCESS_KEY_ID": KEY, "AWS_SECRET_ACCESS_KEY": SECRET}
API_ID = "abc123defg"
API_HOST = f"{API_ID}.execute-api.us-east-1.amazonaws.com"
CONNECTION_PATH = "/Prod/@connections/Xy1%3D"  # ConnectionId "Xy1=", "=" escaped by every SDK
# hosts that only look like an API's: each call to one goes where its endpoint says
NOT_AN_API = [
    "127.0.0.1",
    "execute-api.us-east-1.amazonaws.com",  # the regional endpoint, naming no API
    f"{API_HOST}.example",
    f"{API_ID}.execute-api.us-east-1.amazonaws.org",
    "abc-123.execute-api.us-east-1.amazonaws.com",
]

needs_node = pytest.mark.skipif(shutil.which("node") is None, reason="needs node on PATH")


class Received(NamedTuple):
    method: str
    path: str  # as sent, escapes kept
    headers: dict[str, str]  # names lower-cased
    body: bytes


class Recorder(http.server.ThreadingHTTPServer):
    """An HTTP server on loopback that records what it is sent and answers as the
    Management API does: 200 with a JSON object, 204 to a DELETE."""

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Record)
        self.received: list[Received] = []
        self._lock = threading.Lock()

    @property
    def port(self) -> int:
        return int(self.server_address[1])

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def record(self, received: Received) -> None:
        with self._lock:
            self.received.append(received)


class _Record(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: Recorder

    def _answer(self) -> None:
        body = self.rfile.read(int(self.headers.get("content-length") or 0))
        headers = {name.lower(): value for name, value in self.headers.items()}
        self.server.record(Received(self.command, self.path, headers, body))
        if self.command == "DELETE":
            self.send_response(204)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        answer = b'{"connectedAt":"2024-05-01T12:00:00Z","identity":{"sourceIp":"127.0.0.1"}}'
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)

    do_POST = do_GET = do_DELETE = _answer

    def log_message(self, *args: object) -> None:
        pass


def _recorder() -> Iterator[Recorder]:
    server = Recorder()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


@pytest.fixture
def edge() -> Iterator[Recorder]:
    """Where ``AWS_ENDPOINT_URL`` points."""
    yield from _recorder()


@pytest.fixture
def elsewhere() -> Iterator[Recorder]:
    """Another server, which an endpoint left alone reaches."""
    yield from _recorder()


def assert_signed(received: Received, host: str) -> None:
    """Sent to ``host``, and SigV4-signed for it with the test's key, for execute-api."""
    assert received.headers["host"] == host
    authorization = received.headers["authorization"]
    assert f"Credential={KEY}/" in authorization and "/execute-api/aws4_request" in authorization
    url = f"http://{host}{received.path}"
    problem, akid = verify(
        received.method,
        url,
        received.headers,
        received.body,
        {KEY: SECRET}.get,
        now=time.time(),
    )
    assert (problem, akid) == (None, KEY)


def assert_reached_edge(edge: Recorder) -> None:
    """PostToConnection, GetConnection, DeleteConnection, in that order, at the edge."""
    calls = [(r.method, r.path, r.body) for r in edge.received]
    assert calls == [
        ("POST", CONNECTION_PATH, b"hi"),
        ("GET", CONNECTION_PATH, b""),
        ("DELETE", CONNECTION_PATH, b""),
    ]
    for received in edge.received:
        assert received.headers["x-canaria-api-id"] == API_ID
        assert_signed(received, f"127.0.0.1:{edge.port}")


def assert_left_alone(edge: Recorder, elsewhere: Recorder, host: str) -> None:
    assert edge.received == []
    assert [(r.method, r.path, r.body) for r in elsewhere.received] == [
        ("POST", CONNECTION_PATH, b"hi")
    ]
    (received,) = elsewhere.received
    assert "x-canaria-api-id" not in received.headers
    assert_signed(received, f"{host}:{elsewhere.port}")


@contextlib.asynccontextmanager
async def _runtime(env_extra: dict[str, str]) -> AsyncIterator[FunctionRuntime]:
    """A FunctionRuntime of function Fn, closed with every process it started."""
    runtime = FunctionRuntime(
        "Fn",
        reserved_concurrency=None,
        env_extra=env_extra,
        clock=RealClock(),
        on_log=lambda _: None,
    )
    try:
        yield runtime
    finally:
        pids = runtime.worker_pids()
        await runtime.close()
        assert not [p for p in pids if alive(p)]


# ---- Node.js: node --require preload.js ---------------------------------------------------

NODE_FUNCTION = textwrap.dedent(
    """
    // node <this> v3|v2 <endpoint> [loopback]: a function's calls, as it writes them
    const http = require('http');
    const [generation, endpoint, resolve] = process.argv.slice(2);
    // with "loopback", every host name resolves to 127.0.0.1 (http endpoints only)
    const lookup = (host, options, callback) =>
      options && options.all
        ? callback(null, [{ address: '127.0.0.1', family: 4 }])
        : callback(null, '127.0.0.1', 4);
    const agent = resolve === 'loopback' ? new http.Agent({ lookup }) : undefined;
    const ConnectionId = 'Xy1=';

    async function v3() {
      const sdk = require('@aws-sdk/client-apigatewaymanagementapi');
      const client = new sdk.ApiGatewayManagementApiClient(
        agent ? { endpoint, requestHandler: { httpAgent: agent } } : { endpoint });
      await client.send(new sdk.PostToConnectionCommand({ ConnectionId, Data: 'hi' }));
      if (agent) return;
      const found = await client.send(new sdk.GetConnectionCommand({ ConnectionId }));
      if (found.Identity.SourceIp !== '127.0.0.1') throw new Error('GetConnection');
      await client.send(new sdk.DeleteConnectionCommand({ ConnectionId }));
    }

    async function v2() {
      const AWS = require('aws-sdk');
      const client = new AWS.ApiGatewayManagementApi(
        agent ? { apiVersion: '2018-11-29', endpoint, httpOptions: { agent } }
              : { apiVersion: '2018-11-29', endpoint });
      await client.postToConnection({ ConnectionId, Data: 'hi' }).promise();
      if (agent) return;
      const found = await client.getConnection({ ConnectionId }).promise();
      if (found.Identity.SourceIp !== '127.0.0.1') throw new Error('GetConnection');
      await client.deleteConnection({ ConnectionId }).promise();
    }

    (generation === 'v3' ? v3 : v2)().catch((err) => {
      console.error(err);
      process.exit(1);
    });
    """
)


def run_node(tmp_path: Path, generation: str, endpoint: str, *extra: str, edge: str | None) -> None:
    script = tmp_path / "function.js"
    script.write_text(NODE_FUNCTION)
    env = {
        "PATH": os.environ["PATH"],
        "NODE_PATH": str(node_modules()),
        "AWS_REGION": "us-east-1",
        "AWS_SDK_JS_SUPPRESS_MAINTENANCE_MODE_MESSAGE": "1",
        **CREDENTIALS,
    }
    if edge is not None:
        env["AWS_ENDPOINT_URL"] = edge
    done = subprocess.run(
        ["node", "--require", str(PRELOAD_JS), str(script), generation, endpoint, *extra],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr


@needs_node
@pytest.mark.parametrize(
    ("generation", "endpoint"),
    [
        ("v3", f"https://{API_HOST}/Prod"),  # from apiId, AWS_REGION and stage
        ("v2", f"{API_HOST}/Prod"),  # domainName + '/' + stage: v2 assumes https
        ("v2", f"https://{API_ID}.execute-api.cn-north-1.amazonaws.com.cn/Prod"),
    ],
)
def test_node_calls_to_an_apis_aws_endpoint_reach_the_edge(
    tmp_path: Path, edge: Recorder, generation: str, endpoint: str
) -> None:
    run_node(tmp_path, generation, endpoint, edge=edge.url)
    assert_reached_edge(edge)


@needs_node
@pytest.mark.parametrize("generation", ["v3", "v2"])
@pytest.mark.parametrize("host", NOT_AN_API)
def test_node_calls_to_other_endpoints_are_left_alone(
    tmp_path: Path, edge: Recorder, elsewhere: Recorder, generation: str, host: str
) -> None:
    endpoint = f"http://{host}:{elsewhere.port}/Prod"
    run_node(tmp_path, generation, endpoint, "loopback", edge=edge.url)
    assert_left_alone(edge, elsewhere, host)


@needs_node
@pytest.mark.parametrize("generation", ["v3", "v2"])
def test_node_without_aws_endpoint_url_changes_nothing(
    tmp_path: Path, elsewhere: Recorder, generation: str
) -> None:
    run_node(
        tmp_path, generation, f"http://{API_HOST}:{elsewhere.port}/Prod", "loopback", edge=None
    )
    (received,) = elsewhere.received
    assert received.path == CONNECTION_PATH and "x-canaria-api-id" not in received.headers
    assert_signed(received, f"{API_HOST}:{elsewhere.port}")


NODE_HANDLERS = textwrap.dedent(
    """
    exports.v3 = async (event) => {
      const sdk = require('@aws-sdk/client-apigatewaymanagementapi');
      const { apiId, stage, connectionId } = event.requestContext;
      const client = new sdk.ApiGatewayManagementApiClient({
        endpoint: `https://${apiId}.execute-api.${process.env.AWS_REGION}.amazonaws.com/${stage}`,
      });
      const post = new sdk.PostToConnectionCommand({ ConnectionId: connectionId, Data: 'hi' });
      await client.send(post);
      return 'sent';
    };
    exports.v2 = async (event) => {
      const AWS = require('aws-sdk');
      const { domainName, stage, connectionId } = event.requestContext;
      const client = new AWS.ApiGatewayManagementApi({
        apiVersion: '2018-11-29', endpoint: domainName + '/' + stage });
      await client.postToConnection({ ConnectionId: connectionId, Data: 'hi' }).promise();
      return 'sent';
    };
    """
)


ESM_HANDLER = textwrap.dedent(
    """
    import { ApiGatewayManagementApiClient, PostToConnectionCommand }
      from '@aws-sdk/client-apigatewaymanagementapi';
    export const v3 = async (event) => {
      const { domainName, stage, connectionId } = event.requestContext;
      const client = new ApiGatewayManagementApiClient({
        endpoint: 'https://' + domainName + '/' + stage });
      await client.send(new PostToConnectionCommand({ ConnectionId: connectionId, Data: 'hi' }));
      return 'sent';
    };
    """
)


@needs_node
@pytest.mark.parametrize(
    ("language", "handler"),
    [("nodejs20.x", "index.v3"), ("nodejs20.x", "esm.v3"), ("nodejs16.x", "index.v2")],
)
async def test_a_node_function_run_by_canaria_reaches_the_edge(
    tmp_path: Path, edge: Recorder, language: str, handler: str
) -> None:
    """As canaria runs it: the SDK its runtime provides, the preload from NODE_OPTIONS."""
    code = tmp_path / "code"
    code.mkdir()
    (code / "index.js").write_text(NODE_HANDLERS)
    (code / "esm.mjs").write_text(ESM_HANDLER)
    digest, artifact = build_artifact(str(code), str(tmp_path / "state"))
    config = FunctionConfig(handler=handler, runtime=language, code_uri=str(code))
    version = Version("Fn", 1, digest, config, artifact, 0.0)
    context = {"apiId": API_ID, "domainName": API_HOST, "stage": "Prod", "connectionId": "Xy1="}
    event = {"requestContext": context}
    async with _runtime({"AWS_ENDPOINT_URL": edge.url, **CREDENTIALS}) as runtime:
        result = await runtime.invoke(version, orjson.dumps(event), qualifier=None)
    assert result.ok, result.logs
    assert orjson.loads(result.payload) == "sent"
    (received,) = edge.received
    assert (received.method, received.path, received.body) == ("POST", CONNECTION_PATH, b"hi")
    assert received.headers["x-canaria-api-id"] == API_ID
    assert_signed(received, f"127.0.0.1:{edge.port}")


# ---- Python: canaria's worker ----------------------------------------------------------

PYTHON_FUNCTION = textwrap.dedent(
    """
    import socket

    import boto3

    def calls(event, context):
        client = boto3.client("apigatewaymanagementapi", endpoint_url=event["endpoint"])
        client.post_to_connection(ConnectionId="Xy1=", Data=b"hi")
        if event.get("post_only"):
            return "sent"
        found = client.get_connection(ConnectionId="Xy1=")
        client.delete_connection(ConnectionId="Xy1=")
        return found["Identity"]["SourceIp"]

    def loopback(event, context):
        real = socket.getaddrinfo
        socket.getaddrinfo = lambda host, *args, **kw: real("127.0.0.1", *args, **kw)
        try:
            return calls(event, context)
        finally:
            socket.getaddrinfo = real
    """
)
QUIET_FUNCTION = textwrap.dedent(
    """
    import sys

    def modules(event, context):
        return sorted(m for m in sys.modules if m.split(".")[0] in ("botocore", "boto_hooks"))
    """
)
OWN_BOTO_HOOKS = "def handler(event, context):\n    return 'the function owns this name'\n"


class Functions:
    def __init__(self, tmp_path: Path, runtime: FunctionRuntime) -> None:
        code = tmp_path / "code"
        code.mkdir()
        (code / "app.py").write_text(PYTHON_FUNCTION)
        (code / "quiet.py").write_text(QUIET_FUNCTION)
        (code / "boto_hooks.py").write_text(OWN_BOTO_HOOKS)
        self.code = str(code)
        self.digest, self.artifact = build_artifact(self.code, str(tmp_path / "state"))
        self.runtime = runtime
        self._n = 0

    async def call(self, handler: str, event: dict[str, Any] | None = None) -> Any:
        self._n += 1
        config = FunctionConfig(handler=handler, runtime="python3.11", code_uri=self.code)
        version = Version("Fn", self._n, self.digest, config, self.artifact, 0.0)
        result = await self.runtime.invoke(version, orjson.dumps(event or {}), qualifier=None)
        assert result.ok, result.logs
        return orjson.loads(result.payload)


@contextlib.asynccontextmanager
async def _functions(tmp_path: Path, env_extra: dict[str, str]) -> AsyncIterator[Functions]:
    async with _runtime(env_extra) as runtime:
        yield Functions(tmp_path, runtime)


@pytest.fixture
async def functions(tmp_path: Path, edge: Recorder) -> AsyncIterator[Functions]:
    async with _functions(tmp_path, {"AWS_ENDPOINT_URL": edge.url, **CREDENTIALS}) as f:
        yield f


@pytest.mark.parametrize(
    "endpoint",
    [
        f"https://{API_HOST}/Prod",
        f"https://{API_ID}.execute-api.cn-north-1.amazonaws.com.cn:8443/Prod",
    ],
)
async def test_boto3_calls_to_an_apis_aws_endpoint_reach_the_edge(
    functions: Functions, edge: Recorder, endpoint: str
) -> None:
    assert await functions.call("app.calls", {"endpoint": endpoint}) == "127.0.0.1"
    assert_reached_edge(edge)


@pytest.mark.parametrize("host", NOT_AN_API)
async def test_boto3_calls_to_other_endpoints_are_left_alone(
    functions: Functions, edge: Recorder, elsewhere: Recorder, host: str
) -> None:
    event = {"endpoint": f"http://{host}:{elsewhere.port}/Prod", "post_only": True}
    assert await functions.call("app.loopback", event) == "sent"
    assert_left_alone(edge, elsewhere, host)


async def test_boto3_without_aws_endpoint_url_changes_nothing(
    tmp_path: Path, elsewhere: Recorder
) -> None:
    async with _functions(tmp_path, dict(CREDENTIALS)) as functions:
        event = {"endpoint": f"http://{API_HOST}:{elsewhere.port}/Prod", "post_only": True}
        assert await functions.call("app.loopback", event) == "sent"
    (received,) = elsewhere.received
    assert received.path == CONNECTION_PATH and "x-canaria-api-id" not in received.headers
    assert_signed(received, f"{API_HOST}:{elsewhere.port}")


async def test_the_hook_waits_for_botocore_and_takes_no_module_name(
    functions: Functions,
) -> None:
    """A function that never imports boto3 does not load botocore for it, and a module of
    the function named as the worker's hook module is the function's."""
    assert await functions.call("quiet.modules") == []
    assert await functions.call("boto_hooks.handler") == "the function owns this name"
