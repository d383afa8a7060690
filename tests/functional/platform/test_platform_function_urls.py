"""Function URLs through a real `canaria up`: a port of its own per FunctionUrlConfig,
every method and path to the function through its alias, payload format 2.0, the port
kept across a restart, the listener gone with the config."""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.functional.harness import Canaria, write_app

TEMPLATE = """\
AWSTemplateFormatVersion: "2010-09-09"
Transform: AWS::Serverless-2016-10-31
Parameters:
  Answer: {Type: String, Default: one}
Resources:
  Fn:
    Type: AWS::Serverless::Function
    Properties:
      Handler: app.handler
      Runtime: python3.11
      CodeUri: src
      AutoPublishAlias: live
      DeploymentPreference: {Type: AllAtOnce}
      Environment: {Variables: {ANSWER: !Ref Answer}}
      FunctionUrlConfig: {AuthType: NONE}
"""

HANDLER = """\
import json, os

def handler(event, context):
    http = event["requestContext"]["http"]
    body = {
        "answer": os.environ["ANSWER"],
        "version": event["version"],
        "routeKey": event["routeKey"],
        "method": http["method"],
        "rawPath": event["rawPath"],
        "query": event.get("queryStringParameters"),
        "body": event.get("body"),
        "arn": context.invoked_function_arn,
    }
    return {"statusCode": 200, "headers": {"content-type": "application/json"},
            "body": json.dumps(body)}
"""


@pytest.fixture
def app(tmp_path: Path) -> Iterator[Canaria]:
    template = write_app(tmp_path / "app", {"template.yaml": TEMPLATE, "src/app.py": HANDLER})
    c = Canaria(template, tmp_path / "state").start()
    yield c
    c.stop()


def url_of(c: Canaria) -> str:
    urls: dict[str, str] = c.api().get("/status")["function_urls"]
    assert list(urls) == ["Fn"], urls
    return urls["Fn"]


def call(url: str, method: str = "GET", data: bytes | None = None) -> dict[str, object]:
    request = urllib.request.Request(url, data=data, method=method)
    with urllib.request.urlopen(request, timeout=30) as answer:
        assert answer.status == 200
        result: dict[str, object] = json.loads(answer.read())
        return result


def test_a_function_url_serves_every_path_through_the_alias(app: Canaria) -> None:
    url = url_of(app)
    assert call(url + "any/path?a=1&b=2", "POST", b"hi") == {
        "answer": "one",
        "version": "2.0",
        "routeKey": "$default",
        "method": "POST",
        "rawPath": "/any/path",
        "query": {"a": "1", "b": "2"},
        "body": "hi",
        "arn": "arn:aws:lambda:us-east-1:123456789012:function:Fn:live",
    }
    r = app.cli("deploy", "-t", str(app.template), "--parameter-overrides", "Answer=two", "--json")
    assert r.returncode == 0, r.stdout + r.stderr
    deployment = json.loads(r.stdout)["deployments"][0]["id"]
    assert app.wait_deployment(deployment)["state"] == "Succeeded"
    assert call(url)["answer"] == "two"  # the alias moved: so did its URL
    assert url_of(app) == url
    status = app.cli("status")
    assert status.returncode == 0 and url in status.stdout, status.stdout


def test_the_url_keeps_its_port_across_a_restart_and_goes_with_its_config(
    app: Canaria,
) -> None:
    url = url_of(app)
    app.stop()
    app.start()
    assert url_of(app) == url
    assert call(url)["answer"] == "one"
    app.template.write_text(TEMPLATE.replace("      FunctionUrlConfig: {AuthType: NONE}\n", ""))
    r = app.cli("deploy", "-t", str(app.template), "--json")
    assert r.returncode == 0, r.stdout + r.stderr
    assert app.api().get("/status")["function_urls"] == {}
    with pytest.raises(OSError):
        call(url)


def test_a_urls_cors_is_applied_and_follows_its_config(app: Canaria) -> None:
    url = url_of(app)
    preflight = urllib.request.Request(
        url + "x",
        method="OPTIONS",
        headers={"Origin": "https://app.example", "Access-Control-Request-Method": "POST"},
    )
    with urllib.request.urlopen(preflight, timeout=30) as answer:  # no Cors: the function's
        assert answer.status == 200
    cors = "{AuthType: NONE, Cors: {AllowOrigins: [https://app.example], AllowMethods: [POST]}}"
    app.template.write_text(TEMPLATE.replace("{AuthType: NONE}", cors))
    r = app.cli("deploy", "-t", str(app.template), "--json")
    assert r.returncode == 0, r.stdout + r.stderr
    assert url_of(app) == url  # the same listener, its config changed
    with urllib.request.urlopen(preflight, timeout=30) as answer:
        assert answer.status == 204
        assert answer.headers["Access-Control-Allow-Origin"] == "https://app.example"
        assert answer.headers["Access-Control-Allow-Methods"] == "POST"


STREAMING = """\
AWSTemplateFormatVersion: "2010-09-09"
Transform: AWS::Serverless-2016-10-31
Resources:
  Streamer:
    Type: AWS::Serverless::Function
    Properties:
      Handler: index.handler
      Runtime: nodejs20.x
      CodeUri: node
      AutoPublishAlias: live
  StreamerUrl:
    Type: AWS::Lambda::Url
    Properties:
      TargetFunctionArn: !Ref Streamer
      AuthType: NONE
      InvokeMode: RESPONSE_STREAM
"""

# aws-samples/serverless-patterns lambda-streaming-ttfb-pipeline-sam's handler: a stream
# piped into the response with no HTTP metadata
PIPELINE = """\
import util from 'util';
import stream from 'stream';
const { Readable } = stream;
const pipeline = util.promisify(stream.pipeline);

export const handler = awslambda.streamifyResponse(async (event, responseStream, _context) => {
  const requestStream = Readable.from(Buffer.from(new Array(1024).join('🚣')));
  await pipeline(requestStream, responseStream);
});
"""


def test_a_url_resource_streams_a_handlers_raw_bytes(tmp_path: Path) -> None:
    files = {"template.yaml": STREAMING, "node/index.mjs": PIPELINE}
    c = Canaria(write_app(tmp_path / "app", files), tmp_path / "state").start()
    try:
        urls: dict[str, str] = c.api().get("/status")["function_urls"]
        with urllib.request.urlopen(urls["Streamer"], timeout=30) as answer:
            assert answer.status == 200
            assert answer.headers["Content-Type"] == "application/octet-stream"
            assert answer.read() == "🚣".encode() * 1023
    finally:
        c.stop()
