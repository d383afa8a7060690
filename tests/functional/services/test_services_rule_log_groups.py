"""An EventBridge rule's log group target through a real `canaria up`: each matching
event is written to the group (by `!GetAtt Group.Arn` or an ARN written out), as
EventBridge writes it, in a stream named by the event's id; boto3's CloudWatch Logs
client reads it back."""

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
