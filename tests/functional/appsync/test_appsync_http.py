"""AppSync HTTP data sources through a real `canaria up`: a resolver's request reaches
the template's own REST API (its execute-api URL, signed for ``execute-api``), Step
Functions' synchronous endpoint (``StartSyncExecution`` of an express machine, signed
for ``states``) and a server of the test's on loopback (the query, headers and body as
the resolver wrote them); an endpoint that cannot be reached is the resolver's
``ctx.error``."""

from __future__ import annotations

import json
import threading
import urllib.request
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from canaria.appsync.http import RequestError, outbound, service_of
from canaria.models.appsync import DataSourceSpec
from tests.functional.harness import Canaria, write_app

JS = "Runtime: {Name: APPSYNC_JS, Version: 1.0.0}"

TEMPLATE = f"""\
Transform: AWS::Serverless-2016-10-31
Parameters:
  Outside: {{Type: String}}
Resources:
  Greeter:
    Type: AWS::Serverless::Function
    Properties:
      Runtime: python3.11
      Handler: app.handler
      CodeUri: src/
      Events:
        Greet:
          Type: Api
          Properties: {{Path: "/greet/{{name}}", Method: GET, RestApiId: !Ref Rest}}
  Rest:
    Type: AWS::Serverless::Api
    Properties: {{StageName: v1}}
  Hello:
    Type: AWS::Serverless::StateMachine
    Properties:
      Type: EXPRESS
      Definition:
        StartAt: Say
        States:
          Say:
            Type: Pass
            Parameters: {{"message.$": "States.Format('hello {{}}', $.name)"}}
            End: true
  Api:
    Type: AWS::AppSync::GraphQLApi
    Properties: {{Name: api, AuthenticationType: API_KEY}}
  Key:
    Type: AWS::AppSync::ApiKey
    Properties: {{ApiId: !GetAtt Api.ApiId}}
  Schema:
    Type: AWS::AppSync::GraphQLSchema
    Properties:
      ApiId: !GetAtt Api.ApiId
      Definition: |
        type Query {{
          greet(name: String!): String
          hello(name: String!): String
          echo(text: String!): String
          lost: String
        }}
  RestSource:
    Type: AWS::AppSync::DataSource
    Properties:
      ApiId: !GetAtt Api.ApiId
      Name: rest
      Type: HTTP
      HttpConfig:
        Endpoint: !Sub https://${{Rest}}.execute-api.${{AWS::Region}}.amazonaws.com
        AuthorizationConfig:
          AuthorizationType: AWS_IAM
          AwsIamConfig: {{SigningRegion: !Ref AWS::Region, SigningServiceName: execute-api}}
  StatesSource:
    Type: AWS::AppSync::DataSource
    Properties:
      ApiId: !GetAtt Api.ApiId
      Name: states
      Type: HTTP
      HttpConfig:
        Endpoint: !Sub https://sync-states.${{AWS::Region}}.amazonaws.com/
        AuthorizationConfig:
          AuthorizationType: AWS_IAM
          AwsIamConfig: {{SigningRegion: !Ref AWS::Region, SigningServiceName: states}}
  OutsideSource:
    Type: AWS::AppSync::DataSource
    Properties: {{ApiId: !GetAtt Api.ApiId, Name: outside, Type: HTTP,
                  HttpConfig: {{Endpoint: !Ref Outside}}}}
  LostSource:
    Type: AWS::AppSync::DataSource
    Properties: {{ApiId: !GetAtt Api.ApiId, Name: lost, Type: HTTP,
                  HttpConfig: {{Endpoint: "http://127.0.0.1:9"}}}}
  Greet:
    Type: AWS::AppSync::Resolver
    Properties:
      ApiId: !GetAtt Api.ApiId
      TypeName: Query
      FieldName: greet
      DataSourceName: !GetAtt RestSource.Name
      RequestMappingTemplate: |
        {{"version": "2018-05-29", "method": "GET",
         "resourcePath": "/v1/greet/$ctx.args.name"}}
      ResponseMappingTemplate: |
        #if($ctx.result.statusCode == 200)$util.toJson($util.parseJson($ctx.result.body).text)
        #else$util.error($ctx.result.body, "$ctx.result.statusCode")#end
  Hi:
    Type: AWS::AppSync::Resolver
    Properties:
      ApiId: !GetAtt Api.ApiId
      TypeName: Query
      FieldName: hello
      DataSourceName: !GetAtt StatesSource.Name
      {JS}
      Code: !Sub |
        export function request(ctx) {{
          return {{
            method: 'POST',
            resourcePath: '/',
            params: {{
              headers: {{
                'content-type': 'application/x-amz-json-1.0',
                'x-amz-target': 'AWSStepFunctions.StartSyncExecution',
              }},
              body: {{ stateMachineArn: '${{Hello}}', input: JSON.stringify(ctx.args) }},
            }},
          }};
        }}
        export function response(ctx) {{
          return JSON.parse(JSON.parse(ctx.result.body).output).message;
        }}
  Echo:
    Type: AWS::AppSync::Resolver
    Properties:
      ApiId: !GetAtt Api.ApiId
      TypeName: Query
      FieldName: echo
      DataSourceName: !GetAtt OutsideSource.Name
      {JS}
      Code: |
        export function request(ctx) {{
          return {{
            method: 'PUT',
            resourcePath: '/echo',
            params: {{ query: {{ q: ctx.args.text }}, headers: {{ 'x-note': 'n1' }},
                      body: 'plain ' + ctx.args.text }},
          }};
        }}
        export function response(ctx) {{
          return ctx.result.statusCode + ' ' + ctx.result.body;
        }}
  Lost:
    Type: AWS::AppSync::Resolver
    Properties:
      ApiId: !GetAtt Api.ApiId
      TypeName: Query
      FieldName: lost
      DataSourceName: !GetAtt LostSource.Name
      {JS}
      Code: |
        import {{ util }} from '@aws-appsync/utils';
        export function request(ctx) {{ return {{ method: 'GET', resourcePath: '/' }}; }}
        export function response(ctx) {{
          if (ctx.error) {{ util.error(ctx.error.message, ctx.error.type); }}
          return 'reached';
        }}
"""

HANDLER = """\
import json


def handler(event, context):
    name = event["pathParameters"]["name"]
    return {"statusCode": 200, "body": json.dumps({"text": f"hi {name}"})}
"""


class Recorder:
    """A server of the test's own: it keeps what reaches it and answers 201."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, str, dict[str, str], bytes]] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_PUT(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                outer.seen.append((self.command, self.path, dict(self.headers), body))
                self.send_response(201)
                self.end_headers()
                self.wfile.write(b"kept")

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


@pytest.fixture(scope="module")
def recorder() -> Iterator[Recorder]:
    r = Recorder()
    yield r
    r.server.shutdown()
    r.server.server_close()


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory, recorder: Recorder) -> Iterator[Canaria]:
    tmp = tmp_path_factory.mktemp("appsync-http")
    template = write_app(tmp / "app", {"template.yaml": TEMPLATE, "src/app.py": HANDLER})
    c = Canaria(
        template, tmp / "state", extra=("--parameter-overrides", f"Outside={recorder.url}")
    ).start()
    yield c
    c.stop()


def ask(c: Canaria, query: str) -> Any:
    (api,) = c.status()["graphql"].values()
    (key,) = api["api_keys"]
    request = urllib.request.Request(
        api["url"],
        data=json.dumps({"query": query}).encode(),
        headers={"content-type": "application/json", "x-api-key": key},
    )
    with urllib.request.urlopen(request, timeout=60) as answer:
        return json.loads(answer.read())


def test_a_resolver_calls_the_templates_own_rest_api(app: Canaria) -> None:
    assert ask(app, '{ greet(name: "Ann") }') == {"data": {"greet": "hi Ann"}}


def test_a_resolver_runs_an_express_machine_through_the_sync_endpoint(app: Canaria) -> None:
    assert ask(app, '{ hello(name: "Bo") }') == {"data": {"hello": "hello Bo"}}


def test_a_resolver_calls_any_other_endpoint_as_it_wrote_the_request(
    app: Canaria, recorder: Recorder
) -> None:
    assert ask(app, '{ echo(text: "x y") }') == {"data": {"echo": "201 kept"}}
    [(method, path, headers, body)] = recorder.seen
    assert (method, path, body) == ("PUT", "/echo?q=x+y", b"plain x y")
    assert headers["x-note"] == "n1" and "Authorization" not in headers


def test_an_unreachable_endpoint_is_the_resolvers_error(app: Canaria) -> None:
    answer = ask(app, "{ lost }")
    [error] = answer["errors"]
    assert error["errorType"] == "HTTP:Unreachable"
    assert "127.0.0.1:9" in error["message"]


def test_requests_map_to_this_machines_engines() -> None:
    assert service_of("https://sync-states.us-east-1.amazonaws.com/", None) == "states"
    assert service_of("https://abc123.execute-api.eu-west-1.amazonaws.com", None) == ("execute-api")
    assert service_of("https://sqs.us-east-1.amazonaws.com", "sqs") == "sqs"
    assert service_of("https://example.com", None) is None
    source = DataSourceSpec("s", "HTTP", endpoint="https://example.com/")
    request = outbound(
        source, {"method": "post", "resourcePath": "/a", "params": {"body": {"k": 1}}}
    )
    assert (request.method, request.url, request.body) == (
        "POST",
        "https://example.com/a",
        b'{"k": 1}',
    )
    with pytest.raises(RequestError):
        outbound(source, {"method": "GET", "resourcePath": "a"})
