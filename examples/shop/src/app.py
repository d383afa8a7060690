"""Check the orders stack: invoke its function (named by the nested stack's output)
through its alias, as another service of the shop would."""

import json
import os

import boto3


def handler(event, context):
    answer = boto3.client("lambda").invoke(
        FunctionName=os.environ["PUT_FUNCTION"] + ":live",
        Payload=json.dumps({"pathParameters": {"id": "check"}}),
    )
    return {"statusCode": 200, "body": answer["Payload"].read().decode()}
