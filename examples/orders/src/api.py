"""The orders API: place, ship and read orders; the counts the Counter keeps; the
OrderShipped events the pipe put on the bus, as the rule delivered them to a queue."""

import json
import os

import boto3

orders = boto3.resource("dynamodb").Table(os.environ["ORDERS"])
stats = boto3.resource("dynamodb").Table(os.environ["STATS"])
sqs = boto3.client("sqs")
SHIPPED = []  # what this environment has read from the queue so far


def answer(status, body):
    return {"statusCode": status, "body": json.dumps(body, default=str)}


def handler(event, context):
    method = event["requestContext"]["http"]["method"]
    path = event["rawPath"]
    if path == "/stats":
        item = stats.get_item(Key={"id": "orders"}).get("Item") or {}
        return answer(200, {"placed": int(item.get("placed", 0))})
    if path == "/shipped":
        got = sqs.receive_message(
            QueueUrl=os.environ["SHIPPED_QUEUE"], MaxNumberOfMessages=10, WaitTimeSeconds=1
        )
        for message in got.get("Messages", []):
            SHIPPED.append(json.loads(message["Body"])["detail"])
            sqs.delete_message(
                QueueUrl=os.environ["SHIPPED_QUEUE"], ReceiptHandle=message["ReceiptHandle"]
            )
        return answer(200, SHIPPED)
    order_id = event["pathParameters"]["id"]
    if path.endswith("/ship"):
        try:
            orders.update_item(
                Key={"id": order_id},
                UpdateExpression="SET #s = :shipped",
                ConditionExpression="attribute_exists(id)",
                ExpressionAttributeNames={"#s": "status"},
                ExpressionAttributeValues={":shipped": "shipped"},
            )
        except orders.meta.client.exceptions.ConditionalCheckFailedException:
            return answer(404, {"error": f"no order {order_id}"})
        return answer(200, {"order": order_id, "status": "shipped"})
    if method == "PUT":
        body = json.loads(event.get("body") or "{}")
        orders.put_item(Item={"id": order_id, "item": body.get("item", "?"), "status": "placed"})
        return answer(201, {"order": order_id, "status": "placed"})
    item = orders.get_item(Key={"id": order_id}).get("Item")
    return answer(200, item) if item else answer(404, {"error": f"no order {order_id}"})
