"""What a Firehose delivery stream costs against writing its objects yourself: batches put
with ``PutRecordBatch`` until they are objects in the bucket, through a stream with no
processor against ``PutObject`` calls of the same bytes (the reference), and through a
stream with a Lambda processor against ``Invoke`` of the same function followed by a
``PutObject`` of its answer (the reference), each in the same run as its reference.

    .venv/bin/python bench/firehose.py [--batches 200] [--records 100] [--size 200] [--runs 5]

One ``canaria up`` (a child process, real clock) serves a template of one bucket
``bench-landing``, one Python 3.11 function ``Identity`` (a Firehose processor answering
every record ``Ok`` with its data unchanged) and two delivery streams into the bucket
with ``IntervalInSeconds: 0`` and ``SizeInMBs: 1``: ``plain`` (prefix ``plain/``) and
``processed`` (the ``Lambda`` processor ``Identity``, prefix ``processed/``). With an
interval of 0 a ``PutRecordBatch`` is due at once; batches put while the stream's writer
is busy are written together (fewer, bigger objects, fewer invocations of the
processor), as Firehose batches. The clients are boto3's, signed with the keys of the
state directory's token, on loopback; every call is made one at a time. Per run, each
phase sends ``--batches`` batches of ``--records`` records of ``--size`` bytes:

- ``plain``: ``PutRecordBatch`` to ``plain`` through the edge;
- ``PutObject`` (reference for ``plain``): the batch's records joined, written by the
  client to the services engine's S3 (the address ``canaria up`` prints after
  ``services``: the relay, which the streams write through too);
- ``processed``: ``PutRecordBatch`` to ``processed`` through the edge;
- ``Invoke`` + ``PutObject`` (reference for ``processed``): ``Invoke`` of ``Identity``
  through the edge with Firehose's event of the batch's records, then ``PutObject`` of
  the records it answers, joined: the same work written by hand.

A phase is timed from its first call until a ``ListObjectsV2`` of its prefix lists all
its bytes (for a reference, the listing after the last call; for a stream, the writes go
on after the last ``PutRecordBatch`` returned). A listing costs the services engine
about 0.2 ms a key, so the streams' prefixes are not polled in a tight loop, which would
slow the writes waited for: each next listing is timed from the rate seen so far (three
to five listings a phase). A stream runs in the same run as its reference, in
alternating order from run to run; each phase's objects are checked (every record sent,
once) and deleted after it, untimed. Before the runs, one batch goes through each path
(the function's cold start, canaria's clients made).

The table gives each phase's medians over ``--runs``: ms per batch (the phase's wall
time ÷ batches), records per second, the objects written, the ``canaria up`` process's
own CPU per batch (utime + stime from /proc before and after the phase: the edge, the
delivery streams, the relay; the machine is shared, and this moves less than the wall
time), the same for its whole process tree (the services engine, moto, and the
function's worker too; the listings are in it), and the stream's ms per batch ÷ its
reference's in the same run. Under it: what the ``PutRecordBatch`` calls alone took
(records taken, not yet written).
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import os
import signal
import statistics
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import boto3
import orjson
from botocore.config import Config
from up import Up, cpu_seconds, own_cpu_seconds, process_tree

from canaria.auth import access_key_id, secret_access_key

BUCKET = "bench-landing"
ARN = "arn:aws:firehose:us-east-1:123456789012:deliverystream"

TEMPLATE = f"""\
Transform: AWS::Serverless-2016-10-31
Resources:
  Landing:
    Type: AWS::S3::Bucket
    Properties: {{BucketName: {BUCKET}}}
  Identity:
    Type: AWS::Serverless::Function
    Properties: {{Runtime: python3.11, Handler: app.handler, CodeUri: src/, Timeout: 30}}
  Plain:
    Type: AWS::KinesisFirehose::DeliveryStream
    Properties:
      DeliveryStreamName: plain
      ExtendedS3DestinationConfiguration:
        BucketARN: !GetAtt Landing.Arn
        Prefix: plain/
        BufferingHints: {{IntervalInSeconds: 0, SizeInMBs: 1}}
  Processed:
    Type: AWS::KinesisFirehose::DeliveryStream
    Properties:
      DeliveryStreamName: processed
      ExtendedS3DestinationConfiguration:
        BucketARN: !GetAtt Landing.Arn
        Prefix: processed/
        BufferingHints: {{IntervalInSeconds: 0, SizeInMBs: 1}}
        ProcessingConfiguration:
          Enabled: true
          Processors:
            - Type: Lambda
              Parameters:
                - {{ParameterName: LambdaArn, ParameterValue: !GetAtt Identity.Arn}}
"""

APP = """\
def handler(event, context):
    return {"records": [{"recordId": r["recordId"], "result": "Ok", "data": r["data"]}
                        for r in event["records"]]}
"""

PHASES = ("plain", "put", "processed", "invoke")
LABELS = {
    "plain": "`plain` stream: PutRecordBatch → object",
    "put": "PutObject of the same bytes (reference for `plain`)",
    "processed": "`processed` stream: PutRecordBatch → Identity → object",
    "invoke": "Invoke Identity + PutObject (reference for `processed`)",
}
PREFIXES = {"plain": "plain/", "put": "direct/", "processed": "processed/", "invoke": "invoked/"}
REFERENCE = {"plain": "put", "processed": "invoke"}
Runs = list[dict[str, dict[str, float]]]  # per run, per phase: its figures


class Server:
    """``canaria up`` on the template, its output drained (kept for errors), its clients."""

    def __init__(self, root: Path) -> None:
        self.up = Up(root, {"template.yaml": TEMPLATE, "src/app.py": APP})
        self.pid = self.up.proc.pid
        self.output: list[str] = list(self.up.lines)
        # `up` goes on writing (warnings, its functions' lines): read it, or the pipe fills
        self._reader = threading.Thread(target=self._drain, daemon=True)
        self._reader.start()
        try:
            token = (root / ".canaria" / "token").read_text().strip()
            self.edge = self._address("control ")
            self.services = self._address("services ")
        except Exception:
            self.stop()
            raise
        self.keys = {
            "aws_access_key_id": access_key_id(token),
            "aws_secret_access_key": secret_access_key(token),
        }

    def _drain(self) -> None:
        assert self.up.proc.stdout is not None
        for line in self.up.proc.stdout:
            self.output.append(line)

    def _address(self, prefix: str) -> str:
        lines = self.up.starting(prefix)
        if not lines:
            raise RuntimeError(f"canaria up printed no {prefix.strip()} line")
        return lines[0].split()[1]

    def client(self, service: str, endpoint: str) -> Any:
        return boto3.client(
            service,
            endpoint_url=endpoint,
            region_name="us-east-1",
            config=Config(retries={"max_attempts": 1}, read_timeout=60),
            **self.keys,
        )

    def stop(self) -> None:
        """Stop ``up`` by its PID; any process of its tree still alive after, by its PID."""
        tree = process_tree(self.pid)
        try:
            self.up.stop()
        except Exception:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, signal.SIGKILL)
            self.up.proc.wait()
        for p in tree:
            if p != self.pid and Path(f"/proc/{p}").exists():
                print(f"note: process {p} outlived canaria up; killed", file=sys.stderr)
                with contextlib.suppress(ProcessLookupError):
                    os.kill(p, signal.SIGKILL)


def batch_records(batch: int, records: int, size: int) -> list[bytes]:
    """``records`` distinct records of ``size`` bytes."""
    return [f"{batch:07d}-{i:05d}-".encode().ljust(size, b"x") for i in range(records)]


def firehose_event(stream: str, records: list[bytes]) -> bytes:
    now = int(time.time() * 1000)
    return orjson.dumps(
        {
            "invocationId": str(uuid.uuid4()),
            "deliveryStreamArn": f"{ARN}/{stream}",
            "region": "us-east-1",
            "records": [
                {
                    "recordId": f"{i:056d}",
                    "approximateArrivalTimestamp": now,
                    "data": base64.b64encode(r).decode(),
                }
                for i, r in enumerate(records)
            ],
        }
    )


def listed(s3: Any, prefix: str) -> dict[str, int]:
    """The objects under ``prefix``: key → size."""
    out: dict[str, int] = {}
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=BUCKET, Prefix=prefix):
        out.update({o["Key"]: int(o["Size"]) for o in page.get("Contents", [])})
    return out


def keys_under(s3: Any, prefix: str) -> list[str]:
    return list(listed(s3, prefix))


def wait_listed(s3: Any, prefix: str, total: int, server: Server, timeout_s: float) -> list[str]:
    """List ``prefix`` until its objects hold ``total`` bytes; their keys. A listing costs
    the services engine about 0.2 ms a key, so it is not polled in a tight loop (that would
    slow the writes it waits for): each next listing is timed for 80 % of what the bytes
    listed so far say is left, at least 20 ms, at most 1 s later."""
    deadline = time.monotonic() + timeout_s
    first: tuple[float, int] | None = None
    while True:
        objects = listed(s3, prefix)
        held = sum(objects.values())
        now = time.perf_counter()
        if held >= total:
            return list(objects)
        if time.monotonic() > deadline:
            tail = "".join(server.output[-20:])
            raise TimeoutError(f"{held} of {total} bytes under {prefix}; up's last lines:\n"
                               f"{tail}")  # fmt: skip
        wait = 0.05
        if first is None:
            first = (now, held)
        elif held > first[1]:
            rate = (held - first[1]) / (now - first[0])
            wait = 0.8 * (total - held) / rate
        time.sleep(min(max(wait, 0.02), 1.0))


def delete_all(s3: Any, keys: list[str]) -> None:
    for i in range(0, len(keys), 1000):
        chunk = [{"Key": k} for k in keys[i : i + 1000]]
        s3.delete_objects(Bucket=BUCKET, Delete={"Objects": chunk, "Quiet": True})


class Clients:
    def __init__(self, server: Server) -> None:
        self.server = server
        self.firehose = server.client("firehose", server.edge)
        self.lam = server.client("lambda", server.edge)
        self.s3 = server.client("s3", server.services)


def send(clients: Clients, phase: str, batch: int, records: list[bytes]) -> None:
    """One batch through ``phase``'s path (for a stream: until its put returned)."""
    if phase in ("plain", "processed"):
        answer = clients.firehose.put_record_batch(
            DeliveryStreamName=phase, Records=[{"Data": r} for r in records]
        )
        if answer["FailedPutCount"]:
            raise RuntimeError(f"{phase}: {answer['FailedPutCount']} records refused")
    elif phase == "put":
        key = f"direct/{batch:07d}"
        clients.s3.put_object(Bucket=BUCKET, Key=key, Body=b"".join(records))
    else:
        got = clients.lam.invoke(FunctionName="Identity", Payload=firehose_event("hand", records))
        payload = got["Payload"].read()
        if "FunctionError" in got:
            raise RuntimeError(f"Identity failed: {payload!r}")
        answered = orjson.loads(payload)["records"]
        body = b"".join(base64.b64decode(r["data"]) for r in answered if r["result"] == "Ok")
        clients.s3.put_object(Bucket=BUCKET, Key=f"invoked/{batch:07d}", Body=body)


def phase_run(
    clients: Clients, phase: str, batches: int, records: int, size: int, first: int
) -> dict[str, float]:
    """One phase: ``batches`` batches numbered from ``first``, until all are listed."""
    data = [batch_records(first + b, records, size) for b in range(batches)]
    pid = clients.server.pid
    own, tree = own_cpu_seconds(pid), cpu_seconds(pid)
    began = time.perf_counter()
    for b, batch in enumerate(data):
        send(clients, phase, first + b, batch)
    sent = time.perf_counter()
    total = batches * records * size
    keys = wait_listed(clients.s3, PREFIXES[phase], total, clients.server, 120 + batches)
    done = time.perf_counter()
    own, tree = own_cpu_seconds(pid) - own, cpu_seconds(pid) - tree
    check(clients.s3, phase, keys, size, [r for batch in data for r in batch])
    delete_all(clients.s3, keys)
    return {
        "objects": len(keys),
        "ms": (done - began) * 1000 / batches,
        "rate": batches * records / (done - began),
        "cpu": own * 1000 / batches,
        "tree": tree * 1000 / batches,
        "sent": (sent - began) * 1000 / batches,
    }


def check(s3: Any, phase: str, keys: list[str], size: int, sent: list[bytes]) -> None:
    """The phase's objects hold every record sent, once each (all of them read)."""
    held: list[bytes] = []
    for key in keys:
        body = s3.get_object(Bucket=BUCKET, Key=key)["Body"].read()
        held.extend(body[i : i + size] for i in range(0, len(body), size))
    if sorted(held) != sorted(sent):
        raise RuntimeError(f"{phase}: {len(held)} records written for {len(sent)} sent")


def run_all(server: Server, args: argparse.Namespace) -> Runs:
    clients = Clients(server)
    for phase in PHASES:  # warm: the function's cold start, each path's clients
        phase_run(clients, phase, 1, args.records, args.size, 9_000_000)
    runs: Runs = []
    for run in range(args.runs):
        order: list[str] = []
        for stream, reference in REFERENCE.items():
            order += [reference, stream] if run % 2 else [stream, reference]
        first = run * args.batches
        out = {
            p: phase_run(clients, p, args.batches, args.records, args.size, first) for p in order
        }
        runs.append(out)
    leftover = keys_under(clients.s3, "")
    if leftover:  # an error prefix, say: told, the numbers kept
        print(f"note: {len(leftover)} objects left in the bucket: {leftover[:5]}", file=sys.stderr)
    return runs


def median(runs: Runs, phase: str, key: str) -> float:
    return statistics.median(r[phase][key] for r in runs)


def ratio(runs: Runs, phase: str, reference: str) -> float:
    """The median over the runs of ``phase``'s ms per batch ÷ its reference's."""
    return statistics.median(r[phase]["ms"] / r[reference]["ms"] for r in runs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--batches", type=int, default=200)
    parser.add_argument("--records", type=int, default=100, help="records per batch")
    parser.add_argument("--size", type=int, default=200, help="bytes per record")
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    if not 1 <= args.records <= 500 or args.records * args.size > 1024 * 1024:
        parser.error("a batch is 1 to 500 records, under 1 MiB (what one PutRecordBatch takes)")
    with tempfile.TemporaryDirectory() as tmp:
        server = Server(Path(tmp))
        try:
            runs = run_all(server, args)
        finally:
            server.stop()
    print(
        f"{args.runs} runs of {args.batches} batches × {args.records} records × {args.size} B; "
        "medians over the runs\n"
    )
    print("| path | ms/batch | records/s | objects | canaria CPU ms/batch | ÷ reference "
          "| tree CPU ms/batch |")  # fmt: skip
    print("|---|---:|---:|---:|---:|---:|---:|")
    for phase in ("plain", "put", "processed", "invoke"):
        ms, rate = median(runs, phase, "ms"), median(runs, phase, "rate")
        cpu, tree = median(runs, phase, "cpu"), median(runs, phase, "tree")
        objects = median(runs, phase, "objects")
        reference = REFERENCE.get(phase)
        times = f"{ratio(runs, phase, reference):.2f}" if reference is not None else "—"
        print(
            f"| {LABELS[phase]} | {ms:.2f} | {rate:,.0f} | {objects:.0f} | {cpu:.2f} | {times} "
            f"| {tree:.2f} |"
        )
    for phase in REFERENCE:
        sent = median(runs, phase, "sent")
        print(f"\n`{phase}`: the PutRecordBatch calls alone took {sent:.2f} ms/batch (median)")
    print(f"\n    {' '.join([os.path.relpath(sys.executable), *sys.argv])}")


if __name__ == "__main__":
    main()
