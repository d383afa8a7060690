"""The stack through a real `canaria up` and boto3's CloudFormation client: an integration
test written for AWS finds its API, function URL and table through ``DescribeStacks``
and calls them here; the stack's status follows a release."""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from botocore.exceptions import ClientError

from tests.functional.harness import Canaria, write_app

TEMPLATE = """\
AWSTemplateFormatVersion: "2010-09-09"
Transform: AWS::Serverless-2016-10-31
Description: outputs, as sam deploy leaves them
Parameters:
  Answer: {Type: String, Default: one}
  Token: {Type: String, Default: s3cret, NoEcho: true}
Resources:
  Fn:
    Type: AWS::Serverless::Function
    Properties:
      Handler: app.handler
      Runtime: python3.11
      CodeUri: src
      AutoPublishAlias: live
      DeploymentPreference: {Type: AllAtOnce}
      Environment: {Variables: {ANSWER: !Ref Answer}}
      FunctionUrlConfig: {AuthType: NONE}
      Events:
        Get: {Type: Api, Properties: {Path: "/hello/{id}", Method: get}}
  Caller:
    Type: AWS::Serverless::Function
    Properties:
      Handler: caller.handler
      Runtime: python3.11
      CodeUri: src
      Environment:
        Variables:
          API: !Sub "https://${ServerlessRestApi}.execute-api.${AWS::Region}.amazonaws.com/Prod"
          FN_URL: !GetAtt FnUrl.FunctionUrl
          ELSEWHERE: https://example.execute-api.us-east-1.amazonaws.com/Prod
  Table:
    Type: AWS::Serverless::SimpleTable
Outputs:
  HelloApi:
    Description: the Prod stage's base URL
    Value: !Sub "https://${ServerlessRestApi}.execute-api.${AWS::Region}.amazonaws.com/Prod/"
    Export: {Name: !Sub "${AWS::StackName}-api"}
  HelloUrl:
    Value: !GetAtt FnUrl.FunctionUrl
  TableName:
    Value: !Ref Table
  LiveVersion:
    Value: !Ref Fn.Version
  StackId:
    Value: !Ref AWS::StackId
"""

HANDLER = """\
import json, os

def handler(event, context):
    return {"statusCode": 200, "body": json.dumps({
        "answer": os.environ["ANSWER"],
        "path": event.get("path") or event.get("rawPath"),
        "id": (event.get("pathParameters") or {}).get("id"),
    })}
"""


CALLER = """\
import json, os, urllib.request

def handler(event, context):
    with urllib.request.urlopen(os.environ["API"] + "/hello/7", timeout=10) as resp:
        answer = json.loads(resp.read())
    return {"answer": answer, "fn_url": os.environ["FN_URL"], "other": os.environ["ELSEWHERE"]}
"""


@pytest.fixture
def app(tmp_path: Path) -> Iterator[Canaria]:
    files = {"template.yaml": TEMPLATE, "src/app.py": HANDLER, "src/caller.py": CALLER}
    template = write_app(tmp_path / "outputs", files)
    c = Canaria(template, tmp_path / "state").start()
    yield c
    c.stop()


def get(url: str) -> dict[str, object]:
    with urllib.request.urlopen(url, timeout=30) as resp:
        return json.loads(resp.read())  # type: ignore[no-any-return]


def outputs(app: Canaria) -> dict[str, str]:
    stack = app.aws("cloudformation").describe_stacks(StackName="outputs")["Stacks"][0]
    return {o["OutputKey"]: o["OutputValue"] for o in stack["Outputs"]}


def test_a_test_written_for_aws_finds_and_calls_what_it_tests(app: Canaria) -> None:
    cfn = app.aws("cloudformation")
    stack = cfn.describe_stacks(StackName="outputs")["Stacks"][0]
    assert stack["StackName"] == "outputs" and stack["StackStatus"] == "CREATE_COMPLETE"
    assert stack["Description"] == "outputs, as sam deploy leaves them"
    assert stack["StackId"].startswith("arn:aws:cloudformation:us-east-1:123456789012:stack/")
    assert {p["ParameterKey"]: p["ParameterValue"] for p in stack["Parameters"]} == {
        "Answer": "one",
        "Token": "****",
    }
    found = {o["OutputKey"]: o for o in stack["Outputs"]}
    api = found["HelloApi"]
    assert api["OutputValue"] == f"http://127.0.0.1:{app.port}/Prod/"
    assert api["ExportName"] == "outputs-api" and api["Description"].startswith("the Prod")
    # the test joins its path to the base URL, slash doubled, as it would on AWS
    assert get(api["OutputValue"] + "/hello/7") == {"answer": "one", "path": "/hello/7", "id": "7"}
    assert get(found["HelloUrl"]["OutputValue"] + "any/path")["answer"] == "one"
    assert found["TableName"]["OutputValue"] == "outputs-Table"
    assert found["LiveVersion"]["OutputValue"].endswith(":function:Fn:1")
    # by its id too, and without a name: every stack (this one)
    assert cfn.describe_stacks(StackName=stack["StackId"])["Stacks"][0]["StackName"] == "outputs"
    assert [s["StackName"] for s in cfn.describe_stacks()["Stacks"]] == ["outputs"]
    exports = cfn.list_exports()["Exports"]
    assert exports == [
        {"ExportingStackId": stack["StackId"], "Name": "outputs-api", "Value": api["OutputValue"]}
    ]
    with pytest.raises(ClientError) as e:
        cfn.describe_stacks(StackName="another")
    assert e.value.response["Error"]["Code"] == "ValidationError"
    assert "Stack with id another does not exist" in str(e.value)
    assert f"output     HelloApi  http://127.0.0.1:{app.port}/Prod/" in app.output()


def test_a_release_updates_the_stack(app: Canaria) -> None:
    r = app.cli("deploy", "-t", str(app.template), "--parameter-overrides", "Answer=two", "--json")
    assert r.returncode == 0, r.stdout + r.stderr
    deployment = json.loads(r.stdout)["deployments"][0]["id"]
    assert app.wait_deployment(deployment)["state"] == "Succeeded"
    stack = app.aws("cloudformation").describe_stacks(StackName="outputs")["Stacks"][0]
    assert stack["StackStatus"] == "UPDATE_COMPLETE"
    assert stack["LastUpdatedTime"] >= stack["CreationTime"]
    assert {p["ParameterKey"]: p["ParameterValue"] for p in stack["Parameters"]}["Answer"] == "two"
    found = outputs(app)
    assert found["LiveVersion"].endswith(":function:Fn:2")
    assert get(found["HelloApi"] + "hello/1")["answer"] == "two"


QUEUE_ONLY = """\
Transform: AWS::Serverless-2016-10-31
Resources:
  Jobs:
    Type: AWS::SQS::Queue
Outputs:
  JobsQueueUrl: {Value: !Ref Jobs}
  JobsQueueArn: {Value: !GetAtt Jobs.Arn}
"""


def test_a_stack_of_no_function_is_described_and_its_queue_url_works(tmp_path: Path) -> None:
    template = write_app(tmp_path / "queues", {"template.yaml": QUEUE_ONLY})
    c = Canaria(template, tmp_path / "state").start()
    try:
        stack = c.aws("cloudformation").describe_stacks()["Stacks"][0]
        assert stack["StackStatus"] == "CREATE_COMPLETE"
        found = {o["OutputKey"]: o["OutputValue"] for o in stack["Outputs"]}
        assert found["JobsQueueArn"] == "arn:aws:sqs:us-east-1:123456789012:queues-Jobs"
        sqs = c.env_client("sqs", "AWS_ENDPOINT_URL_SQS")  # the URL the stack gives, as is
        sqs.send_message(QueueUrl=found["JobsQueueUrl"], MessageBody="hello")
        got = sqs.receive_message(QueueUrl=found["JobsQueueUrl"], WaitTimeSeconds=5)
        assert [m["Body"] for m in got["Messages"]] == ["hello"]
    finally:
        c.stop()


def test_the_stacks_resources_name_what_the_cli_calls(app: Canaria) -> None:
    # the READMEs' `aws cloudformation describe-stack-resources --query ...` → a name
    cfn = app.aws("cloudformation")
    listed = cfn.describe_stack_resources(StackName="outputs")["StackResources"]
    kinds = {r["LogicalResourceId"]: (r["ResourceType"], r["PhysicalResourceId"]) for r in listed}
    assert kinds["Fn"] == ("AWS::Lambda::Function", "Fn")
    assert kinds["Table"] == ("AWS::DynamoDB::Table", "outputs-Table")
    assert kinds["ServerlessRestApi"] == ("AWS::ApiGateway::RestApi", "serverlessrestapi")
    assert kinds["FnDeploymentGroup"] == ("AWS::CodeDeploy::DeploymentGroup", "Fn")
    one = cfn.describe_stack_resources(StackName="outputs", LogicalResourceId="Table")
    assert [r["PhysicalResourceId"] for r in one["StackResources"]] == ["outputs-Table"]
    detail = cfn.describe_stack_resource(StackName="outputs", LogicalResourceId="Fn")
    name = detail["StackResourceDetail"]["PhysicalResourceId"]
    out = app.aws("lambda").invoke(FunctionName=name, Payload=b"{}")  # the name works
    assert out["StatusCode"] == 200 and "one" in out["Payload"].read().decode()
    summaries = cfn.list_stack_resources(StackName="outputs")["StackResourceSummaries"]
    assert {s["LogicalResourceId"] for s in summaries} == set(kinds)
    # the stack by its id, as a hook given `!Ref AWS::StackId` names it: one id throughout
    stack = cfn.describe_stacks(StackName="outputs")["Stacks"][0]
    given = {o["OutputKey"]: o["OutputValue"] for o in stack["Outputs"]}["StackId"]
    assert given == stack["StackId"]
    by_id = cfn.list_stack_resources(StackName=given)["StackResourceSummaries"]
    assert {s["LogicalResourceId"] for s in by_id} == set(kinds)
    with pytest.raises(ClientError) as e:
        cfn.describe_stack_resource(StackName="outputs", LogicalResourceId="Nope")
    assert "Resource Nope does not exist for stack outputs" in str(e.value)


def test_a_function_calls_its_own_api_by_the_url_the_template_gives_it(app: Canaria) -> None:
    """On AWS a function whose environment holds its stack's API URL calls that API; here
    the URL names where canaria serves it, as the outputs do (another API's is kept)."""
    out = app.aws("lambda").invoke(FunctionName="Caller", Payload=b"{}")
    result = json.loads(out["Payload"].read())
    assert result["answer"] == {"answer": "one", "path": "/hello/7", "id": "7"}, result
    assert result["fn_url"] == outputs(app)["HelloUrl"]
    assert result["other"] == "https://example.execute-api.us-east-1.amazonaws.com/Prod"
