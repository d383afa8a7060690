"""The edge's routes: Lambda by path, JSON-protocol services by ``X-Amz-Target``.

Every request must carry a SigV4 signature made with canaria's local credentials.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import parse_qsl

import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from canaria.aws import (
    cloudformation_api,
    cloudwatch_api,
    codedeploy_api,
    codedeploy_targets,
    lambda_api,
    logs_api,
    stepfunctions_api,
)
from canaria.aws.backend import EdgeBackend
from canaria.aws.responses import AMZ_JSON_10, AMZ_JSON_11, json_error, rest_error
from canaria.aws.sigv4 import verify

JsonHandler = Callable[[EdgeBackend, dict[str, Any]], Awaitable[Response]]

# X-Amz-Target prefix -> (operations, content type); more services register here.
TARGETS: dict[str, tuple[dict[str, JsonHandler], str]] = {
    "CodeDeploy_20141006": (
        {**codedeploy_api.OPERATIONS, **codedeploy_targets.OPERATIONS},
        AMZ_JSON_11,
    ),
    "AWSStepFunctions": (stepfunctions_api.OPERATIONS, AMZ_JSON_10),
    "Logs_20140328": (logs_api.OPERATIONS, AMZ_JSON_11),
    "GraniteServiceVersion20100801": (cloudwatch_api.OPERATIONS, AMZ_JSON_10),
}
# Query-protocol services (form-encoded ``Action=…``, XML answers), by action.
QUERY_ACTIONS = cloudformation_api.OPERATIONS


def _url(request: Request) -> str:
    raw = request.scope.get("raw_path") or request.url.path.encode()
    query = request.scope.get("query_string", b"")
    host = request.headers.get("host", "localhost")
    url = f"http://{host}{raw.decode()}"
    return f"{url}?{query.decode()}" if query else url


async def _authenticate(edge: EdgeBackend, request: Request) -> str | None:
    body = await request.body()
    return verify(
        request.method, _url(request), request.headers, body, edge.access_key, edge.secret_key
    )


def edge_routes(edge: EdgeBackend) -> list[BaseRoute]:
    def lambda_route(
        path: str, fn: Callable[[EdgeBackend, Request], Awaitable[Response]], method: str
    ) -> Route:
        async def endpoint(request: Request) -> Response:
            problem = await _authenticate(edge, request)
            if problem is not None:
                return rest_error(403, "UnrecognizedClientException", problem)
            return await fn(edge, request)

        return Route(path, endpoint, methods=[method])

    async def query_protocol(request: Request) -> Response:
        problem = await _authenticate(edge, request)
        if problem is not None:
            return cloudformation_api.query_error("InvalidClientTokenId", problem, 403)
        params = {k: v for k, v in parse_qsl((await request.body()).decode(), True)}
        action = params.get("Action", "")
        handler = QUERY_ACTIONS.get(action)
        if handler is None:
            return cloudformation_api.query_error(
                "InvalidAction",
                f"action {action!r} is not supported by canaria "
                f"(supported: {', '.join(sorted(QUERY_ACTIONS))})",
            )
        return await handler(edge, params)

    async def json_protocol(request: Request) -> Response:
        content_type = request.headers.get("content-type", "")
        if "x-amz-target" not in request.headers and content_type.startswith(
            "application/x-www-form-urlencoded"
        ):
            return await query_protocol(request)
        target = request.headers.get("x-amz-target", "")
        prefix, _, operation = target.partition(".")
        service = TARGETS.get(prefix)
        if service is None:
            return json_error("UnknownOperationException", f"unknown target {target!r}")
        operations, media = service
        problem = await _authenticate(edge, request)
        if problem is not None:
            return json_error("UnrecognizedClientException", problem, media)
        handler = operations.get(operation)
        if handler is None:
            return json_error(
                "UnknownOperationException",
                f"{prefix} operation {operation!r} is not supported by canaria "
                f"(supported: {', '.join(sorted(operations))})",
                media,
            )
        try:
            body = orjson.loads(await request.body() or b"{}")
        except orjson.JSONDecodeError:
            return json_error("SerializationException", "request body is not JSON", media)
        if not isinstance(body, dict):
            return json_error("SerializationException", "request body must be a JSON object", media)
        return await handler(edge, body)

    base = "/2015-03-31/functions/{name}"
    return [
        lambda_route(base + "/invocations", lambda_api.invoke, "POST"),
        lambda_route(base + "/versions", lambda_api.publish_version, "POST"),
        lambda_route(base + "/versions", lambda_api.list_versions, "GET"),
        lambda_route(base + "/aliases/{alias}", lambda_api.get_alias, "GET"),
        lambda_route(base + "/aliases/{alias}", lambda_api.update_alias, "PUT"),
        lambda_route(base + "/configuration", lambda_api.get_function_configuration, "GET"),
        lambda_route(base, lambda_api.get_function, "GET"),
        Route("/", json_protocol, methods=["POST"]),
    ]
