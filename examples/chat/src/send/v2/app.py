"""sendmessage, v2: a refactor that reads the wrong field and fails on every message."""

import json
import os

import boto3

table = boto3.resource("dynamodb").Table(os.environ["CONNECTIONS"])


def handler(event, context):
    ctx = event["requestContext"]
    api = boto3.client(
        "apigatewaymanagementapi",
        endpoint_url=f"https://{ctx['domainName']}/{ctx['stage']}",
    )
    data = json.loads(event["body"])["message"]  # the clients send "data"
    for item in table.scan(ProjectionExpression="connectionId")["Items"]:
        api.post_to_connection(ConnectionId=item["connectionId"], Data=data.encode())
    return {"statusCode": 200, "body": "Data sent."}
