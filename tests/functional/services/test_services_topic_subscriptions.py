"""A topic's ``lambda`` subscriptions through a real `canaria up`, written the
CloudFormation way (an ``AWS::SNS::Subscription`` resource, a topic's ``Subscription``
list, an ``AWS::Lambda::Permission``) instead of a SAM ``SNS`` event: each subscribed
function gets SNS's event for a published message, and a subscription's filter policy
keeps the others from it."""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.functional.harness import Canaria

PY = f"python{sys.version_info.major}.{sys.version_info.minor}"

TEMPLATE = f"""\
Transform: AWS::Serverless-2016-10-31
Resources:
  Orders:
    Type: AWS::SNS::Topic
    Properties:
      TopicName: orders
      Subscription:
        - Protocol: lambda
          Endpoint: !GetAtt Audit.Arn
  BillingSubscription:
    Type: AWS::SNS::Subscription
    Properties:
      TopicArn: !Ref Orders
      Protocol: lambda
      Endpoint: !GetAtt Billing.Arn
      FilterPolicy: {{kind: [order]}}
  BillingPermission:
    Type: AWS::Lambda::Permission
    Properties:
      Action: lambda:InvokeFunction
      FunctionName: !Ref Billing
      Principal: sns.amazonaws.com
      SourceArn: !Ref Orders
  Billing:
    Type: AWS::Serverless::Function
    Properties: {{CodeUri: src, Handler: app.handler, Runtime: {PY}}}
  Audit:
    Type: AWS::Serverless::Function
    Properties: {{CodeUri: src, Handler: app.handler, Runtime: {PY}}}
"""

HANDLER = """\
import json

def handler(event, context):
    for r in event["Records"]:
        sns = r["Sns"]
        print("GOT " + json.dumps([r["EventSource"], sns["TopicArn"], sns["Message"]]))
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


def received(c: Canaria, function: str) -> list[list[str]]:
    lines = c.api().get(f"/functions/{function}/logs")["lines"]
    return sorted(json.loads(x["text"][4:]) for x in lines if x["text"].startswith("GOT "))


def test_each_subscribed_function_gets_what_its_filter_lets_through(app: Canaria) -> None:
    sns = app.env_client("sns", "AWS_ENDPOINT_URL_SNS")
    topic = sns.create_topic(Name="orders")["TopicArn"]  # the template's: its ARN
    order = {"kind": {"DataType": "String", "StringValue": "order"}}
    note = {"kind": {"DataType": "String", "StringValue": "note"}}
    sns.publish(TopicArn=topic, Message="order 1", MessageAttributes=order)
    sns.publish(TopicArn=topic, Message="a note", MessageAttributes=note)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        audit, billing = received(app, "Audit"), received(app, "Billing")
        if len(audit) == 2 and billing:
            break
        time.sleep(0.2)
    assert audit == [["aws:sns", topic, "a note"], ["aws:sns", topic, "order 1"]]
    assert billing == [["aws:sns", topic, "order 1"]]
    time.sleep(1)  # the filtered message does not come later
    assert received(app, "Billing") == billing
    warnings = "\n".join(app.api().get("/status")["warnings"])
    assert "delivery to function" not in warnings
