"""HTTP/2 without TLS (h2c, prior knowledge) on the services engine's relay.

The AWS SDK for JavaScript v3 sends every Kinesis request over HTTP/2: its Kinesis client
is built with ``NodeHttp2Handler``, which speaks HTTP/2 to an ``http://`` endpoint with
prior knowledge (the connection starts with HTTP/2's preface, no ``Upgrade``). moto serves
HTTP/1.1 only, so without this a Node.js function's ``PutRecord`` fails with
``ERR_HTTP2_ERROR: Protocol error``. The relay recognises the preface and hands the
connection here: each HTTP/2 stream becomes one HTTP/1.1 exchange with the engine
(``exchange``), and its answer goes back on the stream, with HTTP/2's flow control.

``h2`` (the python-hyper project's sans-I/O HTTP/2 state machine) does the protocol and
``h11`` (already canaria's, through uvicorn) reads the engine's HTTP/1.1 answers.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable

import h2.config
import h2.connection
import h2.events
import h2.exceptions
import h11
from h2.errors import ErrorCodes
from hyperframe.frame import Frame, GoAwayFrame

PREFACE_LINE = b"PRI * HTTP/2.0\r\n"  # the first line of HTTP/2's connection preface
_CHUNK = 1 << 16
# hop-by-hop headers HTTP/2 forbids (RFC 9113, 8.2.2)
_CONNECTION_HEADERS = frozenset(
    {b"connection", b"keep-alive", b"proxy-connection", b"transfer-encoding", b"upgrade"}
)

Answer = tuple[int, list[tuple[bytes, bytes]], bytes]  # status, headers, body
Exchange = Callable[[bytes], Awaitable[Answer]]  # an HTTP/1.1 request → its answer
_EXCHANGE_TIMEOUT_S = 60.0


async def exchange(port: int, request: bytes) -> Answer:
    """One HTTP/1.1 request to the engine on ``port``: its answer, read as soon as it is
    whole (the engine's closing of the connection comes later and is not waited for)."""

    async def run() -> Answer:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            writer.write(request)
            await writer.drain()
            answer = _AnswerReader()
            while True:
                found = answer.feed(await reader.read(_CHUNK))
                if found is not None:
                    return found
        finally:
            writer.close()

    return await asyncio.wait_for(run(), _EXCHANGE_TIMEOUT_S)


def read_answer(raw: bytes) -> Answer:
    """A whole HTTP/1.1 answer (``raw``, up to the engine's closing of the connection)."""
    reader = _AnswerReader()
    answer = reader.feed(raw) or reader.feed(b"")
    if answer is None:
        raise h11.RemoteProtocolError("the answer ended early", 502)
    return answer


async def serve(
    first: bytes,
    reader: asyncio.StreamReader,
    writer: asyncio.StreamWriter,
    exchange: Exchange,
) -> None:
    """Serve the HTTP/2 connection whose first bytes (``PREFACE_LINE``) were ``first``
    until the client ends it."""
    conn = _ServerConnection(h2.config.H2Configuration(client_side=False, header_encoding=None))
    conn.initiate_connection()
    connection = _Connection(conn, writer)
    await connection.flush()
    data = first
    try:
        while data:
            try:
                events = conn.receive_data(data)
            except h2.exceptions.ProtocolError:
                await connection.flush()  # h2 has queued its GOAWAY
                return
            for event in events:
                connection.handle(event, exchange)
            await connection.flush()
            data = await reader.read(_CHUNK)
    finally:
        await connection.close()


class _ServerConnection(h2.connection.H2Connection):
    """h2's connection, except that a client's GOAWAY lets the streams it has opened
    finish, as RFC 9113 (6.8) has it. The SDK's Kinesis client closes its session
    (GOAWAY, no error) as soon as an answer's headers arrive and reads the body after; h2
    alone would close the connection at the GOAWAY and drop the rest of the body (and
    refuse the client's WINDOW_UPDATEs for it)."""

    def _receive_goaway_frame(
        self, frame: GoAwayFrame
    ) -> tuple[list[Frame], list[h2.events.Event]]:
        ended = h2.events.ConnectionTerminated()
        ended.error_code = _error_code(frame.error_code)
        ended.last_stream_id = frame.last_stream_id
        ended.additional_data = frame.additional_data or None
        return [], [ended]


def _error_code(code: int) -> ErrorCodes | int:
    try:
        return ErrorCodes(code)
    except ValueError:
        return code


class _Connection:
    """One HTTP/2 connection: its streams' requests, collected, and their answers."""

    def __init__(self, conn: h2.connection.H2Connection, writer: asyncio.StreamWriter) -> None:
        self.conn = conn
        self.writer = writer
        self.requests: dict[int, tuple[list[tuple[bytes, bytes]], bytearray]] = {}
        self.tasks: set[asyncio.Task[None]] = set()
        self.window = asyncio.Event()  # set when the client opens its flow-control window

    def handle(self, event: h2.events.Event, exchange: Exchange) -> None:
        if isinstance(event, h2.events.RequestReceived):
            headers = [(bytes(k), bytes(v)) for k, v in event.headers or ()]
            self.requests[event.stream_id] = (headers, bytearray())
        elif isinstance(event, h2.events.DataReceived):
            if event.stream_id in self.requests:
                self.requests[event.stream_id][1].extend(event.data or b"")
            self.conn.acknowledge_received_data(event.flow_controlled_length, event.stream_id)
        elif isinstance(event, h2.events.StreamEnded):
            request = self.requests.pop(event.stream_id, None)
            if request is not None:
                task = asyncio.ensure_future(self._answer(event.stream_id, *request, exchange))
                self.tasks.add(task)
                task.add_done_callback(self.tasks.discard)
        elif isinstance(event, h2.events.StreamReset):
            self.requests.pop(event.stream_id, None)
        elif isinstance(event, h2.events.WindowUpdated | h2.events.RemoteSettingsChanged):
            self.window.set()

    async def _answer(
        self, stream: int, headers: list[tuple[bytes, bytes]], body: bytearray, exchange: Exchange
    ) -> None:
        try:
            status, answer_headers, answer = await exchange(_request(headers, body))
        except (OSError, TimeoutError, h11.ProtocolError):
            status, answer_headers, answer = 502, [(b"content-type", b"text/plain")], b""
        try:
            self.conn.send_headers(
                stream,
                [(b":status", str(status).encode()), *answer_headers],
                end_stream=not answer,
            )
            await self.flush()
            view = memoryview(answer)
            while view:
                room = min(
                    self.conn.local_flow_control_window(stream), self.conn.max_outbound_frame_size
                )
                if room <= 0:
                    self.window.clear()
                    await self.window.wait()
                    continue
                piece, view = view[:room], view[room:]
                self.conn.send_data(stream, piece.tobytes(), end_stream=not view)
                await self.flush()
        except (h2.exceptions.StreamClosedError, h2.exceptions.ProtocolError, ConnectionError):
            return  # the client reset the stream or went away

    async def flush(self) -> None:
        data = self.conn.data_to_send()
        if data:
            self.writer.write(data)
            await self.writer.drain()

    async def close(self) -> None:
        for task in self.tasks:
            task.cancel()
        for task in list(self.tasks):
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task


def _request(headers: list[tuple[bytes, bytes]], body: bytes | bytearray) -> bytes:
    """The HTTP/1.1 request a stream's headers and body make (one per connection)."""
    pseudo = {k: v for k, v in headers if k.startswith(b":")}
    lines = [pseudo.get(b":method", b"GET") + b" " + pseudo.get(b":path", b"/") + b" HTTP/1.1"]
    lines.append(b"host: " + pseudo.get(b":authority", b"localhost"))
    for name, value in headers:
        if not name.startswith(b":") and name not in (b"host", b"content-length", b"connection"):
            lines.append(name + b": " + value)
    lines += [b"content-length: " + str(len(body)).encode(), b"connection: close"]
    return b"\r\n".join(lines) + b"\r\n\r\n" + bytes(body)


class _AnswerReader:
    """The engine's HTTP/1.1 answer to one request, read with h11 as its bytes come."""

    def __init__(self) -> None:
        self.client = h11.Connection(h11.CLIENT)
        self.client.send(h11.Request(method="POST", target="/", headers=[("host", "engine")]))
        self.client.send(h11.EndOfMessage())
        self.status = 502
        self.headers: list[tuple[bytes, bytes]] = []
        self.body = bytearray()

    def feed(self, data: bytes) -> Answer | None:
        """The answer, with headers fit for HTTP/2, once whole (``data`` b"": the engine
        closed the connection); None while more is needed."""
        self.client.receive_data(data)
        while True:
            event = self.client.next_event()
            if event is h11.NEED_DATA:
                return None
            if isinstance(event, h11.Response):
                self.status = event.status_code
                self.headers = [
                    (name.lower(), value)
                    for name, value in event.headers
                    if name.lower() not in _CONNECTION_HEADERS and name.lower() != b"content-length"
                ]
            elif isinstance(event, h11.Data):
                self.body.extend(event.data)
            elif isinstance(event, h11.EndOfMessage | h11.ConnectionClosed):
                return self.status, self.headers, bytes(self.body)
