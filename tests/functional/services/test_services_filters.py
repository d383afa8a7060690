"""An SQS event source's FilterCriteria through a real `canaria up`: the function gets the
messages that match a filter, the others are dropped from the queue without an
invocation, as Lambda drops them."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest

from tests.functional.harness import Canaria

PY = f"python{sys.version_info.major}.{sys.version_info.minor}"

TEMPLATE = f"""\
Transform: AWS::Serverless-2016-10-31
Resources:
  Orders:
    Type: AWS::SQS::Queue
    Properties: {{QueueName: orders}}
  Worker:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: src
      Handler: app.handler
      Runtime: {PY}
      Events:
        Big:
          Type: SQS
          Properties:
            Queue: !GetAtt Orders.Arn
            FilterCriteria:
              Filters:
                - Pattern: {{body: {{kind: [order], amount: [{{numeric: [">", 100]}}]}}}}
                - Pattern: '{{"body": [{{"prefix": "URGENT"}}]}}'
"""

HANDLER = """\
def handler(event, context):
    for r in event["Records"]:
        print("GOT " + r["body"])
"""


@pytest.fixture
def app(tmp_path: Path) -> Iterator[Canaria]:
    root = tmp_path / "app"
    (root / "src").mkdir(parents=True)
    (root / "template.yaml").write_text(TEMPLATE)
    (root / "src" / "app.py").write_text(HANDLER)
    c = Canaria(root / "template.yaml", tmp_path / "state").start()
    yield c
    c.stop()


def sqs(c: Canaria) -> Any:
    exports = json.loads(
        subprocess.run(
            [sys.executable, "-m", "canaria.cli.main", "env", "--json"],
            env=c.env,
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    )
    return boto3.client(
        "sqs",
        endpoint_url=exports["AWS_ENDPOINT_URL_SQS"],
        region_name="us-east-1",
        aws_access_key_id=exports["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=exports["AWS_SECRET_ACCESS_KEY"],
    )


def test_only_matching_messages_reach_the_function(app: Canaria) -> None:
    client = sqs(app)
    url = client.get_queue_url(QueueName="orders")["QueueUrl"]
    bodies = [
        json.dumps({"kind": "order", "amount": 250}),
        json.dumps({"kind": "order", "amount": 5}),
        "URGENT: restock",
        "routine",
    ]
    for body in bodies:
        client.send_message(QueueUrl=url, MessageBody=body)
    deadline = time.monotonic() + 60
    while True:
        lines = app.api().get("/functions/Worker/logs")["lines"]
        got = sorted(x["text"][4:] for x in lines if x["text"].startswith("GOT "))
        attrs = client.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
        left = int(attrs["ApproximateNumberOfMessages"]) + int(
            attrs["ApproximateNumberOfMessagesNotVisible"]
        )
        if (len(got) == 2 and left == 0) or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert got == sorted([bodies[0], bodies[2]])
    assert left == 0  # the two that matched nothing were dropped, not left to come back
