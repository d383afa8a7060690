"""POST /checkout: start a checkout (a durable execution) and answer with its ARN."""

import json
import os

import boto3

lam = boto3.client("lambda")


def handler(event, context):
    order = json.loads(event.get("body") or "{}")
    started = lam.invoke(
        FunctionName=os.environ["CHECKOUT"],
        InvocationType="Event",  # a durable execution may outlast the request
        Payload=json.dumps(order),
    )
    return {"statusCode": 202, "body": json.dumps({"execution": started["DurableExecutionArn"]})}
