"""Fuzzing the control API and the edge of a running canaria with Hypothesis: whatever a
caller sends (path segments, query parameters, JSON bodies, qualifiers, UpdateAlias
bodies), the answer is a 2xx or 4xx, never a 5xx, and the kept-alive
connection stays usable. The cases the hardening issue found are pinned as explicit
examples (a NUL in a path, qualifier 10^23 or "²", limit=10^30, "٣" read as version 3, a
malformed UpdateAlias body, ``advance: 1e308`` twice)."""

from __future__ import annotations

import http.client
import json
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from tests.functional.harness import Canaria, copy_example

FUZZ = settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

texts = st.text(min_size=0, max_size=40)
numbers_as_text = st.one_of(
    st.integers(min_value=-(10**40), max_value=10**40).map(str),
    st.sampled_from(["²", "٣", "1e308", "NaN", "-0", "+7", " 3", "0x10", "", "\x00"]),
)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | texts,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(texts, inner, max_size=4),
    max_leaves=10,
)


@pytest.fixture(scope="module")
def hello(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Canaria]:
    base = tmp_path_factory.mktemp("fuzz")
    app = copy_example("hello", base)
    c = Canaria(app / "template.yaml", base / "state").start()
    yield c
    c.stop()


class Conn:
    """One kept-alive connection for a whole test: a 500 that resets it fails the test."""

    def __init__(self, port: int, token: str) -> None:
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        self.token = token

    def send(self, method: str, path: str, body: Any = None) -> tuple[int, bytes]:
        data = None if body is None else json.dumps(body, allow_nan=True).encode()
        headers = {"Authorization": f"Bearer {self.token}", "Content-Type": "application/json"}
        self.conn.request(method, path, body=data, headers=headers)
        resp = self.conn.getresponse()
        return resp.status, resp.read()


@pytest.fixture(scope="module")
def control(hello: Canaria) -> Iterator[Conn]:
    conn = Conn(hello.control_port, hello.token())
    yield conn
    conn.conn.close()


def no_server_error(status: int, body: bytes) -> None:
    assert status < 500, body[:500]


@FUZZ
@given(segment=texts, route=st.sampled_from(["history", "logs", "rollback", "invoke"]))
@example(segment="\x00", route="history")
@example(segment="HelloFunction\x00", route="logs")
def test_fuzz_function_paths(control: Conn, segment: str, route: str) -> None:
    method = "GET" if route in ("history", "logs") else "POST"
    path = f"/canaria/v1/functions/{quote(segment, safe='')}/{route}"
    no_server_error(*control.send(method, path, {} if method == "POST" else None))


@FUZZ
@given(limit=numbers_as_text, after=numbers_as_text, since=numbers_as_text)
@example(limit=str(10**30), after="0", since="0")
@example(limit="٣", after="²", since=str(10**23))
def test_fuzz_query_numbers(control: Conn, limit: str, after: str, since: str) -> None:
    no_server_error(*control.send("GET", f"/canaria/v1/deployments?limit={quote(limit)}"))
    no_server_error(
        *control.send("GET", f"/canaria/v1/functions/HelloFunction/logs?since={quote(since)}")
    )
    no_server_error(
        *control.send("GET", f"/canaria/v1/deployments/d-NOPE/events?after={quote(after)}")
    )


@FUZZ
@given(qualifier=st.one_of(texts, numbers_as_text))
@example(qualifier=str(10**23))
@example(qualifier="²")
@example(qualifier="٣")
def test_fuzz_invoke_qualifiers(control: Conn, hello: Canaria, qualifier: str) -> None:
    status, body = control.send(
        "POST", "/canaria/v1/functions/HelloFunction/invoke", {"qualifier": qualifier}
    )
    no_server_error(status, body)
    if qualifier == "٣":
        assert status == 404 or b'"version":3' not in body


@FUZZ
@given(body=json_values, route=st.sampled_from(["/deployments", "/clock", "/deployments/x/stop"]))
@example(body={"advance": 1e308}, route="/clock")
@example(body={"advance": float("inf")}, route="/clock")
def test_fuzz_bodies(control: Conn, body: Any, route: str) -> None:
    if route == "/deployments" and isinstance(body, dict):
        body.pop("template", None)  # never a real deployment from the fuzzer
    no_server_error(*control.send("POST", "/canaria/v1" + route, body))
    # the clock still works: a second huge advance did break every invocation
    no_server_error(*control.send("POST", "/canaria/v1/clock", {"advance": 1e308}))
    status, _ = control.send("POST", "/canaria/v1/functions/HelloFunction/invoke", {})
    assert status == 200


@FUZZ
@given(body=json_values)
@example(body={"FunctionVersion": str(10**30)})
@example(body={"FunctionVersion": "1", "RoutingConfig": []})
@example(body={"RoutingConfig": {"AdditionalVersionWeights": {"²": 0.5}}})
@example(body={"RoutingConfig": {"AdditionalVersionWeights": {"1": "NaN"}}})
@example(body="not an object")
def test_fuzz_edge_update_alias(hello: Canaria, body: Any) -> None:
    from botocore.exceptions import ClientError

    lam = hello.aws("lambda")
    raw = json.dumps(body, allow_nan=True).encode()

    def swap(request: Any, **_: Any) -> None:
        request.data = raw  # sign the fuzzed body, as a caller's own SDK would

    lam.meta.events.register_first("before-sign.lambda.UpdateAlias", swap)
    try:
        lam.update_alias(FunctionName="HelloFunction", Name="live")
    except ClientError as exc:
        assert exc.response["ResponseMetadata"]["HTTPStatusCode"] < 500, exc.response
    assert lam.get_alias(FunctionName="HelloFunction", Name="live")["FunctionVersion"]


@FUZZ
@given(qualifier=st.one_of(texts, numbers_as_text).filter(lambda q: q and "/" not in q))
@example(qualifier=str(10**23))
@example(qualifier="٣")
def test_fuzz_edge_invoke_qualifier(hello: Canaria, qualifier: str) -> None:
    from botocore.exceptions import ClientError, ParamValidationError

    lam = hello.aws("lambda")
    try:
        answer = lam.invoke(FunctionName="HelloFunction", Qualifier=qualifier, Payload=b"{}")
        assert answer["StatusCode"] == 200
        if qualifier == "٣":
            raise AssertionError("a non-ASCII digit named a version")
    except ClientError as exc:
        assert exc.response["ResponseMetadata"]["HTTPStatusCode"] < 500, exc.response
    except ParamValidationError:
        pass  # botocore refuses it before sending
