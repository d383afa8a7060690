"""Function URLs: each function with a ``FunctionUrlConfig`` served on a port of its own.

Every request to that port invokes the function, whatever its method and path, as
``https://<url-id>.lambda-url.<region>.on.aws/`` does: through the alias the function's
routes use (its ``AutoPublishAlias``, and that alias's split during a deployment, so a
canary is judged on its URL's traffic too), with payload format 2.0 (the event of an HTTP
API's ``$default`` route, the shape a function URL sends) and the same response mapping;
its ``Cors`` is applied as an HTTP API's ``CorsConfiguration``; with ``AuthType: AWS_IAM``
only requests signed (for ``lambda``) by keys canaria issued are answered
(``canaria.gateway.iam``).
A URL keeps its port across restarts while the port is free (the ports are kept in the
state directory); otherwise the OS picks one. A URL waits for its function as long as
Lambda lets a function run (15 minutes), not API Gateway's 29 seconds: the function's own
timeout ends it first. With ``InvokeMode: RESPONSE_STREAM`` the answer is streamed as the
function writes it (``canaria.gateway.streamed``).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from canaria.auth import Keyring
from canaria.clock import Clock
from canaria.models import FunctionUrlSpec, RouteSpec, iam_authorizer
from canaria.models.routes import DEFAULT_ROUTE
from canaria.ports import known_ports, save_ports

from .routes import Router
from .routing import Routing
from .server import GatewayServer, listen_again
from .types import Invoker, Recorder, SplitMode

# no gateway timeout of its own: a function's longest (900 s), and a second for its answer
FUNCTION_URL_TIMEOUT_S = 901.0


def url_id(function: str) -> str:
    """The URL's id (the host's first label on AWS; here, the API id of its events)."""
    return f"url-{function.lower()}"


class FunctionUrlRouting:
    """One function URL's view of the application's routing: its own router (every
    request is the function's), the application's choice of version."""

    def __init__(self, routing: Routing, function: str, config: FunctionUrlSpec) -> None:
        self._routing = routing
        self._function = function
        self._router = Router(())
        self.configure(config)

    def configure(self, config: FunctionUrlSpec) -> None:
        """Apply the URL's config (its ``Cors``, as an HTTP API's ``CorsConfiguration``)."""
        fn = self._function
        signed = iam_authorizer("http", "lambda") if config.auth_type == "AWS_IAM" else None
        spec = RouteSpec(
            "ANY",
            DEFAULT_ROUTE,
            "http",
            url_id(fn),
            "$default",
            fn,
            signed,
            cors=config.cors,
            raw_stream=config.invoke_mode == "RESPONSE_STREAM",
        )
        self._router = Router((spec,))

    @property
    def router(self) -> Router:
        return self._router

    def choose(self, function: str, *, pin: str | None = None) -> tuple[int, str | None]:
        return self._routing.choose(function, pin=pin)

    def target(self, function: str, qualifier: str | None) -> tuple[int, str | None]:
        return self._routing.target(function, qualifier)

    def set_split_mode(self, mode: SplitMode, seed: int | None = None) -> None:
        """Nothing: the split is the application's routing's, set there."""


class FunctionUrls:
    """The function URLs being served, kept in step with the application's template."""

    def __init__(
        self,
        routing: Routing,
        invoker: Invoker,
        recorder: Recorder,
        clock: Clock,
        *,
        host: str,
        ports_file: Path | None = None,
        keyring: Keyring | None = None,
    ) -> None:
        self._routing = routing
        self._keyring = keyring  # an AWS_IAM URL's signatures are checked with its keys
        self._invoker = invoker
        self._recorder = recorder
        self._clock = clock
        self._host = host
        self._ports_file = ports_file
        self._servers: dict[str, GatewayServer] = {}

    def endpoints(self) -> dict[str, str]:
        """Each served function's URL."""
        return {f: f"http://{self._host}:{s.port}/" for f, s in sorted(self._servers.items())}

    async def serve(self, urls: Mapping[str, FunctionUrlSpec]) -> None:
        """Serve exactly the URLs of ``urls`` (function name → its config): stop the
        others, start the new ones."""
        for function in [f for f in self._servers if f not in urls]:
            await self._servers.pop(function).stop()
        known = known_ports(self._ports_file) if self._ports_file is not None else {}
        for function, config in urls.items():
            server = self._servers.get(function)
            if server is None:
                port = known.get(function, 0)
                self._servers[function] = await self._start(function, config, port)
            else:
                assert isinstance(server.routing, FunctionUrlRouting)
                server.routing.configure(config)
        if self._ports_file is not None:
            save_ports(self._ports_file, {f: s.port for f, s in self._servers.items()})

    async def stop(self) -> None:
        for server in self._servers.values():
            await server.stop()
        self._servers.clear()

    async def _start(self, function: str, config: FunctionUrlSpec, port: int) -> GatewayServer:
        """A listener for ``function``'s URL on ``port`` (its earlier one), else on a port
        the OS picks."""

        def make(at: int) -> GatewayServer:
            return GatewayServer(
                FunctionUrlRouting(self._routing, function, config),
                self._invoker,
                self._recorder,
                self._clock,
                host=self._host,
                port=at,
                keyring=self._keyring,
                integration_timeout_s=FUNCTION_URL_TIMEOUT_S,
            )

        return await listen_again(make, port, f"{function}'s URL")
