"""A state machine's EventBridgeRule event through a real `canaria up`: an event put on the
bus that matches the pattern starts the machine with the event as its input; one that
does not match starts nothing."""

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
  Orders:
    Type: AWS::Serverless::StateMachine
    Properties:
      Name: orders
      Definition:
        StartAt: Note
        States:
          Note: {Type: Pass, Parameters: {"order.$": "$.detail.order"}, End: true}
      Events:
        Placed:
          Type: EventBridgeRule
          Properties:
            Pattern: {source: [shop.orders], detail-type: [OrderPlaced]}
"""


@pytest.fixture
def app(tmp_path: Path) -> Iterator[Canaria]:
    c = Canaria(write_app(tmp_path / "app", {"template.yaml": TEMPLATE}), tmp_path / "state")
    c.start()
    yield c
    c.stop()


def entry(detail_type: str, order: str) -> dict[str, Any]:
    detail = json.dumps({"order": order})
    return {"Source": "shop.orders", "DetailType": detail_type, "Detail": detail}


def test_a_matching_event_starts_the_state_machine(app: Canaria) -> None:
    events = app.env_client("events", "AWS_ENDPOINT_URL_EVENTBRIDGE")
    events.put_events(Entries=[entry("OrderCancelled", "o-0"), entry("OrderPlaced", "o-1")])
    sfn = app.aws("stepfunctions")
    arn = "arn:aws:states:us-east-1:123456789012:stateMachine:orders"
    deadline = time.monotonic() + 60
    while True:
        done = sfn.list_executions(stateMachineArn=arn, statusFilter="SUCCEEDED")["executions"]
        if done or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    (execution,) = done
    described = sfn.describe_execution(executionArn=execution["executionArn"])
    assert json.loads(described["output"]) == {"order": "o-1"}
    assert json.loads(described["input"])["detail-type"] == "OrderPlaced"
    time.sleep(1)  # the event that matched nothing started nothing
    assert len(sfn.list_executions(stateMachineArn=arn)["executions"]) == 1
