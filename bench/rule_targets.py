"""What canaria's own delivery of a rule's targets costs: an event put on the bus, until it
is in the target queue, for a queue the engine (moto) delivers to itself (the reference,
a target added on the engine directly, as canaria no longer does) against a queue, a queue
that gets a transformed event and a topic, which canaria carries on through a queue of its
own (one more queue, read by the pollers ``canaria up`` runs).

    .venv/bin/python bench/rule_targets.py [--probes 50] [--runs 3]

One template (a rule with the three targets, the topic subscribed by a queue), loaded with
``canaria.template.load``, provisioned on the real services engine (moto's server behind
canaria's relay) on loopback, its event sources read by ``QueuePollers``. Per run,
``--probes`` events are put one at a time, each once the previous one reached all three
queues; put → arrival is the time from ``PutEvents`` returning to a reader of the target
queue receiving the message. Prints a Markdown table of the medians over ``--runs``.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import boto3
import orjson
from botocore.config import Config

from canaria.models import InvokeResult
from canaria.services import ServicesEngine
from canaria.services.pollers import QueuePollers
from canaria.services.provision import provision
from canaria.template import load

TEMPLATE = """\
Transform: AWS::Serverless-2016-10-31
Resources:
  Direct:
    Type: AWS::SQS::Queue
  Plain:
    Type: AWS::SQS::Queue
  Shaped:
    Type: AWS::SQS::Queue
  Alerts:
    Type: AWS::SNS::Topic
  Inbox:
    Type: AWS::SQS::Queue
  InboxSubscription:
    Type: AWS::SNS::Subscription
    Properties: {TopicArn: !Ref Alerts, Protocol: sqs, Endpoint: !GetAtt Inbox.Arn,
                 RawMessageDelivery: true}
  Rule:
    Type: AWS::Events::Rule
    Properties:
      EventPattern: {source: [bench]}
      Targets:
        - {Id: plain, Arn: !GetAtt Plain.Arn}
        - Id: shaped
          Arn: !GetAtt Shaped.Arn
          InputTransformer:
            InputPathsMap: {probe: $.detail.probe}
            InputTemplate: '{"probe": <probe>}'
        - Id: topic
          Arn: !Ref Alerts
          InputTransformer:
            InputPathsMap: {probe: $.detail.probe}
            InputTemplate: '{"probe": <probe>}'
"""
TARGETS = {
    "direct": "bench-Direct",
    "plain": "bench-Plain",
    "shaped": "bench-Shaped",
    "topic": "bench-Inbox",
}


def client(engine: ServicesEngine, service: str) -> Any:
    return boto3.client(
        service,
        endpoint_url=engine.endpoint,
        region_name="us-east-1",
        aws_access_key_id="bench",
        aws_secret_access_key="bench",
        config=Config(retries={"max_attempts": 1}, read_timeout=30),
    )


async def _unused(function: str, event: bytes) -> InvokeResult:
    raise AssertionError(f"{function} is not invoked here")


def _wait_for(sqs: Any, url: str, probe: str) -> float:
    """Receive from ``url`` until ``probe`` arrives; when it did."""
    while True:
        got = sqs.receive_message(QueueUrl=url, WaitTimeSeconds=5, MaxNumberOfMessages=10)
        for m in got.get("Messages", []):
            sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
            body = orjson.loads(m["Body"])
            if body.get("probe", body.get("detail", {}).get("probe")) == probe:
                return time.perf_counter()


async def measure(engine: ServicesEngine, probes: int) -> dict[str, list[float]]:
    events, sqs = client(engine, "events"), client(engine, "sqs")
    # every call from a thread: the engine's relay runs on this event loop
    urls = {
        k: (await asyncio.to_thread(sqs.get_queue_url, QueueName=q))["QueueUrl"]
        for k, q in TARGETS.items()
    }
    waits: dict[str, list[float]] = {k: [] for k in TARGETS}
    for i in range(probes):
        probe = f"p{i}-{time.monotonic_ns()}"
        entry = {"Source": "bench", "DetailType": "probe", "Detail": f'{{"probe": "{probe}"}}'}
        await asyncio.to_thread(events.put_events, Entries=[entry])
        sent = time.perf_counter()
        arrived = await asyncio.gather(
            *(asyncio.to_thread(_wait_for, sqs, urls[k], probe) for k in TARGETS)
        )
        for k, at in zip(TARGETS, arrived, strict=True):
            waits[k].append((at - sent) * 1000)
    return waits


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--probes", type=int, default=50)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "bench"
        folder.mkdir()
        (folder / "template.yaml").write_text(TEMPLATE)
        app = load(str(folder / "template.yaml"))
    engine = ServicesEngine()
    await engine.listen()
    await engine.ensure_running()
    medians: dict[str, list[float]] = {k: [] for k in TARGETS}
    p90s: dict[str, list[float]] = {k: [] for k in TARGETS}
    try:
        await provision(engine.engine_endpoint, app.services)
        # the reference: the engine's own delivery, a target it is given directly
        events = client(engine, "events")
        direct = "arn:aws:sqs:us-east-1:123456789012:bench-Direct"
        await asyncio.to_thread(
            events.put_targets, Rule="bench-Rule", Targets=[{"Id": "direct", "Arn": direct}]
        )
        pollers = QueuePollers(engine.endpoint, _unused)
        pollers.apply(app.event_sources)
        for _ in range(args.runs):
            waits = await measure(engine, args.probes)
            for k, w in waits.items():
                medians[k].append(statistics.median(w))
                p90s[k].append(statistics.quantiles(w, n=10)[8])
        await pollers.stop()
    finally:
        await engine.stop()
    reference = statistics.median(medians["direct"])
    print(f"{args.runs} runs of {args.probes} events each\n")
    print("| target | put → arrival p50 ms | p90 ms | p50 ÷ reference |")
    print("|---|---:|---:|---:|")
    labels = {
        "direct": "queue, delivered by the engine (reference)",
        "plain": "queue, carried on by canaria",
        "shaped": "queue with an InputTransformer, carried on by canaria",
        "topic": "SNS topic with an InputTransformer → subscribed queue",
    }
    for k, label in labels.items():
        p50, p90 = statistics.median(medians[k]), statistics.median(p90s[k])
        print(f"| {label} | {p50:.1f} | {p90:.1f} | {p50 / reference:.2f} |")


if __name__ == "__main__":
    asyncio.run(main())
