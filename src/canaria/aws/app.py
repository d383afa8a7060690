"""The edge's routes: Lambda by path, JSON-protocol services by ``X-Amz-Target``.

Every request must carry a SigV4 signature made with keys canaria issued (the
operator's or a function's); ``canaria.aws.policy`` then says whether that caller may
call the operation.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import parse_qsl

import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from canaria.auth import Principal
from canaria.aws import (
    apigateway_api,
    cloudformation_api,
    cloudwatch_api,
    codedeploy_api,
    codedeploy_targets,
    connections_api,
    durable_api,
    firehose_api,
    lambda_api,
    logs_api,
    stepfunctions_api,
)
from canaria.aws.backend import EdgeBackend
from canaria.aws.policy import authorize
from canaria.aws.responses import AMZ_JSON_10, AMZ_JSON_11, json_error, rest_error
from canaria.sigv4 import precheck, verify

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
    "Firehose_20150804": (firehose_api.OPERATIONS, AMZ_JSON_11),
}
# X-Amz-Target prefix -> the IAM service prefix its actions are named with
IAM_PREFIX = {
    "CodeDeploy_20141006": "codedeploy",
    "AWSStepFunctions": "states",
    "Logs_20140328": "logs",
    "GraniteServiceVersion20100801": "cloudwatch",
    "Firehose_20150804": "firehose",
}
# Query-protocol services (form-encoded ``Action=…``, XML answers), by action.
QUERY_ACTIONS = cloudformation_api.OPERATIONS


def _url(request: Request) -> str:
    raw = request.scope.get("raw_path") or request.url.path.encode()
    query = request.scope.get("query_string", b"")
    host = request.headers.get("host", "localhost")
    url = f"http://{host}{raw.decode()}"
    return f"{url}?{query.decode()}" if query else url


async def _authenticate(edge: EdgeBackend, request: Request) -> Principal | str:
    """The caller, or why the request's signature is refused (checked against the wall
    clock: the caller's SDK signs with it, whatever canaria's virtual time). The headers
    are checked before the body is read: an unsigned caller's body is never read."""

    def secret_for(akid: str) -> str | None:
        found = edge.keyring.by_access_key(akid)
        return found[1] if found else None

    early = precheck(request.headers, secret_for, time.time())
    if early is not None:
        return early
    body = await request.body()

    problem, akid = verify(
        request.method,
        _url(request),
        request.headers,
        body,
        secret_for,
        now=time.time(),
    )
    if problem is not None:
        return problem
    found = edge.keyring.by_access_key(akid)
    assert found is not None
    return found[0]


def edge_routes(edge: EdgeBackend) -> list[BaseRoute]:
    def lambda_route(
        path: str,
        fn: Callable[[EdgeBackend, Request], Awaitable[Response]],
        method: str,
        operation: str,
    ) -> Route:
        async def endpoint(request: Request) -> Response:
            caller = await _authenticate(edge, request)
            if isinstance(caller, str):
                return rest_error(403, "UnrecognizedClientException", caller)
            denied = authorize(caller, "lambda", operation, None, edge.store)
            if denied is not None:
                return rest_error(403, "AccessDeniedException", denied)
            return await fn(edge, request)

        return Route(path, endpoint, methods=[method])

    async def query_protocol(request: Request) -> Response:
        caller = await _authenticate(edge, request)
        if isinstance(caller, str):
            return cloudformation_api.query_error("InvalidClientTokenId", caller, 403)
        params = {k: v for k, v in parse_qsl((await request.body()).decode(), True)}
        action = params.get("Action", "")
        handler = QUERY_ACTIONS.get(action)
        if handler is None:
            return cloudformation_api.query_error(
                "InvalidAction",
                f"action {action!r} is not supported by canaria "
                f"(supported: {', '.join(sorted(QUERY_ACTIONS))})",
            )
        denied = authorize(caller, "cloudformation", action, params, edge.store)
        if denied is not None:
            return cloudformation_api.query_error("AccessDenied", denied, 403)
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
        caller = await _authenticate(edge, request)
        if isinstance(caller, str):
            return json_error("UnrecognizedClientException", caller, media)
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
        denied = authorize(caller, IAM_PREFIX[prefix], operation, body, edge.store)
        if denied is not None:
            return json_error("AccessDeniedException", denied, media)
        return await handler(edge, body)

    async def manage_connections(request: Request) -> Response:
        fn = connections_api.OPERATIONS[request.method]
        caller = await _authenticate(edge, request)
        if isinstance(caller, str):
            return rest_error(403, "ForbiddenException", caller)
        denied = authorize(caller, "execute-api", connections_api.ACTION, None, edge.store)
        if denied is not None:
            return rest_error(403, "ForbiddenException", denied)
        return await fn(edge.websockets, request)

    def api_keys_route(
        path: str, fn: Callable[[EdgeBackend, Request], Awaitable[Response]], operation: str
    ) -> Route:
        async def endpoint(request: Request) -> Response:
            caller = await _authenticate(edge, request)
            if isinstance(caller, str):
                return rest_error(403, "UnrecognizedClientException", caller)
            denied = authorize(caller, apigateway_api.SIGNING_NAME, operation, None, edge.store)
            if denied is not None:
                return rest_error(403, "AccessDeniedException", denied)
            return await fn(edge, request)

        return Route(path, endpoint, methods=["GET"])

    async def durable_execution_api(request: Request) -> Response:
        raw = (request.scope.get("raw_path") or request.url.path.encode()).decode()
        found = durable_api.operation(request.method, raw.split("?", 1)[0])
        if found is None:
            return durable_api.unknown(request.method, request.url.path)
        name, segments = found
        caller = await _authenticate(edge, request)
        if isinstance(caller, str):
            return rest_error(403, "UnrecognizedClientException", caller)
        denied = authorize(caller, "lambda", name, None, edge.store)
        if denied is not None:
            return rest_error(403, "AccessDeniedException", denied)
        return await durable_api.forward(edge, request, segments)

    base = "/2015-03-31/functions/{name}"
    return [
        Route(durable_api.PREFIX + "{rest:path}", durable_execution_api, methods=["GET", "POST"]),
        api_keys_route(apigateway_api.PATHS[0], apigateway_api.get_api_keys, "GetApiKeys"),
        api_keys_route(apigateway_api.PATHS[1], apigateway_api.get_api_key, "GetApiKey"),
        Route(
            connections_api.PATH,
            manage_connections,
            methods=list(connections_api.OPERATIONS),
        ),
        lambda_route(base + "/invocations", lambda_api.invoke, "POST", "Invoke"),
        lambda_route(
            "/2021-11-15/functions/{name}/response-streaming-invocations",
            lambda_api.invoke_with_response_stream,
            "POST",
            "InvokeWithResponseStream",
        ),
        lambda_route(base + "/versions", lambda_api.publish_version, "POST", "PublishVersion"),
        lambda_route(base + "/versions", lambda_api.list_versions, "GET", "ListVersionsByFunction"),
        # the SDKs write ListFunctions' path with its slash, some tools without
        lambda_route("/2015-03-31/functions/", lambda_api.list_functions, "GET", "ListFunctions"),
        lambda_route("/2015-03-31/functions", lambda_api.list_functions, "GET", "ListFunctions"),
        lambda_route(base + "/aliases", lambda_api.list_aliases, "GET", "ListAliases"),
        lambda_route(base + "/aliases/{alias}", lambda_api.get_alias, "GET", "GetAlias"),
        lambda_route(base + "/aliases/{alias}", lambda_api.update_alias, "PUT", "UpdateAlias"),
        lambda_route(
            base + "/configuration",
            lambda_api.get_function_configuration,
            "GET",
            "GetFunctionConfiguration",
        ),
        lambda_route(base, lambda_api.get_function, "GET", "GetFunction"),
        Route("/", json_protocol, methods=["POST"]),
    ]
