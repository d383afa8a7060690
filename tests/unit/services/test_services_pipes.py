"""What a pipe makes of a record: Pipes' Kinesis record shape, JSON paths with the implicit
parsing of an SQS body and Kinesis data, and input templates."""

from __future__ import annotations

import base64
import json

from canaria.services.pipes import lookup, pipe_record, render

SQS = {"messageId": "m1", "body": '{"order": {"id": 7, "items": ["a", "b"]}}'}
RESERVED = {"aws.pipes.pipe-name": "orders", "aws.pipes.event.json": SQS}


def test_a_kinesis_record_is_flat_in_a_pipe() -> None:
    record = {
        "eventSource": "aws:kinesis",
        "eventID": "shard:1",
        "kinesis": {"partitionKey": "k", "sequenceNumber": "1", "data": "e30="},
    }
    assert pipe_record(record) == {
        "eventSource": "aws:kinesis",
        "eventID": "shard:1",
        "partitionKey": "k",
        "sequenceNumber": "1",
        "data": "e30=",
    }
    other = {"eventSource": "aws:sqs", "body": "x"}
    assert pipe_record(other) is other


def test_paths_read_into_a_json_body_and_base64_data() -> None:
    assert lookup(SQS, "$.body.order.id") == 7
    assert lookup(SQS, "$.body.order.items[1]") == "b"
    assert lookup(SQS, "$.body.order.items.0") == "a"
    assert lookup(SQS, "$.body.nothing") is None
    assert lookup({"body": "plain text"}, "$.body") == "plain text"
    data = base64.b64encode(json.dumps({"temp": 21}).encode()).decode()
    assert lookup({"data": data}, "$.data.temp") == 21


def test_a_template_puts_text_inside_strings_and_json_outside() -> None:
    template = (
        '{"id": <$.body.order.id>, "label": "order <$.body.order.id>", '
        '"items": <$.body.order.items>, "pipe": "<aws.pipes.pipe-name>", "missing": <$.x>}'
    )
    assert render(template, SQS, RESERVED) == {
        "id": 7,
        "label": "order 7",
        "items": ["a", "b"],
        "pipe": "orders",
        "missing": None,
    }
    # a quote in a value stays inside its string
    assert render('{"m": "<$.body>"}', {"body": 'say "hi"'}, {}) == {"m": 'say "hi"'}
    # the whole record, and a template that is not JSON
    assert render("<aws.pipes.event.json>", SQS, RESERVED) == SQS
    assert render("order <$.body.order.id> is in", SQS, RESERVED) == "order 7 is in"
    # a string in a text template is text (serverless-patterns' eventbridge-pipes-sqs-to-cwlog
    # shows "Order ID 456 requires immediate attention. Order status RETURNED")
    record = {"body": {"id": "456", "status": "RETURNED"}}
    text = "Order ID <$.body.id> requires immediate attention. Order status <$.body.status>"
    assert render(text, record, {}) == (
        "Order ID 456 requires immediate attention. Order status RETURNED"
    )
