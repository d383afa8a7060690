"""EventBridge Pipes: each batch a pipe's source hands over goes through its enrichment to
its target, as Pipes carries it.

A pipe's source is read by the same readers as functions' event sources (its queue,
stream or table stream, with its filters, retries, checkpoints and dead-letter
destination); where those would invoke a function they hand the batch to
``Pipes.deliver``. A batch is:

1. its records, in the shape Pipes gives them (an SQS message or a DynamoDB change as a
   Lambda event source gives it; a Kinesis record flat, without the ``kinesis`` wrapper);
2. if the pipe has an enrichment, each record transformed by the enrichment's
   ``InputTemplate``, the JSON array passed to the function, and its answer (an array,
   or one value) the batch from then on;
3. each record transformed by the target's ``InputTemplate``, then sent: a function
   gets the JSON array (through the alias the ARN names), a state machine is started
   with it, an event bus gets an event per record (``Source`` and ``DetailType`` from the
   pipe's parameters, else ``Pipe <name>`` and ``Event from aws:sqs``, ...), a queue a
   message, a topic a message, a stream a record per record, a delivery stream a record
   per record, an API destination a call per record (``api_destinations``), a log group
   an event per record.

A batch whose enrichment or target fails comes back to the reader, which tries it again
as it would a function's batch; a function target's ``batchItemFailures`` are passed on.

Input templates: ``<$.path>`` placeholders (a JSON path into the record, with an SQS
``body`` and a Kinesis ``data`` read as JSON when they are) and the reserved
``<aws.pipes.*>`` variables. A placeholder inside a JSON string is replaced by the
value's text, one outside by its JSON; a template that is not JSON once filled is sent
as text.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
import logging
import re
import time
import uuid
from collections.abc import Awaitable, Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any

import orjson

from canaria.errors import CanariaError
from canaria.models import InvokeResult, PipeSpec, PipeStep
from canaria.models.event_transforms import substitute
from canaria.services.api_destinations import ApiDestinations, CallFailed
from canaria.services.clients import EngineClients
from canaria.services.forwarding import PutRecords, WriteLog

log = logging.getLogger("canaria.services")

InvokeQualified = Callable[[str, str | None, bytes], Awaitable[InvokeResult]]
StartMachine = Callable[[str, str], Awaitable[None]]
RunMachine = Callable[[str, str], Awaitable[tuple[str, Any]]]  # → (status, output)

_PLACEHOLDER = re.compile(r"<(\$(?:\.[^<>]*)?|aws\.pipes\.[a-z.-]+)>")
_PATH_PART = re.compile(r"\.([^.\[\]]+)|\[(\d+)\]")
_BATCH = 10  # PutEvents, SendMessageBatch and PublishBatch take ten entries at most


class PipeFailed(CanariaError):
    """The enrichment or the target did not take the batch: it is tried again."""


def pipe_record(record: dict[str, Any]) -> dict[str, Any]:
    """A record as a reader hands it to a function → as Pipes hands it on."""
    kinesis = record.get("kinesis")
    if record.get("eventSource") == "aws:kinesis" and isinstance(kinesis, dict):
        flat = {k: v for k, v in record.items() if k != "kinesis"}
        return {**flat, **kinesis}
    return record


def _implicit(value: Any, key: str) -> Any:
    """An SQS ``body`` or a Kinesis ``data`` read as JSON when it is JSON (Pipes' implicit
    body parsing); otherwise the value as it is."""
    if key == "body" and isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            return value
    if key == "data" and isinstance(value, str):
        try:
            return json.loads(base64.b64decode(value, validate=True))
        except (ValueError, binascii.Error):
            return value
    return value


def lookup(record: Any, path: str) -> Any:
    """The value at JSON path ``path`` (``$.a.b[0].c``, ``$.a.0``) in ``record``; None
    when there is none."""
    value = record
    for name, index in _PATH_PART.findall(path[1:]):
        if index or (name.isdigit() and isinstance(value, list)):
            i = int(index or name)
            value = value[i] if isinstance(value, list) and i < len(value) else None
        elif isinstance(value, dict):
            value = _implicit(value.get(name), name)
        else:
            return None
        if value is None:
            return None
    return value


def render(template: str, record: dict[str, Any], reserved: Mapping[str, Any]) -> Any:
    """``template`` filled in for ``record``: the JSON value it makes, or its text. In a
    template that is not JSON (``Order <$.body.id> is <$.body.status>``) a value is
    written as text, a string without its quotes, as Pipes writes it."""
    json_template = template.lstrip()[:1] in ("{", "[")

    def write(key: str, in_string: bool) -> str:
        value = lookup(record, key) if key.startswith("$") else reserved.get(key)
        if in_string or not json_template:
            text = value if isinstance(value, str) else json.dumps(value)
            return json.dumps(text)[1:-1] if json_template else text
        return json.dumps(value)

    filled = substitute(template, _PLACEHOLDER, write)
    try:
        return json.loads(filled)
    except ValueError:
        return filled


def _text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value)


def _dynamic(value: str | None, record: dict[str, Any]) -> str | None:
    """A target parameter: a ``$.`` path into the record, or the value itself."""
    if value is not None and value.startswith("$."):
        found = lookup(record, value)
        return None if found is None else _text(found)
    return value


class Pipes:
    """The pipes of the running application."""

    def __init__(
        self, endpoint: str, invoke: InvokeQualified, start: StartMachine, run: RunMachine
    ) -> None:
        self.endpoint = endpoint  # the services engine, through its relay
        self.invoke = invoke
        self.start = start  # a state machine started (FIRE_AND_FORGET)
        self.run = run  # a state machine run to its end (REQUEST_RESPONSE: express)
        self._pipes: dict[str, PipeSpec] = {}
        self._pool = ThreadPoolExecutor(max_workers=4, thread_name_prefix="canaria-pipes")
        self.destinations = ApiDestinations()  # API destination targets' calls
        self._client = EngineClients(endpoint)
        self.write_log: WriteLog | None = None  # a log group target's events (the platform's)
        self.firehose: PutRecords | None = None  # a delivery stream target's records

    def apply(self, pipes: Mapping[str, PipeSpec]) -> None:
        self._pipes = dict(pipes)

    def __contains__(self, name: object) -> bool:
        return name in self._pipes

    async def stop(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
        self.destinations.close()

    async def deliver(self, name: str, event: bytes) -> InvokeResult:
        """Carry one batch (a reader's ``{"Records": [...]}``) through pipe ``name``."""
        pipe = self._pipes[name]
        started = time.monotonic()
        records = [pipe_record(r) for r in orjson.loads(event)["Records"]]
        try:
            batch: list[Any] = records
            if pipe.enrichment is not None:
                batch = await self._enrich(pipe, pipe.enrichment, batch)
            payload = await self._send(pipe, pipe.target, batch) if batch else b"null"
        except PipeFailed as exc:
            log.warning("pipe %s: %s", pipe.name, exc.message)
            return InvokeResult(
                orjson.dumps({"errorMessage": exc.message, "errorType": "PipeFailed"}),
                0,
                "",
                (time.monotonic() - started) * 1000,
                function_error="Unhandled",
            )
        return InvokeResult(payload, 0, "", (time.monotonic() - started) * 1000)

    def _reserved(self, pipe: PipeSpec, record: Any) -> dict[str, Any]:
        return {
            "aws.pipes.pipe-arn": pipe.arn,
            "aws.pipes.pipe-name": pipe.name,
            "aws.pipes.source-arn": pipe.source_arn,
            "aws.pipes.enrichment-arn": pipe.enrichment.arn if pipe.enrichment else None,
            "aws.pipes.target-arn": pipe.target.arn,
            "aws.pipes.event.ingestion-time": datetime.now(UTC).isoformat(timespec="seconds"),
            "aws.pipes.event": _text(record),
            "aws.pipes.event.json": record,
        }

    def _transformed(self, pipe: PipeSpec, step: PipeStep, batch: list[Any]) -> list[Any]:
        if step.input_template is None:
            return batch
        out = []
        for record in batch:
            view = record if isinstance(record, dict) else {}
            out.append(render(step.input_template, view, self._reserved(pipe, record)))
        return out

    async def _enrich(self, pipe: PipeSpec, step: PipeStep, batch: list[Any]) -> list[Any]:
        payload = orjson.dumps(self._transformed(pipe, step, batch))
        if step.kind == "state_machine":
            answer = await self._run(step, payload)
        else:
            result = await self._invoke(step, payload)
            answer = orjson.loads(result.payload or b"null")
        if answer is None:
            return []
        return answer if isinstance(answer, list) else [answer]

    async def _invoke(self, step: PipeStep, payload: bytes) -> InvokeResult:
        try:
            result = await self.invoke(step.name, step.qualifier, payload)
        except CanariaError as exc:
            raise PipeFailed(f"{step.name}: {exc.message}") from None
        if result.function_error and not step.fire_and_forget:
            raise PipeFailed(f"{step.name} failed ({result.error_type or result.function_error})")
        return result

    async def _send(self, pipe: PipeSpec, step: PipeStep, batch: list[Any]) -> bytes:
        """Hand ``batch`` to the target; what a function target answered (its
        ``batchItemFailures``), else null."""
        shaped = self._transformed(pipe, step, batch)
        if step.kind == "function":
            result = await self._invoke(step, orjson.dumps(shaped))
            return b"null" if step.fire_and_forget else (result.payload or b"null")
        if step.kind == "state_machine":
            if not step.fire_and_forget:
                await self._run(step, orjson.dumps(shaped))
                return b"null"
            try:
                await self.start(step.name, orjson.dumps(shaped).decode())
            except CanariaError as exc:
                raise PipeFailed(f"{step.name}: {exc.message}") from None
            return b"null"
        if step.kind == "log_group":
            self._log(pipe, step, batch, shaped)
            return b"null"
        if step.kind == "api_destination":
            try:
                await asyncio.get_running_loop().run_in_executor(
                    self._pool, self._call, step, batch, shaped
                )
            except CallFailed as exc:  # the batch is tried again, as a failed target's
                raise PipeFailed(f"API destination {step.name}: {exc.message}") from None
            return b"null"
        if step.kind == "firehose":  # on the loop: the delivery streams' buffers are its
            if self.firehose is None:
                raise PipeFailed(f"delivery stream {step.name}: none run here")
            try:
                self.firehose(step.arn, [_text(body).encode() for body in shaped])
            except CanariaError as exc:
                raise PipeFailed(f"delivery stream {step.name}: {exc.message}") from None
            return b"null"
        try:
            await asyncio.get_running_loop().run_in_executor(
                self._pool, self._put, pipe, step, batch, shaped
            )
        except Exception as exc:  # the engine restarting, a resource not there yet
            raise PipeFailed(f"{step.kind} {step.name}: {exc}") from None
        return b"null"

    def _call(self, step: PipeStep, batch: list[Any], shaped: list[Any]) -> None:
        """An API destination target: one call per record, its body what the input
        template made of it, ``$.`` parameters read from the record (a pool thread)."""
        assert step.destination is not None
        for record, body in zip(batch, shaped, strict=True):
            view = record if isinstance(record, dict) else {}
            self.destinations.call(step.destination, step.http, _text(body).encode(), view)

    def _log(self, pipe: PipeSpec, step: PipeStep, batch: list[Any], shaped: list[Any]) -> None:
        """A log group target: each record (as its input template made it) one event, in
        the stream its parameters name (the pipe's name without)."""
        if self.write_log is None:
            raise PipeFailed(f"log group {step.name}: no log groups are kept here")
        now = int(time.time() * 1000)
        by_stream: dict[str, list[tuple[int, str]]] = {}
        for record, body in zip(batch, shaped, strict=True):
            view = record if isinstance(record, dict) else {}
            stream = _dynamic(step.log_stream, view) or pipe.name
            stamp = _dynamic(step.timestamp, view)
            ms = int(stamp) if stamp is not None and stamp.isdigit() else now
            by_stream.setdefault(stream, []).append((ms, _text(body)))
        for stream, events in by_stream.items():
            self.write_log(step.name, stream, sorted(events, key=lambda e: e[0]))

    async def _run(self, step: PipeStep, payload: bytes) -> Any:
        """Run the state machine to its end; its output."""
        try:
            status, output = await self.run(step.name, payload.decode())
        except CanariaError as exc:
            raise PipeFailed(f"{step.name}: {exc.message}") from None
        if status != "SUCCEEDED":
            raise PipeFailed(f"state machine {step.name} ended {status}")
        return output

    def _put(self, pipe: PipeSpec, step: PipeStep, batch: list[Any], shaped: list[Any]) -> None:
        """The services engine's targets, from the pool's threads."""
        pairs = list(zip(batch, shaped, strict=True))
        for i in range(0, len(pairs), _BATCH):
            chunk = pairs[i : i + _BATCH]
            if step.kind == "event_bus":
                self._put_events(pipe, step, chunk)
            elif step.kind == "queue":
                self._send_messages(step, chunk)
            elif step.kind == "topic":
                sns = self._client("sns")
                for _, body in chunk:
                    sns.publish(TopicArn=step.arn, Message=_text(body))
            elif step.kind == "stream":
                kinesis = self._client("kinesis")
                for record, body in chunk:
                    key = _dynamic(step.partition_key, record) or "pipe"
                    kinesis.put_record(
                        StreamName=step.name, Data=_text(body).encode(), PartitionKey=key
                    )

    def _put_events(self, pipe: PipeSpec, step: PipeStep, chunk: list[tuple[Any, Any]]) -> None:
        entries = []
        for record, body in chunk:
            view = record if isinstance(record, dict) else {}
            entries.append(
                {
                    "Source": _dynamic(step.source, view) or f"Pipe {pipe.name}",
                    "DetailType": _dynamic(step.detail_type, view)
                    or f"Event from {pipe.source_kind}",
                    "Detail": json.dumps(body if isinstance(body, dict) else {"value": body}),
                    "EventBusName": step.name,
                    "Resources": [pipe.arn],
                }
            )
        got = self._client("events").put_events(Entries=entries)
        if got.get("FailedEntryCount"):
            raise RuntimeError(f"{got['FailedEntryCount']} event(s) not put")

    def _send_messages(self, step: PipeStep, chunk: list[tuple[Any, Any]]) -> None:
        sqs = self._client("sqs")
        url = sqs.get_queue_url(QueueName=step.name)["QueueUrl"]
        entries = []
        for n, (record, body) in enumerate(chunk):
            view = record if isinstance(record, dict) else {}
            entry: dict[str, Any] = {"Id": str(n), "MessageBody": _text(body)}
            group = _dynamic(step.message_group_id, view)
            if group:
                entry["MessageGroupId"] = group
                dedup = _dynamic(step.message_deduplication_id, view)
                entry["MessageDeduplicationId"] = dedup or uuid.uuid4().hex
            entries.append(entry)
        got = sqs.send_message_batch(QueueUrl=url, Entries=entries)
        if got.get("Failed"):
            raise RuntimeError(f"{len(got['Failed'])} message(s) not sent")


__all__ = ["PipeFailed", "Pipes", "lookup", "pipe_record", "render"]
