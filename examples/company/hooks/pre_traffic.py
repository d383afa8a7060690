"""PreTraffic hook, as written for AWS: before any traffic moves, create a company through
the new save version and delete it through the new delete version; report the outcome."""

import json
import os

import boto3

lambda_client = boto3.client("lambda")
codedeploy = boto3.client("codedeploy")


def _call(function_version, method, body=None, company_id=None):
    event = {
        "version": "2.0",
        "rawPath": "/company",
        "requestContext": {"http": {"method": method, "path": "/company"}},
        "pathParameters": {"company_id": company_id} if company_id else None,
        "body": json.dumps(body) if body is not None else None,
    }
    answer = lambda_client.invoke(FunctionName=function_version, Payload=json.dumps(event))
    payload = json.loads(answer["Payload"].read())
    if answer.get("FunctionError"):
        raise RuntimeError(f"{function_version} failed: {payload}")
    return payload


def check():
    saved = _call(os.environ["SAVE_VERSION"], "POST", {"name": "PreTraffic probe", "employees": 1})
    body = json.loads(saved.get("body") or "{}")
    if saved.get("statusCode") != 201 or "company_id" not in body:
        raise AssertionError(f"save must answer 201 with company_id, answered {saved}")
    deleted = _call(os.environ["DELETE_VERSION"], "DELETE", company_id=body["company_id"])
    if deleted.get("statusCode") != 204:
        raise AssertionError(f"delete must answer 204, answered {deleted}")


def handler(event, context):
    status = "Succeeded"
    try:
        check()
    except Exception as exc:  # a hook must always report
        print(f"PreTraffic check failed: {exc}")
        status = "Failed"
    codedeploy.put_lifecycle_event_hook_execution_status(
        deploymentId=event["DeploymentId"],
        lifecycleEventHookExecutionId=event["LifecycleEventHookExecutionId"],
        status=status,
    )
    return status
