"""sendmessage: post the message's data to every connection, as the event's API names it."""

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
    data = json.loads(event["body"]).get("data", "")
    for item in table.scan(ProjectionExpression="connectionId")["Items"]:
        try:
            api.post_to_connection(ConnectionId=item["connectionId"], Data=data.encode())
        except api.exceptions.GoneException:
            table.delete_item(Key={"connectionId": item["connectionId"]})
    return {"statusCode": 200, "body": "Data sent."}
