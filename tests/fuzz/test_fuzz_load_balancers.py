"""Fuzzing an Application Load Balancer's listener with Hypothesis: whatever the path,
query, headers and body of a request, and whatever characters a rule's patterns hold, the
listener answers once, never with an error of its own, and the function gets ALB's event
in full."""

from __future__ import annotations

import asyncio
import base64
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from canaria.clock import ManualClock
from canaria.gateway import Routing
from canaria.gateway.load_balancers import ListenerHandler
from canaria.gateway.types import Request
from canaria.models.load_balancers import (
    ActionSpec,
    ConditionSpec,
    ListenerSpec,
    RuleSpec,
    TargetGroupSpec,
)
from tests.unit.gateway.fakes import FakeInvoker, ListRecorder, ListResponder

FUZZ = settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
    derandomize=True,  # the same examples at every run: a test run never fails by chance
)
latin1 = st.text(st.characters(min_codepoint=32, max_codepoint=255), max_size=40)
token = st.text(st.sampled_from("abcXYZ-_*?.+()[]$^\\|{}"), min_size=1, max_size=12)
events: list[dict[str, Any]] = []


def echo(event: dict[str, Any], version: int) -> Any:
    events.append(event)
    return {"statusCode": 200, "multiValueHeaders": {"x-path": [event["path"]]}, "body": "ok"}


def handler(patterns: list[str], header: str, multi: bool) -> ListenerHandler:
    group = TargetGroupSpec("G", "arn:aws:elasticloadbalancing:us-east-1:1:targetgroup/g/1", "echo")
    group = TargetGroupSpec(group.logical_id, group.arn, "echo", multi_value_headers=multi)
    forward = ActionSpec("forward", ((group, 1),))
    rules = (
        RuleSpec("Path", 1, (ConditionSpec("path-pattern", tuple(patterns)),), (forward,)),
        RuleSpec("Host", 2, (ConditionSpec("host-header", tuple(patterns)),), (forward,)),
        RuleSpec(
            "Header",
            3,
            (ConditionSpec("http-header", tuple(patterns), header=header),),
            (forward,),
        ),
        RuleSpec(
            "Query",
            4,
            (ConditionSpec("query-string", pairs=((None, patterns[0]),)),),
            (ActionSpec("fixed-response", status=404),),
        ),
        RuleSpec("Ip", 5, (ConditionSpec("source-ip", ("10.0.0.0/8",)),), (forward,)),
    )
    listener = ListenerSpec("L", "LB", 80, "HTTP", rules, (forward,))
    routing = Routing()
    routing.set_latest("echo", 1)
    return ListenerHandler(
        listener,
        routing,
        FakeInvoker({"echo": echo}),
        ListRecorder(),
        ManualClock(),
        lambda *_: None,
    )


@FUZZ
@given(
    patterns=st.lists(token, min_size=1, max_size=3),
    header=token,
    multi=st.booleans(),
    path=latin1.map(lambda p: "/" + p),
    query=latin1,
    headers=st.lists(st.tuples(token, latin1), max_size=6),
    body=st.binary(max_size=64),
    content_type=st.sampled_from([None, "text/plain", "application/json", "image/png", ";;"]),
)
def test_any_request_is_answered_once_with_albs_event(
    patterns: list[str],
    header: str,
    multi: bool,
    path: str,
    query: str,
    headers: list[tuple[str, str]],
    body: bytes,
    content_type: str | None,
) -> None:
    sent = [("Host", "h"), *headers]
    if content_type is not None:
        sent.append(("Content-Type", content_type))
    sent = [(n, v) for n, v in sent if n.lower() != "upgrade"]
    req = Request("POST", path, query, sent, body)
    out = ListResponder()
    events.clear()
    asyncio.run(handler(patterns, header, multi).handle(req, out))
    ((_, response, extra),) = out.answers
    assert extra == ("Server", "awselb/2.0")
    assert response.status in (200, 404), response  # 404: the query rule's fixed response
    if response.status == 200:
        (event,) = events
        assert event["path"] == path
        if event["isBase64Encoded"]:
            assert base64.b64decode(event["body"]) == body
        else:
            assert event["body"].encode() == body
        assert ("multiValueHeaders" in event) is multi
