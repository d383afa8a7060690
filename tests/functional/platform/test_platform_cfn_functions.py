"""A function deployed through CodeDeploy with CloudFormation's own resources (an
``AWS::Lambda::Function``, its ``AWS::Lambda::Version``, an ``AWS::Lambda::Alias`` whose
``CodeDeployLambdaAliasUpdate`` names a deployment group and hooks), as AWS's own example
writes it, through a real `canaria up`: served through the alias by its function URL, a
new version deployed under the group's canary configuration with the hooks called, and a
bad one stopped and rolled back."""

from __future__ import annotations

import json
import urllib.request
from pathlib import Path

from tests.functional.harness import Canaria, write_app

TEMPLATE = """\
AWSTemplateFormatVersion: '2010-09-09'
Resources:
  LambdaFunction:
    Type: AWS::Lambda::Function
    Properties:
      Runtime: python3.11
      Handler: index.handler
      Role: arn:aws:iam::123456789012:role/lambda-role
      Code:
        ZipFile: |
          def handler(event, context):
              return {"statusCode": 200, "body": "RELEASE"}
  FunctionVersionTwo:
    Type: AWS::Lambda::Version
    Properties:
      FunctionName: !Ref LambdaFunction
  PreHookLambdaFunction:
    Type: AWS::Lambda::Function
    Properties:
      Runtime: python3.11
      Handler: index.handler
      Role: arn:aws:iam::123456789012:role/lambda-role
      Code:
        ZipFile: |
          import boto3
          def handler(event, context):
              boto3.client("codedeploy").put_lifecycle_event_hook_execution_status(
                  deploymentId=event["DeploymentId"],
                  lifecycleEventHookExecutionId=event["LifecycleEventHookExecutionId"],
                  status="Succeeded")
  CodeDeployApplication:
    Type: AWS::CodeDeploy::Application
    Properties: {ComputePlatform: Lambda}
  CodeDeployDeploymentGroup:
    Type: AWS::CodeDeploy::DeploymentGroup
    Properties:
      ApplicationName: !Ref CodeDeployApplication
      DeploymentConfigName: CodeDeployDefault.LambdaCanary10Percent5Minutes
      DeploymentStyle: {DeploymentType: BLUE_GREEN, DeploymentOption: WITH_TRAFFIC_CONTROL}
      ServiceRoleArn: arn:aws:iam::123456789012:role/codedeploy-role
      AlarmConfiguration:
        Enabled: true
        Alarms: [{Name: !Ref ErrorsAlarm}]
  ErrorsAlarm:
    Type: AWS::CloudWatch::Alarm
    Properties:
      Namespace: AWS/Lambda
      MetricName: Errors
      Dimensions:
        - {Name: FunctionName, Value: !Ref LambdaFunction}
        - {Name: Resource, Value: !Sub "${LambdaFunction}:MyAlias"}
      Statistic: Sum
      Period: 60
      EvaluationPeriods: 1
      Threshold: 1
      ComparisonOperator: GreaterThanOrEqualToThreshold
  Alias:
    Type: AWS::Lambda::Alias
    Properties:
      FunctionName: !Ref LambdaFunction
      FunctionVersion: !GetAtt FunctionVersionTwo.Version
      Name: MyAlias
    UpdatePolicy:
      CodeDeployLambdaAliasUpdate:
        ApplicationName: !Ref CodeDeployApplication
        DeploymentGroupName: !Ref CodeDeployDeploymentGroup
        BeforeAllowTrafficHook: !Ref PreHookLambdaFunction
        AfterAllowTrafficHook: !Ref PreHookLambdaFunction
  Url:
    Type: AWS::Lambda::Url
    Properties:
      AuthType: NONE
      TargetFunctionArn: !Ref Alias
"""


def release(c: Canaria, body: str) -> str:
    """Write the function's next release into the template and deploy it."""
    text = c.template.read_text()
    old = text.split('"body": ', 1)[1].split("}", 1)[0]
    c.template.write_text(text.replace(old, body, 1))
    r = c.cli("deploy", "-t", str(c.template), "--json")
    assert r.returncode == 0, r.stdout + r.stderr
    started = json.loads(r.stdout)["deployments"]
    assert [t["function"] for d in started for t in d["targets"]] == ["LambdaFunction"]
    assert started[0]["config"] == "CodeDeployDefault.LambdaCanary10Percent5Minutes"
    return str(started[0]["id"])


def call(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=30) as answer:
            return answer.status, answer.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


def test_a_cloudformation_alias_deploys_through_its_codedeploy_group(tmp_path: Path) -> None:
    template = TEMPLATE.replace("RELEASE", "v1")
    c = Canaria(write_app(tmp_path / "app", {"template.yaml": template}), tmp_path / "state")
    c.start()
    try:
        url = c.status()["function_urls"]["LambdaFunction"]
        assert call(url) == (200, "v1")
        assert c.alias("LambdaFunction", "MyAlias")["split"] == {"1": 1.0}

        deployment = release(c, '"v2"')
        d = c.wait_deployment(deployment)
        assert d["state"] == "Succeeded", d
        hooks = [(h["function"], h["status"]) for h in d["hook_executions"]]
        assert hooks == [("PreHookLambdaFunction", "Succeeded")] * 2, hooks
        assert call(url) == (200, "v2")

        deployment = release(c, "str(1 / 0)")  # v3 fails every request
        d, failed = c.serve_canary(deployment, lambda: call(url)[0] != 200)
        assert d["state"] == "Stopped" and d["rolled_back"], d
        assert failed >= 1
        assert c.alias("LambdaFunction", "MyAlias")["split"] == {"2": 1.0}
        assert call(url) == (200, "v2")
    finally:
        c.stop()
