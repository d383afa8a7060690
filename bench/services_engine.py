"""The services engine (moto's server behind canaria's relay): start time, memory, and
what the relay costs per request.

    .venv/bin/python bench/services_engine.py [--runs 5] [--calls 300]

Per run: a fresh ``ServicesEngine`` is started (spawn → listening) and, as the reference
in the same run, a fresh ``DynamoEngine`` (dynalite, what canaria already supervises).
Memory is the child's VmRSS when idle, and after one call to each of the six services
(moto imports a service's backend on first use). Then ``--calls`` sequential SQS
SendMessage and S3 PutObject (1 KB) calls, alternately straight to moto and through the
relay functions are given, from a separate client process (as a function's SDK calls
from its worker: the relay runs in canaria's event loop, not beside the client's GIL);
the table shows medians over runs of per-run medians.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config

from canaria.services import ServicesEngine
from canaria.tables import DynamoEngine


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def client(service: str, endpoint: str) -> Any:
    return boto3.client(
        service,
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id="bench",
        aws_secret_access_key="bench",
        config=Config(retries={"max_attempts": 1}),
    )


def touch_all(endpoint: str) -> None:
    client("s3", endpoint).create_bucket(Bucket="bench-bucket")
    client("sqs", endpoint).create_queue(QueueName="bench")
    client("sns", endpoint).create_topic(Name="bench")
    client("ssm", endpoint).put_parameter(Name="/bench", Value="v", Type="String")
    client("secretsmanager", endpoint).create_secret(Name="bench", SecretString="s")
    client("events", endpoint).create_event_bus(Name="bench")


def per_call_us(endpoint: str, calls: int) -> tuple[float, float]:
    sqs, s3 = client("sqs", endpoint), client("s3", endpoint)
    url = sqs.get_queue_url(QueueName="bench")["QueueUrl"]
    body = b"x" * 1024
    for _ in range(20):  # warm-up: connections, botocore's caches
        sqs.send_message(QueueUrl=url, MessageBody="warm")
        s3.put_object(Bucket="bench-bucket", Key="k", Body=body)
    sends, puts = [], []
    for _ in range(calls):
        t = time.perf_counter()
        sqs.send_message(QueueUrl=url, MessageBody="m")
        sends.append((time.perf_counter() - t) * 1e6)
        t = time.perf_counter()
        s3.put_object(Bucket="bench-bucket", Key="k", Body=body)
        puts.append((time.perf_counter() - t) * 1e6)
    return statistics.median(sends), statistics.median(puts)


async def client_process(endpoint: str, calls: int) -> tuple[float, float]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        __file__,
        "--client",
        endpoint,
        "--calls",
        str(calls),
        stdout=asyncio.subprocess.PIPE,
    )
    out, _ = await proc.communicate()
    send, put = json.loads(out)
    return float(send), float(put)


async def one_run(calls: int) -> dict[str, float]:
    out: dict[str, float] = {}
    engine = ServicesEngine()
    with tempfile.TemporaryDirectory() as state:
        dynamo = DynamoEngine(state, "bench", "bench")
        try:
            await engine.listen()
            t = time.perf_counter()
            await engine.ensure_running()
            out["moto_start_s"] = time.perf_counter() - t
            assert engine._proc is not None
            out["moto_idle_mb"] = rss_mb(engine._proc.pid)
            t = time.perf_counter()
            await dynamo.start()
            out["dynalite_start_s"] = time.perf_counter() - t
            assert dynamo._proc is not None
            out["dynalite_idle_mb"] = rss_mb(dynamo._proc.pid)
            await asyncio.to_thread(touch_all, engine.engine_endpoint)
            out["moto_used_mb"] = rss_mb(engine._proc.pid)
            direct = await client_process(engine.engine_endpoint, calls)
            relayed = await client_process(engine.endpoint, calls)
            direct2 = await client_process(engine.engine_endpoint, calls)
            out["send_direct_us"] = statistics.mean([direct[0], direct2[0]])
            out["put_direct_us"] = statistics.mean([direct[1], direct2[1]])
            out["send_relay_us"], out["put_relay_us"] = relayed
        finally:
            await engine.stop()
            await dynamo.stop()
    return out


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--calls", type=int, default=300)
    parser.add_argument("--client", help=argparse.SUPPRESS)  # the client process
    args = parser.parse_args()
    if args.client:
        print(json.dumps(per_call_us(args.client, args.calls)))
        return
    runs = [await one_run(args.calls) for _ in range(args.runs)]

    def med(key: str) -> float:
        return statistics.median(r[key] for r in runs)

    print(f"runs: {args.runs}, calls per path per run: {args.calls}\n")
    print("| measure | services engine (moto) | dynalite (reference, same run) |")
    print("|---|---:|---:|")
    print(
        f"| start, spawn → listening | {med('moto_start_s'):.2f} s | "
        f"{med('dynalite_start_s'):.2f} s |"
    )
    print(f"| RSS idle | {med('moto_idle_mb'):.0f} MB | {med('dynalite_idle_mb'):.0f} MB |")
    print(f"| RSS after one call to each of the six services | {med('moto_used_mb'):.0f} MB | |")
    print()
    print("| call (sequential, boto3) | straight to moto | through the relay | relay's cost |")
    print("|---|---:|---:|---:|")
    for name, key in (("SQS SendMessage", "send"), ("S3 PutObject 1 KB", "put")):
        d, r = med(f"{key}_direct_us"), med(f"{key}_relay_us")
        print(f"| {name} | {d:,.0f} µs | {r:,.0f} µs | {r - d:+,.0f} µs ({r / d:.2f}×) |")


if __name__ == "__main__":
    asyncio.run(main())
