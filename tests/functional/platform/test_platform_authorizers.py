"""Lambda authorizers through a real `canaria up`: the AWS guide's Node.js TOKEN authorizer
in front of a REST API, a Python simple-response authorizer in front of an HTTP API, and
an authorizer's own canary judged and rolled back like any function's."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.functional.harness import Canaria, write_app

TEMPLATE = """\
AWSTemplateFormatVersion: "2010-09-09"
Transform: AWS::Serverless-2016-10-31
Parameters:
  Mode: {Type: String, Default: sample}
Resources:
  Rest:
    Type: AWS::Serverless::Api
    Properties:
      StageName: Prod
      Auth:
        DefaultAuthorizer: TokenAuth
        Authorizers:
          TokenAuth:
            FunctionArn: !Ref AuthFn.Alias
            Identity: {ReauthorizeEvery: 0}
  Http:
    Type: AWS::Serverless::HttpApi
    Properties:
      Auth:
        DefaultAuthorizer: Gate
        Authorizers:
          Gate:
            FunctionArn: !GetAtt GateFn.Arn
            AuthorizerPayloadFormatVersion: "2.0"
            EnableSimpleResponses: true
            Identity: {Headers: [x-key]}
  AuthFn:
    Type: AWS::Serverless::Function
    Properties:
      Handler: index.handler
      Runtime: nodejs20.x
      CodeUri: auth
      AutoPublishAlias: live
      Environment: {Variables: {MODE: !Ref Mode}}
      DeploymentPreference: {Type: Canary10Percent5Minutes}
  GateFn:
    Type: AWS::Serverless::Function
    Properties:
      Handler: gate.handler
      Runtime: python3.11
      CodeUri: src
  Fn:
    Type: AWS::Serverless::Function
    Properties:
      Handler: app.handler
      Runtime: python3.11
      CodeUri: src
      AutoPublishAlias: live
      Events:
        Hello:
          Type: Api
          Properties: {RestApiId: !Ref Rest, Path: /hello, Method: get}
        Open:
          Type: Api
          Properties: {RestApiId: !Ref Rest, Path: /open, Method: get, Auth: {Authorizer: NONE}}
        Item:
          Type: HttpApi
          Properties: {ApiId: !Ref Http, Path: "/items/{id}", Method: get}
"""

# The TOKEN authorizer sample of AWS's API Gateway guide ("Use API Gateway Lambda
# authorizers"), as it is written there, plus a MODE that breaks a release of it.
AUTHORIZER = """\
exports.handler = function(event, context, callback) {
    if (process.env.MODE === "broken") {
        throw new Error("a release that crashes");
    }
    var token = event.authorizationToken;
    switch (token) {
        case 'allow':
            callback(null, generatePolicy('user', 'Allow', event.methodArn));
            break;
        case 'deny':
            callback(null, generatePolicy('user', 'Deny', event.methodArn));
            break;
        case 'unauthorized':
            callback("Unauthorized");   // Return a 401 Unauthorized response
            break;
        default:
            callback("Error: Invalid token"); // Return a 500 Invalid token response
    }
};

// Help function to generate an IAM policy
var generatePolicy = function(principalId, effect, resource) {
    var authResponse = {};

    authResponse.principalId = principalId;
    if (effect && resource) {
        var policyDocument = {};
        policyDocument.Version = '2012-10-17';
        policyDocument.Statement = [];
        var statementOne = {};
        statementOne.Action = 'execute-api:Invoke';
        statementOne.Effect = effect;
        statementOne.Resource = resource;
        policyDocument.Statement[0] = statementOne;
        authResponse.policyDocument = policyDocument;
    }

    // Optional output with custom properties of the String, Number or Boolean type.
    authResponse.context = {
        "stringKey": "stringval",
        "numberKey": 123,
        "booleanKey": true
    };
    return authResponse;
}
"""

GATE = """\
def handler(event, context):
    return {"isAuthorized": event["headers"].get("x-key") == "yes",
            "context": {"tenant": "acme", "roles": ["reader"]}}
"""

APP = """\
import json

def handler(event, context):
    return {"statusCode": 200, "body": json.dumps(event["requestContext"].get("authorizer"))}
"""


@pytest.fixture
def app(tmp_path: Path) -> Iterator[Canaria]:
    files = {
        "template.yaml": TEMPLATE,
        "auth/index.js": AUTHORIZER,
        "src/gate.py": GATE,
        "src/app.py": APP,
    }
    c = Canaria(write_app(tmp_path / "app", files), tmp_path / "state").start()
    yield c
    c.stop()


def get(c: Canaria, path: str, headers: dict[str, str]) -> tuple[int, object]:
    status, _, body = c.http("GET", path, headers=headers)
    return status, json.loads(body)


def test_the_guides_token_authorizer_guards_the_rest_api(app: Canaria) -> None:
    status, body = get(app, "/Prod/hello", {"Authorization": "allow"})
    assert status == 200 and isinstance(body, dict)
    assert isinstance(body.pop("integrationLatency"), int)
    # REST passes the context's values as strings
    assert body == {
        "principalId": "user",
        "stringKey": "stringval",
        "numberKey": "123",
        "booleanKey": "true",
    }
    assert get(app, "/Prod/hello", {"Authorization": "deny"}) == (
        403,
        {"message": "User is not authorized to access this resource with an explicit deny"},
    )
    assert get(app, "/Prod/hello", {"Authorization": "unauthorized"}) == (
        401,
        {"message": "Unauthorized"},
    )
    assert get(app, "/Prod/hello", {"Authorization": "something else"}) == (
        500,
        {"message": None},
    )
    assert get(app, "/Prod/hello", {}) == (401, {"message": "Unauthorized"})
    assert get(app, "/Prod/open", {}) == (200, None)
    routes = {r["path"]: r["authorizer"] for r in app.status()["functions"]["Fn"]["routes"]}
    assert routes == {"/hello": "TokenAuth", "/open": None, "/items/{id}": "Gate"}
    status = app.cli("status")
    assert status.returncode == 0, status.stderr
    assert "(TokenAuth)" in status.stdout and "(Gate)" in status.stdout, status.stdout


def test_a_simple_response_authorizer_guards_the_http_api(app: Canaria) -> None:
    assert get(app, "/items/7", {}) == (401, {"message": "Unauthorized"})
    assert get(app, "/items/7", {"x-key": "no"}) == (403, {"message": "Forbidden"})
    assert get(app, "/items/7", {"x-key": "yes"}) == (
        200,
        {"lambda": {"tenant": "acme", "roles": ["reader"]}},
    )


def test_an_authorizers_bad_release_is_judged_and_rolled_back(app: Canaria) -> None:
    r = app.cli("deploy", "-t", str(app.template), "--parameter-overrides", "Mode=broken", "--json")
    assert r.returncode == 0, r.stdout + r.stderr
    (deployment,) = json.loads(r.stdout)["deployments"]
    assert [t["function"] for t in deployment["targets"]] == ["AuthFn"]
    failed = 0
    for _ in range(600):  # the canary step lasts 300 virtual seconds
        d = app.api().get(f"/deployments/{deployment['id']}")
        if d["completed"]:
            break
        if d["state"] == "AllowTraffic":
            # the crashing authorizer is API Gateway's 500 for the client
            failed += app.http("GET", "/Prod/hello", headers={"Authorization": "allow"})[0] == 500
        app.advance(1)
    assert d["state"] == "Stopped" and d["rolled_back"], d
    assert d["stopped_by"].startswith("judge"), d
    assert 0 < failed <= 10, failed
    assert app.alias("AuthFn")["split"] == {"1": 1.0}
    assert get(app, "/Prod/hello", {"Authorization": "allow"})[0] == 200
