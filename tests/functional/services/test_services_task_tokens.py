"""Callback tasks through a real `canaria up`: a state machine sends its task token to a
queue (``sqs:sendMessage.waitForTaskToken``) and waits; the function reading the queue
answers with SendTaskSuccess or SendTaskFailure through boto3, and the execution goes on
with that outcome."""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Iterator
from typing import Any

import pytest

from tests.functional.harness import Canaria, write_app

RUNTIME = f"python{sys.version_info.major}.{sys.version_info.minor}"
TEMPLATE = f"""\
Transform: AWS::Serverless-2016-10-31
Resources:
  Work:
    Type: AWS::SQS::Queue
    Properties: {{VisibilityTimeout: 30}}
  Worker:
    Type: AWS::Serverless::Function
    Properties:
      Handler: app.handler
      Runtime: {RUNTIME}
      CodeUri: src
      Timeout: 10
      Events:
        Jobs:
          Type: SQS
          Properties: {{Queue: !GetAtt Work.Arn}}
  Review:
    Type: AWS::Serverless::StateMachine
    Properties:
      Name: review
      Definition:
        StartAt: Ask
        States:
          Ask:
            Type: Task
            Resource: arn:aws:states:::sqs:sendMessage.waitForTaskToken
            HeartbeatSeconds: 600
            Parameters:
              QueueUrl: !Ref Work
              MessageBody:
                amount.$: $.amount
                token.$: $$.Task.Token
            ResultPath: $.decision
            Catch:
              - ErrorEquals: [TooExpensive]
                ResultPath: $.refusal
                Next: Refused
            End: true
          Refused: {{Type: Pass, End: true}}
"""
HANDLER = """\
import json

import boto3

sfn = boto3.client("stepfunctions")


def handler(event, context):
    for record in event["Records"]:
        job = json.loads(record["body"])
        if job["amount"] > 100:
            sfn.send_task_failure(taskToken=job["token"], error="TooExpensive", cause="over 100")
        else:
            sfn.send_task_success(taskToken=job["token"], output=json.dumps({"ok": True}))
"""
ARN = "arn:aws:states:us-east-1:123456789012:stateMachine:review"


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Canaria]:
    tmp = tmp_path_factory.mktemp("task-tokens")
    files = {"template.yaml": TEMPLATE, "src/app.py": HANDLER}
    c = Canaria(write_app(tmp / "app", files), tmp / "state")
    c.start()
    yield c
    c.stop()


def finished(app: Canaria, execution_arn: str) -> dict[str, Any]:
    sfn = app.aws("stepfunctions")
    deadline = time.monotonic() + 60
    while True:
        described = sfn.describe_execution(executionArn=execution_arn)
        if described["status"] != "RUNNING" or time.monotonic() > deadline:
            return described
        time.sleep(0.2)


def test_the_worker_sends_the_task_success(app: Canaria) -> None:
    sfn = app.aws("stepfunctions")
    started = sfn.start_execution(stateMachineArn=ARN, input=json.dumps({"amount": 40}))
    described = finished(app, started["executionArn"])
    assert described["status"] == "SUCCEEDED"
    assert json.loads(described["output"]) == {"amount": 40, "decision": {"ok": True}}
    history = sfn.get_execution_history(executionArn=started["executionArn"])["events"]
    assert "TaskSubmitted" in [e["type"] for e in history]


def test_the_worker_sends_the_task_failure_which_is_caught(app: Canaria) -> None:
    sfn = app.aws("stepfunctions")
    started = sfn.start_execution(stateMachineArn=ARN, input=json.dumps({"amount": 400}))
    described = finished(app, started["executionArn"])
    assert described["status"] == "SUCCEEDED"
    output = json.loads(described["output"])
    assert output["refusal"] == {"Error": "TooExpensive", "Cause": "over 100"}


def test_a_token_that_no_task_waits_for_is_refused(app: Canaria) -> None:
    sfn = app.aws("stepfunctions")
    with pytest.raises(sfn.exceptions.InvalidToken):
        sfn.send_task_success(taskToken="not-a-token", output="{}")
