"""``boto_hooks.py``: the handler botocore runs before signing an API Gateway Management API
request, on a real botocore client whose requests are answered before they leave
(``before-send``), and the way the worker installs it, in a fresh interpreter."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import time
import types
from collections.abc import Iterator
from typing import Any, NamedTuple

import botocore.session
import pytest
from botocore.awsrequest import AWSPreparedRequest, AWSResponse

from canaria.runtime import boto_hooks
from canaria.runtime.environment import RUNTIME_DIR
from canaria.sigv4 import verify

KEY, SECRET = "AKIDCANARIATEST", "not-a-secret"
EDGE = "http://127.0.0.1:4566"


class _Raw:
    def stream(self) -> Iterator[bytes]:
        yield b"{}"


class Sent(NamedTuple):
    method: str
    url: str
    headers: dict[str, str]  # names lower-cased, with the Host header urllib3 would add
    body: bytes


def sent(endpoint: str) -> Sent:
    """The request a PostToConnection to ``endpoint`` sends, signed, with the hook."""
    session = botocore.session.Session()
    session.set_credentials(KEY, SECRET)
    client = session.create_client(
        "apigatewaymanagementapi", region_name="us-east-1", endpoint_url=endpoint
    )
    client.meta.events.register(boto_hooks.MANAGEMENT_API_EVENT, boto_hooks.management_api_to_edge)
    captured: list[AWSPreparedRequest] = []

    def answer(request: AWSPreparedRequest, **_: Any) -> AWSResponse:
        captured.append(request)
        return AWSResponse(request.url, 200, {}, _Raw())

    client.meta.events.register("before-send.apigatewaymanagementapi", answer)
    client.post_to_connection(ConnectionId="Xy1=", Data=b"hi")
    (request,) = captured
    headers = {
        name.lower(): value.decode() if isinstance(value, bytes) else value
        for name, value in request.headers.items()
    }
    headers.setdefault("host", request.url.split("/")[2])
    body = request.body if isinstance(request.body, bytes) else b""
    return Sent(request.method, request.url, headers, body)


def assert_signed(request: Sent) -> None:
    problem, akid = verify(
        request.method,
        request.url,
        request.headers,
        request.body,
        {KEY: SECRET}.get,
        now=time.time(),
    )
    assert (problem, akid) == (None, KEY)
    assert "/execute-api/aws4_request" in request.headers["authorization"]


@pytest.mark.parametrize(
    ("endpoint", "api_id"),
    [
        ("https://abc123defg.execute-api.us-east-1.amazonaws.com/Prod", "abc123defg"),
        ("https://ABC123DEFG.execute-api.eu-west-3.amazonaws.com/Prod", "abc123defg"),
        ("http://x1.execute-api.cn-north-1.amazonaws.com.cn:8080/Prod", "x1"),
        ("https://abc123defg.execute-api.us-gov-west-1.amazonaws.com/dev/", "abc123defg"),
    ],
)
def test_an_apis_aws_endpoint_is_sent_to_the_edge(
    monkeypatch: pytest.MonkeyPatch, endpoint: str, api_id: str
) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL", EDGE)
    request = sent(endpoint)
    stage = endpoint.split("/", 3)[3].rstrip("/")
    assert request.url == f"{EDGE}/{stage}/@connections/Xy1%3D"
    assert request.headers["x-canaria-api-id"] == api_id
    assert_signed(request)


@pytest.mark.parametrize(
    "edge",
    ["http://127.0.0.1:4566/ignored/path", "http://user:pw@127.0.0.1:4566", EDGE + "/"],
)
def test_only_the_edges_scheme_host_and_port_are_taken(
    monkeypatch: pytest.MonkeyPatch, edge: str
) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL", edge)
    request = sent("https://abc123defg.execute-api.us-east-1.amazonaws.com/Prod")
    assert request.url == f"{EDGE}/Prod/@connections/Xy1%3D"
    assert_signed(request)


@pytest.mark.parametrize(
    "endpoint",
    [
        "http://127.0.0.1:9999/Prod",
        "https://execute-api.us-east-1.amazonaws.com/Prod",
        "https://abc123defg.execute-api.us-east-1.amazonaws.com.example/Prod",
        "https://abc-123.execute-api.us-east-1.amazonaws.com/Prod",
        "https://abc123defg.execute-api.us-east-1.amazonaws.org/Prod",
        "https://abc123defg.lambda-url.us-east-1.on.aws/Prod",
    ],
)
def test_other_endpoints_are_left_alone(monkeypatch: pytest.MonkeyPatch, endpoint: str) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL", EDGE)
    request = sent(endpoint)
    assert request.url == endpoint + "/@connections/Xy1%3D"
    assert "x-canaria-api-id" not in request.headers
    assert_signed(request)


@pytest.mark.parametrize("value", [None, ""])
def test_without_aws_endpoint_url_nothing_changes(
    monkeypatch: pytest.MonkeyPatch, value: str | None
) -> None:
    if value is None:
        monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    else:
        monkeypatch.setenv("AWS_ENDPOINT_URL", value)
    endpoint = "https://abc123defg.execute-api.us-east-1.amazonaws.com/Prod"
    request = sent(endpoint)
    assert request.url == endpoint + "/@connections/Xy1%3D"
    assert "x-canaria-api-id" not in request.headers


def test_register_adds_the_handler_once() -> None:
    builtin: list[tuple[str, Any]] = [("before-sign.s3", print)]
    handlers = types.ModuleType("botocore.handlers")
    handlers.BUILTIN_HANDLERS = builtin  # type: ignore[attr-defined]
    boto_hooks.register(handlers)
    boto_hooks.register(handlers)
    assert builtin == [
        ("before-sign.s3", print),
        (boto_hooks.MANAGEMENT_API_EVENT, boto_hooks.management_api_to_edge),
    ]
    unknown = types.ModuleType("botocore.handlers")
    boto_hooks.register(unknown)  # no BUILTIN_HANDLERS: left alone
    assert not hasattr(unknown, "BUILTIN_HANDLERS")


INSTALL = textwrap.dedent(
    """
    import sys
    sys.path.insert(0, sys.argv[1])
    import boto_hooks
    sys.path.pop(0)
    preloaded = sys.argv[2] == "preloaded"
    if preloaded:
        import botocore.handlers
    boto_hooks.install()
    boto_hooks.install()
    finders = [f for f in sys.meta_path if getattr(f, "canaria_boto_hooks", False)]
    assert len(finders) == (0 if preloaded else 1), finders
    assert preloaded == ("botocore" in sys.modules)
    import boto3.session
    from botocore import handlers
    ours = [h for h in handlers.BUILTIN_HANDLERS if h[0] == boto_hooks.MANAGEMENT_API_EVENT]
    assert ours == [(boto_hooks.MANAGEMENT_API_EVENT, boto_hooks.management_api_to_edge)]
    assert not [f for f in sys.meta_path if getattr(f, "canaria_boto_hooks", False)]
    print("ok")
    """
)


@pytest.mark.parametrize("order", ["lazy", "preloaded"])
def test_install_registers_when_botocore_is_imported(order: str) -> None:
    done = subprocess.run(
        [sys.executable, "-c", INSTALL, RUNTIME_DIR, order],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0 and done.stdout.strip() == "ok", done.stderr
