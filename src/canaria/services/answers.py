"""An AWS-shaped error answer for a request of any protocol, so that an SDK shows its code
and message (``An error occurred (Code) ...: message``) instead of a parse failure.

The protocol is told by the request: ``X-Amz-Target`` (JSON), ``Smithy-Protocol:
rpc-v2-cbor`` (CBOR), a form body (query: SNS, STS, SES), otherwise REST: XML for the
services whose REST protocol is XML (S3, Route 53, CloudFront), JSON for the others.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from xml.sax.saxutils import escape

_SCOPE = re.compile(r"Credential=[^/,\s]+/\d{8}/[^/]+/([^/]+)/aws4_request")
_QUERY_SCOPE = re.compile(
    r"X-Amz-Credential=[^&]*?(?:/|%2F)\d{8}(?:/|%2F)[^/%&]+(?:/|%2F)([^/%&]+)"
)


def signing_service(headers: Mapping[str, str], query: str = "") -> str | None:
    """The service a SigV4 request is signed for (``s3``, ``sqs``, ``kinesis``, ...), from
    its Authorization header or a presigned URL's query string."""
    m = _SCOPE.search(headers.get("authorization", "")) or _QUERY_SCOPE.search(query)
    return m.group(1) if m else None


def _cbor_text(text: str) -> bytes:
    raw = text.encode()
    n = len(raw)
    if n < 24:
        head = bytes([0x60 | n])
    elif n < 256:
        head = bytes([0x78, n])
    else:
        head = bytes([0x79]) + n.to_bytes(2, "big")
    return head + raw[:65535]


REST_XML = frozenset({"s3", "s3-outposts", "route53", "cloudfront"})


def error_answer(
    headers: Mapping[str, str], status: int, code: str, message: str, service: str | None = None
) -> tuple[int, list[tuple[str, str]], bytes]:
    """``(status, headers, body)`` of an error in the protocol of a request with ``headers``
    (lower-case names)."""
    common = [("x-amzn-errortype", code), ("connection", "close")]
    if headers.get("smithy-protocol") == "rpc-v2-cbor":
        body = b"\xa2" + _cbor_text("__type") + _cbor_text(code)
        body += _cbor_text("message") + _cbor_text(message)
        return (
            status,
            [("content-type", "application/cbor"), ("smithy-protocol", "rpc-v2-cbor"), *common],
            body,
        )
    form = headers.get("content-type", "").startswith("application/x-www-form-urlencoded")
    if headers.get("x-amz-target") or not (form or service is None or service in REST_XML):
        body = json.dumps({"__type": code, "message": message}).encode()
        return status, [("content-type", "application/x-amz-json-1.1"), *common], body
    code_x, message_x = escape(code), escape(message)
    if form:
        body = (
            f"<ErrorResponse><Error><Type>Sender</Type><Code>{code_x}</Code>"
            f"<Message>{message_x}</Message></Error><RequestId>0</RequestId></ErrorResponse>"
        ).encode()
    else:
        body = f"<Error><Code>{code_x}</Code><Message>{message_x}</Message></Error>".encode()
    return status, [("content-type", "text/xml"), *common], body
