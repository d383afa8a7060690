"""GraphQL subscriptions over AppSync's real-time WebSocket protocol, at
``ws://<api>/graphql/realtime`` (the path AppSync gives an API with a custom domain, which
is how AWS's clients treat an endpoint that is not ``*.appsync-api.*``).

The protocol, as AppSync documents it ("Building a real-time WebSocket client"):

- The client connects with the subprotocol ``graphql-ws``, its authorization (``host``
  and ``x-api-key``, or ``Authorization``) base64-encoded JSON in the ``header`` query
  parameter (or a ``header-<base64url>`` subprotocol), and sends ``connection_init``;
  canaria answers ``connection_ack`` with ``connectionTimeoutMs`` and sends ``ka`` (keep
  alive) every ``KEEP_ALIVE_S`` seconds.
- ``start`` (an id, the subscription's ``query`` and ``variables`` as JSON text in
  ``payload.data``, its authorization in ``payload.extensions.authorization``) subscribes;
  ``start_ack`` confirms it, ``error`` refuses it (a query that does not validate, an
  authorization the API does not accept, a subscription resolver that fails).
- Each mutation named in the field's ``@aws_subscribe(mutations: [...])`` sends ``data``
  to each subscriber whose arguments all equal the mutation result's fields of the same
  name (an argument not given does not filter), the subscription's selection read from
  that result (a field the mutation did not select is ``null``, as on AppSync).
- ``stop`` ends a subscription (``complete``); closing the socket ends them all.

A subscription field's resolver, when it has one, runs when the client subscribes (a
``NONE`` data source, typically); its failure refuses the subscription. Enhanced
filters (``extensions.setSubscriptionFilter``) and invalidation are not applied.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

import graphql
from graphql import GraphQLSchema
from graphql.execution.values import get_argument_values, get_variable_values
from starlette.websockets import WebSocket, WebSocketDisconnect

log = logging.getLogger("canaria.appsync")
KEEP_ALIVE_S = 60.0
CONNECTION_TIMEOUT_MS = 300_000
PROTOCOL = "graphql-ws"

# (headers) -> (who calls, None) or (None, the reason it is refused)
Authorize = Callable[[Mapping[str, str]], Awaitable[tuple[Any, str | None]]]
# (subscription field, its arguments, who calls, the request's headers) -> None, or the
# error (message, errorType) that refuses the subscription
OnSubscribe = Callable[[str, Mapping[str, Any], Any, Mapping[str, str]], Awaitable[Any]]


@dataclass
class _Subscription:
    id: str
    field: str  # the Subscription type's field
    arguments: dict[str, Any]
    document: graphql.DocumentNode
    variables: dict[str, Any]
    socket: _Connection


class _Connection:
    def __init__(self, websocket: WebSocket) -> None:
        self.websocket = websocket
        self.lock = asyncio.Lock()

    async def send(self, message: dict[str, Any]) -> None:
        async with self.lock:
            with contextlib.suppress(Exception):  # a client gone: its read loop ends it
                await self.websocket.send_text(json.dumps(message, separators=(",", ":")))


class Subscriptions:
    """One API's subscribers, by subscription field."""

    def __init__(self) -> None:
        self._by_field: dict[str, dict[tuple[int, str], _Subscription]] = {}

    @staticmethod
    def triggers(schema: GraphQLSchema) -> dict[str, list[str]]:
        """Mutation field -> the subscription fields its ``@aws_subscribe`` names."""
        out: dict[str, list[str]] = {}
        subscription = schema.subscription_type
        for name, field in subscription.fields.items() if subscription else ():
            node = field.ast_node
            for directive in node.directives if node else ():
                if directive.name.value != "aws_subscribe":
                    continue
                for argument in directive.arguments or ():
                    value = graphql.value_from_ast_untyped(argument.value)
                    for mutation in value if isinstance(value, list) else ():
                        out.setdefault(str(mutation), []).append(name)
        return out

    async def serve(
        self,
        websocket: WebSocket,
        schema: Callable[[], GraphQLSchema],
        authorize: Authorize,
        on_subscribe: OnSubscribe,
    ) -> None:
        """One client's connection, from its handshake to its close."""
        offered = websocket.scope.get("subprotocols") or []
        headers = _connect_headers(websocket, offered)
        _, refusal = await authorize(headers)
        if refusal is not None:
            await websocket.close(code=4401, reason=refusal[:120])
            return
        await websocket.accept(subprotocol=PROTOCOL if PROTOCOL in offered else None)
        connection = _Connection(websocket)
        keep_alive: asyncio.Task[None] | None = None
        try:
            while True:
                try:
                    text = await websocket.receive_text()
                    message = json.loads(text)
                except (ValueError, KeyError):
                    await connection.send(_error(None, "The message is not JSON.", "BadRequest"))
                    continue
                if not isinstance(message, dict):
                    continue
                kind = message.get("type")
                if kind == "connection_init":
                    await connection.send(
                        {
                            "type": "connection_ack",
                            "payload": {"connectionTimeoutMs": CONNECTION_TIMEOUT_MS},
                        }
                    )
                    if keep_alive is None:
                        keep_alive = asyncio.ensure_future(_keep_alive(connection))
                elif kind == "start":
                    await self._start(connection, message, schema(), authorize, on_subscribe)
                elif kind == "stop":
                    sub_id = str(message.get("id"))
                    self._drop(connection, sub_id)
                    await connection.send({"type": "complete", "id": sub_id})
        except WebSocketDisconnect:
            pass
        finally:
            if keep_alive is not None:
                keep_alive.cancel()
            for subscribers in self._by_field.values():
                for key in [k for k, s in subscribers.items() if s.socket is connection]:
                    del subscribers[key]

    async def _start(
        self,
        connection: _Connection,
        message: Mapping[str, Any],
        schema: GraphQLSchema,
        authorize: Authorize,
        on_subscribe: OnSubscribe,
    ) -> None:
        sub_id = str(message.get("id") or "")
        payload = message.get("payload") if isinstance(message.get("payload"), dict) else {}
        assert isinstance(payload, dict)
        extensions = payload.get("extensions")
        auth = extensions.get("authorization") if isinstance(extensions, dict) else None
        headers = {str(k).lower(): str(v) for k, v in (auth or {}).items()}
        caller, refusal = await authorize(headers)
        if refusal is not None:
            await connection.send(_error(sub_id, refusal, "UnauthorizedException"))
            return
        try:
            request = json.loads(payload.get("data") or "")
            query = request["query"]
            variables = request.get("variables") or {}
            document = graphql.parse(query)
        except (ValueError, KeyError, TypeError, graphql.GraphQLError) as exc:
            await connection.send(_error(sub_id, f"The subscription is not valid: {exc}"))
            return
        problems = graphql.validate(schema, document)
        operation = graphql.get_operation_ast(document)
        if not problems and (operation is None or operation.operation.value != "subscription"):
            problems = [graphql.GraphQLError("The operation is not a subscription.")]
        if problems:
            await connection.send(_error(sub_id, problems[0].message, "ValidationError"))
            return
        assert operation is not None
        (node,) = [s for s in operation.selection_set.selections]
        assert isinstance(node, graphql.FieldNode)
        field = node.name.value
        subscription = schema.subscription_type
        assert subscription is not None
        coerced = get_variable_values(schema, operation.variable_definitions or (), dict(variables))
        if isinstance(coerced, list):
            await connection.send(_error(sub_id, coerced[0].message, "ValidationError"))
            return
        try:
            arguments = get_argument_values(subscription.fields[field], node, coerced)
        except graphql.GraphQLError as exc:
            await connection.send(_error(sub_id, exc.message, "ValidationError"))
            return
        failure = await on_subscribe(field, arguments, caller, headers)
        if failure is not None:
            text, error_type = failure
            await connection.send(_error(sub_id, text, error_type))
            return
        self._by_field.setdefault(field, {})[(id(connection), sub_id)] = _Subscription(
            sub_id, field, arguments, document, dict(variables), connection
        )
        await connection.send({"type": "start_ack", "id": sub_id})

    def _drop(self, connection: _Connection, sub_id: str) -> None:
        for subscribers in self._by_field.values():
            subscribers.pop((id(connection), sub_id), None)

    def publish(self, schema: GraphQLSchema, fields: Mapping[str, list[str]], data: Any) -> None:
        """A mutation's result (``data``: field -> value) to the subscribers its fields
        trigger."""
        if not isinstance(data, Mapping):
            return
        for mutation, value in data.items():
            if not isinstance(value, Mapping):
                continue
            for field in fields.get(mutation, ()):
                for sub in list(self._by_field.get(field, {}).values()):
                    if all(
                        given is None or value.get(name) == given
                        for name, given in sub.arguments.items()
                    ):
                        self._send(schema, sub, dict(value))

    def _send(self, schema: GraphQLSchema, sub: _Subscription, value: dict[str, Any]) -> None:
        result = graphql.execute(
            schema,
            sub.document,
            root_value={sub.field: value, "__canaria_event__": True},
            variable_values=sub.variables,
        )
        if isinstance(result, Awaitable):  # pragma: no cover - no async resolver runs here
            return
        message: dict[str, Any] = {"type": "data", "id": sub.id, "payload": {"data": result.data}}
        if result.errors:
            message["payload"]["errors"] = [{"message": e.message} for e in result.errors]
        task = asyncio.ensure_future(sub.socket.send(message))
        _sending.add(task)
        task.add_done_callback(_sending.discard)


_sending: set[asyncio.Task[None]] = set()


async def _keep_alive(connection: _Connection) -> None:
    while True:
        await asyncio.sleep(KEEP_ALIVE_S)
        await connection.send({"type": "ka"})


def _connect_headers(websocket: WebSocket, offered: list[str]) -> dict[str, str]:
    """The authorization a client connects with: the ``header`` query parameter, or a
    ``header-<base64url>`` subprotocol."""
    encoded = websocket.query_params.get("header")
    for protocol in offered:
        if protocol.startswith("header-"):
            encoded = protocol[len("header-") :]
    if not encoded:
        return {}
    try:
        decoded = json.loads(base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4)))
    except ValueError:
        return {}
    if not isinstance(decoded, dict):
        return {}
    return {str(k).lower(): str(v) for k, v in decoded.items()}


def _error(sub_id: str | None, message: str, error_type: str = "BadRequest") -> dict[str, Any]:
    out: dict[str, Any] = {
        "type": "error",
        "payload": {"errors": [{"errorType": error_type, "message": message}]},
    }
    if sub_id is not None:
        out["id"] = sub_id
    return out
