"""EventBridge Pipes through a real `canaria up`:

- a table's stream → a pipe filtering INSERTs → a Python enrichment function → an event
  bus (the pipe's DetailType and Source, an InputTemplate) → a rule → a queue;
- a queue → a pipe filtering on the message body → a state machine started with the
  batch as a JSON array;
- a pipe whose enrichment crashes leaves its batch to be tried again, and the pipe's
  filtered-out messages are dropped, as Pipes drops them;
- an ``AWS::Lambda::EventSourceMapping`` resource feeds its function as an SQS event
  would."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.functional.harness import Canaria, wait_until, write_app

PY = f"python{sys.version_info.major}.{sys.version_info.minor}"

TEMPLATE = f"""\
Transform: AWS::Serverless-2016-10-31
Resources:
  Users:
    Type: AWS::DynamoDB::Table
    Properties:
      TableName: users
      BillingMode: PAY_PER_REQUEST
      AttributeDefinitions: [{{AttributeName: id, AttributeType: S}}]
      KeySchema: [{{AttributeName: id, KeyType: HASH}}]
      StreamSpecification: {{StreamViewType: NEW_AND_OLD_IMAGES}}
  Bus:
    Type: AWS::Events::EventBus
    Properties: {{Name: app-bus}}
  Welcomed:
    Type: AWS::SQS::Queue
    Properties: {{QueueName: welcomed}}
  WelcomeRule:
    Type: AWS::Events::Rule
    Properties:
      EventBusName: !Ref Bus
      EventPattern: {{source: [myapp.users], detail-type: [UserCreated]}}
      Targets: [{{Id: q, Arn: !GetAtt Welcomed.Arn}}]
  Enrich:
    Type: AWS::Serverless::Function
    Properties:
      Runtime: {PY}
      CodeUri: src
      Handler: app.enrich
  UsersPipe:
    Type: AWS::Pipes::Pipe
    Properties:
      RoleArn: arn:aws:iam::123456789012:role/pipe
      Source: !GetAtt Users.StreamArn
      SourceParameters:
        DynamoDBStreamParameters: {{StartingPosition: LATEST, BatchSize: 10}}
        FilterCriteria:
          Filters: [{{Pattern: '{{"eventName": ["INSERT"]}}'}}]
      Enrichment: !GetAtt Enrich.Arn
      EnrichmentParameters:
        InputTemplate: '{{"id": <$.dynamodb.NewImage.id.S>, "pipe": "<aws.pipes.pipe-name>"}}'
      Target: !GetAtt Bus.Arn
      TargetParameters:
        EventBridgeEventBusParameters: {{DetailType: UserCreated, Source: myapp.users}}
        InputTemplate: '{{"user": <$.id>, "greeting": "hello <$.id>", "via": <$.pipe>}}'
  Inbox:
    Type: AWS::SQS::Queue
    Properties: {{QueueName: inbox}}
  Paint:
    Type: AWS::Serverless::StateMachine
    Properties:
      Name: paint
      Definition:
        StartAt: Count
        States:
          Count: {{Type: Pass, Parameters: {{"colors.$": "$[*].body.color"}}, End: true}}
  InboxPipe:
    Type: AWS::Pipes::Pipe
    Properties:
      RoleArn: arn:aws:iam::123456789012:role/pipe
      Source: !GetAtt Inbox.Arn
      SourceParameters:
        SqsQueueParameters: {{BatchSize: 1}}
        FilterCriteria:
          Filters: [{{Pattern: '{{"body": {{"color": ["red", "blue"]}}}}'}}]
      Target: !Ref Paint
      TargetParameters:
        InputTemplate: '{{"body": <$.body>, "from": "<$.eventSourceARN>"}}'
  Jobs:
    Type: AWS::SQS::Queue
    Properties: {{QueueName: jobs}}
  Worker:
    Type: AWS::Serverless::Function
    Properties:
      Runtime: {PY}
      CodeUri: src
      Handler: app.work
      AutoPublishAlias: live
  JobsMapping:
    Type: AWS::Lambda::EventSourceMapping
    Properties:
      FunctionName: !Ref Worker.Alias
      EventSourceArn: !GetAtt Jobs.Arn
      BatchSize: 5
"""

HANDLERS = """\
import os

def enrich(batch, context):
    if os.path.exists(os.environ["CRASH_FILE"]):
        os.remove(os.environ["CRASH_FILE"])
        raise RuntimeError("the enrichment is down this once")
    return [dict(item, id=item["id"].upper()) for item in batch]

def work(event, context):
    for record in event["Records"]:
        print("WORKED " + record["body"] + " " + record["eventSourceARN"])
"""


@pytest.fixture
def app(tmp_path: Path) -> Iterator[Canaria]:
    crash = tmp_path / "crash-once"
    template = TEMPLATE.replace(
        "      Handler: app.enrich\n",
        f"      Handler: app.enrich\n      Environment: {{Variables: {{CRASH_FILE: '{crash}'}}}}\n",
    )
    root = write_app(tmp_path / "app", {"template.yaml": template, "src/app.py": HANDLERS})
    c = Canaria(root, tmp_path / "state").start()
    yield c
    c.stop()


def test_a_tables_changes_are_piped_through_an_enrichment_to_a_bus(
    app: Canaria, tmp_path: Path
) -> None:
    (tmp_path / "crash-once").write_text("")  # the first batch fails and comes back
    db = app.env_client("dynamodb", "AWS_ENDPOINT_URL_DYNAMODB")
    db.put_item(TableName="users", Item={"id": {"S": "ada"}})
    db.put_item(TableName="users", Item={"id": {"S": "ada"}, "age": {"N": "36"}})  # MODIFY
    db.put_item(TableName="users", Item={"id": {"S": "bob"}})
    sqs = app.env_client("sqs", "AWS_ENDPOINT_URL_SQS")
    url = sqs.get_queue_url(QueueName="welcomed")["QueueUrl"]
    got: list[dict[str, Any]] = []

    def receive() -> list[dict[str, Any]]:
        messages = sqs.receive_message(QueueUrl=url, WaitTimeSeconds=1, MaxNumberOfMessages=10)
        got.extend(json.loads(m["Body"]) for m in messages.get("Messages", []))
        return got

    wait_until(receive, lambda v: len(v) >= 2, "the bus's events in the queue")
    assert sorted(e["detail"]["user"] for e in got) == ["ADA", "BOB"]  # INSERTs only
    event = got[0]
    assert event["source"] == "myapp.users" and event["detail-type"] == "UserCreated"
    assert event["detail"]["greeting"] == f"hello {event['detail']['user']}"
    assert event["detail"]["via"] == "app-UsersPipe"
    assert event["resources"] == ["arn:aws:pipes:us-east-1:123456789012:pipe/app-UsersPipe"]
    assert not (tmp_path / "crash-once").exists()  # it did crash once, and was tried again


def test_a_queues_messages_are_piped_to_a_state_machine(app: Canaria) -> None:
    sqs = app.env_client("sqs", "AWS_ENDPOINT_URL_SQS")
    url = sqs.get_queue_url(QueueName="inbox")["QueueUrl"]
    for color in ("red", "green", "blue"):
        sqs.send_message(QueueUrl=url, MessageBody=json.dumps({"color": color}))
    sfn = app.aws("stepfunctions")
    arn = "arn:aws:states:us-east-1:123456789012:stateMachine:paint"

    def succeeded() -> list[dict[str, Any]]:
        listed = sfn.list_executions(stateMachineArn=arn, statusFilter="SUCCEEDED")
        return list(listed["executions"])

    done = wait_until(succeeded, lambda v: len(v) >= 2, "two executions")
    outputs = [
        json.loads(sfn.describe_execution(executionArn=e["executionArn"])["output"]) for e in done
    ]
    assert sorted(o["colors"][0] for o in outputs) == ["blue", "red"]  # green filtered out
    first = json.loads(sfn.describe_execution(executionArn=done[0]["executionArn"])["input"])
    assert isinstance(first, list) and len(first) == 1  # the batch, as a JSON array
    assert first[0]["from"] == "arn:aws:sqs:us-east-1:123456789012:inbox"
    # the filtered-out message was dropped, not left in the queue
    wait_until(
        lambda: sqs.get_queue_attributes(
            QueueUrl=url,
            AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
        )["Attributes"],
        lambda a: (
            a["ApproximateNumberOfMessages"] == "0"
            and a["ApproximateNumberOfMessagesNotVisible"] == "0"
        ),
        "an empty inbox",
    )


def test_an_event_source_mapping_resource_feeds_its_function(app: Canaria) -> None:
    sqs = app.env_client("sqs", "AWS_ENDPOINT_URL_SQS")
    url = sqs.get_queue_url(QueueName="jobs")["QueueUrl"]
    for job in ("j1", "j2"):
        sqs.send_message(QueueUrl=url, MessageBody=job)

    def worked() -> list[list[str]]:
        lines = app.api().get("/functions/Worker/logs")["lines"]
        return [x["text"].split()[1:] for x in lines if x["text"].startswith("WORKED ")]

    done = wait_until(worked, lambda v: len(v) >= 2, "two jobs worked")
    arn = "arn:aws:sqs:us-east-1:123456789012:jobs"
    assert sorted(done) == [["j1", arn], ["j2", arn]]
    sources = app.status()["functions"]["Worker"]["sources"]
    assert sources == [{"kind": "SQS", "event": "JobsMapping", "source": "jobs", "enabled": True}]
