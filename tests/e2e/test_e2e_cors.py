"""CORS in a real browser (Chromium): a page from another origin calls the application's
APIs with a request that needs a preflight. What the browser allows is what API Gateway's
answers allow: an HTTP API's CorsConfiguration (its own preflight, its headers on the
answer), a REST API's Cors (SAM's OPTIONS mock, the function's own header on the answer),
and an origin the configuration does not name, refused."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import BrowserContext

from tests.e2e.chromium import chromium
from tests.functional.harness import Canaria, write_app

TEMPLATE = """\
AWSTemplateFormatVersion: "2010-09-09"
Transform: AWS::Serverless-2016-10-31
Resources:
  Open:
    Type: AWS::Serverless::HttpApi
    Properties:
      CorsConfiguration:
        AllowOrigins: ["*"]
        AllowMethods: [GET, POST]
        AllowHeaders: [content-type, x-request-kind]
  Closed:
    Type: AWS::Serverless::HttpApi
    Properties:
      CorsConfiguration:
        AllowOrigins: [https://elsewhere.example]
        AllowMethods: [POST]
        AllowHeaders: [content-type, x-request-kind]
  Rest:
    Type: AWS::Serverless::Api
    Properties:
      StageName: Prod
      Cors:
        AllowOrigin: "'*'"
        AllowHeaders: "'content-type,x-request-kind'"
  Fn:
    Type: AWS::Serverless::Function
    Properties:
      Handler: app.handler
      Runtime: python3.11
      CodeUri: src
      Events:
        Page:
          Type: HttpApi
          Properties: {ApiId: !Ref Open, Path: /page, Method: GET}
        OpenPost:
          Type: HttpApi
          Properties: {ApiId: !Ref Open, Path: /open, Method: POST}
        ClosedPost:
          Type: HttpApi
          Properties: {ApiId: !Ref Closed, Path: /closed, Method: POST}
        RestPut:
          Type: Api
          Properties: {RestApiId: !Ref Rest, Path: /items, Method: put}
"""

HANDLER = """\
import json

PAGE = '''<!doctype html><html><body><script>
async function call(url, method) {
  try {
    const r = await fetch(url, {method, body: '{"n": 1}',
      headers: {"Content-Type": "application/json", "X-Request-Kind": "test"}});
    return r.status + " " + await r.text();
  } catch (e) {
    return "blocked";
  }
}
</script></body></html>'''


def handler(event, context):
    if event.get("rawPath") == "/page":
        return {"statusCode": 200, "headers": {"content-type": "text/html"}, "body": PAGE}
    method = event.get("httpMethod") or event["requestContext"]["http"]["method"]
    # a REST API's function sets its own CORS header, as it must behind API Gateway
    return {"statusCode": 200, "headers": {"Access-Control-Allow-Origin": "*"},
            "body": json.dumps({"method": method})}
"""


@pytest.fixture
def canaria(tmp_path: Path) -> Iterator[Canaria]:
    template = write_app(tmp_path / "app", {"template.yaml": TEMPLATE, "src/app.py": HANDLER})
    c = Canaria(template, tmp_path / "state").start()
    yield c
    c.stop()


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[BrowserContext]:
    with chromium(tmp_path / "profile") as context:
        yield context


def test_e2e_a_page_from_another_origin_gets_what_the_cors_configuration_allows(
    canaria: Canaria, browser: BrowserContext
) -> None:
    page = browser.pages[0] if browser.pages else browser.new_page()
    # the page's origin is localhost, the APIs' 127.0.0.1: another origin to the browser
    page.goto(f"http://localhost:{canaria.port}/page")
    api = f"http://127.0.0.1:{canaria.port}"

    def call(path: str, method: str) -> str:
        return str(page.evaluate(f"call({json.dumps(api + path)}, {json.dumps(method)})"))

    assert call("/open", "POST") == '200 {"method": "POST"}'
    assert call("/closed", "POST") == "blocked"
    assert call("/Prod/items", "PUT") == '200 {"method": "PUT"}'
