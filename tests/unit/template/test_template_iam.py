"""``AWS_IAM`` authorization in each form a template writes it: SAM's ``Auth``, an
event's ``Authorizer``, an OpenAPI ``awsSigv4`` security scheme, CloudFormation's
``AuthorizationType``, a function URL's ``AuthType``."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from canaria.gateway import Routing
from canaria.gateway.routes import RouteMatch
from canaria.gateway.urls import FunctionUrlRouting
from canaria.models import iam_authorizer
from canaria.template import load
from tests.unit.template.template_helpers import function, resources, write

LAMBDA_PATH = "arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions"


def authorizers(path: str) -> dict[tuple[str, str], object]:
    app = load(path)
    return {(r.api_id, r.path): r.authorizer for r in app.routes}


def test_sams_default_and_an_events_authorizer(tmp_path: Path) -> None:
    body = resources(
        """\
  Rest:
    Type: AWS::Serverless::Api
    Properties:
      StageName: Prod
      Auth: {DefaultAuthorizer: AWS_IAM}
  Http:
    Type: AWS::Serverless::HttpApi
    Properties:
      Auth: {EnableIamAuthorizer: true}
""",
        function(
            "Fn",
            """\
Events:
  A: {Type: Api, Properties: {RestApiId: !Ref Rest, Path: /a, Method: get}}
  Open:
    Type: Api
    Properties: {RestApiId: !Ref Rest, Path: /open, Method: get, Auth: {Authorizer: NONE}}
  H:
    Type: HttpApi
    Properties: {ApiId: !Ref Http, Path: /h, Method: get, Auth: {Authorizer: AWS_IAM}}
  Plain: {Type: HttpApi, Properties: {ApiId: !Ref Http, Path: /plain, Method: get}}
""",
        ),
    )
    app = load(write(tmp_path, body))
    got = {(r.api_id, r.path): r.authorizer for r in app.routes}
    assert got == {
        ("Rest", "/a"): iam_authorizer("rest"),
        ("Rest", "/open"): None,
        ("Http", "/h"): iam_authorizer("http"),
        ("Http", "/plain"): None,
    }
    assert not [w for w in app.warnings if "IAM" in w or "not applied" in w], app.warnings


def test_an_openapi_sigv4_scheme_and_cloudformations_authorization_type(tmp_path: Path) -> None:
    uri = f"!Sub {LAMBDA_PATH}/${{Fn.Arn}}/invocations"
    body = resources(
        f"""\
  Defined:
    Type: AWS::Serverless::Api
    Properties:
      StageName: Prod
      DefinitionBody:
        openapi: "3.0.1"
        components:
          securitySchemes:
            sigv4:
              type: apiKey
              name: Authorization
              in: header
              x-amazon-apigateway-authtype: awsSigv4
        paths:
          /signed:
            get:
              security: [{{sigv4: []}}]
              x-amazon-apigateway-integration:
                type: aws_proxy
                httpMethod: POST
                uri: {uri}
          /open:
            get:
              x-amazon-apigateway-integration:
                type: aws_proxy
                httpMethod: POST
                uri: {uri}
  Orders:
    Type: AWS::ApiGatewayV2::Api
    Properties: {{Name: orders, ProtocolType: HTTP}}
  ToFn:
    Type: AWS::ApiGatewayV2::Integration
    Properties:
      ApiId: !Ref Orders
      IntegrationType: AWS_PROXY
      IntegrationUri: !GetAtt Fn.Arn
      PayloadFormatVersion: '2.0'
  Create:
    Type: AWS::ApiGatewayV2::Route
    Properties:
      ApiId: !Ref Orders
      RouteKey: POST /orders
      AuthorizationType: AWS_IAM
      Target: !Sub integrations/${{ToFn}}
  Stage:
    Type: AWS::ApiGatewayV2::Stage
    Properties: {{ApiId: !Ref Orders, StageName: $default}}
""",
        function("Fn"),
    )
    path = write(tmp_path, body)
    assert authorizers(path) == {
        ("Defined", "/signed"): iam_authorizer("rest"),
        ("Defined", "/open"): None,
        ("Orders", "/orders"): iam_authorizer("http"),
    }
    assert not [w for w in load(path).warnings if "authorized by" in w]


def test_a_function_urls_aws_iam_is_served_signed_for_lambda(tmp_path: Path) -> None:
    app = load(write(tmp_path, resources(function("Fn", "FunctionUrlConfig: {AuthType: AWS_IAM}"))))
    url = app.functions["Fn"].url
    assert url is not None and url.auth_type == "AWS_IAM" and not app.warnings
    # the URL's only route is guarded by a signature for lambda, not execute-api
    routing = FunctionUrlRouting(Routing(), "Fn", url)
    match = routing.router.match("GET", "/any/path")
    assert isinstance(match, RouteMatch)
    assert match.route.authorizer == iam_authorizer("http", "lambda")
    open_url = FunctionUrlRouting(Routing(), "Fn", replace(url, auth_type="NONE"))
    match = open_url.router.match("GET", "/")
    assert isinstance(match, RouteMatch) and match.route.authorizer is None
