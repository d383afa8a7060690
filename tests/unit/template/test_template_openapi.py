"""Routes an API declares in its OpenAPI definition: DefinitionBody inline or through
AWS::Include, DefinitionUri files, and what is not served."""

from __future__ import annotations

from pathlib import Path

from canaria.models import AuthorizerSpec
from canaria.template import load
from tests.unit.template.template_helpers import function, resources, write

LAMBDA_PATH = "arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions"
URI = f"!Sub {LAMBDA_PATH}/${{Fn.Arn}}/invocations"


def events(path: str, method: str, extra: str = "") -> str:
    props = f"RestApiId: !Ref Api, Path: {path}, Method: {method}{extra}"
    return f"Events:\n  E:\n    Type: Api\n    Properties: {{{props}}}\n"


REST_BODY = """\
  Api:
    Type: AWS::Serverless::Api
    Properties:
      StageName: Prod
      Auth:
        DefaultAuthorizer: Token
        Authorizers:
          Token: {FunctionArn: !GetAtt AuthFn.Arn}
      DefinitionBody:
        openapi: "3.0.1"
        paths:
          /items/{id}:
            get:
              x-amazon-apigateway-integration:
                type: aws_proxy
                uri: URI
          /any:
            x-amazon-apigateway-any-method:
              x-amazon-apigateway-integration:
                type: AWS_PROXY
                uri: URI
          /also-an-event:
            post:
              x-amazon-apigateway-integration:
                type: aws_proxy
                uri: URI
          /elsewhere:
            get:
              x-amazon-apigateway-integration:
                type: http_proxy
                uri: https://example.com
          /mapped:
            post:
              x-amazon-apigateway-integration:
                type: aws
                uri: URI
""".replace("URI", URI)


def routes_of(path: str) -> set[tuple[str, str, str, str, str | None]]:
    app = load(path)
    return {
        (r.api_id, r.method, r.path, r.function, r.authorizer and r.authorizer.name)
        for r in app.routes
        if r.integration is None  # Lambda proxies
    }


def test_lambda_proxy_operations_of_a_definition_body_are_routes(tmp_path: Path) -> None:
    event = events("/also-an-event", "post", ", Auth: {Authorizer: NONE}")
    body = resources(REST_BODY, function("Fn", event), function("AuthFn"))
    path = write(tmp_path, body)
    assert routes_of(path) == {
        ("Api", "GET", "/items/{id}", "Fn", "Token"),
        ("Api", "ANY", "/any", "Fn", "Token"),
        # the event's own route, with the event's Auth
        ("Api", "POST", "/also-an-event", "Fn", None),
    }
    app = load(path)
    # an HTTP proxy and a non-proxy integration of a function are integrations run as
    # API Gateway runs them: neither is a Lambda proxy route, neither is a warning
    assert not any("not served" in w for w in app.warnings)
    mapped = {(r.method, r.path): r.integration for r in app.integration_routes}
    assert set(mapped) == {("GET", "/elsewhere")}
    proxied = mapped["GET", "/elsewhere"]
    assert proxied is not None and (proxied.kind, proxied.url) == (
        "http_proxy",
        "https://example.com",
    )
    (fn_mapped,) = [r for r in app.functions["Fn"].routes if r.path == "/mapped"]
    assert fn_mapped.integration is not None and fn_mapped.integration.kind == "lambda"


def test_an_included_definition_and_an_http_apis_default_route(tmp_path: Path) -> None:
    (tmp_path / "app").mkdir()
    (tmp_path / "app" / "api.yaml").write_text(
        "openapi: 3.0.1\n"
        "paths:\n"
        "  $default:\n"
        "    x-amazon-apigateway-any-method:\n"
        "      x-amazon-apigateway-integration:\n"
        "        type: aws_proxy\n"
        "        payloadFormatVersion: '2.0'\n"
        "        uri:\n"
        f"          Fn::Sub: {LAMBDA_PATH}/${{Fn.Arn}}/invocations\n"
        "  /orders:\n"
        "    post:\n"
        "      x-amazon-apigateway-integration:\n"
        "        type: aws_proxy\n"
        f"        uri: {LAMBDA_PATH}/${{Other.Arn}}/invocations\n"
    )
    api = (
        "  Http:\n    Type: AWS::Serverless::HttpApi\n    Properties:\n"
        "      DefinitionBody:\n        Fn::Transform:\n          Name: AWS::Include\n"
        "          Parameters: {Location: ./api.yaml}\n"
    )
    body = resources(api, function("Fn"), function("Other"))
    assert routes_of(write(tmp_path, body)) == {
        ("Http", "ANY", "$default", "Fn", None),
        ("Http", "POST", "/orders", "Other", None),
    }


def test_sam_checks_an_included_definition_with_auth_as_cloudformation_hands_it(
    tmp_path: Path,
) -> None:
    # CloudFormation expands AWS::Include before the SAM transform: an API's Auth needs a
    # definition SAM can add its security to, which the include alone is not
    (tmp_path / "app").mkdir()
    (tmp_path / "app" / "api.yaml").write_text(
        'openapi: "3.0.1"\n'
        "paths:\n"
        "  /items:\n"
        "    get:\n"
        "      x-amazon-apigateway-integration:\n"
        "        type: aws_proxy\n"
        f"        uri: {{Fn::Sub: '{LAMBDA_PATH}/${{Fn.Arn}}/invocations'}}\n"
    )
    api = (
        "  Rest:\n    Type: AWS::Serverless::Api\n    Properties:\n      StageName: prod\n"
        "      DefinitionBody:\n        Fn::Transform:\n          Name: AWS::Include\n"
        "          Parameters: {Location: api.yaml}\n"
        "      Auth:\n        DefaultAuthorizer: Gate\n        Authorizers:\n"
        "          Gate: {FunctionArn: !GetAtt Auth.Arn, Identity: {Header: Authorization}}\n"
    )
    path = write(tmp_path, resources(api, function("Fn"), function("Auth")))
    assert routes_of(path) == {("Rest", "GET", "/items", "Fn", "Gate")}


def test_a_definition_uri_file(tmp_path: Path) -> None:
    (tmp_path / "app").mkdir()
    (tmp_path / "app" / "openapi.json").write_text(
        '{"openapi": "3.0.1", "paths": {"/hello": {"get": {"x-amazon-apigateway-integration":'
        ' {"type": "aws_proxy", "uri": "arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/'
        'functions/arn:aws:lambda:us-east-1:123456789012:function:Fn/invocations"}}}}}'
    )
    api = "  Api:\n    Type: AWS::Serverless::Api\n    Properties:\n"
    api += "      StageName: Prod\n      DefinitionUri: openapi.json\n"
    assert routes_of(write(tmp_path, resources(api, function("Fn")))) == {
        ("Api", "GET", "/hello", "Fn", None)
    }


def test_a_definition_canaria_cannot_read_is_a_warning(tmp_path: Path) -> None:
    api = "  Api:\n    Type: AWS::Serverless::Api\n    Properties:\n"
    api += "      StageName: Prod\n      DefinitionUri: s3://bucket/openapi.yaml\n"
    app = load(write(tmp_path, resources(api, function("Fn", events("/e", "get")))))
    assert [(r.method, r.path) for r in app.routes] == [("GET", "/e")]
    assert any("its OpenAPI definition is not read" in w for w in app.warnings), app.warnings


def test_authorizers_the_definition_declares_guard_its_operations(tmp_path: Path) -> None:
    (tmp_path / "app").mkdir()
    (tmp_path / "app" / "api.yaml").write_text(
        "swagger: '2.0'\n"
        "securityDefinitions:\n"
        "  Token:\n"
        "    type: apiKey\n    name: X-Token\n    in: header\n"
        "    x-amazon-apigateway-authtype: custom\n"
        "    x-amazon-apigateway-authorizer:\n"
        "      type: token\n"
        "      identityValidationExpression: '^t-.*'\n"
        "      authorizerResultTtlInSeconds: 60\n"
        "      authorizerUri:\n"
        f"        Fn::Sub: {LAMBDA_PATH}/${{AuthFn.Arn}}/invocations\n"
        "  Pool:\n"
        "    type: apiKey\n    name: Authorization\n    in: header\n"
        "    x-amazon-apigateway-authorizer: {type: cognito_user_pools}\n"
        "security: [{Token: []}]\n"
        "paths:\n"
        "  /a:\n    get:\n      x-amazon-apigateway-integration:\n"
        "        type: aws_proxy\n"
        f"        uri: {{Fn::Sub: '{LAMBDA_PATH}/${{Fn.Arn}}/invocations'}}\n"
        "  /b:\n    get:\n      security: [{Pool: []}]\n"
        "      x-amazon-apigateway-integration:\n        type: aws_proxy\n"
        f"        uri: {{Fn::Sub: '{LAMBDA_PATH}/${{Fn.Arn}}/invocations'}}\n"
        "  /c:\n    get:\n      security: []\n"
        "      x-amazon-apigateway-integration:\n        type: aws_proxy\n"
        f"        uri: {{Fn::Sub: '{LAMBDA_PATH}/${{Fn.Arn}}/invocations'}}\n"
    )
    api = (
        "  Api:\n    Type: AWS::Serverless::Api\n    Properties:\n      StageName: Prod\n"
        "      DefinitionBody:\n        Fn::Transform:\n          Name: AWS::Include\n"
        "          Parameters: {Location: api.yaml}\n"
    )
    app = load(write(tmp_path, resources(api, function("Fn"), function("AuthFn"))))
    got = {r.path: r.authorizer for r in app.routes}
    assert got == {
        "/a": AuthorizerSpec(
            "Token", "rest", "AuthFn", headers=("x-token",), validation="^t-.*", ttl_s=60
        ),
        "/b": AuthorizerSpec("Pool", "rest", "", ttl_s=0, type="cognito"),
        "/c": None,
    }
