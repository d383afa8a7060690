"""A state machine's tasks call DynamoDB, SQS and S3 directly, as Step Functions'
optimized and AWS SDK integrations do, against the engines of a real `canaria up`."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.functional.harness import Canaria, wait_until

TEMPLATE = """\
AWSTemplateFormatVersion: "2010-09-09"
Transform: AWS::Serverless-2016-10-31
Resources:
  Orders:
    Type: AWS::Serverless::SimpleTable
    Properties:
      PrimaryKey: {Name: id, Type: String}
  Jobs:
    Type: AWS::SQS::Queue
  Receipts:
    Type: AWS::S3::Bucket
  Checkout:
    Type: AWS::Serverless::StateMachine
    Properties:
      Type: EXPRESS
      DefinitionSubstitutions:
        Table: !Ref Orders
        Queue: !Ref Jobs
        Bucket: !Ref Receipts
      Definition:
        StartAt: Save
        States:
          Save:
            Type: Task
            Resource: arn:aws:states:::dynamodb:putItem
            Parameters:
              TableName: ${Table}
              Item:
                id: {S.$: $.id}
                name: {S.$: $.name}
              ConditionExpression: attribute_not_exists(id)
            ResultPath: null
            Catch:
              - ErrorEquals: [DynamoDB.ConditionalCheckFailedException]
                ResultPath: $.error
                Next: Duplicate
            Next: Read
          Duplicate:
            Type: Pass
            Parameters:
              duplicate.$: $.id
              error.$: $.error.Error
            End: true
          Read:
            Type: Task
            Resource: arn:aws:states:::dynamodb:getItem
            Parameters:
              TableName: ${Table}
              Key:
                id: {S.$: $.id}
            ResultSelector:
              name.$: $.Item.name.S
            ResultPath: $.read
            Next: Enqueue
          Enqueue:
            Type: Task
            Resource: arn:aws:states:::sqs:sendMessage
            Parameters:
              QueueUrl: ${Queue}
              MessageBody.$: $.id
            ResultSelector:
              sent.$: $.MessageId
            ResultPath: $.queue
            Next: Receipt
          Receipt:
            Type: Task
            Resource: arn:aws:states:::aws-sdk:s3:putObject
            Parameters:
              Bucket: ${Bucket}
              Key.$: $.id
              Body.$: $.name
            ResultPath: null
            Next: ReadReceipt
          ReadReceipt:
            Type: Task
            Resource: arn:aws:states:::aws-sdk:s3:getObject
            Parameters:
              Bucket: ${Bucket}
              Key.$: $.id
            ResultSelector:
              body.$: $.Body
            ResultPath: $.receipt
            Next: NoSuchReceipt
          NoSuchReceipt:
            Type: Task
            Resource: arn:aws:states:::aws-sdk:s3:getObject
            Parameters:
              Bucket: ${Bucket}
              Key: never-written
            Catch:
              - ErrorEquals: [S3.NoSuchKeyException]
                ResultPath: $.missing
                Next: Done
            Next: Done
          Done:
            Type: Pass
            End: true
"""


@pytest.fixture
def app(tmp_path: Path) -> Iterator[Canaria]:
    (tmp_path / "app").mkdir()
    (tmp_path / "app" / "template.yaml").write_text(TEMPLATE)
    c = Canaria(tmp_path / "app" / "template.yaml", tmp_path / "state").start()
    yield c
    c.stop()


def run(c: Canaria, payload: dict[str, Any]) -> dict[str, Any]:
    sfn = c.aws("stepfunctions")
    arn = sfn.list_state_machines()["stateMachines"][0]["stateMachineArn"]
    out = sfn.start_sync_execution(stateMachineArn=arn, input=json.dumps(payload))
    assert out["status"] == "SUCCEEDED", out
    return json.loads(out["output"])  # type: ignore[no-any-return]


def test_tasks_call_dynamodb_sqs_and_s3_and_their_errors_are_caught(app: Canaria) -> None:
    out = run(app, {"id": "o-1", "name": "Ada"})
    assert out["read"] == {"name": "Ada"} and out["receipt"] == {"body": "Ada"}
    assert out["queue"]["sent"]
    assert out["missing"]["Error"] == "S3.NoSuchKeyException"
    # the second order with the same id fails the condition: caught by its AWS name
    assert run(app, {"id": "o-1", "name": "Bob"}) == {
        "duplicate": "o-1",
        "error": "DynamoDB.ConditionalCheckFailedException",
    }
    # what the tasks wrote is there for the application's own SDK calls
    ddb = app.env_client("dynamodb", "AWS_ENDPOINT_URL_DYNAMODB")
    table = ddb.list_tables()["TableNames"][0]
    item = ddb.get_item(TableName=table, Key={"id": {"S": "o-1"}})["Item"]
    assert item["name"] == {"S": "Ada"}
    sqs = app.env_client("sqs", "AWS_ENDPOINT_URL_SQS")
    url = sqs.list_queues()["QueueUrls"][0]
    assert [m["Body"] for m in sqs.receive_message(QueueUrl=url)["Messages"]] == ["o-1"]


NESTED = """\
Transform: AWS::Serverless-2016-10-31
Resources:
  Child:
    Type: AWS::Serverless::StateMachine
    Properties:
      Definition:
        StartAt: Echo
        States:
          Echo: {Type: Pass, Parameters: {"doubled.$": "States.MathAdd($.x, $.x)"}, End: true}
  Parent:
    Type: AWS::Serverless::StateMachine
    Properties:
      DefinitionSubstitutions:
        Child: !Ref Child
      Definition:
        StartAt: Start
        States:
          Start:
            Type: Task
            Resource: arn:aws:states:::states:startExecution
            Parameters:
              StateMachineArn: ${Child}
              Input: {"x.$": "$.x"}
            ResultSelector: {"arn.$": "$.ExecutionArn"}
            ResultPath: $.child
            Next: Sentiment
          Sentiment:
            Type: Task
            Resource: arn:aws:states:::aws-sdk:comprehend:detectSentiment
            Parameters: {Text: "a good day", LanguageCode: en}
            Catch:
              - ErrorEquals: [States.ALL]
                ResultPath: $.sentiment
                Next: Done
            Next: Done
          Done: {Type: Succeed}
"""


def test_a_nested_execution_starts_and_an_unserved_service_fails_its_task(
    tmp_path: Path,
) -> None:
    """``states:startExecution`` starts the child machine; an AWS SDK integration with a
    service canaria does not serve is accepted (as Step Functions accepts it), named in a
    warning, and fails its task when it runs, with the error the SDK call got."""
    (tmp_path / "app").mkdir()
    (tmp_path / "app" / "template.yaml").write_text(NESTED)
    c = Canaria(tmp_path / "app" / "template.yaml", tmp_path / "state").start()
    try:
        assert "'Sentiment' calls arn:aws:states:::aws-sdk:comprehend" in c.output()
        sfn = c.aws("stepfunctions")
        machines = {
            m["name"]: m["stateMachineArn"] for m in sfn.list_state_machines()["stateMachines"]
        }
        parent = next(arn for name, arn in machines.items() if "Parent" in name)
        started = sfn.start_execution(stateMachineArn=parent, input=json.dumps({"x": 21}))
        done = wait_execution(c, started["executionArn"])
        assert done["status"] == "SUCCEEDED", done
        out = json.loads(done["output"])
        assert out["sentiment"]["Error"] == "Comprehend.NotServedByCanariaException", out
        assert "comprehend" in out["sentiment"]["Cause"]
        child = wait_execution(c, out["child"]["arn"])
        assert child["stateMachineArn"] == next(
            arn for name, arn in machines.items() if "Child" in name
        )
        assert json.loads(child["output"]) == {"doubled": 42}
    finally:
        c.stop()


def wait_execution(c: Canaria, arn: str) -> dict[str, Any]:
    sfn = c.aws("stepfunctions")
    return wait_until(
        lambda: sfn.describe_execution(executionArn=arn),
        lambda d: d["status"] != "RUNNING",
        f"execution {arn}",
    )
