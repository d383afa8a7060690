"""CodeDeploy's JSON 1.1 API: PutLifecycleEventHookExecutionStatus, GetDeployment,
StopDeployment — what hooks and deployment scripts call."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from starlette.responses import Response

from canaria.aws.backend import EdgeBackend
from canaria.aws.responses import AMZ_JSON_11, json_error, json_response
from canaria.errors import Conflict, NotFound
from canaria.models.deployment import Deployment, HookStatus

Handler = Callable[[EdgeBackend, dict[str, Any]], Awaitable[Response]]


def _ok(body: dict[str, Any]) -> Response:
    return json_response(body, media_type=AMZ_JSON_11)


def _deployment(edge: EdgeBackend, body: dict[str, Any]) -> Deployment | Response:
    deployment_id = body.get("deploymentId")
    if not deployment_id:
        return json_error(
            "DeploymentIdRequiredException", "At least one deployment ID must be specified."
        )
    if not isinstance(deployment_id, str) or not deployment_id.startswith("d-"):
        return json_error(
            "InvalidDeploymentIdException", f"Invalid deployment ID {deployment_id!r}."
        )
    try:
        return edge.store.deployment(deployment_id)
    except NotFound:
        return json_error(
            "DeploymentDoesNotExistException", f"The deployment {deployment_id} could not be found."
        )


async def put_lifecycle_event_hook_execution_status(
    edge: EdgeBackend, body: dict[str, Any]
) -> Response:
    d = _deployment(edge, body)
    if isinstance(d, Response):
        return d
    execution_id = body.get("lifecycleEventHookExecutionId")
    status = body.get("status")
    if not isinstance(execution_id, str) or not execution_id:
        return json_error(
            "InvalidLifecycleEventHookExecutionIdException",
            "lifecycleEventHookExecutionId is required",
        )
    if status not in ("Succeeded", "Failed"):
        return json_error(
            "InvalidLifecycleEventHookExecutionStatusException",
            f"status {status!r} (allowed: Succeeded, Failed)",
        )
    try:
        await edge.report_hook(d.id, execution_id, HookStatus(status))
    except NotFound as exc:
        return json_error("InvalidLifecycleEventHookExecutionIdException", exc.message)
    except Conflict as exc:
        return json_error("LifecycleEventAlreadyCompletedException", exc.message)
    return _ok({"lifecycleEventHookExecutionId": execution_id})


def deployment_info(d: Deployment) -> dict[str, Any]:
    info: dict[str, Any] = {
        "applicationName": d.application,
        "deploymentGroupName": ",".join(t.function for t in d.targets),
        "deploymentConfigName": d.config_name,
        "deploymentId": d.id,
        "status": d.state.codedeploy_status,
        "createTime": d.created_at,
        "creator": d.creator,
        "computePlatform": "Lambda",
        "deploymentStyle": {
            "deploymentType": "BLUE_GREEN",
            "deploymentOption": "WITH_TRAFFIC_CONTROL",
        },
        "autoRollbackConfiguration": {
            "enabled": True,
            "events": [
                "DEPLOYMENT_FAILURE",
                "DEPLOYMENT_STOP_ON_ALARM",
                "DEPLOYMENT_STOP_ON_REQUEST",
            ],
        },
        "deploymentOverview": {
            "Pending": 0,
            "InProgress": 0 if d.state.completed else 1,
            "Succeeded": int(d.state.value == "Succeeded"),
            "Failed": int(d.state.value == "Failed"),
            "Skipped": 0,
            "Ready": 0,
        },
        "deploymentStatusMessages": [d.error_message] if d.error_message else [],
        "ignoreApplicationStopFailures": False,
    }
    if d.completed_at is not None:
        info["completeTime"] = d.completed_at
    if d.state.value != "Created":
        info["startTime"] = d.created_at
    if d.error_code:
        info["errorInformation"] = {"code": d.error_code, "message": d.error_message or ""}
    if d.rolled_back:
        info["rollbackInfo"] = {"rollbackMessage": f"Rolled back: {d.error_message}"}
    if d.rollback_of is not None:  # an operator's rollback after ``rollback_of`` finished
        info["rollbackInfo"] = {
            "rollbackTriggeringDeploymentId": d.rollback_of,
            "rollbackMessage": f"Rolls back {d.rollback_of}",
        }
    return info


async def get_deployment(edge: EdgeBackend, body: dict[str, Any]) -> Response:
    d = _deployment(edge, body)
    if isinstance(d, Response):
        return d
    return _ok({"deploymentInfo": deployment_info(d)})


async def stop_deployment(edge: EdgeBackend, body: dict[str, Any]) -> Response:
    d = _deployment(edge, body)
    if isinstance(d, Response):
        return d
    if d.state.completed:
        return json_error(
            "DeploymentAlreadyCompletedException",
            f"The deployment {d.id} has already completed ({d.state.value}).",
        )
    rollback = body.get("autoRollbackEnabled", True) is not False
    d = await edge.stop_deployment(d.id, rollback)
    return _ok({"status": "Succeeded", "statusMessage": f"Deployment {d.id} {d.state.value}"})


OPERATIONS: dict[str, Handler] = {
    "PutLifecycleEventHookExecutionStatus": put_lifecycle_event_hook_execution_status,
    "GetDeployment": get_deployment,
    "StopDeployment": stop_deployment,
}
