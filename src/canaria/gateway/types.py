"""The gateway's vocabulary: the protocols it depends on and one parsed HTTP request.

``Invoker`` runs an event on one version of a function (the platform's runtime, or an
in-process fake in tests). ``Recorder`` receives one call per routed request, for the
per-version metrics the analysis package keeps.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal, Protocol

from canaria.models import InvokeResult
from canaria.models.streaming import ResponseSink

if TYPE_CHECKING:
    from canaria.gateway.routes import Router

SplitMode = Literal["deterministic", "random"]


class RouteSource(Protocol):
    """What a gateway routes by: ``Routing`` (the application's routes), or one function
    URL's view of it (``urls.FunctionUrlRouting``)."""

    @property
    def router(self) -> Router: ...

    def choose(self, function: str, *, pin: str | None = None) -> tuple[int, str | None]: ...

    def target(self, function: str, qualifier: str | None) -> tuple[int, str | None]:
        """(version, alias name) an invocation of ``function:qualifier`` runs."""
        ...

    def set_split_mode(self, mode: SplitMode, seed: int | None = None) -> None: ...


class Invoker(Protocol):
    async def invoke(
        self,
        function: str,
        version: int,
        event: bytes,
        *,
        alias: str | None,
        started: float,
        stream: ResponseSink | None = None,
    ) -> InvokeResult:
        """Run ``event`` on ``function`` at ``version``; may raise ``canaria.errors.Throttled``
        (or another ``InvocationError`` when the runtime cannot run it at all). ``started``
        is the time the ``Recorder`` will be given for it: the request's start for every
        count of it (the judge matches a request's start to its end by that time).
        ``stream``: a streamed response goes there as the function writes it."""
        ...

    async def invoke_event(
        self, function: str, version: int, event: bytes, *, alias: str | None
    ) -> str | None:
        """Lambda's asynchronous (``Event``) invocation: started, not waited for (the
        invoker records it when it ends); a durable function's execution ARN."""
        ...


class Recorder(Protocol):
    def record(
        self,
        function: str,
        alias: str | None,
        version: int,
        result: InvokeResult | None,
        *,
        throttled: bool,
        started: float,
        finished: float,
    ) -> None:
        """One routed request's outcome. ``result`` is None when the invocation did not run:
        throttled, or refused by the runtime (``throttled`` False). Must be cheap: it runs
        on the request path."""
        ...


class ApiMeter(Protocol):
    def record(
        self,
        t: float,
        api: str,
        stage: str,
        status: int,
        latency_ms: float,
        integration_ms: float | None,
    ) -> None:
        """One answered request of ``api`` (its logical id) at ``stage``: what API Gateway
        publishes as its metrics. Must be cheap: it runs on the request path."""
        ...


class Request:
    """One HTTP request as the protocol parsed it. Header names and values are latin-1
    text in the case the client sent; ``path`` is the raw (percent-encoded) path."""

    __slots__ = (
        "body",
        "headers",
        "host",
        "method",
        "path",
        "port",
        "protocol",
        "query",
        "source_ip",
    )

    def __init__(
        self,
        method: str,
        path: str,
        query: str,
        headers: list[tuple[str, str]],
        body: bytes,
        *,
        source_ip: str = "127.0.0.1",
        protocol: str = "HTTP/1.1",
        port: int = 3000,
    ) -> None:
        self.method = method
        self.path = path
        self.query = query
        self.headers = headers
        self.body = body
        self.source_ip = source_ip
        self.protocol = protocol
        self.port = port
        self.host = ""
        for name, value in headers:
            if len(name) == 4 and name.lower() == "host":
                self.host = value
                break

    def header(self, lower_name: str) -> str | None:
        """The last value of a header, by lower-case name."""
        found = None
        n = len(lower_name)
        for name, value in self.headers:
            if len(name) == n and name.lower() == lower_name:
                found = value
        return found


class Outbound:
    """A request an integration sends to its backend: an AWS service's API (``service``
    set: sent to the engine that serves it here, signed) or an HTTP URL (``url``)."""

    __slots__ = ("body", "headers", "method", "path", "query", "service", "url")

    def __init__(
        self,
        method: str,
        *,
        service: str | None = None,
        path: str = "/",
        url: str | None = None,
        query: list[tuple[str, str]] | None = None,
        headers: dict[str, str] | None = None,
        body: bytes = b"",
    ) -> None:
        self.method = method
        self.service = service
        self.path = path
        self.url = url
        self.query = query or []
        self.headers = headers or {}
        self.body = body


class Inbound:
    """A backend's answer to an ``Outbound``."""

    __slots__ = ("body", "headers", "status")

    def __init__(self, status: int, headers: list[tuple[str, str]], body: bytes) -> None:
        self.status = status
        self.headers = headers
        self.body = body

    def header(self, lower_name: str) -> str | None:
        return next((v for k, v in reversed(self.headers) if k.lower() == lower_name), None)


class Backends(Protocol):
    async def send(self, request: Outbound, timeout_s: float) -> Inbound:
        """Send ``request``; raises ``TimeoutError`` past ``timeout_s`` and
        ``canaria.errors.CanariaError`` when nothing serves it (a service canaria does not
        run, a refused connection)."""
        ...
