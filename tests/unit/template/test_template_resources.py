"""Alarms, tables, state machines, skipped resources, and the template's outline."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from canaria.template import load
from tests.unit.template.template_helpers import (
    HEAD,
    fails,
    function,
    line_of,
    resources,
    write,
)


def alarm(props: str) -> str:
    base = {
        "Namespace": "AWS/Lambda",
        "MetricName": "Errors",
        "Statistic": "Sum",
        "Period": "60",
        "EvaluationPeriods": "1",
        "Threshold": "0",
        "ComparisonOperator": "GreaterThanThreshold",
    }
    lines = dict(base)
    for line in props.strip().splitlines():
        key, _, value = line.partition(": ")
        if value == "DROP":
            lines.pop(key, None)
        else:
            lines[key] = value
    return "  Alarm:\n    Type: AWS::CloudWatch::Alarm\n    Properties:\n" + "".join(
        f"      {k}: {v}\n" for k, v in lines.items()
    )


@pytest.mark.parametrize(
    ("props", "prop", "words", "allowed"),
    [
        ("ComparisonOperator: Bigger", "ComparisonOperator", "not supported", None),
        ("Statistic: Median", "Statistic", "unknown statistic", None),
        ("Statistic: DROP\nExtendedStatistic: q99", "ExtendedStatistic", "extended", None),
        ("ExtendedStatistic: p99", "", "exactly one", None),
        ("Period: 45", "Period", "not valid", None),
        ("TreatMissingData: sometimes", "TreatMissingData", "unknown", None),
        ("Threshold: DROP", "", "Threshold is required", None),
        ("DatapointsToAlarm: 3", "DatapointsToAlarm", "out of range", "an integer from 1 to 1"),
    ],
)
def test_bad_alarms(tmp_path: Path, props: str, prop: str, words: str, allowed: str | None) -> None:
    path = write(tmp_path, resources(function(), alarm(props)))
    err = fails(path)
    assert words in err.message
    assert err.prop == "Resources.Alarm.Properties" + (f".{prop}" if prop else "")
    if allowed is not None:
        assert err.allowed == allowed
    first = props.split(":")[0]
    if prop and "DROP" not in props and first in prop:
        assert err.line == line_of(path, first + ":")


@pytest.mark.parametrize(
    ("props", "words"),
    [
        ("MetricName: Error", "no metric 'Error' (the Lambda metric is Errors, plural)"),
        ("Dimensions: [{Name: Alias, Value: live}]", "no dimension 'Alias' (an alias is Resource"),
        ("Dimensions: [{Name: Region, Value: x}]", "Lambda's are FunctionName, Resource"),
    ],
)
def test_alarm_on_what_lambda_does_not_publish_is_skipped(
    tmp_path: Path, props: str, words: str
) -> None:
    """CloudWatch accepts any metric name and dimension (SAM's own integration template has
    ``MetricName: Error`` and an ``Alias`` dimension); such an alarm never fires, on AWS
    either: a warning that says so, not an error."""
    preference = "DeploymentPreference: {Type: AllAtOnce, Alarms: [!Ref Alarm]}\n"
    fn = function(extra="AutoPublishAlias: live\n" + preference)
    app = load(write(tmp_path, resources(fn, alarm(props))))
    assert app.alarms == {}
    watched = app.functions["Fn"].deployment_preference
    assert watched is not None and watched.alarms == ()
    [warning] = [w for w in app.warnings if "Resources.Alarm" in w]
    assert words in warning and "never fires" in warning


def test_alarm_not_published_still_has_its_errors(tmp_path: Path) -> None:
    err = fails(write(tmp_path, resources(function(), alarm("MetricName: Error\nPeriod: 45"))))
    assert err.prop == "Resources.Alarm.Properties.Period"


def test_alarm_names_and_function_name_mapping(tmp_path: Path) -> None:
    fn = function(extra="FunctionName: physical-name\n")
    path = write(
        tmp_path,
        resources(
            fn,
            alarm(
                "Dimensions: [{Name: FunctionName, Value: physical-name}, "
                "{Name: ExecutedVersion, Value: '3'}]"
            ),
        ),
    )
    app = load(path)
    assert app.alarms["Alarm"].dimensions == {"FunctionName": "Fn", "ExecutedVersion": "3"}


def test_dynamodb_table(tmp_path: Path) -> None:
    table = """\
  Companies:
    Type: AWS::DynamoDB::Table
    Properties:
      AttributeDefinitions:
        - {AttributeName: company_id, AttributeType: S}
        - {AttributeName: name, AttributeType: S}
      KeySchema:
        - {AttributeName: company_id, KeyType: HASH}
      GlobalSecondaryIndexes:
        - IndexName: by-name
          KeySchema: [{AttributeName: name, KeyType: HASH}]
          Projection: {ProjectionType: ALL}
          ContributorInsightsSpecification: {Enabled: true}
      ProvisionedThroughput: {ReadCapacityUnits: !Ref Capacity, WriteCapacityUnits: 5}
      StreamSpecification: {StreamViewType: NEW_AND_OLD_IMAGES}
      TimeToLiveSpecification: {AttributeName: ttl, Enabled: true}
      Tags: [{Key: team, Value: core}]
"""
    params = "Parameters:\n  Capacity: {Type: Number, Default: 3}\n"
    app = load(write(tmp_path, params + resources(function(), table)))
    spec = app.tables["Companies"]
    assert spec.table_name == "app-Companies"
    assert spec.definition == {
        "TableName": "app-Companies",
        "AttributeDefinitions": [
            {"AttributeName": "company_id", "AttributeType": "S"},
            {"AttributeName": "name", "AttributeType": "S"},
        ],
        "KeySchema": [{"AttributeName": "company_id", "KeyType": "HASH"}],
        "GlobalSecondaryIndexes": [
            {
                "IndexName": "by-name",
                "KeySchema": [{"AttributeName": "name", "KeyType": "HASH"}],
                "Projection": {"ProjectionType": "ALL"},
            },
        ],
        "ProvisionedThroughput": {"ReadCapacityUnits": 3, "WriteCapacityUnits": 5},
        "StreamSpecification": {"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"},
        "Tags": [{"Key": "team", "Value": "core"}],
    }
    assert type(spec.definition["KeySchema"][0]) is dict


@pytest.mark.parametrize(
    ("props", "prop", "words"),
    [
        (
            "AttributeDefinitions: [{AttributeName: id, AttributeType: S}]\n"
            "KeySchema: [{AttributeName: pk, KeyType: HASH}]\nBillingMode: PAY_PER_REQUEST",
            "KeySchema[0].AttributeName",
            "not in AttributeDefinitions",
        ),
        (
            "AttributeDefinitions: [{AttributeName: id, AttributeType: S}]\n"
            "KeySchema: [{AttributeName: id, KeyType: HASH}]",
            "",
            "ProvisionedThroughput is required",
        ),
        (
            "AttributeDefinitions: [{AttributeName: id, AttributeType: X}]\n"
            "KeySchema: [{AttributeName: id, KeyType: HASH}]\nBillingMode: PAY_PER_REQUEST",
            "AttributeDefinitions[0].AttributeType",
            "unknown attribute type",
        ),
        ("BillingMode: PAY_PER_REQUEST", "", "KeySchema is required"),
    ],
)
def test_bad_tables(tmp_path: Path, props: str, prop: str, words: str) -> None:
    body = "  T:\n    Type: AWS::DynamoDB::Table\n    Properties:\n" + "".join(
        f"      {line}\n" for line in props.splitlines()
    )
    err = fails(write(tmp_path, resources(function(), body)))
    assert words in err.message and err.prop == "Resources.T.Properties" + (
        f".{prop}" if prop else ""
    )


def test_simple_tables(tmp_path: Path) -> None:
    tables = """\
  Plain:
    Type: AWS::Serverless::SimpleTable
  Keyed:
    Type: AWS::Serverless::SimpleTable
    Properties:
      TableName: keyed
      PrimaryKey: {Name: n, Type: Number}
      ProvisionedThroughput: {ReadCapacityUnits: 1, WriteCapacityUnits: 1}
      Tags: {team: core}
"""
    app = load(write(tmp_path, resources(function(), tables)))
    assert app.tables["Plain"].definition == {
        "TableName": "app-Plain",
        "AttributeDefinitions": [{"AttributeName": "id", "AttributeType": "S"}],
        "KeySchema": [{"AttributeName": "id", "KeyType": "HASH"}],
        "BillingMode": "PAY_PER_REQUEST",
    }
    keyed = app.tables["Keyed"]
    assert keyed.table_name == "keyed"
    assert keyed.definition["AttributeDefinitions"] == [
        {"AttributeName": "n", "AttributeType": "N"}
    ]
    assert keyed.definition["BillingMode"] == "PROVISIONED"
    assert keyed.definition["Tags"] == [{"Key": "team", "Value": "core"}]
    bad = tables.replace("Type: Number", "Type: Integer")
    err = fails(write(tmp_path, resources(function(), bad)))
    assert err.prop == "Resources.Keyed.Properties.PrimaryKey.Type"
    assert err.allowed == "String, Number, Binary"


DEFINITION = {
    "StartAt": "Call",
    "States": {"Call": {"Type": "Task", "Resource": "${FnArn}", "End": True}},
}


def test_state_machines(tmp_path: Path) -> None:
    (tmp_path / "app" / "sm").mkdir(parents=True)
    (tmp_path / "app" / "sm" / "flow.json").write_text(json.dumps(DEFINITION))
    (tmp_path / "app" / "sm" / "flow.yaml").write_text(
        "StartAt: Call\nStates:\n  Call: {Type: Task, Resource: '${FnArn}', End: true}\n"
    )
    machines = """\
  FromJson:
    Type: AWS::Serverless::StateMachine
    Properties:
      DefinitionUri: sm/flow.json
      DefinitionSubstitutions:
        FnArn: !GetAtt Fn.Arn
      Type: EXPRESS
      Policies: [LambdaInvokePolicy: {FunctionName: !Ref Fn}]
  FromYaml:
    Type: AWS::Serverless::StateMachine
    Properties:
      Name: yaml-flow
      DefinitionUri: sm/flow.yaml
      DefinitionSubstitutions: {FnArn: x}
  Inline:
    Type: AWS::Serverless::StateMachine
    Properties:
      Definition:
        StartAt: A
        States:
          A: {Type: Pass, Result: !Ref AWS::Region, End: true}
  Raw:
    Type: AWS::StepFunctions::StateMachine
    Properties:
      StateMachineName: raw
      StateMachineType: STANDARD
      DefinitionString: !Sub >-
        {"StartAt": "A", "States": {"A": {"Type": "Pass",
        "Result": "${AWS::AccountId}", "End": true}}}
      RoleArn: arn:aws:iam::123456789012:role/x
"""
    app = load(write(tmp_path, resources(function(), machines)))
    sm = app.state_machines
    arn = "arn:aws:lambda:us-east-1:123456789012:function:Fn"
    assert sm["FromJson"].name == "FromJson" and sm["FromJson"].type == "EXPRESS"
    assert sm["FromJson"].definition["States"]["Call"]["Resource"] == arn
    assert sm["FromYaml"].name == "yaml-flow" and sm["FromYaml"].type == "STANDARD"
    assert sm["FromYaml"].definition["States"]["Call"]["Resource"] == "x"
    assert type(sm["FromYaml"].definition) is dict
    assert sm["Inline"].definition["States"]["A"]["Result"] == "us-east-1"
    assert sm["Raw"].name == "raw"
    assert sm["Raw"].definition["States"]["A"]["Result"] == "123456789012"


@pytest.mark.parametrize(
    ("props", "words"),
    [
        ("DefinitionUri: missing.json", "does not exist"),
        ("DefinitionUri: {Bucket: b, Key: k}", "S3"),
        ("Definition: {States: {}}", "StartAt and States"),
        ("Definition: {StartAt: A, States: {}}\nType: FAST", "unknown state machine type"),
        ("DefinitionUri: x.json\nDefinition: {}", "exactly one definition"),
    ],
)
def test_bad_state_machines(tmp_path: Path, props: str, words: str) -> None:
    body = "  M:\n    Type: AWS::Serverless::StateMachine\n    Properties:\n" + "".join(
        f"      {line}\n" for line in props.splitlines()
    )
    err = fails(write(tmp_path, resources(function(), body)))
    assert words in err.message and err.prop is not None and err.prop.startswith("Resources.M")


def test_step_functions_s3_and_bad_json(tmp_path: Path) -> None:
    s3 = (
        "  M:\n    Type: AWS::StepFunctions::StateMachine\n    Properties:\n"
        "      DefinitionS3Location: {Bucket: b, Key: k}\n"
    )
    assert "S3" in fails(write(tmp_path, resources(function(), s3))).message
    bad = (
        "  M:\n    Type: AWS::StepFunctions::StateMachine\n    Properties:\n"
        "      DefinitionString: '{nope'\n"
    )
    err = fails(write(tmp_path, resources(function(), bad)))
    assert "not valid JSON" in err.message and err.prop == "Resources.M.Properties.DefinitionString"


# ---- skipped resources and the outline ---------------------------------------------------


def test_skipped_resources_warn(tmp_path: Path) -> None:
    others = """\
  Stream:
    Type: AWS::SES::EmailIdentity
    Properties: {EmailIdentity: !ImportValue not-resolved-because-skipped}
  Role:
    Type: AWS::IAM::Role
  Perm:
    Type: AWS::Lambda::Permission
  Custom:
    Type: Custom::Thing
  Layer:
    Type: AWS::Lambda::LayerVersion
    Properties: {Content: {S3Bucket: b, S3Key: k}}
"""
    app = load(
        write(tmp_path, resources(function(), others) + "Outputs:\n  X:\n    Value: !Ref Fn\n")
    )
    assert [(s.logical_id, s.type) for s in app.skipped] == [
        ("Stream", "AWS::SES::EmailIdentity"),
        ("Role", "AWS::IAM::Role"),
        ("Perm", "AWS::Lambda::Permission"),
        ("Custom", "Custom::Thing"),
        ("Layer", "AWS::Lambda::LayerVersion"),
    ]
    assert all(s.reason for s in app.skipped)
    assert len(app.warnings) == 5 and "Resources.Stream" in app.warnings[0]


def test_unknown_serverless_type(tmp_path: Path) -> None:
    path = write(
        tmp_path, resources(function().replace("Serverless::Function", "Serverless::Functon"))
    )
    err = fails(path)
    assert err.prop == "Resources.Fn.Type" and err.line == line_of(path, "Functon")
    assert err.allowed is not None and "AWS::Serverless::Function" in err.allowed


def test_resource_without_type(tmp_path: Path) -> None:
    err = fails(write(tmp_path, "Resources:\n  Thing:\n    Properties: {}\n"))
    assert "no Type" in err.message and err.prop == "Resources.Thing"
    assert err.allowed is not None and "AWS::Serverless::Function" in err.allowed


def test_not_a_type(tmp_path: Path) -> None:
    err = fails(write(tmp_path, "Resources:\n  Thing:\n    Type: Lambda\n"))
    assert err.prop == "Resources.Thing.Type"


@pytest.mark.parametrize(
    ("head", "words"),
    [
        ("Transform: AWS::LanguageExtensions\n", "needs the SAM transform"),
        ("Transform: [AWS::Serverless-2016-10-31, AWS::Include]\n", "not supported"),
        ("", "needs the SAM transform"),
    ],
)
def test_transforms(tmp_path: Path, head: str, words: str) -> None:
    err = fails(write(tmp_path, resources(function()), head=head))
    assert (
        words in err.message
        and err.allowed is not None
        and "AWS::Serverless-2016-10-31" in err.allowed
    )


def test_unknown_section_and_attribute(tmp_path: Path) -> None:
    err = fails(write(tmp_path, "Resource:\n  X: {}\n"))
    assert err.prop == "Resource" and err.allowed is not None and "Resources" in err.allowed
    err = fails(
        write(tmp_path, resources(function().replace("  Type:", "  Typo: 1\n    Type:", 1)))
    )
    assert err.prop == "Resources.Fn.Typo"


def test_a_resource_description_is_accepted(tmp_path: Path) -> None:
    # CloudFormation ignores it; CodeStar's templates put one on every resource
    described = function().replace("  Type:", "  Description: the function\n    Type:", 1)
    assert "Fn" in load(write(tmp_path, resources(described))).functions


def test_no_resources(tmp_path: Path) -> None:
    assert "no Resources" in fails(write(tmp_path, "Description: x\n")).message


def test_template_path_and_parameters(tmp_path: Path) -> None:
    path = write(tmp_path, "Parameters:\n  P: {Type: String, Default: v}\n" + resources(function()))
    app = load(path)
    assert app.template_path == str(Path(path).resolve()) and app.parameters == {"P": "v"}
    assert HEAD.startswith("Transform")


def test_resource_attributes_are_cloudformations(tmp_path: Path) -> None:
    """A SAM property written beside ``Properties`` is refused at its line; what
    CloudFormation accepts without documenting it (``Description``, a custom resource's
    ``Version: "1.0"`` from AWS's early examples) is not."""
    topic = "  T:\n    Type: AWS::SNS::Topic\n    {attribute}\n"
    ok = write(tmp_path, "Resources:\n" + topic.format(attribute='Version: "1.0"'))
    assert "T" in load(ok).services
    bad = write(tmp_path, "Resources:\n" + topic.format(attribute="OpenApiVersion: 3.0.1"))
    err = fails(bad)
    assert "unknown resource attribute 'OpenApiVersion'" in err.message
    assert err.line == line_of(bad, "OpenApiVersion")
