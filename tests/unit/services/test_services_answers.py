"""Which service a SigV4 request is signed for, and errors in each wire protocol."""

from __future__ import annotations

import json

from canaria.services.answers import error_answer, signing_service

AUTH = (
    "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20261130/us-east-1/kinesis/aws4_request, "
    "SignedHeaders=host;x-amz-date, Signature=abc"
)


def test_the_service_comes_from_the_credential_scope() -> None:
    assert signing_service({"authorization": AUTH}) == "kinesis"
    presigned = (
        "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKID%2F20261130%2Fus-east-1%2Fs3"
        "%2Faws4_request&X-Amz-Date=20261130T000000Z"
    )
    assert signing_service({}, presigned) == "s3"
    assert signing_service({"authorization": "Bearer token"}) is None
    assert signing_service({}) is None


def test_errors_take_the_requests_protocol() -> None:
    status, headers, body = error_answer({"x-amz-target": "Kinesis.PutRecord"}, 400, "C", "m")
    assert status == 400 and json.loads(body) == {"__type": "C", "message": "m"}
    _, headers, body = error_answer(
        {"content-type": "application/x-www-form-urlencoded"}, 400, "C", "a < b", "sts"
    )
    assert body.startswith(b"<ErrorResponse><Error><Type>Sender</Type><Code>C</Code>")
    assert b"<Message>a &lt; b</Message>" in body
    _, _, body = error_answer({}, 400, "C", "m", "route53")
    assert body == b"<Error><Code>C</Code><Message>m</Message></Error>"
    _, headers, body = error_answer({}, 400, "C", "m", "apigateway")
    assert json.loads(body)["message"] == "m" and ("x-amzn-errortype", "C") in headers
    _, headers, body = error_answer({"smithy-protocol": "rpc-v2-cbor"}, 400, "C", "m")
    assert ("content-type", "application/cbor") in headers
    assert body == b"\xa2" + b"\x66__type" + b"\x61C" + b"\x67message" + b"\x61m"
