"""What a method that is not a Lambda proxy costs next to one that is.

    .venv/bin/python bench/integrations.py [--count 400] [--runs 3]

A real ``canaria up`` (a child process) serves one REST API whose OpenAPI definition
has, in the same run:

- ``GET /proxy``: a Lambda proxy to ``Echo`` (the reference);
- ``GET /mapped``: a non-proxy integration of the same function, with a request template
  (``$context``, ``$input.params()``) and a response template;
- ``GET /mock``: a ``MOCK`` with a request and a response template;
- ``GET /item/{id}``: DynamoDB ``GetItem`` called by API Gateway itself (an ``action/``
  integration, signed, to canaria's DynamoDB), its answer shaped by a response template;
- ``GET /fn-item/{id}``: the same read written as most apps would without it, a Lambda
  proxy whose function calls ``GetItem`` with boto3.

Each is called ``--count`` times in turn on one keep-alive connection after a warm-up;
prints a Markdown table of the medians over ``--runs`` of each route's median latency,
and its ratio to the proxy's.
"""

from __future__ import annotations

import argparse
import http.client
import statistics
import tempfile
import textwrap
import time
from pathlib import Path

from up import Up

TEMPLATE = textwrap.dedent(
    """
    Transform: AWS::Serverless-2016-10-31
    Globals:
      Function: {Runtime: python3.11, CodeUri: src, Timeout: 10}
    Resources:
      Items:
        Type: AWS::DynamoDB::Table
        Properties:
          BillingMode: PAY_PER_REQUEST
          AttributeDefinitions: [{AttributeName: id, AttributeType: S}]
          KeySchema: [{AttributeName: id, KeyType: HASH}]
      Echo:
        Type: AWS::Serverless::Function
        Properties: {Handler: app.echo}
      Reader:
        Type: AWS::Serverless::Function
        Properties:
          Handler: app.read
          Environment: {Variables: {ITEMS: !Ref Items}}
      Api:
        Type: AWS::Serverless::Api
        Properties:
          StageName: bench
          DefinitionBody:
            openapi: "3.0.1"
            info: {title: bench, version: "1"}
            paths:
              /proxy:
                get:
                  x-amazon-apigateway-integration:
                    type: aws_proxy
                    httpMethod: POST
                    uri: !Sub FUNCTIONS/${Echo.Arn}/invocations
              /fn-item/{id}:
                get:
                  x-amazon-apigateway-integration:
                    type: aws_proxy
                    httpMethod: POST
                    uri: !Sub FUNCTIONS/${Reader.Arn}/invocations
              /mapped:
                get:
                  x-amazon-apigateway-integration:
                    type: aws
                    httpMethod: POST
                    uri: !Sub FUNCTIONS/${Echo.Arn}/invocations
                    requestTemplates:
                      application/json: >-
                        {"stage": "$context.stage", "params": "$input.params()",
                        "id": "$context.requestId"}
                    responses:
                      default:
                        statusCode: "200"
                        responseTemplates:
                          application/json: '{"body": $input.json(''$.body'')}'
              /mock:
                get:
                  x-amazon-apigateway-integration:
                    type: mock
                    requestTemplates: {application/json: '{"statusCode": 200}'}
                    responses:
                      default:
                        statusCode: "200"
                        responseTemplates:
                          application/json: '{"status": "ok", "stage": "$context.stage"}'
              /item/{id}:
                get:
                  x-amazon-apigateway-integration:
                    type: aws
                    httpMethod: POST
                    uri: !Sub arn:aws:apigateway:${AWS::Region}:dynamodb:action/GetItem
                    requestTemplates:
                      application/json: !Sub >-
                        {"TableName": "${Items}", "Key": {"id": {"S": "$input.params('id')"}}}
                    responses:
                      default:
                        statusCode: "200"
                        responseTemplates:
                          application/json: >-
                            {"found": #if("$!input.path('$.Item')" == "")false#{else}true#end}
    """
).replace("FUNCTIONS", "arn:aws:apigateway:${AWS::Region}:lambda:path/2015-03-31/functions")
APP = textwrap.dedent(
    """
    import json, os
    import boto3

    table = boto3.client("dynamodb")

    def echo(event, context):
        return {"statusCode": 200, "body": "ok"}

    def read(event, context):
        key = {"id": {"S": event["pathParameters"]["id"]}}
        found = table.get_item(TableName=os.environ["ITEMS"], Key=key)
        return {"statusCode": 200, "body": json.dumps({"found": "Item" in found})}
    """
)
ROUTES = ("/proxy", "/mapped", "/mock", "/item/a1", "/fn-item/a1")


def latencies(conn: http.client.HTTPConnection, path: str, count: int) -> list[float]:
    out: list[float] = []
    for _ in range(count):
        t = time.perf_counter()
        conn.request("GET", "/bench" + path)
        answer = conn.getresponse()
        answer.read()
        if answer.status != 200:
            raise RuntimeError(f"{path}: {answer.status}")
        out.append(time.perf_counter() - t)
    return out


def one_run(count: int) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as tmp:
        up = Up(Path(tmp), {"template.yaml": TEMPLATE, "src/app.py": APP})
        try:
            conn = http.client.HTTPConnection("127.0.0.1", up.port, timeout=10)
            for path in ROUTES:
                latencies(conn, path, 30)  # warm environments and clients
            out = {path: statistics.median(latencies(conn, path, count)) * 1000 for path in ROUTES}
            conn.close()
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
    med = {k: statistics.median(r[k] for r in runs) for k in ROUTES}
    names = {
        "/proxy": "Lambda proxy (the reference)",
        "/mapped": "the same function, non-proxy with request and response templates",
        "/mock": "`MOCK` with request and response templates",
        "/item/a1": "DynamoDB `GetItem` action, response template",
        "/fn-item/a1": "the same read in a Lambda proxy function (boto3)",
    }
    print()
    print("| route | p50 | / proxy |")
    print("|---|---:|---:|")
    for path in ROUTES:
        print(f"| {names[path]} | {med[path]:.2f} ms | {med[path] / med['/proxy']:.2f}× |")


if __name__ == "__main__":
    main()
