"""The API Gateway Management API: what functions call to talk to WebSocket clients.

``POST|GET|DELETE /{stage}/@connections/{connectionId}`` (``PostToConnection``,
``GetConnection``, ``DeleteConnection``), signed for ``execute-api``. On AWS the host is
the API's own (``<api-id>.execute-api.<region>.amazonaws.com``); functions build that URL
from their event, and the SDKs canaria gives them send it to the edge instead, naming the
API in ``X-Canaria-Api-Id``. A caller that names the edge itself (``--endpoint-url
http://127.0.0.1:<control-port>/Prod`` from ``canaria exec``) reaches the same
connections: ids are unique across the APIs served.

Answers are API Gateway's: 200 with no body for a post, the connection's ``connectedAt``,
``identity`` and ``lastActiveAt``, 204 for a delete (which closes the connection and runs
``$disconnect``); ``GoneException`` (410) for a connection that is closed, unknown, or of
another API or stage, and ``PayloadTooLargeException`` (413) for data over 128 KB.
Functions may call it (``execute-api:ManageConnections``), as their role allows on AWS.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import orjson
from starlette.requests import Request
from starlette.responses import Response

from canaria.aws.responses import REST_JSON, rest_error
from canaria.gateway.websockets import MAX_MESSAGE_BYTES, Session, WebSocketHub

API_ID_HEADER = "x-canaria-api-id"
ACTION = "ManageConnections"  # the IAM action of all three operations


def _session(hub: WebSocketHub, request: Request) -> Session | Response:
    connection_id = request.path_params["connection_id"]
    stage = request.path_params["stage"]
    session = hub.session_for(connection_id, stage, request.headers.get(API_ID_HEADER))
    if session is None:
        return rest_error(410, "GoneException", f"Connection {connection_id} is gone")
    return session


async def post_to_connection(hub: WebSocketHub, request: Request) -> Response:
    found = _session(hub, request)
    if isinstance(found, Response):
        return found
    data = await request.body()
    if len(data) > MAX_MESSAGE_BYTES:
        return rest_error(
            413,
            "PayloadTooLargeException",
            f"Message of {len(data)} bytes is over the limit of {MAX_MESSAGE_BYTES} bytes",
        )
    found.send_data(data)
    return Response(b"", status_code=200, media_type=REST_JSON)


async def get_connection(hub: WebSocketHub, request: Request) -> Response:
    found = _session(hub, request)
    if isinstance(found, Response):
        return found
    return Response(orjson.dumps(found.description()), media_type=REST_JSON)


async def delete_connection(hub: WebSocketHub, request: Request) -> Response:
    found = _session(hub, request)
    if isinstance(found, Response):
        return found
    found.close(1000, "")
    return Response(b"", status_code=204)


Operation = Callable[[WebSocketHub, Request], Awaitable[Response]]
OPERATIONS: dict[str, Operation] = {  # by method: one path for the three
    "POST": post_to_connection,
    "GET": get_connection,
    "DELETE": delete_connection,
}
PATH = "/{stage}/@connections/{connection_id}"
