"""Functions' Kinesis event sources: read each shard in order and invoke the function with
its records in batches, as Lambda's event source mapping for a stream does.

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
settings (a redeploy with another ``BatchSize`` goes on from where it was). Checkpoints
are kept in memory: the services engine keeps its streams in memory too, so both start
again together.
"""

from __future__ import annotations

import asyncio
import base64
import logging
import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson

from canaria.errors import CanariaError
from canaria.models import InvokeResult
from canaria.models.arns import ACCOUNT, REGION, function_arn
from canaria.models.filters import kinesis_filter_view, matches_any
from canaria.models.services import StartingPosition, StreamEventSource
from canaria.services.pollers import Invoke, SourceTasks

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


def outcome_of(
    result: InvokeResult, batch: Sequence[dict[str, Any]], source: StreamEventSource
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
    index = {r["SequenceNumber"]: i for i, r in enumerate(batch)}
    first = len(batch)
    for item in failures if isinstance(failures, list) else [None]:
        ident = item.get("itemIdentifier") if isinstance(item, dict) else None
        if ident not in index:  # Lambda: an invalid report fails the whole batch
            return Outcome(0, result)
        first = min(first, index[ident])
    return Outcome(first, result)


def failure_record(
    batch: Sequence[dict[str, Any]],
    shard_id: str,
    source: StreamEventSource,
    condition: str,
    attempts: int,
    result: InvokeResult | None,
) -> dict[str, Any]:
    """What Lambda sends a stream source's ``OnFailure`` destination for a discarded
    batch: where the records are, not the records."""

    def at(record: dict[str, Any]) -> str:
        arrival = record.get("ApproximateArrivalTimestamp") or datetime.now(UTC)
        return arrival.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")

    response: dict[str, Any] = {"statusCode": 200 if result is not None else 429}
    if result is not None:
        response["executedVersion"] = str(result.version)
        if result.function_error:
            response["functionError"] = result.function_error
    return {
        "requestContext": {
            "requestId": result.request_id if result is not None else "",
            "functionArn": function_arn(source.function),
            "condition": condition,
            "approximateInvokeCount": attempts,
        },
        "responseContext": response,
        "version": "1.0",
        "timestamp": datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        "KinesisBatchInfo": {
            "shardId": shard_id,
            "startSequenceNumber": batch[0]["SequenceNumber"],
            "endSequenceNumber": batch[-1]["SequenceNumber"],
            "approximateArrivalOfFirstRecord": at(batch[0]),
            "approximateArrivalOfLastRecord": at(batch[-1]),
            "batchSize": len(batch),
            "streamArn": source.stream_arn,
        },
    }


def split_to_fit(batch: list[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    """``batch`` in order, cut so that each part's event stays under Lambda's 6 MB."""
    parts: list[list[dict[str, Any]]] = [[]]
    size = 0
    for record in batch:
        cost = 4 * (len(record["Data"]) + 2) // 3 + 600  # base64 data and the envelope
        if parts[-1] and size + cost > _MAX_EVENT_BYTES:
            parts.append([])
            size = 0
        parts[-1].append(record)
        size += cost
    return parts


class StreamPollers:
    """One reader per enabled Kinesis event source of the running application."""

    def __init__(self, endpoint: str, invoke: Invoke, now: Callable[[], float] = time.time):
        self.endpoint = endpoint  # the services engine, through its relay
        self.invoke = invoke
        self.now = now  # wall time: records carry the engine's wall-clock arrival times
        self._tasks = SourceTasks[StreamEventSource](self._read)
        # sources to read from their stream's start (the engine started again, empty)
        self._fresh: set[tuple[str, str]] = set()
        # (function, event, stream, shard) → the last sequence number done with
        self._checkpoints: dict[tuple[str, str, str, str], str] = {}
        self._pool = ThreadPoolExecutor(max_workers=8, thread_name_prefix="canaria-kinesis")
        self._clients: dict[str, Any] = {}

    def apply(self, sources: Iterable[object]) -> None:
        """Read exactly the Kinesis ``sources`` among ``sources`` (the enabled ones); a
        changed source starts again."""
        self._tasks.keep(
            {
                (s.function, s.event): s
                for s in sources
                if isinstance(s, StreamEventSource) and s.enabled
            }
        )

    def restarted(self) -> None:
        """The engine started again, empty: read every stream again from its start,
        whatever its starting position."""
        sources = self._tasks.sources()
        self._fresh |= set(sources)
        self._checkpoints.clear()  # the new streams' sequence numbers start again
        self._tasks.keep(sources, again=True)

    async def stop(self) -> None:
        await self._tasks.stop()
        self._pool.shutdown(wait=False, cancel_futures=True)

    # ---- the engine, from the pool's threads ------------------------------------------

    def _client(self, service: str) -> Any:
        client = self._clients.get(service)
        if client is None:
            import boto3
            from botocore.config import Config

            client = self._clients[service] = boto3.session.Session().client(
                service,
                endpoint_url=self.endpoint,
                region_name=REGION,
                aws_access_key_id="canaria",
                aws_secret_access_key="canaria",
                config=Config(retries={"max_attempts": 1}, read_timeout=10),
            )
        return client

    async def _run(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._pool, lambda: fn(*args, **kwargs))

    # ---- reading ------------------------------------------------------------------------

    async def _read(self, source: StreamEventSource) -> None:
        """Keep one task per shard; a child shard waits for its parents to end."""
        started_at = self.now()  # LATEST: what is put from now on (before any wait)
        key = (source.function, source.event)
        fresh = key in self._fresh
        self._fresh.discard(key)
        kinesis = await self._run(self._client, "kinesis")
        shards: dict[str, asyncio.Task[None]] = {}
        ended: dict[str, asyncio.Event] = {}
        try:
            while True:
                try:
                    listed = await self._run(_list_shards, kinesis, source.stream_name)
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
                        self._shard(source, kinesis, sid, initial, started_at, parents, ended[sid])
                    )
                await asyncio.sleep(_SHARDS_S)
        finally:
            for task in shards.values():
                task.cancel()
            await asyncio.gather(*shards.values(), return_exceptions=True)

    async def _shard(
        self,
        source: StreamEventSource,
        kinesis: Any,
        shard_id: str,
        initial: StartingPosition,
        started_at: float,
        parents: list[asyncio.Event],
        ended: asyncio.Event,
    ) -> None:
        for parent in parents:
            await parent.wait()
        # the last sequence number done with, kept across a restart of the source (a
        # changed BatchSize, say) so that its records are neither read again nor skipped
        at = (source.function, source.event, source.stream_name, shard_id)
        checkpoint = self._checkpoints.get(at)
        iterator: str | None = None
        while True:
            try:
                if iterator is None:
                    iterator = await self._run(
                        _iterator, kinesis, source, shard_id, initial, started_at, checkpoint
                    )
                batch, iterator, last = await self._gather(kinesis, source, iterator)
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
                checkpoint = self._checkpoints[at] = last
            if iterator is None:  # the shard is closed and read to its end
                ended.set()
                return
            if not batch:
                await asyncio.sleep(_IDLE_S)

    async def _gather(
        self, kinesis: Any, source: StreamEventSource, iterator: str
    ) -> tuple[list[dict[str, Any]], str | None, str | None]:
        """Up to ``batch_size`` records, waiting up to the batching window for more: those
        the filters let through, the next iterator, and the last sequence number read."""
        records, iterator = await self._run(_get_records, kinesis, iterator, source.batch_size)
        if source.max_batching_window_s == 0 or not records:
            return self._matching(records, source), iterator, _last(records)
        deadline = time.monotonic() + source.max_batching_window_s
        while iterator is not None and len(records) < source.batch_size:
            if time.monotonic() >= deadline:
                break
            more, iterator = await self._run(
                _get_records, kinesis, iterator, source.batch_size - len(records)
            )
            records += more
            if not more:
                await asyncio.sleep(min(_IDLE_S, max(0.0, deadline - time.monotonic())))
        return self._matching(records, source), iterator, _last(records)

    @staticmethod
    def _matching(records: list[dict[str, Any]], source: StreamEventSource) -> list[dict[str, Any]]:
        """The records the source's filters let through (the others are done with)."""
        if not source.filters:
            return records
        return [r for r in records if matches_any(source.filters, kinesis_filter_view(r))]

    async def _settle(
        self, source: StreamEventSource, shard_id: str, batch: list[dict[str, Any]]
    ) -> None:
        """Invoke until ``batch`` is done: it succeeds, or it is discarded (retries or
        age run out). Bisecting tries each half the same way."""
        attempts = 0
        while True:
            outcome = await self._invoke(source, shard_id, batch)
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

    async def _invoke(
        self, source: StreamEventSource, shard_id: str, batch: list[dict[str, Any]]
    ) -> Outcome:
        event = orjson.dumps({"Records": [kinesis_record(r, shard_id, source) for r in batch]})
        try:
            result = await self.invoke(source.function, event)
        except CanariaError as exc:  # throttled, or no such version: tried again
            log.warning("%s from %s: %s", source.function, source.stream_name, exc.message)
            return Outcome(0, None)
        return outcome_of(result, batch, source)

    def _oldest_age(self, batch: Sequence[dict[str, Any]]) -> float:
        arrival = batch[0].get("ApproximateArrivalTimestamp")
        return self.now() - arrival.timestamp() if arrival else 0.0

    async def _discard(
        self,
        source: StreamEventSource,
        shard_id: str,
        batch: list[dict[str, Any]],
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


def _last(records: list[dict[str, Any]]) -> str | None:
    return str(records[-1]["SequenceNumber"]) if records else None


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
    "Outcome",
    "StreamPollers",
    "failure_record",
    "kinesis_record",
    "outcome_of",
    "split_to_fit",
]
