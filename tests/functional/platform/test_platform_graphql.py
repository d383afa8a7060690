"""GraphQL APIs (AppSync) through a real `canaria up`: a port of their own, API keys and
SigV4, APPSYNC_JS pipelines on DynamoDB, NONE and Lambda data sources, AppSync's error
shapes, a direct Lambda resolver written as AppSync's own resources, invocations through
the alias the data source names (and judged there), the port kept across a restart."""

from __future__ import annotations

import base64
import json
import socket
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from websockets.exceptions import InvalidStatus
from websockets.sync.client import ClientConnection, connect

from canaria.auth import access_key_id, secret_access_key
from tests.functional.harness import Canaria, copy_example, write_app

JS = "Runtime: {Name: APPSYNC_JS, Version: 1.0.0}"

TEMPLATE = f"""\
AWSTemplateFormatVersion: "2010-09-09"
Transform: AWS::Serverless-2016-10-31
Resources:
  Notes:
    Type: AWS::DynamoDB::Table
    Properties:
      BillingMode: PAY_PER_REQUEST
      AttributeDefinitions: [{{AttributeName: id, AttributeType: S}}]
      KeySchema: [{{AttributeName: id, KeyType: HASH}}]
  Shout:
    Type: AWS::Serverless::Function
    Properties:
      Handler: app.handler
      Runtime: python3.11
      CodeUri: src
      AutoPublishAlias: live
      DeploymentPreference: {{Type: AllAtOnce}}
      Environment: {{Variables: {{GRAPHQL_URL: !GetAtt NotesApi.GraphQLUrl}}}}
  NotesApi:
    Type: AWS::Serverless::GraphQLApi
    Properties:
      SchemaUri: schema.graphql
      Auth:
        Type: API_KEY
        Additional: [{{Type: AWS_IAM}}]
      ApiKeys:
        Key: {{}}
      DataSources:
        DynamoDb:
          NotesSource: {{TableName: !Ref Notes, TableArn: !GetAtt Notes.Arn}}
        Lambda:
          ShoutSource: {{FunctionArn: !Ref Shout.Alias}}
      Functions:
        stamp: {{{JS}, DataSource: NONE, CodeUri: resolvers/stamp.js}}
        saveNote: {{{JS}, DataSource: NotesSource, CodeUri: resolvers/saveNote.js}}
        getNote: {{{JS}, DataSource: NotesSource, CodeUri: resolvers/getNote.js}}
        shout: {{{JS}, DataSource: ShoutSource, CodeUri: resolvers/shout.js}}
      Resolvers:
        Mutation:
          saveNote: {{{JS}, Pipeline: [stamp, saveNote]}}
        Query:
          note: {{{JS}, Pipeline: [getNote]}}
          shout: {{{JS}, Pipeline: [shout]}}
Outputs:
  Url: {{Value: !GetAtt NotesApi.GraphQLUrl}}
  Key: {{Value: !GetAtt NotesApiKey.ApiKey}}
"""

SCHEMA = """\
type Note @aws_api_key @aws_iam {
  id: ID!
  text: String!
  stampedAt: AWSDateTime
  meta: AWSJSON
}

type Query {
  note(id: ID!): Note
  shout(text: String!): String @aws_api_key @aws_iam
}

type Mutation {
  saveNote(id: ID!, text: String!, meta: AWSJSON): Note @aws_api_key @aws_iam
}

type Subscription {
  onSaveNote(id: ID): Note @aws_subscribe(mutations: ["saveNote"])
}

schema {
  query: Query
  mutation: Mutation
  subscription: Subscription
}
"""

STAMP = """\
import { util } from '@aws-appsync/utils';

export function request(ctx) {
  ctx.stash.now = util.time.nowISO8601();
  return { payload: null };
}

export function response(ctx) {
  return ctx.prev.result;
}
"""

SAVE = """\
import { util } from '@aws-appsync/utils';
import { put } from '@aws-appsync/utils/dynamodb';

export function request(ctx) {
  const { id, text, meta } = ctx.args;
  if (text.length === 0) {
    util.error('text is empty', 'BadInput', null, { field: 'text' });
  }
  const item = { text, stampedAt: ctx.stash.now, meta: JSON.stringify(meta ?? null) };
  return put({ key: { id }, item });
}

export function response(ctx) {
  if (ctx.error) {
    util.error(ctx.error.message, ctx.error.type);
  }
  return { ...ctx.result, meta: JSON.parse(ctx.result.meta) };
}
"""

GET = """\
import { get } from '@aws-appsync/utils/dynamodb';

export function request(ctx) {
  return get({ key: { id: ctx.args.id } });
}

export function response(ctx) {
  if (!ctx.result) {
    return null;
  }
  return { ...ctx.result, meta: JSON.parse(ctx.result.meta) };
}
"""

SHOUT = """\
import { util } from '@aws-appsync/utils';

export function request(ctx) {
  return { operation: 'Invoke', payload: { text: ctx.args.text } };
}

export function response(ctx) {
  if (ctx.error) {
    util.error(ctx.error.message, ctx.error.type);
  }
  return ctx.result;
}
"""

HANDLER = """\
import json
import os
import urllib.request


def relay():
    # a function calling its own API with its role's credentials, signed for appsync,
    # as AWS's examples do (botocore's SigV4Auth)
    import boto3
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest

    query = 'mutation { saveNote(id: "relayed", text: "from a function") { id } }'
    body = json.dumps({"query": query})
    url = os.environ["GRAPHQL_URL"]
    request = AWSRequest(method="POST", url=url, data=body,
                         headers={"content-type": "application/json"})
    SigV4Auth(boto3.Session().get_credentials(), "appsync", "us-east-1").add_auth(request)
    signed = urllib.request.Request(url, data=body.encode(), headers=dict(request.headers))
    with urllib.request.urlopen(signed, timeout=30) as answer:
        return json.loads(answer.read())["data"]["saveNote"]["id"]


def handler(event, context):
    if event.get("text") == "relay":
        return relay()
    if event.get("text") == "boom":
        raise ValueError("no boom here")
    if "arguments" in event:  # a direct Lambda resolver: AppSync's whole context
        return {"id": event["arguments"]["id"], "by": event["info"]["fieldName"],
                "qualifier": context.invoked_function_arn.rsplit(":", 1)[1]}
    return event["text"].upper() + "!" + context.invoked_function_arn.rsplit(":", 1)[1]
"""

FILES = {
    "template.yaml": TEMPLATE,
    "schema.graphql": SCHEMA,
    "resolvers/stamp.js": STAMP,
    "resolvers/saveNote.js": SAVE,
    "resolvers/getNote.js": GET,
    "resolvers/shout.js": SHOUT,
    "src/app.py": HANDLER,
}


@pytest.fixture
def app(tmp_path: Path) -> Iterator[Canaria]:
    template = write_app(tmp_path / "app", FILES)
    c = Canaria(template, tmp_path / "state").start()
    yield c
    c.stop()


def api_of(c: Canaria, name: str = "NotesApi") -> tuple[str, str]:
    apis: dict[str, Any] = c.status()["graphql"]
    assert list(apis) == [name], apis
    (key,) = apis[name]["api_keys"]
    return apis[name]["url"], key


def post(
    url: str, query: str, variables: dict[str, Any] | None = None, **headers: str
) -> tuple[int, Any]:
    body = json.dumps({"query": query, "variables": variables or {}}).encode()
    request = urllib.request.Request(
        url, data=body, method="POST", headers={"content-type": "application/json", **headers}
    )
    try:
        with urllib.request.urlopen(request, timeout=60) as answer:
            return answer.status, json.loads(answer.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


SAVE_NOTE = """
mutation Save($id: ID!, $text: String!, $meta: AWSJSON) {
  saveNote(id: $id, text: $text, meta: $meta) { id text stampedAt meta }
}"""


def test_a_graphql_api_runs_its_js_pipelines_on_dynamodb_none_and_lambda(app: Canaria) -> None:
    url, key = api_of(app)
    assert key.startswith("da2-")
    status, answer = post(
        url,
        SAVE_NOTE,
        {"id": "n1", "text": "hello", "meta": '{"tags": ["a"]}'},
        **{"x-api-key": key},
    )
    assert status == 200, answer
    saved = answer["data"]["saveNote"]
    assert saved["id"] == "n1" and saved["text"] == "hello"
    assert saved["stampedAt"].endswith("Z")  # the NONE function's stash, seen by the next
    assert json.loads(saved["meta"]) == {"tags": ["a"]}  # AWSJSON: JSON text on the wire
    assert "errors" not in answer
    # the item is in the table, as a client of the DynamoDB endpoint sees it
    table = app.env_client("dynamodb", "AWS_ENDPOINT_URL_DYNAMODB")
    (name,) = table.list_tables()["TableNames"]
    item = table.get_item(TableName=name, Key={"id": {"S": "n1"}})["Item"]
    assert item["text"] == {"S": "hello"}
    status, answer = post(
        url,
        'query { note(id: "n1") { text meta } missing: note(id: "x") { id } }',
        **{"x-api-key": key},
    )
    assert answer == {
        "data": {"note": {"text": "hello", "meta": '{"tags":["a"]}'}, "missing": None}
    }
    # a function invoked through the alias its data source names
    status, answer = post(url, 'query { shout(text: "hi") }', **{"x-api-key": key})
    assert answer == {"data": {"shout": "HI!live"}}
    # the function's GRAPHQL_URL (!GetAtt NotesApi.GraphQLUrl) is where canaria serves it
    answer = post(url, 'query { shout(text: "relay") }', **{"x-api-key": key})[1]
    assert answer == {"data": {"shout": "relayed"}}
    answer = post(url, 'query { note(id: "relayed") { text } }', **{"x-api-key": key})[1]
    assert answer == {"data": {"note": {"text": "from a function"}}}


def test_errors_come_back_in_appsyncs_shape(app: Canaria) -> None:
    url, key = api_of(app)
    status, answer = post(url, SAVE_NOTE, {"id": "n2", "text": ""}, **{"x-api-key": key})
    assert status == 200
    assert answer["data"] == {"saveNote": None}
    (error,) = answer["errors"]
    assert error["errorType"] == "BadInput" and error["message"] == "text is empty"
    assert error["path"] == ["saveNote"] and error["errorInfo"] == {"field": "text"}
    status, answer = post(url, 'query { shout(text: "boom") }', **{"x-api-key": key})
    (error,) = answer["errors"]
    assert error["errorType"] == "Lambda:Unhandled" and "no boom here" in error["message"]
    status, answer = post(url, "query { nothing }", **{"x-api-key": key})
    assert answer["data"] is None and "nothing" in answer["errors"][0]["message"]
    assert answer["errors"][0]["locations"] == [{"line": 1, "column": 9, "sourceName": None}]
    assert post(url, "query { note(id: 1) { id } }", **{"x-api-key": "da2-wrong"})[0] == 401
    status, answer = post(url, "query { note(id: 1) { id } }")
    assert status == 401 and answer["errors"][0]["errorType"] == "UnauthorizedException"
    # variables written as JSON text, as serverless-patterns' curl examples send them
    body = json.dumps(
        {"query": "query Q($id: ID!) { note(id: $id) { id } }", "variables": '{"id": "x"}'}
    )
    request = urllib.request.Request(url, data=body.encode(), headers={"x-api-key": key})
    with urllib.request.urlopen(request, timeout=30) as answer:
        assert json.loads(answer.read()) == {"data": {"note": None}}
    # a body over AppSync's 1 MB is refused from its Content-Length, before it is read
    host, port = url.split("/")[2].split(":")
    with socket.create_connection((host, int(port)), timeout=30) as raw:
        raw.sendall(
            b"POST /graphql HTTP/1.1\r\nHost: x\r\nContent-Length: 1100000\r\n"
            + f"x-api-key: {key}\r\n\r\n".encode()
        )
        assert raw.recv(4096).startswith(b"HTTP/1.1 400 ")
    request = urllib.request.Request(
        url, data=b"{not json", method="POST", headers={"x-api-key": key}
    )
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request, timeout=30)
    assert refused.value.code == 400


def test_a_request_signed_by_canarias_keys_passes_aws_iam(app: Canaria) -> None:
    url, _ = api_of(app)
    token = app.token()
    body = json.dumps({"query": 'query { shout(text: "iam") }'})
    request = AWSRequest(
        method="POST", url=url, data=body, headers={"content-type": "application/json"}
    )
    credentials = Credentials(access_key_id(token), secret_access_key(token))
    SigV4Auth(credentials, "appsync", "us-east-1").add_auth(request)
    signed = urllib.request.Request(url, data=body.encode(), headers=dict(request.headers))
    with urllib.request.urlopen(signed, timeout=60) as answer:
        assert json.loads(answer.read()) == {"data": {"shout": "IAM!live"}}
    # a field without @aws_iam (nor its type) is the default mode's (API_KEY) only
    body = json.dumps({"query": 'query { note(id: "x") { id } }'})
    request = AWSRequest(
        method="POST", url=url, data=body, headers={"content-type": "application/json"}
    )
    SigV4Auth(credentials, "appsync", "us-east-1").add_auth(request)
    signed = urllib.request.Request(url, data=body.encode(), headers=dict(request.headers))
    with urllib.request.urlopen(signed, timeout=60) as answer:
        denied = json.loads(answer.read())
    assert denied["data"] == {"note": None}
    assert denied["errors"][0]["errorType"] == "Unauthorized"
    assert denied["errors"][0]["message"] == "Not Authorized to access note on type Query"
    SigV4Auth(Credentials("AKIANOTCANARIAS00000", "x" * 40), "appsync", "us-east-1").add_auth(
        wrong := AWSRequest(
            method="POST", url=url, data=body, headers={"content-type": "application/json"}
        )
    )
    refused = urllib.request.Request(url, data=body.encode(), headers=dict(wrong.headers))
    with pytest.raises(urllib.error.HTTPError) as exc:
        urllib.request.urlopen(refused, timeout=30)
    assert exc.value.code == 401


CFN_TEMPLATE = """\
AWSTemplateFormatVersion: "2010-09-09"
Transform: AWS::Serverless-2016-10-31
Resources:
  Shout:
    Type: AWS::Serverless::Function
    Properties:
      Handler: app.handler
      Runtime: python3.11
      CodeUri: src
      AutoPublishAlias: live
      DeploymentPreference: {Type: AllAtOnce}
  Api:
    Type: AWS::AppSync::GraphQLApi
    Properties: {Name: things, AuthenticationType: API_KEY}
  Schema:
    Type: AWS::AppSync::GraphQLSchema
    Properties:
      ApiId: !GetAtt Api.ApiId
      Definition: |
        type Thing { id: ID! by: String qualifier: String }
        type Query { thing(id: ID!): Thing }
  Key:
    Type: AWS::AppSync::ApiKey
    Properties: {ApiId: !GetAtt Api.ApiId}
  Source:
    Type: AWS::AppSync::DataSource
    Properties:
      ApiId: !GetAtt Api.ApiId
      Name: shout
      Type: AWS_LAMBDA
      LambdaConfig: {LambdaFunctionArn: !Ref Shout.Alias}
  ThingResolver:
    Type: AWS::AppSync::Resolver
    DependsOn: Schema
    Properties:
      ApiId: !GetAtt Api.ApiId
      TypeName: Query
      FieldName: thing
      DataSourceName: !GetAtt Source.Name
"""


def test_appsyncs_own_resources_serve_a_direct_lambda_resolver_on_a_kept_port(
    tmp_path: Path,
) -> None:
    template = write_app(tmp_path / "app", {"template.yaml": CFN_TEMPLATE, "src/app.py": HANDLER})
    c = Canaria(template, tmp_path / "state").start()
    try:
        url, key = api_of(c, "Api")
        query = 'query { thing(id: "t1") { id by qualifier } }'
        answer = post(url, query, **{"x-api-key": key})[1]
        assert answer == {"data": {"thing": {"id": "t1", "by": "thing", "qualifier": "live"}}}
        c.stop()
        c.start()
        assert api_of(c, "Api") == (url, key)  # the same port, the same key
        assert post(url, query, **{"x-api-key": key})[1] == answer
        # the API goes with its resources
        c.template.write_text(CFN_TEMPLATE.split("  Api:\n")[0])
        r = c.cli("deploy", "-t", str(c.template), "--json")
        assert r.returncode == 0, r.stdout + r.stderr
        assert c.status()["graphql"] == {}
        with pytest.raises(OSError):
            post(url, query, **{"x-api-key": key})
    finally:
        c.stop()


def realtime_url(url: str, key: str) -> str:
    """The real-time endpoint with the authorization AWS's clients connect with."""
    host = url.split("/")[2]
    header = base64.b64encode(json.dumps({"host": host, "x-api-key": key}).encode()).decode()
    return url.replace("http://", "ws://") + f"/realtime?header={header}&payload=e30="


def handshake(socket: ClientConnection) -> None:
    socket.send(json.dumps({"type": "connection_init"}))
    ack = json.loads(socket.recv(timeout=30))
    assert ack == {"type": "connection_ack", "payload": {"connectionTimeoutMs": 300000}}


def start(socket: ClientConnection, sub_id: str, query: str, key: str, host: str) -> Any:
    data = json.dumps({"query": query, "variables": {}})
    auth = {"x-api-key": key, "host": host}
    message = {
        "id": sub_id,
        "type": "start",
        "payload": {"data": data, "extensions": {"authorization": auth}},
    }
    socket.send(json.dumps(message))
    return json.loads(socket.recv(timeout=30))


def test_subscriptions_get_the_mutations_they_name_over_the_real_time_protocol(
    app: Canaria,
) -> None:
    url, key = api_of(app)
    host = url.split("/")[2]
    protocols: Any = ["graphql-ws"]
    with connect(realtime_url(url, key), subprotocols=protocols, open_timeout=30) as socket:
        handshake(socket)
        one = 'subscription { onSaveNote(id: "n9") { id text } }'
        assert start(socket, "one", one, key, host) == {"type": "start_ack", "id": "one"}
        every = "subscription { onSaveNote { text } }"
        assert start(socket, "every", every, key, host) == {"type": "start_ack", "id": "every"}
        other = 'subscription { onSaveNote(id: "other") { id } }'
        assert start(socket, "other", other, key, host) == {"type": "start_ack", "id": "other"}
        refused = start(socket, "bad", "subscription { nope }", key, host)
        assert refused["type"] == "error" and refused["id"] == "bad"
        wrong_key = start(socket, "key", every, "da2-wrong", host)
        assert wrong_key["payload"]["errors"][0]["errorType"] == "UnauthorizedException"
        status, _ = post(url, SAVE_NOTE, {"id": "n9", "text": "hey"}, **{"x-api-key": key})
        assert status == 200
        received = {m["id"]: m for m in (json.loads(socket.recv(timeout=30)) for _ in range(2))}
        assert received == {
            "one": {
                "type": "data",
                "id": "one",
                "payload": {"data": {"onSaveNote": {"id": "n9", "text": "hey"}}},
            },
            "every": {
                "type": "data",
                "id": "every",
                "payload": {"data": {"onSaveNote": {"text": "hey"}}},
            },
        }
        socket.send(json.dumps({"type": "stop", "id": "one"}))
        assert json.loads(socket.recv(timeout=30)) == {"type": "complete", "id": "one"}
        post(url, SAVE_NOTE, {"id": "n9", "text": "again"}, **{"x-api-key": key})
        assert json.loads(socket.recv(timeout=30))["id"] == "every"  # "one" stopped
    with pytest.raises(InvalidStatus):  # noqa: SIM117 - the refusal is the connect's
        with connect(realtime_url(url, "da2-wrong"), subprotocols=protocols, open_timeout=30):
            pass


def judged_after(c: Canaria, deployment: str, url: str, key: str, query: str) -> None:
    """One ``query`` per virtual second while the deployment sends traffic to its canary;
    the judge must stop it, rolled back, after a handful of failed requests."""
    d, failed = c.serve_canary(
        deployment, lambda: "errors" in post(url, query, **{"x-api-key": key})[1]
    )
    assert d["state"] == "Stopped" and d["rolled_back"], d
    assert d["stopped_by"].startswith("judge"), d
    assert 1 <= failed <= 10, failed


def test_a_canary_serving_a_resolver_is_judged_on_its_graphql_requests(tmp_path: Path) -> None:
    """A resolver's data source names the function's alias: a canary release of it gets its
    share of the field's requests, and the judge rolls it back on their failures."""
    template = CFN_TEMPLATE.replace(
        "DeploymentPreference: {Type: AllAtOnce}",
        "DeploymentPreference: {Type: Canary10Percent5Minutes}",
    )
    c = Canaria(
        write_app(tmp_path / "app", {"template.yaml": template, "src/app.py": HANDLER}),
        tmp_path / "state",
    ).start()
    try:
        url, key = api_of(c, "Api")
        (c.template.parent / "src/app.py").write_text(
            HANDLER.replace(
                "    if event.get", "    raise RuntimeError('v2 is broken')\n    if event.get"
            )
        )
        r = c.cli("deploy", "-t", str(c.template), "--json")
        assert r.returncode == 0, r.stdout + r.stderr
        deployment = json.loads(r.stdout)["deployments"][0]["id"]
        judged_after(c, deployment, url, key, 'query { thing(id: "t") { id } }')
        answer = post(url, 'query { thing(id: "t") { qualifier } }', **{"x-api-key": key})[1]
        assert answer == {"data": {"thing": {"qualifier": "live"}}}
        assert c.alias("Shout")["split"] == {"1": 1.0}
    finally:
        c.stop()


VTL_TEMPLATE = """\
AWSTemplateFormatVersion: "2010-09-09"
Transform: AWS::Serverless-2016-10-31
Resources:
  Items:
    Type: AWS::DynamoDB::Table
    Properties:
      BillingMode: PAY_PER_REQUEST
      AttributeDefinitions: [{AttributeName: id, AttributeType: S}]
      KeySchema: [{AttributeName: id, KeyType: HASH}]
  Gate:
    Type: AWS::Serverless::Function
    Properties:
      Handler: app.authorize
      Runtime: python3.11
      CodeUri: src
  Api:
    Type: AWS::AppSync::GraphQLApi
    Properties:
      Name: items
      AuthenticationType: AWS_LAMBDA
      LambdaAuthorizerConfig: {AuthorizerUri: !GetAtt Gate.Arn, AuthorizerResultTtlInSeconds: 0}
  Schema:
    Type: AWS::AppSync::GraphQLSchema
    Properties:
      ApiId: !GetAtt Api.ApiId
      Definition: |
        type Item { id: ID! name: String }
        type Query { whoami: String  item(id: ID!): Item }
        type Mutation { putItem(id: ID!, name: String!): Item }
  Local:
    Type: AWS::AppSync::DataSource
    Properties: {ApiId: !GetAtt Api.ApiId, Name: local, Type: NONE}
  Table:
    Type: AWS::AppSync::DataSource
    Properties:
      ApiId: !GetAtt Api.ApiId
      Name: table
      Type: AMAZON_DYNAMODB
      DynamoDBConfig: {TableName: !Ref Items, AwsRegion: !Ref AWS::Region}
  WhoAmI:
    Type: AWS::AppSync::Resolver
    Properties:
      ApiId: !GetAtt Api.ApiId
      TypeName: Query
      FieldName: whoami
      DataSourceName: !GetAtt Local.Name
      RequestMappingTemplate: |
        {"version": "2018-05-29", "payload": $util.toJson($ctx.identity.resolverContext.user)}
      ResponseMappingTemplate: $util.toJson($ctx.result)
  PutItem:
    Type: AWS::AppSync::Resolver
    Properties:
      ApiId: !GetAtt Api.ApiId
      TypeName: Mutation
      FieldName: putItem
      DataSourceName: !GetAtt Table.Name
      RequestMappingTemplate: |
        {
          "version": "2017-02-28",
          "operation": "PutItem",
          "key": {"id": $util.dynamodb.toDynamoDBJson($ctx.args.id)},
          "attributeValues": $util.dynamodb.toMapValuesJson($ctx.args)
        }
      ResponseMappingTemplate: $util.toJson($ctx.result)
  GetItem:
    Type: AWS::AppSync::Resolver
    Properties:
      ApiId: !GetAtt Api.ApiId
      TypeName: Query
      FieldName: item
      DataSourceName: !GetAtt Table.Name
      RequestMappingTemplate: |
        {"version": "2017-02-28", "operation": "GetItem",
         "key": {"id": $util.dynamodb.toDynamoDBJson($ctx.args.id)}}
      ResponseMappingTemplate: $util.toJson($ctx.result)
"""

GATE = """\
def authorize(event, context):
    return {
        "isAuthorized": event["authorizationToken"] == "letmein",
        "resolverContext": {"user": "ada"},
    }
"""


def test_vtl_resolvers_and_a_lambda_authorizer(tmp_path: Path) -> None:
    template = write_app(tmp_path / "app", {"template.yaml": VTL_TEMPLATE, "src/app.py": GATE})
    c = Canaria(template, tmp_path / "state").start()
    try:
        url = c.status()["graphql"]["Api"]["url"]
        assert post(url, "query { whoami }")[0] == 401  # no Authorization header
        status, answer = post(url, "query { whoami }", authorization="wrong")
        assert status == 401 and answer["errors"][0]["errorType"] == "UnauthorizedException"
        assert post(url, "query { whoami }", authorization="letmein")[1] == {
            "data": {"whoami": "ada"}  # the authorizer's resolverContext, read by VTL
        }
        saved = post(
            url, 'mutation { putItem(id: "i1", name: "lamp") { id name } }', authorization="letmein"
        )[1]
        assert saved == {"data": {"putItem": {"id": "i1", "name": "lamp"}}}
        found = post(url, 'query { item(id: "i1") { name } }', authorization="letmein")[1]
        assert found == {"data": {"item": {"name": "lamp"}}}
    finally:
        c.stop()


COGNITO_TEMPLATE = """\
AWSTemplateFormatVersion: "2010-09-09"
Transform: AWS::Serverless-2016-10-31
Resources:
  Users:
    Type: AWS::Cognito::UserPool
    Properties:
      UserPoolName: graphql-users
      UsernameAttributes: [email]
  UsersClient:
    Type: AWS::Cognito::UserPoolClient
    Properties:
      UserPoolId: !Ref Users
      ExplicitAuthFlows: [ALLOW_USER_PASSWORD_AUTH, ALLOW_REFRESH_TOKEN_AUTH]
  Api:
    Type: AWS::Serverless::GraphQLApi
    Properties:
      SchemaInline: "type Query { me: String }"
      Auth:
        Type: AMAZON_COGNITO_USER_POOLS
        UserPool: {UserPoolId: !Ref Users, AwsRegion: us-east-1, DefaultAction: ALLOW}
      Functions:
        me:
          Runtime: {Name: APPSYNC_JS, Version: 1.0.0}
          DataSource: NONE
          InlineCode: |
            export function request(ctx) { return { payload: ctx.identity.username }; }
            export function response(ctx) { return ctx.result; }
      Resolvers:
        Query:
          me: {Runtime: {Name: APPSYNC_JS, Version: 1.0.0}, Pipeline: [me]}
"""


def test_a_user_pool_token_is_checked_with_the_pools_keys(tmp_path: Path) -> None:
    template = write_app(tmp_path / "app", {"template.yaml": COGNITO_TEMPLATE})
    c = Canaria(template, tmp_path / "state").start()
    try:
        url = c.status()["graphql"]["Api"]["url"]
        admin = c.env_client("cognito-idp", "AWS_ENDPOINT_URL_COGNITO_IDENTITY_PROVIDER")
        (pool,) = admin.list_user_pools(MaxResults=10)["UserPools"]
        (client,) = admin.list_user_pool_clients(UserPoolId=pool["Id"])["UserPoolClients"]
        password = "Correct-Horse-9-battery"
        admin.sign_up(ClientId=client["ClientId"], Username="ann@example.com", Password=password)
        admin.admin_confirm_sign_up(UserPoolId=pool["Id"], Username="ann@example.com")
        tokens = admin.initiate_auth(
            ClientId=client["ClientId"],
            AuthFlow="USER_PASSWORD_AUTH",
            AuthParameters={"USERNAME": "ann@example.com", "PASSWORD": password},
        )["AuthenticationResult"]
        answer = post(url, "query { me }", authorization=tokens["IdToken"])[1]
        assert answer["data"]["me"]  # the token's cognito:username
        head, payload, signature = tokens["IdToken"].split(".")
        forged = f"{head}.{payload}.{signature[:-4]}AAAA"
        assert post(url, "query { me }", authorization=forged)[0] == 401
        assert post(url, "query { me }")[0] == 401
    finally:
        c.stop()


def test_the_tasks_walkthrough(tmp_path: Path) -> None:
    """README's walkthrough: tasks added and listed with their estimates, a subscriber
    told of each, then Estimate v2 (failing) rolled back by the judge on the estimate
    field's requests."""
    app = copy_example("tasks", tmp_path)
    c = Canaria(app / "template.yaml", tmp_path / "state").start()
    try:
        url, key = api_of(c, "TasksApi")
        protocols: Any = ["graphql-ws"]
        with connect(realtime_url(url, key), subprotocols=protocols, open_timeout=30) as socket:
            handshake(socket)
            watch = "subscription { onAddTask { id title } }"
            assert start(socket, "w", watch, key, url.split("/")[2])["type"] == "start_ack"
            add = 'mutation { addTask(title: "write the release notes") { id title estimate } }'
            added = post(url, add, **{"x-api-key": key})[1]["data"]["addTask"]
            assert added["estimate"] == 4
            event = json.loads(socket.recv(timeout=30))
            assert event["payload"]["data"]["onAddTask"] == {
                "id": added["id"],
                "title": added["title"],
            }
        empty = post(url, 'mutation { addTask(title: " ") { id } }', **{"x-api-key": key})[1]
        assert empty["errors"][0]["errorType"] == "BadRequest"
        r = c.cli(
            "deploy", "-t", str(c.template), "--parameter-overrides", "AppVersion=v2", "--json"
        )
        assert r.returncode == 0, r.stdout + r.stderr
        deployment = json.loads(r.stdout)["deployments"][0]["id"]
        judged_after(c, deployment, url, key, "{ tasks { estimate } }")
        assert c.alias("Estimate")["split"] == {"1": 1.0}
    finally:
        c.stop()
