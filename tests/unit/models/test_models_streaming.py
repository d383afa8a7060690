"""The HTTP metadata prelude of a streamed response, and what a buffered caller gets."""

from __future__ import annotations

import base64

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from canaria.models.streaming import (
    DELIMITER,
    HTTP_INTEGRATION,
    MAX_PRELUDE_BYTES,
    Prelude,
    PreludeError,
    buffered_payload,
)

METADATA = {"statusCode": 201, "headers": {"Content-Type": "text/html"}, "cookies": ["a=1"]}
STREAM = orjson.dumps(METADATA) + DELIMITER + b"<p>hi</p>\0\0 and more"


def feed_in_pieces(data: bytes, cuts: list[int]) -> tuple[Prelude, bytes]:
    prelude = Prelude()
    body = b""
    start = 0
    for end in [*sorted(set(cuts)), len(data)]:
        rest = prelude.feed(data[start:end])
        if rest is not None:
            body += rest
        start = end
    return prelude, body


@given(st.lists(st.integers(min_value=0, max_value=len(STREAM)), max_size=12))
def test_the_prelude_ends_at_its_delimiter_however_the_bytes_arrive(cuts: list[int]) -> None:
    prelude, body = feed_in_pieces(STREAM, cuts)
    assert prelude.metadata == METADATA
    assert body == b"<p>hi</p>\0\0 and more"  # NUL bytes after the delimiter are body


def test_the_body_waits_for_the_whole_prelude() -> None:
    prelude = Prelude()
    assert prelude.feed(orjson.dumps(METADATA) + DELIMITER[:5]) is None
    assert prelude.metadata is None
    assert prelude.feed(DELIMITER[5:]) == b""
    assert prelude.feed(b"x") == b"x"


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"[1, 2]" + DELIMITER, "not a JSON object"),
        (b"{nope" + DELIMITER, "not JSON"),
        (b"{" + b" " * MAX_PRELUDE_BYTES, "no end of the HTTP metadata prelude"),
    ],
)
def test_a_prelude_that_is_not_an_object_or_never_ends_is_refused(
    data: bytes, message: str
) -> None:
    with pytest.raises(PreludeError, match=message):
        Prelude().feed(data)


def test_a_buffered_caller_gets_the_proxy_response() -> None:
    answer = orjson.loads(buffered_payload(HTTP_INTEGRATION, STREAM))
    assert answer == {**METADATA, "body": "<p>hi</p>\u0000\u0000 and more"}


def test_a_binary_body_is_base64_and_a_status_defaults_to_200() -> None:
    answer = orjson.loads(buffered_payload(HTTP_INTEGRATION, b"{}" + DELIMITER + b"\xff\xfe"))
    assert answer == {
        "statusCode": 200,
        "body": base64.b64encode(b"\xff\xfe").decode(),
        "isBase64Encoded": True,
    }


def test_bytes_without_http_metadata_are_passed_as_written() -> None:
    assert buffered_payload("text/plain", b"one two") == b"one two"
    assert buffered_payload(None, b"\x00\x01") == b"\x00\x01"
