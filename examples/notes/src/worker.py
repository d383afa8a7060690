"""The jobs worker: an SQS event source. Marks each note as processed in the bucket, and
reports the notes it cannot process (their text says "fail") as batch item failures, so
only those return to the queue (and, after three tries, go to the dead-letter queue)."""

import json
import os

import boto3

s3 = boto3.client("s3")


def handler(event, context):
    failures = []
    for record in event["Records"]:
        job = json.loads(record["body"])
        text = s3.get_object(Bucket=os.environ["BUCKET"], Key=job["note"])["Body"].read()
        if b"fail" in text:
            print(
                f"cannot process note {job['note']} (receive #{record['attributes']['ApproximateReceiveCount']})"
            )
            failures.append({"itemIdentifier": record["messageId"]})
            continue
        s3.put_object(Bucket=os.environ["BUCKET"], Key=f"done/{job['note']}", Body=b"")
    return {"batchItemFailures": failures}
