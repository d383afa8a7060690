"""Cognito user pools through a real `canaria up`: the template's pool, app client and
group are created in the services engine under the ids its references gave; users sign up
and sign in with boto3 as a browser app and an admin script do (the public operations
unsigned); their tokens open a REST API's Cognito authorizer and an HTTP API's JWT
authorizer, and a token that was not issued by the pool does not. Python and Node.js
functions call the pool with their SDKs."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from typing import Any

import pytest
from joserfc import jwt
from joserfc.jwk import RSAKey

from tests.functional.harness import Canaria, write_app

TEMPLATE = """\
AWSTemplateFormatVersion: "2010-09-09"
Transform: AWS::Serverless-2016-10-31
Resources:
  Users:
    Type: AWS::Cognito::UserPool
    Properties:
      UserPoolName: notes-users
      UsernameAttributes: [email]
      AutoVerifiedAttributes: [email]
      Policies:
        PasswordPolicy: {MinimumLength: "10", RequireSymbols: "false"}
      Schema:
        - {Name: tenant, AttributeDataType: String, Mutable: true}
  WebClient:
    Type: AWS::Cognito::UserPoolClient
    Properties:
      UserPoolId: !Ref Users
      ExplicitAuthFlows: [ALLOW_USER_PASSWORD_AUTH, ALLOW_ADMIN_USER_PASSWORD_AUTH,
                          ALLOW_REFRESH_TOKEN_AUTH]
  Admins:
    Type: AWS::Cognito::UserPoolGroup
    Properties:
      UserPoolId: !Ref Users
      GroupName: admins
      Precedence: 1
  Rest:
    Type: AWS::Serverless::Api
    Properties:
      StageName: Prod
      Auth:
        DefaultAuthorizer: Pool
        Authorizers:
          Pool:
            UserPoolArn: !GetAtt Users.Arn
  Http:
    Type: AWS::Serverless::HttpApi
    Properties:
      Auth:
        DefaultAuthorizer: Jwt
        Authorizers:
          Jwt:
            IdentitySource: $request.header.Authorization
            JwtConfiguration:
              issuer: !GetAtt Users.ProviderURL
              audience: [!Ref WebClient]
  Me:
    Type: AWS::Serverless::Function
    Properties:
      Handler: me.handler
      Runtime: python3.11
      CodeUri: src
      Environment:
        Variables:
          USER_POOL_ID: !Ref Users
          CLIENT_ID: !Ref WebClient
          POOL_ARN: !GetAtt Users.Arn
      Events:
        Rest:
          Type: Api
          Properties: {RestApiId: !Ref Rest, Path: /me, Method: get}
        Scoped:
          Type: Api
          Properties:
            RestApiId: !Ref Rest
            Path: /scoped
            Method: get
            Auth: {Authorizer: Pool, AuthorizationScopes: [aws.cognito.signin.user.admin]}
        Http:
          Type: HttpApi
          Properties: {ApiId: !Ref Http, Path: /me, Method: get}
  NodeAdmin:
    Type: AWS::Serverless::Function
    Properties:
      Handler: index.handler
      Runtime: nodejs20.x
      CodeUri: node
      Environment:
        Variables:
          USER_POOL_ID: !Ref Users
"""

ME = """\
import json
import os

import boto3

def handler(event, context):
    auth = event["requestContext"].get("authorizer") or {}
    claims = auth.get("claims") or auth.get("jwt", {}).get("claims")
    status = None
    if "email" in claims:  # an ID token's (an access token's carries none)
        status = boto3.client("cognito-idp").admin_get_user(
            UserPoolId=os.environ["USER_POOL_ID"], Username=claims["email"]
        )["UserStatus"]
    return {"statusCode": 200, "body": json.dumps({
        "claims": claims,
        "status": status,
        "env": {k: os.environ[k] for k in ("USER_POOL_ID", "CLIENT_ID", "POOL_ARN")},
    })}
"""

NODE_ADMIN = """\
const {
  CognitoIdentityProviderClient, AdminGetUserCommand, AdminListGroupsForUserCommand,
} = require("@aws-sdk/client-cognito-identity-provider");

const client = new CognitoIdentityProviderClient({});

exports.handler = async (event) => {
  const input = { UserPoolId: process.env.USER_POOL_ID, Username: event.username };
  const user = await client.send(new AdminGetUserCommand(input));
  const groups = await client.send(new AdminListGroupsForUserCommand(input));
  return {
    status: user.UserStatus,
    tenant: user.UserAttributes.find((a) => a.Name === "custom:tenant").Value,
    groups: groups.Groups.map((g) => g.GroupName),
  };
};
"""

PASSWORD = "Correct-Horse-9-battery"


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Canaria]:
    root = tmp_path_factory.mktemp("user-pools")
    files = {"template.yaml": TEMPLATE, "src/me.py": ME, "node/index.js": NODE_ADMIN}
    c = Canaria(write_app(root / "app", files), root / "state").start()
    yield c
    c.stop()


@pytest.fixture(scope="module")
def pool(app: Canaria) -> dict[str, str]:
    """The pool's and client's ids as the engine holds them, and a signed-up user's tokens."""
    admin = app.env_client("cognito-idp", "AWS_ENDPOINT_URL_COGNITO_IDENTITY_PROVIDER")
    pools = admin.list_user_pools(MaxResults=10)["UserPools"]
    assert [p["Name"] for p in pools] == ["notes-users"]
    pool_id = pools[0]["Id"]
    clients = admin.list_user_pool_clients(UserPoolId=pool_id)["UserPoolClients"]
    client_id = clients[0]["ClientId"]

    # a browser app's calls: no credentials, unsigned
    browser = app.env_client(
        "cognito-idp", "AWS_ENDPOINT_URL_COGNITO_IDENTITY_PROVIDER", signed=False
    )
    browser.sign_up(
        ClientId=client_id,
        Username="ann@example.com",
        Password=PASSWORD,
        UserAttributes=[{"Name": "custom:tenant", "Value": "acme"}],
    )
    admin.admin_confirm_sign_up(UserPoolId=pool_id, Username="ann@example.com")
    admin.admin_add_user_to_group(
        UserPoolId=pool_id, Username="ann@example.com", GroupName="admins"
    )
    tokens = browser.initiate_auth(
        ClientId=client_id,
        AuthFlow="USER_PASSWORD_AUTH",
        AuthParameters={"USERNAME": "ann@example.com", "PASSWORD": PASSWORD},
    )["AuthenticationResult"]
    return {
        "pool": pool_id,
        "client": client_id,
        "id": tokens["IdToken"],
        "access": tokens["AccessToken"],
    }


def get(app: Canaria, path: str, token: str | None) -> tuple[int, Any]:
    status, _, body = app.http("GET", path, headers={"Authorization": token} if token else {})
    return status, json.loads(body)


def claims_of(token: str) -> dict[str, Any]:
    payload = token.split(".")[1]
    return dict(json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))))


def test_the_pool_and_client_exist_under_the_ids_the_template_gave(
    app: Canaria, pool: dict[str, str]
) -> None:
    status, body = get(app, "/Prod/me", pool["id"])
    assert status == 200, body
    assert body["env"] == {
        "USER_POOL_ID": pool["pool"],
        "CLIENT_ID": pool["client"],
        "POOL_ARN": f"arn:aws:cognito-idp:us-east-1:123456789012:userpool/{pool['pool']}",
    }
    admin = app.env_client("cognito-idp", "AWS_ENDPOINT_URL_COGNITO_IDENTITY_PROVIDER")
    groups = admin.list_groups(UserPoolId=pool["pool"])["Groups"]
    assert [(g["GroupName"], g["Precedence"]) for g in groups] == [("admins", 1)]
    # canaria names them where a test looks for them: `up`, `canaria status`, GET /status
    assert app.status()["user_pools"] == [
        {
            "logical_id": "Users",
            "name": "notes-users",
            "id": pool["pool"],
            "clients": [{"logical_id": "WebClient", "name": "app-WebClient", "id": pool["client"]}],
            "triggers": {},
        }
    ]
    line = f"Users: {pool['pool']}  (clients WebClient: {pool['client']})"
    assert f"user pool  {line}" in app.output()
    shown = " ".join(app.cli("status").stdout.split())  # as wide as the terminal: wrapped
    assert " ".join(f"user pool {line}".split()) in shown
    described = admin.describe_user_pool(UserPoolId=pool["pool"])["UserPool"]
    assert described["Policies"]["PasswordPolicy"]["MinimumLength"] == 10  # typed as the API


def test_the_pools_password_policy_applies(app: Canaria, pool: dict[str, str]) -> None:
    admin = app.env_client("cognito-idp", "AWS_ENDPOINT_URL_COGNITO_IDENTITY_PROVIDER")
    with pytest.raises(admin.exceptions.InvalidPasswordException):
        admin.sign_up(ClientId=pool["client"], Username="bob@example.com", Password="short")


def test_an_id_token_opens_the_rest_api_with_its_claims(app: Canaria, pool: dict[str, str]) -> None:
    status, body = get(app, "/Prod/me", pool["id"])
    assert status == 200, body
    claims = body["claims"]
    assert claims["iss"] == f"https://cognito-idp.us-east-1.amazonaws.com/{pool['pool']}"
    assert claims["aud"] == pool["client"]
    assert claims["email"] == "ann@example.com"
    assert claims["custom:tenant"] == "acme"
    assert claims["cognito:groups"] == "[admins]"  # as API Gateway passes a list: text
    assert claims["token_use"] == "id"
    assert body["status"] == "CONFIRMED"
    assert get(app, "/Prod/me", "Bearer " + pool["id"])[0] == 200


def test_the_rest_api_takes_an_access_token_only_where_the_route_names_scopes(
    app: Canaria, pool: dict[str, str]
) -> None:
    assert get(app, "/Prod/me", pool["access"]) == (401, {"message": "Unauthorized"})
    assert get(app, "/Prod/scoped", pool["id"]) == (401, {"message": "Unauthorized"})
    status, body = get(app, "/Prod/scoped", pool["access"])
    assert status == 200, body
    assert body["claims"]["scope"] == "aws.cognito.signin.user.admin"


def test_the_http_apis_jwt_authorizer_checks_issuer_and_audience(
    app: Canaria, pool: dict[str, str]
) -> None:
    status, body = get(app, "/me", pool["id"])
    assert status == 200, body
    assert body["claims"]["email"] == "ann@example.com"
    assert get(app, "/me", None) == (401, {"message": "Unauthorized"})


def test_a_token_the_pool_did_not_sign_is_refused(app: Canaria, pool: dict[str, str]) -> None:
    header, _, signature = pool["id"].split(".")
    claims = claims_of(pool["id"]) | {"email": "mallory@example.com"}
    edited = base64.urlsafe_b64encode(json.dumps(claims).encode()).decode().rstrip("=")
    for path in ("/Prod/me", "/me"):
        assert get(app, path, f"{header}.{edited}.{signature}")[0] == 401
    # well formed, the pool's issuer and audience, the engine's key id: another key's signature
    other = RSAKey.generate_key(2048, parameters={"kid": "dummy"})
    forged = jwt.encode({"alg": "RS256", "kid": "dummy"}, claims, other)
    for path in ("/Prod/me", "/me"):
        assert get(app, path, forged) == (401, {"message": "Unauthorized"})


def test_functions_call_the_pool_with_their_sdks(app: Canaria, pool: dict[str, str]) -> None:
    result = app.aws("lambda").invoke(
        FunctionName="NodeAdmin", Payload=json.dumps({"username": "ann@example.com"})
    )
    assert "FunctionError" not in result, result["Payload"].read()
    answer = json.loads(result["Payload"].read())
    assert answer == {"status": "CONFIRMED", "tenant": "acme", "groups": ["admins"]}


def test_a_token_expires_on_canarias_clock(app: Canaria, pool: dict[str, str]) -> None:
    # last: the clock stays advanced for the module
    assert get(app, "/Prod/me", pool["id"])[0] == 200
    app.advance(3700)  # a Cognito token lives one hour
    assert get(app, "/Prod/me", pool["id"]) == (401, {"message": "Unauthorized"})
    assert get(app, "/me", pool["id"]) == (401, {"message": "Unauthorized"})
