"""Firehose delivery streams, run as Firehose runs them.

Records arrive from ``PutRecord`` / ``PutRecordBatch`` (the edge), from a topic's
``firehose`` subscription, a rule's target (the relay readers) or a CloudWatch Logs
subscription filter (GZIP'd, as CloudWatch Logs puts them), through ``put`` (by ARN), or
from a Kinesis stream the stream reads (``deliver``, handed a batch by the stream
readers as a function would be). Each stream keeps a buffer; it is written when it holds
the destination's ``SizeInMBs`` or when ``IntervalInSeconds`` have passed (on the
platform's clock, so ``--time-scale`` compresses the wait) since its first record. One
writer per stream writes its batches in order; records put while it writes wait and go
together in the next batch (at most the buffer's size), so a busy stream writes bigger
objects rather than queueing writes, and past ``MAX_PENDING_BYTES`` unwritten a put is
answered ``ServiceUnavailableException``. Writing a batch:

1. ``Decompression`` (GZIP) of each record, and ``CloudWatchLogProcessing``'s
   ``DataMessageExtraction`` (a CloudWatch Logs delivery becomes its messages, one per
   line), if the stream has those processors;
2. the ``Lambda`` processor: the records in invocations of at most its
   ``BufferSizeInMBs``, with Firehose's event (``invocationId``, ``deliveryStreamArn``,
   ``region``, ``records`` of ``recordId``, ``approximateArrivalTimestamp`` and base64
   ``data``; ``sourceKinesisStreamArn`` and each record's ``kinesisRecordMetadata`` for a
   stream reading Kinesis), through the alias or version the ARN names. A failed
   invocation is tried ``NumberOfRetries`` more times; then its records failed. In the
   answer each record needs its ``recordId`` and a ``result``: ``Ok`` (its ``data``
   written), ``Dropped`` (nothing written), ``ProcessingFailed``; a record missing from
   the answer, or an answer that is not Firehose's shape, fails;
3. ``AppendDelimiterToRecord``: the delimiter after each record;
4. the destination. S3: one object, ``<prefix><stream>-1-<yyyy-MM-dd-HH-mm-ss>-<uuid>``
   (the prefix's ``!{timestamp:...}`` and ``!{firehose:...}`` expressions evaluated at
   the oldest record's arrival, else ``YYYY/MM/dd/HH/`` after it; records grouped by
   their ``partitionKeyFromLambda`` keys when the prefix names them), GZIP'd when the
   stream says so. HTTP: Firehose's request (``requestId``, ``timestamp``, ``records`` of
   base64 ``data``; its headers), accepted by a 200 answer naming the same
   ``requestId``, tried again until the retry duration runs out, then written to the
   S3 backup. An ``execute-api`` URL is the template's own API on canaria's gateway.

Failed records go to the error prefix (``ErrorOutputPrefix`` with
``!{firehose:error-output-type}``, else ``processing-failed/`` or
``http-endpoint-failed/`` then the time prefix) as Firehose's JSON lines (``attemptsMade``,
``arrivalTimestamp``, ``errorCode``, ``errorMessage``, ``attemptEndingTimestamp``,
``rawData``, and ``lambdaArn`` or the endpoint's URL). With ``CloudWatchLoggingOptions``
enabled each failure is also a line in its log group. Stopping canaria writes what the
buffers hold first. A record is also on disk (``_Spool``, in the state directory) from
before its put is acknowledged until it is written, so a ``canaria up`` killed at any
moment writes it at its next start (the objects already written live as long as the
services engine's memory).
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import gzip
import json
import logging
import os
import re
import secrets
import time
import uuid
from collections.abc import Awaitable, Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any
from zoneinfo import ZoneInfo

import orjson
import urllib3

from canaria.clock import Clock
from canaria.errors import CanariaError
from canaria.models import InvokeResult
from canaria.models.arns import ACCOUNT, REGION
from canaria.models.firehose import MIB, DeliveryStreamSpec, HttpDestination, S3Destination
from canaria.services.clients import EngineClients
from canaria.services.forwarding import WriteLog
from canaria.services.local_urls import on_this_machine

log = logging.getLogger("canaria.services")

InvokeQualified = Callable[[str, str | None, bytes], Awaitable[InvokeResult]]

MAX_RECORD = 1_024_000  # bytes of one record (1,000 KiB)
MAX_BATCH_RECORDS = 500  # records of one PutRecordBatch
MAX_BATCH_BYTES = 4 * MIB  # bytes of one PutRecordBatch
MAX_INVOKE_BYTES = 6 * MIB  # a Lambda invocation's payload
# bytes a stream may hold unwritten (buffered and being written) before a put is answered
# ServiceUnavailableException ("Slow down."), as Firehose answers a put past its limits
MAX_PENDING_BYTES = 64 * MIB
# an S3 write that fails (the services engine restarting) is tried again this long after
# (wall seconds: what passes is the engine's restart, not the application's time)
_S3_RETRY_S = (0.5, 1.0, 2.0, 4.0, 8.0)
_HTTP_TIMEOUT_S = 180  # Firehose waits this long for an endpoint's answer
_SECRET_REFERENCE = re.compile(
    r"^\{\{resolve:secretsmanager:([^:}]+)(?::SecretString)?(?::([^:}]*))?[^}]*\}\}$"
)
_EXPRESSION = re.compile(r"!\{([a-zA-Z]+):([^}]*)\}")
# Java DateTimeFormatter letters (as Firehose reads !{timestamp:...}) → strftime
_JAVA_TIME = {
    "yyyy": "%Y",
    "yy": "%y",
    "MM": "%m",
    "dd": "%d",
    "HH": "%H",
    "mm": "%M",
    "ss": "%S",
}
_JAVA_TOKEN = re.compile(r"'([^']*)'|yyyy|yy|MM|dd|HH|mm|ss|%")


class FirehoseError(CanariaError):
    """A request Firehose refuses: ``code`` is its error code."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass
class _Record:
    record_id: str
    arrival_ms: int
    data: bytes
    kinesis: dict[str, Any] | None = None  # kinesisRecordMetadata


@dataclass
class _Failed:
    record: _Record
    code: str
    message: str
    attempts: int


@dataclass
class _Buffer:
    records: list[_Record] = field(default_factory=list)
    size: int = 0
    timer: asyncio.Task[None] | None = None  # makes it due when its interval has passed
    due: bool = False  # full, or its interval passed: the stream's writer takes it next


class _Spool:
    """A stream's records taken and not yet written, on disk: one JSON line per record,
    appended as they are taken, and the file written again (atomically) with what is
    left after each write. A ``canaria up`` killed at any moment finds them at its next
    start and writes them then: a record is written at least once, as Firehose writes it
    (one caught between its write and the file's rewrite is written twice)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._file: IO[bytes] | None = None

    def read(self) -> list[_Record]:
        out: list[_Record] = []
        try:
            lines = self.path.read_bytes().splitlines()
        except FileNotFoundError:
            return out
        for line in lines:
            try:
                item = orjson.loads(line)
                out.append(
                    _Record(item["id"], item["t"], base64.b64decode(item["d"]), item.get("k"))
                )
            except (orjson.JSONDecodeError, KeyError, TypeError, ValueError, binascii.Error):
                continue  # a line cut short by the kill: it was never acknowledged
        return out

    def append(self, records: list[_Record]) -> None:
        if self._file is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._file = self.path.open("ab")
        self._file.write(b"".join(_line(r) for r in records))
        self._file.flush()

    def keep(self, records: list[_Record]) -> None:
        """The file holds ``records`` only (none: it is removed)."""
        self.close()
        if not records:
            self.path.unlink(missing_ok=True)
            return
        partial = self.path.with_suffix(".partial")
        partial.write_bytes(b"".join(_line(r) for r in records))
        os.replace(partial, self.path)

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None


def _line(r: _Record) -> bytes:
    item = {"id": r.record_id, "t": r.arrival_ms, "d": base64.b64encode(r.data).decode()}
    if r.kinesis is not None:
        item["k"] = r.kinesis
    return orjson.dumps(item) + b"\n"


def java_time(pattern: str, when: datetime) -> str:
    """``when`` written with a Java ``DateTimeFormatter`` pattern (the letters Firehose's
    prefixes use: ``yyyy yy MM dd HH mm ss``, quoted text)."""

    def one(match: re.Match[str]) -> str:
        token = match.group(0)
        if match.group(1) is not None:
            return match.group(1)
        if token == "%":
            return "%"
        return when.strftime(_JAVA_TIME[token])

    return _JAVA_TOKEN.sub(one, pattern)


def evaluate_prefix(
    prefix: str,
    when: datetime,
    *,
    error_type: str | None = None,
    keys: Mapping[str, str] | None = None,
) -> str:
    """A prefix's expressions evaluated for an object whose oldest record arrived at
    ``when``; a prefix without expressions gets Firehose's ``YYYY/MM/dd/HH/`` after it
    (and, for failed records, the error type before that)."""
    if "!{" not in prefix:
        head = f"{prefix}{error_type}/" if error_type else prefix
        return head + when.strftime("%Y/%m/%d/%H/")

    def one(match: re.Match[str]) -> str:
        namespace, value = match.group(1), match.group(2)
        if namespace == "timestamp":
            return java_time(value, when)
        if namespace == "firehose" and value == "random-string":
            return secrets.token_hex(6)[:11]
        if namespace == "firehose" and value == "error-output-type":
            return error_type or ""
        if namespace == "partitionKeyFromLambda":
            return (keys or {}).get(value, "")
        return ""  # partitionKeyFromQuery: dynamic partitioning is not run

    return _EXPRESSION.sub(one, prefix)


def object_key(
    spec: DeliveryStreamSpec, destination: S3Destination, prefix: str, when: datetime
) -> str:
    extension = destination.extension
    if extension is None:
        extension = ".gz" if destination.compression == "GZIP" else ""
    stamp = when.strftime("%Y-%m-%d-%H-%M-%S")
    return f"{prefix}{spec.name}-1-{stamp}-{uuid.uuid4()}{extension}"


class DeliveryStreams:
    """The running delivery streams (``apply`` sets them), their buffers and writers."""

    def __init__(
        self,
        clock: Clock,
        endpoint: str,
        invoke: InvokeQualified,
        max_pending_bytes: int = MAX_PENDING_BYTES,
        spool_dir: Path | None = None,
    ) -> None:
        self.clock = clock
        # records taken and not yet written, kept on disk across a kill (None: memory only)
        self.spool_dir = spool_dir
        self._spools: dict[str, _Spool] = {}
        self.max_pending_bytes = max_pending_bytes
        self._clients = EngineClients(endpoint, read_timeout_s=30.0)
        self._invoke = invoke
        self.write_log: WriteLog | None = None  # CloudWatchLoggingOptions' groups
        self.gateway: tuple[str, int] | None = None  # where execute-api URLs are served
        self._specs: dict[str, DeliveryStreamSpec] = {}  # by logical id
        self._by_name: dict[str, str] = {}  # name → logical id
        self._buffers: dict[str, _Buffer] = {}
        # each stream's writer: one at a time, so its batches are written in order
        self._writers: dict[str, asyncio.Task[None]] = {}
        self._retired: dict[str, DeliveryStreamSpec] = {}  # removed, its buffer unwritten
        self._pending: dict[str, int] = {}  # bytes not yet written, by logical id
        self._stopping = False  # stopping: an HTTP endpoint is tried once, then the backup
        self._pool = ThreadPoolExecutor(4, thread_name_prefix="canaria-firehose")
        self._http = urllib3.PoolManager(
            num_pools=4, retries=False, timeout=urllib3.Timeout(connect=5, read=_HTTP_TIMEOUT_S)
        )
        self._prefix = "".join(str(secrets.randbelow(10)) for _ in range(36))
        self._counter = 0
        self.created_ms = int(clock.now() * 1000)

    # -- what runs ------------------------------------------------------------------

    def apply(self, specs: Mapping[str, DeliveryStreamSpec]) -> None:
        """Run exactly ``specs``; a stream removed from the template has its buffer
        written first (with the configuration it was put under). The first time, the
        records a killed ``canaria up`` had taken and not written are written now."""
        for logical_id, spec in self._specs.items():
            if logical_id not in specs and logical_id in self._buffers:
                self._retired[logical_id] = spec
                self._due(logical_id)
        first = not self._specs and not self._spools
        self._specs = dict(specs)
        self._by_name = {s.name: s.logical_id for s in specs.values()}
        if first:
            self._recover()

    def _spool(self, logical_id: str) -> _Spool | None:
        if self.spool_dir is None:
            return None
        spool = self._spools.get(logical_id)
        if spool is None:
            spool = self._spools[logical_id] = _Spool(self.spool_dir / f"{logical_id}.jsonl")
        return spool

    def _recover(self) -> None:
        """The spooled records of a ``canaria up`` that ended without writing them: taken
        again, due at once; those of streams no longer in the template are dropped, said."""
        if self.spool_dir is None or not self.spool_dir.is_dir():
            return
        for path in sorted(self.spool_dir.glob("*.jsonl")):
            logical_id = path.stem
            spool = _Spool(path)
            records = spool.read()
            spec = self._specs.get(logical_id)
            if spec is None:
                log.warning(
                    "firehose: %d records of %s, taken before canaria stopped, dropped: the "
                    "template no longer has that delivery stream",
                    len(records),
                    logical_id,
                )
                spool.keep([])
                continue
            self._spools[logical_id] = spool
            if not records:
                spool.keep([])
                continue
            log.info(
                "firehose %s: %d records taken before a restart, written now",
                spec.name,
                len(records),
            )
            buffer = self._buffers.setdefault(logical_id, _Buffer())
            buffer.records.extend(records)
            buffer.size += sum(len(r.data) for r in records)
            self._pending[logical_id] = self._pending.get(logical_id, 0) + buffer.size
            self._due(logical_id)

    def __contains__(self, logical_id: object) -> bool:
        return logical_id in self._specs

    def named(self, name: str) -> DeliveryStreamSpec | None:
        """The stream named ``name`` (or given by its ARN)."""
        if name.startswith("arn:"):
            name = name.rsplit("/", 1)[-1]
        logical_id = self._by_name.get(name)
        return self._specs.get(logical_id) if logical_id is not None else None

    def names(self) -> list[str]:
        return sorted(self._by_name)

    # -- records in -------------------------------------------------------------------

    def _record_id(self) -> str:
        self._counter += 1
        return f"{self._prefix}{self._counter:020d}"

    def put(self, name: str, records: list[bytes]) -> list[str]:
        """``PutRecord`` / ``PutRecordBatch``: the records buffered; their ids."""
        spec = self.named(name)
        if spec is None:
            raise FirehoseError(
                "ResourceNotFoundException", f"Firehose {name} under account {ACCOUNT} not found."
            )
        if spec.source == "KinesisStreamAsSource":
            raise FirehoseError(
                "InvalidArgumentException",
                f"This operation is not permitted on KinesisStreamAsSource delivery stream "
                f"type. Firehose {spec.name} reads from {spec.kinesis_arn}.",
            )
        now = int(self.clock.now() * 1000)
        added = [_Record(self._record_id(), now, data) for data in records]
        self._add(spec, added)
        return [r.record_id for r in added]

    async def deliver(self, logical_id: str, event: bytes) -> InvokeResult:
        """A Kinesis reader's batch (the Lambda event of a stream the delivery stream
        reads): its records buffered. Firehose has taken them once buffered: the reader
        moves on."""
        spec = self._specs[logical_id]
        added: list[_Record] = []
        for item in orjson.loads(event).get("Records", []):
            kinesis = item.get("kinesis") or {}
            try:
                data = base64.b64decode(kinesis.get("data", ""))
            except (ValueError, binascii.Error):
                continue
            arrival = int(float(kinesis.get("approximateArrivalTimestamp", time.time())) * 1000)
            shard = str(item.get("eventID", "")).split(":", 1)[0]
            metadata = {
                "shardId": shard,
                "partitionKey": kinesis.get("partitionKey", ""),
                "approximateArrivalTimestamp": arrival,
                "sequenceNumber": kinesis.get("sequenceNumber", ""),
                "subsequenceNumber": 0,
            }
            added.append(_Record(self._record_id(), arrival, data, metadata))
        try:
            self._add(spec, added)
        except FirehoseError as exc:  # too much unwritten: the reader tries the batch again
            error = {"errorMessage": exc.message, "errorType": exc.code}
            return InvokeResult(
                orjson.dumps(error), 0, uuid.uuid4().hex, 0.0, function_error="Unhandled"
            )
        return InvokeResult(b"{}", 0, uuid.uuid4().hex, 0.0)

    def _add(self, spec: DeliveryStreamSpec, records: list[_Record]) -> None:
        if not records:
            return
        size = sum(len(r.data) for r in records)
        pending = self._pending.get(spec.logical_id, 0)
        if pending + size > self.max_pending_bytes:
            raise FirehoseError(
                "ServiceUnavailableException",
                f"Slow down. Firehose {spec.name} holds {pending} bytes not yet written to "
                "its destination.",
            )
        spool = self._spool(spec.logical_id)
        if spool is not None:
            spool.append(records)  # before the put is acknowledged
        self._pending[spec.logical_id] = pending + size
        buffer = self._buffers.setdefault(spec.logical_id, _Buffer())
        first = not buffer.records
        buffer.records.extend(records)
        buffer.size += size
        if buffer.size >= spec.buffering.size_bytes or spec.buffering.interval_s == 0:
            self._due(spec.logical_id)
        elif first:
            when = self.clock.now() + spec.buffering.interval_s
            buffer.timer = asyncio.ensure_future(self._due_at(spec.logical_id, buffer, when))

    async def _due_at(self, logical_id: str, buffer: _Buffer, when: float) -> None:
        await self.clock.sleep_until(when)
        if self._buffers.get(logical_id) is buffer:
            buffer.timer = None
            self._due(logical_id)

    def _due(self, logical_id: str) -> None:
        """The stream's buffer is to be written: by its writer, started if none runs."""
        buffer = self._buffers.get(logical_id)
        if buffer is None or not buffer.records:
            return
        buffer.due = True
        if logical_id not in self._writers:
            self._writers[logical_id] = asyncio.ensure_future(self._writer(logical_id))

    async def _writer(self, logical_id: str) -> None:
        """Write the stream's due buffers one after the other. Records put while one is
        written wait in the next buffer and are written together, at most the buffer's
        size at a time: a stream falls behind its producers by batching more, as
        Firehose does, not by queueing writes."""
        try:
            while (buffer := self._buffers.get(logical_id)) is not None and buffer.due:
                spec = self._specs.get(logical_id) or self._retired.get(logical_id)
                if spec is None:
                    del self._buffers[logical_id]
                    return
                records, rest = _split(buffer.records, spec.buffering.size_bytes)
                if rest:
                    buffer.records = rest
                    buffer.size = sum(len(r.data) for r in rest)
                else:
                    del self._buffers[logical_id]
                    if buffer.timer is not None:
                        buffer.timer.cancel()
                await self._write(spec, records)
            self._retired.pop(logical_id, None)
        finally:
            self._writers.pop(logical_id, None)  # no await since the loop's test

    async def flush(self) -> None:
        """Write every buffer now, and wait for the writes under way."""
        for logical_id in list(self._buffers):
            self._due(logical_id)
        while self._writers:
            await asyncio.gather(*list(self._writers.values()), return_exceptions=True)

    async def stop(self) -> None:
        self._stopping = True
        try:
            await asyncio.wait_for(self.flush(), timeout=30)
        except TimeoutError:
            log.warning("firehose: buffers not written within 30 s of stopping: dropped")
        self._pool.shutdown(wait=False, cancel_futures=True)
        self._http.clear()
        for spool in self._spools.values():
            spool.close()

    # -- a batch out --------------------------------------------------------------------

    async def _write(self, spec: DeliveryStreamSpec, records: list[_Record]) -> None:
        try:
            await self._write_batch(spec, records)
        except Exception as exc:  # never lose the writer: say what was lost
            log.warning("firehose %s: %d records not written: %s", spec.name, len(records), exc)
            self._log_error(spec, "S3.WriteFailed", str(exc))
        finally:
            size = sum(len(r.data) for r in records)
            self._pending[spec.logical_id] = max(0, self._pending.get(spec.logical_id, 0) - size)
            spool = self._spools.get(spec.logical_id)
            if spool is not None:  # what is left: the records taken since
                left = self._buffers.get(spec.logical_id)
                spool.keep(left.records if left is not None else [])

    async def _write_batch(self, spec: DeliveryStreamSpec, records: list[_Record]) -> None:
        destination = spec.destination
        if destination is None:
            return  # a destination canaria does not write to (said at load)
        processor = spec.processor
        failed: list[_Failed] = []
        out: list[tuple[_Record, bytes, Mapping[str, str]]] = []
        steps = processor.steps if processor is not None else ()
        for kind, value in steps:
            if kind == "Decompression" and value.upper() == "GZIP":
                records, bad = _decompressed(records)
                failed.extend(bad)
            elif kind == "CloudWatchLogProcessing" and value == "true":
                records = _log_messages(records)
        if processor is not None and processor.arn:
            out, bad = await self._process(spec, records)
            failed.extend(bad)
        else:
            out = [(r, r.data, {}) for r in records]
        for kind, value in steps:
            if kind == "AppendDelimiterToRecord":
                delimiter = value.encode().decode("unicode_escape").encode()
                out = [(r, data + delimiter, keys) for r, data, keys in out]
        if failed:
            await self._write_failed(spec, failed, "processing-failed")
        if isinstance(destination, HttpDestination):
            await self._post(spec, destination, out)
        else:
            await self._put_objects(spec, destination, out)

    async def _process(
        self, spec: DeliveryStreamSpec, records: list[_Record]
    ) -> tuple[list[tuple[_Record, bytes, Mapping[str, str]]], list[_Failed]]:
        processor = spec.processor
        assert processor is not None
        out: list[tuple[_Record, bytes, Mapping[str, str]]] = []
        failed: list[_Failed] = []
        limit = min(int(processor.size_mb * MIB), MAX_INVOKE_BYTES)
        for chunk in _chunks(records, limit):
            attempts = 0
            code, message = "", ""
            answer: dict[str, Any] | None = None
            while attempts <= processor.retries:
                attempts += 1
                if processor.function is None:
                    code = "Lambda.InvokeAccessDenied"
                    message = f"{processor.arn} is not a function of this application"
                    break
                try:
                    result = await self._invoke(
                        processor.function, processor.qualifier, _event(spec, chunk)
                    )
                except CanariaError as exc:  # throttled, no such version
                    code, message = "Lambda.InvokeLimitExceeded", exc.message
                    continue
                if result.function_error:
                    code = "Lambda.FunctionError"
                    message = (
                        "The Lambda function was successfully invoked but it returned an "
                        f"error result ({result.error_type or result.function_error})."
                    )
                    continue
                try:
                    parsed = orjson.loads(result.payload)
                except orjson.JSONDecodeError:
                    parsed = None
                if not isinstance(parsed, dict) or not isinstance(parsed.get("records"), list):
                    code, message = (
                        "Lambda.JsonProcessingException",
                        "The response from the Lambda function was not Firehose's: a JSON "
                        'object with "records".',
                    )
                    break
                answer = parsed
                break
            if answer is None:
                failed.extend(_Failed(r, code, message, attempts) for r in chunk)
                continue
            done, bad = _answered(chunk, answer["records"], attempts)
            out.extend(done)
            failed.extend(bad)
        return out, failed

    async def _put_objects(
        self,
        spec: DeliveryStreamSpec,
        destination: S3Destination,
        out: list[tuple[_Record, bytes, Mapping[str, str]]],
    ) -> None:
        if not out:
            return
        zone = ZoneInfo(destination.time_zone) if destination.time_zone else UTC
        when = datetime.fromtimestamp(min(r.arrival_ms for r, _, _ in out) / 1000, zone)
        groups: dict[str, list[bytes]] = {}
        uses_keys = "partitionKeyFromLambda" in destination.prefix
        for _, data, keys in out:
            prefix = evaluate_prefix(destination.prefix, when, keys=keys if uses_keys else None)
            groups.setdefault(prefix, []).append(data)
        for prefix, items in groups.items():
            body = b"".join(items)
            if destination.compression == "GZIP":
                body = gzip.compress(body)
            key = object_key(
                spec, destination, prefix, datetime.fromtimestamp(self.clock.now(), zone)
            )
            await self._store(destination.bucket, key, body)

    def _put_object(self, bucket: str, key: str, body: bytes) -> None:
        self._clients("s3").put_object(Bucket=bucket, Key=key, Body=body)

    async def _store(self, bucket: str, key: str, body: bytes) -> None:
        """One object written, tried again while the services engine cannot take it (a
        restart); the last failure raised."""
        for delay in (*_S3_RETRY_S, None):
            try:
                await self._run(self._put_object, bucket, key, body)
                return
            except Exception as exc:
                if delay is None or self._stopping:
                    raise
                log.warning("firehose: writing s3://%s/%s: %s (tried again)", bucket, key, exc)
                await asyncio.sleep(delay)

    async def _run(self, fn: Callable[..., Any], *args: Any) -> Any:
        return await asyncio.get_running_loop().run_in_executor(self._pool, fn, *args)

    async def _write_failed(
        self, spec: DeliveryStreamSpec, failed: list[_Failed], kind: str
    ) -> None:
        destination = spec.destination
        backup = destination.backup if isinstance(destination, HttpDestination) else destination
        now = int(self.clock.now() * 1000)
        processor = spec.processor
        for item in failed:
            self._log_error(spec, item.code, item.message)
        if backup is None:
            return
        lines: list[bytes] = []
        for item in failed:
            document: dict[str, Any] = {
                "attemptsMade": item.attempts,
                "arrivalTimestamp": item.record.arrival_ms,
                "errorCode": item.code,
                "errorMessage": item.message,
                "attemptEndingTimestamp": now,
                "rawData": base64.b64encode(item.record.data).decode(),
            }
            if kind == "processing-failed" and processor is not None:
                document["lambdaArn"] = processor.arn
            if isinstance(destination, HttpDestination) and kind == "http-endpoint-failed":
                document["EndpointUrl"] = destination.url
            lines.append(orjson.dumps(document) + b"\n")
        zone = ZoneInfo(backup.time_zone) if backup.time_zone else UTC
        when = datetime.fromtimestamp(min(f.record.arrival_ms for f in failed) / 1000, zone)
        prefix = evaluate_prefix(
            backup.error_prefix if backup.error_prefix else "", when, error_type=kind
        )
        body = b"".join(lines)
        if backup.compression == "GZIP":
            body = gzip.compress(body)
        key = object_key(spec, backup, prefix, datetime.fromtimestamp(self.clock.now(), zone))
        try:
            await self._store(backup.bucket, key, body)
        except Exception as exc:
            log.warning(
                "firehose %s: failed records not written to %s: %s", spec.name, backup.bucket, exc
            )

    async def _post(
        self,
        spec: DeliveryStreamSpec,
        destination: HttpDestination,
        out: list[tuple[_Record, bytes, Mapping[str, str]]],
    ) -> None:
        if not out:
            return
        if destination.backup_all and destination.backup is not None:
            await self._put_objects(spec, destination.backup, out)
        request_id = str(uuid.uuid4())
        body = orjson.dumps(
            {
                "requestId": request_id,
                "timestamp": int(self.clock.now() * 1000),
                "records": [{"data": base64.b64encode(data).decode()} for _, data, _ in out],
            }
        )
        deadline = self.clock.now() + destination.retry_s
        attempts, delay = 0, 1.0
        problem = ""
        while True:
            attempts += 1
            problem = await self._run(self._post_once, spec, destination, request_id, body)
            if not problem:
                return
            if self._stopping or self.clock.now() + delay > deadline:
                break
            log.warning(
                "firehose %s → %s: %s (tried again in %.0f s)",
                spec.name,
                destination.url,
                problem,
                delay,
            )
            await self.clock.sleep_until(self.clock.now() + delay)
            delay = min(delay * 2, 60.0)
        failed = [_Failed(r, "HttpEndpoint.RequestFailed", problem, attempts) for r, _, _ in out]
        for item, (_, data, _) in zip(failed, out, strict=True):
            item.record = _Record(item.record.record_id, item.record.arrival_ms, data)
        await self._write_failed(spec, failed, "http-endpoint-failed")

    def _post_once(
        self, spec: DeliveryStreamSpec, destination: HttpDestination, request_id: str, body: bytes
    ) -> str:
        """One POST of a batch; what went wrong, or "" when the endpoint took it."""
        url = destination.url
        headers = {
            "Content-Type": "application/json",
            "X-Amz-Firehose-Protocol-Version": "1.0",
            "X-Amz-Firehose-Request-Id": request_id,
            "X-Amz-Firehose-Source-Arn": spec.arn,
        }
        key = self._access_key(destination.access_key)
        if key is not None:
            headers["X-Amz-Firehose-Access-Key"] = key
        if destination.common_attributes:
            headers["X-Amz-Firehose-Common-Attributes"] = json.dumps(
                {"commonAttributes": dict(destination.common_attributes)}
            )
        payload = body
        if destination.gzip:
            payload = gzip.compress(body)
            headers["Content-Encoding"] = "gzip"
        url, host = on_this_machine(url, self.gateway)
        if host is not None:
            headers["Host"] = host
        try:
            answer = self._http.request("POST", url, body=payload, headers=headers)
        except urllib3.exceptions.HTTPError as exc:
            return f"the endpoint could not be reached: {exc}"
        if answer.status != 200:
            text = answer.data[:200].decode(errors="replace")
            return f"the endpoint answered {answer.status}: {text}"
        try:
            reply = orjson.loads(answer.data)
        except orjson.JSONDecodeError:
            return "the endpoint's answer is not JSON"
        if not isinstance(reply, dict) or reply.get("requestId") != request_id:
            return "the endpoint's answer does not name the request's requestId"
        return ""

    def _access_key(self, key: str | None) -> str | None:
        """The endpoint's access key; a ``{{resolve:secretsmanager:...}}`` reference read
        from the services engine, as CloudFormation resolves it when it deploys."""
        if key is None:
            return None
        match = _SECRET_REFERENCE.match(key)
        if match is None:
            return key
        try:
            value = self._clients("secretsmanager").get_secret_value(SecretId=match.group(1))
        except Exception as exc:
            log.warning("firehose: the access key's secret %s: %s", match.group(1), exc)
            return key
        text = str(value.get("SecretString", ""))
        if match.group(2):
            try:
                return str(json.loads(text)[match.group(2)])
            except (ValueError, KeyError, TypeError):
                return text
        return text

    def _log_error(self, spec: DeliveryStreamSpec, code: str, message: str) -> None:
        if self.write_log is None or spec.log_group is None:
            return
        line = orjson.dumps(
            {
                "deliveryStreamARN": spec.arn,
                "destination": _destination_label(spec),
                "deliveryStreamVersionId": 1,
                "message": message,
                "errorCode": code,
            }
        ).decode()
        stream = spec.log_stream or "DestinationDelivery"
        try:
            self.write_log(spec.log_group, stream, [(int(self.clock.now() * 1000), line)])
        except Exception as exc:  # a log group canaria cannot write: said, not fatal
            log.warning("firehose %s: %s", spec.name, exc)


def _destination_label(spec: DeliveryStreamSpec) -> str:
    destination = spec.destination
    if isinstance(destination, S3Destination):
        return f"arn:aws:s3:::{destination.bucket}"
    if isinstance(destination, HttpDestination):
        return destination.url
    return spec.destination_kind


def _event(spec: DeliveryStreamSpec, records: list[_Record]) -> bytes:
    event: dict[str, Any] = {
        "invocationId": str(uuid.uuid4()),
        "deliveryStreamArn": spec.arn,
    }
    if spec.kinesis_arn is not None:
        event["sourceKinesisStreamArn"] = spec.kinesis_arn
    event["region"] = REGION
    items: list[dict[str, Any]] = []
    for r in records:
        item: dict[str, Any] = {
            "recordId": r.record_id,
            "approximateArrivalTimestamp": r.arrival_ms,
            "data": base64.b64encode(r.data).decode(),
        }
        if r.kinesis is not None:
            item["kinesisRecordMetadata"] = r.kinesis
        items.append(item)
    event["records"] = items
    return orjson.dumps(event)


def _split(
    records: list[_Record], limit: int, cost: Callable[[_Record], int] = lambda r: len(r.data)
) -> tuple[list[_Record], list[_Record]]:
    """The first records of ``records`` costing at most ``limit`` (one at least), and the
    rest."""
    size = 0
    for i, r in enumerate(records):
        size += cost(r)
        if size > limit and i > 0:
            return records[:i], records[i:]
    return records, []


def _chunks(records: list[_Record], limit: int) -> list[list[_Record]]:
    """``records`` in runs whose invocation event (base64 data, each record's fields)
    stays under ``limit`` bytes (one record each at least)."""
    out: list[list[_Record]] = []
    while records:
        chunk, records = _split(records, limit, lambda r: (len(r.data) + 2) // 3 * 4 + 120)
        out.append(chunk)
    return out


def _answered(
    chunk: list[_Record], answer: list[Any], attempts: int
) -> tuple[list[tuple[_Record, bytes, Mapping[str, str]]], list[_Failed]]:
    """A processor's answer for ``chunk``: the records written (with their partition
    keys) and the ones failed, in the chunk's order."""
    by_id: dict[str, Any] = {}
    duplicated: set[str] = set()
    for item in answer:
        if isinstance(item, dict) and isinstance(item.get("recordId"), str):
            if item["recordId"] in by_id:
                duplicated.add(item["recordId"])
            by_id[item["recordId"]] = item
    out: list[tuple[_Record, bytes, Mapping[str, str]]] = []
    failed: list[_Failed] = []
    for r in chunk:
        item = by_id.get(r.record_id)
        if item is None:
            failed.append(
                _Failed(
                    r,
                    "Lambda.MissingRecordId",
                    "One or more record Ids were not returned. Ensure that the Lambda "
                    "function returns all received record Ids.",
                    attempts,
                )
            )
            continue
        if r.record_id in duplicated:
            failed.append(
                _Failed(
                    r,
                    "Lambda.DuplicatedRecordId",
                    "Multiple records were returned with the same record Id. Ensure that the "
                    "Lambda function returns unique record Ids for each record.",
                    attempts,
                )
            )
            continue
        result = item.get("result")
        if result == "Dropped":
            continue
        if result == "ProcessingFailed":
            failed.append(
                _Failed(
                    r,
                    "Lambda.ProcessingFailedStatus",
                    "The Lambda function returned a ProcessingFailed result for this record.",
                    attempts,
                )
            )
            continue
        if result != "Ok":
            failed.append(
                _Failed(
                    r,
                    "Lambda.InvalidResult",
                    f"The record's result {result!r} is not Ok, Dropped or ProcessingFailed.",
                    attempts,
                )
            )
            continue
        try:
            data = base64.b64decode(str(item.get("data", "")), validate=True)
        except (ValueError, binascii.Error):
            failed.append(
                _Failed(r, "Lambda.InvalidData", "The record's data is not base64.", attempts)
            )
            continue
        metadata = item.get("metadata")
        keys = metadata.get("partitionKeys") if isinstance(metadata, dict) else None
        out.append(
            (r, data, {str(k): str(v) for k, v in keys.items()} if isinstance(keys, dict) else {})
        )
    return out, failed


def _log_messages(records: list[_Record]) -> list[_Record]:
    """``CloudWatchLogProcessing`` with ``DataMessageExtraction``: a CloudWatch Logs
    delivery becomes its events' messages, one per line; a control message, nothing."""
    out: list[_Record] = []
    for r in records:
        try:
            message = orjson.loads(r.data)
        except orjson.JSONDecodeError:
            out.append(r)
            continue
        if not isinstance(message, dict) or message.get("messageType") != "DATA_MESSAGE":
            continue
        lines = [str(e.get("message", "")) for e in message.get("logEvents", [])]
        text = "".join(f"{line}\n" for line in lines).encode()
        out.append(_Record(r.record_id, r.arrival_ms, text, r.kinesis))
    return out


def _decompressed(records: list[_Record]) -> tuple[list[_Record], list[_Failed]]:
    out: list[_Record] = []
    failed: list[_Failed] = []
    for r in records:
        try:
            out.append(_Record(r.record_id, r.arrival_ms, gzip.decompress(r.data), r.kinesis))
        except (OSError, EOFError) as exc:
            failed.append(
                _Failed(r, "Decompression.Failed", f"the record is not GZIP data: {exc}", 1)
            )
    return out, failed


__all__ = [
    "MAX_BATCH_BYTES",
    "MAX_BATCH_RECORDS",
    "MAX_RECORD",
    "DeliveryStreams",
    "FirehoseError",
    "evaluate_prefix",
    "java_time",
    "object_key",
]
