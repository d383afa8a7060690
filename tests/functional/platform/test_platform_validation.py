"""REST request validators through a real `canaria up`: the two public patterns' shapes
(aws-samples/serverless-patterns ``apigw-data-validation``: SAM's ``Models`` and
``RequestModel``; ``apigw-lambda-request-validator``: CloudFormation's
``RequestValidator`` and ``Model``), answered as their READMEs say API Gateway answers,
and a ``GatewayResponses`` entry changing ``BAD_REQUEST_BODY``."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from tests.functional.harness import Canaria, write_app

LAMBDA_PATH = "arn:aws:apigateway:${AWS::Region}:lambda:path/2015-03-31/functions"

TEMPLATE = f"""\
AWSTemplateFormatVersion: "2010-09-09"
Transform: AWS::Serverless-2016-10-31
Resources:
  MainApi:
    Type: AWS::Serverless::Api
    Properties:
      StageName: Prod
      GatewayResponses:
        BAD_REQUEST_BODY:
          ResponseTemplates:
            application/json: '{{"error": "$context.error.validationErrorString"}}'
      Models:
        Vehicle:
          type: object
          required: [make, model, year]
          properties:
            make: {{type: string}}
            model: {{type: string}}
            year: {{type: integer, minimum: 2010}}
            color: {{type: string, enum: [green, red, blue]}}
  Fn:
    Type: AWS::Serverless::Function
    Properties:
      Handler: app.handler
      Runtime: python3.11
      CodeUri: src
      Events:
        Process:
          Type: Api
          Properties:
            RestApiId: !Ref MainApi
            Path: /vehicle
            Method: post
            RequestModel: {{Model: Vehicle, Required: true, ValidateBody: true}}
  RestApi:
    Type: AWS::ApiGateway::RestApi
    Properties: {{Name: validator}}
  Validator:
    Type: AWS::ApiGateway::RequestValidator
    Properties:
      RestApiId: !Ref RestApi
      ValidateRequestBody: true
      ValidateRequestParameters: true
  Person:
    Type: AWS::ApiGateway::Model
    Properties:
      Name: MyRequestModel
      ContentType: application/json
      RestApiId: !Ref RestApi
      Schema:
        title: Person
        type: object
        required: [firstName, lastName]
        properties: {{firstName: {{type: string}}, lastName: {{type: string}}}}
  Post:
    Type: AWS::ApiGateway::Method
    Properties:
      RestApiId: !Ref RestApi
      ResourceId: !GetAtt RestApi.RootResourceId
      HttpMethod: POST
      AuthorizationType: NONE
      RequestModels: {{$default: !Ref Person}}
      RequestParameters:
        method.request.querystring.myQueryString: true
        method.request.header.myHeader: true
      RequestValidatorId: !GetAtt Validator.RequestValidatorId
      Integration:
        Type: AWS_PROXY
        IntegrationHttpMethod: POST
        Uri: !Sub "{LAMBDA_PATH}/${{Fn.Arn}}/invocations"
  Deployment:
    Type: AWS::ApiGateway::Deployment
    DependsOn: [Post]
    Properties: {{RestApiId: !Ref RestApi, StageName: prod}}
"""

APP = """\
import json

def handler(event, context):
    return {"statusCode": 200, "body": json.dumps({"got": json.loads(event["body"])})}
"""


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Canaria]:
    root = tmp_path_factory.mktemp("validation")
    files = {"template.yaml": TEMPLATE, "src/app.py": APP}
    c = Canaria(write_app(root / "app", files), root / "state").start()
    yield c
    c.stop()


def post(c: Canaria, path: str, body: Any, headers: dict[str, str] | None = None) -> Any:
    sent = {"Content-Type": "application/json", **(headers or {})}
    status, answer_headers, answer = c.http("POST", path, json.dumps(body).encode(), sent)
    return status, answer_headers, json.loads(answer)


def test_a_sam_models_body_is_validated(app: Canaria) -> None:
    vehicle = {"make": "MINI", "model": "Countryman", "year": 2020}
    assert post(app, "/Prod/vehicle", vehicle)[::2] == (200, {"got": vehicle})
    status, headers, body = post(app, "/Prod/vehicle", {**vehicle, "year": 2009})
    assert status == 400 and headers["x-amzn-errortype"] == "BadRequestException"
    # its GatewayResponses entry changes the answer's body, and says what failed
    assert body == {"error": "[2009 is less than the minimum of 2010]"}
    assert post(app, "/Prod/vehicle", {**vehicle, "color": "pink"})[0] == 400
    status, _, _ = app.http(
        "POST", "/Prod/vehicle", b"{not json", {"Content-Type": "application/json"}
    )
    assert status == 400


def test_cloudformations_validator_checks_parameters_then_the_body(app: Canaria) -> None:
    person = {"firstName": "John", "lastName": "Bean"}
    header = {"myHeader": "myhead123"}
    query = "/prod?myQueryString=mystring123"
    assert post(app, query, person, header)[::2] == (200, {"got": person})
    assert post(app, "/prod", person, header)[::2] == (
        400,
        {"message": "Missing required request parameters: [myQueryString]"},
    )
    assert post(app, query, person)[::2] == (
        400,
        {"message": "Missing required request parameters: [myHeader]"},
    )
    assert post(app, "/prod", person)[::2] == (
        400,
        {"message": "Missing required request parameters: [myHeader, myQueryString]"},
    )
    assert post(app, query, {"firstName": "John"}, header)[::2] == (
        400,
        {"message": "Invalid request body"},
    )
