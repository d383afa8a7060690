"""Counts each new order: the table's stream hands it the INSERTs (its FilterCriteria)."""

import os

import boto3

stats = boto3.resource("dynamodb").Table(os.environ["STATS"])


def handler(event, context):
    placed = sum(1 for r in event["Records"] if r["eventName"] == "INSERT")
    stats.update_item(
        Key={"id": "orders"},
        UpdateExpression="ADD placed :n",
        ExpressionAttributeValues={":n": placed},
    )
