"""What canaria's DynamoDB front costs a function's DynamoDB calls, and how long a change
takes from the write to the stream's consumer.

    .venv/bin/python bench/table_streams.py [--calls 500] [--probes 50] [--runs 3]

One dynalite, two tables (one with a stream), in the same run:

- **calls**: a client in another process (boto3, as a function's) makes ``--calls``
  sequential calls of each kind, against dynalite directly (the reference: what
  functions were given before the front) and through the front; the median and p99 per
  call, and the front's CPU per call (this process's CPU time over the calls). A
  ``PutItem`` to the streamed table is the front's most expensive path: the item is
  read before and after the write and the change recorded.
- **delivery**: ``--probes`` items put one at a time through the front, each once the
  previous one reached the consumer (``StreamPollers`` reading the table's stream,
  the function an in-process callable that answers at once); the median and p90 of
  put → invocation.

Prints a Markdown table of the medians over ``--runs``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from typing import Any

import boto3
import orjson
from botocore.config import Config

from canaria.models import InvokeResult, StartingPosition, StreamEventSource, TableSpec
from canaria.services.streams import StreamPollers
from canaria.tables import DynamoEngine, table_stream_arn

CLIENT = textwrap.dedent(
    """
    import json, sys, time
    import boto3
    from botocore.config import Config
    endpoint, table, kind, calls = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
    db = boto3.client("dynamodb", endpoint_url=endpoint, region_name="us-east-1",
                      aws_access_key_id="k", aws_secret_access_key="s",
                      config=Config(retries={"max_attempts": 1}))
    def call(i):
        if kind == "GetItem":
            db.get_item(TableName=table, Key={"id": {"S": "probe"}})
        else:
            db.put_item(TableName=table, Item={"id": {"S": "p%d" % (i % 50)}, "n": {"N": str(i)}})
    for i in range(20):
        call(i)
    print("ready", flush=True)
    sys.stdin.readline()
    times = []
    for i in range(calls):
        t = time.perf_counter()
        call(i)
        times.append(time.perf_counter() - t)
    print(json.dumps(times), flush=True)
    """
)


def table(name: str, streamed: bool) -> TableSpec:
    body: dict[str, Any] = {
        "TableName": name,
        "AttributeDefinitions": [{"AttributeName": "id", "AttributeType": "S"}],
        "KeySchema": [{"AttributeName": "id", "KeyType": "HASH"}],
        "BillingMode": "PAY_PER_REQUEST",
    }
    if streamed:
        body["StreamSpecification"] = {"StreamEnabled": True, "StreamViewType": "NEW_IMAGE"}
    return TableSpec(name, name, body)


async def timed_calls(
    endpoint: str, table_name: str, kind: str, calls: int
) -> tuple[list[float], float]:
    """Per-call seconds from a client process, and this process's CPU seconds meanwhile."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        CLIENT,
        endpoint,
        table_name,
        kind,
        str(calls),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
    )
    assert proc.stdin is not None and proc.stdout is not None
    await proc.stdout.readline()  # warmed up
    cpu = time.process_time()
    proc.stdin.write(b"go\n")
    await proc.stdin.drain()
    line = await proc.stdout.readline()
    cpu = time.process_time() - cpu
    await proc.wait()
    return json.loads(line), cpu


class Sink:
    def __init__(self) -> None:
        self.arrived: dict[str, float] = {}
        self.changed = asyncio.Event()

    async def invoke(self, function: str, event: bytes) -> InvokeResult:
        now = time.perf_counter()
        for record in orjson.loads(event)["Records"]:
            self.arrived[record["dynamodb"]["Keys"]["id"]["S"]] = now
        self.changed.set()
        return InvokeResult(b"null", 1, "req", 0.1)


async def delivery(engine: DynamoEngine, probes: int) -> list[float]:
    sink = Sink()
    pollers = StreamPollers("http://127.0.0.1:9", sink.invoke, engine.streams)
    pollers.apply(
        [
            StreamEventSource(
                "Fn",
                "Changes",
                "streamed",
                table_stream_arn("streamed"),
                StartingPosition.LATEST,
                kind="dynamodb",
            )
        ]
    )
    await asyncio.sleep(0.5)
    db = boto3.client(
        "dynamodb",
        endpoint_url=engine.endpoint,
        region_name="us-east-1",
        aws_access_key_id="k",
        aws_secret_access_key="s",
        config=Config(retries={"max_attempts": 1}),
    )
    latencies = []
    try:
        for i in range(probes):
            key = f"probe-{time.time_ns()}-{i}"
            sink.changed.clear()
            put_at = time.perf_counter()
            await asyncio.to_thread(db.put_item, TableName="streamed", Item={"id": {"S": key}})
            while key not in sink.arrived:
                await asyncio.wait_for(sink.changed.wait(), 10)
                sink.changed.clear()
            latencies.append(sink.arrived[key] - put_at)
    finally:
        await pollers.stop()
    return latencies


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def one_run(calls: int, probes: int) -> dict[str, float]:
    state = tempfile.mkdtemp(prefix="canaria-bench-tables-")
    engine = DynamoEngine(state, "k", "s")
    await engine.listen()
    await engine.start()
    await engine.ensure_tables(
        {"plain": table("plain", False), "streamed": table("streamed", True)}
    )
    direct = f"http://127.0.0.1:{engine.engine_port}"
    out: dict[str, float] = {}
    try:
        for label, endpoint, name, kind in (
            ("GetItem, dynalite directly", direct, "plain", "GetItem"),
            ("GetItem, through the front", engine.endpoint, "plain", "GetItem"),
            ("PutItem, dynalite directly", direct, "plain", "PutItem"),
            ("PutItem, through the front", engine.endpoint, "plain", "PutItem"),
            (
                "PutItem to a streamed table, through the front",
                engine.endpoint,
                "streamed",
                "PutItem",
            ),
        ):
            times, cpu = await timed_calls(endpoint, name, kind, calls)
            out[f"{label}|p50"] = statistics.median(times) * 1000
            out[f"{label}|p99"] = pct(times, 0.99) * 1000
            out[f"{label}|cpu"] = cpu / calls * 1e6
        lat = await delivery(engine, probes)
        out["delivery|p50"] = statistics.median(lat) * 1000
        out["delivery|p90"] = pct(lat, 0.9) * 1000
    finally:
        await engine.stop()
    return out


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--calls", type=int, default=500)
    parser.add_argument("--probes", type=int, default=50)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    runs = [await one_run(args.calls, args.probes) for _ in range(args.runs)]
    med = {k: statistics.median(r[k] for r in runs) for k in runs[0]}
    print(f"medians of {args.runs} runs, {args.calls} calls each\n")
    print("| call | p50 ms | p99 ms | front CPU µs/call |")
    print("|---|---:|---:|---:|")
    for key in med:
        label, stat = key.rsplit("|", 1)
        if stat == "p50" and label != "delivery":
            cpu = med[f"{label}|cpu"]
            shown = "" if "directly" in label else f"{cpu:.0f}"
            print(f"| {label} | {med[key]:.2f} | {med[label + '|p99']:.2f} | {shown} |")
    print(
        f"\nput → consumer invoked: p50 {med['delivery|p50']:.1f} ms, "
        f"p90 {med['delivery|p90']:.1f} ms ({args.probes} probes)"
    )


if __name__ == "__main__":
    import uvloop

    uvloop.install()
    asyncio.run(main())
