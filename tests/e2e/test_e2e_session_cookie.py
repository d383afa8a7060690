"""The dashboard's session cookie in a real browser (Chromium): a page the gateway serves
(another port of the same host, so the same site to a browser) neither receives the
cookie nor can use it to change canaria's state. Before, the cookie's path was ``/``:
every request to the gateway carried the operator's token into the function's event, and
a page there could POST ``text/plain`` to the control API with the cookie attached."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import BrowserContext, Page

from tests.e2e.chromium import chromium
from tests.e2e.test_e2e_dashboard import printed_dashboard_url
from tests.functional.harness import Canaria

TEMPLATE = """\
AWSTemplateFormatVersion: "2010-09-09"
Transform: AWS::Serverless-2016-10-31
Resources:
  Site:
    Type: AWS::Serverless::Function
    Properties:
      Handler: app.handler
      Runtime: python3.11
      CodeUri: src
      Events:
        Echo:
          Type: HttpApi
          Properties: {Path: /echo, Method: GET}
        Prefixed:
          Type: HttpApi
          Properties: {Path: /canaria/echo, Method: GET}
        Attack:
          Type: HttpApi
          Properties: {Path: /attack, Method: GET}
"""

HANDLER = """\
import json

ATTACK = '''<!doctype html><html><body><script>
window.done = fetch("CONTROL/canaria/v1/clock", {
  method: "POST", mode: "no-cors", credentials: "include",
  headers: {"Content-Type": "text/plain"}, body: '{"advance": 86400}',
}).then(() => "sent", (e) => "error " + e);
</script></body></html>'''


def handler(event, context):
    if event["rawPath"] == "/attack":
        control = event["queryStringParameters"]["control"]
        return {
            "statusCode": 200,
            "headers": {"content-type": "text/html"},
            "body": ATTACK.replace("CONTROL", control),
        }
    return {"cookies": event.get("cookies", []), "headers": event["headers"]}
"""


@pytest.fixture
def canaria(tmp_path: Path) -> Iterator[Canaria]:
    (tmp_path / "app" / "src").mkdir(parents=True)
    (tmp_path / "app" / "template.yaml").write_text(TEMPLATE)
    (tmp_path / "app" / "src" / "app.py").write_text(HANDLER)
    c = Canaria(tmp_path / "app" / "template.yaml", tmp_path / "state").start()
    yield c
    c.stop()


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[BrowserContext]:
    with chromium(tmp_path / "profile") as context:
        yield context


def signed_in(canaria: Canaria, browser: BrowserContext) -> Page:
    page = browser.pages[0] if browser.pages else browser.new_page()
    page.goto(printed_dashboard_url(canaria))
    assert any(c["name"] == "canaria_token" for c in browser.cookies())
    return page


def test_e2e_the_gateway_never_receives_the_session_cookie(
    canaria: Canaria, browser: BrowserContext
) -> None:
    page = signed_in(canaria, browser)
    gateway = f"http://127.0.0.1:{canaria.port}"
    for path in ("/echo", "/canaria/echo"):
        page.goto(gateway + path)
        seen = json.loads(page.inner_text("body"))
        assert not any("canaria_token" in c for c in seen["cookies"]), path
        assert canaria.token() not in json.dumps(seen), path


def test_e2e_a_page_on_the_gateway_cannot_change_state(
    canaria: Canaria, browser: BrowserContext
) -> None:
    page = signed_in(canaria, browser)
    before = float(canaria.api().get("/clock")["now"])
    control = f"http://127.0.0.1:{canaria.control_port}"
    page.goto(f"http://127.0.0.1:{canaria.port}/attack?control={control}")
    assert re.match(r"sent|error", page.evaluate("window.done"))
    assert float(canaria.api().get("/clock")["now"]) == before
