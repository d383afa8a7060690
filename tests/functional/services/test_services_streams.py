"""Kinesis event sources against the real services engine on loopback: records put with
boto3 reach an invocation in shard order, a failing batch holds its shard until it
succeeds or is discarded (to the OnFailure queue, as Lambda describes it), bisection and
reported item failures retry only what failed, and filters drop what matches nothing."""

from __future__ import annotations

import asyncio
import base64
import json
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field, replace
from typing import Any

import boto3
import orjson
import pytest
from botocore.config import Config

from canaria.models import (
    InvokeResult,
    QueueSpec,
    StartingPosition,
    StreamEventSource,
    StreamSpec,
)
from canaria.services import ServicesEngine
from canaria.services.provision import provision
from canaria.services.streams import StreamPollers

ARN = "arn:aws:kinesis:us-east-1:123456789012:stream"
FAILED = "arn:aws:sqs:us-east-1:123456789012:failed"

Answer = Callable[[list[str]], InvokeResult]  # the batch's data → what the function answers


def ok(_: list[str]) -> InvokeResult:
    return InvokeResult(b"null", 1, "req", 1.0)


def crash(_: list[str]) -> InvokeResult:
    return InvokeResult(b'{"errorMessage": "boom"}', 1, "req", 1.0, function_error="Unhandled")


@dataclass
class Function:
    """Stands in for a deployed function: what it was invoked with, and its answers."""

    answer: Answer = ok
    batches: list[list[str]] = field(default_factory=list)
    records: list[dict[str, Any]] = field(default_factory=list)

    async def invoke(self, function: str, event: bytes) -> InvokeResult:
        records = orjson.loads(event)["Records"]
        self.records += records
        data = [base64.b64decode(r["kinesis"]["data"]).decode() for r in records]
        self.batches.append(data)
        return self.answer(data)

    def seen(self) -> list[str]:
        return [d for b in self.batches for d in b]


@dataclass
class World:
    engine: ServicesEngine

    def client(self, service: str) -> Any:
        return boto3.client(
            service,
            endpoint_url=self.engine.endpoint,
            region_name="us-east-1",
            aws_access_key_id="test",
            aws_secret_access_key="test",
            config=Config(retries={"max_attempts": 1}),
        )

    async def put(self, stream: str, *items: str, key: str = "k") -> None:
        kinesis = self.client("kinesis")
        for item in items:
            await asyncio.to_thread(
                kinesis.put_record, StreamName=stream, Data=item.encode(), PartitionKey=key
            )

    async def failed_messages(self) -> list[dict[str, Any]]:
        sqs = self.client("sqs")
        url = (await asyncio.to_thread(sqs.get_queue_url, QueueName="failed"))["QueueUrl"]
        got = await asyncio.to_thread(
            sqs.receive_message, QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1
        )
        return [json.loads(m["Body"]) for m in got.get("Messages", [])]


@pytest.fixture
async def world() -> AsyncIterator[World]:
    engine = ServicesEngine()
    await engine.listen()
    await engine.ensure_running()
    await provision(
        engine.engine_endpoint,
        {
            "One": StreamSpec("One", "one", 1),
            "Two": StreamSpec("Two", "two", 2),
            "Failed": QueueSpec("Failed", "failed"),
        },
    )
    yield World(engine)
    await engine.stop()


def source(stream: str, **kwargs: Any) -> StreamEventSource:
    position = kwargs.pop("position", StartingPosition.TRIM_HORIZON)
    return StreamEventSource("Fn", "Read", stream, f"{ARN}/{stream}", position, **kwargs)


async def until(done: Callable[[], bool], timeout_s: float = 30.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not done() and time.monotonic() < deadline:
        await asyncio.sleep(0.05)


async def reading(world: World, fn: Function, *sources: StreamEventSource) -> StreamPollers:
    pollers = StreamPollers(world.engine.endpoint, fn.invoke)
    pollers.apply(sources)
    return pollers


async def test_every_shard_is_read_in_order_in_batches(world: World) -> None:
    fn = Function()
    await world.put("two", *[f"a{i}" for i in range(5)], key="alpha")
    await world.put("two", *[f"b{i}" for i in range(5)], key="bravo")
    pollers = await reading(world, fn, source("two", batch_size=3))
    try:
        await until(lambda: len(fn.seen()) == 10)
        seen = fn.seen()
        assert sorted(seen) == sorted([f"a{i}" for i in range(5)] + [f"b{i}" for i in range(5)])
        for key in "ab":  # each partition key's records in the order they were put
            assert [d for d in seen if d[0] == key] == [f"{key}{i}" for i in range(5)]
        assert max(len(b) for b in fn.batches) <= 3
        shards = {r["eventID"].split(":")[0] for r in fn.records}
        assert all(r["eventSourceARN"] == f"{ARN}/two" for r in fn.records)
        assert len(shards) >= 1 and all(s.startswith("shardId-") for s in shards)
    finally:
        await pollers.stop()


async def test_latest_reads_only_what_is_put_after_the_source_starts(world: World) -> None:
    fn = Function()
    await world.put("one", "before")
    await asyncio.sleep(1.1)  # well clear of the start: LATEST is "put after it started"
    pollers = await reading(world, fn, source("one", position=StartingPosition.LATEST))
    try:
        await asyncio.sleep(1.1)
        await world.put("one", "after")
        await until(lambda: fn.seen() == ["after"])
        await asyncio.sleep(0.5)
        assert fn.seen() == ["after"]
    finally:
        await pollers.stop()


async def test_a_failing_batch_holds_its_shard_then_goes_to_the_on_failure_queue(
    world: World,
) -> None:
    def poison(data: list[str]) -> InvokeResult:
        return crash(data) if "poison" in data else ok(data)

    fn = Function(poison)
    await world.put("one", "poison")
    await world.put("one", "next")
    pollers = await reading(
        world, fn, source("one", batch_size=1, max_retry_attempts=2, on_failure=FAILED)
    )
    try:
        await until(lambda: "next" in fn.seen())
        # tried three times (the first and two retries) before anything behind it
        assert fn.seen() == ["poison", "poison", "poison", "next"]
        (message,) = await world.failed_messages()
        assert message["requestContext"]["condition"] == "RetryAttemptsExhausted"
        assert message["requestContext"]["approximateInvokeCount"] == 3
        assert message["responseContext"]["functionError"] == "Unhandled"
        info = message["KinesisBatchInfo"]
        assert info["batchSize"] == 1 and info["streamArn"] == f"{ARN}/one"
        assert info["startSequenceNumber"] == fn.records[0]["kinesis"]["sequenceNumber"]
    finally:
        await pollers.stop()


async def test_bisection_isolates_the_bad_record(world: World) -> None:
    def poison(data: list[str]) -> InvokeResult:
        return crash(data) if "poison" in data else ok(data)

    fn = Function(poison)
    await world.put("one", "a", "b", "poison", "c")
    await asyncio.sleep(0.3)
    pollers = await reading(
        world,
        fn,
        source(
            "one",
            batch_size=4,
            max_batching_window_s=1,
            bisect_on_error=True,
            max_retry_attempts=0,
            on_failure=FAILED,
        ),
    )
    try:
        await until(lambda: fn.batches[-1:] == [["c"]])
        assert fn.batches == [
            ["a", "b", "poison", "c"],
            ["a", "b"],
            ["poison", "c"],
            ["poison"],
            ["c"],
        ]
        (message,) = await world.failed_messages()
        assert message["KinesisBatchInfo"]["batchSize"] == 1
    finally:
        await pollers.stop()


async def test_reported_item_failures_retry_from_the_lowest_one(world: World) -> None:
    tries: dict[str, int] = {}

    def partial(data: list[str]) -> InvokeResult:
        for d in data:
            tries[d] = tries.get(d, 0) + 1
        if "b" in data and tries["b"] == 1:  # b fails once, c is fine
            seq = fn.records[-len(data) + data.index("b")]["kinesis"]["sequenceNumber"]
            return InvokeResult(
                orjson.dumps({"batchItemFailures": [{"itemIdentifier": seq}]}), 1, "r", 1.0
            )
        return ok(data)

    fn = Function(partial)
    await world.put("one", "a", "b", "c")
    await asyncio.sleep(0.3)
    pollers = await reading(
        world,
        fn,
        source("one", batch_size=3, max_batching_window_s=1, report_batch_item_failures=True),
    )
    try:
        await until(lambda: len(fn.batches) >= 2)
        assert fn.batches == [["a", "b", "c"], ["b", "c"]]
    finally:
        await pollers.stop()


async def test_filters_drop_what_matches_nothing(world: World) -> None:
    fn = Function()
    pattern = json.dumps({"data": {"kind": ["click"]}})
    await world.put("one", '{"kind": "view"}', '{"kind": "click", "n": 1}', "not json")
    pollers = await reading(world, fn, source("one", filters=(pattern,)))
    try:
        await until(lambda: len(fn.seen()) == 1)
        await asyncio.sleep(0.5)
        assert fn.seen() == ['{"kind": "click", "n": 1}']
    finally:
        await pollers.stop()


async def test_a_disabled_or_dropped_source_is_not_read(world: World) -> None:
    fn = Function()
    enabled = source("one")
    pollers = await reading(world, fn, replace(enabled, enabled=False))
    try:
        await world.put("one", "x")
        await asyncio.sleep(0.8)
        assert fn.seen() == []
        pollers.apply([enabled])
        await until(lambda: fn.seen() == ["x"])
        pollers.apply([])
        await world.put("one", "y")
        await asyncio.sleep(0.8)
        assert fn.seen() == ["x"]
    finally:
        await pollers.stop()


async def test_after_the_engine_starts_again_the_new_stream_is_read_from_its_start(
    world: World,
) -> None:
    fn = Function()
    pollers = await reading(world, fn, source("one", position=StartingPosition.LATEST))
    try:
        await asyncio.sleep(1.1)
        await world.put("one", "before")
        await until(lambda: fn.seen() == ["before"])
        # what an engine restart leaves: the stream created again, empty, its sequence
        # numbers from the start; the platform then tells the readers
        kinesis = world.client("kinesis")
        await asyncio.to_thread(kinesis.delete_stream, StreamName="one")
        await provision(world.engine.engine_endpoint, {"One": StreamSpec("One", "one", 1)})
        pollers.restarted()
        await world.put("one", "after")
        await until(lambda: fn.seen() == ["before", "after"])
        assert fn.seen() == ["before", "after"]
    finally:
        await pollers.stop()


async def test_a_changed_source_goes_on_from_where_it_was(world: World) -> None:
    fn = Function()
    first = source("one", batch_size=1)
    await world.put("one", "a", "b")
    pollers = await reading(world, fn, first)
    try:
        await until(lambda: fn.seen() == ["a", "b"])
        # a redeploy that changes the event's settings: the source starts again, from
        # its checkpoint (TRIM_HORIZON would read a and b again)
        pollers.apply([replace(first, batch_size=5)])
        await world.put("one", "c")
        await until(lambda: len(fn.seen()) >= 3)
        await asyncio.sleep(0.5)
        assert fn.seen() == ["a", "b", "c"]
    finally:
        await pollers.stop()
