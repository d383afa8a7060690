"""APIs written as API Gateway's own CloudFormation resources: the REST resource tree,
stages, HTTP API routes and integrations, their authorizers, and what is not served."""

from __future__ import annotations

from pathlib import Path

from canaria.models import RouteSpec, iam_authorizer
from canaria.template import load
from tests.unit.template.template_helpers import fails, function, resources, write

LAMBDA_PATH = "arn:aws:apigateway:${AWS::Region}:lambda:path/2015-03-31/functions"
URI = f"!Sub '{LAMBDA_PATH}/${{%s.Arn}}/invocations'"

REST = f"""\
  Shop:
    Type: AWS::ApiGateway::RestApi
    Properties: {{Name: shop}}
  Items:
    Type: AWS::ApiGateway::Resource
    Properties: {{RestApiId: !Ref Shop, ParentId: !GetAtt Shop.RootResourceId, PathPart: items}}
  Item:
    Type: AWS::ApiGateway::Resource
    Properties: {{RestApiId: !Ref Shop, ParentId: !Ref Items, PathPart: '{{id}}'}}
  ListItems:
    Type: AWS::ApiGateway::Method
    Properties:
      RestApiId: !Ref Shop
      ResourceId: !Ref Items
      HttpMethod: GET
      AuthorizationType: NONE
      Integration: {{Type: AWS_PROXY, IntegrationHttpMethod: POST, Uri: {URI % "Fn"}}}
  GetItem:
    Type: AWS::ApiGateway::Method
    Properties:
      RestApiId: !Ref Shop
      ResourceId: !Ref Item
      HttpMethod: ANY
      AuthorizationType: CUSTOM
      AuthorizerId: !Ref Gate
      Integration: {{Type: AWS_PROXY, IntegrationHttpMethod: POST, Uri: {URI % "Fn"}}}
  Root:
    Type: AWS::ApiGateway::Method
    Properties:
      RestApiId: !Ref Shop
      ResourceId: !GetAtt Shop.RootResourceId
      HttpMethod: POST
      AuthorizationType: AWS_IAM
      Integration: {{Type: AWS_PROXY, IntegrationHttpMethod: POST, Uri: {URI % "Other"}}}
  Preflight:
    Type: AWS::ApiGateway::Method
    Properties:
      RestApiId: !Ref Shop
      ResourceId: !Ref Items
      HttpMethod: OPTIONS
      AuthorizationType: NONE
      Integration: {{Type: MOCK}}
  Gate:
    Type: AWS::ApiGateway::Authorizer
    Properties:
      RestApiId: !Ref Shop
      Name: gate
      Type: TOKEN
      IdentitySource: method.request.header.X-Token
      AuthorizerResultTtlInSeconds: 60
      AuthorizerUri: {URI % "Auth"}
  Deployment:
    Type: AWS::ApiGateway::Deployment
    Properties: {{RestApiId: !Ref Shop}}
  Live:
    Type: AWS::ApiGateway::Stage
    Properties:
      RestApiId: !Ref Shop
      DeploymentId: !Ref Deployment
      StageName: v1
      Variables: {{color: blue}}
"""

HTTP = """\
  Orders:
    Type: AWS::ApiGatewayV2::Api
    Properties:
      Name: orders
      ProtocolType: HTTP
      CorsConfiguration: {AllowOrigins: ['https://shop.example']}
  ToFn:
    Type: AWS::ApiGatewayV2::Integration
    Properties:
      ApiId: !Ref Orders
      IntegrationType: AWS_PROXY
      IntegrationUri: !GetAtt Fn.Arn
      PayloadFormatVersion: '2.0'
  ToOther:
    Type: AWS::ApiGatewayV2::Integration
    Properties:
      ApiId: !Ref Orders
      IntegrationType: AWS_PROXY
      IntegrationUri: !GetAtt Other.Arn
      PayloadFormatVersion: '1.0'
  ToQueue:
    Type: AWS::ApiGatewayV2::Integration
    Properties:
      ApiId: !Ref Orders
      IntegrationType: AWS_PROXY
      IntegrationSubtype: SQS-SendMessage
  Create:
    Type: AWS::ApiGatewayV2::Route
    Properties:
      ApiId: !Ref Orders
      RouteKey: POST /orders
      Target: !Join [/, [integrations, !Ref ToFn]]
      AuthorizationType: JWT
      AuthorizerId: !Ref Jwt
  Fallback:
    Type: AWS::ApiGatewayV2::Route
    Properties: {ApiId: !Ref Orders, RouteKey: $default, Target: !Sub 'integrations/${ToOther}'}
  Enqueue:
    Type: AWS::ApiGatewayV2::Route
    Properties: {ApiId: !Ref Orders, RouteKey: POST /queue, Target: !Sub 'integrations/${ToQueue}'}
  Jwt:
    Type: AWS::ApiGatewayV2::Authorizer
    Properties:
      ApiId: !Ref Orders
      Name: jwt
      AuthorizerType: JWT
      IdentitySource: [$request.header.Authorization]
      JwtConfiguration: {Issuer: 'https://issuer.example', Audience: [shop]}
  Default:
    Type: AWS::ApiGatewayV2::Stage
    Properties:
      ApiId: !Ref Orders
      StageName: $default
      AutoDeploy: true
      StageVariables: {table: orders, audit: true}
"""


def routes(app_path: str) -> dict[tuple[str, str, str], RouteSpec]:
    app = load(app_path)
    return {(r.api_id, r.method, r.path): r for f in app.functions.values() for r in f.routes}


def app_with(tmp_path: Path, *parts: str) -> str:
    fns = function("Fn") + function("Other") + function("Auth")
    return write(tmp_path, resources(fns, *parts))


def test_a_rest_apis_methods_are_routes_at_its_stage(tmp_path: Path) -> None:
    path = app_with(tmp_path, REST)
    app = load(path)
    got = routes(path)
    assert set(got) == {
        ("Shop", "GET", "/items"),
        ("Shop", "ANY", "/items/{id}"),
        ("Shop", "POST", "/"),
    }
    listed = got["Shop", "GET", "/items"]
    assert (listed.function, listed.api_kind, listed.stage) == ("Fn", "rest", "v1")
    assert listed.stage_variables == (("color", "blue"),) and listed.authorizer is None
    gate = got["Shop", "ANY", "/items/{id}"].authorizer
    assert gate is not None and (gate.function, gate.payload_type) == ("Auth", "TOKEN")
    assert (gate.headers, gate.ttl_s) == (("x-token",), 60)
    assert got["Shop", "POST", "/"].function == "Other"
    assert app.apis["Shop"].stage == "v1" and not app.skipped
    warnings = "\n".join(app.warnings)
    assert "not served" not in warnings
    assert "authorized by" not in warnings
    assert got["Shop", "POST", "/"].authorizer == iam_authorizer("rest")
    # the MOCK without CORS headers is a method of no function, run as API Gateway runs it
    (mock,) = app.integration_routes
    assert (mock.method, mock.path, mock.function) == ("OPTIONS", "/items", "")
    assert mock.integration is not None and mock.integration.kind == "mock"


def test_a_deployments_stage_serves_when_there_is_no_stage_resource(tmp_path: Path) -> None:
    rest = REST.split("  Live:")[0].replace(
        "Properties: {RestApiId: !Ref Shop}", "Properties: {RestApiId: !Ref Shop, StageName: prod}"
    )
    assert {r.stage for r in routes(app_with(tmp_path, rest)).values()} == {"prod"}
    unstaged = REST.split("  Live:")[0]
    app = load(app_with(tmp_path, unstaged))
    assert not [r for f in app.functions.values() for r in f.routes]
    assert any("it has no stage" in w for w in app.warnings)


def test_an_http_apis_routes_integrations_and_authorizer(tmp_path: Path) -> None:
    path = app_with(tmp_path, HTTP)
    got = routes(path)
    assert set(got) == {("Orders", "POST", "/orders"), ("Orders", "ANY", "$default")}
    created = got["Orders", "POST", "/orders"]
    assert (created.function, created.stage, created.payload_v1) == ("Fn", "$default", False)
    assert created.cors is not None and created.cors.allow_origins == ("https://shop.example",)
    jwt = created.authorizer
    assert jwt is not None and (jwt.type, jwt.issuer, jwt.audience) == (
        "jwt",
        "https://issuer.example",
        ("shop",),
    )
    fallback = got["Orders", "ANY", "$default"]
    assert (fallback.function, fallback.payload_v1, fallback.authorizer) == ("Other", True, None)
    assert fallback.stage_variables == (("table", "orders"), ("audit", "true"))
    app = load(path)
    assert not any("not served" in w for w in app.warnings)
    (queue,) = app.integration_routes  # an AWS service integration (IntegrationSubtype)
    assert (queue.method, queue.path, queue.function) == ("POST", "/queue", "")
    assert queue.integration is not None
    assert (queue.integration.kind, queue.integration.subtype) == ("service", "SQS-SendMessage")


def test_a_quick_create_api_and_a_websocket_api(tmp_path: Path) -> None:
    quick = """\
  Quick:
    Type: AWS::ApiGatewayV2::Api
    Properties: {Name: quick, ProtocolType: HTTP, Target: !GetAtt Fn.Arn}
  Chat:
    Type: AWS::ApiGatewayV2::Api
    Properties:
      Name: chat
      ProtocolType: WEBSOCKET
      RouteSelectionExpression: $request.body.action
"""
    path = app_with(tmp_path, quick)
    assert set(routes(path)) == {("Quick", "ANY", "$default")}
    # the WebSocket API is read by its own module (here: no stage, not served)
    warnings = load(path).warnings
    assert not any("WEBSOCKET API is not served" in w for w in warnings)
    assert any("Resources.Chat: it has no stage" in w for w in warnings)


def test_a_sam_event_naming_a_cloudformation_api_adds_no_route(tmp_path: Path) -> None:
    event = (
        "Events:\n  Get: {Type: Api, Properties: {RestApiId: !Ref Shop, Path: /x, Method: get}}\n"
    )
    fns = function("Fn", event) + function("Other") + function("Auth")
    path = write(tmp_path, resources(fns, REST))
    got = routes(path)
    assert ("Shop", "GET", "/x") not in got and ("Shop", "GET", "/items") in got
    assert any("SAM adds no route to it" in w for w in load(path).warnings)


def test_an_openapi_body_of_a_rest_api(tmp_path: Path) -> None:
    body = f"""\
  Books:
    Type: AWS::ApiGateway::RestApi
    Properties:
      Body:
        openapi: 3.0.1
        paths:
          /books/{{isbn}}:
            get:
              x-amazon-apigateway-integration:
                type: aws_proxy
                httpMethod: POST
                uri: {URI % "Other"}
  BooksStage:
    Type: AWS::ApiGateway::Stage
    Properties: {{RestApiId: !Ref Books, StageName: live, DeploymentId: x}}
"""
    got = routes(app_with(tmp_path, body))
    (route,) = got.values()
    assert (route.api_id, route.method, route.path, route.function, route.stage) == (
        "Books",
        "GET",
        "/books/{isbn}",
        "Other",
        "live",
    )


def test_a_mock_options_method_is_its_paths_cors_preflight(tmp_path: Path) -> None:
    preflight = """\
  ItemsPreflight:
    Type: AWS::ApiGateway::Method
    Properties:
      RestApiId: !Ref Shop
      ResourceId: !Ref Items
      HttpMethod: OPTIONS
      AuthorizationType: NONE
      Integration:
        Type: MOCK
        RequestTemplates: {application/json: '{"statusCode": 200}'}
        IntegrationResponses:
          - StatusCode: 200
            ResponseParameters:
              method.response.header.Access-Control-Allow-Origin: "'https://shop.example'"
              method.response.header.Access-Control-Allow-Methods: "'GET,OPTIONS'"
              method.response.header.Access-Control-Allow-Headers: "'Content-Type,X-Token'"
"""
    rest = REST.replace("  Preflight:\n", "  Unused:\n")
    path = app_with(tmp_path, rest, preflight)
    got = routes(path)
    cors = got["Shop", "GET", "/items"].cors
    assert cors is not None and cors.allow_origins == ("https://shop.example",)
    assert (cors.allow_methods, cors.allow_headers) == (
        ("GET", "OPTIONS"),
        ("Content-Type", "X-Token"),
    )
    assert got["Shop", "ANY", "/items/{id}"].cors is None  # its path has no preflight
    # the one without response headers is a mock like any other
    (mock,) = load(path).integration_routes
    assert mock.integration is not None and mock.integration.kind == "mock"


def test_a_stages_variables_that_are_not_a_mapping_are_refused_where_they_are(
    tmp_path: Path,
) -> None:
    rest = REST.replace("Variables: {color: blue}", "Variables: [color]")
    err = fails(app_with(tmp_path, rest))
    assert err.prop == "Resources.Live.Properties.Variables"


def test_integrations_of_a_rest_api_and_the_api_key_it_requires(tmp_path: Path) -> None:
    rest = REST.replace(
        "      Integration: {Type: MOCK}",
        """      ApiKeyRequired: true
      Integration:
        Type: MOCK
        RequestTemplates: {application/json: '{"statusCode": 200}'}
        PassthroughBehavior: NEVER
        TimeoutInMillis: 5000
        IntegrationResponses:
          - StatusCode: 404
            SelectionPattern: '4\\d{2}'
            ResponseTemplates: {application/json: '{"gone": true}'}
          - StatusCode: 200
            ResponseParameters: {method.response.header.X-Mock: "'yes'"}
          - {StatusCode: 700}
          - {StatusCode: 400, SelectionPattern: '(unclosed'}""",
    )
    app = load(app_with(tmp_path, rest))
    (mock,) = app.integration_routes
    spec = mock.integration
    assert spec is not None
    assert (spec.kind, spec.passthrough, spec.timeout_s) == ("mock", "NEVER", 5.0)
    assert spec.request_templates == (("application/json", '{"statusCode": 200}'),)
    gone, ok = spec.responses
    assert (gone.status, gone.pattern, gone.templates) == (
        404,
        "4\\d{2}",
        (("application/json", '{"gone": true}'),),
    )
    assert (ok.status, ok.pattern, ok.parameters) == (
        200,
        None,
        (("method.response.header.X-Mock", "'yes'"),),
    )
    assert mock.api_keys == ()  # required, and no key of the template is valid for it
    warnings = "\n".join(app.warnings)
    assert "1 method(s) require an API key, and no enabled key is associated" in warnings
    assert "integration response statusCode '700' is not an HTTP status: not used" in warnings
    assert "selection pattern '(unclosed' is not a regular expression" in warnings
