"""Store an order: ``PUT /orders/{id}`` writes the item ``{<KEY_ATTRIBUTE>: id, by: ...}``."""

import json
import os

import boto3

table = boto3.resource("dynamodb").Table(os.environ["TABLE"])


def handler(event, context):
    order = event["pathParameters"]["id"]
    table.put_item(Item={os.environ["KEY_ATTRIBUTE"]: order, "by": context.function_name})
    return {"statusCode": 200, "body": json.dumps({"stored": order})}
