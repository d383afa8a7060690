"""HTTP/1.1 on asyncio with ``httptools``: the gateway's connection handling, no framework.

One ``HttpProtocol`` per connection. Requests are parsed by llhttp (Content-Length and
chunked bodies, keep-alive, HTTP/1.0), queued in arrival order and handled one at a
time, so pipelined requests are answered in order. Limits, as API Gateway's:
a body over 10 MB is answered 413 and the connection closed; a request that does not
parse is answered 400 and the connection closed. And ``canaria.limits``': a request not
read in full within ``REQUEST_READ_TIMEOUT_S`` of its start (or of the connection, for
the first) closes the connection (the server's sweep looks every few seconds); at
``MAX_CONNECTIONS`` open, a new connection closes the one idle the longest, or is
refused when none is idle.

A ``GET`` that asks to upgrade to a WebSocket API's stage (``Connections.websockets``)
is handed over once the parser stops at the upgrade: every later byte of the connection
goes to its ``websockets.Session``. Any other upgrade is answered as a plain request,
then the connection is closed.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from email.utils import formatdate
from http import HTTPStatus
from typing import TYPE_CHECKING, Protocol, cast

import httptools

from canaria.limits import MAX_CONNECTIONS
from canaria.models.streaming import Flow

from .events import new_request_id
from .responses import Failure, HttpResponse, client_error, gateway_answer
from .types import Request

if TYPE_CHECKING:  # websockets answers its refusals with ``serialize``
    from .websockets import Api, Session, WebSocketHub


class RequestHandler(Protocol):
    """What answers a connection's requests (the gateway's ``Handler``, or the DynamoDB
    front): ``handle`` ends by calling ``conn.respond``."""

    async def handle(self, req: Request, conn: HttpProtocol) -> None: ...


MAX_BODY_BYTES = 10 * 1024 * 1024  # API Gateway's payload limit
MAX_HEAD_BYTES = 64 * 1024  # request line and headers
MAX_PIPELINE = 32  # queued requests per connection before reading pauses
CONTINUE = b"HTTP/1.1 100 Continue\r\n\r\n"

_STATUS_LINES = {s.value: f"HTTP/1.1 {s.value} {s.phrase}\r\n" for s in HTTPStatus}
_date_second = 0
_date_header = ""


def _date() -> str:
    global _date_second, _date_header
    now = int(time.time())
    if now != _date_second:
        _date_header = f"Date: {formatdate(now, usegmt=True)}\r\n"
        _date_second = now
    return _date_header


def serialize(
    response: HttpResponse,
    extra: tuple[str, str],
    *,
    keep_alive: bool,
    http10: bool,
    head: bool,
) -> bytes:
    """The bytes of one HTTP/1.1 response (``head``: without the body, as for HEAD)."""
    parts = [_STATUS_LINES.get(response.status) or f"HTTP/1.1 {response.status} Unknown\r\n"]
    for name, value in response.headers:
        parts.append(f"{name}: {value}\r\n")
    body = response.body
    if response.status == 204 or response.status == 304:
        body = b""  # no body, whatever the function said
        parts.append(f"{extra[0]}: {extra[1]}\r\n")
    else:
        parts.append(f"{extra[0]}: {extra[1]}\r\nContent-Length: {len(body)}\r\n")
    parts.append(_date())
    if not keep_alive:
        parts.append("Connection: close\r\n")
    elif http10:
        parts.append("Connection: keep-alive\r\n")
    parts.append("\r\n")
    data = "".join(parts).encode("utf-8")
    if head or not body:
        return data
    return data + body


class Connections:
    """What every connection of one server shares."""

    def __init__(
        self,
        handler: RequestHandler,
        loop: asyncio.AbstractEventLoop,
        port: int,
        websockets: WebSocketHub | None = None,
    ) -> None:
        self.handler = handler
        self.websockets = websockets  # upgrades to a WebSocket API's stage go there
        self.loop = loop
        self.port = port
        self.open: set[HttpProtocol] = set()
        self.max_connections = MAX_CONNECTIONS
        self.detached: set[asyncio.Task[None]] = set()  # answered, still invoking
        self.stopping = False

    def keep(self, task: asyncio.Task[None]) -> None:
        self.detached.add(task)
        task.add_done_callback(self.detached.discard)


class _Reject(Exception):
    pass


class HttpProtocol(asyncio.Protocol):
    def __init__(self, shared: Connections) -> None:
        self._shared = shared
        self._handler = shared.handler
        self._loop = shared.loop
        self._parser = httptools.HttpRequestParser(self)
        self._transport: asyncio.Transport | None = None
        self._source_ip = "127.0.0.1"
        # the request being parsed
        self._url = b""
        self._headers: list[tuple[str, str]] = []
        self._head_bytes = 0
        self._body: list[bytes] = []
        self._body_size = 0
        self._expect_continue = False
        self._reject: HttpResponse | None = None
        # parsed and not answered yet, in order: (request, None, keep-alive), or
        # (None, refusal or None, False) to answer the refusal and close
        self._queue: deque[tuple[Request | None, HttpResponse | None, bool]] = deque()
        self._current: Request | None = None
        self._streaming = False  # the current request's answer is being streamed
        self._flow: Flow | None = None  # its producer, paused while the client lags
        # a streamed answer's bytes held until the loop's current step ends, then written
        # at once: a head, a first piece and the end that arrive together take one write
        self._held: list[bytes] = []
        self._keep_alive = True
        self._task: asyncio.Task[None] | None = None
        # a WebSocket upgrade: the API and request until the parser stops at it, then the
        # session every later byte goes to
        self._upgrade: tuple[Api, Request] | None = None
        self._ws: Session | None = None
        self._broken = False  # parsing stopped: answer what is queued, then close
        self._eof = False
        self._write_paused = False
        self._read_paused = False
        self.last_active = 0.0
        # when the request being read began (the connection, for the first one); None
        # between requests
        self.reading_since: float | None = None

    # ---- connection events -------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = cast(asyncio.Transport, transport)  # uvloop's is not a subclass
        peer = transport.get_extra_info("peername")
        if isinstance(peer, tuple) and peer:
            self._source_ip = str(peer[0])
        self.last_active = self.reading_since = self._loop.time()
        if len(self._shared.open) >= self._shared.max_connections and not self._make_room():
            self._transport.close()
            return
        self._shared.open.add(self)

    def _make_room(self) -> bool:
        """At the cap: close the connection idle the longest; False when none is idle."""
        idle = [c for c in self._shared.open if c.idle]
        if not idle:
            return False
        oldest = min(idle, key=lambda c: c.last_active)
        oldest.close()
        self._shared.open.discard(oldest)
        return True

    def connection_lost(self, exc: Exception | None) -> None:
        self._transport = None
        self._release_flow()
        self._shared.open.discard(self)
        if self._ws is not None:
            self._ws.lost()
        task = self._task
        if task is not None and not task.done():
            self._shared.keep(task)  # the invocation finishes and is recorded
        self._task = None
        self._queue.clear()

    def eof_received(self) -> bool:
        if self._current is None and not self._queue:
            return False
        self._eof = True  # keep the write side open for the answers still owed
        return True

    def pause_writing(self) -> None:
        self._write_paused = True
        if self._flow is not None:  # a streamed answer: its function waits for the client
            self._flow.pause()

    def resume_writing(self) -> None:
        self._write_paused = False
        if self._flow is not None:
            self._flow.resume()
        if self._current is None and self._queue:
            self._next()

    def _release_flow(self) -> None:
        """A streamed answer is over (or its client gone): its function writes on freely."""
        flow, self._flow = self._flow, None
        if flow is not None:
            flow.resume()

    def data_received(self, data: bytes) -> None:
        if self._ws is not None:
            self._ws.received(data)
            return
        if self._broken:
            return
        self.last_active = self._loop.time()
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserUpgrade as exc:
            upgrade = self._upgrade
            if upgrade is not None and self._current is None and not self._queue:
                self._start_websocket(upgrade, data[int(exc.args[0]) :])
            else:
                self._stop_parsing(None)  # answer what was asked, then close
        except httptools.HttpParserError:
            reject = self._reject
            self._stop_parsing(reject if reject is not None else client_error("Bad Request"))

    def _stop_parsing(self, answer: HttpResponse | None) -> None:
        self._broken = True
        if self._transport is not None:
            self._transport.pause_reading()
        self._enqueue(None, answer, False)

    def _start_websocket(self, upgrade: tuple[Api, Request], rest: bytes) -> None:
        hub = self._shared.websockets
        assert hub is not None
        api, req = upgrade
        self._upgrade = None
        self._ws = session = hub.upgrade(api, req, self._write, self.close, self._abort)
        if rest:
            session.received(rest)

    def _write(self, data: bytes) -> int:
        """Write ``data``; what the transport holds unsent after it."""
        transport = self._transport
        if transport is None:
            return 0
        transport.write(data)
        return transport.get_write_buffer_size()

    def _abort(self) -> None:
        if self._transport is not None:
            self._transport.abort()

    @property
    def task(self) -> asyncio.Task[None] | None:
        """The handler of the request being answered."""
        return self._task

    @property
    def idle(self) -> bool:
        return self._current is None and not self._queue and self._ws is None

    def close(self) -> None:
        if self._transport is not None:
            self._transport.close()

    # ---- httptools callbacks -----------------------------------------------------------

    def on_message_begin(self) -> None:
        if self.reading_since is None:
            self.reading_since = self._loop.time()
        self._url = b""
        self._headers = []
        self._head_bytes = 0
        self._body = []
        self._body_size = 0
        self._expect_continue = False

    def on_url(self, url: bytes) -> None:
        self._url += url
        self._head_bytes += len(url)
        if self._head_bytes > MAX_HEAD_BYTES:
            self._reject = client_error("Request Header Fields Too Large", 431)
            raise _Reject

    def on_header(self, name: bytes, value: bytes) -> None:
        self._head_bytes += len(name) + len(value)
        if self._head_bytes > MAX_HEAD_BYTES:
            self._reject = client_error("Request Header Fields Too Large", 431)
            raise _Reject
        n = len(name)
        if n == 14 and name.lower() == b"content-length":
            if value.strip().isdigit() and int(value) > MAX_BODY_BYTES:
                self._reject = gateway_answer("rest", Failure.TOO_LARGE)
                raise _Reject
        elif n == 6 and name.lower() == b"expect" and value.lower() == b"100-continue":
            self._expect_continue = True
        try:
            text = value.decode("utf-8")
        except UnicodeDecodeError:
            text = value.decode("latin-1")
        self._headers.append((name.decode("latin-1"), text))

    def on_headers_complete(self) -> None:
        if self._expect_continue and self.idle and self._transport is not None:
            self._transport.write(CONTINUE)

    def on_body(self, body: bytes) -> None:
        self._body_size += len(body)
        if self._body_size > MAX_BODY_BYTES:
            self._reject = gateway_answer("rest", Failure.TOO_LARGE)
            raise _Reject
        self._body.append(body)

    def on_message_complete(self) -> None:
        self.reading_since = None
        parser = self._parser
        url = self._url
        if url[:1] == b"/":
            raw_path, _, raw_query = url.partition(b"?")
            if b"#" in raw_query:
                raw_query = raw_query.split(b"#", 1)[0]
        else:
            try:
                parsed = httptools.parse_url(url)
            except httptools.HttpParserInvalidURLError:
                raise _Reject from None
            raw_path, raw_query = parsed.path or b"/", parsed.query or b""
        body = self._body
        req = Request(
            parser.get_method().decode("ascii"),
            raw_path.decode("latin-1"),
            raw_query.decode("latin-1"),
            self._headers,
            body[0] if len(body) == 1 else b"".join(body),
            source_ip=self._source_ip,
            protocol="HTTP/" + parser.get_http_version(),
            port=self._shared.port,
        )
        if parser.should_upgrade() and self._shared.websockets is not None:
            api = self._shared.websockets.wants(req)
            if api is not None:  # answered once the parser stops at the upgrade
                self._upgrade = (api, req)
                return
        self._enqueue(req, None, parser.should_keep_alive() and not self._shared.stopping)

    # ---- answering in order ------------------------------------------------------------

    def _enqueue(self, req: Request | None, answer: HttpResponse | None, keep_alive: bool) -> None:
        if self._current is None and not self._queue and not self._write_paused:
            self._begin(req, answer, keep_alive)
            return
        self._queue.append((req, answer, keep_alive))
        if len(self._queue) > MAX_PIPELINE and not self._read_paused and self._transport:
            self._read_paused = True
            self._transport.pause_reading()

    def _next(self) -> None:
        req, answer, keep_alive = self._queue.popleft()
        if self._read_paused and len(self._queue) <= MAX_PIPELINE // 2 and not self._broken:
            self._read_paused = False
            if self._transport is not None:
                self._transport.resume_reading()
        self._begin(req, answer, keep_alive)

    def _begin(self, req: Request | None, answer: HttpResponse | None, keep_alive: bool) -> None:
        if req is None:
            # a refusal (or an upgrade): answer it if there is something to say, then close
            if answer is not None and self._transport is not None:
                self._transport.write(
                    serialize(
                        answer,
                        ("x-amzn-RequestId", new_request_id()),
                        keep_alive=False,
                        http10=False,
                        head=False,
                    )
                )
            self.close()
            return
        self._current = req
        self._keep_alive = keep_alive
        self._task = self._loop.create_task(self._handler.handle(req, self))

    def respond(
        self,
        req: Request,
        response: HttpResponse,
        extra: tuple[str, str],
        *,
        early: bool = False,
    ) -> None:
        if req is not self._current:
            return  # answered already (integration timeout), or the connection is gone
        if self._streaming:  # a streamed answer cut short (a timeout): the body is incomplete
            self.stream_end(req, complete=False)
            return
        self._current = None
        task = self._task
        self._task = None
        if early and task is not None:
            self._shared.keep(task)  # answered from outside the handler: timeout
        transport = self._transport
        if transport is None:
            return
        keep_alive = self._keep_alive and not self._shared.stopping
        transport.write(
            serialize(
                response,
                extra,
                keep_alive=keep_alive,
                http10=req.protocol == "HTTP/1.0",
                head=req.method == "HEAD",
            )
        )
        self._answered(transport, keep_alive)

    # ---- streamed answers (a RESPONSE_STREAM function URL) ------------------------------

    def stream_head(
        self, req: Request, head: HttpResponse, extra: tuple[str, str], flow: Flow
    ) -> bool:
        """Start answering ``req`` with ``head``'s status and headers and a body to come in
        pieces (``stream_chunk``): chunked, or until the connection closes for HTTP/1.0.
        ``flow`` is paused while the client reads slower than the pieces come. False when
        ``req`` is no longer being answered here."""
        transport = self._transport
        if req is not self._current or self._streaming or transport is None:
            return False
        self._streaming = True
        self._flow = flow
        if self._write_paused:
            flow.pause()
        http10 = req.protocol == "HTTP/1.0"
        keep_alive = self._keep_alive and not self._shared.stopping and not http10
        self._keep_alive = keep_alive
        parts = [_STATUS_LINES.get(head.status) or f"HTTP/1.1 {head.status} Unknown\r\n"]
        parts.extend(f"{name}: {value}\r\n" for name, value in head.headers)
        parts.append(f"{extra[0]}: {extra[1]}\r\n")
        if not http10:
            parts.append("Transfer-Encoding: chunked\r\n")
        parts.append(_date())
        if not keep_alive:
            parts.append("Connection: close\r\n")
        parts.append("\r\n")
        self._hold("".join(parts).encode("utf-8"))
        return True

    def _hold(self, *data: bytes) -> None:
        if not self._held:
            self._loop.call_soon(self._flush)
        self._held.extend(data)

    def _flush(self) -> None:
        held, self._held = self._held, []
        if held and self._transport is not None:
            self._transport.writelines(held)

    def stream_chunk(self, req: Request, data: bytes) -> None:
        """A piece of ``req``'s streamed body, written at once."""
        transport = self._transport
        if req is not self._current or not self._streaming or transport is None or not data:
            return
        if req.method == "HEAD":
            return
        if req.protocol == "HTTP/1.0":
            self._hold(data)
        else:
            self._hold(b"%x\r\n" % len(data), data, b"\r\n")
        self.last_active = self._loop.time()

    def stream_end(self, req: Request, *, complete: bool) -> None:
        """End ``req``'s streamed body: with its last chunk when ``complete``; otherwise
        (the function failed or timed out after the head went) the connection closes
        without it, so the client sees the body was cut short."""
        if req is not self._current or not self._streaming:
            return
        self._streaming = False
        self._current = None
        self._task = None
        self._release_flow()
        transport = self._transport
        if transport is None:
            return
        if req.protocol != "HTTP/1.0" and req.method != "HEAD" and complete:
            self._held.append(b"0\r\n\r\n")
        self._flush()  # what is held goes before the next answer, or before the close
        if not complete:
            transport.close()
            self._transport = None
            return
        self._answered(transport, self._keep_alive and not self._shared.stopping)

    def _answered(self, transport: asyncio.Transport, keep_alive: bool) -> None:
        """The current request is answered: close, or go on to the next one."""
        if not keep_alive:
            transport.close()
            self._transport = None
            return
        self.last_active = self._loop.time()
        if self._queue:
            if not self._write_paused:
                self._next()
        elif self._eof:
            transport.close()
