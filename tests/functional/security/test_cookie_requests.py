"""The dashboard's cookie over plain HTTP, as a browser would send it from another page:
a state-changing request authenticated by the cookie is refused unless it comes from the
control port's own origin with a JSON body; the token and the CLI's bearer requests are
unaffected. (The browser tests in tests/e2e show the same with Chromium.) Before, a page
on the gateway's port could POST ``text/plain`` with the cookie attached and advance the
clock or stop a deployment."""

from __future__ import annotations

import http.client
import json
from collections.abc import Iterator

import pytest

from tests.functional.harness import Canaria, copy_example


@pytest.fixture(scope="module")
def hello(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Canaria]:
    base = tmp_path_factory.mktemp("cookie")
    app = copy_example("hello", base)
    c = Canaria(app / "template.yaml", base / "state").start()
    yield c
    c.stop()


def post_clock(c: Canaria, headers: dict[str, str], body: bytes) -> tuple[int, str]:
    conn = http.client.HTTPConnection("127.0.0.1", c.control_port, timeout=30)
    try:
        conn.request("POST", "/canaria/v1/clock", body=body, headers=headers)
        resp = conn.getresponse()
        return resp.status, resp.read().decode()
    finally:
        conn.close()


def now(c: Canaria) -> float:
    return float(c.api().get("/clock")["now"])


def test_the_cookie_is_scoped_to_the_control_api(hello: Canaria) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", hello.control_port, timeout=30)
    try:
        conn.request("GET", f"/?token={hello.token()}")
        resp = conn.getresponse()
        resp.read()
        cookie = resp.getheader("set-cookie") or ""
    finally:
        conn.close()
    assert cookie.startswith("canaria_token="), cookie
    assert "Path=/canaria/" in cookie and "HttpOnly" in cookie and "SameSite=strict" in cookie


@pytest.mark.parametrize(
    ("headers", "status", "words"),
    [
        ({"Origin": "http://127.0.0.1:GATEWAY"}, 403, "Origin"),
        ({"Sec-Fetch-Site": "same-site"}, 403, "Sec-Fetch-Site same-site"),
        ({"Sec-Fetch-Site": "cross-site", "Origin": "http://evil.example"}, 403, "cross-site"),
        ({"Content-Type": "text/plain"}, 415, "Content-Type text/plain refused"),
        ({"Content-Type": "application/x-www-form-urlencoded"}, 415, "application/json"),
    ],
    ids=["gateway-origin", "same-site", "cross-site", "text-plain", "form"],
)
def test_a_cookie_request_from_another_page_changes_nothing(
    hello: Canaria, headers: dict[str, str], status: int, words: str
) -> None:
    sent = {"Cookie": f"canaria_token={hello.token()}", "Content-Type": "application/json"}
    sent |= {k: v.replace("GATEWAY", str(hello.port)) for k, v in headers.items()}
    before = now(hello)
    got, body = post_clock(hello, sent, b'{"advance": 86400}')
    assert got == status, body
    assert words in json.loads(body)["error"]["message"], body
    assert now(hello) == before


def test_the_dashboard_s_own_requests_and_the_cli_s_pass(hello: Canaria) -> None:
    own = f"http://127.0.0.1:{hello.control_port}"
    before = now(hello)
    cookie = {"Cookie": f"canaria_token={hello.token()}", "Content-Type": "application/json"}
    got, body = post_clock(hello, cookie | {"Origin": own}, b'{"advance": 10}')
    assert got == 200, body
    got, body = post_clock(hello, cookie | {"Sec-Fetch-Site": "same-origin"}, b'{"advance": 10}')
    assert got == 200, body
    bearer = {"Authorization": f"Bearer {hello.token()}", "Content-Type": "text/plain"}
    got, body = post_clock(hello, bearer | {"Origin": "http://elsewhere"}, b'{"advance": 10}')
    assert got == 200, body  # a page cannot set Authorization without a preflight
    assert now(hello) == pytest.approx(before + 30)


def test_a_wrong_cookie_is_unauthorized(hello: Canaria) -> None:
    headers = {"Cookie": "canaria_token=guess", "Content-Type": "application/json"}
    got, _ = post_clock(hello, headers, b'{"advance": 10}')
    assert got == 401
