"""Each GraphQL API of the template served on a port of its own, at ``/graphql``, as
``https://<id>.appsync-api.<region>.amazonaws.com/graphql`` is: ``POST`` a JSON body with
``query``, ``variables`` and ``operationName``; the answer is ``data`` and ``errors``.

Authorization, as the API's modes allow (any one of them suffices; AppSync's per-field
auth directives are not applied):

- ``API_KEY``: the ``x-api-key`` header must be one of the API's keys (``canaria up``
  prints them); the resolvers' ``ctx.identity`` is ``null``.
- ``AWS_IAM``: the request must be signed with SigV4 (service ``appsync``) by keys canaria
  issued (the operator's, which ``canaria env`` exports, or a function's);
  ``ctx.identity`` names the caller.
- ``AMAZON_COGNITO_USER_POOLS``, ``OPENID_CONNECT``, ``AWS_LAMBDA``: an ``Authorization``
  header is required but its token is not checked (a warning when the template loads);
  a JWT's claims are given as ``ctx.identity.claims`` unverified.

A refused request is answered 401 with AppSync's ``UnauthorizedException``. An API keeps
its port across restarts while the port is free (the ports are kept in the state
directory).
"""

from __future__ import annotations

import asyncio
import base64
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

from canaria.auth import Keyring
from canaria.clock import Clock
from canaria.models.appsync import API_KEY, AWS_IAM, GraphQLApiSpec
from canaria.models.arns import ACCOUNT
from canaria.sigv4 import credential_scope, verify

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
    ) -> None:
        self._invoke = invoke
        self._table_client = table_client
        self._clock = clock
        self._host = host
        self._keyring = keyring
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
                    self._reserved[name] = _bind(self._host, self._known_ports().get(name, 0))
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
        known = self._known_ports()
        for name, spec in apis.items():
            served = self._served.get(name)
            subscriptions = served.subscriptions if served is not None else Subscriptions()
            api = GraphQLApi(spec, self.js, self._invoke, self._table_client, subscriptions)
            if served is not None:
                served.api = api
                continue
            with self._lock:
                sock = self._reserved.pop(name, None) or _bind(self._host, known.get(name, 0))
            served = _Served(api, sock, self._app(name))
            await served.start()
            self._served[name] = served
        self._save_ports()

    async def stop(self) -> None:
        for served in self._served.values():
            await served.stop()
        self._served.clear()
        with self._lock:
            for sock in self._reserved.values():
                sock.close()
            self._reserved.clear()
        await self.js.close()

    # ---- one request ----------------------------------------------------------------------

    def _app(self, name: str) -> Starlette:
        async def graphql_endpoint(request: HttpRequest) -> Response:
            return await self._answer(name, request)

        async def realtime_endpoint(websocket: WebSocket) -> None:
            served = self._served[name]

            def authorize(headers: Mapping[str, str]) -> tuple[Any, str | None]:
                return self._authorize_headers(served.api.spec, headers)

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
        body = await http.body()
        if len(body) > MAX_BODY:
            return _malformed("The request body is larger than AppSync accepts (1 MB).")
        headers = {k.lower(): v for k, v in http.headers.items()}
        identity, refusal = self._authorize(api.spec, http, headers, body)
        if refusal is not None:
            return refusal
        try:
            document = json.loads(body)
        except ValueError:
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
            identity,
            headers,
            headers.get("host", ""),
            variables or {},
            int(self._clock.now() * 1000),
        )
        answer = await api.execute(
            document["query"], variables, operation if isinstance(operation, str) else None, request
        )
        for line in request.logs:
            log.info("%s: %s", name, line)
        return JSONResponse(answer)

    def _authorize(
        self,
        spec: GraphQLApiSpec,
        http: HttpRequest,
        headers: Mapping[str, str],
        body: bytes,
    ) -> tuple[Any, Response | None]:
        """(``ctx.identity``, None) for a request one of the API's modes lets in, else
        (None, the 401 answer)."""
        authorization = headers.get("authorization", "")
        if (
            "x-api-key" not in headers
            and AWS_IAM in spec.auth
            and authorization.startswith("AWS4-HMAC-SHA256")
        ):
            return self._signed(http, headers, body)
        identity, refusal = self._authorize_headers(spec, headers)
        if refusal is not None:
            return None, _unauthorized(refusal)
        if isinstance(identity, dict):
            identity["sourceIp"] = [_client(http)]
        return identity, None

    @staticmethod
    def _authorize_headers(
        spec: GraphQLApiSpec, headers: Mapping[str, str]
    ) -> tuple[Any, str | None]:
        """What headers alone decide (a real-time connection's, a request not signed):
        (``ctx.identity``, None), or (None, why it is refused)."""
        key = headers.get("x-api-key")
        authorization = headers.get("authorization", "")
        if API_KEY in spec.auth and key is not None:
            if key in spec.api_keys.values():
                return None, None
            return None, "You are not authorized to make this call."
        others = [m for m in spec.auth if m not in (API_KEY, AWS_IAM)]
        if others and authorization and not authorization.startswith("AWS4-HMAC-SHA256"):
            return {"claims": _claims(authorization), "sourceIp": []}, None
        return None, "Valid authorization header not provided."

    def _signed(
        self, http: HttpRequest, headers: Mapping[str, str], body: bytes
    ) -> tuple[Any, Response | None]:
        keyring = self._keyring
        scope = credential_scope(headers.get("authorization", ""))
        if keyring is None or scope is None:
            return None, _unauthorized("You are not authorized to make this call.")
        if scope[1] != "appsync":
            return None, _unauthorized("Credential should be scoped to correct service: 'appsync'.")

        def secret_for(access_key: str) -> str | None:
            found = keyring.by_access_key(access_key)
            return found[1] if found else None

        problem, access_key = verify(
            http.method, str(http.url), headers, body, secret_for, now=self._clock.now()
        )
        if problem is not None:
            return None, _unauthorized(problem)
        found = keyring.by_access_key(access_key)
        user = found[0].caller_id(access_key) if found else access_key
        arn = found[0].arn if found else ""
        return {
            "accountId": ACCOUNT,
            "cognitoIdentityPoolId": None,
            "cognitoIdentityId": None,
            "sourceIp": [_client(http)],
            "username": user,
            "userArn": arn,
            "cognitoIdentityAuthType": None,
            "cognitoIdentityAuthProvider": None,
        }, None

    # ---- ports ----------------------------------------------------------------------------

    def _known_ports(self) -> dict[str, int]:
        try:
            known = json.loads(self._ports_file.read_text())
        except (OSError, ValueError):
            return {}
        if not isinstance(known, dict):
            return {}
        return {str(n): p for n, p in known.items() if isinstance(p, int) and 0 < p < 65536}

    def _save_ports(self) -> None:
        ports = self._known_ports() | {n: s.port for n, s in self._served.items()}
        self._ports_file.parent.mkdir(parents=True, exist_ok=True)
        tmp = self._ports_file.with_suffix(".tmp")
        tmp.write_text(json.dumps(ports, sort_keys=True))
        tmp.replace(self._ports_file)


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


def _client(http: HttpRequest) -> str:
    return http.client.host if http.client else ""


def _claims(authorization: str) -> dict[str, Any]:
    """A JWT's claims, unverified (canaria does not check these modes' tokens)."""
    token = authorization.removeprefix("Bearer ").strip()
    parts = token.split(".")
    if len(parts) != 3:
        return {}
    try:
        payload = base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4))
        claims = json.loads(payload)
    except ValueError:
        return {}
    return claims if isinstance(claims, dict) else {}
