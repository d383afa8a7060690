"""Drains the intake queue: each order (the body POST /orders sent) becomes an item."""

import json
import os

import boto3

table = boto3.resource("dynamodb").Table(os.environ["ORDERS"])


def handler(event, context):
    for record in event["Records"]:
        order = json.loads(record["body"])
        table.put_item(
            Item={
                "id": str(order["id"]),
                "item": str(order["item"]),
                "quantity": int(order.get("quantity", 1)),
            }
        )
    return {"stored": len(event["Records"])}
