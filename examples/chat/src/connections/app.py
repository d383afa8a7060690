"""$connect and $disconnect keep the connection ids; $default tells a sender how to chat."""

import json
import os

import boto3

table = boto3.resource("dynamodb").Table(os.environ["CONNECTIONS"])


def on_connect(event, context):
    table.put_item(Item={"connectionId": event["requestContext"]["connectionId"]})
    return {"statusCode": 200}


def on_disconnect(event, context):
    table.delete_item(Key={"connectionId": event["requestContext"]["connectionId"]})
    return {"statusCode": 200}


def usage(event, context):
    hint = {"error": "unknown action", "use": {"action": "sendmessage", "data": "..."}}
    return {"statusCode": 200, "body": json.dumps(hint)}
