"""An EventBridge rule whose target is a GraphQL API of the template, through a real
`canaria up` (serverless-patterns' eventbridge-appsync-subscription-sam, reduced): an
event put on the bus runs the target's mutation with its InputTransformer's output as
variables, and a client subscribed over AppSync's real-time protocol receives it."""

from __future__ import annotations

import base64
import json
import time
from pathlib import Path
from typing import Any

from websockets.sync.client import ClientConnection, connect

from tests.functional.harness import Canaria, write_app

TEMPLATE = """\
Transform: AWS::Serverless-2016-10-31
Resources:
  Updates:
    Type: AWS::Serverless::GraphQLApi
    Properties:
      SchemaInline: |
        type Update @aws_iam @aws_api_key { message: String! }
        type Mutation { onEbUpdate(message: String!): Update @aws_iam }
        type Subscription {
          onEbUpdate(message: String): Update @aws_subscribe(mutations: ["onEbUpdate"])
        }
        type Query { ping: String }
      ApiKeys: {TestKey: {Description: test}}
      Auth:
        Type: API_KEY
        Additional: [{Type: AWS_IAM}]
      Functions:
        echo:
          Runtime: {Name: APPSYNC_JS, Version: 1.0.0}
          DataSource: NONE
          InlineCode: |
            export function request(_) { return {}; }
            export function response(ctx) { return ctx.args; }
      Resolvers:
        Mutation:
          onEbUpdate:
            Runtime: {Name: APPSYNC_JS, Version: 1.0.0}
            Pipeline: [echo]
  Bus:
    Type: AWS::Events::EventBus
    Properties: {Name: updates}
  Failures:
    Type: AWS::SQS::Queue
  Rule:
    Type: AWS::Events::Rule
    Properties:
      EventBusName: !GetAtt Bus.Name
      EventPattern: {source: [{exists: true}]}
      Targets:
        - Id: api
          Arn: !GetAtt Updates.GraphQLEndpointArn
          InputTransformer:
            InputPathsMap: {message: $.detail.message}
            InputTemplate: '{"message": <message>}'
          AppSyncParameters:
            GraphQLOperation: >-
              mutation onEbUpdate($message:String!){onEbUpdate(message:$message){message}}
          DeadLetterConfig: {Arn: !GetAtt Failures.Arn}
"""


def realtime(url: str, key: str) -> str:
    host = url.split("/")[2]
    header = base64.b64encode(json.dumps({"host": host, "x-api-key": key}).encode()).decode()
    return url.replace("http://", "ws://") + f"/realtime?header={header}&payload=e30="


def subscribe(socket: ClientConnection, url: str, key: str) -> None:
    socket.send(json.dumps({"type": "connection_init"}))
    assert json.loads(socket.recv(timeout=30))["type"] == "connection_ack"
    query = "subscription { onEbUpdate { message } }"
    auth = {"x-api-key": key, "host": url.split("/")[2]}
    payload = {"data": json.dumps({"query": query}), "extensions": {"authorization": auth}}
    socket.send(json.dumps({"id": "s", "type": "start", "payload": payload}))
    assert json.loads(socket.recv(timeout=30)) == {"type": "start_ack", "id": "s"}


def test_a_rules_event_runs_the_mutation_a_subscriber_receives(tmp_path: Path) -> None:
    c = Canaria(write_app(tmp_path / "app", {"template.yaml": TEMPLATE}), tmp_path / "state")
    c.start()
    try:
        api: dict[str, Any] = c.status()["graphql"]["Updates"]
        url, (key,) = api["url"], api["api_keys"]
        protocols: Any = ["graphql-ws"]
        with connect(realtime(url, key), subprotocols=protocols, open_timeout=30) as socket:
            subscribe(socket, url, key)
            events = c.env_client("events", "AWS_ENDPOINT_URL_EVENTBRIDGE")
            detail = json.dumps({"message": "deployed"})
            entry = {"EventBusName": "updates", "Source": "ci", "DetailType": "x", "Detail": detail}
            events.put_events(Entries=[entry])
            received = json.loads(socket.recv(timeout=60))
        assert received == {
            "type": "data",
            "id": "s",
            "payload": {"data": {"onEbUpdate": {"message": "deployed"}}},
        }
        # an event the operation cannot take (an object for a String) is dead-lettered
        wrong = json.dumps({"message": {"not": "a string"}})
        events.put_events(
            Entries=[
                {"EventBusName": "updates", "Source": "ci", "DetailType": "x", "Detail": wrong}
            ]
        )
        sqs = c.env_client("sqs", "AWS_ENDPOINT_URL_SQS")
        queue = sqs.get_queue_url(QueueName="app-Failures")["QueueUrl"]
        deadline = time.monotonic() + 60
        messages: list[dict[str, Any]] = []
        while not messages and time.monotonic() < deadline:
            got = sqs.receive_message(
                QueueUrl=queue, WaitTimeSeconds=1, MessageAttributeNames=["All"]
            )
            messages = got.get("Messages", [])
        (message,) = messages
        attributes = message["MessageAttributes"]
        assert attributes["ERROR_CODE"]["StringValue"] == "ERROR_FROM_TARGET"
    finally:
        c.stop()
