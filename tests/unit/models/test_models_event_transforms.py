"""What an EventBridge rule hands a target, against what EventBridge delivered: the
expected bodies are those an SQS target received on AWS for these templates and this
event (recorded by LocalStack's AWS-validated tests of input transformers)."""

from __future__ import annotations

import json

import pytest

from canaria.models.event_transforms import EventTransform, apply, check_transformer

DETAIL = {
    "command": "update-account",
    "payload": {"acc_id": "0a787ecb-4015", "sf_id": "baz"},
    "listsingle": ["HIGH"],
    "listmulti": ["ACTIVE", "INACTIVE"],
    "valid": True,
}
EVENT = {
    "version": "0",
    "id": "7bf73129-1428-4cd3-a780-95db273d1602",
    "detail-type": "core.update-account-command",
    "source": "core.update-account-command",
    "account": "111111111111",
    "time": "2026-12-04T10:00:00Z",
    "region": "us-east-1",
    "resources": [],
    "detail": DETAIL,
}
PATHS = (
    ("userId", "$.detail.payload.acc_id"),
    ("payload", "$.detail.payload"),
    ("systemstring", "$.detail.awsAccountId"),  # names nothing
    ("listsingle", "$.detail.listsingle"),
    ("listmulti", "$.detail.listmulti"),
    ("valid", "$.detail.valid"),
)
RULE_ARN = "arn:aws:events:us-east-1:111111111111:rule/bus/example"


def transformed(template: str) -> str | None:
    return apply(EventTransform(paths=PATHS, template=template), EVENT, RULE_ARN, "example")


@pytest.mark.parametrize(
    ("template", "body"),
    [
        (
            '{"method": "PUT", "path": "users-service/users/<userId>", "bod": <payload>}',
            {
                "method": "PUT",
                "path": "users-service/users/0a787ecb-4015",
                "bod": {"acc_id": "0a787ecb-4015", "sf_id": "baz"},
            },
        ),
        ('{"id" : <userId>}', {"id": "0a787ecb-4015"}),
        ('{"id" : "<userId>"}', {"id": "0a787ecb-4015"}),
        ('{"singlelistitem": <listsingle>}', {"singlelistitem": ["HIGH"]}),
        (
            '{"multi_replacement": "users/<userId>/second/<userId>"}',
            {"multi_replacement": "users/0a787ecb-4015/second/0a787ecb-4015"},
        ),
        ('{"m": [<userId>, "hardcoded"]}', {"m": ["0a787ecb-4015", "hardcoded"]}),
        ('{"system": <systemstring>}', {"system": ""}),
    ],
)
def test_a_json_template_is_filled_and_minified(template: str, body: object) -> None:
    out = transformed(template)
    assert out is not None
    assert json.loads(out) == body
    assert out == json.dumps(body, separators=(",", ":"))


@pytest.mark.parametrize(
    ("template", "body"),
    [
        (
            '"Payload of <payload> with path users-service/users/<userId> and <userId>"',
            '"Payload of {acc_id:0a787ecb-4015,sf_id:baz} with path '
            'users-service/users/0a787ecb-4015 and 0a787ecb-4015"',
        ),
        ('"<listsingle> single list item"', '"[HIGH] single list item"'),
        ('"<listmulti> multiple list items"', '"[ACTIVE,INACTIVE] multiple list items"'),
        ('"Command is <valid>!"', '"Command is true!"'),
        ('"<systemstring> system account id"', '" system account id"'),
        (
            '"Message <aws.events.rule-arn> <aws.events.rule-name> '
            '<aws.events.event.ingestion-time>"',
            f'"Message {RULE_ARN} example 2026-12-04T10:00:00Z"',
        ),
        ("<userId> is in state <valid>", "0a787ecb-4015 is in state true"),
    ],
)
def test_a_string_template_arrives_as_the_text_it_fills_to(template: str, body: str) -> None:
    assert transformed(template) == body


@pytest.mark.parametrize(
    "template",
    [
        '{"not_valid": "users-service/users/<payload>", "bod": <payload>}',
        '{"payload": "<payload>"}',
        '{"singlelistitem": "<listsingle>"}',
    ],
)
def test_a_json_template_that_fills_to_no_json_delivers_nothing(template: str) -> None:
    assert transformed(template) is None


def test_the_reserved_event_variables() -> None:
    out = transformed('{"e": <aws.events.event>, "j": <aws.events.event.json>}')
    assert out is not None
    body = json.loads(out)
    assert body["j"] == EVENT
    assert "detail" not in body["e"]
    assert body["e"]["detailType"] == "core.update-account-command"


def test_input_and_input_path() -> None:
    assert apply(EventTransform(input='{"k": 1}'), EVENT, RULE_ARN, "r") == '{"k": 1}'
    assert apply(EventTransform(input_path="$.detail.payload.sf_id"), EVENT, RULE_ARN, "r") == (
        '"baz"'
    )
    assert apply(EventTransform(input_path="$.detail.listmulti[1]"), EVENT, RULE_ARN, "r") == (
        '"INACTIVE"'
    )
    assert apply(EventTransform(input_path="$.detail.nothing"), EVENT, RULE_ARN, "r") is None
    whole = apply(None, EVENT, RULE_ARN, "r")
    assert whole is not None and json.loads(whole) == EVENT


def test_a_transformer_is_checked_as_put_targets_checks_it() -> None:
    paths = dict(PATHS)
    assert check_transformer(paths, '"<userId>"') is None
    assert "<notdefinedkey>" in str(check_transformer(paths, '"key <notdefinedkey>"'))
    assert "reserves" in str(check_transformer({"aws.x": "$.a"}, '"x"'))
    assert "not a JSON path" in str(check_transformer({"x": "detail.a"}, '"<x>"'))
    assert "at most 100" in str(check_transformer({f"v{i}": "$.a" for i in range(101)}, '"x"'))
