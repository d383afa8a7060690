"""Payload format 1.0 and 2.0 events, field by field."""

from __future__ import annotations

import base64
from typing import Any

import orjson

from canaria.gateway.events import ACCOUNT_ID, build_event, encode_body, is_text_type, request_time
from canaria.gateway.routes import RouteMatch, Router
from canaria.gateway.types import Request
from canaria.models import RouteSpec

EPOCH_MS = 1_700_000_000_123

ROUTER = Router(
    [
        RouteSpec("POST", "/company/{company_id}", "rest", "CompanyApi", "Prod", "Save"),
        RouteSpec("ANY", "/files/{proxy+}", "rest", "CompanyApi", "Prod", "Files"),
        RouteSpec("POST", "/v2/{kind}/{proxy+}", "http", "HttpApi", "$default", "Two"),
        RouteSpec(
            "GET",
            "/legacy/{id}",
            "http",
            "HttpApi",
            "$default",
            "Old",
            payload_v1=True,
            stage_variables=(("table", "orders"),),
        ),
        RouteSpec(
            "GET", "/vars", "rest", "VarsApi", "Prod", "Vars", stage_variables=(("mode", "test"),)
        ),
    ]
)

HEADERS = [
    ("Host", "127.0.0.1:3000"),
    ("User-Agent", "pytest/1"),
    ("Accept", "text/plain"),
    ("Accept", "application/json"),
    ("Cookie", "a=1; canaria-version=candidate"),
    ("Cookie", "b=2"),
    ("Content-Type", "application/json"),
]


def event(
    method: str,
    path: str,
    query: str = "",
    body: bytes = b"",
    headers: list[tuple[str, str]] | None = None,
) -> dict[str, Any]:
    req = Request(
        method,
        path,
        query,
        HEADERS if headers is None else headers,
        body,
        source_ip="10.1.2.3",
        port=3000,
    )
    m = ROUTER.match(method, path)
    assert isinstance(m, RouteMatch)
    out = orjson.loads(build_event(req, m, "rid-1", EPOCH_MS))
    assert isinstance(out, dict)
    return out


V1_KEYS = {
    "resource",
    "path",
    "httpMethod",
    "headers",
    "multiValueHeaders",
    "queryStringParameters",
    "multiValueQueryStringParameters",
    "pathParameters",
    "stageVariables",
    "requestContext",
    "body",
    "isBase64Encoded",
}


def test_v1_shape_with_stage_prefix_and_repeated_query() -> None:
    ev = event("POST", "/Prod/company/a%20b", "x=1&x=2&y=&z=%2Fp", b'{"name":"ada"}')
    assert set(ev) == V1_KEYS
    assert ev["resource"] == "/company/{company_id}"
    assert ev["path"] == "/company/a%20b"  # after the stage
    assert ev["httpMethod"] == "POST"
    assert ev["pathParameters"] == {"company_id": "a b"}
    assert ev["queryStringParameters"] == {"x": "2", "y": "", "z": "/p"}
    assert ev["multiValueQueryStringParameters"] == {"x": ["1", "2"], "y": [""], "z": ["/p"]}
    assert ev["headers"]["Accept"] == "application/json"  # the last value
    assert ev["multiValueHeaders"]["Accept"] == ["text/plain", "application/json"]
    assert ev["multiValueHeaders"]["Cookie"] == ["a=1; canaria-version=candidate", "b=2"]
    assert ev["headers"]["X-Forwarded-For"] == "10.1.2.3"
    assert ev["headers"]["X-Forwarded-Port"] == "3000"
    assert ev["headers"]["X-Forwarded-Proto"] == "http"
    assert ev["stageVariables"] is None
    assert ev["body"] == '{"name":"ada"}' and ev["isBase64Encoded"] is False
    ctx = ev["requestContext"]
    assert ctx["accountId"] == ACCOUNT_ID
    assert ctx["apiId"] == "CompanyApi"
    assert ctx["resourcePath"] == "/company/{company_id}"
    assert ctx["httpMethod"] == "POST"
    assert ctx["path"] == "/Prod/company/a%20b"  # as requested
    assert ctx["stage"] == "Prod"
    assert ctx["requestId"] == "rid-1"
    assert ctx["requestTimeEpoch"] == EPOCH_MS
    assert ctx["requestTime"] == "14/Nov/2023:22:13:20 +0000"
    assert ctx["identity"]["sourceIp"] == "10.1.2.3"
    assert ctx["identity"]["userAgent"] == "pytest/1"
    assert ctx["protocol"] == "HTTP/1.1"
    assert ctx["domainName"] == "127.0.0.1:3000"


def test_v1_without_prefix_query_or_body_uses_nulls() -> None:
    ev = event("GET", "/files/a/b.txt", headers=[("Host", "localhost")])
    assert ev["path"] == "/files/a/b.txt"
    assert ev["requestContext"]["path"] == "/files/a/b.txt"
    assert ev["resource"] == "/files/{proxy+}"
    assert ev["pathParameters"] == {"proxy": "a/b.txt"}
    assert ev["queryStringParameters"] is None
    assert ev["multiValueQueryStringParameters"] is None
    assert ev["body"] is None and ev["isBase64Encoded"] is False


def test_v1_binary_body_is_base64() -> None:
    png = b"\x89PNG\r\n\x1a\n\x00\x01\xff"
    ev = event(
        "PUT",
        "/Prod/files/logo.png",
        body=png,
        headers=[("Host", "h"), ("Content-Type", "image/png")],
    )
    assert ev["isBase64Encoded"] is True
    assert base64.b64decode(ev["body"]) == png


V2_KEYS = {
    "version",
    "routeKey",
    "rawPath",
    "rawQueryString",
    "cookies",
    "headers",
    "queryStringParameters",
    "requestContext",
    "pathParameters",
    "body",
    "isBase64Encoded",
}


def test_v2_shape() -> None:
    ev = event("POST", "/v2/dog/a/b%2Fc", "p=1&p=2&q=x%20y", b"hello")
    assert set(ev) == V2_KEYS
    assert ev["version"] == "2.0"
    assert ev["routeKey"] == "POST /v2/{kind}/{proxy+}"
    assert ev["rawPath"] == "/v2/dog/a/b%2Fc"
    assert ev["rawQueryString"] == "p=1&p=2&q=x%20y"
    assert ev["cookies"] == ["a=1", "canaria-version=candidate", "b=2"]
    assert "cookie" not in ev["headers"]
    assert ev["headers"]["accept"] == "text/plain,application/json"
    assert ev["headers"]["user-agent"] == "pytest/1"
    assert all(name == name.lower() for name in ev["headers"])
    assert ev["queryStringParameters"] == {"p": "1,2", "q": "x y"}
    assert ev["pathParameters"] == {"kind": "dog", "proxy": "a/b/c"}
    assert ev["body"] == "hello" and ev["isBase64Encoded"] is False
    ctx = ev["requestContext"]
    assert set(ctx) == {
        "accountId",
        "apiId",
        "domainName",
        "domainPrefix",
        "http",
        "requestId",
        "routeKey",
        "stage",
        "time",
        "timeEpoch",
    }
    assert ctx["http"] == {
        "method": "POST",
        "path": "/v2/dog/a/b%2Fc",
        "protocol": "HTTP/1.1",
        "sourceIp": "10.1.2.3",
        "userAgent": "pytest/1",
    }
    assert (ctx["apiId"], ctx["stage"], ctx["routeKey"]) == (
        "HttpApi",
        "$default",
        "POST /v2/{kind}/{proxy+}",
    )
    assert ctx["domainName"] == "127.0.0.1:3000" and ctx["domainPrefix"] == "127"
    assert ctx["timeEpoch"] == EPOCH_MS and ctx["time"] == "14/Nov/2023:22:13:20 +0000"


def test_v2_leaves_out_what_is_absent() -> None:
    ev = event("POST", "/v2/cat/x", headers=[("Host", "h")])
    for absent in ("cookies", "queryStringParameters", "body"):
        assert absent not in ev
    assert ev["rawQueryString"] == ""
    assert ev["isBase64Encoded"] is False


def test_v2_binary_and_invalid_utf8_bodies_are_base64() -> None:
    raw = bytes(range(256))
    ev = event(
        "POST",
        "/v2/cat/x",
        body=raw,
        headers=[("Host", "h"), ("Content-Type", "application/octet-stream")],
    )
    assert ev["isBase64Encoded"] is True and base64.b64decode(ev["body"]) == raw
    # declared as text but not UTF-8
    ev = event(
        "POST",
        "/v2/cat/x",
        body=b"\xff\xfe",
        headers=[("Host", "h"), ("Content-Type", "text/plain")],
    )
    assert ev["isBase64Encoded"] is True and base64.b64decode(ev["body"]) == b"\xff\xfe"


def test_text_types() -> None:
    for text in (
        None,
        "text/html; charset=utf-8",
        "application/json",
        "application/vnd.api+json",
        "application/x-www-form-urlencoded",
        "application/atom+xml",
    ):
        assert is_text_type(text), text
    for binary in (
        "image/png",
        "application/octet-stream",
        "application/pdf",
        "multipart/form-data; boundary=x",
        "application/zip",
    ):
        assert not is_text_type(binary), binary
    assert encode_body(b"", "image/png") == (None, False)


def test_request_time_format() -> None:
    assert request_time(0) == "01/Jan/1970:00:00:00 +0000"
    assert request_time(EPOCH_MS) == "14/Nov/2023:22:13:20 +0000"


def test_account_id_matches_the_edge() -> None:
    from canaria.models.arns import ACCOUNT

    assert ACCOUNT == ACCOUNT_ID


def test_an_http_api_route_taking_payload_1_0_gets_the_rest_shape_with_its_version() -> None:
    out = event("GET", "/legacy/7", query="a=1")
    assert out["version"] == "1.0"
    assert set(out) == V1_KEYS | {"version"}
    assert (out["httpMethod"], out["resource"], out["pathParameters"]) == (
        "GET",
        "/legacy/{id}",
        {"id": "7"},
    )
    assert out["multiValueQueryStringParameters"] == {"a": ["1"]}
    assert out["stageVariables"] == {"table": "orders"}


def test_stage_variables_reach_the_event() -> None:
    assert event("GET", "/Prod/vars")["stageVariables"] == {"mode": "test"}
    assert event("POST", "/company/1")["stageVariables"] is None
    assert "stageVariables" not in event("POST", "/v2/a/b")
