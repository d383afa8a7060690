"""Functions' Kinesis and DynamoDB event sources: read each shard in order and invoke the
function with its records in batches, as Lambda's event source mapping for a stream does.

Per source, one task keeps the stream's shards in view and one task reads each shard
(a shard split or merged is read once its parents are read to their end). A shard has
one batch in flight: a batch that fails is tried again, whole, before any record behind
it, so one bad record holds its shard up until it succeeds, its retries
(``MaximumRetryAttempts``) or its age (``MaximumRecordAgeInSeconds``) run out, or it
leaves the stream. A discarded batch is described to the ``OnFailure`` destination (a
queue or a topic), as Lambda describes it. ``BisectBatchOnFunctionError`` splits a
failing batch in two and tries each half (a split is not a retry);
``ReportBatchItemFailures`` moves the checkpoint to the lowest sequence number the
function names, and the records from there on are tried again.

The function is invoked through the same path as every other invocation (its
AutoPublishAlias, so a canary deployment splits the stream's batches by its weights and
the judge sees their errors). Each shard's checkpoint outlives a change of the source's
settings (a redeploy with another ``BatchSize`` goes on from where it was).

Both kinds are read the same way through ``Shards``: Kinesis streams through the services
engine's API, their checkpoints in memory (the engine keeps its streams in memory too, so
both start again together); DynamoDB streams in this process from ``canaria.tables``,
their checkpoints on disk beside the records (both outlive canaria).
"""

from __future__ import annotations

import asyncio
import base64
import logging
import time
from collections.abc import Callable, Iterable, MutableMapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

import orjson

from canaria.errors import CanariaError
from canaria.models import InvokeResult
from canaria.models.arns import ACCOUNT, REGION, function_arn
from canaria.models.filters import kinesis_filter_view, matches_any
from canaria.models.services import StartingPosition, StreamEventSource
from canaria.services.clients import EngineClients
from canaria.services.pollers import Invoke, SourceTasks
from canaria.tables.streams import MAX_GET_RECORDS, TableStreams

log = logging.getLogger("canaria.services")

_IDLE_S = 0.25  # an empty shard is read again after this (Lambda: about once a second)
_SHARDS_S = 5.0  # how often a stream's shards are listed again (splits, merges)
_RETRY_FIRST_S = 0.25  # the wait before the first retry of a failed batch; doubles
_RETRY_MAX_S = 5.0
_BACKOFF_S = 1.0  # after the engine failed a read
_MAX_EVENT_BYTES = 6 * 1024 * 1024  # Lambda's synchronous invocation payload limit


@dataclass(frozen=True)
class Outcome:
    """What one invocation with a batch came to: ``failed_from`` is the index of the
    first record to try again (None: the batch is done)."""

    failed_from: int | None
    result: InvokeResult | None  # None: the invocation did not happen (throttled, ...)


@dataclass(frozen=True, slots=True)
class StreamRecord:
    """One record of a shard, whichever kind of stream it came from."""

    sequence: str
    arrival: float  # wall time it reached the stream
    size: int  # about what it adds to the event
    event: dict[str, Any]  # as Lambda hands it to the function
    view: dict[str, Any]  # what the source's FilterCriteria patterns are matched against


def kinesis_record(
    record: dict[str, Any], shard_id: str, source: StreamEventSource
) -> dict[str, Any]:
    """One record of ``GetRecords`` as Lambda hands it to a function."""
    arrival = record.get("ApproximateArrivalTimestamp")
    return {
        "kinesis": {
            "kinesisSchemaVersion": "1.0",
            "partitionKey": record["PartitionKey"],
            "sequenceNumber": record["SequenceNumber"],
            "data": base64.b64encode(record["Data"]).decode(),
            "approximateArrivalTimestamp": arrival.timestamp() if arrival else time.time(),
        },
        "eventSource": "aws:kinesis",
        "eventVersion": "1.0",
        "eventID": f"{shard_id}:{record['SequenceNumber']}",
        "eventName": "aws:kinesis:record",
        "invokeIdentityArn": f"arn:aws:iam::{ACCOUNT}:role/{source.function}-role",
        "awsRegion": REGION,
        "eventSourceARN": source.stream_arn,
    }


def from_kinesis(record: dict[str, Any], shard_id: str, source: StreamEventSource) -> StreamRecord:
    arrival = record.get("ApproximateArrivalTimestamp")
    return StreamRecord(
        str(record["SequenceNumber"]),
        arrival.timestamp() if arrival else time.time(),
        4 * (len(record["Data"]) + 2) // 3 + 600,  # base64 data and the envelope
        kinesis_record(record, shard_id, source),
        kinesis_filter_view(record),
    )


def from_table(record: dict[str, Any], arrival: float, source: StreamEventSource) -> StreamRecord:
    """A DynamoDB stream record (``GetRecords``' shape) as Lambda hands it: the same,
    with the stream's ARN; its filters see the record itself (``eventName``,
    ``dynamodb.NewImage``, ...)."""
    body = record["dynamodb"]
    return StreamRecord(
        body["SequenceNumber"],
        arrival,
        int(body.get("SizeBytes", 0)) + 400,
        {**record, "eventSourceARN": source.stream_arn},
        record,
    )


def outcome_of(
    result: InvokeResult, batch: Sequence[StreamRecord], source: StreamEventSource
) -> Outcome:
    """Where the checkpoint goes after ``result``: past the batch, or (with
    ``ReportBatchItemFailures``) to the lowest sequence number the function named."""
    if result.function_error:
        return Outcome(0, result)
    if not source.report_batch_item_failures:
        return Outcome(None, result)
    try:
        body = orjson.loads(result.payload or b"null")
    except orjson.JSONDecodeError:
        return Outcome(None, result)
    failures = body.get("batchItemFailures") if isinstance(body, dict) else None
    if not failures:
        return Outcome(None, result)
    index = {r.sequence: i for i, r in enumerate(batch)}
    first = len(batch)
    for item in failures if isinstance(failures, list) else [None]:
        ident = item.get("itemIdentifier") if isinstance(item, dict) else None
        if ident not in index:  # Lambda: an invalid report fails the whole batch
            return Outcome(0, result)
        first = min(first, index[ident])
    return Outcome(first, result)


def _iso(at: float) -> str:
    when = datetime.fromtimestamp(at, UTC)
    return when.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def failure_record(
    batch: Sequence[StreamRecord],
    shard_id: str,
    source: StreamEventSource,
    condition: str,
    attempts: int,
    result: InvokeResult | None,
) -> dict[str, Any]:
    """What Lambda sends a stream source's ``OnFailure`` destination for a discarded
    batch: where the records are, not the records."""
    response: dict[str, Any] = {"statusCode": 200 if result is not None else 429}
    if result is not None:
        response["executedVersion"] = str(result.version)
        if result.function_error:
            response["functionError"] = result.function_error
    info = "DDBStreamBatchInfo" if source.kind == "dynamodb" else "KinesisBatchInfo"
    return {
        "requestContext": {
            "requestId": result.request_id if result is not None else "",
            "functionArn": function_arn(source.function),
            "condition": condition,
            "approximateInvokeCount": attempts,
        },
        "responseContext": response,
        "version": "1.0",
        "timestamp": _iso(time.time()),
        info: {
            "shardId": shard_id,
            "startSequenceNumber": batch[0].sequence,
            "endSequenceNumber": batch[-1].sequence,
            "approximateArrivalOfFirstRecord": _iso(batch[0].arrival),
            "approximateArrivalOfLastRecord": _iso(batch[-1].arrival),
            "batchSize": len(batch),
            "streamArn": source.stream_arn,
        },
    }


def split_to_fit(batch: list[StreamRecord]) -> list[list[StreamRecord]]:
    """``batch`` in order, cut so that each part's event stays under Lambda's 6 MB."""
    parts: list[list[StreamRecord]] = [[]]
    size = 0
    for record in batch:
        if parts[-1] and size + record.size > _MAX_EVENT_BYTES:
            parts.append([])
            size = 0
        parts[-1].append(record)
        size += record.size
    return parts


class Shards(Protocol):
    """The shards of one kind of stream, as the readers below need them."""

    # the last sequence number each (function, event, stream, shard) finished with
    checkpoints: MutableMapping[str, str]

    async def shards(self, source: StreamEventSource) -> list[dict[str, Any]]:
        """The stream's shards: ``ShardId``, ``ParentShardId``, ``AdjacentParentShardId``."""
        ...

    def mark(self, source: StreamEventSource) -> Any:
        """Where LATEST begins for a source starting now."""
        ...

    async def iterator(
        self,
        source: StreamEventSource,
        shard_id: str,
        initial: StartingPosition,
        mark: Any,
        checkpoint: str | None,
    ) -> str: ...

    async def read(
        self, source: StreamEventSource, shard_id: str, iterator: str, limit: int
    ) -> tuple[list[StreamRecord], str | None]:
        """Up to ``limit`` records and the next iterator (None: the shard is closed and
        read to its end)."""
        ...

    async def idle(self, source: StreamEventSource) -> None:
        """Wait before reading a shard that had nothing new."""
        ...


class KinesisShards:
    """Kinesis streams in the services engine, read through its API."""

    def __init__(self, client: Callable[[str], Any], pool: ThreadPoolExecutor) -> None:
        self._client = client
        self._pool = pool
        self.checkpoints: MutableMapping[str, str] = {}  # the engine's streams are in memory

    async def _run(self, fn: Callable[..., Any], *args: Any) -> Any:
        return await asyncio.get_running_loop().run_in_executor(self._pool, fn, *args)

    async def shards(self, source: StreamEventSource) -> list[dict[str, Any]]:
        kinesis = await self._run(self._client, "kinesis")
        return await self._run(_list_shards, kinesis, source.stream_name)  # type: ignore[no-any-return]

    def mark(self, source: StreamEventSource) -> float:
        return time.time()

    async def iterator(
        self,
        source: StreamEventSource,
        shard_id: str,
        initial: StartingPosition,
        mark: Any,
        checkpoint: str | None,
    ) -> str:
        kinesis = await self._run(self._client, "kinesis")
        return await self._run(  # type: ignore[no-any-return]
            _iterator, kinesis, source, shard_id, initial, mark, checkpoint
        )

    async def read(
        self, source: StreamEventSource, shard_id: str, iterator: str, limit: int
    ) -> tuple[list[StreamRecord], str | None]:
        kinesis = await self._run(self._client, "kinesis")
        records, after = await self._run(_get_records, kinesis, iterator, limit)
        return [from_kinesis(r, shard_id, source) for r in records], after

    async def idle(self, source: StreamEventSource) -> None:
        await asyncio.sleep(_IDLE_S)  # Lambda reads a shard about once a second


class TableShards:
    """DynamoDB streams, kept in this process by ``canaria.tables`` (with the sources'
    checkpoints, on disk)."""

    def __init__(self, streams: TableStreams) -> None:
        self.streams = streams
        self.checkpoints: MutableMapping[str, str] = streams.checkpoints

    async def shards(self, source: StreamEventSource) -> list[dict[str, Any]]:
        return list(self.streams.describe(source.stream_arn)["Shards"])

    def mark(self, source: StreamEventSource) -> int:
        return self.streams.latest(source.stream_name)

    async def iterator(
        self,
        source: StreamEventSource,
        shard_id: str,
        initial: StartingPosition,
        mark: Any,
        checkpoint: str | None,
    ) -> str:
        if checkpoint is not None:
            return self.streams.iterator(
                source.stream_arn, shard_id, "AFTER_SEQUENCE_NUMBER", checkpoint
            )
        if initial is StartingPosition.LATEST:
            # records made since the source started, not since this read began
            return self.streams.iterator_at(source.stream_name, int(mark))
        return self.streams.iterator(source.stream_arn, shard_id, "TRIM_HORIZON")

    async def read(
        self, source: StreamEventSource, shard_id: str, iterator: str, limit: int
    ) -> tuple[list[StreamRecord], str | None]:
        records, arrivals, after = self.streams.records(iterator, min(limit, MAX_GET_RECORDS))
        return [from_table(r, a, source) for r, a in zip(records, arrivals, strict=True)], after

    async def idle(self, source: StreamEventSource) -> None:
        # the records are made in this process: read again as soon as there is one
        await self.streams.written(source.stream_name, _IDLE_S)


class StreamPollers:
    """One reader per enabled Kinesis or DynamoDB event source of the running
    application."""

    def __init__(
        self,
        endpoint: str,
        invoke: Invoke,
        tables: TableStreams | None = None,
        now: Callable[[], float] = time.time,
    ):
        self.endpoint = endpoint  # the services engine, through its relay
        self.invoke = invoke
        self.now = now  # wall time: records carry their wall-clock arrival times
        self._tasks = SourceTasks[StreamEventSource](self._read)
        # sources to read from their stream's start (the engine started again, empty)
        self._fresh: set[tuple[str, str]] = set()
        self._pool = ThreadPoolExecutor(max_workers=8, thread_name_prefix="canaria-streams")
        self._client = EngineClients(endpoint)
        self._shards: dict[str, Shards] = {"kinesis": KinesisShards(self._client, self._pool)}
        if tables is not None:
            self._shards["dynamodb"] = TableShards(tables)

    def apply(self, sources: Iterable[object]) -> None:
        """Read exactly the stream ``sources`` among ``sources`` (the enabled ones); a
        changed source starts again."""
        self._tasks.keep(
            {
                (s.function, s.event): s
                for s in sources
                if isinstance(s, StreamEventSource) and s.enabled and s.kind in self._shards
            }
        )

    def restarted(self) -> None:
        """The services engine started again, empty: read every Kinesis stream again from
        its start, whatever its starting position (DynamoDB streams are not there)."""
        sources = self._tasks.sources()
        kinesis = {k for k, s in sources.items() if s.kind == "kinesis"}
        self._fresh |= kinesis
        self._shards["kinesis"].checkpoints.clear()  # the new streams' numbers start again
        self._tasks.keep({k: s for k, s in sources.items() if k not in kinesis})
        self._tasks.keep(sources)

    async def stop(self) -> None:
        await self._tasks.stop()
        self._pool.shutdown(wait=False, cancel_futures=True)

    # ---- the engine, from the pool's threads ------------------------------------------

    async def _run(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._pool, lambda: fn(*args, **kwargs))

    # ---- reading ------------------------------------------------------------------------

    async def _read(self, source: StreamEventSource) -> None:
        """Keep one task per shard; a child shard waits for its parents to end."""
        shards_of = self._shards[source.kind]
        mark = shards_of.mark(source)  # LATEST: what is put from now on (before any wait)
        key = (source.function, source.event)
        fresh = key in self._fresh
        self._fresh.discard(key)
        shards: dict[str, asyncio.Task[None]] = {}
        ended: dict[str, asyncio.Event] = {}
        try:
            while True:
                try:
                    listed = await shards_of.shards(source)
                except Exception as exc:  # the engine restarting, the stream not there yet
                    log.warning("listing %s for %s: %s", source.stream_name, source.function, exc)
                    await asyncio.sleep(_BACKOFF_S)
                    continue
                known = {s["ShardId"] for s in listed}
                for shard in listed:
                    sid = shard["ShardId"]
                    if sid in shards:
                        continue
                    ended[sid] = asyncio.Event()
                    parents = [
                        ended.setdefault(p, asyncio.Event())
                        for p in (shard.get("ParentShardId"), shard.get("AdjacentParentShardId"))
                        if p and p in known
                    ]
                    # a shard born after the source started is read from its start
                    initial = (
                        source.starting_position
                        if not fresh and not parents
                        else StartingPosition.TRIM_HORIZON
                    )
                    shards[sid] = asyncio.ensure_future(
                        self._shard(source, shards_of, sid, initial, mark, parents, ended[sid])
                    )
                await asyncio.sleep(_SHARDS_S)
        finally:
            for task in shards.values():
                task.cancel()
            await asyncio.gather(*shards.values(), return_exceptions=True)

    async def _shard(
        self,
        source: StreamEventSource,
        shards_of: Shards,
        shard_id: str,
        initial: StartingPosition,
        mark: Any,
        parents: list[asyncio.Event],
        ended: asyncio.Event,
    ) -> None:
        for parent in parents:
            await parent.wait()
        # the last sequence number done with, kept across a restart of the source (a
        # changed BatchSize, say) so that its records are neither read again nor skipped
        at = "|".join((source.function, source.event, source.stream_name, shard_id))
        checkpoints = shards_of.checkpoints
        iterator: str | None = None
        while True:
            try:
                if iterator is None:
                    iterator = await shards_of.iterator(
                        source, shard_id, initial, mark, checkpoints.get(at)
                    )
                batch, iterator, last = await self._gather(shards_of, source, shard_id, iterator)
            except Exception as exc:  # the engine restarting, an iterator it lost
                log.warning(
                    "reading %s/%s for %s: %s", source.stream_name, shard_id, source.function, exc
                )
                iterator = None
                await asyncio.sleep(_BACKOFF_S)
                continue
            for part in split_to_fit(batch) if batch else []:
                await self._settle(source, shard_id, part)
            if last is not None:  # filtered out or done: past it either way
                checkpoints[at] = last
            if iterator is None:  # the shard is closed and read to its end
                ended.set()
                return
            if last is None:
                await shards_of.idle(source)

    async def _gather(
        self, shards_of: Shards, source: StreamEventSource, shard_id: str, iterator: str
    ) -> tuple[list[StreamRecord], str | None, str | None]:
        """Up to ``batch_size`` records, waiting up to the batching window for more: those
        the filters let through, the next iterator, and the last sequence number read."""
        records, after = await shards_of.read(source, shard_id, iterator, source.batch_size)
        if source.max_batching_window_s == 0 or not records:
            return self._matching(records, source), after, _last(records)
        deadline = time.monotonic() + source.max_batching_window_s
        while after is not None and len(records) < source.batch_size:
            if time.monotonic() >= deadline:
                break
            more, after = await shards_of.read(
                source, shard_id, after, source.batch_size - len(records)
            )
            records += more
            if not more:
                await asyncio.sleep(min(_IDLE_S, max(0.0, deadline - time.monotonic())))
        return self._matching(records, source), after, _last(records)

    @staticmethod
    def _matching(records: list[StreamRecord], source: StreamEventSource) -> list[StreamRecord]:
        """The records the source's filters let through (the others are done with)."""
        if not source.filters:
            return records
        return [r for r in records if matches_any(source.filters, r.view)]

    async def _settle(
        self, source: StreamEventSource, shard_id: str, batch: list[StreamRecord]
    ) -> None:
        """Invoke until ``batch`` is done: it succeeds, or it is discarded (retries or
        age run out). Bisecting tries each half the same way."""
        attempts = 0
        while True:
            outcome = await self._invoke(source, batch)
            attempts += 1
            if outcome.failed_from is None:
                return
            whole_failed = outcome.result is not None and outcome.result.function_error
            if whole_failed and source.bisect_on_error and len(batch) > 1:
                half = len(batch) // 2
                await self._settle(source, shard_id, batch[:half])
                await self._settle(source, shard_id, batch[half:])
                return
            batch = batch[outcome.failed_from :]
            retries = attempts - 1
            if 0 <= source.max_retry_attempts <= retries:
                await self._discard(
                    source, shard_id, batch, "RetryAttemptsExhausted", attempts, outcome.result
                )
                return
            if source.max_record_age_s >= 0 and self._oldest_age(batch) > source.max_record_age_s:
                await self._discard(
                    source, shard_id, batch, "RecordAgeExceeded", attempts, outcome.result
                )
                return
            await asyncio.sleep(min(_RETRY_FIRST_S * 2**retries, _RETRY_MAX_S))

    async def _invoke(self, source: StreamEventSource, batch: list[StreamRecord]) -> Outcome:
        event = orjson.dumps({"Records": [r.event for r in batch]})
        try:
            result = await self.invoke(source.function, event)
        except CanariaError as exc:  # throttled, or no such version: tried again
            log.warning("%s from %s: %s", source.function, source.stream_name, exc.message)
            return Outcome(0, None)
        return outcome_of(result, batch, source)

    def _oldest_age(self, batch: Sequence[StreamRecord]) -> float:
        return self.now() - batch[0].arrival

    async def _discard(
        self,
        source: StreamEventSource,
        shard_id: str,
        batch: list[StreamRecord],
        condition: str,
        attempts: int,
        result: InvokeResult | None,
    ) -> None:
        log.warning(
            "%s: discarded %d record(s) of %s/%s (%s, %d attempt(s))",
            source.function,
            len(batch),
            source.stream_name,
            shard_id,
            condition,
            attempts,
        )
        if source.on_failure is None:
            return
        body = orjson.dumps(failure_record(batch, shard_id, source, condition, attempts, result))
        try:
            await self._run(self._send, source.on_failure, body.decode())
        except Exception as exc:
            log.warning("%s: OnFailure destination %s: %s", source.function, source.on_failure, exc)

    def _send(self, arn: str, body: str) -> None:
        service, name = arn.split(":")[2], arn.rsplit(":", 1)[-1]
        if service == "sqs":
            sqs = self._client("sqs")
            url = sqs.get_queue_url(QueueName=name)["QueueUrl"]
            sqs.send_message(QueueUrl=url, MessageBody=body)
        else:
            self._client("sns").publish(TopicArn=arn, Message=body)


def _last(records: list[StreamRecord]) -> str | None:
    return records[-1].sequence if records else None


def _list_shards(kinesis: Any, stream: str) -> list[dict[str, Any]]:
    shards: list[dict[str, Any]] = []
    got = kinesis.list_shards(StreamName=stream)
    shards += got.get("Shards", [])
    while got.get("NextToken"):
        got = kinesis.list_shards(NextToken=got["NextToken"])
        shards += got.get("Shards", [])
    return shards


def _iterator(
    kinesis: Any,
    source: StreamEventSource,
    shard_id: str,
    initial: StartingPosition,
    started_at: float,
    checkpoint: str | None,
) -> str:
    args: dict[str, Any] = {"StreamName": source.stream_name, "ShardId": shard_id}
    if checkpoint is not None:
        args |= {"ShardIteratorType": "AFTER_SEQUENCE_NUMBER", "StartingSequenceNumber": checkpoint}
    elif initial is StartingPosition.AT_TIMESTAMP:
        args |= {"ShardIteratorType": "AT_TIMESTAMP", "Timestamp": source.starting_timestamp}
    elif initial is StartingPosition.LATEST:
        # records put since the source started (not since this read began: a read that
        # started again after a failure must not skip what came in between)
        args |= {"ShardIteratorType": "AT_TIMESTAMP", "Timestamp": started_at}
    else:
        args |= {"ShardIteratorType": "TRIM_HORIZON"}
    return str(kinesis.get_shard_iterator(**args)["ShardIterator"])


def _get_records(
    kinesis: Any, iterator: str, limit: int
) -> tuple[list[dict[str, Any]], str | None]:
    got = kinesis.get_records(ShardIterator=iterator, Limit=min(limit, 10_000))
    return list(got.get("Records", [])), got.get("NextShardIterator")


__all__ = [
    "KinesisShards",
    "Outcome",
    "Shards",
    "StreamPollers",
    "StreamRecord",
    "TableShards",
    "failure_record",
    "from_kinesis",
    "from_table",
    "kinesis_record",
    "outcome_of",
    "split_to_fit",
]
