"""Routes declared only in an API's OpenAPI definition, through a real `canaria up`: the
function's alias serves them, its path parameters arrive, the default authorizer guards
them, and what the definition integrates elsewhere is not served."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.functional.harness import Canaria, write_app

TEMPLATE = """\
AWSTemplateFormatVersion: "2010-09-09"
Transform: AWS::Serverless-2016-10-31
Resources:
  Api:
    Type: AWS::Serverless::Api
    Properties:
      StageName: Prod
      Auth:
        DefaultAuthorizer: Gate
        Authorizers:
          Gate:
            FunctionPayloadType: REQUEST
            FunctionArn: !GetAtt GateFn.Arn
            Identity: {Headers: [x-key], ReauthorizeEvery: 0}
      DefinitionBody:
        openapi: "3.0.1"
        info: {title: orders, version: "1"}
        paths:
          /orders/{id}:
            get:
              x-amazon-apigateway-integration:
                type: aws_proxy
                httpMethod: POST
                uri: !Join
                  - ""
                  - - "arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/"
                    - !GetAtt Fn.Arn
                    - /invocations
          /status:
            get:
              x-amazon-apigateway-integration:
                type: mock
                requestTemplates: {application/json: '{"statusCode": 200}'}
                responses:
                  default:
                    statusCode: "200"
                    responseTemplates: {application/json: '{"up": true}'}
  Fn:
    Type: AWS::Serverless::Function
    Properties:
      Handler: app.handler
      Runtime: python3.11
      CodeUri: src
      AutoPublishAlias: live
  GateFn:
    Type: AWS::Serverless::Function
    Properties:
      Handler: app.gate
      Runtime: python3.11
      CodeUri: src
"""

APP = """\
import json

def handler(event, context):
    return {"statusCode": 200, "body": json.dumps({
        "resource": event["resource"],
        "id": event["pathParameters"]["id"],
        "alias": context.invoked_function_arn.rsplit(":", 1)[-1],
        "tenant": event["requestContext"]["authorizer"]["tenant"],
    })}

def gate(event, context):
    effect = "Allow" if event["headers"].get("x-key") == "yes" else "Deny"
    statement = {"Action": "execute-api:Invoke", "Effect": effect, "Resource": event["methodArn"]}
    return {"principalId": "p", "context": {"tenant": "acme"},
            "policyDocument": {"Version": "2012-10-17", "Statement": [statement]}}
"""


@pytest.fixture
def app(tmp_path: Path) -> Iterator[Canaria]:
    files = {"template.yaml": TEMPLATE, "src/app.py": APP}
    c = Canaria(write_app(tmp_path / "app", files), tmp_path / "state")
    yield c.start()
    c.stop()


def test_routes_of_the_openapi_definition_are_served(app: Canaria) -> None:
    status, _, body = app.http("GET", "/Prod/orders/42", headers={"x-key": "yes"})
    assert status == 200, body
    assert json.loads(body) == {
        "resource": "/orders/{id}",
        "id": "42",
        "alias": "live",
        "tenant": "acme",
    }
    assert app.http("GET", "/Prod/orders/42", headers={"x-key": "no"})[0] == 403
    assert app.http("GET", "/Prod/orders/42")[0] == 401
    # a mock integration, behind the same default authorizer
    status, _, body = app.http("GET", "/Prod/status", headers={"x-key": "yes"})
    assert (status, json.loads(body)) == (200, {"up": True})
    assert app.http("GET", "/Prod/status")[0] == 401
    routes = app.status()["functions"]["Fn"]["routes"]
    assert [(r["method"], r["path"], r["authorizer"]) for r in routes] == [
        ("GET", "/orders/{id}", "Gate")
    ]
