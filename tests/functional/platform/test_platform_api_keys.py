"""REST API keys through a real `canaria up`: SAM's ``Auth.ApiKeyRequired`` with a
PER_API usage plan (a generated key, read from ``GET /status``), an event opting out, a
``GatewayResponses`` entry for ``INVALID_API_KEY``, and an API written as CloudFormation's
resources with a key of an explicit ``Value`` in a usage plan."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.functional.harness import Canaria, write_app

LAMBDA_PATH = "arn:aws:apigateway:${AWS::Region}:lambda:path/2015-03-31/functions"
PARTNER = "partner-key-0123456789abcdef"

TEMPLATE = f"""\
AWSTemplateFormatVersion: "2010-09-09"
Transform: AWS::Serverless-2016-10-31
Resources:
  Keyed:
    Type: AWS::Serverless::Api
    Properties:
      StageName: Prod
      Auth:
        ApiKeyRequired: true
        UsagePlan: {{CreateUsagePlan: PER_API}}
  Custom:
    Type: AWS::Serverless::Api
    Properties:
      StageName: v2
      Auth:
        ApiKeyRequired: true
        UsagePlan: {{CreateUsagePlan: PER_API}}
      GatewayResponses:
        INVALID_API_KEY:
          StatusCode: 401
          ResponseParameters:
            Headers: {{X-Reason: "'api key'"}}
          ResponseTemplates:
            application/json: '{{"error": "$context.error.responseType"}}'
  Metered:
    Type: AWS::Serverless::Api
    Properties:
      StageName: m
      Auth:
        ApiKeyRequired: true
        UsagePlan:
          CreateUsagePlan: PER_API
          Throttle: {{RateLimit: 1, BurstLimit: 2}}
          Quota: {{Limit: 3, Period: DAY}}
  Fn:
    Type: AWS::Serverless::Function
    Properties:
      Handler: app.handler
      Runtime: python3.11
      CodeUri: src
      Events:
        Hello:
          Type: Api
          Properties: {{RestApiId: !Ref Keyed, Path: /hello, Method: get}}
        Open:
          Type: Api
          Properties:
            RestApiId: !Ref Keyed
            Path: /open
            Method: get
            Auth: {{ApiKeyRequired: false}}
        Other:
          Type: Api
          Properties: {{RestApiId: !Ref Custom, Path: /other, Method: get}}
        Metered:
          Type: Api
          Properties: {{RestApiId: !Ref Metered, Path: /metered, Method: get}}
  Cfn:
    Type: AWS::ApiGateway::RestApi
    Properties: {{Name: cfn}}
  CfnResource:
    Type: AWS::ApiGateway::Resource
    Properties: {{RestApiId: !Ref Cfn, ParentId: !GetAtt Cfn.RootResourceId, PathPart: cfn}}
  CfnGet:
    Type: AWS::ApiGateway::Method
    Properties:
      RestApiId: !Ref Cfn
      ResourceId: !Ref CfnResource
      HttpMethod: GET
      AuthorizationType: NONE
      ApiKeyRequired: true
      Integration:
        Type: AWS_PROXY
        IntegrationHttpMethod: POST
        Uri: !Sub "{LAMBDA_PATH}/${{Fn.Arn}}/invocations"
  CfnDeployment:
    Type: AWS::ApiGateway::Deployment
    DependsOn: [CfnGet]
    Properties: {{RestApiId: !Ref Cfn}}
  Live:
    Type: AWS::ApiGateway::Stage
    Properties: {{RestApiId: !Ref Cfn, DeploymentId: !Ref CfnDeployment, StageName: live}}
  Plan:
    Type: AWS::ApiGateway::UsagePlan
    Properties:
      ApiStages: [{{ApiId: !Ref Cfn, Stage: !Ref Live}}]
  Partner:
    Type: AWS::ApiGateway::ApiKey
    Properties: {{Name: partner, Enabled: true, Value: {PARTNER}}}
  PartnerInPlan:
    Type: AWS::ApiGateway::UsagePlanKey
    Properties: {{KeyId: !Ref Partner, KeyType: API_KEY, UsagePlanId: !Ref Plan}}
"""

APP = """\
import json

def handler(event, context):
    identity = event["requestContext"]["identity"]
    return {"statusCode": 200, "body": json.dumps(
        {"apiKey": identity.get("apiKey"), "apiKeyId": identity.get("apiKeyId")})}
"""


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Canaria]:
    root = tmp_path_factory.mktemp("api-keys")
    files = {"template.yaml": TEMPLATE, "src/app.py": APP}
    c = Canaria(write_app(root / "app", files), root / "state").start()
    yield c
    c.stop()


def keys(c: Canaria) -> dict[str, dict[str, Any]]:
    return {k["logical_id"]: k for k in c.status()["api_keys"]}


def get(c: Canaria, path: str, key: str | None = None) -> tuple[int, dict[str, str], Any]:
    status, headers, body = c.http("GET", path, headers={"x-api-key": key} if key else {})
    return status, headers, json.loads(body)


def test_a_generated_key_is_listed_and_opens_its_apis_methods(app: Canaria) -> None:
    found = keys(app)
    assert set(found) == {"KeyedApiKey", "CustomApiKey", "MeteredApiKey", "Partner"}
    key = found["KeyedApiKey"]
    assert key["name"] == "app-KeyedApiKey" and key["enabled"] and key["generated"]
    assert key["stages"] == [{"api": "Keyed", "stage": "Prod"}]
    assert isinstance(key["value"], str) and len(key["value"]) == 40
    assert len(key["id"]) == 10
    status, _, body = get(app, "/Prod/hello", key["value"])
    assert status == 200
    assert body == {"apiKey": key["value"], "apiKeyId": key["id"]}
    # `canaria up` printed it, for curl; `canaria status` lists it
    assert f"api key    app-KeyedApiKey: {key['value']}  (Keyed/Prod)" in app.output()
    shown = app.cli("status")
    assert shown.returncode == 0, shown.stderr
    assert key["value"] in shown.stdout and "[API key]" in shown.stdout, shown.stdout


def test_no_key_or_another_key_is_forbidden(app: Canaria) -> None:
    found = keys(app)
    for key in (None, "not-a-key-of-this-app", found["CustomApiKey"]["value"], PARTNER):
        status, headers, body = get(app, "/Prod/hello", key)
        assert (status, body) == (403, {"message": "Forbidden"}), key
        assert headers["x-amzn-errortype"] == "ForbiddenException"


def test_an_event_opting_out_needs_no_key(app: Canaria) -> None:
    status, _, body = get(app, "/Prod/open")
    assert (status, body) == (200, {"apiKey": None, "apiKeyId": None})


def test_gateway_responses_change_the_invalid_api_key_answer(app: Canaria) -> None:
    status, headers, body = get(app, "/v2/other")
    assert (status, headers["x-reason"], body) == (401, "api key", {"error": "INVALID_API_KEY"})
    value = keys(app)["CustomApiKey"]["value"]
    assert get(app, "/v2/other", value)[0] == 200


def test_a_cloudformation_api_accepts_its_usage_plans_key(app: Canaria) -> None:
    partner = keys(app)["Partner"]
    assert (partner["name"], partner["value"], partner["generated"]) == ("partner", PARTNER, False)
    assert partner["stages"] == [{"api": "Cfn", "stage": "live"}]
    status, _, body = get(app, "/live/cfn", PARTNER)
    assert (status, body) == (200, {"apiKey": PARTNER, "apiKeyId": partner["id"]})
    assert get(app, "/live/cfn", keys(app)["KeyedApiKey"]["value"])[0] == 403
    assert get(app, "/live/cfn")[0] == 403


def test_a_generated_key_survives_a_restart(app: Canaria) -> None:
    before = keys(app)["KeyedApiKey"]
    app.stop()
    app.start()
    after = keys(app)["KeyedApiKey"]
    assert (after["value"], after["id"]) == (before["value"], before["id"])
    assert get(app, "/Prod/hello", after["value"])[0] == 200


def test_a_usage_plans_throttle_and_quota_count_on_canarias_clock(app: Canaria) -> None:
    key = keys(app)["MeteredApiKey"]["value"]
    # a bucket of 2 refilled once a second; the clock is manual, so only advance refills it
    assert [get(app, "/m/metered", key)[0] for _ in range(2)] == [200, 200]
    status, headers, body = get(app, "/m/metered", key)
    assert (status, body) == (429, {"message": "Too Many Requests"})
    app.advance(1)
    assert get(app, "/m/metered", key)[0] == 200  # the third of the day's three
    app.advance(5)
    status, headers, body = get(app, "/m/metered", key)
    assert (status, body) == (429, {"message": "Limit Exceeded"})
    assert headers["x-amzn-errortype"] == "LimitExceededException"
    app.advance(86_400)  # the next day's quota
    assert get(app, "/m/metered", key)[0] == 200


def test_the_aws_sdk_reads_the_keys_as_on_aws(app: Canaria) -> None:
    apigw = app.env_client("apigateway", "AWS_ENDPOINT_URL")  # what `canaria env` exports
    listed = {k["name"]: k for k in apigw.get_api_keys(includeValues=True)["items"]}
    partner = listed["partner"]
    assert partner["value"] == PARTNER and partner["enabled"]
    assert partner["stageKeys"] == ["cfn/live"]
    assert "value" not in apigw.get_api_keys()["items"][0]  # values only when asked for
    found = keys(app)["KeyedApiKey"]
    one = apigw.get_api_key(apiKey=found["id"], includeValue=True)
    assert (one["name"], one["value"]) == (found["name"], found["value"])
    assert [k["name"] for k in apigw.get_api_keys(nameQuery="part")["items"]] == ["partner"]
    with pytest.raises(ClientError) as missing:
        apigw.get_api_key(apiKey="nosuchkey1")
    assert missing.value.response["Error"]["Code"] == "NotFoundException"
    with pytest.raises(ClientError) as other:
        apigw.get_rest_apis()  # not served: said so, in API Gateway's own error shape
    assert other.value.response["Error"]["Code"] == "NotServedByCanaria"
