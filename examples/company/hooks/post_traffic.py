"""PostTraffic hook, as written for AWS: run the integration-test state machine, which
calls every route through the API, and report its outcome."""

import json
import os

import boto3

stepfunctions = boto3.client("stepfunctions")
codedeploy = boto3.client("codedeploy")


def handler(event, context):
    status = "Failed"
    try:
        run = stepfunctions.start_sync_execution(
            stateMachineArn=os.environ["INTEGRATION_TEST_ARN"],
            input=json.dumps({"deploymentId": event["DeploymentId"]}),
        )
        print(f"integration test {run['executionArn']}: {run['status']}")
        if run["status"] == "SUCCEEDED":
            status = "Succeeded"
        else:
            print(f"error: {run.get('error')}: {run.get('cause')}")
    except Exception as exc:  # a hook must always report
        print(f"could not run the integration test: {exc}")
    codedeploy.put_lifecycle_event_hook_execution_status(
        deploymentId=event["DeploymentId"],
        lifecycleEventHookExecutionId=event["LifecycleEventHookExecutionId"],
        status=status,
    )
    return status
