"""The stack's ``Outputs``, parameters and description, as ``DescribeStacks`` gives them."""

from __future__ import annotations

from pathlib import Path

from canaria.models import StackOutput
from canaria.models.arns import function_url
from canaria.template import load
from canaria.template.versions import with_versions
from tests.unit.template.template_helpers import fails, function, line_of, resources, write

API_FN = function(
    "Fn",
    """\
    AutoPublishAlias: live
    FunctionUrlConfig: {AuthType: NONE}
    Events:
      Get: {Type: Api, Properties: {Path: /hello, Method: get}}
    """,
)
TABLE = """\
  Table:
    Type: AWS::DynamoDB::Table
    Properties:
      AttributeDefinitions: [{AttributeName: id, AttributeType: S}]
      KeySchema: [{AttributeName: id, KeyType: HASH}]
      BillingMode: PAY_PER_REQUEST
"""


def test_outputs_are_resolved_as_cloudformation_gives_them(tmp_path: Path) -> None:
    body = (
        "Description: the hello app\n"
        "Parameters:\n"
        "  Env: {Type: String, Default: test, AllowedValues: [test, prod]}\n"
        "  Secret: {Type: String, Default: hunter2, NoEcho: true}\n"
        "Conditions:\n"
        "  IsProd: !Equals [!Ref Env, prod]\n"
        + resources(API_FN, TABLE)
        + """\
Outputs:
  Api:
    Description: the API's URL
    Value: !Sub "https://${ServerlessRestApi}.execute-api.${AWS::Region}.amazonaws.com/Prod/hello"
    Export: {Name: !Sub "${AWS::StackName}-api"}
  FunctionArn: {Value: !GetAtt Fn.Arn}
  TableName: {Value: !Ref Table}
  Url: {Value: !GetAtt FnUrl.FunctionUrl}
  Version: {Value: !Ref Fn.Version}
  ProdOnly: {Condition: IsProd, Value: prod}
  Port: {Value: 8080}
"""
    )
    app = load(write(tmp_path, body))
    stack = app.stack
    assert stack is not None and stack.name == "app" and stack.description == "the hello app"
    assert stack.parameters == (("Env", "test"), ("Secret", "****"))
    outputs = {o.key: o for o in stack.outputs}
    assert outputs["Api"] == StackOutput(
        "Api",
        "https://serverlessrestapi.execute-api.us-east-1.amazonaws.com/Prod/hello",
        "the API's URL",
        "app-api",
    )
    assert outputs["FunctionArn"].value == "arn:aws:lambda:us-east-1:123456789012:function:Fn"
    assert outputs["TableName"].value == "app-Table"
    assert outputs["Url"].value == function_url("Fn")
    assert outputs["Port"].value == "8080"
    assert "ProdOnly" not in outputs  # its Condition does not hold
    assert list(outputs) == ["Api", "FunctionArn", "TableName", "Url", "Version", "Port"]
    # the version a release publishes is written in, as CloudFormation writes it
    released = with_versions(app, {"Fn": 3}).stack
    assert released is not None
    assert {o.key: o.value for o in released.outputs}["Version"].endswith(":function:Fn:3")
    prod = load(write(tmp_path, body), {"Env": "prod"}).stack
    assert prod is not None and "ProdOnly" in {o.key for o in prod.outputs}


def test_a_function_url_resource_names_its_function(tmp_path: Path) -> None:
    body = resources(
        function("Other", "FunctionName: other-fn\n"),
        "  OtherUrl:\n    Type: AWS::Lambda::Url\n"
        "    Properties: {AuthType: NONE, TargetFunctionArn: other-fn}\n",
    ) + ("Outputs:\n  Url: {Value: !Sub '${OtherUrl.FunctionUrl}path'}\n")
    stack = load(write(tmp_path, body)).stack
    assert stack is not None and stack.outputs[0].value == function_url("Other") + "path"
    app = load(write(tmp_path, body.replace("OtherUrl.FunctionUrl", "OtherUrl.Nope")))
    assert app.stack is not None and app.stack.outputs == ()
    assert any("has no attribute 'Nope'" in w for w in app.warnings)


def test_what_cloudformation_refuses_is_refused_at_its_line(tmp_path: Path) -> None:
    listed = resources(function()) + "Outputs:\n  Azs:\n    Value: !GetAZs ''\n"
    path = write(tmp_path, listed)
    err = fails(path)
    assert err.line == line_of(path, "!GetAZs") and "Outputs.Azs.Value" in err.message
    assert "must be a string" in err.message
    twice = resources(function()) + (
        "Outputs:\n"
        "  A: {Value: a, Export: {Name: shared}}\n"
        "  B: {Value: b, Export: {Name: shared}}\n"
    )
    err = fails(write(tmp_path, twice))
    assert "export name 'shared' is already exported by output A" in err.message
    no_value = resources(function()) + "Outputs:\n  A: {Description: nothing}\n"
    assert "Value" in fails(write(tmp_path, no_value)).message


def test_an_output_canaria_cannot_resolve_is_left_out_with_a_warning(tmp_path: Path) -> None:
    body = resources(function()) + (
        "Outputs:\n  Imported: {Value: !ImportValue other-stack-api}\n  Kept: {Value: kept}\n"
    )
    app = load(write(tmp_path, body))
    assert app.stack is not None and [o.key for o in app.stack.outputs] == ["Kept"]
    assert any(
        "Outputs.Imported: not given by DescribeStacks" in w and "ImportValue" in w
        for w in app.warnings
    )


def test_samconfig_names_the_stack(tmp_path: Path) -> None:
    path = write(tmp_path, resources(function()))
    (Path(path).parent / "samconfig.toml").write_text(
        'version = 0.1\n[default.deploy.parameters]\nstack_name = "my-app"\n'
    )
    stack = load(path).stack
    assert stack is not None and stack.name == "my-app" and stack.outputs == ()


def test_the_role_sam_generates_for_a_state_machine_is_an_output(tmp_path: Path) -> None:
    body = (
        resources(
            "  Machine:\n    Type: AWS::Serverless::StateMachine\n"
            "    Properties:\n"
            "      Definition: {StartAt: A, States: {A: {Type: Pass, End: true}}}\n"
        )
        + "Outputs:\n  MachineRole: {Value: !GetAtt MachineRole.Arn}\n"
    )
    app = load(write(tmp_path, body))
    assert app.stack is not None and app.stack.outputs[0].value.endswith(":role/MachineRole")
    assert not [w for w in app.warnings if "Outputs" in w]


def test_a_disabled_deployment_preference_makes_no_deployment_group(tmp_path: Path) -> None:
    # SAM generates a deployment group only for a preference that is enabled
    body = resources(
        function("Shifted", "AutoPublishAlias: live\nDeploymentPreference: {Type: AllAtOnce}\n"),
        function("Unshifted", "AutoPublishAlias: live\nDeploymentPreference: {Enabled: false}\n"),
    )
    stack = load(write(tmp_path, body)).stack
    assert stack is not None
    listed = {r.logical_id for r in stack.resources}
    assert "ShiftedDeploymentGroup" in listed and "ServerlessDeploymentApplication" in listed
    assert "UnshiftedDeploymentGroup" not in listed
