"""CloudFormation on the edge (the query protocol: a form-encoded POST with ``Action=…``,
answered in XML): the stack the template is, as ``sam deploy`` leaves it on AWS.

- ``DescribeStacks``: the stack's status, parameters (``NoEcho`` ones as ``****``) and
  ``Outputs``, so an integration test or a script that finds its API, table or function
  through the stack's outputs runs unchanged. An output that is the URL of one of the
  template's APIs (``https://<id>.execute-api.<region>.amazonaws.com/...``, ``wss://``
  for a WebSocket API), function URLs or load balancers is given as where canaria serves
  it (``Platform.localize``).
- ``ListExports``: the outputs' ``Export`` names and values.
- ``ListStackResources``, ``DescribeStackResources``, ``DescribeStackResource``: the
  template's resources as CloudFormation lists them once SAM has transformed them
  (``AWS::Lambda::Function``, ``AWS::ApiGateway::RestApi``, ...), with what ``!Ref`` gives
  as the physical id (a function's name canaria's Lambda API answers to), and what
  ``canaria guard --stack NAME`` looks for, as it finds a ``sam deploy`` stack's on AWS:
  the ``ServerlessDeploymentApplication`` (``AWS::CodeDeploy::Application``) and one
  ``<Function>DeploymentGroup`` per function with a ``DeploymentPreference``.

The stack is named as ``AWS::StackName`` is: ``samconfig.toml``'s ``stack_name``, else the
template's folder; the folder's own name (the deployments' CodeDeploy application) is
accepted too. Its status follows the deployments, as a stack update follows the CodeDeploy
deployment of its ``CodeDeployLambdaAliasUpdate`` policy: ``UPDATE_IN_PROGRESS`` while
traffic shifts, ``UPDATE_ROLLBACK_IN_PROGRESS`` / ``UPDATE_ROLLBACK_COMPLETE`` when the
release's deployment failed or was stopped, ``UPDATE_COMPLETE`` after it succeeded,
``CREATE_COMPLETE`` before any.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Awaitable, Callable, Mapping
from xml.sax.saxutils import escape

from starlette.responses import Response

from canaria.aws.backend import EdgeBackend
from canaria.aws.codedeploy_targets import application_name, deployment_groups
from canaria.models import StackSpec
from canaria.models.arns import stack_arn
from canaria.models.deployment import Deployment, State

QueryHandler = Callable[[EdgeBackend, Mapping[str, str]], Awaitable[Response]]

NS = "http://cloudformation.amazonaws.com/doc/2010-05-15/"
XML = "text/xml"


def _request_id() -> str:
    return str(uuid.uuid4())


def query_error(code: str, message: str, status: int = 400) -> Response:
    body = (
        f'<ErrorResponse xmlns="{NS}"><Error><Type>Sender</Type><Code>{escape(code)}</Code>'
        f"<Message>{escape(message)}</Message></Error>"
        f"<RequestId>{_request_id()}</RequestId></ErrorResponse>"
    )
    return Response(body, status_code=status, media_type=XML)


def _member(logical: str, physical: str, kind: str, updated: str) -> str:
    return (
        f"<member><LogicalResourceId>{escape(logical)}</LogicalResourceId>"
        f"<PhysicalResourceId>{escape(physical)}</PhysicalResourceId>"
        f"<ResourceType>{escape(kind)}</ResourceType>"
        f"<LastUpdatedTimestamp>{updated}</LastUpdatedTimestamp>"
        "<ResourceStatus>CREATE_COMPLETE</ResourceStatus></member>"
    )


def _stack(edge: EdgeBackend, name: str | None) -> StackSpec | Response:
    """The stack ``name`` names (its name, the template folder's, or its ``StackId``), or
    CloudFormation's answer for a stack that does not exist."""
    app = edge.app
    if app is None or app.stack is None:
        return query_error("ValidationError", f"Stack with id {name} does not exist")
    stack = app.stack
    if name is not None and name not in (stack.name, application_name(edge), stack_arn(stack.name)):
        return query_error("ValidationError", f"Stack with id {name} does not exist")
    return stack


def _time(seconds: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime(seconds))


# the deployments a release starts are created together; one created this long after the
# newest belongs to the same stack update
_SAME_RELEASE_S = 5.0


def stack_status(deployments: list[Deployment], updated: bool) -> tuple[str, str | None]:
    """(StackStatus, StackStatusReason) from the deployments, newest first; ``updated``:
    a release after the first one changed the stack."""
    if not deployments:
        return ("UPDATE_COMPLETE" if updated else "CREATE_COMPLETE"), None
    newest = deployments[0].created_at
    last = [d for d in deployments if newest - d.created_at <= _SAME_RELEASE_S]
    failed = [d for d in last if d.state in (State.FAILED, State.STOPPED)]
    running = [d for d in last if not d.state.completed]
    if running:
        return ("UPDATE_ROLLBACK_IN_PROGRESS" if failed else "UPDATE_IN_PROGRESS"), None
    if failed:
        d = failed[0]
        why = d.error_message or f"deployment {d.id} {d.state.value.lower()}"
        return "UPDATE_ROLLBACK_COMPLETE", f"CodeDeploy deployment {d.id}: {why}"
    return "UPDATE_COMPLETE", None


def _members(rows: list[str]) -> str:
    return "".join(f"<member>{row}</member>" for row in rows)


def _fields(pairs: list[tuple[str, str | None]]) -> str:
    return "".join(f"<{k}>{escape(v)}</{k}>" for k, v in pairs if v is not None)


async def describe_stacks(edge: EdgeBackend, params: Mapping[str, str]) -> Response:
    stack = _stack(edge, params.get("StackName"))
    if isinstance(stack, Response):
        return stack
    versions = edge.store.versions()
    created = min((v.created_at for v in versions), default=edge.clock.now())
    deployments = edge.store.deployments(limit=50)
    latest = max(
        [*(v.created_at for v in versions), *(d.created_at for d in deployments)],
        default=created,  # a template of no function
    )
    updated = bool(deployments) or any(v.number > 1 for v in versions)  # a later release
    status, reason = stack_status(deployments, updated)
    outputs = [
        _fields(
            [
                ("OutputKey", o.key),
                ("OutputValue", edge.localize(o.value)),
                ("Description", o.description),
                ("ExportName", o.export_name),
            ]
        )
        for o in stack.outputs
    ]
    parameters = [
        _fields([("ParameterKey", k), ("ParameterValue", v)]) for k, v in stack.parameters
    ]
    body = (
        "<member>"
        + _fields(
            [
                ("StackId", stack_arn(stack.name)),
                ("StackName", stack.name),
                ("Description", stack.description),
                ("CreationTime", _time(created)),
                ("LastUpdatedTime", _time(latest) if updated else None),
                ("StackStatus", status),
                ("StackStatusReason", reason),
                ("DisableRollback", "false"),
                ("EnableTerminationProtection", "false"),
            ]
        )
        + f"<Parameters>{_members(parameters)}</Parameters>"
        + "<Capabilities><member>CAPABILITY_IAM</member>"
        + "<member>CAPABILITY_AUTO_EXPAND</member></Capabilities>"
        + f"<Outputs>{_members(outputs)}</Outputs>"
        + "<Tags/><NotificationARNs/><RollbackConfiguration/>"
        + "<DriftInformation><StackDriftStatus>NOT_CHECKED</StackDriftStatus></DriftInformation>"
        + "</member>"
    )
    return _answer("DescribeStacks", f"<Stacks>{body}</Stacks>")


async def list_exports(edge: EdgeBackend, params: Mapping[str, str]) -> Response:
    app = edge.app
    stack = app.stack if app is not None else None
    rows: list[str] = []
    if app is not None and stack is not None:
        rows = [
            _fields(
                [
                    ("ExportingStackId", stack_arn(stack.name)),
                    ("Name", o.export_name),
                    ("Value", edge.localize(o.value)),
                ]
            )
            for o in stack.outputs
            if o.export_name is not None
        ]
    return _answer("ListExports", f"<Exports>{_members(rows)}</Exports>")


def _answer(action: str, result: str) -> Response:
    body = (
        f'<{action}Response xmlns="{NS}"><{action}Result>{result}</{action}Result>'
        f"<ResponseMetadata><RequestId>{_request_id()}</RequestId></ResponseMetadata>"
        f"</{action}Response>"
    )
    return Response(body, media_type=XML)


def _resources(edge: EdgeBackend, stack: StackSpec) -> list[tuple[str, str, str]]:
    """(logical id, physical id, type) of each of the stack's resources: the template's,
    and what SAM generates for the guard to find: the ``ServerlessDeploymentApplication``
    (the CodeDeploy application, named after the template's folder) and a
    ``<Function>DeploymentGroup`` per function with a ``DeploymentPreference``."""
    groups = deployment_groups(edge)
    rows: list[tuple[str, str, str]] = []
    if groups:
        app = application_name(edge) or stack.name
        rows.append(("ServerlessDeploymentApplication", app, "AWS::CodeDeploy::Application"))
    rows += [(f"{g}DeploymentGroup", g, "AWS::CodeDeploy::DeploymentGroup") for g in groups]
    listed = {row[0] for row in rows}
    rows += [
        (r.logical_id, r.physical_id, r.type) for r in stack.resources if r.logical_id not in listed
    ]
    return rows


async def list_stack_resources(edge: EdgeBackend, params: Mapping[str, str]) -> Response:
    stack = params.get("StackName")
    if not stack:
        return query_error("ValidationError", "1 validation error detected: StackName is required")
    found = _stack(edge, stack)
    if isinstance(found, Response):
        return found
    updated = _time(edge.clock.now())
    members = [_member(*row, updated) for row in _resources(edge, found)]
    return _answer(
        "ListStackResources", f"<StackResourceSummaries>{''.join(members)}</StackResourceSummaries>"
    )


def _resource_fields(stack: StackSpec, row: tuple[str, str, str]) -> str:
    logical, physical, kind = row
    return _fields(
        [
            ("StackName", stack.name),
            ("StackId", stack_arn(stack.name)),
            ("LogicalResourceId", logical),
            ("PhysicalResourceId", physical),
            ("ResourceType", kind),
            ("ResourceStatus", "CREATE_COMPLETE"),
        ]
    )


async def describe_stack_resources(edge: EdgeBackend, params: Mapping[str, str]) -> Response:
    """The stack's resources, or the one ``LogicalResourceId`` names; ``PhysicalResourceId``
    alone finds the stack holding it, as CloudFormation does."""
    name, logical, physical = (
        params.get("StackName"),
        params.get("LogicalResourceId"),
        params.get("PhysicalResourceId"),
    )
    if name is None and physical is None:
        return query_error(
            "ValidationError", "Either StackName or PhysicalResourceId must be specified"
        )
    found = _stack(edge, name)
    if isinstance(found, Response):
        return found
    rows = [
        row
        for row in _resources(edge, found)
        if (logical is None or row[0] == logical) and (physical is None or row[1] == physical)
    ]
    if physical is not None and not rows:
        return query_error("ValidationError", f"Stack for {physical} does not exist")
    now = _time(edge.clock.now())
    members = [_resource_fields(found, row) + f"<Timestamp>{now}</Timestamp>" for row in rows]
    return _answer(
        "DescribeStackResources", f"<StackResources>{_members(members)}</StackResources>"
    )


async def describe_stack_resource(edge: EdgeBackend, params: Mapping[str, str]) -> Response:
    name, logical = params.get("StackName"), params.get("LogicalResourceId")
    if not name or not logical:
        return query_error("ValidationError", "StackName and LogicalResourceId are required")
    found = _stack(edge, name)
    if isinstance(found, Response):
        return found
    rows = [row for row in _resources(edge, found) if row[0] == logical]
    if not rows:
        return query_error("ValidationError", f"Resource {logical} does not exist for stack {name}")
    detail = _resource_fields(found, rows[0])
    detail += f"<LastUpdatedTimestamp>{_time(edge.clock.now())}</LastUpdatedTimestamp>"
    return _answer("DescribeStackResource", f"<StackResourceDetail>{detail}</StackResourceDetail>")


OPERATIONS: dict[str, QueryHandler] = {
    "DescribeStackResource": describe_stack_resource,
    "DescribeStackResources": describe_stack_resources,
    "DescribeStacks": describe_stacks,
    "ListExports": list_exports,
    "ListStackResources": list_stack_resources,
}
