"""WebSocket APIs: ``ws://<gateway>/<stage>``, each connection's routes invoked as API
Gateway invokes them.

A ``GET`` with ``Upgrade: websocket`` to a WebSocket API's stage is handed over by the
HTTP protocol to ``WebSocketHub.upgrade``. The handshake waits for the ``$connect``
route, as on AWS: its authorizer (a Lambda ``REQUEST`` authorizer; refused: 401, 403 or
500 and no connection) and then its function (an error: 500; an answer whose
``statusCode`` is not 2xx: that status). Only then is the upgrade answered 101, with the
``Sec-WebSocket-Protocol`` the function's answer names.

Each message is routed by the API's selection expression (``$request.body.action``: the
message read as JSON); a message that is not JSON, or names no route, goes to
``$default``, and without one the client is told ``Forbidden``. The route's function gets
API Gateway's ``MESSAGE`` event; a route with a route response sends the function's
``body`` back on the connection; a failed invocation sends ``Internal server error``.
Messages are invoked concurrently, as API Gateway does, not one after the other. Closing,
from either side, invokes ``$disconnect``.

Every invocation goes through the function's alias, version chosen per invocation (a
connection pinned with ``X-Canaria-Version`` runs that version of each function that has
it), recorded and judged like a request's: a canary that fails on a WebSocket route is
rolled back too.

The API Gateway Management API (``PostToConnection``, ``GetConnection``,
``DeleteConnection``) acts on the connections here (``canaria.aws.connections_api``).

Limits, as API Gateway's: a message of at most 128 KB (a larger one closes the
connection, 1009), 10 minutes idle, 2 hours in all; the integration timeout (29 s) sends
the client API Gateway's timeout message while the invocation goes on.

The frames are wsproto's (sans-I/O); the handshake is the gateway's own, because the
request has already been parsed by the gateway's HTTP parser when it turns out to be an
upgrade.
"""

from __future__ import annotations

import asyncio
import base64
import logging
import secrets
import string
import time
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import parse_qsl

import orjson
from wsproto.connection import Connection, ConnectionState, ConnectionType
from wsproto.events import BytesMessage, CloseConnection, Event, Ping, TextMessage
from wsproto.utilities import generate_accept_token

from canaria.clock import Clock
from canaria.errors import InvalidRequest, NotFound
from canaria.models import InvokeResult, WebSocketApiSpec, WebSocketRoute
from canaria.models.arns import ACCOUNT, REGION

from .authorizers import Authorizers
from .events import grant, new_request_id, request_time, without_session_cookie
from .handler import INTEGRATION_TIMEOUT_S, find_pin
from .integrations import Integrations
from .protocol import serialize
from .recorded import invoke_recorded
from .responses import HttpResponse
from .types import Invoker, Recorder, Request, RouteSource

log = logging.getLogger("canaria.gateway")

MAX_MESSAGE_BYTES = 128 * 1024  # API Gateway's message payload limit
IDLE_TIMEOUT_S = 600.0  # API Gateway closes a connection idle this long
MAX_DURATION_S = 7200.0  # ... and any connection after this long
# what a connection may have written and its client not read yet: beyond, the client is
# not reading, and the connection is dropped rather than held in memory
MAX_UNREAD_BYTES = 8 * MAX_MESSAGE_BYTES
CONNECT, DISCONNECT, DEFAULT = "$connect", "$disconnect", "$default"
_ID_ALPHABET = string.ascii_letters + string.digits
_NOT_IN_NAMES = frozenset("${} \t")


def websocket_api_id(logical_id: str) -> str:
    """The API's id (the host's first label, ``requestContext.apiId``): its logical id
    lower-cased, what ``Ref`` of a SAM API gives, so a function that builds the
    Management API's endpoint from ``!Ref`` names the same API as one that builds it from
    its event (hosts are case-insensitive)."""
    return logical_id.lower()


def domain_name(api_id: str) -> str:
    """``requestContext.domainName``: the API's host on AWS. Management API clients built
    from it reach canaria (the functions' SDKs send that host to the edge)."""
    return f"{api_id}.execute-api.{REGION}.amazonaws.com"


def new_connection_id() -> str:
    """An id shaped like API Gateway's (``WyHPAfymhcwCENw=``)."""
    return "".join(secrets.choice(_ID_ALPHABET) for _ in range(15)) + "="


def selection_path(expression: str) -> tuple[str, ...] | None:
    """The JSON path a ``$request.body.<a>.<b>`` selection expression reads; ``None`` for
    any other expression (every message then goes to ``$default``)."""
    if expression.startswith("${") and expression.endswith("}"):
        expression = "$" + expression[2:-1]
    prefix = "$request.body."
    if not expression.startswith(prefix):
        return None
    path = tuple(expression[len(prefix) :].split("."))
    if any(not name or any(c in _NOT_IN_NAMES for c in name) for name in path):
        return None
    return path


def select_route(path: tuple[str, ...] | None, message: str) -> str | None:
    """The route key a text message selects, ``None`` when it selects none."""
    if path is None:
        return None
    try:
        value: Any = orjson.loads(message)
    except orjson.JSONDecodeError:
        return None
    for name in path:
        if not isinstance(value, dict) or name not in value:
            return None
        value = value[name]
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return orjson.dumps(value).decode()
    return None


def _answer(status: int, message: str) -> HttpResponse:
    body = orjson.dumps({"message": message})
    return HttpResponse(status, [("Content-Type", "application/json")], body)


class Api:
    """One served WebSocket API: its spec, id and route selection."""

    def __init__(self, spec: WebSocketApiSpec) -> None:
        self.spec = spec
        self.id = websocket_api_id(spec.logical_id)
        self.domain = domain_name(self.id)
        self.path = selection_path(spec.selection)
        self.stage_variables = dict(spec.stage_variables) or None
        self.routes = {r.key: r for r in spec.routes}


class Session:
    """One WebSocket connection, from the upgrade request to its ``$disconnect``."""

    def __init__(
        self,
        hub: WebSocketHub,
        api: Api,
        req: Request,
        write: Callable[[bytes], int],
        close: Callable[[], None],
        abort: Callable[[], None],
    ) -> None:
        self.hub = hub
        self.api = api
        self.req = req
        self.id = new_connection_id()
        self._write = write
        self._close_transport = close
        self._abort = abort
        self.pin = find_pin(req)
        self.user_agent = req.header("user-agent")
        self.source_ip = req.source_ip
        self.connected_at_ms = int(hub.clock.now() * 1000)
        self.last_active = time.time()
        self.opened = time.time()
        self.authorizer: dict[str, Any] | None = None
        self._ws: Connection | None = None  # after the 101
        self._pending: list[bytes] = []  # received during the handshake
        self._parts: list[str | bytes] = []
        self._size = 0
        self.closed = False

    # ---- the handshake -----------------------------------------------------------------

    async def handshake(self) -> None:
        """Run ``$connect`` (its authorizer, then its function); answer 101 or refuse."""
        try:
            refusal, protocol = await self._connect()
        except Exception:
            log.exception("WebSocket %s: $connect failed", self.api.spec.logical_id)
            refusal, protocol = _answer(500, "Internal server error"), None
        if self.closed:  # the client went away meanwhile
            return
        if refusal is not None:
            self.refuse(refusal)
            return
        key = self.req.header("sec-websocket-key") or ""
        head = [
            "HTTP/1.1 101 Switching Protocols",
            "Upgrade: websocket",
            "Connection: Upgrade",
            "Sec-WebSocket-Accept: " + generate_accept_token(key.encode("latin-1")).decode(),
        ]
        if protocol:
            head.append(f"Sec-WebSocket-Protocol: {protocol}")
        self._write(("\r\n".join(head) + "\r\n\r\n").encode("latin-1"))
        self._ws = Connection(ConnectionType.SERVER)
        self.hub.opened(self)
        pending, self._pending = self._pending, []
        for data in pending:
            self.received(data)

    async def _connect(self) -> tuple[HttpResponse | None, str | None]:
        route = self.api.routes.get(CONNECT)
        if route is None:
            return None, None
        request_id = new_request_id()
        if route.authorizer is not None:
            granted = await self.hub.authorize(self, route, request_id)
            if isinstance(granted, HttpResponse):
                return granted, None
            self.authorizer = granted
        if route.integration is not None:
            answer = await self.hub.integrate(self, route, request_id, b"")
            if 200 <= answer.status < 300:
                return None, None
            return answer, None
        invocation = asyncio.ensure_future(
            self.hub.invoke(self, route, self.event(CONNECT, request_id))
        )
        done, _ = await asyncio.wait({invocation}, timeout=self.hub.integration_timeout_s)
        if not done:
            self.hub.keep(invocation)  # it goes on, and is recorded when it ends
            return _answer(504, "Endpoint request timed out"), None
        result = invocation.result()
        if result is None or result.function_error is not None:
            return _answer(500, "Internal server error"), None
        try:
            payload = orjson.loads(result.payload)
        except orjson.JSONDecodeError:
            payload = None
        if not isinstance(payload, dict):
            return None, None  # no statusCode: API Gateway takes the connection
        status = payload.get("statusCode", 200)
        if not isinstance(status, int) or not 200 <= status < 300:
            body = payload.get("body")
            status = status if isinstance(status, int) and 100 <= status < 600 else 502
            text = body.encode() if isinstance(body, str) else b""
            return HttpResponse(status, [("Content-Type", "text/plain")], text), None
        headers = payload.get("headers")
        protocol = None
        if isinstance(headers, dict):
            for name, value in headers.items():
                if str(name).lower() == "sec-websocket-protocol" and isinstance(value, str):
                    protocol = value
        return None, protocol

    def refuse(self, answer: HttpResponse) -> None:
        """Answer the upgrade request with ``answer`` and close."""
        extra = ("x-amzn-RequestId", new_request_id())
        self._write(serialize(answer, extra, keep_alive=False, http10=False, head=False))
        self.closed = True
        self._close_transport()

    # ---- frames ------------------------------------------------------------------------

    def received(self, data: bytes) -> None:
        ws = self._ws
        if ws is None:
            if not self.closed:
                self._pending.append(data)
            return
        self.last_active = time.time()
        ws.receive_data(data)
        self._events(ws)

    def _events(self, ws: Connection) -> None:
        for event in ws.events():
            if isinstance(event, TextMessage | BytesMessage):
                self._part(event)
            elif isinstance(event, Ping):
                self._send(event.response())
            elif isinstance(event, CloseConnection):
                if ws.state is not ConnectionState.CLOSED:
                    self._send(event.response())
                self._closed(event.code, event.reason or "")
                return
            if self.closed:
                return

    def _part(self, event: TextMessage | BytesMessage) -> None:
        data: str | bytes = event.data if isinstance(event.data, str) else bytes(event.data)
        self._size += len(data.encode() if isinstance(data, str) else data)
        if self._size > MAX_MESSAGE_BYTES:
            self.close(1009, "Message too big")
            return
        self._parts.append(data)
        if not event.message_finished:
            return
        parts, self._parts, self._size = self._parts, [], 0
        if isinstance(event, TextMessage):
            message: str | bytes = "".join(p for p in parts if isinstance(p, str))
        else:
            message = b"".join(p for p in parts if isinstance(p, bytes))
        self.hub.dispatch(self, message)

    def send_data(self, data: bytes) -> None:
        """One message to the client: text when ``data`` is UTF-8, else binary."""
        try:
            self._send(TextMessage(data=data.decode("utf-8")))
        except UnicodeDecodeError:
            self._send(BytesMessage(data=data))

    def _send(self, event: Event) -> None:
        ws = self._ws
        if ws is None or self.closed or ws.state is ConnectionState.CLOSED:
            return
        if self._write(ws.send(event)) > MAX_UNREAD_BYTES:
            self._abort()  # a close frame would wait behind what the client does not read
            self._closed(1006, "Client is not reading")

    def close(self, code: int = 1000, reason: str = "") -> None:
        """Close from the server's side (a close frame, then the socket)."""
        if self.closed:
            return
        ws = self._ws
        if ws is not None and ws.state is ConnectionState.OPEN:
            self._write(ws.send(CloseConnection(code=code, reason=reason)))
        self._closed(code, reason)

    def lost(self) -> None:
        """The socket is gone (closed by the client, or by us)."""
        if not self.closed:
            self._closed(1006, "Connection lost")

    def _closed(self, code: int, reason: str) -> None:
        if self.closed:
            return
        self.closed = True
        self._close_transport()
        if self._ws is not None:
            self.hub.gone(self, code, reason)

    # ---- events ------------------------------------------------------------------------

    def event(
        self,
        route_key: str,
        request_id: str,
        *,
        body: str | bytes | None = None,
        disconnect: tuple[int, str] | None = None,
    ) -> bytes:
        """API Gateway's event for one of this connection's invocations."""
        api = self.api
        epoch_ms = int(self.hub.clock.now() * 1000)
        kind = {CONNECT: "CONNECT", DISCONNECT: "DISCONNECT"}.get(route_key, "MESSAGE")
        context: dict[str, Any] = {
            "routeKey": route_key,
            "eventType": kind,
            "extendedRequestId": request_id,
            "requestTime": request_time(epoch_ms),
            "messageDirection": "IN",
            "stage": api.spec.stage,
            "connectedAt": self.connected_at_ms,
            "requestTimeEpoch": epoch_ms,
            "identity": {"userAgent": self.user_agent, "sourceIp": self.source_ip},
            "requestId": request_id,
            "domainName": api.domain,
            "connectionId": self.id,
            "apiId": api.id,
        }
        if kind == "MESSAGE":
            context["messageId"] = new_request_id()[-16:]
        if self.authorizer is not None:
            grant(context, self.authorizer, True)
        event: dict[str, Any] = {}
        if kind == "CONNECT":
            event.update(self._request_maps())
        elif kind == "DISCONNECT":
            host = {"Host": api.domain, "x-api-key": "", "X-Forwarded-For": "", "x-restapi": ""}
            event["headers"] = host
            event["multiValueHeaders"] = {k: [v] for k, v in host.items()}
            code, reason = disconnect or (1005, "")
            context["disconnectStatusCode"] = code
            context["disconnectReason"] = reason
        event["requestContext"] = context
        if api.stage_variables is not None:
            event["stageVariables"] = api.stage_variables
        if isinstance(body, bytes):
            event["body"] = base64.b64encode(body).decode("ascii")
            event["isBase64Encoded"] = True
        else:
            if body is not None:
                event["body"] = body
            event["isBase64Encoded"] = False
        return orjson.dumps(event)

    def _request_maps(self) -> dict[str, Any]:
        headers: dict[str, str] = {}
        multi: dict[str, list[str]] = {}
        for name, value in self.req.headers:
            if name.lower() == "cookie":
                kept = without_session_cookie(value)
                if kept is None:
                    continue
                value = kept
            headers[name] = value
            multi.setdefault(name, []).append(value)
        out: dict[str, Any] = {"headers": headers, "multiValueHeaders": multi}
        if self.req.query:
            query: dict[str, str] = {}
            multi_query: dict[str, list[str]] = {}
            for key, value in parse_qsl(self.req.query, keep_blank_values=True):
                query[key] = value
                multi_query.setdefault(key, []).append(value)
            out["queryStringParameters"] = query
            out["multiValueQueryStringParameters"] = multi_query
        return out

    def description(self) -> dict[str, Any]:
        """``GetConnection``'s answer."""
        return {
            "connectedAt": _iso(self.connected_at_ms / 1000),
            "identity": {"sourceIp": self.source_ip, "userAgent": self.user_agent},
            "lastActiveAt": _iso(self.last_active),
        }


def _iso(epoch_s: float) -> str:
    millis = int(epoch_s * 1000) % 1000
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(epoch_s)) + f".{millis:03d}Z"


class WebSocketHub:
    """The WebSocket APIs served on the gateway's port, and their open connections."""

    def __init__(
        self,
        routing: RouteSource,
        invoker: Invoker,
        recorder: Recorder,
        clock: Clock,
        authorizers: Authorizers,
        *,
        integration_timeout_s: float = INTEGRATION_TIMEOUT_S,
        integrations: Integrations | None = None,
    ) -> None:
        self.routing = routing
        self.invoker = invoker
        self.recorder = recorder
        self.clock = clock
        self.authorizers = authorizers
        # routes whose integration is not a Lambda proxy (services, mock, HTTP, templates)
        self.integrations = integrations
        self.integration_timeout_s = integration_timeout_s
        self._by_stage: dict[str, list[Api]] = {}
        self.apis: dict[str, Api] = {}  # by logical id
        self.connections: dict[str, Session] = {}
        self._tasks: set[asyncio.Task[Any]] = set()
        self._sweep: asyncio.TimerHandle | None = None

    def configure(self, specs: Mapping[str, WebSocketApiSpec]) -> None:
        """Serve these APIs (a redeploy's): an open connection of an API still served
        takes its new routes at once; one of an API no longer served keeps the routes it
        had until it closes."""
        apis = {name: Api(spec) for name, spec in specs.items()}
        by_stage: dict[str, list[Api]] = {}
        for api in apis.values():
            by_stage.setdefault(api.spec.stage, []).append(api)
        self.apis, self._by_stage = apis, by_stage
        for session in self.connections.values():
            current = apis.get(session.api.spec.logical_id)
            if current is not None:
                session.api = current

    # ---- upgrades ----------------------------------------------------------------------

    def wants(self, req: Request) -> Api | None:
        """The API a ``GET`` upgrade request asks for, by its stage (and, when two APIs
        share a stage name, by the API id its ``Host`` names)."""
        if req.method != "GET" or not self._by_stage:
            return None
        upgrade = req.header("upgrade")
        if upgrade is None or upgrade.lower() != "websocket":
            return None
        stage = req.path.strip("/")
        candidates = self._by_stage.get(stage)
        if not candidates:
            return None
        host = req.host.split(".", 1)[0]
        return next((a for a in candidates if a.id == host), candidates[0])

    def upgrade(
        self,
        api: Api,
        req: Request,
        write: Callable[[bytes], int],
        close: Callable[[], None],
        abort: Callable[[], None],
    ) -> Session:
        """Start the handshake of an upgrade request ``wants`` took. ``write`` answers
        what the connection holds unsent after it; ``close`` flushes, ``abort`` drops."""
        session = Session(self, api, req, write, close, abort)
        key = req.header("sec-websocket-key") or ""
        if req.header("sec-websocket-version") != "13" or not _valid_key(key):
            session.refuse(_answer(400, "Bad Request"))
            return session
        self.keep(asyncio.ensure_future(session.handshake()))
        return session

    def session_for(self, connection_id: str, stage: str, api_id: str | None) -> Session | None:
        """The open connection the Management API names: by id, on that stage and, when the
        caller names one, that API (None: API Gateway's ``GoneException``)."""
        session = self.connections.get(connection_id)
        if (
            session is None
            or session.closed
            or session.api.spec.stage != stage
            or (api_id is not None and api_id.lower() != session.api.id)
        ):
            return None
        return session

    def opened(self, session: Session) -> None:
        self.connections[session.id] = session
        if self._sweep is None:
            self._sweep = asyncio.get_running_loop().call_later(30.0, self._sweep_idle)

    def gone(self, session: Session, code: int, reason: str) -> None:
        """A connection closed: forget it, then run ``$disconnect``."""
        if self.connections.pop(session.id, None) is None:
            return
        route = session.api.routes.get(DISCONNECT)
        if route is None:
            return
        if route.integration is not None:
            run = self.integrate(session, route, new_request_id(), b"", (code, reason))
            self.keep(asyncio.ensure_future(run))
            return
        event = session.event(DISCONNECT, new_request_id(), disconnect=(code, reason))
        self.keep(asyncio.ensure_future(self.invoke(session, route, event)))

    def _sweep_idle(self) -> None:
        """Close connections idle for 10 minutes or open for 2 hours, as API Gateway does."""
        self._sweep = None
        now = time.time()
        for session in list(self.connections.values()):
            idle = now - session.last_active >= IDLE_TIMEOUT_S
            if idle or now - session.opened >= MAX_DURATION_S:
                session.close(1001, "Going away")
        if self.connections:
            self._sweep = asyncio.get_running_loop().call_later(30.0, self._sweep_idle)

    def shutdown(self) -> None:
        """Close every connection (going away) without running ``$disconnect``: the
        functions are stopping too."""
        connections, self.connections = self.connections, {}
        for session in connections.values():
            session.close(1001, "Going away")
        if self._sweep is not None:
            self._sweep.cancel()
            self._sweep = None
        for task in list(self._tasks):
            task.cancel()

    # ---- messages ----------------------------------------------------------------------

    def dispatch(self, session: Session, message: str | bytes) -> None:
        self.keep(asyncio.ensure_future(self._message(session, message)))

    async def _message(self, session: Session, message: str | bytes) -> None:
        api = session.api
        request_id = new_request_id()
        key = select_route(api.path, message) if isinstance(message, str) else None
        route = api.routes.get(key) if key is not None else None
        if route is None or key in (CONNECT, DISCONNECT):
            route = api.routes.get(DEFAULT)
        if route is None:
            self._tell(session, "Forbidden", request_id)
            return
        if route.integration is not None:
            body = message.encode() if isinstance(message, str) else message
            answer = await self.integrate(session, route, request_id, body)
            if answer.kind is not None:  # one of API Gateway's own answers: its message
                self._tell(session, orjson.loads(answer.body)["message"], request_id)
            elif route.two_way and answer.body:
                session.send_data(answer.body)
            return
        event = session.event(route.key, request_id, body=message)
        invocation = asyncio.ensure_future(self.invoke(session, route, event))
        done, _ = await asyncio.wait({invocation}, timeout=self.integration_timeout_s)
        if not done:
            self.keep(invocation)  # it goes on, and is recorded when it ends
            self._tell(session, "Endpoint request timed out", request_id)
            return
        result = invocation.result()
        if result is None or result.function_error is not None:
            self._tell(session, "Internal server error", request_id)
            return
        if route.two_way:
            reply = _reply(result.payload)
            if reply is not None:
                session.send_data(reply)

    def _tell(self, session: Session, message: str, request_id: str) -> None:
        """One of API Gateway's own messages to the client."""
        body = {"message": message, "connectionId": session.id, "requestId": request_id}
        session.send_data(orjson.dumps(body))

    # ---- invocations -------------------------------------------------------------------

    async def authorize(
        self, session: Session, route: WebSocketRoute, request_id: str
    ) -> dict[str, Any] | HttpResponse:
        spec = route.authorizer
        assert spec is not None
        api = session.api
        arn = f"arn:aws:execute-api:{REGION}:{ACCOUNT}:{api.id}/{api.spec.stage}/{CONNECT}"
        event = orjson.loads(session.event(CONNECT, request_id))
        event.pop("isBase64Encoded", None)
        head = {"type": "REQUEST", "methodArn": arn}
        return await self.authorizers.check_request(
            spec, session.req, api.id, arn, lambda: orjson.dumps(head | event)
        )

    async def integrate(
        self,
        session: Session,
        route: WebSocketRoute,
        request_id: str,
        body: bytes,
        disconnect: tuple[int, str] | None = None,
    ) -> HttpResponse:
        """Run ``route``'s integration (not a Lambda proxy) for one message, with the
        request context API Gateway gives its mapping templates (``$context.connectionId``,
        ``routeKey``, ``eventType``, ...)."""
        spec = route.integration
        assert spec is not None
        if self.integrations is None:
            return _answer(500, "Internal server error")
        event = orjson.loads(session.event(route.key, request_id, disconnect=disconnect))
        api = session.api
        req = session.req
        # the request template: the one its TemplateSelectionExpression selects (a field
        # of the message, like a route), else the integration's $default
        expression = (spec.template_selection or DEFAULT).removeprefix("\\")
        key = expression
        if expression.startswith(("$request.body.", "${request.body.")):
            text = body.decode("utf-8", "replace")
            key = select_route(selection_path(expression), text) or DEFAULT
        return await self.integrations.message(
            spec,
            body,
            key,
            headers={name: value for name, value in req.headers},
            query=dict(parse_qsl(req.query, keep_blank_values=True)),
            context=event["requestContext"],
            stage_variables=dict(api.spec.stage_variables),
            pin=session.pin,
            where=f"WebSocket {api.spec.logical_id} {route.key}",
        )

    async def invoke(
        self, session: Session, route: WebSocketRoute, event: bytes
    ) -> InvokeResult | None:
        """Invoke ``route``'s function through its alias and record the outcome. The
        connection's pin chooses the version of each of its functions it names one of
        (a connection's routes may be several functions); the others choose as usual."""
        function = route.function
        try:
            try:
                version, alias = self.routing.choose(function, pin=session.pin)
            except InvalidRequest:
                version, alias = self.routing.choose(function)
        except (NotFound, InvalidRequest) as exc:
            log.error("WebSocket %s %s: %s", session.api.spec.logical_id, route.key, exc.message)
            return None
        result, _ = await invoke_recorded(
            self.invoker,
            self.recorder,
            self.clock,
            function,
            version,
            alias,
            event,
            f"WebSocket {session.api.spec.logical_id} {route.key}",
        )
        return result

    def keep(self, task: asyncio.Task[Any]) -> None:
        """Hold ``task`` until it ends (and cancel it at shutdown)."""
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)


def _reply(payload: bytes) -> bytes | None:
    """What a two-way route sends back: the proxy answer's ``body`` (decoded when
    ``isBase64Encoded``); an answer that is not an object is sent as its JSON."""
    try:
        value = orjson.loads(payload)
    except orjson.JSONDecodeError:
        return payload or None
    if not isinstance(value, dict):
        return None if value is None else orjson.dumps(value)
    body = value.get("body")
    if body is None:
        return None
    if not isinstance(body, str):
        return orjson.dumps(body)
    if value.get("isBase64Encoded") is True:
        try:
            return base64.b64decode(body, validate=True)
        except ValueError:
            return body.encode()
    return body.encode()


def _valid_key(key: str) -> bool:
    try:
        return len(base64.b64decode(key, validate=True)) == 16
    except ValueError:
        return False


__all__ = [
    "IDLE_TIMEOUT_S",
    "MAX_DURATION_S",
    "MAX_MESSAGE_BYTES",
    "Api",
    "Session",
    "WebSocketHub",
    "domain_name",
    "new_connection_id",
    "select_route",
    "selection_path",
    "websocket_api_id",
]
