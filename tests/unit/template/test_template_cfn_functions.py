"""``AWS::Lambda::Function`` with its version, alias and CodeDeploy deployment group, read
as the SAM function they amount to: its code, its alias and deployment preference, the
references to the version and the alias, and errors at the properties as written."""

from __future__ import annotations

from pathlib import Path

from canaria.template import load
from tests.unit.template.template_helpers import PY, fails, line_of, write

HEAD = "AWSTemplateFormatVersion: '2010-09-09'\n"


def lambda_function(name: str = "Fn", code: str = "Code: {ZipFile: 'x = 1'}") -> str:
    return f"""\
  {name}:
    Type: AWS::Lambda::Function
    Properties:
      Runtime: {PY}
      Handler: index.handler
      Role: arn:aws:iam::123456789012:role/r
      {code}
"""


DEPLOYED = """\
  Version:
    Type: AWS::Lambda::Version
    Properties: {FunctionName: !Ref Fn}
  Hook:
    Type: AWS::Lambda::Function
    Properties:
      Runtime: {py}
      Handler: index.handler
      Role: arn:aws:iam::123456789012:role/r
      Code: {ZipFile: 'y = 2'}
  App:
    Type: AWS::CodeDeploy::Application
    Properties: {ComputePlatform: Lambda}
  Group:
    Type: AWS::CodeDeploy::DeploymentGroup
    Properties:
      ApplicationName: !Ref App
      DeploymentConfigName: CodeDeployDefault.LambdaLinear10PercentEvery1Minute
      ServiceRoleArn: arn:aws:iam::123456789012:role/cd
  Live:
    Type: AWS::Lambda::Alias
    DependsOn: [Version]
    Properties:
      FunctionName: !GetAtt Fn.Arn
      FunctionVersion: !GetAtt Version.Version
      Name: live
    UpdatePolicy:
      CodeDeployLambdaAliasUpdate:
        ApplicationName: !Ref App
        DeploymentGroupName: !Ref Group
        BeforeAllowTrafficHook: !Ref Hook
Outputs:
  AliasArn: {Value: !Ref Live}
  Version: {Value: !GetAtt Version.Version}
  Group: {Value: !Ref Group}
"""


def test_the_alias_codedeploy_updates_is_the_functions_deployment(tmp_path: Path) -> None:
    app = load(write(tmp_path, "Resources:\n" + lambda_function() + DEPLOYED, head=HEAD))
    fn = app.functions["Fn"]
    assert fn.inline is not None and fn.inline.text == "x = 1"
    assert fn.auto_publish_alias == "live"
    preference = fn.deployment_preference
    assert preference is not None
    assert preference.type == "CodeDeployDefault.LambdaLinear10PercentEvery1Minute"
    assert (preference.pre_traffic_hook, preference.post_traffic_hook) == ("Hook", None)
    assert app.functions["Hook"].auto_publish_alias is None
    assert not [s for s in app.skipped if s.logical_id in ("Version", "Live", "Group", "App")]


def test_a_function_without_an_alias_runs_as_it_is_and_its_version_stays_a_placeholder(
    tmp_path: Path,
) -> None:
    body = (
        "Resources:\n"
        + lambda_function()
        + ("  Version:\n    Type: AWS::Lambda::Version\n    Properties: {FunctionName: !Ref Fn}\n")
    )
    app = load(write(tmp_path, body, head=HEAD))
    assert app.functions["Fn"].auto_publish_alias is None
    assert [s.logical_id for s in app.skipped] == ["Version"]


def test_code_in_s3_is_skipped_and_a_cdk_asset_is_its_folder(tmp_path: Path) -> None:
    path = write(tmp_path, "Resources:\n" + lambda_function(
        code="Code: {S3Bucket: my-bucket, S3Key: fn.zip}"
    ) + lambda_function("Inline"), head=HEAD)  # fmt: skip
    app = load(path)  # the rest of the application runs
    assert list(app.functions) == ["Inline"]
    (skipped,) = app.skipped
    assert skipped.logical_id == "Fn" and "cannot fetch it from S3" in skipped.reason

    asset = """\
  Fn:
    Type: AWS::Lambda::Function
    Properties:
      Runtime: {py}
      Handler: app.handler
      Role: arn:aws:iam::123456789012:role/r
      Code: {S3Bucket: cdk-hnb659fds-assets, S3Key: abc.zip}
    Metadata:
      aws:asset:path: asset.abc
      aws:asset:property: Code
"""
    path = write(tmp_path, "Resources:\n" + asset, head=HEAD)
    (Path(path).parent / "asset.abc").mkdir()
    app = load(path)
    assert Path(app.functions["Fn"].config.code_uri) == (Path(path).parent / "asset.abc")


def test_globals_are_samss_and_do_not_apply_to_lambdas_own_functions(tmp_path: Path) -> None:
    head = "Transform: AWS::Serverless-2016-10-31\nGlobals:\n  Function: {Timeout: 30}\n"
    app = load(write(tmp_path, "Resources:\n" + lambda_function(), head=head))
    assert app.functions["Fn"].config.timeout_s == 3  # Lambda's default


def test_a_second_alias_is_left_as_written_with_a_warning(tmp_path: Path) -> None:
    body = (
        "Resources:\n"
        + lambda_function()
        + DEPLOYED.split("Outputs:")[0]
        + """\
  Other:
    Type: AWS::Lambda::Alias
    Properties: {FunctionName: !Ref Fn, FunctionVersion: "1", Name: other}
"""
    )
    app = load(write(tmp_path, body, head=HEAD))
    assert app.functions["Fn"].auto_publish_alias == "live"
    (warning,) = [w for w in app.warnings if "another alias" in w]
    assert "Resources.Other" in warning


def test_a_property_lambda_writes_otherwise_is_named_as_written_in_errors(tmp_path: Path) -> None:
    path = write(tmp_path, "Resources:\n" + lambda_function(code="Code: ./missing"), head=HEAD)
    error = fails(path)
    assert error.prop == "Resources.Fn.Properties.Code"
    assert error.line == line_of(path, "Code: ./missing")
    assert "does not exist" in error.message


def test_sams_own_output_with_its_reserved_tag_is_read_back(tmp_path: Path) -> None:
    """A template SAM translated (the processed template CloudFormation keeps) tags its
    functions ``lambda:createdBy: SAM``, which SAM refuses written: the tag is dropped."""
    tags = "Tags: [{Key: lambda:createdBy, Value: SAM}, {Key: team, Value: shop}]"
    body = "Resources:\n" + lambda_function().replace("      Role:", f"      {tags}\n      Role:")
    app = load(write(tmp_path, body, head=HEAD))
    assert list(app.functions) == ["Fn"]
