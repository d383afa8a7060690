"""SigV4 at the edge as AWS checks it, through a running canaria and botocore's signer:
15 minutes of clock skew (which bounds replays, as on AWS), the payload hash. Before, a
request dated 2001 or a year ahead was accepted (a captured request could be replayed
forever), and a body swapped under ``UNSIGNED-PAYLOAD`` or under a stale
``x-amz-content-sha256`` was accepted."""

from __future__ import annotations

import hashlib
import http.client
import json
import time
from collections.abc import Iterator

import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from canaria.auth import access_key_id, secret_access_key
from tests.functional.harness import Canaria, copy_example


@pytest.fixture(scope="module")
def hello(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Canaria]:
    base = tmp_path_factory.mktemp("sigv4")
    app = copy_example("hello", base)
    c = Canaria(app / "template.yaml", base / "state").start()
    yield c
    c.stop()


def signed(
    c: Canaria,
    body: bytes,
    *,
    at: float | None = None,
    content_sha: str | None = None,
    invocation: str = "",
) -> dict[str, str]:
    """Headers of a Lambda Invoke of HelloFunction signed by botocore, as boto3 signs."""
    url = f"http://127.0.0.1:{c.control_port}/2015-03-31/functions/HelloFunction/invocations"
    headers = {"Content-Type": "application/json", "amz-sdk-invocation-id": invocation}
    if content_sha is not None:
        headers["X-Amz-Content-SHA256"] = content_sha
    request = AWSRequest(method="POST", url=url, data=body, headers=headers)
    creds = Credentials(access_key_id(c.token()), secret_access_key(c.token()))
    signer = SigV4Auth(creds, "lambda", "us-east-1")
    # botocore's add_auth, at a chosen time (it would read the clock itself)
    request.context["timestamp"] = time.strftime(
        "%Y%m%dT%H%M%SZ", time.gmtime(time.time() if at is None else at)
    )
    signer._modify_request_before_signing(request)
    string = signer.string_to_sign(request, signer.canonical_request(request))
    signer._inject_signature_to_request(request, signer.signature(string, request))
    return dict(request.headers.items())


def send(c: Canaria, headers: dict[str, str], body: bytes) -> tuple[int, bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", c.control_port, timeout=30)
    try:
        conn.request(
            "POST", "/2015-03-31/functions/HelloFunction/invocations", body=body, headers=headers
        )
        resp = conn.getresponse()
        return resp.status, resp.read()
    finally:
        conn.close()


EVENT = json.dumps({"version": "2.0", "rawPath": "/hello"}).encode()


def test_a_request_captured_twenty_minutes_ago_cannot_be_replayed(hello: Canaria) -> None:
    captured_at = time.time() - 20 * 60
    headers = signed(hello, EVENT, at=captured_at, invocation="captured")
    status, body = send(hello, headers, EVENT)
    assert status == 403 and b"Signature expired" in body


@pytest.mark.parametrize("skew", [-20 * 60, 20 * 60, -25 * 365 * 86400, 365 * 86400])
def test_a_date_beyond_fifteen_minutes_is_refused(hello: Canaria, skew: float) -> None:
    headers = signed(hello, EVENT, at=time.time() + skew, invocation=f"skew{skew}")
    status, body = send(hello, headers, EVENT)
    assert status == 403, body
    assert b"Signature expired" in body or b"Signature not yet current" in body


def test_a_date_within_fifteen_minutes_is_accepted(hello: Canaria) -> None:
    headers = signed(hello, EVENT, at=time.time() - 10 * 60, invocation="skew-ok")
    status, body = send(hello, headers, EVENT)
    assert status == 200, body


def test_the_body_is_part_of_the_signature(hello: Canaria) -> None:
    swapped = json.dumps({"version": "2.0", "rawPath": "/other"}).encode()
    # the hash of the signed body, declared and signed, then a different body sent
    headers = signed(hello, EVENT, content_sha=hashlib.sha256(EVENT).hexdigest(), invocation="swap")
    status, body = send(hello, headers, swapped)
    assert status == 403 and b"x-amz-content-sha256" in body
    headers = signed(hello, EVENT, content_sha="UNSIGNED-PAYLOAD", invocation="unsigned")
    status, body = send(hello, headers, swapped)
    assert status == 403 and b"UNSIGNED-PAYLOAD" in body
    # and without the header, botocore's own hash of the body decides
    headers = signed(hello, EVENT, invocation="plain")
    status, _ = send(hello, headers, swapped)
    assert status == 403


def test_boto3_keeps_working(hello: Canaria) -> None:
    lam = hello.aws("lambda")
    for _ in range(3):  # the same call, three times in a second: the same signature
        answer = lam.invoke(FunctionName="HelloFunction", Payload=EVENT)
        assert answer["StatusCode"] == 200
