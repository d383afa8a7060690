"""The Lambda Runtime API (``2018-06-01``), served to one execution environment.

Every environment of a Node.js or ``provided`` function gets its own listener on
127.0.0.1 (port chosen by the OS), named to the process by ``AWS_LAMBDA_RUNTIME_API``, as
Lambda gives each sandbox its own. The runtime long-polls for work and reports back::

    GET  /2018-06-01/runtime/invocation/next            → the event, with the headers
         Lambda-Runtime-Aws-Request-Id, -Deadline-Ms, -Invoked-Function-Arn, -Trace-Id
         (and -Client-Context, -Cognito-Identity when the invocation has them)
    POST /2018-06-01/runtime/invocation/{id}/response   → 202 {"status":"OK"}
    POST /2018-06-01/runtime/invocation/{id}/error      → 202 (Lambda-Runtime-Function-Error-Type)
    POST /2018-06-01/runtime/init/error                 → 202

A response posted with ``Lambda-Runtime-Function-Response-Mode: streaming`` (chunked) is
a streamed response: its bytes go to the environment as they arrive (``on_stream``), and
an error after it started comes in the trailers ``Lambda-Runtime-Function-Error-Type`` and
``Lambda-Runtime-Function-Error-Body`` (base64), as Lambda's runtime clients send it.

One invocation at a time: ``deliver`` answers the parked ``next`` (or the next one to
come). A response over 6 MB gets 413 and the invocation fails with
``Function.ResponseSizeTooLarge``, as on Lambda. A request id that is not the one being
served gets 400 ``InvalidRequestID``. Three headers are canaria's own, sent by its Node.js
bootstrap and optional for any other runtime:

- ``Lambda-Runtime-Function-Exit: 1`` on an error: the runtime exits after it (an uncaught
  exception), so the environment is not reused;
- ``Canaria-Duration-Ms`` on a response or error: the handler's own time, measured inside
  the runtime (without it, canaria times the answer from the event's delivery);
- ``Canaria-Max-Memory-Kib``: the runtime's peak RSS (without it, canaria reads the
  process's current RSS from ``/proc``, a system call per invocation).

The HTTP layer is a small ``asyncio.Protocol`` on ``httptools`` (the gateway's parser):
keep-alive, no framework, so a warm round trip stays within a few hundred microseconds.
With ``unix_socket``, the same API is also served on a Unix socket in a private
directory (``socket_path``): canaria's Node.js bootstrap connects there instead of to the
TCP port, which spares both sides TCP's per-message work on every invocation and is
reachable only by the user running canaria; the TCP port stays, as other runtimes (and
``AWS_LAMBDA_RUNTIME_API``) expect it. The directory is named after canaria's process
(``canaria-runtime-<pid>-…``) and removed when the environment stops; those a killed
canaria left behind are removed by the next one to start a socket.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import math
import os
import shutil
import tempfile
from collections.abc import Callable
from typing import NamedTuple, Protocol, cast

import httptools
import orjson

from canaria.models.streaming import Flow

PREFIX = "/2018-06-01/runtime/"
MAX_RESPONSE_BYTES = 6 * 1024 * 1024 + 100  # 6291556, Lambda's synchronous response limit
_NEXT = PREFIX + "invocation/next"
_INIT_ERROR = PREFIX + "init/error"
_INVOCATION = PREFIX + "invocation/"
_ACCEPTED = orjson.dumps({"status": "OK"})
_ACCEPTED_REPLY = (  # the head of the answer to every accepted response or error
    "HTTP/1.1 202 Accepted\r\nContent-Type: application/json\r\n"
    f"Content-Length: {len(_ACCEPTED)}\r\n\r\n"
).encode()
_SOCKET_DIR_PREFIX = "canaria-runtime-"
_swept = False  # this process has removed the socket directories of dead ones


def sweep_socket_dirs(parent: str) -> list[str]:
    """Remove the socket directories in ``parent`` whose canaria process is gone (killed
    before it could stop its environments); returns the ones removed."""
    removed: list[str] = []
    try:
        entries = os.listdir(parent)
    except OSError:
        return removed
    for entry in entries:
        pid = entry.removeprefix(_SOCKET_DIR_PREFIX).split("-", 1)[0]
        if not entry.startswith(_SOCKET_DIR_PREFIX) or not pid.isdigit():
            continue
        try:
            os.kill(int(pid), 0)
            continue  # alive (or another user's, which we cannot remove anyway)
        except ProcessLookupError:
            pass
        except (PermissionError, OverflowError):
            continue
        path = os.path.join(parent, entry)
        shutil.rmtree(path, ignore_errors=True)
        if not os.path.exists(path):
            removed.append(path)
    return removed


class Event(NamedTuple):
    """One invocation as the runtime receives it (a named tuple: one is made per
    invocation)."""

    request_id: str
    deadline_ms: int
    function_arn: str
    trace_id: str
    body: bytes
    client_context: str | None = None
    cognito_identity: str | None = None

    def head(self) -> bytes:
        optional = ""
        if self.client_context is not None:
            optional += f"Lambda-Runtime-Client-Context: {self.client_context}\r\n"
        if self.cognito_identity is not None:
            optional += f"Lambda-Runtime-Cognito-Identity: {self.cognito_identity}\r\n"
        return (
            "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
            f"Lambda-Runtime-Aws-Request-Id: {self.request_id}\r\n"
            f"Lambda-Runtime-Deadline-Ms: {self.deadline_ms}\r\n"
            f"Lambda-Runtime-Invoked-Function-Arn: {self.function_arn}\r\n"
            f"Lambda-Runtime-Trace-Id: {self.trace_id}\r\n"
            f"{optional}Content-Length: {len(self.body)}\r\n\r\n"
        ).encode()


class Report(NamedTuple):
    """What the runtime said of an invocation along with its answer (canaria's headers):
    each None when it did not say, or said something that is not a number."""

    duration_ms: float | None = None
    max_memory_kib: int | None = None


NO_REPORT = Report()


class Listener(Protocol):
    """What the environment is told (``api_process.ApiProcess`` implements it)."""

    def on_next(self) -> None: ...
    def on_response(self, request_id: str, body: bytes, report: Report) -> bool: ...
    def on_error(
        self, request_id: str, body: bytes, error_type: str | None, report: Report, *, exiting: bool
    ) -> bool: ...
    def on_too_large(self, request_id: str, size: int) -> bool: ...
    def on_init_error(self, body: bytes, error_type: str | None) -> None: ...
    def on_stream(
        self, request_id: str, content_type: str | None, flow: Flow
    ) -> StreamWriter | None:
        """A streamed response begins: where its bytes go (None: not the invocation being
        served). The writer returns False once the response is too large; ``flow``
        pauses and resumes reading the rest of it."""
        ...


StreamWriter = Callable[[bytes], bool]


class RuntimeApi:
    """The state of one environment's API: the parked ``next`` and the event waiting."""

    def __init__(self, listener: Listener, *, unix_socket: bool = False) -> None:
        self.listener = listener
        self._parked: _Connection | None = None
        self._queued: Event | None = None
        self._server: asyncio.Server | None = None
        self._unix_server: asyncio.Server | None = None
        self._unix_socket = unix_socket
        self._dir: str | None = None
        self._connections: set[_Connection] = set()
        self.address = ""
        self.socket_path: str | None = None

    async def start(self) -> str:
        """Listen on 127.0.0.1 (a free port), and on ``socket_path`` with ``unix_socket``;
        returns ``host:port`` for the runtime."""
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(lambda: _Connection(self), "127.0.0.1", 0)
        port = self._server.sockets[0].getsockname()[1]
        self.address = f"127.0.0.1:{port}"
        if self._unix_socket:
            global _swept
            if not _swept:
                _swept = True
                sweep_socket_dirs(tempfile.gettempdir())
            prefix = f"{_SOCKET_DIR_PREFIX}{os.getpid()}-"
            self._dir = tempfile.mkdtemp(prefix=prefix)  # mode 0700
            path = os.path.join(self._dir, "api.sock")
            self._unix_server = await loop.create_unix_server(lambda: _Connection(self), path)
            self.socket_path = path
        return self.address

    def close(self) -> None:
        if self._server is not None:
            self._server.close()
        if self._unix_server is not None:
            self._unix_server.close()
        if self._dir is not None:
            shutil.rmtree(self._dir, ignore_errors=True)
            self._dir = None
        for conn in list(self._connections):
            conn.close()
        self._parked = None
        self._queued = None

    def deliver(self, event: Event) -> None:
        """Hand ``event`` to the runtime: now if it is waiting, else at its next ``next``."""
        parked, self._parked = self._parked, None
        if parked is not None and parked.open:
            parked.send(event.head(), event.body)
        else:
            self._queued = event

    # ---- requests ---------------------------------------------------------------------

    def handle(self, conn: _Connection, method: str, url: str, request: _Request) -> None:
        path = url.split("?", 1)[0]
        if method == "GET" and path == _NEXT:
            self.listener.on_next()
            queued, self._queued = self._queued, None
            if queued is not None:
                conn.send(queued.head(), queued.body)
            else:
                self._parked = conn
            return
        if method == "POST" and path == _INIT_ERROR:
            self.listener.on_init_error(request.body(), request.error_type)
            conn.reply(202, _ACCEPTED)
            return
        if method == "POST" and path.startswith(_INVOCATION):
            request_id, _, action = path[len(_INVOCATION) :].partition("/")
            accepted: bool
            if action == "response" and request.streaming:
                self._streamed(conn, request_id, request)
                return
            if action == "response":
                if request.too_large:
                    self.listener.on_too_large(request_id, request.size)
                    conn.reply(413, _error_body("Payload Too Large", "RequestEntityTooLarge"))
                    return
                accepted = self.listener.on_response(request_id, request.body(), request.report())
            elif action == "error":
                accepted = self.listener.on_error(
                    request_id,
                    request.body(),
                    request.error_type,
                    request.report(),
                    exiting=request.exiting,
                )
            else:
                conn.reply(404, _error_body("Not found", "NotFound"))
                return
            if accepted:
                conn.send(_ACCEPTED_REPLY, _ACCEPTED)
            else:
                conn.reply(400, _error_body("Invalid request ID", "InvalidRequestID"))
            return
        conn.reply(404, _error_body(f"Not found: {method} {path}", "NotFound"))

    def begin_stream(self, conn: _Connection, url: str, request: _Request) -> None:
        """The head of a streamed response has arrived: its body goes to the environment."""
        path = url.split("?", 1)[0]
        if not path.startswith(_INVOCATION):
            return
        request_id, _, action = path[len(_INVOCATION) :].partition("/")
        if action == "response":
            request.writer = self.listener.on_stream(request_id, request.content_type, conn)

    def _streamed(self, conn: _Connection, request_id: str, request: _Request) -> None:
        """A streamed response has ended: with an error in its trailers, or not."""
        if request.writer is None:
            conn.reply(400, _error_body("Invalid request ID", "InvalidRequestID"))
            return
        if request.too_large:
            accepted = self.listener.on_too_large(request_id, request.size)
        elif request.error_type is not None:
            accepted = self.listener.on_error(
                request_id,
                request.error_body,
                request.error_type,
                request.report(),
                exiting=request.exiting,
            )
        else:
            accepted = self.listener.on_response(request_id, b"", request.report())
        if accepted:
            conn.send(_ACCEPTED_REPLY, _ACCEPTED)
        else:
            conn.reply(400, _error_body("Invalid request ID", "InvalidRequestID"))


def _error_body(message: str, error_type: str) -> bytes:
    return orjson.dumps({"errorMessage": message, "errorType": error_type})


_STATUS = {
    202: "Accepted",
    400: "Bad Request",
    404: "Not Found",
    413: "Request Entity Too Large",
    500: "Internal Server Error",
}


class _Request:
    __slots__ = (
        "chunks",
        "content_type",
        "duration",
        "error_body",
        "error_type",
        "exiting",
        "memory",
        "size",
        "streaming",
        "too_large",
        "writer",
    )

    def __init__(self) -> None:
        self.chunks: list[bytes] = []
        self.streaming = False  # Lambda-Runtime-Function-Response-Mode: streaming
        self.content_type: str | None = None
        self.writer: StreamWriter | None = None  # where a streamed response's bytes go
        self.error_body = b""  # a streamed response's Lambda-Runtime-Function-Error-Body
        self.size = 0
        self.too_large = False
        self.error_type: str | None = None
        self.exiting = False  # canaria's bootstrap: the runtime exits after this error
        self.duration = b""  # canaria's bootstrap: Canaria-Duration-Ms
        self.memory = b""  # canaria's bootstrap: Canaria-Max-Memory-Kib

    def body(self) -> bytes:
        return b"".join(self.chunks)

    def report(self) -> Report:
        if not self.duration and not self.memory:
            return NO_REPORT
        kib = _finite(self.memory, MAX_REPORTED_KIB)
        return Report(_finite(self.duration), None if kib is None else int(kib))


# more than Lambda's largest memory size (10,240 MB) 1,024 times over is no process's
# peak: a nonsense report, which would otherwise read as running out of memory
MAX_REPORTED_KIB = 10240 * 1024 * 1024


def _finite(text: bytes, limit: float = math.inf) -> float | None:
    """A finite, non-negative number below ``limit`` from a header's value; None for
    anything else."""
    try:
        value = float(text)
    except ValueError:
        return None
    return value if 0.0 <= value < limit else None


def _base64(value: bytes) -> bytes:
    """A trailer's base64 value decoded; the value itself when it is not base64."""
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        return value


class _Connection(asyncio.Protocol):
    """One keep-alive HTTP/1.1 connection from the runtime."""

    def __init__(self, api: RuntimeApi) -> None:
        self._api = api
        self._parser = httptools.HttpRequestParser(self)
        self._transport: asyncio.Transport | None = None
        self._url = b""
        self._request = _Request()
        self._paused = False
        self.open = False

    # asyncio
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = cast(asyncio.Transport, transport)  # uvloop's is not a subclass
        self.open = True
        self._api._connections.add(self)

    def connection_lost(self, exc: Exception | None) -> None:
        self.open = False
        self._api._connections.discard(self)

    def data_received(self, data: bytes) -> None:
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserError:
            self.reply(400, _error_body("Malformed HTTP request", "InvalidRequest"))
            self.close()

    # httptools callbacks
    def on_message_begin(self) -> None:
        self._url = b""
        self._request = _Request()

    def on_url(self, url: bytes) -> None:
        self._url += url

    def on_header(self, name: bytes, value: bytes) -> None:
        name = name.lower()
        if name == b"lambda-runtime-function-error-type":
            self._request.error_type = value.decode("utf-8", "replace")
        elif name == b"lambda-runtime-function-exit":
            self._request.exiting = True
        elif name == b"canaria-duration-ms":
            self._request.duration = value
        elif name == b"canaria-max-memory-kib":
            self._request.memory = value
        elif name == b"lambda-runtime-function-response-mode":
            self._request.streaming = value.strip().lower() == b"streaming"
        elif name == b"content-type":
            self._request.content_type = value.decode("latin-1").strip()
        elif name == b"lambda-runtime-function-error-body":
            self._request.error_body = _base64(value)

    def on_headers_complete(self) -> None:
        if self._request.streaming:
            self._api.begin_stream(self, self._url.decode("utf-8", "replace"), self._request)

    # a streamed response's Flow: reading waits while its caller falls behind
    def pause(self) -> None:
        transport = self._transport
        if transport is not None and not transport.is_closing() and not self._paused:
            self._paused = True
            transport.pause_reading()

    def resume(self) -> None:
        transport = self._transport
        if transport is not None and not transport.is_closing() and self._paused:
            self._paused = False
            transport.resume_reading()

    def on_body(self, body: bytes) -> None:
        request = self._request
        if request.streaming:
            request.size += len(body)
            writer = request.writer
            if writer is not None and not request.too_large and not writer(body):
                request.too_large = True
            return
        request.size += len(body)
        if request.size > MAX_RESPONSE_BYTES:
            request.too_large = True
            request.chunks.clear()
        elif not request.too_large:
            request.chunks.append(body)

    def on_message_complete(self) -> None:
        method = self._parser.get_method().decode("ascii", "replace")
        self._api.handle(self, method, self._url.decode("utf-8", "replace"), self._request)

    # writing
    def send(self, head: bytes, body: bytes) -> None:
        if self._transport is not None and not self._transport.is_closing():
            self._transport.writelines((head, body))

    def reply(self, status: int, body: bytes) -> None:
        head = (
            f"HTTP/1.1 {status} {_STATUS.get(status, 'Error')}\r\n"
            "Content-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n\r\n"
        ).encode("ascii")
        self.send(head, body)

    def close(self) -> None:
        if self._transport is not None:
            self._transport.close()


__all__ = [
    "MAX_RESPONSE_BYTES",
    "NO_REPORT",
    "Event",
    "Listener",
    "Report",
    "RuntimeApi",
    "StreamWriter",
    "sweep_socket_dirs",
]
