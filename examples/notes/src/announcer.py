"""The announcer: an SNS event source and an EventBridge rule event source. Records that
each note was announced on the topic, and seen on the event bus."""

import json
import os

import boto3

s3 = boto3.client("s3")


def handler(event, context):
    if "detail-type" in event:  # an EventBridge event, as the rule matched it
        note = event["detail"]["note"]
        s3.put_object(Bucket=os.environ["BUCKET"], Key=f"seen/{note}", Body=b"")
        return
    for record in event["Records"]:
        assert record["EventSource"] == "aws:sns"
        note = json.loads(record["Sns"]["Message"])["note"]
        s3.put_object(Bucket=os.environ["BUCKET"], Key=f"announced/{note}", Body=b"")
