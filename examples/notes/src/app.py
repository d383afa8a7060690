"""notes: S3, SQS, SNS, EventBridge, SSM and Secrets Manager through plain boto3.

Written as for AWS: the clients take no endpoint; the names come from the template
(``!Ref`` / ``!GetAtt``) through environment variables.
"""

import json
import os

import boto3

s3 = boto3.client("s3")
sqs = boto3.client("sqs")
sns = boto3.client("sns")
events = boto3.client("events")
ssm = boto3.client("ssm")
secrets = boto3.client("secretsmanager")


def respond(status, body):
    return {
        "statusCode": status,
        "headers": {"content-type": "application/json"},
        "body": json.dumps(body),
    }


def drain(queue_url):
    """Every message waiting in the queue (deleted once read)."""
    bodies = []
    while True:
        got = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10)
        messages = got.get("Messages", [])
        if not messages:
            return bodies
        for m in messages:
            bodies.append(json.loads(m["Body"]))
            sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=m["ReceiptHandle"])


def handler(event, context):
    method = event["requestContext"]["http"]["method"]
    path = event["rawPath"]
    if path.startswith("/notes/"):
        note_id = event["pathParameters"]["id"]
        if method == "PUT":
            body = event.get("body") or ""
            s3.put_object(Bucket=os.environ["BUCKET"], Key=note_id, Body=body.encode())
            job = {"note": note_id, "size": len(body)}
            sqs.send_message(QueueUrl=os.environ["JOBS_QUEUE"], MessageBody=json.dumps(job))
            sns.publish(TopicArn=os.environ["TOPIC"], Message=json.dumps({"via": "sns", **job}))
            events.put_events(
                Entries=[
                    {
                        "EventBusName": os.environ["BUS"],
                        "Source": "notes",
                        "DetailType": "NoteSaved",
                        "Detail": json.dumps(job),
                    }
                ]
            )
            return respond(201, job)
        if method == "GET":
            try:
                got = s3.get_object(Bucket=os.environ["BUCKET"], Key=note_id)
            except s3.exceptions.NoSuchKey:
                return respond(404, {"message": f"no note {note_id}"})
            bucket = os.environ["BUCKET"]
            done = s3.list_objects_v2(Bucket=bucket, Prefix=f"done/{note_id}")
            announced = s3.list_objects_v2(Bucket=bucket, Prefix=f"announced/{note_id}")
            seen = s3.list_objects_v2(Bucket=bucket, Prefix=f"seen/{note_id}")
            return respond(
                200,
                {
                    "note": note_id,
                    "text": got["Body"].read().decode(),
                    "processed": done.get("KeyCount", 0) > 0,
                    "announced": announced.get("KeyCount", 0) > 0,
                    "seen": seen.get("KeyCount", 0) > 0,
                },
            )
        return respond(405, {"message": f"{method} is not allowed"})
    if path == "/dead-jobs":
        return respond(200, drain(os.environ["DEAD_JOBS_QUEUE"]))
    if path == "/audit":
        return respond(200, drain(os.environ["AUDIT_QUEUE"]))
    if path == "/config":
        greeting = ssm.get_parameter(Name=os.environ["GREETING_PARAMETER"])["Parameter"]
        secret = json.loads(
            secrets.get_secret_value(SecretId=os.environ["DB_SECRET"])["SecretString"]
        )
        return respond(
            200,
            {
                "greeting": greeting["Value"],
                "db_user": secret["username"],
                "db_password_length": len(secret["password"]),
            },
        )
    return respond(404, {"message": "not found"})
