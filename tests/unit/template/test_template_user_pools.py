"""``AWS::Cognito::UserPool``, ``UserPoolClient`` and ``UserPoolGroup``: the requests that
create them, the ids ``!Ref`` gives (computed as the services engine names what it
creates), and what is refused or only warned about."""

from __future__ import annotations

from pathlib import Path

from moto.cognitoidp.utils import generate_id

from canaria.models import UserPoolClientSpec, UserPoolGroupSpec, UserPoolSpec
from canaria.template import load
from tests.unit.template.template_helpers import fails, function, resources, write

POOL = """\
  Users:
    Type: AWS::Cognito::UserPool
    Properties:
      UserPoolName: !Sub "${AWS::StackName}-users"
      UsernameAttributes: [email]
      Policies:
        PasswordPolicy: {MinimumLength: "12", RequireSymbols: "false"}
      Schema:
        - {Name: tenant, AttributeDataType: String, Mutable: "true",
           StringAttributeConstraints: {MinLength: 1, MaxLength: 32}}
"""
CLIENT = """\
  Web:
    Type: AWS::Cognito::UserPoolClient
    Properties:
      UserPoolId: !Ref Users
      ClientName: web
      ExplicitAuthFlows: [ALLOW_USER_PASSWORD_AUTH]
      IdTokenValidity: "30"
"""
GROUP = """\
  Admins:
    Type: AWS::Cognito::UserPoolGroup
    Properties: {UserPoolId: !Ref Users, Precedence: "2"}
"""
ENV = """\
Environment:
  Variables:
    POOL: !Ref Users
    POOL_ARN: !GetAtt Users.Arn
    ISSUER: !GetAtt Users.ProviderURL
    PROVIDER: !GetAtt Users.ProviderName
    CLIENT: !Ref Web
    CLIENT_ID: !GetAtt Web.ClientId
    GROUP: !Ref Admins
"""


def engine_pool_id(name: str, request: dict[str, object]) -> str:
    """The id moto's HASH strategy gives a pool created by ``request``."""
    return f"us-east-1_{generate_id('HASH', 'us-east-1', name, request)}"[:55]


def test_a_pool_its_client_and_group_are_the_requests_that_create_them(tmp_path: Path) -> None:
    app = load(write(tmp_path, resources(POOL, CLIENT, GROUP, function("Fn", ENV))))
    pool = app.services["Users"]
    assert isinstance(pool, UserPoolSpec)
    assert pool.name == "app-users"  # the stack is named after the directory
    # typed as the API types them: CloudFormation's strings become integers and booleans,
    # and a schema's string constraints strings
    assert pool.settings == {
        "Policies": {"PasswordPolicy": {"MinimumLength": 12, "RequireSymbols": False}},
        "Schema": [
            {
                "Name": "tenant",
                "AttributeDataType": "String",
                "Mutable": True,
                "StringAttributeConstraints": {"MinLength": "1", "MaxLength": "32"},
            }
        ],
        "UsernameAttributes": ["email"],
    }
    assert pool.id == engine_pool_id("app-users", {"PoolName": "app-users", **pool.settings})

    client = app.services["Web"]
    assert isinstance(client, UserPoolClientSpec)
    assert (client.pool_id, client.name, client.generate_secret) == (pool.id, "web", False)
    assert client.settings == {
        "ExplicitAuthFlows": ["ALLOW_USER_PASSWORD_AUTH"],
        "IdTokenValidity": 30,
    }
    request = {
        "UserPoolId": pool.id,
        "GenerateSecret": False,
        "ClientName": "web",
        **client.settings,
    }
    assert client.id == generate_id("HASH", pool.id, False, request)[:26]

    group = app.services["Admins"]
    assert group == UserPoolGroupSpec("Admins", pool.id, "app-Admins", precedence=2)
    # the pool is created before what belongs to it
    assert list(app.services).index("Users") < list(app.services).index("Web")

    env = app.functions["Fn"].config.environment
    assert env == {
        "POOL": pool.id,
        "POOL_ARN": f"arn:aws:cognito-idp:us-east-1:123456789012:userpool/{pool.id}",
        "ISSUER": f"https://cognito-idp.us-east-1.amazonaws.com/{pool.id}",
        "PROVIDER": f"cognito-idp.us-east-1.amazonaws.com/{pool.id}",
        "CLIENT": client.id,
        "CLIENT_ID": client.id,
        "GROUP": "app-Admins",
    }
    assert not any("Cognito" in w for w in app.warnings)


def test_the_ids_are_the_same_at_every_load_and_change_with_the_settings(tmp_path: Path) -> None:
    path = write(tmp_path, resources(POOL, CLIENT))
    first, again = load(path), load(path)
    assert first.services == again.services
    changed = load(write(tmp_path, resources(POOL.replace('"12"', '"14"'), CLIENT)))
    assert changed.services["Users"].id != first.services["Users"].id  # type: ignore[union-attr]
    # a client of the new pool is a new client
    assert changed.services["Web"].id != first.services["Web"].id  # type: ignore[union-attr]


def test_a_pool_without_a_name_is_named_after_the_stack(tmp_path: Path) -> None:
    body = resources("  Users:\n    Type: AWS::Cognito::UserPool\n")
    pool = load(write(tmp_path, body)).services["Users"]
    assert isinstance(pool, UserPoolSpec)
    assert pool.name == "app-Users"
    assert pool.id.startswith("us-east-1_") and len(pool.id) == 55


def test_triggers_come_from_lambda_config_and_cognito_events(tmp_path: Path) -> None:
    body = resources(
        POOL
        + "      LambdaConfig:\n"
        + "        PostConfirmation: !GetAtt Welcome.Arn\n"
        + "        CustomMessage: !GetAtt Welcome.Arn\n"
        + "        CustomSMSSender: {LambdaArn: !GetAtt Welcome.Arn, LambdaVersion: V1_0}\n"
        + "        PreAuthentication: arn:aws:lambda:us-east-1:123456789012:function:elsewhere\n",
        function("Welcome"),
        function(
            "Gate",
            "Events:\n  Pool:\n    Type: Cognito\n    Properties:\n"
            "      UserPool: !Ref Users\n      Trigger: [PreSignUp, PostAuthentication]\n",
        ),
    )
    app = load(write(tmp_path, body))
    pool = app.services["Users"]
    assert isinstance(pool, UserPoolSpec)
    assert pool.triggers == {
        "PostConfirmation": "Welcome",
        "PreSignUp": "Gate",
        "PostAuthentication": "Gate",
    }
    assert any("CustomMessage trigger is not invoked locally" in w for w in app.warnings)
    assert any("CustomSMSSender trigger is not invoked locally" in w for w in app.warnings)
    assert any("PreAuthentication trigger" in w and "elsewhere" in w for w in app.warnings)
    assert not any("is not triggered by canaria" in w for w in app.warnings)  # the event runs


def test_a_trigger_defined_twice_is_refused(tmp_path: Path) -> None:
    body = resources(
        POOL + "      LambdaConfig: {PreSignUp: !GetAtt Gate.Arn}\n",
        function(
            "Gate",
            "Events:\n  Pool:\n    Type: Cognito\n    Properties:\n"
            "      UserPool: !Ref Users\n      Trigger: PreSignUp\n",
        ),
    )
    err = fails(write(tmp_path, body))
    assert "the Cognito trigger PreSignUp of Users is defined twice" in err.message


def test_a_client_secret_is_a_placeholder_with_a_warning(tmp_path: Path) -> None:
    body = resources(
        POOL,
        CLIENT + "      GenerateSecret: true\n",
        function("Fn", "Environment:\n  Variables:\n    SECRET: !GetAtt Web.ClientSecret\n"),
    )
    app = load(write(tmp_path, body))
    assert any("DescribeUserPoolClient" in w for w in app.warnings)
    assert app.functions["Fn"].config.environment["SECRET"] == "Web.ClientSecret"


def test_what_cloudformation_refuses_is_refused_where_it_is_written(tmp_path: Path) -> None:
    err = fails(write(tmp_path, resources(POOL.replace("UsernameAttributes", "UsernameAttribute"))))
    assert "UsernameAttribute" in err.message and "UsernameAttributes" in (err.allowed or "")

    err = fails(write(tmp_path, resources(POOL.replace("[email]", "[nickname]"))))
    assert "unknown UsernameAttributes value 'nickname'" in err.message
    assert err.prop == "Resources.Users.Properties.UsernameAttributes"

    both = POOL.replace("[email]", "[email]\n      AliasAttributes: [preferred_username]")
    assert "not both" in fails(write(tmp_path, resources(both))).message

    err = fails(write(tmp_path, resources(POOL.replace('"12"', "twelve"))))
    assert "expected an integer" in err.message
    assert err.prop == "Resources.Users.Properties.Policies.PasswordPolicy.MinimumLength"

    orphan = "  Web:\n    Type: AWS::Cognito::UserPoolClient\n    Properties: {ClientName: web}\n"
    assert "UserPoolId" in fails(write(tmp_path, resources(orphan))).message

    spaced = GROUP.replace("Precedence", 'GroupName: "two words", Precedence')
    err = fails(write(tmp_path, resources(POOL, spaced)))
    assert "'two words' is not a valid group name" in err.message


def test_an_attribute_a_client_does_not_have_is_refused(tmp_path: Path) -> None:
    env = "Environment:\n  Variables:\n    X: !GetAtt Web.Secret\n"
    err = fails(write(tmp_path, resources(POOL, CLIENT, function("Fn", env))))
    assert "has no attribute 'Secret'" in err.message
    assert "ClientSecret" in (err.allowed or "")


def test_token_generation_runs_its_version_1_event_only(tmp_path: Path) -> None:
    def config(version: str) -> str:
        return (
            POOL
            + "      LambdaConfig:\n        PreTokenGenerationConfig:\n"
            + f"          LambdaArn: !GetAtt Fn.Arn\n          LambdaVersion: {version}\n"
        )

    app = load(write(tmp_path, resources(config("V1_0"), function("Fn"))))
    assert app.services["Users"].triggers == {"PreTokenGeneration": "Fn"}  # type: ignore[union-attr]
    app = load(write(tmp_path, resources(config("V2_0"), function("Fn"))))
    assert app.services["Users"].triggers == {}  # type: ignore[union-attr]
    assert any("V2_0 event" in w and "not run locally" in w for w in app.warnings)


def test_a_client_of_a_pool_outside_the_template_is_skipped_with_a_warning(
    tmp_path: Path,
) -> None:
    body = resources(CLIENT.replace("!Ref Users", "us-east-1_AbCdEf123"))
    app = load(write(tmp_path, body))
    assert "Web" not in app.services
    assert any("us-east-1_AbCdEf123 is not one of the template's" in w for w in app.warnings)
