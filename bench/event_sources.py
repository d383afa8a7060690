"""How long a record takes from the producer's put to the function's invocation, and how
many records a second one source delivers: a Kinesis event source against an SQS one
(the reference) in the same run.

    .venv/bin/python bench/event_sources.py [--records 2000] [--probes 50] [--runs 3]

Both read from the real services engine (moto's server behind canaria's relay) on
loopback, with the readers `canaria up` runs (``StreamPollers``, ``QueuePollers``); the
function is an in-process callable that answers at once, so what is measured is the
readers and the engine, not a runtime. Per source and run:

- **latency**: ``--probes`` records put one at a time, each once the previous one was
  delivered; the median and p90 of put → invocation;
- **throughput**: ``--records`` records put up front (in batches of 500 for Kinesis, 10
  for SQS), then the source started; records delivered per second, batch size 100 for
  Kinesis and 10 for SQS (each service's maximum without a batching window).

Prints a Markdown table of the medians over ``--runs``.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import statistics
import time
from collections.abc import Awaitable, Callable
from typing import Any

import boto3
import orjson
from botocore.config import Config

from canaria.models import (
    InvokeResult,
    QueueEventSource,
    QueueSpec,
    StartingPosition,
    StreamEventSource,
    StreamSpec,
)
from canaria.services import ServicesEngine
from canaria.services.pollers import QueuePollers
from canaria.services.provision import provision
from canaria.services.streams import StreamPollers

ARN = "arn:aws:kinesis:us-east-1:123456789012:stream"
QUEUE_ARN = "arn:aws:sqs:us-east-1:123456789012"


class Sink:
    """The function: notes when each record (by its payload) arrived."""

    def __init__(self) -> None:
        self.arrived: dict[str, float] = {}
        self.changed = asyncio.Event()

    async def invoke(self, function: str, event: bytes) -> InvokeResult:
        now = time.perf_counter()
        for r in orjson.loads(event)["Records"]:
            data = base64.b64decode(r["kinesis"]["data"]).decode() if "kinesis" in r else r["body"]
            self.arrived.setdefault(data, now)
        self.changed.set()
        return InvokeResult(b"null", 1, "req", 0.1)

    async def wait_for(self, count: int, timeout_s: float = 120.0) -> None:
        deadline = time.monotonic() + timeout_s
        while len(self.arrived) < count:
            self.changed.clear()
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"{len(self.arrived)} of {count} records delivered")
            await asyncio.wait_for(self.changed.wait(), left)


def client(engine: ServicesEngine, service: str) -> Any:
    return boto3.client(
        service,
        endpoint_url=engine.endpoint,
        region_name="us-east-1",
        aws_access_key_id="bench",
        aws_secret_access_key="bench",
        config=Config(retries={"max_attempts": 1}),
    )


Put = Callable[[list[str]], Awaitable[None]]


async def measure(
    engine: ServicesEngine, kind: str, run: int, records: int, probes: int
) -> tuple[float, float, float]:
    """(latency p50 ms, latency p90 ms, records/s) for one source of ``kind``."""
    stream, queue = f"bench-{run}", f"bench-{run}"
    await provision(
        engine.engine_endpoint,
        {"S": StreamSpec("S", stream, 1), "Q": QueueSpec("Q", queue, {"VisibilityTimeout": "30"})},
    )
    kinesis, sqs = client(engine, "kinesis"), client(engine, "sqs")
    # every call from a thread: the relay runs on this event loop
    url = (await asyncio.to_thread(sqs.get_queue_url, QueueName=queue))["QueueUrl"]

    async def put(items: list[str]) -> None:
        if kind == "kinesis":
            for i in range(0, len(items), 500):
                chunk = [{"Data": d.encode(), "PartitionKey": "k"} for d in items[i : i + 500]]
                await asyncio.to_thread(kinesis.put_records, StreamName=stream, Records=chunk)
        else:
            for i in range(0, len(items), 10):
                entries = [
                    {"Id": str(n), "MessageBody": d} for n, d in enumerate(items[i : i + 10])
                ]
                await asyncio.to_thread(sqs.send_message_batch, QueueUrl=url, Entries=entries)

    def start(sink: Sink, position: StartingPosition) -> StreamPollers | QueuePollers:
        if kind == "kinesis":
            readers: StreamPollers | QueuePollers = StreamPollers(engine.endpoint, sink.invoke)
            source: object = StreamEventSource(
                "Fn", "Read", stream, f"{ARN}/{stream}", position, batch_size=100
            )
        else:
            readers = QueuePollers(engine.endpoint, sink.invoke)
            source = QueueEventSource("Fn", "Read", queue, f"{QUEUE_ARN}:{queue}", batch_size=10)
        readers.apply([source])
        return readers

    # throughput: a backlog, then the source
    sink = Sink()
    backlog = [f"b{i}" for i in range(records)]
    await put(backlog)
    began = time.perf_counter()
    readers = start(sink, StartingPosition.TRIM_HORIZON)
    await sink.wait_for(records)
    rate = records / (max(sink.arrived.values()) - began)
    # latency: one record at a time, the source running
    waits: list[float] = []
    for i in range(probes):
        sent = time.perf_counter()
        await put([f"p{i}"])
        await sink.wait_for(records + i + 1)
        waits.append((sink.arrived[f"p{i}"] - sent) * 1000)
    await readers.stop()
    qs = statistics.quantiles(waits, n=10)
    return statistics.median(waits), qs[8], rate


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--records", type=int, default=2000)
    parser.add_argument("--probes", type=int, default=50)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    engine = ServicesEngine()
    await engine.listen()
    await engine.ensure_running()
    results: dict[str, list[tuple[float, float, float]]] = {"sqs": [], "kinesis": []}
    try:
        for run in range(args.runs):
            for kind in ("sqs", "kinesis"):  # alternately, so both meet the same noise
                results[kind].append(await measure(engine, kind, run, args.records, args.probes))
    finally:
        await engine.stop()
    print(f"{args.runs} runs, {args.records} records backlog, {args.probes} probes each\n")
    print("| source | put → invocation p50 ms | p90 ms | records/s | records/s ÷ SQS |")
    print("|---|---:|---:|---:|---:|")
    sqs_rate = statistics.median(r[2] for r in results["sqs"])
    for kind, label in (("sqs", "SQS (reference), batch 10"), ("kinesis", "Kinesis, batch 100")):
        rows = results[kind]
        p50, p90, rate = (statistics.median(r[i] for r in rows) for i in range(3))
        print(f"| {label} | {p50:.1f} | {p90:.1f} | {rate:,.0f} | {rate / sqs_rate:.2f} |")


if __name__ == "__main__":
    asyncio.run(main())
