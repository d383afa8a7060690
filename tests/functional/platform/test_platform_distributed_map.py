"""A Distributed Map reading its items from S3 (``ItemReader``) through a real `canaria
up`: a CSV object's rows, a JSON Lines object's values and a prefix's objects, each item
through a Lambda function; a missing object is ``States.ItemReaderFailed``, which Catch
takes."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.functional.harness import Canaria, write_app

TEMPLATE = """\
Transform: AWS::Serverless-2016-10-31
Resources:
  Inventory:
    Type: AWS::S3::Bucket
    Properties: {BucketName: dmap-inventory}
  Check:
    Type: AWS::Serverless::Function
    Properties:
      Handler: app.handler
      Runtime: python3.11
      CodeUri: src
  Process:
    Type: AWS::Serverless::StateMachine
    Properties:
      Type: EXPRESS
      Policies: [{LambdaInvokePolicy: {FunctionName: !Ref Check}}]
      Definition:
        StartAt: Kind
        States:
          Kind:
            Type: Choice
            Choices:
              - {Variable: $.kind, StringEquals: csv, Next: Rows}
              - {Variable: $.kind, StringEquals: jsonl, Next: Lines}
            Default: Objects
          Rows:
            Type: Map
            ItemReader:
              Resource: arn:aws:states:::s3:getObject
              ReaderConfig: {InputType: CSV, CSVHeaderLocation: FIRST_ROW}
              Parameters: {Bucket.$: $.bucket, Key.$: $.key}
            ItemProcessor: &processor
              ProcessorConfig: {Mode: DISTRIBUTED, ExecutionType: EXPRESS}
              StartAt: Check
              States:
                Check:
                  Type: Task
                  Resource: arn:aws:states:::lambda:invoke
                  Parameters: {FunctionName: !GetAtt Check.Arn, Payload.$: $}
                  OutputPath: $.Payload
                  End: true
            MaxConcurrency: 4
            Catch: [{ErrorEquals: [States.ItemReaderFailed], Next: Unread}]
            End: true
          Lines:
            Type: Map
            ItemReader:
              Resource: arn:aws:states:::s3:getObject
              ReaderConfig: {InputType: JSONL, MaxItems: 2}
              Parameters: {Bucket: dmap-inventory, Key: lines.jsonl}
            ItemProcessor: *processor
            End: true
          Objects:
            Type: Map
            ItemReader:
              Resource: arn:aws:states:::s3:listObjectsV2
              Parameters: {Bucket: dmap-inventory, Prefix: drop/}
            ItemSelector: {name.$: $$.Map.Item.Value.Key}
            ItemProcessor: *processor
            End: true
          Unread:
            Type: Pass
            Parameters: {unread.$: $.Error}
            End: true
"""

HANDLER = """\
def handler(event, context):
    return {"seen": event}
"""


@pytest.fixture
def app(tmp_path: Path) -> Iterator[Canaria]:
    template = write_app(tmp_path / "app", {"template.yaml": TEMPLATE, "src/app.py": HANDLER})
    c = Canaria(template, tmp_path / "state").start()
    yield c
    c.stop()


def run(c: Canaria, payload: dict[str, Any]) -> Any:
    sfn = c.aws("stepfunctions")
    arn = sfn.list_state_machines()["stateMachines"][0]["stateMachineArn"]
    out = sfn.start_sync_execution(stateMachineArn=arn, input=json.dumps(payload))
    assert out["status"] == "SUCCEEDED", out
    return json.loads(out["output"])


def test_a_distributed_map_reads_its_items_from_s3(app: Canaria) -> None:
    s3 = app.env_client("s3", "AWS_ENDPOINT_URL_S3")
    s3.put_object(
        Bucket="dmap-inventory", Key="unicorns.csv", Body=b"PK,LOCATION\nu1,Paris\nu2,Oslo\n"
    )
    s3.put_object(Bucket="dmap-inventory", Key="lines.jsonl", Body=b'{"n":1}\n\n{"n":2}\n{"n":3}\n')
    for key in ("drop/a.txt", "drop/b.txt", "elsewhere.txt"):
        s3.put_object(Bucket="dmap-inventory", Key=key, Body=b"x")

    rows = run(app, {"kind": "csv", "bucket": "dmap-inventory", "key": "unicorns.csv"})
    assert rows == [
        {"seen": {"PK": "u1", "LOCATION": "Paris"}},
        {"seen": {"PK": "u2", "LOCATION": "Oslo"}},
    ]
    assert run(app, {"kind": "jsonl"}) == [{"seen": {"n": 1}}, {"seen": {"n": 2}}]  # MaxItems
    assert run(app, {"kind": "objects"}) == [
        {"seen": {"name": "drop/a.txt"}},
        {"seen": {"name": "drop/b.txt"}},
    ]
    missing = run(app, {"kind": "csv", "bucket": "dmap-inventory", "key": "nope.csv"})
    assert missing == {"unread": "States.ItemReaderFailed"}
