"""A user pool's Lambda triggers through a real `canaria up`: a Python function on its
``PreSignUp``, ``PreAuthentication`` and ``PostAuthentication`` (SAM's ``Cognito``
event) and a Node.js function on its ``PostConfirmation`` (the pool's ``LambdaConfig``),
run when boto3 signs users up, confirms them and signs them in, with Cognito's events and
Cognito's answers when a trigger refuses."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from typing import Any

import pytest

from tests.functional.harness import Canaria, write_app

TEMPLATE = """\
AWSTemplateFormatVersion: "2010-09-09"
Transform: AWS::Serverless-2016-10-31
Resources:
  Users:
    Type: AWS::Cognito::UserPool
    Properties:
      UsernameAttributes: [email]
      LambdaConfig:
        PostConfirmation: !GetAtt Welcome.Arn
  WebClient:
    Type: AWS::Cognito::UserPoolClient
    Properties:
      UserPoolId: !Ref Users
      ExplicitAuthFlows: [ALLOW_USER_PASSWORD_AUTH, ALLOW_REFRESH_TOKEN_AUTH]
  Profiles:
    Type: AWS::Serverless::SimpleTable
    Properties: {TableName: profiles}
  Gate:
    Type: AWS::Serverless::Function
    Properties:
      Handler: gate.handler
      Runtime: python3.11
      CodeUri: src
      Environment: {Variables: {TABLE: !Ref Profiles}}
      Events:
        Pool:
          Type: Cognito
          Properties:
            UserPool: !Ref Users
            Trigger: [PreSignUp, PreAuthentication, PostAuthentication, PreTokenGeneration]
  Rest:
    Type: AWS::Serverless::Api
    Properties:
      StageName: Prod
      Auth:
        DefaultAuthorizer: Pool
        Authorizers: {Pool: {UserPoolArn: !GetAtt Users.Arn}}
  Me:
    Type: AWS::Serverless::Function
    Properties:
      Runtime: python3.11
      Handler: index.handler
      InlineCode: |
        import json
        def handler(event, context):
            claims = event["requestContext"]["authorizer"]["claims"]
            return {"statusCode": 200, "body": json.dumps(claims)}
      Events:
        Me: {Type: Api, Properties: {RestApiId: !Ref Rest, Path: /me, Method: get}}
  Welcome:
    Type: AWS::Serverless::Function
    Properties:
      Handler: index.handler
      Runtime: nodejs20.x
      CodeUri: node
      Environment: {Variables: {TABLE: !Ref Profiles}}
"""

GATE = """\
import os

import boto3

table = boto3.resource("dynamodb").Table(os.environ["TABLE"])

def handler(event, context):
    source = event["triggerSource"]
    email = event["request"]["userAttributes"].get("email", "")
    if source.startswith("PreSignUp"):
        if email.endswith("@blocked.example"):
            raise Exception("Sign-ups from blocked.example are closed")
        if "+auto@" in email:
            event["response"]["autoConfirmUser"] = True
            event["response"]["autoVerifyEmail"] = True
    elif source == "PreAuthentication_Authentication":
        if email.startswith("locked"):
            raise Exception("This account is locked")
    elif source == "PostAuthentication_Authentication":
        table.put_item(Item={"id": "login#" + event["userName"], "email": email})
    elif source.startswith("TokenGeneration_"):
        event["response"]["claimsOverrideDetails"] = {
            "claimsToAddOrOverride": {"tenant": "acme", "sub": "not-allowed"},
            "claimsToSuppress": ["email"],
            "groupOverrideDetails": {"groupsToOverride": ["readers"]},
        }
    table.put_item(Item={"id": "event#" + source + "#" + email, "event": event})
    return event
"""

WELCOME = """\
const { DynamoDBClient } = require("@aws-sdk/client-dynamodb");
const { DynamoDBDocumentClient, PutCommand } = require("@aws-sdk/lib-dynamodb");

const db = DynamoDBDocumentClient.from(new DynamoDBClient({}));

exports.handler = async (event) => {
  const attributes = event.request.userAttributes;
  await db.send(new PutCommand({
    TableName: process.env.TABLE,
    Item: { id: "profile#" + attributes.sub, email: attributes.email,
            status: attributes["cognito:user_status"], source: event.triggerSource },
  }));
  return event;
};
"""

PASSWORD = "Correct-Horse-9-battery"


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Canaria]:
    root = tmp_path_factory.mktemp("user-pool-triggers")
    files = {"template.yaml": TEMPLATE, "src/gate.py": GATE, "node/index.js": WELCOME}
    c = Canaria(write_app(root / "app", files), root / "state").start()
    yield c
    c.stop()


class Pool:
    def __init__(self, app: Canaria) -> None:
        variable = "AWS_ENDPOINT_URL_COGNITO_IDENTITY_PROVIDER"
        self.admin = app.env_client("cognito-idp", variable)
        self.browser = app.env_client("cognito-idp", variable, signed=False)
        self.id = self.admin.list_user_pools(MaxResults=10)["UserPools"][0]["Id"]
        clients = self.admin.list_user_pool_clients(UserPoolId=self.id)["UserPoolClients"]
        self.client = clients[0]["ClientId"]
        self.table = app.env_client("dynamodb", "AWS_ENDPOINT_URL_DYNAMODB")
        self.table_name = "profiles"

    def sign_up(self, email: str) -> Any:
        return self.browser.sign_up(ClientId=self.client, Username=email, Password=PASSWORD)

    def sign_in(self, email: str) -> Any:
        return self.browser.initiate_auth(
            ClientId=self.client,
            AuthFlow="USER_PASSWORD_AUTH",
            AuthParameters={"USERNAME": email, "PASSWORD": PASSWORD},
        )

    def item(self, key: str) -> dict[str, Any] | None:
        got = self.table.get_item(TableName=self.table_name, Key={"id": {"S": key}})
        return got.get("Item")


@pytest.fixture(scope="module")
def pool(app: Canaria) -> Pool:
    return Pool(app)


def test_pre_sign_up_refuses_with_cognitos_error_and_no_user_is_created(pool: Pool) -> None:
    with pytest.raises(pool.browser.exceptions.UserLambdaValidationException) as info:
        pool.sign_up("eve@blocked.example")
    message = info.value.response["Error"]["Message"]
    assert message == "PreSignUp failed with error Sign-ups from blocked.example are closed."
    with pytest.raises(pool.admin.exceptions.UserNotFoundException):
        pool.admin.admin_get_user(UserPoolId=pool.id, Username="eve@blocked.example")


def test_pre_sign_up_can_confirm_and_verify_the_user(pool: Pool) -> None:
    answer = pool.sign_up("ann+auto@example.com")
    assert answer["UserConfirmed"] is True
    user = pool.admin.admin_get_user(UserPoolId=pool.id, Username="ann+auto@example.com")
    assert user["UserStatus"] == "CONFIRMED"
    # confirmed by PreSignUp, the user is confirmed as any other: PostConfirmation ran
    profile = pool.item(f"profile#{answer['UserSub']}")
    assert profile is not None and profile["source"]["S"] == "PostConfirmation_ConfirmSignUp"
    attributes = {a["Name"]: a["Value"] for a in user["UserAttributes"]}
    assert attributes["email_verified"] == "true"
    # the trigger's event is Cognito's
    event = pool.item("event#PreSignUp_SignUp#ann+auto@example.com")
    assert event is not None
    shape = event["event"]["M"]
    assert shape["userPoolId"]["S"] == pool.id
    assert shape["callerContext"]["M"]["clientId"]["S"] == pool.client
    assert shape["request"]["M"]["userAttributes"]["M"]["email"]["S"] == "ann+auto@example.com"


def test_post_confirmation_runs_after_the_user_is_confirmed(pool: Pool) -> None:
    answer = pool.sign_up("bob@example.com")
    assert answer["UserConfirmed"] is False
    sub = answer["UserSub"]
    assert pool.item(f"profile#{sub}") is None
    pool.admin.admin_confirm_sign_up(UserPoolId=pool.id, Username="bob@example.com")
    profile = pool.item(f"profile#{sub}")
    assert profile is not None
    assert profile["email"]["S"] == "bob@example.com"
    assert profile["status"]["S"] == "CONFIRMED"
    assert profile["source"]["S"] == "PostConfirmation_ConfirmSignUp"


def test_authentication_triggers_run_around_a_password_sign_in(pool: Pool) -> None:
    pool.sign_up("carol+auto@example.com")
    tokens = pool.sign_in("carol+auto@example.com")["AuthenticationResult"]
    assert tokens["IdToken"]
    # the event names the user as the pool does
    user = pool.admin.admin_get_user(UserPoolId=pool.id, Username="carol+auto@example.com")
    login = pool.item(f"login#{user['Username']}")
    assert login is not None and login["email"]["S"] == "carol+auto@example.com"

    pool.sign_up("locked+auto@example.com")
    with pytest.raises(pool.browser.exceptions.UserLambdaValidationException) as info:
        pool.sign_in("locked+auto@example.com")
    message = info.value.response["Error"]["Message"]
    assert message == "PreAuthentication failed with error This account is locked."


def test_pre_token_generation_changes_the_id_token_and_the_authorizer_takes_it(
    app: Canaria, pool: Pool
) -> None:
    pool.sign_up("dave+auto@example.com")
    tokens = pool.sign_in("dave+auto@example.com")["AuthenticationResult"]
    claims = claims_of(tokens["IdToken"])
    assert claims["tenant"] == "acme"
    assert "email" not in claims
    assert claims["cognito:groups"] == ["readers"]
    assert claims["sub"] != "not-allowed"  # a claim Cognito reserves is left as it is
    status, _, body = app.http("GET", "/Prod/me", headers={"Authorization": tokens["IdToken"]})
    assert status == 200, body
    seen = json.loads(body)
    assert (seen["tenant"], seen["cognito:groups"]) == ("acme", "[readers]")

    # the refresh flow runs it too
    refreshed = pool.browser.initiate_auth(
        ClientId=pool.client,
        AuthFlow="REFRESH_TOKEN_AUTH",
        AuthParameters={"REFRESH_TOKEN": tokens["RefreshToken"]},
    )["AuthenticationResult"]
    assert claims_of(refreshed["IdToken"])["tenant"] == "acme"
    event = pool.item("event#TokenGeneration_RefreshTokens#dave+auto@example.com")
    assert event is not None


def claims_of(token: str) -> dict[str, Any]:
    payload = token.split(".")[1]
    return dict(json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))))
