"""A DynamoDB Streams application through a real `canaria up`: an API function writes to a
table with boto3, and the table's stream feeds two consumers as Lambda feeds them, a
Python one through its alias (filtered to INSERTs, reporting the item it cannot process,
which is then tried again alone) and a Node.js one that sees every change. After a
restart of canaria each consumer goes on from where it was: nothing is delivered twice
and nothing written meanwhile is lost."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

from tests.functional.harness import Canaria, wait_until, write_app

PY = f"python{sys.version_info.major}.{sys.version_info.minor}"

TEMPLATE = f"""\
Transform: AWS::Serverless-2016-10-31
Globals:
  Function:
    Runtime: {PY}
    CodeUri: src
    Timeout: 10
    Environment: {{Variables: {{TABLE: !Ref Orders}}}}
Resources:
  Orders:
    Type: AWS::DynamoDB::Table
    Properties:
      BillingMode: PAY_PER_REQUEST
      AttributeDefinitions: [{{AttributeName: id, AttributeType: S}}]
      KeySchema: [{{AttributeName: id, KeyType: HASH}}]
      StreamSpecification: {{StreamViewType: NEW_AND_OLD_IMAGES}}
  Writer:
    Type: AWS::Serverless::Function
    Properties:
      Handler: app.write
      Events:
        Put: {{Type: HttpApi, Properties: {{Path: /orders, Method: POST}}}}
  Shipper:
    Type: AWS::Serverless::Function
    Properties:
      Handler: app.ship
      AutoPublishAlias: live
      Events:
        Changes:
          Type: DynamoDB
          Properties:
            Stream: !GetAtt Orders.StreamArn
            StartingPosition: TRIM_HORIZON
            BatchSize: 10
            FunctionResponseTypes: [ReportBatchItemFailures]
            FilterCriteria:
              Filters: [{{Pattern: '{{"eventName": ["INSERT"]}}'}}]
  Auditor:
    Type: AWS::Serverless::Function
    Properties:
      Runtime: nodejs20.x
      CodeUri: node
      Handler: index.audit
      Events:
        Changes:
          Type: DynamoDB
          Properties:
            Stream: !GetAtt Orders.StreamArn
            StartingPosition: LATEST
"""

HANDLERS = """\
import json, os
import boto3

table = boto3.resource("dynamodb").Table(os.environ["TABLE"])

def write(event, context):
    body = json.loads(event["body"])
    for order in body.get("put", []):
        table.put_item(Item=order)
    for order_id in body.get("delete", []):
        table.delete_item(Key={"id": order_id})
    return {"statusCode": 202}

FAILED_ONCE = set()

def ship(event, context):
    failures = []
    for r in event["Records"]:
        image = r["dynamodb"]["NewImage"]
        order = image["id"]["S"]
        if image.get("flaky") and order not in FAILED_ONCE:
            FAILED_ONCE.add(order)
            failures.append({"itemIdentifier": r["dynamodb"]["SequenceNumber"]})
            continue
        print("SHIPPED " + order + " " + r["eventName"] + " " + r["eventSourceARN"]
              + " " + os.environ["AWS_LAMBDA_FUNCTION_VERSION"])
    return {"batchItemFailures": failures}
"""

NODE = """\
exports.audit = async (event) => {
  for (const r of event.Records) {
    console.log(`AUDIT ${r.eventName} ${r.dynamodb.Keys.id.S}`);
  }
};
"""

ARN = "arn:aws:dynamodb:us-east-1:123456789012:table/app-Orders/stream/1970-01-01T00:00:00.000"


def lines(c: Canaria, function: str, marker: str) -> list[list[str]]:
    got = c.api().get(f"/functions/{function}/logs")["lines"]
    texts = [x["text"].rsplit("\t", 1)[-1] for x in got]  # Node.js: time, id, level, text
    return [t.split()[1:] for t in texts if t.startswith(marker + " ")]


def post(c: Canaria, body: dict[str, object]) -> None:
    status, _, answer = c.http("POST", "/orders", json.dumps(body).encode())
    assert status == 202, answer


def test_a_tables_stream_feeds_its_consumers_through_restarts(tmp_path: Path) -> None:
    root = write_app(
        tmp_path / "app", {"template.yaml": TEMPLATE, "src/app.py": HANDLERS, "node/index.js": NODE}
    )
    state = tmp_path / "state"
    c = Canaria(root, state).start()
    try:
        sources = c.status()["functions"]["Shipper"]["sources"]
        assert sources == [
            {"kind": "DynamoDB", "event": "Changes", "source": "app-Orders", "enabled": True}
        ]
        post(c, {"put": [{"id": "o1"}, {"id": "o3"}, {"id": "o2", "flaky": True}]})
        post(c, {"put": [{"id": "o1", "note": "changed"}], "delete": ["o3"]})

        def shipped() -> list[list[str]]:
            return lines(c, "Shipper", "SHIPPED")

        got = wait_until(shipped, lambda v: len(v) >= 3, "three shipped")
        # INSERTs only; o2, the batch's last, reported once, then tried again alone
        assert [x[0] for x in got] == ["o1", "o3", "o2"], got
        assert all(x[1:] == ["INSERT", ARN, "1"] for x in got)
        audit = wait_until(lambda: lines(c, "Auditor", "AUDIT"), lambda v: len(v) >= 5, "audits")
        assert audit == [
            ["INSERT", "o1"],
            ["INSERT", "o3"],
            ["INSERT", "o2"],
            ["MODIFY", "o1"],
            ["REMOVE", "o3"],
        ]
    finally:
        c.stop()

    c = Canaria(root, state).start()  # the stream and the checkpoints are as they were
    try:
        post(c, {"put": [{"id": "o4"}]})
        got = wait_until(lambda: lines(c, "Shipper", "SHIPPED"), lambda v: len(v) >= 1, "o4")
        audit = wait_until(
            lambda: lines(c, "Auditor", "AUDIT"), lambda v: len(v) >= 1, "o4 audited"
        )
        time.sleep(1.0)  # anything delivered twice would be here by now
        assert [x[0] for x in lines(c, "Shipper", "SHIPPED")] == ["o4"], got
        assert lines(c, "Auditor", "AUDIT") == [["INSERT", "o4"]], audit
    finally:
        c.stop()
