"""EventBridge API destinations through a real `canaria up`: a rule's event is sent to an
HTTP endpoint on loopback (a server of the test's own) as EventBridge sends it, with its
connection's authorization, the target's HttpParameters and InputTransformer; a 5xx is
tried again, a 4xx goes to the target's dead-letter queue."""

from __future__ import annotations

import base64
import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar

import pytest

from tests.functional.harness import Canaria, write_app

TEMPLATE = """\
Transform: AWS::Serverless-2016-10-31
Parameters:
  Endpoint: {Type: String}
Resources:
  Keyed:
    Type: AWS::Events::Connection
    Properties:
      AuthorizationType: API_KEY
      AuthParameters:
        ApiKeyAuthParameters: {ApiKeyName: x-api-key, ApiKeyValue: s3cret}
        InvocationHttpParameters:
          QueryStringParameters: [{Key: source, Value: canaria}]
          BodyParameters: [{Key: via, Value: connection}]
  OAuth:
    Type: AWS::Events::Connection
    Properties:
      AuthorizationType: OAUTH_CLIENT_CREDENTIALS
      AuthParameters:
        OAuthParameters:
          AuthorizationEndpoint: !Sub ${Endpoint}/token
          HttpMethod: POST
          ClientParameters: {ClientID: app, ClientSecret: pa55}
          OAuthHttpParameters:
            BodyParameters: [{Key: grant_type, Value: client_credentials}]
  Orders:
    Type: AWS::Events::ApiDestination
    Properties:
      ConnectionArn: !GetAtt Keyed.Arn
      InvocationEndpoint: !Sub ${Endpoint}/orders/*
      HttpMethod: PUT
  Flaky:
    Type: AWS::Events::ApiDestination
    Properties:
      ConnectionArn: !GetAtt OAuth.Arn
      InvocationEndpoint: !Sub ${Endpoint}/flaky
      HttpMethod: POST
  Refusing:
    Type: AWS::Events::ApiDestination
    Properties:
      ConnectionArn: !GetAtt Keyed.Arn
      InvocationEndpoint: !Sub ${Endpoint}/refuse
      HttpMethod: POST
  Down:
    Type: AWS::Events::ApiDestination
    Properties:
      ConnectionArn: !GetAtt Keyed.Arn
      InvocationEndpoint: !Sub ${Endpoint}/down
      HttpMethod: POST
  Failures:
    Type: AWS::SQS::Queue
  Exhausted:
    Type: AWS::SQS::Queue
  Placed:
    Type: AWS::Events::Rule
    Properties:
      EventPattern: {source: [shop.orders]}
      Targets:
        - Id: orders
          Arn: !GetAtt Orders.Arn
          HttpParameters:
            PathParameterValues: [$.detail.order]
            HeaderParameters: {x-kind: $.detail-type}
            QueryStringParameters: {size: large}
          InputTransformer:
            InputPathsMap: {order: $.detail.order}
            InputTemplate: '{"order": <order>}'
        - Id: flaky
          Arn: !GetAtt Flaky.Arn
        - Id: refusing
          Arn: !GetAtt Refusing.Arn
          RetryPolicy: {MaximumRetryAttempts: 3}
          DeadLetterConfig: {Arn: !GetAtt Failures.Arn}
        - Id: down
          Arn: !GetAtt Down.Arn
          RetryPolicy: {MaximumRetryAttempts: 1}
          DeadLetterConfig: {Arn: !GetAtt Exhausted.Arn}
"""


class Recorder(BaseHTTPRequestHandler):
    """Answers as the test's endpoints do, and keeps every request."""

    seen: ClassVar[list[dict[str, Any]]] = []
    flaky_calls = 0

    def do_PUT(self) -> None:
        self.answer()

    def do_POST(self) -> None:
        self.answer()

    def answer(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length).decode()
        Recorder.seen.append(
            {"method": self.command, "path": self.path, "headers": dict(self.headers), "body": body}
        )
        status, reply = 200, b"{}"
        path = self.path.split("?")[0]
        if path == "/token":
            reply = json.dumps({"access_token": "tok-1", "expires_in": 3600}).encode()
        elif path == "/flaky":
            Recorder.flaky_calls += 1
            status = 503 if Recorder.flaky_calls == 1 else 200
        elif path == "/refuse":
            status = 400
        elif path == "/down":
            status = 500
        self.send_response(status)
        self.send_header("Content-Length", str(len(reply)))
        self.end_headers()
        self.wfile.write(reply)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Canaria]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), Recorder)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    tmp = tmp_path_factory.mktemp("api-destinations")
    endpoint = f"http://127.0.0.1:{server.server_address[1]}"
    c = Canaria(
        write_app(tmp / "app", {"template.yaml": TEMPLATE}),
        tmp / "state",
        extra=("--parameter-overrides", f"Endpoint={endpoint}"),
    )
    c.start()
    events = c.env_client("events", "AWS_ENDPOINT_URL_EVENTBRIDGE")
    detail = json.dumps({"order": "o-1"})
    events.put_events(Entries=[{"Source": "shop.orders", "DetailType": "Placed", "Detail": detail}])
    yield c
    c.stop()
    server.shutdown()
    server.server_close()


def requests_to(path: str, count: int = 1) -> list[dict[str, Any]]:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        found = [r for r in Recorder.seen if r["path"].startswith(path)]
        if len(found) >= count:
            return found
        time.sleep(0.1)
    return [r for r in Recorder.seen if r["path"].startswith(path)]


def test_the_event_is_sent_with_the_connection_and_the_targets_parameters(app: Canaria) -> None:
    (request,) = requests_to("/orders/")
    assert request["method"] == "PUT"
    assert request["path"] == "/orders/o-1?source=canaria&size=large"
    headers = {k.lower(): v for k, v in request["headers"].items()}
    assert headers["x-api-key"] == "s3cret"
    assert headers["x-kind"] == "Placed"  # a $. value read from the event
    assert headers["user-agent"] == "Amazon/EventBridge/ApiDestinations"
    assert headers["content-type"] == "application/json; charset=utf-8"
    assert json.loads(request["body"]) == {"order": "o-1", "via": "connection"}


def test_an_oauth_connection_asks_for_a_token_and_a_5xx_is_tried_again(app: Canaria) -> None:
    calls = requests_to("/flaky", count=2)
    assert len(calls) == 2  # a 503, then the same event again
    assert calls[0]["body"] == calls[1]["body"]
    assert json.loads(calls[1]["body"])["detail"] == {"order": "o-1"}
    headers = {k.lower(): v for k, v in calls[1]["headers"].items()}
    assert headers["authorization"] == "Bearer tok-1"
    (token,) = requests_to("/token")
    assert token["body"] == "grant_type=client_credentials"
    basic = base64.b64encode(b"app:pa55").decode()
    assert {k.lower(): v for k, v in token["headers"].items()}["authorization"] == f"Basic {basic}"


def dead_letters(app: Canaria, queue: str) -> list[dict[str, Any]]:
    sqs = app.env_client("sqs", "AWS_ENDPOINT_URL_SQS")
    url = sqs.get_queue_url(QueueName=queue)["QueueUrl"]
    deadline = time.monotonic() + 60
    messages: list[dict[str, Any]] = []
    while not messages and time.monotonic() < deadline:
        got = sqs.receive_message(QueueUrl=url, WaitTimeSeconds=1, MessageAttributeNames=["All"])
        messages = got.get("Messages", [])
    return messages


def test_a_4xx_is_not_tried_again_and_goes_to_the_dead_letter_queue(app: Canaria) -> None:
    (message,) = dead_letters(app, "app-Failures")
    assert json.loads(message["Body"])["detail"] == {"order": "o-1"}  # the event as it was
    attributes = {k: v["StringValue"] for k, v in message["MessageAttributes"].items()}
    assert attributes["ERROR_CODE"] == "ERROR_FROM_TARGET"
    assert "answered 400" in attributes["ERROR_MESSAGE"]
    assert attributes["RETRY_ATTEMPTS"] == "0"
    assert attributes["RULE_ARN"].endswith(":rule/app-Placed")
    assert "EXHAUSTED_RETRY_CONDITION" not in attributes
    assert len(requests_to("/refuse")) == 1


def test_a_5xx_is_tried_as_the_retry_policy_allows_then_dead_lettered(app: Canaria) -> None:
    (message,) = dead_letters(app, "app-Exhausted")
    attributes = {k: v["StringValue"] for k, v in message["MessageAttributes"].items()}
    assert attributes["EXHAUSTED_RETRY_CONDITION"] == "MaximumRetryAttempts"
    assert attributes["RETRY_ATTEMPTS"] == "1"
    assert len(requests_to("/down")) == 2  # the first try and the one retry
