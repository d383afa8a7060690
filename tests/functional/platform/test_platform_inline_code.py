"""InlineCode through a real `canaria up`: Python and Node.js functions written in the
template run from the file Lambda writes them to, and a change to the text is a new
version deployed like any other."""

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
  Greeting: {Type: String, Default: hello}
Resources:
  Api:
    Type: AWS::Serverless::Api
    Properties:
      StageName: Prod
      Auth:
        DefaultAuthorizer: Token
        Authorizers:
          Token: {FunctionArn: !GetAtt AuthFn.Arn, Identity: {ReauthorizeEvery: 0}}
  Fn:
    Type: AWS::Serverless::Function
    Properties:
      Handler: index.handler
      Runtime: python3.11
      AutoPublishAlias: live
      DeploymentPreference: {Type: AllAtOnce}
      InlineCode: !Sub |
        import json, os

        def handler(event, context):
            return {"statusCode": 200, "body": json.dumps({
                "greeting": "${Greeting}",
                "file": os.path.basename(__file__),
                "principal": event["requestContext"]["authorizer"]["principalId"],
            })}
      Events:
        Hello:
          Type: Api
          Properties: {RestApiId: !Ref Api, Path: /hello, Method: get}
  AuthFn:
    Type: AWS::Serverless::Function
    Properties:
      Handler: index.handler
      Runtime: nodejs20.x
      InlineCode: |
        exports.handler = async (event) => ({
          principalId: require("path").basename(__filename),
          policyDocument: {
            Version: "2012-10-17",
            Statement: [{
              Action: "execute-api:Invoke",
              Effect: event.authorizationToken === "allow" ? "Allow" : "Deny",
              Resource: event.methodArn,
            }],
          },
        });
"""


@pytest.fixture
def app(tmp_path: Path) -> Iterator[Canaria]:
    c = Canaria(write_app(tmp_path / "app", {"template.yaml": TEMPLATE}), tmp_path / "state")
    yield c.start()
    c.stop()


def hello(c: Canaria, token: str = "allow") -> tuple[int, object]:
    status, _, body = c.http("GET", "/Prod/hello", headers={"Authorization": token})
    return status, json.loads(body)


def test_inline_functions_run_and_a_changed_text_is_a_new_version(app: Canaria) -> None:
    assert hello(app) == (200, {"greeting": "hello", "file": "index.py", "principal": "index.js"})
    assert hello(app, "deny")[0] == 403
    r = app.cli(
        "deploy", "-t", str(app.template), "--parameter-overrides", "Greeting=bonjour", "--json"
    )
    assert r.returncode == 0, r.stdout + r.stderr
    (deployment,) = json.loads(r.stdout)["deployments"]
    assert [(t["function"], t["to_version"]) for t in deployment["targets"]] == [("Fn", 2)]
    assert app.wait_deployment(deployment["id"])["state"] == "Succeeded"
    assert hello(app)[1] == {"greeting": "bonjour", "file": "index.py", "principal": "index.js"}
    # the same text again publishes nothing
    r = app.cli(
        "deploy", "-t", str(app.template), "--parameter-overrides", "Greeting=bonjour", "--json"
    )
    assert r.returncode == 0, r.stdout + r.stderr
    assert json.loads(r.stdout)["deployments"] == []
