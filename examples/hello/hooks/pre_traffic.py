"""PreTraffic hook, written exactly as for AWS: invoke the new version, report the result."""

import json
import os

import boto3

lambda_client = boto3.client("lambda")
codedeploy = boto3.client("codedeploy")


def handler(event, context):
    status = "Succeeded"
    try:
        answer = lambda_client.invoke(
            FunctionName=os.environ["NewVersion"],
            Payload=json.dumps(
                {
                    "version": "2.0",
                    "rawPath": "/hello",
                    "requestContext": {"http": {"method": "GET"}},
                }
            ),
        )
        body = json.loads(answer["Payload"].read())
        if answer.get("FunctionError") or body.get("statusCode") != 200:
            print(f"new version answered badly: {body}")
            status = "Failed"
    except Exception as exc:  # a hook must always report
        print(f"test invocation failed: {exc}")
        status = "Failed"
    codedeploy.put_lifecycle_event_hook_execution_status(
        deploymentId=event["DeploymentId"],
        lifecycleEventHookExecutionId=event["LifecycleEventHookExecutionId"],
        status=status,
    )
    return status
