"""A function's S3 event source through a real `canaria up`: an object written to the
template's bucket (from outside, through the engine's endpoint `up` prints) reaches the
function as Lambda's S3 notification."""

from __future__ import annotations

import re
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest

from tests.functional.harness import Canaria

TEMPLATE = f"""\
Transform: AWS::Serverless-2016-10-31
Resources:
  Inbox:
    Type: AWS::S3::Bucket
    Properties:
      NotificationConfiguration:
        EventBridgeConfiguration: {{EventBridgeEnabled: true}}
  Ledger:
    Type: AWS::S3::Bucket
  Recorder:
    Type: AWS::Serverless::Function
    Properties:
      Handler: app.record
      Runtime: python{sys.version_info.major}.{sys.version_info.minor}
      CodeUri: src
      Timeout: 10
      Environment:
        Variables:
          LEDGER: !Ref Ledger
  CreatedRule:  # as AWS-native templates write it: a rule targeting the function's ARN
    Type: AWS::Events::Rule
    Properties:
      EventPattern:
        source: [aws.s3]
        detail-type: [Object Created]
        detail: {{bucket: {{name: [!Ref Inbox]}}}}
      Targets:
        - Id: recorder
          Arn: !GetAtt Recorder.Arn
  RecorderPermission:
    Type: AWS::Lambda::Permission
    Properties:
      FunctionName: !Ref Recorder
      Action: lambda:InvokeFunction
      Principal: events.amazonaws.com
      SourceArn: !GetAtt CreatedRule.Arn
  Copier:
    Type: AWS::Serverless::Function
    Properties:
      Handler: app.handler
      Runtime: python{sys.version_info.major}.{sys.version_info.minor}
      CodeUri: src
      Timeout: 10
      Environment:
        Variables:
          BUCKET: !Ref Inbox
      Events:
        Arrived:
          Type: S3
          Properties:
            Bucket: !Ref Inbox
            Events: s3:ObjectCreated:*
            Filter:
              S3Key:
                Rules: [{{Name: prefix, Value: in/}}]
"""
HANDLER = """\
import os
import urllib.parse

import boto3

s3 = boto3.client("s3")


def handler(event, context):
    for record in event["Records"]:
        assert record["eventSource"] == "aws:s3"
        key = urllib.parse.unquote_plus(record["s3"]["object"]["key"])
        body = s3.get_object(Bucket=record["s3"]["bucket"]["name"], Key=key)["Body"].read()
        s3.put_object(
            Bucket=os.environ["BUCKET"],
            Key="out/" + key.removeprefix("in/"),
            Body=body.upper() + b" " + record["eventName"].encode(),
        )


def record(event, context):
    assert event["detail-type"] == "Object Created"
    key = event["detail"]["object"]["key"]
    s3.put_object(Bucket=os.environ["LEDGER"], Key=key, Body=event["source"].encode())
"""


@pytest.fixture
def copier(tmp_path: Path) -> Iterator[Canaria]:
    app = tmp_path / "inbox"
    (app / "src").mkdir(parents=True)
    (app / "template.yaml").write_text(TEMPLATE)
    (app / "src" / "app.py").write_text(HANDLER)
    c = Canaria(app / "template.yaml", tmp_path / "state").start()
    yield c
    c.stop()


def s3_of(c: Canaria) -> Any:
    m = re.search(r"^services\s+(http://\S+)", c.output(), re.M)
    assert m, c.output()
    return boto3.client(
        "s3",
        endpoint_url=m.group(1),
        region_name="us-east-1",
        aws_access_key_id="local",
        aws_secret_access_key="local",
    )


def test_an_object_written_to_the_bucket_reaches_the_function(copier: Canaria) -> None:
    s3 = s3_of(copier)
    s3.put_object(Bucket="inbox-inbox", Key="in/hello world.txt", Body=b"hello")
    s3.put_object(Bucket="inbox-inbox", Key="elsewhere.txt", Body=b"not for the copier")
    deadline = time.monotonic() + 60
    while True:
        try:
            got = s3.get_object(Bucket="inbox-inbox", Key="out/hello world.txt")
            break
        except s3.exceptions.NoSuchKey:
            assert time.monotonic() < deadline, copier.cli("logs", "Copier").stdout[-3000:]
            time.sleep(0.1)
    assert got["Body"].read() == b"HELLO ObjectCreated:Put"
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket="inbox-inbox")["Contents"]]
    assert sorted(keys) == ["elsewhere.txt", "in/hello world.txt", "out/hello world.txt"]
    # one invocation, and no other: the s3:TestEvent the bucket sent when it was set up
    # to notify the queue never reaches the function
    logs = copier.cli("logs", "Copier").stdout
    assert logs.count("START RequestId") == 1 and "[ERROR]" not in logs, logs[-3000:]


def test_a_bucket_with_eventbridge_notifications_reaches_a_rules_function(
    copier: Canaria,
) -> None:
    s3 = s3_of(copier)
    s3.put_object(Bucket="inbox-inbox", Key="in/a.txt", Body=b"a")
    deadline = time.monotonic() + 60
    while True:
        listed = s3.list_objects_v2(Bucket="inbox-ledger").get("Contents", [])
        if "in/a.txt" in [o["Key"] for o in listed]:
            break
        assert time.monotonic() < deadline, copier.cli("logs", "Recorder").stdout[-3000:]
        time.sleep(0.1)
    got = s3.get_object(Bucket="inbox-ledger", Key="in/a.txt")["Body"].read()
    assert got == b"aws.s3"
