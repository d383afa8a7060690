"""The company API integration test, as a PostTraffic hook would run it, against an
in-memory company registry behind ``arn:aws:states:::apigateway:invoke``."""

from __future__ import annotations

import json
from typing import Any

from canaria.clock import ManualClock
from canaria.workflows import ExecutionStatus, execute, load_definition

from .fakes import EXECUTION_ARN, MACHINE_ARN, CompanyApi, drive

INVOKE = "arn:aws:states:::apigateway:invoke"
ENDPOINT = "a1b2c3d4e5.execute-api.us-east-1.amazonaws.com"


def call(method: str, path: dict[str, str], result_path: str, nxt: str, body: Any = None) -> Any:
    parameters: dict[str, Any] = {
        "ApiEndpoint": ENDPOINT,
        "Method": method,
        "Stage": "prd",
        "Headers": {"Content-Type": ["application/json"]},
        "AuthType": "NO_AUTH",
        **path,
    }
    if body is not None:
        parameters["RequestBody"] = body
    return {
        "Type": "Task",
        "Resource": INVOKE,
        "Parameters": parameters,
        "ResultSelector": {"StatusCode.$": "$.StatusCode", "ResponseBody.$": "$.ResponseBody"},
        "ResultPath": result_path,
        "Retry": [{"ErrorEquals": ["States.Timeout"], "MaxAttempts": 2}],
        "Next": nxt,
    }


def check(rule: dict[str, Any], nxt: str, failure: str) -> dict[str, Any]:
    return {"Type": "Choice", "Choices": [{**rule, "Next": nxt}], "Default": failure}


def status(path: str, code: int) -> dict[str, Any]:
    return {"Variable": f"{path}.StatusCode", "NumericEquals": code}


BY_ID = {"Path.$": "States.Format('/company/{}', $.save.ResponseBody.company_id)"}

DEFINITION = {
    "Comment": "Integration test of the company API: every route, in order",
    "StartAt": "Save",
    "TimeoutSeconds": 300,
    "States": {
        "Save": call(
            "POST", {"Path": "/company"}, "$.save", "Saved?", {"name.$": "$.name", "country": "PT"}
        ),
        "Saved?": check(
            {
                "And": [
                    status("$.save", 201),
                    {"Variable": "$.save.ResponseBody.company_id", "IsPresent": True},
                ]
            },
            "Get",
            "SaveFailed",
        ),
        "Get": call("GET", BY_ID, "$.get", "Got?"),
        "Got?": check(
            {
                "And": [
                    status("$.get", 200),
                    {"Variable": "$.get.ResponseBody.name", "StringEqualsPath": "$.name"},
                ]
            },
            "Update",
            "GetFailed",
        ),
        "Update": call(
            "PUT",
            {"Path": "/company"},
            "$.update",
            "Updated?",
            {
                "company_id.$": "$.save.ResponseBody.company_id",
                "name.$": "States.Format('{} Ltd', $.name)",
            },
        ),
        "Updated?": check(
            {
                "And": [
                    status("$.update", 200),
                    {"Variable": "$.update.ResponseBody.name", "StringMatches": "* Ltd"},
                ]
            },
            "Delete",
            "UpdateFailed",
        ),
        "Delete": call("DELETE", BY_ID, "$.delete", "Deleted?"),
        "Deleted?": check(status("$.delete", 204), "GetAgain", "DeleteFailed"),
        "GetAgain": call("GET", BY_ID, "$.gone", "Gone?"),
        "Gone?": check(status("$.gone", 204), "Passed", "GetAfterDeleteFailed"),
        "Passed": {"Type": "Succeed", "OutputPath": "$.save.ResponseBody.company_id"},
        **{
            name: {"Type": "Fail", "Error": name, "Cause": f"the company API failed at {name}"}
            for name in (
                "SaveFailed",
                "GetFailed",
                "UpdateFailed",
                "DeleteFailed",
                "GetAfterDeleteFailed",
            )
        },
    },
}


async def run(api: CompanyApi, data: Any) -> Any:
    clock = ManualClock()
    return await drive(
        clock,
        execute(
            load_definition(json.dumps(DEFINITION)),
            data,
            runner=api,
            clock=clock,
            name="post-traffic-1",
            execution_arn=EXECUTION_ARN,
            state_machine_arn=MACHINE_ARN,
        ),
    )


async def test_every_route_passes_against_a_working_api() -> None:
    api = CompanyApi()
    result = await run(api, {"name": "Acme"})
    assert result.status is ExecutionStatus.SUCCEEDED, (result.error, result.cause)
    assert result.output == "c-1"
    assert api.requests == [
        ("POST", "/company"),
        ("GET", "/company/c-1"),
        ("PUT", "/company"),
        ("DELETE", "/company/c-1"),
        ("GET", "/company/c-1"),
    ]
    assert api.companies == {}
    entered = [e.details["name"] for e in result.history if e.type.endswith("StateEntered")]
    assert entered == [
        "Save",
        "Saved?",
        "Get",
        "Got?",
        "Update",
        "Updated?",
        "Delete",
        "Deleted?",
        "GetAgain",
        "Gone?",
        "Passed",
    ]


async def test_a_delete_that_does_not_delete_fails_the_test() -> None:
    api = CompanyApi(forgetful_delete=True)
    result = await run(api, {"name": "Acme"})
    assert result.status is ExecutionStatus.FAILED
    assert result.error == "GetAfterDeleteFailed"
    assert result.cause == "the company API failed at GetAfterDeleteFailed"
    assert result.history[-1].to_api()["executionFailedEventDetails"] == {
        "error": "GetAfterDeleteFailed",
        "cause": "the company API failed at GetAfterDeleteFailed",
    }


async def test_a_rejected_save_fails_at_the_first_check() -> None:
    api = CompanyApi()
    result = await run(api, {"name": None})  # the API answers 400: name is required
    assert result.error == "SaveFailed"
    assert api.requests == [("POST", "/company")]
