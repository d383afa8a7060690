"""The control port's HTTP protocol: uvicorn's httptools protocol with the limits of
``canaria.limits`` (a deadline for reading each request; a cap on open connections,
making room by closing the longest-idle one) and a body-size check made on
``Content-Length`` before a byte of the body is read (``BodyLimit``)."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import orjson
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from canaria.errors import CanariaError
from canaria.limits import MAX_CONNECTIONS, REQUEST_READ_TIMEOUT_S

# The largest body any control route or edge operation takes: Lambda's 6 MB synchronous
# invocation payload, and a little room for the request around it.
MAX_BODY_BYTES = 6 * 1024 * 1024 + 64 * 1024


class GuardedHttpTools(HttpToolsProtocol):
    read_timeout_s = REQUEST_READ_TIMEOUT_S
    max_connections = MAX_CONNECTIONS

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self.last_active = time.monotonic()
        self.reading = True  # until the first request is read
        self._deadline: asyncio.TimerHandle | None = self.loop.call_later(
            self.read_timeout_s, self._too_slow
        )
        if len(self.connections) > self.max_connections:
            self._make_room()

    def _make_room(self) -> None:
        idle = [
            c
            for c in self.connections
            if isinstance(c, GuardedHttpTools) and c is not self and c.idle
        ]
        if idle:
            min(idle, key=lambda c: c.last_active).transport.close()
        else:
            self.transport.close()

    @property
    def idle(self) -> bool:
        """Between requests (or before the first one): nothing is being answered."""
        return self.cycle is None or self.cycle.response_complete

    def _too_slow(self) -> None:
        self._deadline = None
        if self.reading and not self.transport.is_closing():
            self.transport.close()

    def data_received(self, data: bytes) -> None:
        self.last_active = time.monotonic()
        super().data_received(data)

    def on_message_begin(self) -> None:
        super().on_message_begin()
        if not self.reading:
            self.reading = True
            self._deadline = self.loop.call_later(self.read_timeout_s, self._too_slow)

    def on_message_complete(self) -> None:
        super().on_message_complete()
        self.reading = False
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def connection_lost(self, exc: Exception | None) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None
        super().connection_lost(exc)


class BodyTooLarge(CanariaError):
    http_status = 413
    code = "RequestEntityTooLargeException"


class BodyLimit:
    """ASGI middleware: a body larger than ``limit`` is answered 413 before it is read
    (by its ``Content-Length``) or as soon as it grows past the limit (chunked)."""

    def __init__(self, app: Any, limit: int = MAX_BODY_BYTES) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        for name, value in scope["headers"]:
            if name == b"content-length" and (not value.isdigit() or int(value) > self.limit):
                await self._refuse(send)
                return
        seen = 0
        started = False

        async def counted() -> Any:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.limit:
                    raise BodyTooLarge(f"request body larger than {self.limit} bytes")
            return message

        async def tracked(message: Any) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counted, tracked)
        except BodyTooLarge:
            if not started:
                await self._refuse(send)

    async def _refuse(self, send: Any) -> None:
        body = orjson.dumps(
            {
                "error": {
                    "code": "RequestEntityTooLargeException",
                    "message": f"request body larger than {self.limit} bytes",
                }
            }
        )
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                    (b"connection", b"close"),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})


__all__ = ["MAX_BODY_BYTES", "BodyLimit", "BodyTooLarge", "GuardedHttpTools"]
