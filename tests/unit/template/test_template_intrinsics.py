"""Intrinsic functions, pseudo parameters, conditions and mappings, resolved to values."""

from __future__ import annotations

import base64
import textwrap
from pathlib import Path

from canaria.template import load
from tests.unit.template.template_helpers import fails, function, line_of, resources, write


def env_of(
    tmp_path: Path, variables: str, before: str = "", extra_resources: str = ""
) -> dict[str, str]:
    extra = "AutoPublishAlias: live\nEnvironment:\n  Variables:\n" + "".join(
        f"    {line}\n" for line in textwrap.dedent(variables).strip().splitlines()
    )
    path = write(tmp_path, before + resources(function(extra=extra), extra_resources))
    return dict(load(path).functions["Fn"].config.environment)


def test_pseudo_parameters(tmp_path: Path) -> None:
    env = env_of(
        tmp_path,
        """
        REGION: !Ref AWS::Region
        ACCOUNT: !Ref AWS::AccountId
        STACK: !Ref AWS::StackName
        PARTITION: !Ref AWS::Partition
        SUFFIX: !Ref AWS::URLSuffix
        SUB: !Sub "${AWS::Region}/${AWS::StackName}"
        """,
    )
    assert env == {
        "REGION": "us-east-1",
        "ACCOUNT": "123456789012",
        "STACK": "app",
        "PARTITION": "aws",
        "SUFFIX": "amazonaws.com",
        "SUB": "us-east-1/app",
    }


def test_no_value_removes_the_key(tmp_path: Path) -> None:
    env = env_of(tmp_path, "A: !Ref AWS::NoValue\nB: kept\n")
    assert env == {"B": "kept"}


def test_sub_forms(tmp_path: Path) -> None:
    env = env_of(
        tmp_path,
        """
        PLAIN: !Sub "fn=${Fn} arn=${Fn.Arn} lit=${!Literal}"
        VARS: !Sub ["${A}-${B}", {A: one, B: !Ref Fn}]
        VERSION: !Sub "${Fn.Version}"
        """,
    )
    assert env["PLAIN"] == (
        "fn=Fn arn=arn:aws:lambda:us-east-1:123456789012:function:Fn lit=${Literal}"
    )
    assert env["VARS"] == "one-Fn"
    assert (
        env["VERSION"] == "arn:aws:lambda:us-east-1:123456789012:function:Fn:{{canaria:version:Fn}}"
    )


def test_list_functions(tmp_path: Path) -> None:
    env = env_of(
        tmp_path,
        """
        JOIN: !Join ["-", [a, !Ref AWS::Region, 3]]
        SELECT: !Select [1, [x, y, z]]
        SPLIT: !Select [2, !Split [",", "a,b,c"]]
        AZ: !Select [0, !GetAZs ""]
        B64: !Base64 hello
        """,
    )
    assert env["JOIN"] == "a-us-east-1-3"
    assert env["SELECT"] == "y"
    assert env["SPLIT"] == "c"
    assert env["AZ"] == "us-east-1a"
    assert base64.b64decode(env["B64"]) == b"hello"


def test_long_forms(tmp_path: Path) -> None:
    env = env_of(
        tmp_path,
        """
        REF:
          Ref: AWS::Region
        ATT:
          Fn::GetAtt: [Fn, Arn]
        JOIN:
          Fn::Join: ["", [a, b]]
        """,
    )
    assert env == {
        "REF": "us-east-1",
        "ATT": "arn:aws:lambda:us-east-1:123456789012:function:Fn",
        "JOIN": "ab",
    }


def test_select_out_of_range(tmp_path: Path) -> None:
    path = write(
        tmp_path, resources(function(extra="AutoPublishCodeSha256: !Select [5, [a, b]]\n"))
    )
    err = fails(path)
    assert "past the end" in err.message and err.allowed == "0 to 1"
    assert err.prop == "Resources.Fn.Properties.AutoPublishCodeSha256" and err.line == line_of(
        path, "Select"
    )


def test_conditions_and_if(tmp_path: Path) -> None:
    before = """\
Parameters:
  Env:
    Type: String
    Default: prod
Conditions:
  IsProd: !Equals [!Ref Env, prod]
  IsDev: !Not [!Condition IsProd]
  Both: !And [!Condition IsProd, !Equals ["1", 1]]
  Either: !Or [!Condition IsDev, !Condition Both]
"""
    env = env_of(
        tmp_path,
        """
        PROD: !If [IsProd, yes-prod, no]
        DEV: !If [IsDev, yes-dev, !Ref AWS::NoValue]
        BOTH: !If [Both, both, neither]
        EITHER: !If [Either, either, none]
        """,
        before=before,
    )
    assert env == {"PROD": "yes-prod", "BOTH": "both", "EITHER": "either"}


def test_resource_condition_leaves_resource_out(tmp_path: Path) -> None:
    body = """\
Parameters:
  Extra:
    Type: String
    Default: "false"
Conditions:
  WithExtra: !Equals [!Ref Extra, "true"]
"""
    extra = function("Extra").replace("  Type:", "  Condition: WithExtra\n    Type:", 1)
    path = write(tmp_path, body + resources(function(), extra))
    assert set(load(path).functions) == {"Fn"}
    assert set(load(path, {"Extra": "true"}).functions) == {"Fn", "Extra"}


def test_ref_to_resource_with_false_condition(tmp_path: Path) -> None:
    body = "Conditions:\n  Never: !Equals [a, b]\n"
    extra = function("Extra").replace("  Type:", "  Condition: Never\n    Type:", 1)
    fn = function(extra="Environment:\n  Variables:\n    X: !Ref Extra\n")
    err = fails(write(tmp_path, body + resources(fn, extra)))
    assert "not created" in err.message and "Never" in err.message


def test_unknown_condition(tmp_path: Path) -> None:
    body = "Conditions:\n  A: !Equals [a, a]\n"
    path = write(
        tmp_path, body + resources(function(extra="AutoPublishCodeSha256: !If [B, x, y]\n"))
    )
    err = fails(path)
    assert "unknown condition 'B'" in err.message and err.allowed == "A"


def test_condition_loop(tmp_path: Path) -> None:
    body = "Conditions:\n  A: !Condition B\n  B: !Not [!Condition A]\n"
    err = fails(write(tmp_path, body + resources(function())))
    assert "loop" in err.message


def test_find_in_map(tmp_path: Path) -> None:
    before = """\
Mappings:
  Sizes:
    prod: {Memory: 1024}
    dev: {Memory: 256}
Parameters:
  Env: {Type: String, Default: dev}
"""
    path = write(
        tmp_path,
        before + resources(function(extra="MemorySize: !FindInMap [Sizes, !Ref Env, Memory]\n")),
    )
    assert load(path).functions["Fn"].config.memory_mb == 256
    assert load(path, {"Env": "prod"}).functions["Fn"].config.memory_mb == 1024
    err = fails(path, overrides={"Env": "qa"})
    assert "no top-level key 'qa'" in err.message and err.allowed == "dev, prod"


def test_unknown_ref_names_property_and_known_names(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "Parameters:\n  P: {Type: String, Default: x}\n"
        + resources(function(extra="Environment:\n  Variables:\n    X: !Ref Nope\n")),
    )
    err = fails(path)
    assert err.prop == "Resources.Fn.Properties.Environment.Variables.X"
    assert err.line == line_of(path, "!Ref Nope")
    assert err.allowed is not None and "P" in err.allowed and "Fn" in err.allowed
    assert "template.yaml" in str(err)


def test_getatt_unknown_resource_and_attribute(tmp_path: Path) -> None:
    path = write(tmp_path, resources(function(extra="AutoPublishCodeSha256: !GetAtt Nope.Arn\n")))
    assert "not a resource" in fails(path).message
    path = write(tmp_path, resources(function(extra="AutoPublishCodeSha256: !GetAtt Fn.Nope\n")))
    err = fails(path)
    assert "no attribute 'Nope'" in err.message and err.allowed == "Arn"


def test_import_value_is_refused(tmp_path: Path) -> None:
    path = write(
        tmp_path, resources(function(extra="AutoPublishCodeSha256: !ImportValue Shared\n"))
    )
    err = fails(path)
    assert "Fn::ImportValue is not supported" in err.message and "parameter" in err.message


def test_unknown_intrinsic(tmp_path: Path) -> None:
    path = write(tmp_path, resources(function(extra="AutoPublishCodeSha256:\n  Fn::Magic: x\n")))
    err = fails(path)
    assert "unknown intrinsic function Fn::Magic" in err.message
    assert err.allowed is not None and "Fn::Sub" in err.allowed


def test_refs_to_other_resources(tmp_path: Path) -> None:
    others = """\
  Table:
    Type: AWS::DynamoDB::Table
    Properties:
      TableName: !Sub "${AWS::StackName}-things"
      BillingMode: PAY_PER_REQUEST
      AttributeDefinitions: [{AttributeName: id, AttributeType: S}]
      KeySchema: [{AttributeName: id, KeyType: HASH}]
      StreamSpecification: {StreamViewType: NEW_IMAGE}
  Simple:
    Type: AWS::Serverless::SimpleTable
  Machine:
    Type: AWS::Serverless::StateMachine
    Properties:
      Definition: {StartAt: A, States: {A: {Type: Succeed}}}
  Flow:
    Type: AWS::StepFunctions::StateMachine
    Properties:
      StateMachineName: flow
      Definition: {StartAt: A, States: {A: {Type: Succeed}}}
  Rest:
    Type: AWS::Serverless::Api
    Properties: {StageName: Prod}
  Http:
    Type: AWS::Serverless::HttpApi
  Topic:
    Type: AWS::SNS::Topic
  Queue:
    Type: AWS::SQS::Queue
  Role:
    Type: AWS::IAM::Role
"""
    env = env_of(
        tmp_path,
        """
        TABLE: !Ref Table
        TABLE_ARN: !GetAtt Table.Arn
        STREAM: !GetAtt Table.StreamArn
        SIMPLE: !Ref Simple
        MACHINE: !Ref Machine
        MACHINE_NAME: !GetAtt Machine.Name
        FLOW: !GetAtt Flow.Arn
        REST: !Ref Rest
        REST_STAGE: !Ref Rest.Stage
        ROOT: !GetAtt Rest.RootResourceId
        HTTP: !GetAtt Http.ApiEndpoint
        TOPIC: !Ref Topic
        QUEUE: !Ref Queue
        QUEUE_ARN: !GetAtt Queue.Arn
        ROLE_ARN: !GetAtt Role.Arn
        ALIAS: !Ref Fn.Alias
        IMPLICIT_ROLE: !GetAtt FnRole.Arn
        """,
        extra_resources=others,
    ).copy()
    assert env["TABLE"] == "app-things"
    assert env["TABLE_ARN"] == "arn:aws:dynamodb:us-east-1:123456789012:table/app-things"
    assert env["STREAM"].startswith(env["TABLE_ARN"] + "/stream/")
    assert env["SIMPLE"] == "app-Simple"
    assert env["MACHINE"] == "arn:aws:states:us-east-1:123456789012:stateMachine:Machine"
    assert env["MACHINE_NAME"] == "Machine"
    assert env["FLOW"] == "arn:aws:states:us-east-1:123456789012:stateMachine:flow"
    assert env["REST"] == "rest"
    assert env["REST_STAGE"] == "Prod"  # the stage SAM generates, whose Ref is its name
    assert env["ROOT"] == "rest-root"
    assert env["HTTP"] == "https://http.execute-api.us-east-1.amazonaws.com"
    # served by the services engine: CloudFormation's default names, made deterministic
    assert env["TOPIC"] == "arn:aws:sns:us-east-1:123456789012:app-Topic"
    assert env["QUEUE"] == "https://sqs.us-east-1.amazonaws.com/123456789012/app-Queue"
    assert env["QUEUE_ARN"] == "arn:aws:sqs:us-east-1:123456789012:app-Queue"
    assert env["ROLE_ARN"] == "arn:aws:iam::123456789012:role/Role"
    assert env["ALIAS"] == "arn:aws:lambda:us-east-1:123456789012:function:Fn:live"
    assert env["IMPLICIT_ROLE"] == "arn:aws:iam::123456789012:role/FnRole"


def test_version_ref_needs_auto_publish_alias(tmp_path: Path) -> None:
    other = function("Other", extra="Environment:\n  Variables:\n    V: !Ref Fn.Version\n")
    err = fails(write(tmp_path, resources(function(), other)))
    assert "AutoPublishAlias" in err.message
    assert err.prop == "Resources.Other.Properties.Environment.Variables.V"
