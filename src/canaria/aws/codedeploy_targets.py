"""CodeDeploy's read operations that find deployments and their Lambda targets
(JSON 1.1): ListApplications, ListDeploymentGroups, ListDeployments,
ListDeploymentTargets, GetDeploymentTarget — what ``canaria guard`` calls.

Locally the application is the template's (named after its directory, as deployments
are) and there is one deployment group per function with a ``DeploymentPreference``,
named after the function, as a deployment's ``deploymentGroupName`` reads. A Lambda
target's id is ``<function>:<alias>``, as on AWS.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from starlette.responses import Response

from canaria.aws.backend import EdgeBackend
from canaria.aws.codedeploy_api import _deployment
from canaria.aws.responses import AMZ_JSON_11, json_error, json_response
from canaria.models.arns import function_arn
from canaria.models.deployment import Deployment, Target

Handler = Callable[[EdgeBackend, dict[str, Any]], Awaitable[Response]]

STATUSES = ("Created", "Queued", "InProgress", "Baking", "Succeeded", "Failed", "Stopped", "Ready")
PAGE = 100


def _ok(body: dict[str, Any]) -> Response:
    return json_response(body, media_type=AMZ_JSON_11)


def application_name(edge: EdgeBackend) -> str | None:
    return Path(edge.app.template_path).parent.name if edge.app else None


def deployment_groups(edge: EdgeBackend) -> list[str]:
    if edge.app is None:
        return []
    return sorted(
        name
        for name, spec in edge.app.functions.items()
        if spec.deployment_preference is not None and spec.auto_publish_alias
    )


def _application(edge: EdgeBackend, body: dict[str, Any]) -> str | Response:
    name = body.get("applicationName")
    if not name:
        return json_error(
            "ApplicationNameRequiredException",
            "The minimum number of required application names was not specified.",
        )
    if not isinstance(name, str) or name != application_name(edge):
        return json_error(
            "ApplicationDoesNotExistException", f"No application found for name: {name}"
        )
    return name


def _page(items: list[str], body: dict[str, Any], key: str) -> Response | dict[str, Any]:
    token = body.get("nextToken")
    start = 0
    if token:
        if not isinstance(token, str) or not token.isdigit() or int(token) > len(items):
            return json_error(
                "InvalidNextTokenException", "The next token was specified in an invalid format."
            )
        start = int(token)
    out: dict[str, Any] = {key: items[start : start + PAGE]}
    if start + PAGE < len(items):
        out["nextToken"] = str(start + PAGE)
    return out


async def list_applications(edge: EdgeBackend, body: dict[str, Any]) -> Response:
    name = application_name(edge)
    return _ok({"applications": [name] if name else []})


async def list_deployment_groups(edge: EdgeBackend, body: dict[str, Any]) -> Response:
    app = _application(edge, body)
    if isinstance(app, Response):
        return app
    page = _page(deployment_groups(edge), body, "deploymentGroups")
    if isinstance(page, Response):
        return page
    return _ok({"applicationName": app, **page})


async def list_deployments(edge: EdgeBackend, body: dict[str, Any]) -> Response:
    group = body.get("deploymentGroupName")
    app: str | None = None
    if body.get("applicationName") or group:
        checked = _application(edge, body)
        if isinstance(checked, Response):
            return checked
        app = checked
    if group is not None and group not in deployment_groups(edge):
        return json_error(
            "DeploymentGroupDoesNotExistException",
            f"No Deployment Group found for name: {group}",
        )
    statuses = body.get("includeOnlyStatuses") or []
    if not isinstance(statuses, list) or any(s not in STATUSES for s in statuses):
        return json_error(
            "InvalidDeploymentStatusException",
            f"includeOnlyStatuses {statuses!r} (allowed: {', '.join(STATUSES)})",
        )
    found: list[Deployment] = [
        d
        for d in edge.store.deployments(limit=1000)
        if (app is None or d.application == app)
        and (group is None or group in d.functions)
        and (not statuses or d.state.codedeploy_status in statuses)
    ]
    page = _page([d.id for d in found], body, "deployments")
    if isinstance(page, Response):
        return page
    return _ok(page)


async def list_deployment_targets(edge: EdgeBackend, body: dict[str, Any]) -> Response:
    d = _deployment(edge, body)
    if isinstance(d, Response):
        return d
    page = _page([f"{t.function}:{t.alias}" for t in d.targets], body, "targetIds")
    if isinstance(page, Response):
        return page
    return _ok(page)


def _target_status(d: Deployment) -> str:
    return d.state.codedeploy_status if d.state.completed else "InProgress"


def lambda_target(d: Deployment, t: Target) -> dict[str, Any]:
    target_id = f"{t.function}:{t.alias}"
    return {
        "deploymentTargetType": "LambdaTarget",
        "lambdaTarget": {
            "deploymentId": d.id,
            "targetId": target_id,
            "targetArn": function_arn(t.function, t.alias),
            "status": _target_status(d),
            "lastUpdatedAt": d.updated_at,
            "lifecycleEvents": [],
            "lambdaFunctionInfo": {
                "functionName": t.function,
                "functionAlias": t.alias,
                "currentVersion": str(t.from_version if t.from_version is not None else ""),
                "targetVersion": str(t.to_version),
                "targetVersionWeight": d.current_weight,
            },
        },
    }


async def get_deployment_target(edge: EdgeBackend, body: dict[str, Any]) -> Response:
    d = _deployment(edge, body)
    if isinstance(d, Response):
        return d
    target_id = body.get("targetId")
    if not target_id:
        return json_error(
            "DeploymentTargetIdRequiredException", "A deployment target ID must be specified."
        )
    for t in d.targets:
        if f"{t.function}:{t.alias}" == target_id:
            return _ok({"deploymentTarget": lambda_target(d, t)})
    return json_error(
        "DeploymentTargetDoesNotExistException",
        f"The deployment target {target_id} does not exist in deployment {d.id}.",
    )


OPERATIONS: dict[str, Handler] = {
    "ListApplications": list_applications,
    "ListDeploymentGroups": list_deployment_groups,
    "ListDeployments": list_deployments,
    "ListDeploymentTargets": list_deployment_targets,
    "GetDeploymentTarget": get_deployment_target,
}
