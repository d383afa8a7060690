"""An EventBridge rule's targets through a real `canaria up`: each gets the event as the
target's Input, InputPath or InputTransformer makes it, whether it is a queue, an SNS
topic, a state machine or a function (an AWS::Events::Rule's target, or a SAM
EventBridgeRule event)."""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.functional.harness import Canaria, write_app

RUNTIME = f"python{sys.version_info.major}.{sys.version_info.minor}"
TEMPLATE = f"""\
Transform: AWS::Serverless-2016-10-31
Resources:
  Plain:
    Type: AWS::SQS::Queue
  Shaped:
    Type: AWS::SQS::Queue
  Whole:
    Type: AWS::SQS::Queue
  Ordered:
    Type: AWS::SQS::Queue
    Properties: {{FifoQueue: true, ContentBasedDeduplication: true}}
  Seen:
    Type: AWS::SQS::Queue
  Alerts:
    Type: AWS::SNS::Topic
  AlertsInbox:
    Type: AWS::SQS::Queue
  AlertsToInbox:
    Type: AWS::SNS::Subscription
    Properties:
      TopicArn: !Ref Alerts
      Protocol: sqs
      Endpoint: !GetAtt AlertsInbox.Arn
      RawMessageDelivery: true
  Audit:
    Type: AWS::StepFunctions::StateMachine
    Properties:
      StateMachineName: audit
      RoleArn: arn:aws:iam::123456789012:role/audit
      Definition:
        StartAt: Done
        States:
          Done: {{Type: Pass, End: true}}
  Placed:
    Type: AWS::Events::Rule
    Properties:
      EventPattern: {{source: [shop.orders], detail-type: [OrderPlaced]}}
      Targets:
        - Id: plain
          Arn: !GetAtt Plain.Arn
          Input: '{{"kind": "constant"}}'
        - Id: shaped
          Arn: !GetAtt Shaped.Arn
          InputTransformer:
            InputPathsMap: {{order: $.detail.order, lines: $.detail.lines, missing: $.detail.nope}}
            InputTemplate: |
              {{"order": <order>, "lines": <lines>, "missing": <missing>,
               "rule": <aws.events.rule-name>, "text": "order <order> of <lines>"}}
        - Id: whole
          Arn: !GetAtt Whole.Arn
        - Id: ordered
          Arn: !GetAtt Ordered.Arn
          SqsParameters: {{MessageGroupId: orders}}
          InputPath: $.detail.order
        - Id: alerts
          Arn: !Ref Alerts
          InputTransformer:
            InputPathsMap: {{order: $.detail.order}}
            InputTemplate: '"Order <order> was placed"'
        - Id: audit
          Arn: !Ref Audit
          InputPath: $.detail
        - Id: echo
          Arn: !GetAtt Echo.Arn
          InputTransformer:
            InputPathsMap: {{order: $.detail.order}}
            InputTemplate: '{{"from": "rule", "order": <order>}}'
  Echo:
    Type: AWS::Serverless::Function
    Properties:
      Handler: app.handler
      Runtime: {RUNTIME}
      CodeUri: src
      Timeout: 10
      Environment:
        Variables:
          SEEN: !Ref Seen
      Events:
        Placed:
          Type: EventBridgeRule
          Properties:
            Pattern: {{source: [shop.orders], detail-type: [OrderPlaced]}}
            InputTransformer:
              InputPathsMap: {{order: $.detail.order}}
              InputTemplate: '{{"from": "event", "order": <order>}}'
"""
HANDLER = """\
import json
import os

import boto3


def handler(event, context):
    boto3.client("sqs").send_message(QueueUrl=os.environ["SEEN"], MessageBody=json.dumps(event))
    return {"ok": True}
"""


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Canaria]:
    tmp = tmp_path_factory.mktemp("rule-targets")
    files = {"template.yaml": TEMPLATE, "src/app.py": HANDLER}
    c = Canaria(write_app(tmp / "app", files), tmp / "state")
    c.start()
    events = c.env_client("events", "AWS_ENDPOINT_URL_EVENTBRIDGE")
    detail = json.dumps({"order": "o-1", "lines": [1, 2]})
    entry = {"Source": "shop.orders", "DetailType": "OrderPlaced", "Detail": detail}
    events.put_events(Entries=[entry])
    yield c
    c.stop()


def received(app: Canaria, queue: str, count: int = 1) -> list[str]:
    """The bodies of the first ``count`` messages of ``queue``, waited for."""
    sqs = app.env_client("sqs", "AWS_ENDPOINT_URL_SQS")
    url = sqs.get_queue_url(QueueName=queue)["QueueUrl"]
    bodies: list[str] = []
    deadline = time.monotonic() + 60
    while len(bodies) < count and time.monotonic() < deadline:
        got = sqs.receive_message(QueueUrl=url, WaitTimeSeconds=1, MaxNumberOfMessages=10)
        bodies += [m["Body"] for m in got.get("Messages", [])]
    return bodies


def waited(check: Callable[[], Any]) -> Any:
    deadline = time.monotonic() + 60
    while not (found := check()) and time.monotonic() < deadline:
        time.sleep(0.2)
    return found


def test_a_constant_input_replaces_the_event(app: Canaria) -> None:
    assert received(app, "app-Plain") == ['{"kind": "constant"}']


def test_an_input_transformer_fills_its_template_as_eventbridge_does(app: Canaria) -> None:
    (body,) = received(app, "app-Shaped")
    assert json.loads(body) == {
        "order": "o-1",
        "lines": [1, 2],
        "missing": "",  # a path that names nothing: an empty string
        "rule": "app-Placed",
        "text": "order o-1 of [1,2]",  # a list inside a string: its JSON
    }
    assert body.startswith('{"order":"o-1","lines":[1,2],')  # minified


def test_a_target_without_a_transform_gets_the_whole_event(app: Canaria) -> None:
    (body,) = received(app, "app-Whole")
    event = json.loads(body)
    assert event["detail"] == {"order": "o-1", "lines": [1, 2]}
    # written as EventBridge writes it: its fields in order, the account among them
    assert list(event) == [
        "version",
        "id",
        "detail-type",
        "source",
        "account",
        "time",
        "region",
        "resources",
        "detail",
    ]
    assert event["account"] == "123456789012"


def test_an_input_path_to_a_fifo_queue_keeps_its_message_group(app: Canaria) -> None:
    sqs = app.env_client("sqs", "AWS_ENDPOINT_URL_SQS")
    url = sqs.get_queue_url(QueueName="app-Ordered.fifo")["QueueUrl"]
    got = waited(
        lambda: sqs.receive_message(
            QueueUrl=url, WaitTimeSeconds=1, MessageSystemAttributeNames=["MessageGroupId"]
        ).get("Messages")
    )
    (message,) = got
    assert message["Body"] == '"o-1"'  # a string the path names arrives as JSON
    assert message["Attributes"]["MessageGroupId"] == "orders"


def test_a_topic_target_publishes_the_transformed_text(app: Canaria) -> None:
    assert received(app, "app-AlertsInbox") == ['"Order o-1 was placed"']


def test_a_state_machine_target_is_started_with_the_input_path(app: Canaria) -> None:
    sfn = app.aws("stepfunctions")
    arn = "arn:aws:states:us-east-1:123456789012:stateMachine:audit"
    done = waited(
        lambda: sfn.list_executions(stateMachineArn=arn, statusFilter="SUCCEEDED")["executions"]
    )
    (execution,) = done
    described = sfn.describe_execution(executionArn=execution["executionArn"])
    assert json.loads(described["input"]) == {"order": "o-1", "lines": [1, 2]}


def test_a_function_gets_what_its_target_or_its_event_makes(app: Canaria) -> None:
    bodies = received(app, "app-Seen", count=2)
    got = sorted((json.loads(b) for b in bodies), key=lambda e: str(e.get("from")))
    assert got == [{"from": "event", "order": "o-1"}, {"from": "rule", "order": "o-1"}]


CHANGING = """\
Transform: AWS::Serverless-2016-10-31
Resources:
  First:
    Type: AWS::SQS::Queue
  Second:
    Type: AWS::SQS::Queue
  Route:
    Type: AWS::Events::Rule
    Properties:
      EventPattern: {source: [PATTERN]}
      Targets:
        - {Id: to, Arn: !GetAtt TARGET.Arn}
"""


def test_a_deploy_that_changes_a_rule_changes_what_it_matches_and_where_it_sends(
    tmp_path: Path,
) -> None:
    template = write_app(
        tmp_path / "app",
        {"template.yaml": CHANGING.replace("PATTERN", "a").replace("TARGET", "First")},
    )
    c = Canaria(template, tmp_path / "state")
    c.start()
    try:
        events = c.env_client("events", "AWS_ENDPOINT_URL_EVENTBRIDGE")
        template.write_text(CHANGING.replace("PATTERN", "b").replace("TARGET", "Second"))
        r = c.cli("deploy", "-t", str(template), "--json")
        assert r.returncode == 0, r.stderr
        for source in ("a", "b"):
            events.put_events(Entries=[{"Source": source, "DetailType": "t", "Detail": "{}"}])
        (body,) = received(c, "app-Second")
        assert json.loads(body)["source"] == "b"
        sqs = c.env_client("sqs", "AWS_ENDPOINT_URL_SQS")
        url = sqs.get_queue_url(QueueName="app-First")["QueueUrl"]
        time.sleep(1)  # the old pattern and target are gone: nothing reaches First
        assert not sqs.receive_message(QueueUrl=url, WaitTimeSeconds=1).get("Messages")
    finally:
        c.stop()
