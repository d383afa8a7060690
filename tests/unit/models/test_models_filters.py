"""Lambda event filtering over SQS records: EventBridge pattern syntax, a JSON body
matched by its fields, any other body as a string."""

from __future__ import annotations

import json

import pytest

from canaria.models.filters import check_pattern, matches_any, sqs_filter_view


def record(body: str, **attributes: str) -> dict[str, object]:
    return {
        "messageId": "m",
        "body": body,
        "attributes": {"ApproximateReceiveCount": "1", **attributes},
        "messageAttributes": {},
    }


ORDERS = json.dumps({"body": {"kind": ["order"], "amount": [{"numeric": [">", 100]}]}})
INFO = json.dumps({"body": [{"prefix": "INFO"}]})


@pytest.mark.parametrize(
    ("body", "matches"),
    [
        ('{"kind": "order", "amount": 250}', True),
        ('{"kind": "order", "amount": 50}', False),
        ('{"kind": "refund", "amount": 250}', False),
        ("INFO disk almost full", True),  # a plain body: the string pattern
        ("DEBUG nothing", False),
        ('["INFO"]', False),  # JSON, but not an object: matched as the string it is
    ],
)
def test_filters_or_together_over_the_record(body: str, matches: bool) -> None:
    assert matches_any((ORDERS, INFO), sqs_filter_view(record(body))) is matches


def test_attributes_filter_too() -> None:
    first_try = json.dumps({"attributes": {"ApproximateReceiveCount": ["1"]}})
    assert matches_any((first_try,), sqs_filter_view(record("x")))
    assert not matches_any((first_try,), sqs_filter_view(record("x", ApproximateReceiveCount="2")))


@pytest.mark.parametrize(
    ("pattern", "words"),
    [
        ("{not json", "not JSON"),
        ("[1, 2]", "non-empty JSON object"),
        ("{}", "non-empty JSON object"),
        ('{"body": "order"}', "must be an object or an array"),
    ],
)
def test_a_bad_pattern_says_why(pattern: str, words: str) -> None:
    problem = check_pattern(pattern)
    assert problem is not None and words in problem


def test_a_good_pattern_passes() -> None:
    assert check_pattern(ORDERS) is None
