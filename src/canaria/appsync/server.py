"""Each GraphQL API of the template served on a port of its own, at ``/graphql``, as
``https://<id>.appsync-api.<region>.amazonaws.com/graphql`` is: ``POST`` a JSON body with
``query``, ``variables`` and ``operationName``; the answer is ``data`` and ``errors``.

Each request is authorized by the API's modes (``canaria.appsync.auth``); ``up`` prints
the API keys. A refused request is answered 401 with AppSync's ``UnauthorizedException``.
An API keeps its port across restarts while the port is free (the ports are kept in the
state directory).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import socket
import threading
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request as HttpRequest
from starlette.responses import JSONResponse, Response
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket

from canaria.appsync.http import Send
from canaria.auth import Keyring
from canaria.clock import Clock
from canaria.gateway.authorizers import TokenKeys
from canaria.models.appsync import AWS_IAM, GraphQLApiSpec
from canaria.models.arns import ACCOUNT
from canaria.ports import known_ports, save_ports

from .auth import Authorizer, Caller, Refused
from .execute import GraphQLApi, Invoke, Request
from .js import JsRuntime
from .realtime import Subscriptions

log = logging.getLogger("canaria.appsync")
MAX_BODY = 1024 * 1024  # AppSync refuses larger requests


def _unauthorized(message: str) -> JSONResponse:
    return JSONResponse(
        {"errors": [{"errorType": "UnauthorizedException", "message": message}]},
        status_code=401,
    )


def _malformed(message: str) -> JSONResponse:
    return JSONResponse(
        {"errors": [{"errorType": "MalformedHttpRequestException", "message": message}]},
        status_code=400,
    )


class _Uvicorn(uvicorn.Server):
    """uvicorn without signal handlers of its own: canaria's server owns them."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


class _Served:
    """One API's listener."""

    def __init__(self, api: GraphQLApi, sock: socket.socket, app: Starlette) -> None:
        self.api = api
        self.subscriptions = api.subscriptions  # kept across releases
        self.port = int(sock.getsockname()[1])
        self._socket = sock
        config = uvicorn.Config(
            app, log_level="warning", lifespan="off", loop="none", access_log=False
        )
        self._server = _Uvicorn(config)
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._task = asyncio.ensure_future(self._server.serve(sockets=[self._socket]))
        while not self._server.started:
            if self._task.done():
                self._task.result()
                raise RuntimeError("the GraphQL listener stopped while starting")
            await asyncio.sleep(0.01)

    async def stop(self) -> None:
        self._server.should_exit = True
        if self._task is not None:
            with contextlib.suppress(Exception):
                await self._task
        self._socket.close()


class GraphQLApis:
    """The GraphQL APIs being served, kept in step with the application's template."""

    def __init__(
        self,
        invoke: Invoke,
        table_client: Callable[[], Any],
        clock: Clock,
        *,
        host: str,
        workdir: Path,
        keyring: Keyring | None = None,
        token_keys: TokenKeys | None = None,
        send: Send | None = None,
    ) -> None:
        self._invoke = invoke
        self._send = send  # HTTP data sources' requests (signed, to this machine's engines)
        self.authorizer = Authorizer(clock, invoke, keyring, token_keys)
        self._table_client = table_client
        self._clock = clock
        self._host = host
        self._ports_file = workdir / "graphql-ports.json"
        self.js = JsRuntime(workdir / "resolvers")
        self._served: dict[str, _Served] = {}
        self._reserved: dict[str, socket.socket] = {}  # bound for a URL given out before
        self._lock = threading.Lock()  # templates load in a worker thread

    def url_for(self, name: str) -> str:
        """The URL the API with logical id ``name`` is (or will be) served at: its port is
        bound now, so a function's environment or an integration can name it before the
        API is served."""
        with self._lock:
            served = self._served.get(name)
            if served is not None:
                port = served.port
            else:
                if name not in self._reserved:
                    self._reserved[name] = _bind(
                        self._host, known_ports(self._ports_file).get(name, 0)
                    )
                port = int(self._reserved[name].getsockname()[1])
        return f"http://{self._host}:{port}/graphql"

    def endpoints(self) -> dict[str, str]:
        """Each served API's URL, by logical id."""
        return {
            name: f"http://{self._host}:{s.port}/graphql"
            for name, s in sorted(self._served.items())
        }

    def api_keys(self) -> dict[str, list[str]]:
        """Each served API's keys, by logical id."""
        return {n: list(s.api.spec.api_keys.values()) for n, s in sorted(self._served.items())}

    async def serve(self, apis: Mapping[str, GraphQLApiSpec]) -> None:
        """Serve exactly ``apis``: stop the others, start the new ones, give the ones
        served already their new schema and resolvers."""
        for name in [n for n in self._served if n not in apis]:
            await self._served.pop(name).stop()
        known = known_ports(self._ports_file)
        for name, spec in apis.items():
            served = self._served.get(name)
            subscriptions = served.subscriptions if served is not None else Subscriptions()
            api = GraphQLApi(
                spec, self.js, self._invoke, self._table_client, subscriptions, self._send
            )
            if served is not None:
                served.api = api
                continue
            with self._lock:
                sock = self._reserved.pop(name, None) or _bind(self._host, known.get(name, 0))
            served = _Served(api, sock, self._app(name))
            await served.start()
            self._served[name] = served
        save_ports(
            self._ports_file,
            known_ports(self._ports_file) | {n: s.port for n, s in self._served.items()},
        )

    async def stop(self) -> None:
        for served in self._served.values():
            await served.stop()
        self._served.clear()
        with self._lock:
            for sock in self._reserved.values():
                sock.close()
            self._reserved.clear()
        await self.js.close()

    async def run_as_service(
        self, name: str, query: str, variables: dict[str, Any]
    ) -> dict[str, Any]:
        """Run ``query`` on the API with logical id ``name`` as an AWS service calls it
        (an EventBridge rule's AppSync target): signed by a role, so only an API with the
        ``AWS_IAM`` mode lets it in."""
        served = self._served.get(name)
        if served is None:
            return {"errors": [{"message": f"the GraphQL API {name} is not served"}]}
        spec = served.api.spec
        if AWS_IAM not in spec.auth:
            return {
                "errors": [
                    {
                        "errorType": "UnauthorizedException",
                        "message": "the API has no AWS_IAM authorization mode",
                    }
                ]
            }
        identity: dict[str, Any] = {
            "accountId": ACCOUNT,
            "cognitoIdentityPoolId": None,
            "cognitoIdentityId": None,
            "sourceIp": [],
            "username": "events.amazonaws.com",
            "userArn": f"arn:aws:sts::{ACCOUNT}:assumed-role/eventbridge/events.amazonaws.com",
            "cognitoIdentityAuthType": None,
            "cognitoIdentityAuthProvider": None,
        }
        request = Request(identity, {}, "", variables, int(self._clock.now() * 1000), AWS_IAM)
        answer = await served.api.execute(query, variables, None, request)
        for line in request.logs:
            log.info("%s: %s", name, line)
        return dict(answer)

    # ---- one request ----------------------------------------------------------------------

    def _app(self, name: str) -> Starlette:
        async def graphql_endpoint(request: HttpRequest) -> Response:
            return await self._answer(name, request)

        async def realtime_endpoint(websocket: WebSocket) -> None:
            served = self._served[name]

            async def authorize(headers: Mapping[str, str]) -> tuple[Caller | None, str | None]:
                try:
                    return await self.authorizer.identity(served.api.spec, headers), None
                except Refused as exc:
                    return None, str(exc)

            await served.subscriptions.serve(
                websocket,
                lambda: served.api.schema,
                authorize,
                lambda *args: served.api.subscribe(*args),
            )

        return Starlette(
            routes=[
                Route("/graphql", graphql_endpoint, methods=["POST"]),
                WebSocketRoute("/graphql/realtime", realtime_endpoint),
            ]
        )

    async def _answer(self, name: str, http: HttpRequest) -> Response:
        api = self._served[name].api
        body = await _body(http)
        if body is None:
            return _malformed("The request body is larger than AppSync accepts (1 MB).")
        headers = {k.lower(): v for k, v in http.headers.items()}
        try:
            document = json.loads(body)
        except ValueError:
            document = None
        try:
            caller = await self.authorizer.identity(
                api.spec,
                headers,
                url=str(http.url),
                body=body,
                request=document if isinstance(document, dict) else None,
                source_ip=http.client.host if http.client else "",
            )
        except Refused as exc:
            return _unauthorized(str(exc))
        if document is None:
            return _malformed("The request body is not valid JSON.")
        if not isinstance(document, dict) or not isinstance(document.get("query"), str):
            return _malformed("The request body must be a JSON object with a 'query' string.")
        variables = document.get("variables")
        if isinstance(variables, str):  # AppSync takes them as JSON text too
            try:
                variables = json.loads(variables) if variables.strip() else None
            except ValueError:
                return _malformed("'variables' is not valid JSON.")
        if variables is not None and not isinstance(variables, dict):
            return _malformed("'variables' must be a JSON object.")
        operation = document.get("operationName")
        request = Request(
            caller.identity,
            headers,
            headers.get("host", ""),
            variables or {},
            int(self._clock.now() * 1000),
            caller.mode,
            caller.denied,
        )
        answer = await api.execute(
            document["query"], variables, operation if isinstance(operation, str) else None, request
        )
        for line in request.logs:
            log.info("%s: %s", name, line)
        return JSONResponse(answer)


async def _body(http: HttpRequest) -> bytes | None:
    """The request's body, read no further than ``MAX_BODY`` (None: it is longer)."""
    declared = http.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_BODY:
        return None
    chunks: list[bytes] = []
    size = 0
    async for chunk in http.stream():
        size += len(chunk)
        if size > MAX_BODY:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


def _bind(host: str, port: int) -> socket.socket:
    """A listening socket on ``port`` (an API's earlier one), else on one the OS picks."""
    for candidate in (port, 0) if port else (0,):
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, candidate))
        except OSError as exc:
            sock.close()
            if candidate == 0:
                raise
            log.info("GraphQL port %d is taken (%s): another one", candidate, exc)
            continue
        sock.listen(128)
        sock.setblocking(False)
        return sock
    raise AssertionError("unreachable")  # pragma: no cover
