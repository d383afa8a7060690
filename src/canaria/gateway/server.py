"""``GatewayServer``: the HTTP data plane on one port, on the running event loop (uvloop
when the process installed it)."""

from __future__ import annotations

import asyncio
import logging
import socket
from collections.abc import Callable
from typing import TypeVar

from canaria.auth import Keyring
from canaria.clock import Clock
from canaria.limits import REQUEST_READ_TIMEOUT_S

from .authorizers import TokenKeys
from .handler import INTEGRATION_TIMEOUT_S, Handler
from .iam import Signatures
from .protocol import Connections, HttpProtocol, RequestHandler
from .types import ApiMeter, Backends, Invoker, Recorder, RouteSource, SplitMode
from .websockets import WebSocketHub

log = logging.getLogger("canaria.gateway")

L = TypeVar("L", bound="HttpListener")


async def listen_again(make: Callable[[int], L], port: int, what: str) -> L:
    """A listener ``make`` builds, started on ``port`` (the one it had before a restart),
    else, when that port is taken now, on a port the OS picks."""
    try:
        listener = make(port)
        await listener.start()
        return listener
    except OSError as exc:
        if port == 0:
            raise
        log.info("%s's port %d is taken (%s): another one", what, port, exc)
        listener = make(0)
        await listener.start()
        return listener


class HttpListener:
    """One port's HTTP/1.1 server on the running event loop: each request answered by
    ``handler`` (upgrades to a WebSocket API's stage by ``websockets``, when given), idle
    connections closed past ``keep_alive_s``."""

    def __init__(
        self,
        handler: RequestHandler,
        *,
        host: str = "127.0.0.1",
        port: int = 3000,
        keep_alive_s: float = 75.0,
        websockets: WebSocketHub | None = None,
    ) -> None:
        self._handler = handler
        self._websockets = websockets
        self.host = host
        self._port = port
        self.keep_alive_s = keep_alive_s
        self._server: asyncio.Server | None = None
        self._shared: Connections | None = None
        self._sweep: asyncio.TimerHandle | None = None

    @property
    def port(self) -> int:
        """The port it listens on (the one the OS chose when 0 was asked)."""
        return self._port

    async def start(self) -> None:
        if self._server is not None:
            raise RuntimeError("the listener is already started")
        loop = asyncio.get_running_loop()
        shared = Connections(self._handler, loop, self._port, self._websockets)
        server = await loop.create_server(
            lambda: HttpProtocol(shared), self.host, self._port, reuse_address=True, backlog=1024
        )
        for sock in server.sockets:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            self._port = int(sock.getsockname()[1])
            break
        shared.port = self._port
        self._server = server
        self._shared = shared
        self._schedule_sweep()

    async def stop(self, grace_s: float = 5.0) -> None:
        """Stop listening, let requests in flight finish (at most ``grace_s``), close all."""
        server, shared = self._server, self._shared
        if server is None or shared is None:
            return
        self._server = None
        if self._sweep is not None:
            self._sweep.cancel()
            self._sweep = None
        shared.stopping = True
        if self._websockets is not None:
            self._websockets.shutdown()
        server.close()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + grace_s
        while True:
            for conn in list(shared.open):
                if conn.idle:
                    conn.close()
            if not shared.open or loop.time() >= deadline:
                break
            await asyncio.sleep(0.01)
        pending = [t for t in shared.detached if not t.done()]
        for conn in list(shared.open):
            if conn.task is not None and not conn.task.done():
                pending.append(conn.task)
            conn.close()
        await server.wait_closed()
        for task in pending:
            task.cancel()
        if pending:
            await asyncio.gather(*pending, return_exceptions=True)

    def _schedule_sweep(self) -> None:
        shared = self._shared
        if shared is None:
            return
        every = min(5.0, self.keep_alive_s / 2, REQUEST_READ_TIMEOUT_S / 4)
        self._sweep = shared.loop.call_later(every, self._sweep_idle)

    def _sweep_idle(self) -> None:
        """Close connections idle (between requests, or mid-request) past keep-alive, and
        those whose request is not read in full within ``REQUEST_READ_TIMEOUT_S``."""
        shared = self._shared
        if shared is None:
            return
        now = shared.loop.time()
        limit = now - self.keep_alive_s
        slow = now - REQUEST_READ_TIMEOUT_S
        for conn in list(shared.open):
            too_slow = conn.reading_since is not None and conn.reading_since < slow
            if too_slow or (conn.idle and conn.last_active < limit):
                conn.close()
        self._schedule_sweep()


class GatewayServer(HttpListener):
    """The API Gateway data plane on one port: REST, HTTP and WebSocket APIs (and a
    function URL, given its ``FunctionUrlRouting``)."""

    def __init__(
        self,
        routing: RouteSource,
        invoker: Invoker,
        recorder: Recorder,
        clock: Clock,
        *,
        host: str = "127.0.0.1",
        port: int = 3000,
        split_mode: SplitMode = "deterministic",
        seed: int | None = None,
        integration_timeout_s: float = INTEGRATION_TIMEOUT_S,
        keep_alive_s: float = 75.0,
        backends: Backends | None = None,
        keyring: Keyring | None = None,
        token_keys: TokenKeys | None = None,
        api_meter: ApiMeter | None = None,
    ) -> None:
        if split_mode not in ("deterministic", "random"):
            raise ValueError(f"split mode must be 'deterministic' or 'random', got {split_mode!r}")
        self.routing = routing
        routing.set_split_mode(split_mode, seed)
        self.handler = Handler(
            routing,
            invoker,
            recorder,
            clock,
            integration_timeout_s=integration_timeout_s,
            backends=backends,
            signatures=Signatures(keyring),
            token_keys=token_keys,
            api_meter=api_meter,
        )
        self.websockets = WebSocketHub(
            routing,
            invoker,
            recorder,
            clock,
            self.handler.authorizers,
            integration_timeout_s=integration_timeout_s,
            integrations=self.handler.integrations,
        )
        super().__init__(
            self.handler,
            host=host,
            port=port,
            keep_alive_s=keep_alive_s,
            websockets=self.websockets,
        )
