"""The announcer: an SNS event source. Records that each announced note was heard."""

import json
import os

import boto3

s3 = boto3.client("s3")


def handler(event, context):
    for record in event["Records"]:
        assert record["EventSource"] == "aws:sns"
        note = json.loads(record["Sns"]["Message"])["note"]
        s3.put_object(Bucket=os.environ["BUCKET"], Key=f"announced/{note}", Body=b"")
