"""What a GraphQL field costs next to a REST route to the same function.

    .venv/bin/python bench/graphql_apis.py [--count 400] [--runs 3]

A real ``canaria up`` (a child process) serves, in the same run:

- ``GET /echo``: a REST API's Lambda proxy to ``Echo`` (the reference);
- ``direct``: a GraphQL field whose resolver is a direct Lambda resolver of ``Echo``
  (no code: the function gets AppSync's context);
- ``js-lambda``: a field whose ``APPSYNC_JS`` pipeline invokes ``Echo`` (the code's
  ``request`` and ``response`` run in canaria's Node.js process around the invocation);
- ``js-none``: a field whose ``APPSYNC_JS`` pipeline answers from a ``NONE`` data source
  (no function at all: the JavaScript runtime's own cost);
- ``js-dynamodb``: a field whose ``APPSYNC_JS`` pipeline reads an item with
  ``@aws-appsync/utils/dynamodb``'s ``get`` (canaria's DynamoDB);
- ``vtl-dynamodb``: the same read as a unit resolver with VTL mapping templates.

Each is called ``--count`` times in turn on one keep-alive connection after a warm-up;
prints a Markdown table of the medians over ``--runs`` of each one's median latency, and
its ratio to the REST route's.
"""

from __future__ import annotations

import argparse
import http.client
import json
import statistics
import tempfile
import textwrap
import time
from pathlib import Path

from up import Up

JS = "Runtime: {Name: APPSYNC_JS, RuntimeVersion: 1.0.0}"
TEMPLATE = textwrap.dedent(
    f"""
    Transform: AWS::Serverless-2016-10-31
    Resources:
      Items:
        Type: AWS::DynamoDB::Table
        Properties:
          TableName: bench-items
          BillingMode: PAY_PER_REQUEST
          AttributeDefinitions: [{{AttributeName: id, AttributeType: S}}]
          KeySchema: [{{AttributeName: id, KeyType: HASH}}]
      Echo:
        Type: AWS::Serverless::Function
        Properties:
          Runtime: python3.11
          CodeUri: src
          Handler: app.echo
          AutoPublishAlias: live
          Events:
            Get: {{Type: Api, Properties: {{Path: /echo, Method: get}}}}
      Api:
        Type: AWS::AppSync::GraphQLApi
        Properties: {{Name: bench, AuthenticationType: API_KEY}}
      Schema:
        Type: AWS::AppSync::GraphQLSchema
        Properties:
          ApiId: !GetAtt Api.ApiId
          Definition: |
            type Query {{ direct: String  jsLambda: String  jsNone: String
                         jsDynamodb: String  vtlDynamodb: String }}
      Key:
        Type: AWS::AppSync::ApiKey
        Properties: {{ApiId: !GetAtt Api.ApiId}}
      EchoSource:
        Type: AWS::AppSync::DataSource
        Properties:
          ApiId: !GetAtt Api.ApiId
          Name: echo
          Type: AWS_LAMBDA
          LambdaConfig: {{LambdaFunctionArn: !Ref Echo.Alias}}
      NoneSource:
        Type: AWS::AppSync::DataSource
        Properties: {{ApiId: !GetAtt Api.ApiId, Name: nothing, Type: NONE}}
      TableSource:
        Type: AWS::AppSync::DataSource
        Properties:
          ApiId: !GetAtt Api.ApiId
          Name: items
          Type: AMAZON_DYNAMODB
          DynamoDBConfig: {{TableName: !Ref Items, AwsRegion: us-east-1}}
      Direct:
        Type: AWS::AppSync::Resolver
        Properties:
          ApiId: !GetAtt Api.ApiId
          TypeName: Query
          FieldName: direct
          DataSourceName: echo
      JsLambda:
        Type: AWS::AppSync::Resolver
        Properties:
          ApiId: !GetAtt Api.ApiId
          TypeName: Query
          FieldName: jsLambda
          DataSourceName: echo
          {JS}
          Code: |
            export function request(ctx) {{ return {{ operation: 'Invoke', payload: {{}} }}; }}
            export function response(ctx) {{ return ctx.result; }}
      JsNone:
        Type: AWS::AppSync::Resolver
        Properties:
          ApiId: !GetAtt Api.ApiId
          TypeName: Query
          FieldName: jsNone
          DataSourceName: nothing
          {JS}
          Code: |
            export function request(ctx) {{ return {{ payload: 'ok' }}; }}
            export function response(ctx) {{ return ctx.result; }}
      JsDynamodb:
        Type: AWS::AppSync::Resolver
        Properties:
          ApiId: !GetAtt Api.ApiId
          TypeName: Query
          FieldName: jsDynamodb
          DataSourceName: items
          {JS}
          Code: |
            import {{ get }} from '@aws-appsync/utils/dynamodb';
            export function request(ctx) {{ return get({{ key: {{ id: 'a1' }} }}); }}
            export function response(ctx) {{ return ctx.result ? 'found' : 'none'; }}
      VtlDynamodb:
        Type: AWS::AppSync::Resolver
        Properties:
          ApiId: !GetAtt Api.ApiId
          TypeName: Query
          FieldName: vtlDynamodb
          DataSourceName: items
          RequestMappingTemplate: >-
            {{"version": "2017-02-28", "operation": "GetItem",
              "key": {{"id": $util.dynamodb.toDynamoDBJson("a1")}}}}
          ResponseMappingTemplate: '#if($ctx.result)"found"#{{else}}"none"#end'
    """
)
APP = """\
def echo(event, context):
    if "httpMethod" in event:  # the REST route: a proxy answer
        return {"statusCode": 200, "body": "ok"}
    return "ok"  # a field's value
"""
FIELDS = ("direct", "jsLambda", "jsNone", "jsDynamodb", "vtlDynamodb")


def rest(conn: http.client.HTTPConnection, count: int) -> list[float]:
    out: list[float] = []
    for _ in range(count):
        t = time.perf_counter()
        conn.request("GET", "/Prod/echo")
        answer = conn.getresponse()
        answer.read()
        if answer.status != 200:
            raise RuntimeError(f"/echo: {answer.status}")
        out.append(time.perf_counter() - t)
    return out


def graphql(conn: http.client.HTTPConnection, key: str, field: str, count: int) -> list[float]:
    body = json.dumps({"query": f"query {{ {field} }}"})
    headers = {"x-api-key": key, "content-type": "application/json"}
    out: list[float] = []
    for _ in range(count):
        t = time.perf_counter()
        conn.request("POST", "/graphql", body, headers)
        answer = conn.getresponse()
        data = json.loads(answer.read())
        if answer.status != 200 or "errors" in data:
            raise RuntimeError(f"{field}: {answer.status} {data}")
        out.append(time.perf_counter() - t)
    return out


def one_run(count: int) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as tmp:
        up = Up(Path(tmp), {"template.yaml": TEMPLATE, "src/app.py": APP})
        [served] = up.starting("graphql ")
        port = int(served.split(":")[2].split("/")[0])
        key = served.rsplit("x-api-key ", 1)[1].rstrip(")\n")
        try:
            gateway = http.client.HTTPConnection("127.0.0.1", up.port, timeout=30)
            api = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            rest(gateway, 30)  # warm environments, clients and the Node.js process
            for field in FIELDS:
                graphql(api, key, field, 30)
            out = {"REST /echo": statistics.median(rest(gateway, count)) * 1000}
            for field in FIELDS:
                out[field] = statistics.median(graphql(api, key, field, count)) * 1000
            gateway.close()
            api.close()
        finally:
            up.stop()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=400)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    runs = []
    for i in range(args.runs):
        result = one_run(args.count)
        runs.append(result)
        print(f"run {i + 1}: " + ", ".join(f"{k} {v:.2f} ms" for k, v in result.items()))
    print(f"\n{args.runs} runs of {args.count} sequential requests each; medians\n")
    print("| request | median latency (ms) | / REST route |")
    print("|---|---:|---:|")
    ref = statistics.median(r["REST /echo"] for r in runs)
    for name in runs[0]:
        value = statistics.median(r[name] for r in runs)
        print(f"| {name} | {value:.2f} | {value / ref:.2f} |")


if __name__ == "__main__":
    main()
