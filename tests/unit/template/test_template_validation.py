"""REST request validators in both template forms: SAM's ``Models`` and an event's
``RequestModel`` / ``RequestParameters``, and CloudFormation's ``RequestValidator`` and
``Model`` resources named by a method."""

from __future__ import annotations

import json
from pathlib import Path

from canaria.models import RequestValidation, RouteSpec
from canaria.template import load
from tests.unit.template.template_helpers import fails, function, resources, write

VEHICLE = {
    "type": "object",
    "required": ["make", "year"],
    "properties": {"make": {"type": "string"}, "year": {"type": "integer", "minimum": 2010}},
}


def sam(event_extra: str, models: str = "") -> str:
    models = models or f"      Models:\n        Vehicle: {json.dumps(VEHICLE)}\n"
    api = "  Api:\n    Type: AWS::Serverless::Api\n    Properties:\n      StageName: Prod\n"
    events = (
        "Events:\n  Post:\n    Type: Api\n    Properties:\n"
        "      RestApiId: !Ref Api\n      Path: /vehicle\n      Method: post\n"
        + "".join(f"      {line}\n" for line in event_extra.splitlines())
    )
    return resources(api + models, function("Fn", events))


def route(path: str) -> RouteSpec:
    (found,) = load(path).routes
    return found


def test_a_request_model_validates_only_with_validate_body_or_parameters(tmp_path: Path) -> None:
    documented = route(write(tmp_path, sam("RequestModel: {Model: Vehicle, Required: true}")))
    assert documented.validation is None  # SAM gives the method no validator
    body = route(write(tmp_path, sam("RequestModel: {Model: Vehicle, ValidateBody: true}")))
    assert body.validation is not None and body.validation.parameters == ()
    [(content_type, schema)] = body.validation.body
    assert content_type == "application/json" and json.loads(schema) == VEHICLE
    params = route(
        write(
            tmp_path,
            sam(
                "RequestModel: {Model: Vehicle, ValidateParameters: true}\n"
                "RequestParameters:\n"
                "  - method.request.header.Authorization\n"
                "  - method.request.querystring.q: {Required: true}\n"
                "  - method.request.header.X-Tenant: {Required: true, Caching: false}\n"
            ),
        )
    )
    assert params.validation == RequestValidation(("header.X-Tenant", "querystring.q"), ())


def test_what_a_request_model_names_is_checked(tmp_path: Path) -> None:
    err = fails(write(tmp_path, sam("RequestModel: {Model: Truck, ValidateBody: true}")))
    assert "model 'Truck' is not one of the API's Models" in err.message
    bad = "      Models:\n        Vehicle: {type: objekt}\n"
    err = fails(write(tmp_path, sam("RequestModel: {Model: Vehicle}", models=bad)))
    assert "not a JSON schema (draft 4)" in err.message and "Models.Vehicle" in str(err)
    err = fails(
        write(
            tmp_path,
            sam(
                "RequestModel: {Model: Vehicle, ValidateParameters: true}\n"
                "RequestParameters: [method.request.body.x]\n"
            ),
        )
    )
    assert "'method.request.body.x' is not a request parameter" in err.message


CFN = """\
  RestApi:
    Type: AWS::ApiGateway::RestApi
    Properties: {Name: validated}
  Validator:
    Type: AWS::ApiGateway::RequestValidator
    Properties:
      RestApiId: !Ref RestApi
      ValidateRequestBody: true
      ValidateRequestParameters: true
  Person:
    Type: AWS::ApiGateway::Model
    Properties:
      Name: PersonModel
      ContentType: application/json
      RestApiId: !Ref RestApi
      Schema: {"type": "object", "required": ["firstName"]}
  Post:
    Type: AWS::ApiGateway::Method
    Properties:
      RestApiId: !Ref RestApi
      ResourceId: !GetAtt RestApi.RootResourceId
      HttpMethod: POST
      AuthorizationType: NONE
      RequestModels: {$default: !Ref Person}
      RequestParameters:
        method.request.querystring.q: true
        method.request.header.myHeader: true
        method.request.header.optional: false
      RequestValidatorId: !GetAtt Validator.RequestValidatorId
      Integration:
        Type: AWS_PROXY
        IntegrationHttpMethod: POST
        Uri: !Sub "LAMBDA_PATH/${Fn.Arn}/invocations"
  Stage:
    Type: AWS::ApiGateway::Stage
    Properties: {RestApiId: !Ref RestApi, StageName: prod, DeploymentId: x}
""".replace("LAMBDA_PATH", "arn:aws:apigateway:${AWS::Region}:lambda:path/2015-03-31/functions")


def test_cloudformations_validator_and_model_resources(tmp_path: Path) -> None:
    app = load(write(tmp_path, resources(CFN, function("Fn"))))
    (found,) = app.routes
    assert found.validation is not None
    assert found.validation.parameters == ("header.myHeader", "querystring.q")
    [(content_type, schema)] = found.validation.body
    assert content_type == "$default" and json.loads(schema)["required"] == ["firstName"]
    assert not [s for s in app.skipped if s.logical_id in ("Validator", "Person")]
    unknown = CFN.replace("!GetAtt Validator.RequestValidatorId", "Elsewhere")
    err = fails(write(tmp_path, resources(unknown, function("Fn"))))
    assert "RequestValidatorId 'Elsewhere' names no AWS::ApiGateway::RequestValidator" in (
        err.message
    )


def definition_api(definition: str) -> str:
    api = (
        "  Api:\n    Type: AWS::Serverless::Api\n    Properties:\n      StageName: Prod\n"
        "      DefinitionBody:\n"
    )
    body = "".join(f"        {line}\n" for line in definition.splitlines())
    return resources(api + body, function("Fn"))


URI = (
    "!Sub arn:aws:apigateway:${AWS::Region}:lambda:path/2015-03-31/functions/${Fn.Arn}/invocations"
)


def test_an_openapi_definitions_validators(tmp_path: Path) -> None:
    oas3 = f"""\
openapi: "3.0.1"
x-amazon-apigateway-request-validators:
  all: {{validateRequestBody: true, validateRequestParameters: true}}
  params-only: {{validateRequestBody: false, validateRequestParameters: true}}
x-amazon-apigateway-request-validator: all
components:
  parameters:
    Dry: {{name: dry, in: query, required: true}}
  schemas:
    Reminder:
      type: object
      required: [email, when]
      properties: {{email: {{type: string}}, when: {{$ref: "#/components/schemas/When"}}}}
    When: {{type: string}}
paths:
  /reminders:
    parameters:
      - {{name: tenant, in: header, required: true}}
    post:
      parameters:
        - {{$ref: "#/components/parameters/Dry"}}
        - {{name: note, in: query}}
      requestBody:
        content:
          application/json: {{schema: {{$ref: "#/components/schemas/Reminder"}}}}
      x-amazon-apigateway-integration:
        type: aws_proxy
        httpMethod: POST
        uri: {URI}
  /open:
    get:
      x-amazon-apigateway-request-validator: params-only
      x-amazon-apigateway-integration:
        type: aws_proxy
        httpMethod: POST
        uri: {URI}
"""
    app = load(write(tmp_path, definition_api(oas3)))
    got = {r.path: r.validation for r in app.routes}
    posted = got["/reminders"]
    assert posted is not None and posted.parameters == ("header.tenant", "querystring.dry")
    [(content_type, schema)] = posted.body
    parsed = json.loads(schema)
    assert content_type == "application/json" and parsed["required"] == ["email", "when"]
    assert "When" in parsed["components"]["schemas"]  # carried for the nested $ref
    assert got["/open"] == RequestValidation((), ())
    unknown = oas3.replace(
        "x-amazon-apigateway-request-validator: all", "x-amazon-apigateway-request-validator: some"
    )
    err = fails(write(tmp_path, definition_api(unknown)))
    assert "x-amazon-apigateway-request-validator 'some' is not one of" in err.message
    nameless = oas3.replace("{name: tenant, in: header, required: true}", "{in: header}")
    err = fails(write(tmp_path, definition_api(nameless)))
    assert "a header parameter of the definition has no name" in err.message
    dangling = oas3.replace("#/components/parameters/Dry", "#/components/parameters/Wet")
    err = fails(write(tmp_path, definition_api(dangling)))
    assert "$ref '#/components/parameters/Wet' names nothing in the definition" in err.message
