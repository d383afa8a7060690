"""API destinations whose endpoint is the template's own API (its execute-api URL),
through a real `canaria up`: a rule's target and a pipe's target reach the API on
canaria's gateway, with the connection's authorization, the pipe's HttpParameters and
each record as the pipe's input template makes it."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from tests.functional.harness import Canaria, eventually, write_app

TEMPLATE = """\
Transform: AWS::Serverless-2016-10-31
Resources:
  Hook:
    Type: AWS::Serverless::Function
    Properties:
      Runtime: python3.11
      Handler: app.handler
      CodeUri: src/
      Events:
        In:
          Type: Api
          Properties: {Path: /in, Method: POST, RestApiId: !Ref Api}
  Api:
    Type: AWS::Serverless::Api
    Properties: {StageName: Prod}
  Keyed:
    Type: AWS::Events::Connection
    Properties:
      AuthorizationType: API_KEY
      AuthParameters:
        ApiKeyAuthParameters: {ApiKeyName: x-api-key, ApiKeyValue: s3cret}
  Own:
    Type: AWS::Events::ApiDestination
    Properties:
      ConnectionArn: !GetAtt Keyed.Arn
      InvocationEndpoint: !Sub https://${Api}.execute-api.${AWS::Region}.${AWS::URLSuffix}/Prod/in
      HttpMethod: POST
  Placed:
    Type: AWS::Events::Rule
    Properties:
      EventPattern: {source: [shop.orders]}
      Targets:
        - {Id: own, Arn: !GetAtt Own.Arn, InputPath: $.detail}
  Jobs:
    Type: AWS::SQS::Queue
  JobsToApi:
    Type: AWS::Pipes::Pipe
    Properties:
      RoleArn: arn:aws:iam::123456789012:role/pipe
      Source: !GetAtt Jobs.Arn
      Target: !GetAtt Own.Arn
      TargetParameters:
        InputTemplate: '{"job": <$.body.id>}'
        HttpParameters:
          HeaderParameters: {x-source: pipe}
"""

HANDLER = """\
import json


def handler(event, context):
    print("GOT", event["headers"].get("x-api-key"), event["headers"].get("x-source"),
          event["body"])
    return {"statusCode": 200, "body": "{}"}
"""


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Canaria]:
    tmp = tmp_path_factory.mktemp("own-api")
    template = write_app(tmp / "app", {"template.yaml": TEMPLATE, "src/app.py": HANDLER})
    c = Canaria(template, tmp / "state").start()
    yield c
    c.stop()


def got(c: Canaria, needle: str) -> list[str]:
    lines = c.cli("logs", "Hook").stdout.splitlines()
    return [line.split("GOT ", 1)[1] for line in lines if "GOT " in line and needle in line]


def test_a_rules_api_destination_reaches_the_templates_own_api(app: Canaria) -> None:
    events = app.env_client("events", "AWS_ENDPOINT_URL_EVENTBRIDGE")
    events.put_events(
        Entries=[{"Source": "shop.orders", "DetailType": "placed", "Detail": '{"order": 5}'}]
    )
    [line] = eventually(lambda: got(app, "order"), "the API's line")
    key, source, body = line.split(" ", 2)
    assert (key, source, json.loads(body)) == ("s3cret", "None", {"order": 5})


def test_a_pipes_api_destination_reaches_the_templates_own_api(app: Canaria) -> None:
    sqs = app.env_client("sqs", "AWS_ENDPOINT_URL_SQS")
    url = next(u for u in sqs.list_queues()["QueueUrls"] if "Jobs" in u)
    sqs.send_message(QueueUrl=url, MessageBody='{"id": 12}')
    [line] = eventually(lambda: got(app, "job"), "the API's line")
    key, source, body = line.split(" ", 2)
    assert (key, source, json.loads(body)) == ("s3cret", "pipe", {"job": 12})
