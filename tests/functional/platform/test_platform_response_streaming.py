"""Lambda response streaming through a real `canaria up`: a RESPONSE_STREAM function URL
and `InvokeWithResponseStream` pass each piece on as the function writes it.

Each handler writes a first piece, then waits until the test creates a file (the gate),
then writes the rest. The test reads the first piece before it opens the gate, so a
response that was buffered rather than streamed cannot pass: the handler would give up
waiting and write that the gate never opened.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import time
import urllib.parse
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.functional.harness import Canaria, write_app

TEMPLATE = """\
AWSTemplateFormatVersion: "2010-09-09"
Transform: AWS::Serverless-2016-10-31
Globals:
  Function:
    AutoPublishAlias: live
    FunctionUrlConfig:
      AuthType: NONE
      InvokeMode: RESPONSE_STREAM
      Cors: {AllowOrigins: [https://app.example]}
Resources:
  Sse:
    Type: AWS::Serverless::Function
    Properties: {Handler: index.sse, Runtime: nodejs20.x, CodeUri: node}
  Broken:
    Type: AWS::Serverless::Function
    Properties: {Handler: index.broken, Runtime: nodejs20.x, CodeUri: node}
  Custom:
    Type: AWS::Serverless::Function
    Properties: {Handler: unused, Runtime: provided.al2023, CodeUri: custom}
  Hangs:
    Type: AWS::Serverless::Function
    Properties: {Handler: index.hangs, Runtime: nodejs20.x, CodeUri: node, Timeout: 2}
  Big:
    Type: AWS::Serverless::Function
    Properties: {Handler: index.big, Runtime: nodejs20.x, CodeUri: node, Timeout: 60}
  Forgets:
    Type: AWS::Serverless::Function
    Properties: {Handler: index.forgets, Runtime: nodejs20.x, CodeUri: node}
  NoPrelude:
    Type: AWS::Serverless::Function
    Properties: {Handler: index.noPrelude, Runtime: nodejs20.x, CodeUri: node}
  Caller:
    Type: AWS::Serverless::Function
    Properties: {Handler: caller.handler, Runtime: nodejs20.x, CodeUri: node}
  Plain:
    Type: AWS::Serverless::Function
    Properties: {Handler: app.handler, Runtime: python3.11, CodeUri: python}
  # API Gateway's REST response streaming, as aws-samples/serverless-patterns
  # apigw-lambda-bedrock-sam-node declares it
  StreamingApi:
    Type: AWS::Serverless::Api
    Properties:
      StageName: prod
      DefinitionBody:
        openapi: 3.0.1
        info: {title: streaming, version: 1.0.0}
        paths:
          /story:
            get:
              x-amazon-apigateway-integration:
                type: aws_proxy
                httpMethod: POST
                responseTransferMode: STREAM
                uri: !Sub "arn:aws:apigateway:${AWS::Region}:lambda:path/2021-11-15/\\
                  functions/${Sse.Arn}/response-streaming-invocations"
"""

# a function reading another's stream with the AWS SDK for JavaScript v3
CALLER = """\
const { LambdaClient, InvokeWithResponseStreamCommand } = require('@aws-sdk/client-lambda');
exports.handler = async (event) => {
  const out = await new LambdaClient({}).send(new InvokeWithResponseStreamCommand({
    FunctionName: 'Sse', Qualifier: 'live', Payload: JSON.stringify({ gate: event.gate }),
  }));
  let text = '';
  let complete = null;
  for await (const item of out.EventStream) {
    if (item.PayloadChunk) text += Buffer.from(item.PayloadChunk.Payload).toString('latin1');
    if (item.InvokeComplete) complete = item.InvokeComplete;
  }
  return { type: out.ResponseStreamContentType, version: out.ExecutedVersion, text, complete };
};
"""

PYTHON = """\
def handler(event, context):
    return {"ok": True}
"""

# the gate's path comes in the URL's query (a function URL) or the payload (an Invoke)
NODE = """\
const fs = require('fs');
async function opened(event) {
  const gate = (event.queryStringParameters || {}).gate || event.gate;
  for (let i = 0; i < 2000; i++) {
    if (fs.existsSync(gate)) return true;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  return false;
}
exports.sse = awslambda.streamifyResponse(async (event, responseStream) => {
  const stream = awslambda.HttpResponseStream.from(responseStream, {
    statusCode: 201,
    headers: { 'Content-Type': 'text/event-stream', 'X-Kind': 'sse' },
    cookies: ['seen=1'],
  });
  stream.write('data: first\\n\\n');
  stream.write((await opened(event)) ? 'data: second\\n\\n' : 'data: the gate never opened\\n\\n');
  stream.end();
});
exports.hangs = awslambda.streamifyResponse(async (event, responseStream) => {
  responseStream.write('started');
  await new Promise(() => setInterval(() => {}, 1000)); // never ends: its Timeout does
});
// 64 MB in 64 KB writes, waiting whenever the stream says so (as stream.pipeline does);
// how far it got is written to the file the request names
exports.big = awslambda.streamifyResponse(async (event, responseStream) => {
  const progress = (event.queryStringParameters || {}).progress || event.progress;
  const piece = Buffer.alloc(64 * 1024, 'x');
  for (let sent = 0; sent < 64 * 1024 * 1024; ) {
    const room = responseStream.write(piece);
    sent += piece.length;
    if (sent % (1024 * 1024) === 0) fs.writeFileSync(progress, String(sent));
    if (!room) await new Promise((resolve) => responseStream.once('drain', resolve));
  }
  responseStream.end();
});
exports.forgets = awslambda.streamifyResponse(async (event, responseStream) => {
  responseStream.write('started');
  await new Promise(() => {}); // nothing left to run: the loop empties
});
exports.noPrelude = awslambda.streamifyResponse(async (event, responseStream) => {
  responseStream.setContentType('application/vnd.awslambda.http-integration-response');
  responseStream.write('not json');
  responseStream.write(Buffer.alloc(8));
  responseStream.end('body');
});
exports.broken = awslambda.streamifyResponse(async (event, responseStream) => {
  responseStream.setContentType('text/plain');
  responseStream.write('half');
  await opened(event);
  throw new TypeError('stream broke');
});
"""

# a custom runtime that streams as the Lambda Web Adapter does: Node.js's own HTTP client,
# a chunked POST with Lambda-Runtime-Function-Response-Mode: streaming
CUSTOM = """\
#!/usr/bin/env node
const http = require('http');
const fs = require('fs');
const [host, port] = process.env.AWS_LAMBDA_RUNTIME_API.split(':');
const base = '/2018-06-01/runtime/invocation/';
function next() {
  return new Promise((resolve) => {
    http.get({ host, port, path: base + 'next' }, (res) => {
      let body = '';
      res.on('data', (d) => (body += d));
      const id = res.headers['lambda-runtime-aws-request-id'];
      res.on('end', () => resolve({ id, event: JSON.parse(body) }));
    });
  });
}
async function opened(gate) {
  for (let i = 0; i < 2000; i++) {
    if (fs.existsSync(gate)) return true;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  return false;
}
(async () => {
  for (;;) {
    const { id, event } = await next();
    const done = new Promise((resolve) => {
      const req = http.request({
        host, port, method: 'POST', path: base + id + '/response',
        headers: {
          'Lambda-Runtime-Function-Response-Mode': 'streaming',
          'Transfer-Encoding': 'chunked',
          'Content-Type': 'text/plain',
          'Trailer': 'Lambda-Runtime-Function-Error-Type',
        },
      }, (res) => { res.resume(); res.on('end', resolve); });
      req.write('one ');
      opened((event.queryStringParameters || {}).gate).then((ok) => {
        req.end(ok ? 'two' : 'the gate never opened');
      });
    });
    await done;
  }
})();
"""


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Canaria]:
    root = tmp_path_factory.mktemp("streaming")
    files = {
        "template.yaml": TEMPLATE,
        "node/index.js": NODE,
        "custom/bootstrap": CUSTOM,
        "python/app.py": PYTHON,
        "node/caller.js": CALLER,
    }
    template = write_app(root / "app", files)
    (root / "app" / "custom" / "bootstrap").chmod(0o755)
    c = Canaria(template, root / "state").start()
    yield c
    c.stop()


def url_port(c: Canaria, function: str) -> int:
    port = urllib.parse.urlsplit(c.api().get("/status")["function_urls"][function]).port
    assert port is not None
    return port


@contextlib.contextmanager
def get(port: int, gate: Path, path: str = "/") -> Iterator[http.client.HTTPResponse]:
    """A GET naming ``gate``, answered once the head has arrived."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        query = urllib.parse.urlencode({"gate": str(gate)})
        conn.request("GET", f"{path}?{query}", headers={"Origin": "https://app.example"})
        yield conn.getresponse()
    finally:
        conn.close()


def test_a_function_url_streams_the_head_and_each_piece_as_written(
    app: Canaria, tmp_path: Path
) -> None:
    gate = tmp_path / "gate"
    with get(url_port(app, "Sse"), gate) as answer:
        assert answer.status == 201
        assert answer.headers["Content-Type"] == "text/event-stream"
        assert answer.headers["X-Kind"] == "sse"
        assert answer.headers["Set-Cookie"] == "seen=1"
        assert answer.headers["Transfer-Encoding"] == "chunked"
        assert answer.headers["Access-Control-Allow-Origin"] == "https://app.example"
        assert answer.read1(65536) == b"data: first\n\n"  # before the handler goes on
        gate.touch()
        assert answer.read() == b"data: second\n\n"


def test_a_rest_method_with_response_transfer_mode_stream_streams(
    app: Canaria, tmp_path: Path
) -> None:
    gate = tmp_path / "gate"
    with get(app.port, gate, "/prod/story") as answer:
        assert answer.status == 201
        assert answer.headers["Content-Type"] == "text/event-stream"
        assert answer.headers["x-amzn-RequestId"]
        assert answer.read1(65536) == b"data: first\n\n"
        gate.touch()
        assert answer.read() == b"data: second\n\n"


def test_a_custom_runtime_streams_through_a_function_url(app: Canaria, tmp_path: Path) -> None:
    gate = tmp_path / "gate"
    with get(url_port(app, "Custom"), gate) as answer:
        assert answer.status == 200
        assert answer.headers["Content-Type"] == "text/plain"
        assert answer.read1(65536) == b"one "
        gate.touch()
        assert answer.read() == b"two"


def test_a_failure_after_the_head_cuts_the_body_short(app: Canaria, tmp_path: Path) -> None:
    gate = tmp_path / "gate"
    with get(url_port(app, "Broken"), gate) as answer:
        assert answer.status == 200
        assert answer.read1(65536) == b"half"
        gate.touch()
        with pytest.raises(http.client.IncompleteRead):
            answer.read()


BIG = 64 * 1024 * 1024


def settled(progress: Path) -> int:
    """How far the function got, once it has stopped getting further (at most 20 s)."""
    last, still_since = -1, time.monotonic()
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        now = int(progress.read_text() or 0) if progress.exists() else 0
        if now != last:
            last, still_since = now, time.monotonic()
        elif time.monotonic() - still_since > 0.5:
            break
        time.sleep(0.05)
    return last


def test_a_client_that_reads_slowly_holds_the_functions_writes(
    app: Canaria, tmp_path: Path
) -> None:
    """Backpressure: while the client reads nothing, the function's writes wait (a few
    socket buffers' worth ahead), rather than canaria holding the whole response."""
    progress = tmp_path / "url"
    conn = http.client.HTTPConnection("127.0.0.1", url_port(app, "Big"), timeout=60)
    try:
        conn.request("GET", "/?" + urllib.parse.urlencode({"progress": str(progress)}))
        answer = conn.getresponse()
        first = answer.read1(65536)
        held = settled(progress)
        assert held < BIG * 3 // 4, held  # without backpressure: all of it
        assert len(first) + len(answer.read()) == BIG
    finally:
        conn.close()
    assert settled(progress) == BIG

    progress = tmp_path / "invoke"
    out = app.aws("lambda").invoke_with_response_stream(
        FunctionName="Big", Payload=json.dumps({"progress": str(progress)})
    )
    events = _chunks(out["EventStream"])
    _, body = next(events)
    held = settled(progress)
    assert held < BIG * 3 // 4, held
    size = len(body["Payload"]) + sum(len(b.get("Payload", b"")) for _, b in events)
    assert size == BIG


def test_a_stream_the_function_never_ends_is_cut_at_its_timeout(app: Canaria) -> None:
    with get(url_port(app, "Hangs"), Path("/nonexistent")) as answer:
        assert answer.status == 200
        assert answer.read1(65536) == b"started"
        with pytest.raises(http.client.IncompleteRead):  # Timeout: 2 ends it
            answer.read()
    out = app.aws("lambda").invoke_with_response_stream(FunctionName="Hangs", Payload=b"{}")
    events = list(_chunks(out["EventStream"]))
    assert events[0] == ("PayloadChunk", {"Payload": b"started"})
    assert events[-1][1]["ErrorCode"] == "Sandbox.Timedout"


def test_a_promise_that_never_settles_ends_the_stream_with_nodejs_exit(app: Canaria) -> None:
    lam = app.aws("lambda")
    for _ in range(2):  # the environment lives on, as after any handler's NodeJsExit
        out = lam.invoke_with_response_stream(FunctionName="Forgets", Payload=b"{}")
        events = list(_chunks(out["EventStream"]))
        assert events[0] == ("PayloadChunk", {"Payload": b"started"})
        assert events[-1][1]["ErrorCode"] == "Runtime.NodeJsExit"


def test_http_metadata_that_is_not_json_is_an_integration_error(app: Canaria) -> None:
    """Answered as a function URL answers a malformed response (its HTTP API's 500)."""
    with get(url_port(app, "NoPrelude"), Path("/nonexistent")) as answer:
        assert answer.status == 500
        assert answer.read() == b'{"message":"Internal Server Error"}'


def _chunks(events: Any) -> Iterator[tuple[str, Any]]:
    for event in events:
        ((kind, body),) = event.items()
        yield kind, body


def test_invoke_with_response_stream_sends_each_piece_then_invoke_complete(
    app: Canaria, tmp_path: Path
) -> None:
    gate = tmp_path / "gate"
    lam = app.aws("lambda")
    out = lam.invoke_with_response_stream(
        FunctionName="Sse", Qualifier="live", Payload=json.dumps({"gate": str(gate)})
    )
    assert out["ExecutedVersion"] == "1"
    assert out["ResponseStreamContentType"] == "application/vnd.awslambda.http-integration-response"
    events = _chunks(out["EventStream"])
    received = b""
    while b"data: first" not in received:  # the prelude, then the first piece
        kind, body = next(events)
        assert kind == "PayloadChunk"
        received += body["Payload"]
    prelude, _, first = received.partition(b"\0" * 8)
    assert json.loads(prelude)["statusCode"] == 201
    assert first == b"data: first\n\n"
    gate.touch()
    rest = list(events)
    assert rest[-1] == ("InvokeComplete", {})
    assert b"".join(body["Payload"] for _, body in rest[:-1]) == b"data: second\n\n"


def test_a_function_reads_a_stream_with_the_sdk_for_javascript(
    app: Canaria, tmp_path: Path
) -> None:
    gate = tmp_path / "gate"
    gate.touch()
    out = app.aws("lambda").invoke(FunctionName="Caller", Payload=json.dumps({"gate": str(gate)}))
    answer = json.loads(out["Payload"].read())
    assert "FunctionError" not in out, answer
    prelude, _, body = answer["text"].partition("\0" * 8)
    assert json.loads(prelude)["statusCode"] == 201
    assert body == "data: first\n\ndata: second\n\n"
    assert answer["type"] == "application/vnd.awslambda.http-integration-response"
    assert answer["version"] == "1"
    assert answer["complete"] == {}


def test_invoke_with_response_stream_of_a_failing_stream_names_the_error(
    app: Canaria, tmp_path: Path
) -> None:
    gate = tmp_path / "gate"
    gate.touch()
    out = app.aws("lambda").invoke_with_response_stream(
        FunctionName="Broken", Payload=json.dumps({"gate": str(gate)}), LogType="Tail"
    )
    events = list(_chunks(out["EventStream"]))
    assert events[0] == ("PayloadChunk", {"Payload": b"half"})
    kind, complete = events[-1]
    assert kind == "InvokeComplete"
    assert complete["ErrorCode"] == "TypeError"
    assert complete["ErrorDetails"] == "stream broke"
    assert complete["LogResult"]  # the tail of the invocation's log, base64


def test_invoke_with_response_stream_of_a_function_that_does_not_stream(app: Canaria) -> None:
    """A function that does not stream answers in one piece, as Lambda answers it; what
    fails before any piece is answered as Invoke answers it."""
    lam = app.aws("lambda")
    out = lam.invoke_with_response_stream(FunctionName="Plain", Payload=b"{}")
    assert out["ResponseStreamContentType"] == "application/json"
    (kind, chunk), complete = list(_chunks(out["EventStream"]))
    assert kind == "PayloadChunk"
    assert json.loads(chunk["Payload"]) == {"ok": True}
    assert complete == ("InvokeComplete", {})
    assert (
        lam.invoke_with_response_stream(FunctionName="Plain", InvocationType="DryRun")["StatusCode"]
        == 204
    )
    with pytest.raises(lam.exceptions.ResourceNotFoundException):
        lam.invoke_with_response_stream(FunctionName="Nothing")
