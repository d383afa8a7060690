"""Deployment triggers through a real `canaria up`: CodeDeploy's trigger message published
to the template's SNS topic (its SQS subscription receives it) and posted to a webhook."""

from __future__ import annotations

import http.server
import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

import pytest

from tests.functional.harness import Canaria, write_app

TEMPLATE = """\
AWSTemplateFormatVersion: "2010-09-09"
Transform: AWS::Serverless-2016-10-31
Parameters:
  Webhook: {Type: String}
  Answer: {Type: String, Default: one}
Resources:
  Alerts:
    Type: AWS::SNS::Topic
  Inbox:
    Type: AWS::SQS::Queue
  InboxSubscription:
    Type: AWS::SNS::Subscription
    Properties:
      TopicArn: !Ref Alerts
      Protocol: sqs
      Endpoint: !GetAtt Inbox.Arn
      RawMessageDelivery: true
  Fn:
    Type: AWS::Serverless::Function
    Properties:
      Handler: app.handler
      Runtime: python3.11
      CodeUri: src
      AutoPublishAlias: live
      Environment: {Variables: {ANSWER: !Ref Answer}}
      DeploymentPreference:
        Type: AllAtOnce
        TriggerConfigurations:
          - TriggerName: to-topic
            TriggerTargetArn: !Ref Alerts
            TriggerEvents: [DeploymentStart, DeploymentSuccess]
          - TriggerName: to-webhook
            TriggerTargetArn: !Ref Webhook
            TriggerEvents: [DeploymentSuccess]
"""


class Recorder(http.server.BaseHTTPRequestHandler):
    received: ClassVar[list[dict[str, Any]]] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        Recorder.received.append(json.loads(body))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def webhook() -> Iterator[str]:
    Recorder.received = []
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Recorder)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/deployments"
    server.shutdown()
    server.server_close()


@pytest.fixture
def app(tmp_path: Path, webhook: str) -> Iterator[Canaria]:
    handler = "import os\ndef handler(e, c):\n    return os.environ['ANSWER']\n"
    template = write_app(tmp_path / "app", {"template.yaml": TEMPLATE, "src/app.py": handler})
    overrides = ("--parameter-overrides", f"Webhook={webhook}")
    c = Canaria(template, tmp_path / "state", extra=overrides)
    yield c.start()
    c.stop()


def test_trigger_messages_reach_the_topic_and_the_webhook(app: Canaria, webhook: str) -> None:
    r = app.cli(
        "deploy",
        "-t",
        str(app.template),
        "--parameter-overrides",
        f"Webhook={webhook} Answer=two",
        "--json",
    )
    assert r.returncode == 0, r.stdout + r.stderr
    deployment = json.loads(r.stdout)["deployments"][0]["id"]
    assert app.wait_deployment(deployment)["state"] == "Succeeded"

    sqs = app.env_client("sqs", "AWS_ENDPOINT_URL_SQS")
    (url,) = sqs.list_queues()["QueueUrls"]  # the template's Inbox
    messages: list[dict[str, Any]] = []
    deadline = time.monotonic() + 30
    while len(messages) < 2 and time.monotonic() < deadline:
        got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)
        messages += [json.loads(m["Body"]) for m in got.get("Messages", [])]
    assert sorted(m["status"] for m in messages) == ["CREATED", "SUCCEEDED"], messages
    assert {m["deploymentId"] for m in messages} == {deployment}
    assert {m["eventTriggerName"] for m in messages} == {"to-topic"}

    deadline = time.monotonic() + 10
    while not Recorder.received and time.monotonic() < deadline:
        time.sleep(0.05)
    assert [(m["eventTriggerName"], m["status"]) for m in Recorder.received] == [
        ("to-webhook", "SUCCEEDED")
    ]
    events = app.api().get(f"/deployments/{deployment}")["events"]
    assert not [e for e in events if e["kind"] == "notification"], events
