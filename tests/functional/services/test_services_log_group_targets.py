"""Log groups as targets through a real `canaria up`: an EventBridge rule's (each
matching event written to the group, by `!GetAtt Group.Arn` or an ARN written out, as
EventBridge writes it, in a stream named by the event's id) and an EventBridge pipe's
(each record as its input template makes it, in the stream its parameters name); boto3's
CloudWatch Logs client reads them back."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.functional.harness import Canaria, write_app

TEMPLATE = """\
Transform: AWS::Serverless-2016-10-31
Resources:
  Trail:
    Type: AWS::Logs::LogGroup
    Properties:
      LogGroupName: /aws/events/orders
  Orders:
    Type: AWS::Events::Rule
    Properties:
      EventPattern: {source: [shop.orders]}
      Targets:
        - Id: Trail
          Arn: !GetAtt Trail.Arn
        - Id: Summary
          Arn: !Sub arn:aws:logs:${AWS::Region}:${AWS::AccountId}:log-group:/aws/events/summary
          InputPath: $.detail
  Jobs:
    Type: AWS::SQS::Queue
  Inbox:
    Type: AWS::SQS::Queue
  Hourly:
    Type: AWS::Events::Rule
    Properties:
      ScheduleExpression: rate(1 hour)
      Targets:
        - Id: Inbox
          Arn: !GetAtt Inbox.Arn
          InputTransformer: {InputPathsMap: {at: $.time}, InputTemplate: '{"at": <at>}'}
        - Id: Journal
          Arn: !Sub arn:aws:logs:${AWS::Region}:${AWS::AccountId}:log-group:/aws/events/hourly
  JobLog:
    Type: AWS::Logs::LogGroup
  JobPipe:
    Type: AWS::Pipes::Pipe
    Properties:
      RoleArn: arn:aws:iam::123456789012:role/pipe
      Source: !GetAtt Jobs.Arn
      Target: !GetAtt JobLog.Arn
      TargetParameters:
        InputTemplate: 'job <$.body.id> is <$.body.status>'
        CloudWatchLogsParameters:
          LogStreamName: $.body.run
"""


@pytest.fixture
def app(tmp_path: Path) -> Iterator[Canaria]:
    c = Canaria(write_app(tmp_path / "app", {"template.yaml": TEMPLATE}), tmp_path / "state")
    c.start()
    yield c
    c.stop()


def wait_for(logs: Any, group: str) -> list[dict[str, Any]]:
    deadline = time.monotonic() + 60
    while True:
        try:
            events: list[dict[str, Any]] = logs.filter_log_events(logGroupName=group)["events"]
        except logs.exceptions.ResourceNotFoundException:
            events = []
        if events or time.monotonic() > deadline:
            return events
        time.sleep(0.2)


def test_matching_events_are_written_to_the_log_groups(app: Canaria) -> None:
    events = app.env_client("events", "AWS_ENDPOINT_URL_EVENTBRIDGE")
    detail = json.dumps({"order": "o-1"})
    events.put_events(
        Entries=[
            {"Source": "shop.other", "DetailType": "Ignored", "Detail": detail},
            {"Source": "shop.orders", "DetailType": "OrderPlaced", "Detail": detail},
        ]
    )
    logs = app.aws("logs")
    (written,) = wait_for(logs, "/aws/events/orders")
    event = json.loads(written["message"])
    assert (event["source"], event["detail-type"]) == ("shop.orders", "OrderPlaced")
    assert event["account"] == "123456789012" and event["detail"] == {"order": "o-1"}
    assert written["logStreamName"] == event["id"]
    (summary,) = wait_for(logs, "/aws/events/summary")  # created when first written
    assert json.loads(summary["message"]) == {"order": "o-1"}


def test_a_pipe_writes_each_record_to_its_log_group(app: Canaria) -> None:
    sqs = app.env_client("sqs", "AWS_ENDPOINT_URL_SQS")
    url = sqs.get_queue_url(QueueName="app-Jobs")["QueueUrl"]
    for n, status in enumerate(("queued", "done")):
        body = json.dumps({"id": f"j-{n}", "status": status, "run": "nightly"})
        sqs.send_message(QueueUrl=url, MessageBody=body)
    logs = app.aws("logs")
    group = next(
        g["logGroupName"]
        for g in logs.describe_log_groups()["logGroups"]
        if g["logGroupName"].endswith("-JobLog")
    )
    deadline = time.monotonic() + 60
    while True:
        events = logs.filter_log_events(logGroupName=group)["events"]
        if len(events) >= 2 or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert sorted(e["message"] for e in events) == ["job j-0 is queued", "job j-1 is done"]
    assert {e["logStreamName"] for e in events} == {"nightly"}


def test_a_scheduled_rule_reaches_its_queue_and_log_group_targets(app: Canaria) -> None:
    assert "nothing on schedule" not in app.output()
    app.advance(3600)
    sqs = app.env_client("sqs", "AWS_ENDPOINT_URL_SQS")
    url = sqs.get_queue_url(QueueName="app-Inbox")["QueueUrl"]
    deadline = time.monotonic() + 60
    messages: list[dict[str, Any]] = []
    while not messages and time.monotonic() < deadline:
        messages = sqs.receive_message(QueueUrl=url, WaitTimeSeconds=1).get("Messages", [])
    (message,) = messages
    at = json.loads(message["Body"])["at"]  # the target's InputTransformer, applied
    (journal,) = wait_for(app.aws("logs"), "/aws/events/hourly")
    event = json.loads(journal["message"])
    assert (event["detail-type"], event["source"]) == ("Scheduled Event", "aws.events")
    assert event["time"] == at and event["resources"][0].endswith(":rule/app-Hourly")
