"""Streamed responses over a real Runtime API listener on loopback: each chunk reaches
the environment as it arrives, and an error after the stream began comes in trailers."""

from __future__ import annotations

import asyncio
import base64
import contextlib
from collections.abc import AsyncIterator

from canaria.models.streaming import Flow
from canaria.runtime.runtime_api import Report, RuntimeApi, StreamWriter

HEAD = (
    "POST /2018-06-01/runtime/invocation/{id}/response HTTP/1.1\r\nHost: x\r\n"
    "Lambda-Runtime-Function-Response-Mode: streaming\r\nTransfer-Encoding: chunked\r\n"
    "Content-Type: text/plain\r\n\r\n"
)


class Streams:
    """A Listener serving request ``r-1``, keeping each piece of its stream as it comes."""

    def __init__(self, limit: int = 1 << 20) -> None:
        self.limit = limit
        self.opened: list[str | None] = []
        self.pieces: list[bytes] = []
        self.arrived = asyncio.Event()
        self.answers: list[tuple[str, bytes, str | None]] = []
        self.too_large: list[int] = []
        self.flow: Flow | None = None

    def on_next(self) -> None:
        pass

    def on_stream(
        self, request_id: str, content_type: str | None, flow: Flow
    ) -> StreamWriter | None:
        if request_id != "r-1":
            return None
        self.opened.append(content_type)
        self.flow = flow
        return self.write

    def write(self, data: bytes) -> bool:
        self.pieces.append(data)
        self.arrived.set()
        return sum(map(len, self.pieces)) <= self.limit

    def on_response(self, request_id: str, body: bytes, report: Report) -> bool:
        self.answers.append(("response", body, None))
        return True

    def on_error(
        self, request_id: str, body: bytes, error_type: str | None, report: Report, *, exiting: bool
    ) -> bool:
        self.answers.append(("error", body, error_type))
        return True

    def on_too_large(self, request_id: str, size: int) -> bool:
        self.too_large.append(size)
        return True

    def on_init_error(self, body: bytes, error_type: str | None) -> None:
        pass


@contextlib.asynccontextmanager
async def serving(streams: Streams) -> AsyncIterator[RuntimeApi]:
    """A Runtime API listener telling ``streams``, on loopback, closed after."""
    api = RuntimeApi(streams)
    await api.start()
    try:
        yield api
    finally:
        api.close()


def chunk(data: bytes) -> bytes:
    return b"%x\r\n%s\r\n" % (len(data), data)


async def open_stream(
    api: RuntimeApi, request_id: str = "r-1"
) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    host, port = api.address.split(":")
    reader, writer = await asyncio.open_connection(host, int(port))
    writer.write(HEAD.format(id=request_id).encode())
    return reader, writer


async def test_each_chunk_arrives_before_the_stream_ends() -> None:
    streams = Streams()
    async with serving(streams) as api:
        reader, writer = await open_stream(api)
        writer.write(chunk(b"first"))
        await asyncio.wait_for(streams.arrived.wait(), 10)
        assert streams.opened == ["text/plain"]
        assert streams.pieces == [b"first"]
        assert streams.answers == []  # the stream is still open
        writer.write(chunk(b"second") + b"0\r\nCanaria-Duration-Ms: 3\r\n\r\n")
        assert (await reader.readline()).startswith(b"HTTP/1.1 202")
        assert b"".join(streams.pieces) == b"firstsecond"
        assert streams.answers == [("response", b"", None)]
        writer.close()


async def test_an_error_in_the_trailers_fails_the_invocation() -> None:
    streams = Streams()
    async with serving(streams) as api:
        reader, writer = await open_stream(api)
        body = base64.b64encode(b'{"errorMessage": "broke", "errorType": "TypeError"}')
        writer.write(
            chunk(b"half")
            + b"0\r\nLambda-Runtime-Function-Error-Type: TypeError\r\n"
            + b"Lambda-Runtime-Function-Error-Body: "
            + body
            + b"\r\n\r\n"
        )
        assert (await reader.readline()).startswith(b"HTTP/1.1 202")
        assert streams.answers == [
            ("error", b'{"errorMessage": "broke", "errorType": "TypeError"}', "TypeError")
        ]
        writer.close()


async def test_a_stream_for_another_request_or_over_its_limit_is_refused() -> None:
    streams = Streams(limit=8)
    async with serving(streams) as api:
        reader, writer = await open_stream(api, "r-2")
        writer.write(chunk(b"nobody asked") + b"0\r\n\r\n")
        assert (await reader.readline()).startswith(b"HTTP/1.1 400")
        assert streams.pieces == []
        writer.close()
        reader, writer = await open_stream(api)
        writer.write(chunk(b"12345") + chunk(b"67890") + chunk(b"more") + b"0\r\n\r\n")
        assert (await reader.readline()).startswith(b"HTTP/1.1 202")
        assert streams.pieces == [b"12345", b"67890"]  # nothing passed on after the limit
        assert streams.too_large == [14]
        assert streams.answers == []
        writer.close()


async def test_a_paused_flow_reads_nothing_more_until_it_resumes() -> None:
    streams = Streams()
    async with serving(streams) as api:
        reader, writer = await open_stream(api)
        writer.write(chunk(b"first"))
        await asyncio.wait_for(streams.arrived.wait(), 10)
        assert streams.flow is not None
        streams.flow.pause()
        streams.arrived.clear()
        writer.write(chunk(b"second") + b"0\r\n\r\n")
        await writer.drain()
        await asyncio.sleep(0.2)  # room for it to be read, were reading not paused
        assert streams.pieces == [b"first"]
        streams.flow.resume()
        assert (await reader.readline()).startswith(b"HTTP/1.1 202")
        assert streams.pieces == [b"first", b"second"]
        writer.close()
