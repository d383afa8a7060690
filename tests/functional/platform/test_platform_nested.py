"""Nested applications through a real `canaria up`. ``examples/shop`` (the README's
walkthrough): the nested stack's function serves its own implicit API and writes the
parent's table (a parameter the parent binds), the parent's function finds it by the
nested stack's output, and a release made bad by a parameter the parent passes down is
judged and rolled back. And two APIs, the parent's and the nested one's, with the same
route: the path reaches the first, the Host the other."""

from __future__ import annotations

import json
from pathlib import Path

from tests.functional.harness import Canaria, copy_example, write_app


def test_the_shop_walkthrough(tmp_path: Path) -> None:
    shop = copy_example("shop", tmp_path)
    c = Canaria(shop / "template.yaml", tmp_path / "state").start()
    try:
        assert sorted(c.status()["functions"]) == ["Checker", "OrdersAppPut"]
        status, _, body = c.http("PUT", "/Prod/orders/42")  # the nested stack's API
        assert (status, json.loads(body)) == (200, {"stored": "42"})
        status, _, body = c.http("GET", "/check")  # the parent calls it by the output
        assert status == 200, body
        assert json.loads(json.loads(body)["body"]) == {"stored": "check"}
        ddb = c.env_client("dynamodb", "AWS_ENDPOINT_URL_DYNAMODB")
        (name,) = ddb.list_tables()["TableNames"]
        items = ddb.scan(TableName=name)["Items"]
        assert sorted(item["id"]["S"] for item in items) == ["42", "check"]
        assert {item["by"]["S"] for item in items} == {"OrdersAppPut"}
        # the CLI takes the SAM CLI's path of a nested function too
        r = c.cli("invoke", "OrdersApp/Put:live", "-p", '{"pathParameters": {"id": "7"}}')
        assert r.returncode == 0 and '\\"stored\\": \\"7\\"' in r.stdout, r.stdout + r.stderr

        # the release: the parent passes a key attribute the table does not have
        r = c.cli(
            "deploy",
            "-t",
            str(c.template),
            "--parameter-overrides",
            "KeyAttribute=orderId",
            "--json",
        )
        assert r.returncode == 0, r.stdout + r.stderr
        started = json.loads(r.stdout)["deployments"]
        assert [t["function"] for d in started for t in d["targets"]] == ["OrdersAppPut"]
        d, failed = c.serve_canary(
            started[0]["id"], lambda: c.http("PUT", "/Prod/orders/1")[0] != 200
        )
        assert d["state"] == "Stopped" and d["rolled_back"], d
        assert d["stopped_by"].startswith("judge"), d
        assert 1 <= failed <= 10, failed
        assert c.alias("OrdersAppPut")["split"] == {"1": 1.0}
    finally:
        c.stop()


PARENT = """\
AWSTemplateFormatVersion: "2010-09-09"
Transform: AWS::Serverless-2016-10-31
Resources:
  Child:
    Type: AWS::Serverless::Application
    Properties: {Location: child/template.yaml}
  Admin:
    Type: AWS::Serverless::Function
    Properties:
      Handler: app.handler
      Runtime: python3.11
      CodeUri: src
      Events:
        Put: {Type: Api, Properties: {Path: "/orders/{id}", Method: put}}
"""

CHILD = """\
AWSTemplateFormatVersion: "2010-09-09"
Transform: AWS::Serverless-2016-10-31
Resources:
  Put:
    Type: AWS::Serverless::Function
    Properties:
      Handler: app.handler
      Runtime: python3.11
      CodeUri: src
      Events:
        Put: {Type: Api, Properties: {Path: "/orders/{id}", Method: put}}
"""

WHO = (
    "def handler(event, context):\n    return {'statusCode': 200, 'body': context.function_name}\n"
)


def test_two_apis_with_one_route_are_told_apart_by_the_host(tmp_path: Path) -> None:
    files = {
        "template.yaml": PARENT,
        "src/app.py": WHO,
        "child/template.yaml": CHILD,
        "child/src/app.py": WHO,
    }
    c = Canaria(write_app(tmp_path / "app", files), tmp_path / "state").start()
    try:
        assert c.http("PUT", "/Prod/orders/7")[2] == b"ChildPut"  # the first declared
        for host, function in (
            ("serverlessrestapi.localhost:3000", b"Admin"),
            ("childserverlessrestapi.localhost", b"ChildPut"),
            ("serverlessrestapi.execute-api.us-east-1.amazonaws.com", b"Admin"),
        ):
            status, _, body = c.http("PUT", "/Prod/orders/7", headers={"Host": host})
            assert (status, body) == (200, function), host
    finally:
        c.stop()
