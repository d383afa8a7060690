"""API stages' access logs through a real `canaria up`: each request answered by a REST
API or an HTTP API with an access log setting is one line of its Format, its $context
variables filled in, in the stage's log group; boto3's CloudWatch Logs client reads them
back. An API without the setting logs nothing."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from tests.functional.harness import Canaria, eventually, write_app

TEMPLATE = """\
Transform: AWS::Serverless-2016-10-31
Resources:
  RestLogs:
    Type: AWS::Logs::LogGroup
    Properties: {LogGroupName: /access/rest}
  HttpLogs:
    Type: AWS::Logs::LogGroup
    Properties: {LogGroupName: /access/http}
  Shop:
    Type: AWS::Serverless::Api
    Properties:
      StageName: prod
      AccessLogSetting:
        DestinationArn: !GetAtt RestLogs.Arn
        Format: >-
          {"requestId":"$context.requestId","method":"$context.httpMethod",
          "resource":"$context.resourcePath","status":"$context.status",
          "length":"$context.responseLength","latency":"$context.integrationLatency",
          "error":"$context.error.message","caller":"$context.identity.caller"}
  Edge:
    Type: AWS::Serverless::HttpApi
    Properties:
      AccessLogSettings:
        DestinationArn: !GetAtt HttpLogs.Arn
        Format: $context.identity.sourceIp "$context.routeKey" $context.status $context.requestId
  Hello:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: src/
      Handler: app.handler
      Runtime: python3.11
      Events:
        Rest: {Type: Api, Properties: {RestApiId: !Ref Shop, Path: "/items/{id}", Method: get}}
        Http: {Type: HttpApi, Properties: {ApiId: !Ref Edge, Path: /ping, Method: get}}
        Plain: {Type: Api, Properties: {Path: /plain, Method: get}}
"""

HANDLER = """\
def handler(event, context):
    return {"statusCode": 200, "body": "ok"}
"""


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Canaria]:
    root = tmp_path_factory.mktemp("access-logs")
    files = {"template.yaml": TEMPLATE, "src/app.py": HANDLER}
    c = Canaria(write_app(root / "app", files), root / "state")
    c.start()
    yield c
    c.stop()


def lines(app: Canaria, group: str, count: int) -> list[str]:
    logs = app.aws("logs")

    def read() -> list[str]:
        events = logs.filter_log_events(logGroupName=group)["events"]
        return [e["message"] for e in events] if len(events) >= count else []

    return list(eventually(read, f"{count} access log lines in {group}"))


def test_a_rest_stage_logs_each_request_in_its_format(app: Canaria) -> None:
    status, headers, _ = app.http("GET", "/prod/items/7")
    assert status == 200
    missing = app.http("GET", "/prod/nowhere")[0]
    assert missing == 403  # REST's answer to an unknown path
    first, second = (json.loads(line) for line in lines(app, "/access/rest", 2))
    assert first["method"] == "GET" and first["resource"] == "/items/{id}"
    assert first["status"] == "200" and first["length"] == "2"
    assert first["requestId"] == headers["x-amzn-requestid"]
    assert first["latency"].isdigit() and first["error"] == "-" and first["caller"] == "-"
    # API Gateway's own answer: its message is $context.error.message, no integration ran
    assert (second["status"], second["error"]) == ("403", "Missing Authentication Token")
    assert second["latency"] == "-"


def test_an_http_stage_logs_its_route_key(app: Canaria) -> None:
    assert app.http("GET", "/ping")[0] == 200
    (line,) = lines(app, "/access/http", 1)
    head, request_id = line.rsplit(" ", 1)
    assert head == '127.0.0.1 "GET /ping" 200' and len(request_id) > 10
    logs = app.aws("logs")
    names = {g["logGroupName"] for g in logs.describe_log_groups()["logGroups"]}
    assert app.http("GET", "/Prod/plain")[0] == 200  # the implicit API keeps no access logs
    assert {n for n in names if n.startswith("/access/")} == {"/access/rest", "/access/http"}
