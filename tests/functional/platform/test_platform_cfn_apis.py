"""APIs written as API Gateway's CloudFormation resources, through a real `canaria up`:
a REST API's resource tree behind a TOKEN authorizer, an HTTP API's routes (one at
payload 1.0) with CORS, answered as API Gateway answers."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator

import pytest

from tests.functional.harness import Canaria, write_app

PY = f"python{sys.version_info.major}.{sys.version_info.minor}"
LAMBDA_PATH = "arn:aws:apigateway:${AWS::Region}:lambda:path/2015-03-31/functions"

TEMPLATE = f"""\
Transform: AWS::Serverless-2016-10-31
Globals:
  Function: {{Runtime: {PY}, CodeUri: src}}
Resources:
  Fn:
    Type: AWS::Serverless::Function
    Properties: {{Handler: app.handler, AutoPublishAlias: live}}
  Auth:
    Type: AWS::Serverless::Function
    Properties: {{Handler: app.authorize}}
  Shop:
    Type: AWS::ApiGateway::RestApi
    Properties: {{Name: shop}}
  Items:
    Type: AWS::ApiGateway::Resource
    Properties:
      RestApiId: !Ref Shop
      ParentId: !GetAtt Shop.RootResourceId
      PathPart: items
  Item:
    Type: AWS::ApiGateway::Resource
    Properties: {{RestApiId: !Ref Shop, ParentId: !Ref Items, PathPart: '{{id}}'}}
  GetItem:
    Type: AWS::ApiGateway::Method
    Properties:
      RestApiId: !Ref Shop
      ResourceId: !Ref Item
      HttpMethod: GET
      AuthorizationType: CUSTOM
      AuthorizerId: !Ref Gate
      Integration:
        Type: AWS_PROXY
        IntegrationHttpMethod: POST
        Uri: !Sub '{LAMBDA_PATH}/${{Fn.Arn}}/invocations'
  ItemPreflight:
    Type: AWS::ApiGateway::Method
    Properties:
      RestApiId: !Ref Shop
      ResourceId: !Ref Item
      HttpMethod: OPTIONS
      AuthorizationType: NONE
      Integration:
        Type: MOCK
        RequestTemplates: {{application/json: '{{"statusCode": 200}}'}}
        IntegrationResponses:
          - StatusCode: 200
            ResponseParameters:
              method.response.header.Access-Control-Allow-Origin: "'https://shop.example'"
              method.response.header.Access-Control-Allow-Methods: "'GET,OPTIONS'"
              method.response.header.Access-Control-Allow-Headers: "'authorizationToken'"
  Gate:
    Type: AWS::ApiGateway::Authorizer
    Properties:
      RestApiId: !Ref Shop
      Name: gate
      Type: TOKEN
      IdentitySource: method.request.header.authorizationToken
      AuthorizerUri: !Sub '{LAMBDA_PATH}/${{Auth.Arn}}/invocations'
  Deployment:
    Type: AWS::ApiGateway::Deployment
    DependsOn: [GetItem]
    Properties: {{RestApiId: !Ref Shop}}
  Stage:
    Type: AWS::ApiGateway::Stage
    Properties: {{RestApiId: !Ref Shop, DeploymentId: !Ref Deployment, StageName: v1}}
  Orders:
    Type: AWS::ApiGatewayV2::Api
    Properties:
      Name: orders
      ProtocolType: HTTP
      CorsConfiguration: {{AllowOrigins: ['https://shop.example'], AllowMethods: [POST]}}
  ToFn:
    Type: AWS::ApiGatewayV2::Integration
    Properties:
      ApiId: !Ref Orders
      IntegrationType: AWS_PROXY
      IntegrationUri: !GetAtt Fn.Arn
      PayloadFormatVersion: '1.0'
  Create:
    Type: AWS::ApiGatewayV2::Route
    Properties:
      ApiId: !Ref Orders
      RouteKey: POST /orders
      Target: !Join [/, [integrations, !Ref ToFn]]
  Default:
    Type: AWS::ApiGatewayV2::Stage
    Properties: {{ApiId: !Ref Orders, StageName: $default, AutoDeploy: true}}
"""

HANDLERS = """\
import json

def handler(event, context):
    return {
        "statusCode": 200,
        "body": json.dumps({
            "version": event.get("version", "1.0"),
            "resource": event.get("resource"),
            "path": event["path"],
            "id": (event.get("pathParameters") or {}).get("id"),
            "principal": (event["requestContext"].get("authorizer") or {}).get("principalId"),
        }),
    }

def authorize(event, context):
    token = event["authorizationToken"]
    if token == "unauthorized":
        raise Exception("Unauthorized")
    return {
        "principalId": "shopper",
        "policyDocument": {
            "Version": "2012-10-17",
            "Statement": [{
                "Action": "execute-api:Invoke",
                "Effect": "Allow" if token == "allow" else "Deny",
                "Resource": event["methodArn"],
            }],
        },
    }
"""


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Canaria]:
    tmp = tmp_path_factory.mktemp("cfn-apis")
    root = write_app(tmp / "app", {"template.yaml": TEMPLATE, "src/app.py": HANDLERS})
    c = Canaria(root, tmp / "state").start()
    yield c
    c.stop()


def test_a_rest_apis_method_behind_its_authorizer(app: Canaria) -> None:
    status, _, body = app.http("GET", "/v1/items/42", headers={"authorizationToken": "allow"})
    assert status == 200, body
    assert json.loads(body) == {
        "version": "1.0",
        "resource": "/items/{id}",
        "path": "/items/42",  # the stage is in requestContext.path only
        "id": "42",
        "principal": "shopper",
    }
    denied = app.http("GET", "/v1/items/42", headers={"authorizationToken": "deny"})
    assert denied[0] == 403
    assert app.http("GET", "/v1/items/42")[0] == 401  # no identity source: not invoked
    assert app.http("GET", "/v1/items")[0] == 403  # no method there: API Gateway's 403
    # the path's MOCK OPTIONS method: the browser's preflight, answered without the authorizer
    preflight = {"Origin": "https://shop.example", "Access-Control-Request-Method": "GET"}
    status, headers, _ = app.http("OPTIONS", "/v1/items/42", headers=preflight)
    assert status == 200, headers
    assert headers["access-control-allow-origin"] == "https://shop.example"
    assert headers["access-control-allow-methods"] == "GET,OPTIONS"
    assert headers["access-control-allow-headers"] == "authorizationToken"


def test_an_http_apis_route_at_payload_1_0_with_cors(app: Canaria) -> None:
    origin = {"Origin": "https://shop.example"}
    status, headers, body = app.http("POST", "/orders", b"{}", headers=origin)
    assert status == 200, body
    assert json.loads(body)["path"] == "/orders" and json.loads(body)["version"] == "1.0"
    assert headers["access-control-allow-origin"] == "https://shop.example"
    preflight = {**origin, "Access-Control-Request-Method": "POST"}
    status, headers, _ = app.http("OPTIONS", "/orders", headers=preflight)
    assert status == 204 and "POST" in headers["access-control-allow-methods"]
