"""Serve a Platform: the control port's ASGI app (edge + control API + dashboard +
metrics) on uvicorn, the gateway on its own port, until told to stop."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import socket
from collections.abc import Callable, Iterator

import uvicorn
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute

from canaria.aws import edge_routes
from canaria.aws.unserved import UnservedServices
from canaria.control.connections import BodyLimit, GuardedHttpTools
from canaria.control.routes import control_routes, error
from canaria.dashboard.prom import metrics_routes
from canaria.dashboard.web import dashboard_routes
from canaria.errors import CanariaError
from canaria.limits import raise_open_files_limit
from canaria.platform import Platform
from canaria.release import ReleaseResult

log = logging.getLogger("canaria")

ExtraRoutes = Callable[[Platform], list[BaseRoute]]
EXTRA_ROUTES: list[ExtraRoutes] = [metrics_routes, dashboard_routes]


def control_app(platform: Platform) -> Starlette:
    routes: list[BaseRoute] = [*control_routes(platform)]
    for extra in EXTRA_ROUTES:
        routes.extend(extra(platform))
    routes.extend(edge_routes(platform))

    async def on_error(request: Request, exc: Exception) -> Response:
        if isinstance(exc, CanariaError):  # raised below a route (a body over the limit)
            return error(exc.http_status, exc.code, exc.message)
        log.exception("control API error on %s %s", request.method, request.url.path)
        return error(500, "InternalError", f"{type(exc).__name__}: {exc}")

    # a request signed for a service the edge does not serve is answered with its name
    elsewhere = {
        "dynamodb": (platform.tables.endpoint, "AWS_ENDPOINT_URL_DYNAMODB"),
        **platform.services.signing_endpoints(),
    }
    return Starlette(
        routes=routes,
        exception_handlers={Exception: on_error},
        middleware=[Middleware(UnservedServices, elsewhere=elsewhere)],
    )


class _Uvicorn(uvicorn.Server):
    """uvicorn without its own signal handling: ``Server.wait`` owns SIGINT/SIGTERM, so a
    signal stops the gateway, the controller and the workers, not only the control port."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


class Server:
    """A running ``canaria up``: start, then ``wait`` until a signal, then ``stop``."""

    def __init__(self, platform: Platform) -> None:
        self.platform = platform
        self._socket: socket.socket | None = None
        raise_open_files_limit()
        config = uvicorn.Config(
            BodyLimit(control_app(platform)),
            host=platform.options.host,
            port=platform.options.control_port,
            log_level="warning",
            lifespan="off",
            loop="none",
            http=GuardedHttpTools,  # httptools, with read deadlines and a connection cap
            timeout_graceful_shutdown=2,  # an open dashboard stream never holds up a stop
        )
        self.uvicorn = _Uvicorn(config)
        self._serving: asyncio.Task[None] | None = None
        self._stop = asyncio.Event()

    async def start(self) -> ReleaseResult:
        # Bound first, by us: with --control-port 0 the OS picks the port, and the platform
        # learns its address before any function's environment names it.
        options = self.platform.options
        self._socket = socket.create_server((options.host, options.control_port))
        self.platform.control_url = f"http://{options.host}:{self._socket.getsockname()[1]}"
        result = await self.platform.start()
        self._serving = asyncio.ensure_future(self.uvicorn.serve(sockets=[self._socket]))
        while not self.uvicorn.started:
            if self._serving.done():
                self._serving.result()  # raises the bind error
                raise RuntimeError("control API stopped while starting")
            await asyncio.sleep(0.01)
        return result

    def request_stop(self) -> None:
        self._stop.set()

    async def wait(self) -> None:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, self._stop.set)
        await self._stop.wait()

    async def stop(self) -> None:
        self.uvicorn.should_exit = True
        if self._serving is not None:
            await self._serving
        if self._socket is not None:
            self._socket.close()
        await self.platform.stop()
