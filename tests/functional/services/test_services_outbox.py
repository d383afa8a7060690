"""A topic's email, email-json and SMS subscribers through a real `canaria up`: nothing is
sent; each notification they would have got is kept in the outbox that `canaria outbox`
prints, with its subject, its text and the subscription's filter policy applied."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import pytest

from tests.functional.harness import Canaria, write_app

TEMPLATE = """\
Transform: AWS::Serverless-2016-10-31
Resources:
  Approvals:
    Type: AWS::SNS::Topic
    Properties:
      Subscription:
        - {Protocol: email, Endpoint: approver@example.com}
  Machines:
    Type: AWS::SNS::Subscription
    Properties:
      TopicArn: !Ref Approvals
      Protocol: email-json
      Endpoint: robot@example.com
  Pager:
    Type: AWS::SNS::Subscription
    Properties:
      TopicArn: !Ref Approvals
      Protocol: sms
      Endpoint: '+15555550100'
      FilterPolicy: {urgency: [high]}
"""


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Canaria]:
    tmp = tmp_path_factory.mktemp("outbox")
    c = Canaria(write_app(tmp / "app", {"template.yaml": TEMPLATE}), tmp / "state")
    c.start()
    sns = c.env_client("sns", "AWS_ENDPOINT_URL_SNS")
    topic = [t["TopicArn"] for t in sns.list_topics()["Topics"] if "Approvals" in t["TopicArn"]]
    sns.publish(TopicArn=topic[0], Subject="Approve order o-1", Message="https://x/approve?t=1")
    sns.publish(
        TopicArn=topic[0],
        Message="disk full",
        MessageAttributes={"urgency": {"DataType": "String", "StringValue": "high"}},
    )
    yield c
    c.stop()


def outbox(app: Canaria, count: int) -> list[dict[str, Any]]:
    deadline = time.monotonic() + 60
    while True:
        r = app.cli("outbox", "--json")
        assert r.returncode == 0, r.stderr
        entries = [json.loads(line) for line in r.stdout.splitlines()]
        if len(entries) >= count or time.monotonic() > deadline:
            return entries
        time.sleep(0.3)


def test_each_subscriber_gets_what_sns_would_send_it(app: Canaria) -> None:
    entries = outbox(app, 5)
    mail = [e for e in entries if e["to"] == "approver@example.com"]
    assert [(e["subject"], e["message"]) for e in mail] == [
        ("Approve order o-1", "https://x/approve?t=1"),
        ("AWS Notification Message", "disk full"),  # SNS's subject when none is given
    ]
    robot = [json.loads(e["message"]) for e in entries if e["to"] == "robot@example.com"]
    assert [n["Type"] for n in robot] == ["Notification", "Notification"]
    assert robot[0]["Subject"] == "Approve order o-1"
    sms = [e for e in entries if e["protocol"] == "sms"]
    assert [(e["to"], e["message"]) for e in sms] == [("+15555550100", "disk full")]  # filtered
    assert len(entries) == 5


def test_the_outbox_prints_for_people(app: Canaria) -> None:
    outbox(app, 5)
    r = app.cli("outbox")
    assert "email to approver@example.com  Approve order o-1" in r.stdout
    assert "  https://x/approve?t=1" in r.stdout
