"""CloudWatch Logs subscription filters through a real `canaria up`: a function's log
lines that a filter matches reach the destination function, in CloudWatch Logs' event."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.functional.harness import Canaria, write_app

TEMPLATE = """\
AWSTemplateFormatVersion: "2010-09-09"
Transform: AWS::Serverless-2016-10-31
Globals:
  Function: {{Runtime: python3.11, CodeUri: src, AutoPublishAlias: live}}
Resources:
  Producer:
    Type: AWS::Serverless::Function
    Properties: {{Handler: app.produce}}
  Alerts:
    Type: AWS::Serverless::Function
    Properties:
      Handler: app.consume
      Environment: {{Variables: {{OUT: "{out}/alerts.jsonl"}}}}
      Events:
        Errors:
          Type: CloudWatchLogs
          Properties:
            LogGroupName: !Sub /aws/lambda/${{Producer}}
            FilterPattern: ERROR
  Warnings:
    Type: AWS::Serverless::Function
    Properties:
      Handler: app.consume
      Environment: {{Variables: {{OUT: "{out}/warnings.jsonl"}}}}
  WarningsFilter:
    Type: AWS::Logs::SubscriptionFilter
    Properties:
      FilterName: slow-calls
      LogGroupName: !Sub /aws/lambda/${{Producer}}
      FilterPattern: '{{ $.level = "WARN" && $.ms > 100 }}'
      DestinationArn: !GetAtt Warnings.Arn
"""

APP = """\
import base64, gzip, json, os

def produce(event, context):
    print("ERROR payment failed for order " + str(event.get("order")))
    print(json.dumps({"level": "WARN", "ms": 250, "call": "inventory"}))
    print(json.dumps({"level": "WARN", "ms": 20, "call": "prices"}))
    print("INFO all good")
    return {"ok": True}

def consume(event, context):
    data = json.loads(gzip.decompress(base64.b64decode(event["awslogs"]["data"])))
    with open(os.environ["OUT"], "a") as out:
        out.write(json.dumps(data) + "\\n")
"""


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Canaria, Path]]:
    root = tmp_path_factory.mktemp("subscriptions")
    out = root / "out"
    out.mkdir()
    files = {"template.yaml": TEMPLATE.format(out=out), "src/app.py": APP}
    c = Canaria(write_app(root / "app", files), root / "state").start()
    yield c, out
    c.stop()


def deliveries(path: Path, messages: int) -> list[dict[str, Any]]:
    """What the destination has received, once it holds ``messages`` log events (20 s)."""
    deadline = time.monotonic() + 20
    while True:
        got = [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []
        if sum(len(d["logEvents"]) for d in got) >= messages or time.monotonic() > deadline:
            return got
        time.sleep(0.05)


def test_matching_lines_reach_the_destination_in_cloudwatch_logs_event(
    app: tuple[Canaria, Path],
) -> None:
    c, out = app
    r = c.aws("lambda").invoke(FunctionName="Producer", Payload=json.dumps({"order": 7}))
    assert "FunctionError" not in r
    (alert,) = deliveries(out / "alerts.jsonl", 1)
    assert alert["messageType"] == "DATA_MESSAGE"
    assert alert["logGroup"] == "/aws/lambda/Producer"
    assert alert["subscriptionFilters"] == ["AlertsErrors"]  # SAM's <Function><Event>
    assert alert["owner"] == "123456789012"
    assert alert["logStream"].split("/")[3].startswith("[1]")
    (event,) = alert["logEvents"]
    assert event["message"] == "ERROR payment failed for order 7"
    assert isinstance(event["timestamp"], int) and event["id"]
    (warning,) = deliveries(out / "warnings.jsonl", 1)
    assert warning["subscriptionFilters"] == ["slow-calls"]
    assert [json.loads(e["message"])["call"] for e in warning["logEvents"]] == ["inventory"]


def test_validate_says_nothing_of_the_event(app: tuple[Canaria, Path]) -> None:
    c, _ = app
    r = c.cli("validate", "-t", str(c.template))
    assert r.returncode == 0, r.stdout + r.stderr
    assert "CloudWatchLogs" not in r.stdout + r.stderr  # no "not triggered" warning
