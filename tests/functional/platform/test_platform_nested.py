"""A nested application through a real `canaria up`: the child's function serves its own
implicit API and writes the parent's table (a parameter the parent binds), the parent's
function finds it by the child's output, the parent's API with the same route is reached
by its Host, and a release of the child's function is deployed, judged and rolled back
like any other."""

from __future__ import annotations

import json
from pathlib import Path

from tests.functional.harness import Canaria, write_app

PARENT = """\
AWSTemplateFormatVersion: "2010-09-09"
Transform: AWS::Serverless-2016-10-31
Globals:
  Function: {Timeout: 10}
Resources:
  Orders:
    Type: AWS::Serverless::SimpleTable
  Shop:
    Type: AWS::Serverless::Application
    Properties:
      Location: shop/template.yaml
      Parameters:
        TableName: !Ref Orders
  Checker:
    Type: AWS::Serverless::Function
    Properties:
      Handler: app.handler
      Runtime: python3.11
      CodeUri: src
      Environment: {Variables: {PUT_FUNCTION: !GetAtt Shop.Outputs.PutFunction}}
      Events:
        Get: {Type: HttpApi, Properties: {Path: /check, Method: GET}}
        Put: {Type: Api, Properties: {Path: "/orders/{id}", Method: put}}
"""

CHILD = """\
AWSTemplateFormatVersion: "2010-09-09"
Transform: AWS::Serverless-2016-10-31
Parameters:
  TableName: {Type: String}
Globals:
  Function: {Runtime: python3.11, Timeout: 5}
Resources:
  Put:
    Type: AWS::Serverless::Function
    Properties:
      Handler: app.handler
      CodeUri: src
      AutoPublishAlias: live
      DeploymentPreference: {Type: Canary10Percent5Minutes}
      Environment: {Variables: {TABLE: !Ref TableName}}
      Events:
        Put: {Type: Api, Properties: {Path: "/orders/{id}", Method: put}}
Outputs:
  PutFunction: {Value: !Ref Put}
"""

PUT = """\
import json, os
import boto3

table = boto3.resource("dynamodb").Table(os.environ["TABLE"])

def handler(event, context):
    order = event["pathParameters"]["id"]
    table.put_item(Item={"id": order, "by": context.function_name})
    return {"statusCode": 200, "body": json.dumps({"stored": order, "timeout": 5})}
"""

CHECKER = """\
import json, os
import boto3

def handler(event, context):
    answer = boto3.client("lambda").invoke(
        FunctionName=os.environ["PUT_FUNCTION"] + ":live",
        Payload=json.dumps({"pathParameters": {"id": "from-parent"}}),
    )
    return {"statusCode": 200, "body": answer["Payload"].read().decode()}
"""


def start(tmp_path: Path) -> Canaria:
    files = {
        "template.yaml": PARENT,
        "src/app.py": CHECKER,
        "shop/template.yaml": CHILD,
        "shop/src/app.py": PUT,
    }
    return Canaria(write_app(tmp_path / "app", files), tmp_path / "state").start()


def test_a_nested_applications_function_serves_its_api_and_the_parents_table(
    tmp_path: Path,
) -> None:
    c = start(tmp_path)
    try:
        assert sorted(c.status()["functions"]) == ["Checker", "ShopPut"]
        status, _, body = c.http("PUT", "/orders/42")
        assert status == 200, body
        assert json.loads(body) == {"stored": "42", "timeout": 5}
        status, _, body = c.http("GET", "/check")  # the parent calls the child by its output
        assert status == 200, body
        assert json.loads(json.loads(body)["body"]) == {"stored": "from-parent", "timeout": 5}
        ddb = c.env_client("dynamodb", "AWS_ENDPOINT_URL_DYNAMODB")
        (name,) = ddb.list_tables()["TableNames"]
        table = ddb.scan(TableName=name)["Items"]
        assert sorted(item["id"]["S"] for item in table) == ["42", "from-parent"]
        assert {item["by"]["S"] for item in table} == {"ShopPut"}
        # the parent's own REST API has PUT /orders/{id} too: the path reaches the first,
        # a Host naming the parent's API reaches the parent's function
        status, _, body = c.http("PUT", "/Prod/orders/7", headers={"Host": "x.localhost"})
        assert json.loads(body)["stored"] == "7"
        host = {"Host": "serverlessrestapi.localhost"}
        status, _, body = c.http("PUT", "/Prod/orders/7", headers=host)
        assert status == 200 and json.loads(json.loads(body)["body"])["stored"] == "from-parent"
        # the CLI takes the SAM CLI's path of a nested function too
        r = c.cli("invoke", "Shop/Put:live", "-p", '{"pathParameters": {"id": "cli"}}', "--json")
        assert r.returncode == 0, r.stdout + r.stderr
        assert json.loads(json.loads(r.stdout)["payload"]["body"])["stored"] == "cli"
    finally:
        c.stop()


def test_a_release_of_a_nested_function_is_judged_and_rolled_back(tmp_path: Path) -> None:
    c = start(tmp_path)
    try:
        source = c.template.parent / "shop/src/app.py"
        source.write_text(PUT.replace("    order =", "    raise RuntimeError('v2')\n    order ="))
        r = c.cli("deploy", "-t", str(c.template), "--json")
        assert r.returncode == 0, r.stdout + r.stderr
        started = json.loads(r.stdout)["deployments"]
        assert [t["function"] for d in started for t in d["targets"]] == ["ShopPut"]
        deployment = started[0]["id"]
        d, failed = c.serve_canary(deployment, lambda: c.http("PUT", "/orders/1")[0] != 200)
        assert d["state"] == "Stopped" and d["rolled_back"], d
        assert d["stopped_by"].startswith("judge"), d
        assert 1 <= failed <= 10, failed
        assert c.alias("ShopPut")["split"] == {"1": 1.0}
    finally:
        c.stop()
