"""A real `canaria up` fires a function's Schedule events on its clock, through the
function's alias, with the event EventBridge sends; a scheduled rule does the same, and a
state machine's schedule starts an execution."""

from __future__ import annotations

import json
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.functional.harness import Canaria

PY = f"python{sys.version_info.major}.{sys.version_info.minor}"

TEMPLATE = f"""\
Transform: AWS::Serverless-2016-10-31
Resources:
  Tick:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: src
      Handler: app.handler
      Runtime: {PY}
      AutoPublishAlias: live
      Events:
        EveryMinute:
          Type: Schedule
          Properties:
            Schedule: rate(1 minute)
        Nightly:
          Type: ScheduleV2
          Properties:
            ScheduleExpression: cron(0 3 * * ? *)
            Input: '{{"job": "nightly"}}'
  Report:
    Type: AWS::Serverless::StateMachine
    Properties:
      Name: report
      Definition: {{StartAt: Done, States: {{Done: {{Type: Pass, End: true}}}}}}
      Events:
        Hourly:
          Type: ScheduleV2
          Properties:
            ScheduleExpression: rate(1 hour)
            Input: '{{"report": "hourly"}}'
  Hourly:
    Type: AWS::Events::Rule
    Properties:
      ScheduleExpression: rate(1 hour)
      Targets:
        - Id: tick
          Arn: !GetAtt Tick.Arn
          Input: '{{"job": "hourly"}}'
"""

HANDLER = """\
import json

def handler(event, context):
    print("EVENT " + json.dumps({"event": event, "arn": context.invoked_function_arn}))
    return {"ok": True}
"""


@pytest.fixture
def app(tmp_path: Path) -> Iterator[Canaria]:
    root = tmp_path / "app"
    (root / "src").mkdir(parents=True)
    (root / "template.yaml").write_text(TEMPLATE)
    (root / "src" / "app.py").write_text(textwrap.dedent(HANDLER))
    c = Canaria(root / "template.yaml", tmp_path / "state").start()
    yield c
    c.stop()


def events(c: Canaria, want: int) -> list[dict[str, object]]:
    """The events the function printed, once there are ``want`` of them (invocations
    are asynchronous: the clock moved, the invocation follows)."""
    deadline = time.monotonic() + 30
    while True:
        lines = c.api().get("/functions/Tick/logs")["lines"]
        seen = [json.loads(x["text"][6:]) for x in lines if x["text"].startswith("EVENT ")]
        if len(seen) >= want or time.monotonic() > deadline:
            return seen
        time.sleep(0.1)


def test_schedules_fire_on_the_platforms_clock(app: Canaria) -> None:
    assert events(app, 0) == []
    for minute in range(1, 4):
        app.advance(60)
        assert len(events(app, minute)) == minute  # it lands before the clock moves on
    seen = events(app, 3)
    assert len(seen) == 3
    for fired in seen:
        event = fired["event"]
        assert isinstance(event, dict) and event["detail-type"] == "Scheduled Event"
        assert event["resources"] == ["arn:aws:events:us-east-1:123456789012:rule/TickEveryMinute"]
        assert str(fired["arn"]).endswith(":function:Tick:live")  # through the alias
    # to the rule's first hour: the minutes skipped by the jump fire once, and the hourly
    app.advance(3600 - 180)
    seen = events(app, 5)
    assert {"job": "hourly"} in [f["event"] for f in seen]
    seen = events(app, 5 + sum(f["event"] == {"job": "nightly"} for f in seen))
    # (the nightly cron at 03:00 fires too when the test runs in the hour before it)
    every_minute = [f for f in seen if f["event"] not in ({"job": "hourly"}, {"job": "nightly"})]
    assert len(every_minute) == 4
    sfn = app.aws("stepfunctions")
    arn = "arn:aws:states:us-east-1:123456789012:stateMachine:report"
    deadline = time.monotonic() + 30
    while not (runs := sfn.list_executions(stateMachineArn=arn)["executions"]):
        assert time.monotonic() < deadline, "the hourly execution did not start"
        time.sleep(0.1)
    (run,) = runs
    assert json.loads(sfn.describe_execution(executionArn=run["executionArn"])["input"]) == {
        "report": "hourly"
    }


SCHEDULER_TEMPLATE = f"""\
Transform: AWS::Serverless-2016-10-31
Resources:
  Tick:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: src
      Handler: app.handler
      Runtime: {PY}
      AutoPublishAlias: live
  Every5:
    Type: AWS::Scheduler::Schedule
    Properties:
      ScheduleExpression: rate(5 minute)
      FlexibleTimeWindow: {{Mode: "OFF"}}
      Target:
        Arn: !GetAtt Tick.Arn
        RoleArn: arn:aws:iam::123456789012:role/scheduler
        Input: '{{"job": "every five"}}'
  ToQueue:
    Type: AWS::Scheduler::Schedule
    Properties:
      ScheduleExpression: rate(1 minute)
      FlexibleTimeWindow: {{Mode: "OFF"}}
      Target: {{Arn: !GetAtt Jobs.Arn, RoleArn: arn:aws:iam::123456789012:role/scheduler}}
  ToFifo:
    Type: AWS::Scheduler::Schedule
    Properties:
      ScheduleExpression: rate(1 minute)
      FlexibleTimeWindow: {{Mode: "OFF"}}
      Target: {{Arn: !GetAtt Ordered.Arn, RoleArn: arn:aws:iam::123456789012:role/scheduler}}
  Jobs:
    Type: AWS::SQS::Queue
  Ordered:
    Type: AWS::SQS::Queue
    Properties: {{FifoQueue: true}}
"""


def test_a_scheduler_resource_fires_its_function_on_the_clock(tmp_path: Path) -> None:
    root = tmp_path / "app"
    (root / "src").mkdir(parents=True)
    (root / "template.yaml").write_text(SCHEDULER_TEMPLATE)
    (root / "src" / "app.py").write_text(textwrap.dedent(HANDLER))
    c = Canaria(root / "template.yaml", tmp_path / "state").start()
    try:
        assert "ToFifo: the schedule is not run" in c.output()  # a FIFO queue: warned
        assert "ToQueue: the schedule is not run" not in c.output()
        c.advance(300)
        (fired,) = events(c, 1)
        assert fired["event"] == {"job": "every five"}  # the Target's Input
        assert str(fired["arn"]).endswith(":function:Tick:live")
        sqs = c.env_client("sqs", "AWS_ENDPOINT_URL_SQS")
        url = sqs.get_queue_url(QueueName="app-Jobs")["QueueUrl"]
        bodies: list[str] = []
        deadline = time.monotonic() + 30
        while not bodies and time.monotonic() < deadline:
            got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1)
            bodies += [m["Body"] for m in got.get("Messages", [])]
        # no Input: the Scheduler's {}; once for the jump (missed periods are not made up)
        assert bodies == ["{}"]
    finally:
        c.stop()
