"""Lambda proxy responses mapped to HTTP answers, and API Gateway's own answers."""

from __future__ import annotations

import base64
from typing import Any

import orjson
import pytest

from canaria.gateway.responses import Failure, Malformed, gateway_answer, map_result
from canaria.models.app import ApiKind


def payload(value: Any) -> bytes:
    return orjson.dumps(value)


@pytest.mark.parametrize("kind", ["rest", "http"])
def test_proxy_response(kind: ApiKind) -> None:
    r = map_result(
        kind,
        payload(
            {
                "statusCode": 201,
                "headers": {"X-A": "1", "N": 5},
                "body": '{"ok": true}',
            }
        ),
    )
    assert r.status == 201
    assert ("X-A", "1") in r.headers and ("N", "5") in r.headers
    assert ("Content-Type", "application/json") in r.headers  # the default
    assert r.body == b'{"ok": true}'


def test_v1_multi_value_headers_merge_with_headers() -> None:
    r = map_result(
        "rest",
        payload(
            {
                "statusCode": 200,
                "headers": {"X-A": "a1", "X-B": "b", "Content-Type": "text/plain"},
                "multiValueHeaders": {"X-A": ["a1", "a2"], "Set-Cookie": ["s=1", "t=2"]},
            }
        ),
    )
    assert r.headers.count(("X-A", "a1")) == 1  # the same pair appears once
    assert ("X-A", "a2") in r.headers and ("X-B", "b") in r.headers
    assert [v for n, v in r.headers if n == "Set-Cookie"] == ["s=1", "t=2"]
    assert ("Content-Type", "text/plain") in r.headers
    assert ("Content-Type", "application/json") not in r.headers
    assert r.body == b""


@pytest.mark.parametrize("kind", ["rest", "http"])
def test_base64_body(kind: ApiKind) -> None:
    raw = b"\x00\x01binary\xff"
    r = map_result(
        kind,
        payload(
            {
                "statusCode": 200,
                "isBase64Encoded": True,
                "headers": {"Content-Type": "image/png"},
                "body": base64.b64encode(raw).decode(),
            }
        ),
    )
    assert r.body == raw


@pytest.mark.parametrize(
    "bad",
    [
        b"not json",
        payload("a string"),
        payload([1, 2]),
        payload(None),
        payload({"body": "no status"}),
        payload({"statusCode": "abc"}),
        payload({"statusCode": True}),
        payload({"statusCode": 999}),
        payload({"statusCode": 200, "body": {"an": "object"}}),
        payload({"statusCode": 200, "body": ["a", "list"]}),
        payload({"statusCode": 200, "headers": ["x"]}),
        payload({"statusCode": 200, "headers": {"X": {"nested": 1}}}),
        payload({"statusCode": 200, "multiValueHeaders": {"X": "not a list"}}),
        payload({"statusCode": 200, "body": "!!!", "isBase64Encoded": True}),
        payload({"statusCode": 200, "body": "x", "isBase64Encoded": "yes"}),
    ],
)
def test_v1_malformed(bad: bytes) -> None:
    with pytest.raises(Malformed):
        map_result("rest", bad)


def test_v1_accepts_a_numeric_string_status() -> None:
    assert map_result("rest", payload({"statusCode": "204"})).status == 204


@pytest.mark.parametrize("kind", ["rest", "http"])
@pytest.mark.parametrize(
    ("body", "text"), [(0, b"0"), (9, b"9"), (-2.5, b"-2.5"), (True, b"true"), (False, b"false")]
)
def test_a_number_or_boolean_body_is_answered_as_its_text(
    kind: ApiKind, body: object, text: bytes
) -> None:
    r = map_result(kind, payload({"statusCode": 200, "body": body}))
    assert (r.status, r.body) == (200, text)


def test_v2_cookies_become_set_cookie_headers() -> None:
    r = map_result(
        "http",
        payload(
            {
                "statusCode": 200,
                "cookies": ["a=1; Path=/", "b=2"],
                "body": "hi",
                "headers": {"content-type": "text/plain"},
            }
        ),
    )
    assert [v for n, v in r.headers if n == "Set-Cookie"] == ["a=1; Path=/", "b=2"]
    assert ("content-type", "text/plain") in r.headers
    assert r.body == b"hi"
    with pytest.raises(Malformed):
        map_result("http", payload({"statusCode": 200, "cookies": "a=1"}))


@pytest.mark.parametrize(
    "value", ["hello", {"message": "no status code"}, [1, 2, 3], 42, None, True]
)
def test_v2_any_json_without_status_code_is_a_200_json_body(value: Any) -> None:
    r = map_result("http", payload(value))
    assert r.status == 200
    assert r.headers == [("Content-Type", "application/json")]
    assert orjson.loads(r.body) == value


def test_v2_invalid_json_is_malformed() -> None:
    with pytest.raises(Malformed):
        map_result("http", b"{not json")


def test_framing_headers_from_the_function_are_dropped() -> None:
    r = map_result(
        "rest",
        payload(
            {
                "statusCode": 200,
                "body": "abc",
                "headers": {
                    "Content-Length": "999",
                    "Transfer-Encoding": "chunked",
                    "Connection": "close",
                    "X-Kept": "yes",
                },
            }
        ),
    )
    names = {n.lower() for n, _ in r.headers}
    assert names == {"x-kept", "content-type"}


def test_header_injection_is_refused() -> None:
    with pytest.raises(Malformed):
        map_result("rest", payload({"statusCode": 200, "headers": {"X-A": "1\r\nX-Evil: 1"}}))
    with pytest.raises(Malformed):
        map_result("rest", payload({"statusCode": 200, "headers": {"Bad Name": "1"}}))


@pytest.mark.parametrize(
    ("kind", "failure", "status", "message"),
    [
        ("rest", Failure.NOT_FOUND, 403, "Missing Authentication Token"),
        ("http", Failure.NOT_FOUND, 404, "Not Found"),
        ("rest", Failure.INTEGRATION_ERROR, 502, "Internal server error"),
        ("http", Failure.INTEGRATION_ERROR, 500, "Internal Server Error"),
        ("rest", Failure.INVOKE_REFUSED, 500, "Internal server error"),
        ("rest", Failure.TIMEOUT, 504, "Endpoint request timed out"),
        ("http", Failure.TIMEOUT, 503, "Service Unavailable"),
        ("rest", Failure.THROTTLED, 429, "Too Many Requests"),
        ("http", Failure.THROTTLED, 429, "Too Many Requests"),
        ("rest", Failure.TOO_LARGE, 413, "Request Too Long"),
    ],
)
def test_gateway_answers(kind: ApiKind, failure: Failure, status: int, message: str) -> None:
    r = gateway_answer(kind, failure)
    assert r.status == status
    assert orjson.loads(r.body) == {"message": message}
    assert ("Content-Type", "application/json") in r.headers


def test_informational_status_is_malformed() -> None:
    with pytest.raises(Malformed):
        map_result("rest", payload({"statusCode": 101}))


@pytest.mark.parametrize("kind", ["rest", "http"])
@pytest.mark.parametrize("name", ["Bad Name", "X:Y", "", "é", "N" * 100 + " "])
def test_a_header_name_that_is_not_a_token_is_refused_every_time(kind: str, name: str) -> None:
    bad = payload({"statusCode": 200, "headers": {name: "v"}})
    for _ in range(2):  # checked again, not remembered as valid
        with pytest.raises(Malformed, match="invalid header name"):
            map_result(kind, bad)
    good = map_result(kind, payload({"statusCode": 200, "headers": {"X-Ok": "1"}}))
    assert ("X-Ok", "1") in good.headers


def test_content_type_from_multi_value_headers_counts_only_with_a_value() -> None:
    given = map_result(
        "rest", payload({"statusCode": 200, "multiValueHeaders": {"Content-Type": ["text/csv"]}})
    )
    assert [v for n, v in given.headers if n.lower() == "content-type"] == ["text/csv"]
    empty = map_result(
        "rest", payload({"statusCode": 200, "multiValueHeaders": {"content-type": []}})
    )
    assert ("Content-Type", "application/json") in empty.headers
    named_once = map_result(
        "http", payload({"statusCode": 200, "headers": {"CONTENT-TYPE": "text/html"}})
    )
    assert named_once.headers == [("CONTENT-TYPE", "text/html")]
