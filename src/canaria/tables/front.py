"""The DynamoDB endpoint functions are given: every request passes through to dynalite,
and each write to a table with a stream is recorded in it (``canaria.tables.streams``).

Why in front of dynalite rather than inside it: dynalite has no streams and no hook for
one, and a record needs the item as it was before the write and as it is after. The
front is the one writer of each streamed table: it takes the table's lock, reads the
item (a consistent ``GetItem``), passes the write on unchanged, reads the item again and
records the change, so no other write can come between the reads and the write. Only
writes to streamed tables take that path; every other request is passed through as it
came (its signature, its ``ReturnValues``, dynalite's answer and CRC32 untouched).

The same port serves the DynamoDB Streams API (``DynamoDBStreams_20120810.*``), so
``AWS_ENDPOINT_URL_DYNAMODB_STREAMS`` names it too. ``DescribeTable`` of a streamed table
gains ``StreamSpecification``, ``LatestStreamArn`` and ``LatestStreamLabel``.

dynalite is started on the first request that needs it (or by the template's tables), on
a port of its own that may change when it is restarted; this port stays. A request that
finds no dynalite gets a DynamoDB error that says so.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import zlib
from collections.abc import Awaitable, Callable, Mapping
from datetime import UTC, datetime
from typing import Any

import httptools

from canaria.errors import CanariaError
from canaria.gateway.protocol import Connections, HttpProtocol
from canaria.gateway.responses import HttpResponse
from canaria.gateway.types import Request
from canaria.tables.streams import STREAM_LABEL, StreamsError, TableStreams

log = logging.getLogger("canaria.tables")

STREAMS_API = "DynamoDBStreams_20120810"
_API = "DynamoDB_20120810"
# the writes whose changes a stream records (TransactWriteItems and PartiQL are not
# served by dynalite at all)
_WRITES = frozenset({"PutItem", "UpdateItem", "DeleteItem", "BatchWriteItem"})
_TABLE_CHANGES = frozenset({"CreateTable", "DeleteTable", "UpdateTable"})
_HOP_HEADERS = frozenset(
    {"connection", "keep-alive", "transfer-encoding", "content-length", "date", "host"}
)
_UPSTREAM_IDLE = 16  # kept-alive connections to dynalite


class _Reply:
    """httptools' callbacks for one response from dynalite."""

    def __init__(self) -> None:
        self.headers: list[tuple[str, str]] = []
        self.body: list[bytes] = []
        self.done = False

    def on_header(self, name: bytes, value: bytes) -> None:
        self.headers.append((name.decode("latin-1"), value.decode("latin-1")))

    def on_body(self, body: bytes) -> None:
        self.body.append(body)

    def on_message_complete(self) -> None:
        self.done = True


class Upstream:
    """Requests to dynalite over kept-alive loopback connections."""

    def __init__(self) -> None:
        self._idle: list[tuple[int, asyncio.StreamReader, asyncio.StreamWriter]] = []

    async def send(
        self, port: int, head: bytes, body: bytes
    ) -> tuple[int, list[tuple[str, str]], bytes]:
        """``head`` (request line and headers, ``\\r\\n\\r\\n`` included) and ``body`` to
        dynalite at ``port``; its status, headers and body."""
        while self._idle:
            idle_port, reader, writer = self._idle.pop()
            if idle_port != port or writer.is_closing():
                writer.close()
                continue
            try:
                return await self._exchange(port, reader, writer, head, body)
            except _Stale:
                writer.close()  # closed by dynalite while idle: try the next one
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            return await self._exchange(port, reader, writer, head, body)
        except _Stale:
            writer.close()
            raise ConnectionError("dynalite closed the connection without answering") from None

    async def _exchange(
        self,
        port: int,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        head: bytes,
        body: bytes,
    ) -> tuple[int, list[tuple[str, str]], bytes]:
        writer.write(head + body)
        reply = _Reply()
        parser = httptools.HttpResponseParser(reply)
        first = True
        try:
            while not reply.done:
                chunk = await reader.read(1 << 16)
                if not chunk:
                    if first:
                        raise _Stale
                    raise ConnectionError("dynalite closed the connection mid-answer")
                first = False
                parser.feed_data(chunk)
        except (ConnectionResetError, BrokenPipeError):
            if first:
                raise _Stale from None
            raise
        status = parser.get_status_code()
        # (httptools' should_keep_alive() is False once the message is complete)
        close = any(n.lower() == "connection" and v.lower() == "close" for n, v in reply.headers)
        if not close and len(self._idle) < _UPSTREAM_IDLE:
            self._idle.append((port, reader, writer))
        else:
            writer.close()
        return status, reply.headers, b"".join(reply.body)

    def close(self) -> None:
        for _, _, writer in self._idle:
            writer.close()
        self._idle.clear()


class _Stale(Exception):
    """A kept-alive connection dynalite had closed: nothing was read from it."""


class FrontError(CanariaError):
    http_status = 503
    code = "ServiceUnavailable"


def _json_answer(status: int, payload: Any, request_id: str) -> HttpResponse:
    body = json.dumps(payload).encode()
    return HttpResponse(
        status,
        [
            ("Content-Type", "application/x-amz-json-1.0"),
            ("x-amz-crc32", str(zlib.crc32(body))),
            ("x-amzn-RequestId", request_id),
        ],
        body,
    )


def _error(status: int, code: str, message: str) -> HttpResponse:
    return _json_answer(
        status, {"__type": f"com.amazonaws.dynamodb.v20120810#{code}", "message": message}, "0"
    )


class TablesFront:
    """The handler of the DynamoDB port (on the gateway's HTTP protocol)."""

    def __init__(
        self,
        streams: TableStreams,
        engine_port: Callable[[], Awaitable[int]],
    ) -> None:
        self.streams = streams
        self.engine_port = engine_port  # dynalite's port, starting it when it is not up
        self.upstream = Upstream()
        self._locks: dict[str, asyncio.Lock] = {}
        self._server: asyncio.Server | None = None
        self._shared: Connections | None = None

    # ---- serving ----------------------------------------------------------------------

    async def listen(self, sock: Any) -> None:
        loop = asyncio.get_running_loop()
        port = int(sock.getsockname()[1])
        self._shared = Connections(self, loop, port)
        shared = self._shared
        self._server = await loop.create_server(lambda: HttpProtocol(shared), sock=sock)

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            if self._shared is not None:
                self._shared.stopping = True
                for conn in list(self._shared.open):
                    conn.close()
                pending = [t for t in self._shared.detached if not t.done()]
                for task in pending:
                    task.cancel()
                await asyncio.gather(*pending, return_exceptions=True)
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), 5)
            self._server = None
        self.upstream.close()

    async def handle(self, req: Request, conn: HttpProtocol) -> None:
        try:
            answer = await self._answer(req)
        except StreamsError as exc:
            answer = _json_answer(
                400,
                {"__type": f"com.amazonaws.dynamodb.v20120810#{exc.code}", "message": exc.message},
                "0",
            )
        except (OSError, CanariaError) as exc:
            message = exc.message if isinstance(exc, CanariaError) else str(exc)
            answer = _error(
                503, "ServiceUnavailable", f"canaria could not reach DynamoDB: {message}"
            )
        except Exception:  # a bug here must not leave the client waiting
            log.exception("DynamoDB request %s", req.header("x-amz-target"))
            answer = _error(500, "InternalServerError", "canaria failed to serve the request")
        request_id = "0"
        headers = []
        for name, value in answer.headers:
            if name.lower() == "x-amzn-requestid":
                request_id = value
            else:
                headers.append((name, value))
        conn.respond(
            req, HttpResponse(answer.status, headers, answer.body), ("x-amzn-RequestId", request_id)
        )

    async def _answer(self, req: Request) -> HttpResponse:
        target = req.header("x-amz-target") or ""
        api, _, operation = target.partition(".")
        if api == STREAMS_API:
            try:
                body = json.loads(req.body or b"{}")
            except ValueError:
                return _error(400, "SerializationException", "the request body is not JSON")
            return _json_answer(200, self.streams.call(operation, body), "0")
        if api != _API or not (
            operation in _WRITES or operation in _TABLE_CHANGES or operation == "DescribeTable"
        ):
            return await self._pass(req)
        try:
            body = json.loads(req.body or b"{}")
        except ValueError:
            return await self._pass(req)  # dynalite says what is wrong with it
        if not isinstance(body, dict):
            return await self._pass(req)
        if operation == "DescribeTable":
            return self._with_stream(await self._pass(req), body.get("TableName"))
        if operation == "UpdateTable" and _stream_only(body):
            return await self._stream_update(body)  # dynalite refuses an update of nothing
        if operation in _TABLE_CHANGES:
            answer = await self._pass(req)
            if answer.status == 200:
                await self._table_changed(operation, body)
            return answer
        tables = _written_tables(operation, body)
        streamed = sorted(t for t in tables if self.streams.configured(t) is not None)
        if not streamed:
            return await self._pass(req)
        async with contextlib.AsyncExitStack() as stack:
            for table in streamed:  # in name order: two batches cannot deadlock
                await stack.enter_async_context(self._locks.setdefault(table, asyncio.Lock()))
            return await self._captured(req, operation, body, streamed)
        raise AssertionError  # pragma: no cover

    async def _pass(self, req: Request) -> HttpResponse:
        port = await self.engine_port()
        head = [f"{req.method} {req.path}{'?' + req.query if req.query else ''} HTTP/1.1\r\n"]
        for name, value in req.headers:
            if name.lower() not in _HOP_HEADERS:
                head.append(f"{name}: {value}\r\n")
        head.append(f"Host: 127.0.0.1:{port}\r\nContent-Length: {len(req.body)}\r\n\r\n")
        status, headers, body = await self.upstream.send(
            port, "".join(head).encode("utf-8"), req.body
        )
        return HttpResponse(
            status, [(n, v) for n, v in headers if n.lower() not in _HOP_HEADERS], body
        )

    async def _call(self, operation: str, payload: Mapping[str, Any]) -> tuple[int, dict[str, Any]]:
        """canaria's own call to dynalite (its reads around a captured write)."""
        port = await self.engine_port()
        body = json.dumps(payload).encode()
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
        head = (
            f"POST / HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
            f"X-Amz-Target: {_API}.{operation}\r\n"
            "Content-Type: application/x-amz-json-1.0\r\n"
            f"X-Amz-Date: {stamp}\r\n"
            f"Authorization: AWS4-HMAC-SHA256 Credential=canaria/{stamp[:8]}/us-east-1/dynamodb/"
            "aws4_request, SignedHeaders=host, Signature=canaria\r\n"
            f"Content-Length: {len(body)}\r\n\r\n"
        )
        status, _, answer = await self.upstream.send(port, head.encode(), body)
        return status, json.loads(answer or b"{}")

    async def _item(self, table: str, key: Mapping[str, Any]) -> dict[str, Any] | None:
        status, got = await self._call(
            "GetItem", {"TableName": table, "Key": key, "ConsistentRead": True}
        )
        if status >= 500:
            raise FrontError(f"reading {table} around a write: {got.get('message') or got}")
        item = got.get("Item")  # (a 400, a table still being created: the write says so)
        return item if isinstance(item, dict) else None

    # ---- writes to streamed tables ----------------------------------------------------

    async def _captured(
        self, req: Request, operation: str, body: dict[str, Any], streamed: list[str]
    ) -> HttpResponse:
        """Pass the write on between reads of the items it touches, and record each
        change in its table's stream."""
        keys = _written_keys(operation, body, self.streams, streamed)
        if keys is None:
            return await self._pass(req)  # malformed: dynalite refuses it, nothing changes
        before = [await self._item(table, key) for table, key in keys]
        answer = await self._pass(req)
        if answer.status != 200:
            return answer  # refused, or its condition failed: nothing changed
        unprocessed = _unprocessed(operation, answer.body, self.streams)
        for (table, key), old in zip(keys, before, strict=True):
            if (table, _key_text(key)) in unprocessed:
                continue
            new = None if _deletes(operation, body, table, key) else await self._item(table, key)
            self.streams.record(table, old, new)
        return answer

    # ---- tables -------------------------------------------------------------------------

    def _with_stream(self, answer: HttpResponse, table: Any) -> HttpResponse:
        """dynalite's ``DescribeTable`` answer, with the table's stream."""
        if answer.status != 200 or not isinstance(table, str):
            return answer
        try:
            payload = json.loads(answer.body)
            self._describe_stream(payload["Table"], table)
        except (ValueError, KeyError, TypeError):
            return answer
        body = json.dumps(payload).encode()
        headers = [(n, v) for n, v in answer.headers if n.lower() != "x-amz-crc32"]
        return HttpResponse(200, [*headers, ("x-amz-crc32", str(zlib.crc32(body)))], body)

    def _describe_stream(self, description: dict[str, Any], table: str) -> None:
        """Put ``table``'s stream (if it has one) in its description, as DynamoDB does."""
        stream = self.streams.configured(table)
        if stream is None:
            return
        description["StreamSpecification"] = {
            "StreamEnabled": True,
            "StreamViewType": stream.view_type,
        }
        description["LatestStreamArn"] = stream.arn
        description["LatestStreamLabel"] = STREAM_LABEL

    async def _table_changed(self, operation: str, body: Mapping[str, Any]) -> None:
        table = body.get("TableName")
        if not isinstance(table, str):
            return
        if operation == "DeleteTable":
            self.streams.configure(table, None)
            return
        spec = body.get("StreamSpecification")
        if not isinstance(spec, dict):
            return
        if spec.get("StreamEnabled") is False:
            self.streams.configure(table, None)
        elif isinstance(spec.get("StreamViewType"), str):
            schema = body.get("KeySchema")
            if schema is None:  # UpdateTable: the table's own
                _, described = await self._call("DescribeTable", {"TableName": table})
                schema = (described.get("Table") or {}).get("KeySchema")
            keys = [
                (k["AttributeName"], k["KeyType"])
                for k in schema or []
                if isinstance(k, dict) and "AttributeName" in k and "KeyType" in k
            ]
            self.streams.configure(table, spec["StreamViewType"], keys)

    async def _stream_update(self, body: Mapping[str, Any]) -> HttpResponse:
        """``UpdateTable`` that only enables or disables the stream: the stream is
        canaria's, so the answer is too (the table as it is, with its stream)."""
        spec = body["StreamSpecification"]
        if spec.get("StreamEnabled") is not False and not isinstance(
            spec.get("StreamViewType"), str
        ):
            return _error(
                400,
                "ValidationException",
                "StreamSpecification: StreamViewType is required when StreamEnabled is true",
            )
        status, described = await self._call("DescribeTable", {"TableName": body["TableName"]})
        if status != 200:
            return _json_answer(status, described, "0")
        await self._table_changed("UpdateTable", body)
        description = described["Table"]
        self._describe_stream(description, body["TableName"])
        return _json_answer(200, {"TableDescription": description}, "0")


def _stream_only(body: Mapping[str, Any]) -> bool:
    """An ``UpdateTable`` whose only change is its ``StreamSpecification``."""
    return (
        isinstance(body.get("TableName"), str)
        and isinstance(body.get("StreamSpecification"), dict)
        and set(body) == {"TableName", "StreamSpecification"}
    )


def _written_tables(operation: str, body: Mapping[str, Any]) -> list[str]:
    if operation == "BatchWriteItem":
        items = body.get("RequestItems")
        return [t for t in items if isinstance(t, str)] if isinstance(items, dict) else []
    table = body.get("TableName")
    return [table] if isinstance(table, str) else []


def _written_keys(
    operation: str, body: Mapping[str, Any], streams: TableStreams, streamed: list[str]
) -> list[tuple[str, dict[str, Any]]] | None:
    """(table, key) of each item the write touches in a streamed table, in the order of
    the request; None when the request is not well formed."""

    def key_of(table: str, item: Any) -> dict[str, Any] | None:
        stream = streams.configured(table)
        if stream is None or not isinstance(item, dict):
            return None
        key = stream.key_of(item)
        return key if len(key) == len(stream.key_schema) else None

    out: list[tuple[str, dict[str, Any]]] = []
    if operation == "BatchWriteItem":
        for table in streamed:
            requests = body["RequestItems"][table]
            if not isinstance(requests, list):
                return None
            for request in requests:
                if not isinstance(request, dict):
                    return None
                put, delete = request.get("PutRequest"), request.get("DeleteRequest")
                item = put.get("Item") if isinstance(put, dict) else None
                if item is None and isinstance(delete, dict):
                    item = delete.get("Key")
                key = key_of(table, item)
                if key is None:
                    return None
                out.append((table, key))
        return out
    table = body["TableName"]
    key = key_of(table, body.get("Item") if operation == "PutItem" else body.get("Key"))
    return None if key is None else [(table, key)]


def _deletes(operation: str, body: Mapping[str, Any], table: str, key: Mapping[str, Any]) -> bool:
    if operation == "DeleteItem":
        return True
    if operation != "BatchWriteItem":
        return False
    for request in body["RequestItems"][table]:
        delete = request.get("DeleteRequest")
        if isinstance(delete, dict) and delete.get("Key") == key:
            return True
    return False


def _key_text(key: Mapping[str, Any]) -> str:
    return json.dumps(key, sort_keys=True)


def _unprocessed(operation: str, answer: bytes, streams: TableStreams) -> set[tuple[str, str]]:
    """(table, key) of a batch's ``UnprocessedItems``: not written, so not recorded."""
    if operation != "BatchWriteItem":
        return set()
    try:
        items = json.loads(answer).get("UnprocessedItems") or {}
    except (ValueError, AttributeError):
        return set()
    out = set()
    for table, requests in items.items():
        for request in requests:
            put, delete = request.get("PutRequest"), request.get("DeleteRequest")
            item = put.get("Item") if put else (delete or {}).get("Key")
            stream = streams.configured(table)
            if isinstance(item, dict) and stream is not None:
                out.add((table, _key_text(stream.key_of(item))))
    return out


__all__ = ["STREAMS_API", "FrontError", "TablesFront", "Upstream"]
