"""Real in-process implementations of the gateway's protocols, for tests."""

from __future__ import annotations

import inspect
import itertools
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import orjson

from canaria.errors import Throttled
from canaria.gateway.responses import HttpResponse
from canaria.gateway.types import Request
from canaria.models import InvokeResult

Handler = Callable[[dict[str, Any], int], Any]


class FakeInvoker:
    """Runs a Python handler per function in-process, as the worker runtime would run
    it in a worker: the handler's return value is the payload (JSON-serialized), an
    exception is Lambda's "Unhandled" function error. Functions in ``throttled`` raise
    ``Throttled`` like a function at its concurrency limit."""

    def __init__(self, handlers: dict[str, Handler | Callable[..., Awaitable[Any]]]) -> None:
        self.handlers = handlers
        self.throttled: set[str] = set()
        self.calls: list[tuple[str, int, str | None, dict[str, Any]]] = []
        self._ids = itertools.count(1)

    async def invoke(
        self, function: str, version: int, event: bytes, *, alias: str | None, started: float
    ) -> InvokeResult:
        decoded = orjson.loads(event)
        self.calls.append((function, version, alias, decoded))
        request_id = f"req-{next(self._ids)}"
        if function in self.throttled:
            raise Throttled(f"Rate Exceeded: {function} is at its reserved concurrency")
        try:
            out = self.handlers[function](decoded, version)
            if inspect.isawaitable(out):
                out = await out
        except Exception as exc:
            payload = orjson.dumps(
                {"errorMessage": str(exc), "errorType": type(exc).__name__, "stackTrace": []}
            )
            return InvokeResult(
                payload,
                version,
                request_id,
                1.0,
                function_error="Unhandled",
                error_type=type(exc).__name__,
            )
        payload = out if isinstance(out, bytes) else orjson.dumps(out)
        return InvokeResult(payload, version, request_id, 1.0)


@dataclass(frozen=True)
class Record:
    function: str
    alias: str | None
    version: int
    result: InvokeResult | None
    throttled: bool
    started: float
    finished: float


class ListRecorder:
    def __init__(self) -> None:
        self.records: list[Record] = []

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
        self.records.append(Record(function, alias, version, result, throttled, started, finished))


class ListResponder:
    """Collects the answers a handler gives, in order."""

    def __init__(self) -> None:
        self.answers: list[tuple[Request, HttpResponse, tuple[str, str]]] = []

    def respond(
        self,
        req: Request,
        response: HttpResponse,
        extra: tuple[str, str],
        *,
        early: bool = False,
    ) -> None:
        self.answers.append((req, response, extra))


def proxy(status: int = 200, body: Any = None, **extra: Any) -> dict[str, Any]:
    """A payload-1.0 style proxy response."""
    out: dict[str, Any] = {"statusCode": status, **extra}
    if body is not None:
        out["body"] = body if isinstance(body, str) else orjson.dumps(body).decode()
    return out
