"""CloudFormation's ListStackResources on the edge (the query protocol: a form-encoded
POST with ``Action=…``, answered in XML), so ``canaria guard --stack NAME`` finds the
template's deployment groups as it finds a ``sam deploy`` stack's on AWS.

The local stack is named after the template's directory (as its deployments'
application is) and holds what SAM would create for the guard to find: the
``ServerlessDeploymentApplication`` (``AWS::CodeDeploy::Application``), one
``<Function>DeploymentGroup`` per function with a ``DeploymentPreference``, and the
functions.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Awaitable, Callable, Mapping
from xml.sax.saxutils import escape

from starlette.responses import Response

from canaria.aws.backend import EdgeBackend
from canaria.aws.codedeploy_targets import application_name, deployment_groups

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


async def list_stack_resources(edge: EdgeBackend, params: Mapping[str, str]) -> Response:
    stack = params.get("StackName")
    if not stack:
        return query_error("ValidationError", "1 validation error detected: StackName is required")
    app = application_name(edge)
    if edge.app is None or stack != app:
        return query_error("ValidationError", f"Stack with id {stack} does not exist")
    updated = time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime(edge.clock.now()))
    groups = deployment_groups(edge)
    members = (
        [_member("ServerlessDeploymentApplication", app, "AWS::CodeDeploy::Application", updated)]
        if groups
        else []
    )
    members += [
        _member(f"{g}DeploymentGroup", g, "AWS::CodeDeploy::DeploymentGroup", updated)
        for g in groups
    ]
    members += [
        _member(name, name, "AWS::Lambda::Function", updated) for name in sorted(edge.app.functions)
    ]
    body = (
        f'<ListStackResourcesResponse xmlns="{NS}"><ListStackResourcesResult>'
        f"<StackResourceSummaries>{''.join(members)}</StackResourceSummaries>"
        "</ListStackResourcesResult>"
        f"<ResponseMetadata><RequestId>{_request_id()}</RequestId></ResponseMetadata>"
        "</ListStackResourcesResponse>"
    )
    return Response(body, media_type=XML)


OPERATIONS: dict[str, QueryHandler] = {"ListStackResources": list_stack_resources}
