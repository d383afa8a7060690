"""Blast radius over real HTTP: the judge against an `Errors Sum > 0` alarm.

    .venv/bin/python bench/blast_radius.py [--rate 20|100|1000] [--runs 3] [--case-timeout 150]
                                           [--cases 100,50,5,1,slow] [--guards judge,alarm]

For every case this starts its own `canaria up` (real clock) on a generated application:
one function behind `GET /bench` whose error rate and latency come from template
parameters (environment variables), an `Errors Sum > 0` alarm with a 60-second period on
the new version (`ExecutedVersion: "2"`), and `Canary10Percent30Minutes` (10 % held). The
stable version (1) fails 0.1 % of its requests and sleeps a lognormal 2 ms; the canary
(version 2) fails 100 %, 50 %, 5 % or 1 %, or is 3× slower. A load generator sends
requests at a fixed rate on loopback (open loop: request i leaves at t0 + i/rate),
first to version 1 alone (warm-up, so the stable p99 exists), then through the deployment
until it completes or the case times out, then two more seconds.

Two guards, each in its own `canaria up`: the judge (the alarm not attached to the
deployment), and the alarm attached to the deployment with the judge off (what SAM users
do). From the client's log of every response (which version served it, its status, when
it left) and the deployment's `completed_at` (the decision):

- failed canary requests before the rollback, canary requests before the rollback;
- time from the first canary request to the rollback decision;
- time from the decision to the first request served by the stable version that left
  after it, and to the last request the canary served;
- the canary's invocations and errors as canaria's own metrics count them (the
  deployment's ``traffic``), from its creation to the end of the run.

Every process started here is stopped by its PID, the whole bench is bounded by
``--case-timeout`` per case, and temporary files are removed.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import http.client
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import uvloop

HANDLER = """\
import json
import math
import os
import random
import time

ERROR_RATE = float(os.environ["ERROR_RATE"])
LATENCY_MS = float(os.environ["LATENCY_MS"])


def handler(event, context):
    time.sleep(LATENCY_MS * math.exp(random.gauss(0.0, 0.5)) / 1000.0)
    if random.random() < ERROR_RATE:
        raise RuntimeError("injected failure")
    body = {"version": context.function_version}
    return {"statusCode": 200, "headers": {"content-type": "application/json"},
            "body": json.dumps(body)}
"""

TEMPLATE = """\
AWSTemplateFormatVersion: "2010-09-09"
Transform: AWS::Serverless-2016-10-31
Parameters:
  ErrorRate:
    Type: String
    Default: "0.001"
  LatencyMs:
    Type: String
    Default: "2"
Resources:
  BenchFunction:
    Type: AWS::Serverless::Function
    Properties:
      Runtime: python3.11
      Handler: app.handler
      CodeUri: src
      Timeout: 5
      AutoPublishAlias: live
      Environment:
        Variables:
          ERROR_RATE: !Ref ErrorRate
          LATENCY_MS: !Ref LatencyMs
      DeploymentPreference:
        Type: Canary10Percent30Minutes
{alarms}
      Events:
        Bench:
          Type: HttpApi
          Properties:
            Path: /bench
            Method: GET
  CanaryErrorsAlarm:
    Type: AWS::CloudWatch::Alarm
    Properties:
      Namespace: AWS/Lambda
      MetricName: Errors
      Dimensions:
        - Name: FunctionName
          Value: !Ref BenchFunction
        - Name: Resource
          Value: !Sub "${{BenchFunction}}:live"
        - Name: ExecutedVersion
          Value: "2"
      Statistic: Sum
      Period: 60
      EvaluationPeriods: 1
      Threshold: 0
      ComparisonOperator: GreaterThanThreshold
      TreatMissingData: notBreaching
"""

ALARMS = """\
        Alarms:
          - !Ref CanaryErrorsAlarm"""

STABLE = {"ErrorRate": "0.001", "LatencyMs": "2"}
CASES: dict[str, dict[str, str]] = {
    "100": {"ErrorRate": "1.0", "LatencyMs": "2"},
    "50": {"ErrorRate": "0.5", "LatencyMs": "2"},
    "5": {"ErrorRate": "0.05", "LatencyMs": "2"},
    "1": {"ErrorRate": "0.01", "LatencyMs": "2"},
    "slow": {"ErrorRate": "0.001", "LatencyMs": "6"},
}
LABELS = {
    "100": "fails 100 %",
    "50": "fails 50 %",
    "5": "fails 5 %",
    "1": "fails 1 %",
    "slow": "3× slower",
}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass(frozen=True)
class Response:
    sent: float  # wall time the request left
    version: int | None  # version that served it (None: no answer / not JSON)
    status: int


@dataclass(frozen=True)
class Result:
    case: str
    guard: str
    decided: bool
    stopped_by: str | None
    failed_canary: int
    canary_requests: int
    first_canary_to_decision_s: float | None
    decision_to_stable_s: float | None
    decision_to_last_canary_s: float | None
    server_canary_requests: int  # the canary's invocations as canaria's metrics count them,
    server_canary_errors: int  # from its creation to the end of the run (2 s after)
    cold_starts: tuple[int, int]  # stable's and canary's, server side, over the same range
    achieved_rate: float  # requests the client sent per second
    late: int  # requests that left more than 5 ms after their due time


class Server:
    """One `canaria up` child (real clock) and a small control-API client."""

    def __init__(self, root: Path, template: Path, overrides: dict[str, str]) -> None:
        self.state = root / "state"
        self.port = free_port()
        self.control_port = free_port()
        self.env = dict(os.environ, CANARIA_STATE=str(self.state), PYTHONUNBUFFERED="1")
        self.log = root / "canaria.log"
        args = [
            sys.executable,
            "-m",
            "canaria.cli.main",
            "up",
            "-t",
            str(template),
            "--port",
            str(self.port),
            "--control-port",
            str(self.control_port),
            "--parameter-overrides",
            " ".join(f"{k}={v}" for k, v in overrides.items()),
        ]
        with open(self.log, "ab") as logf:
            self.proc = subprocess.Popen(args, env=self.env, stdout=logf, stderr=logf)

    def wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"canaria up exited {self.proc.returncode}: {self.tail()}")
            with contextlib.suppress(OSError, RuntimeError, ValueError):
                self.api("GET", "/status")
                return
            time.sleep(0.2)
        raise RuntimeError(f"canaria up did not answer in {timeout:g} s: {self.tail()}")

    def tail(self) -> str:
        return self.log.read_text(errors="replace")[-3000:] if self.log.exists() else ""

    def api(self, method: str, path: str, body: Any = None) -> Any:
        token = (self.state / "token").read_text().strip()
        conn = http.client.HTTPConnection("127.0.0.1", self.control_port, timeout=30)
        try:
            data = None if body is None else json.dumps(body).encode()
            headers = {"authorization": f"Bearer {token}", "content-type": "application/json"}
            conn.request(method, "/canaria/v1" + path, body=data, headers=headers)
            resp = conn.getresponse()
            raw = resp.read()
            if resp.status >= 400:
                raise RuntimeError(f"{method} {path}: {resp.status} {raw[:500]!r}")
            return json.loads(raw)
        finally:
            conn.close()

    def stop(self) -> None:
        """SIGTERM our child by PID (it stops its own workers), SIGKILL after 20 s."""
        if self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


class Load:
    """Open-loop requests at a fixed rate (request i leaves at t0 + i/rate) from an asyncio
    event loop in its own thread, over a pool of keep-alive HTTP/1.1 connections (a new
    one whenever every open one is busy, at most ``MAX_CONNECTIONS``), logging every
    response. Raw sockets keep the client's cost per request small enough to hold 1,000
    req/s on a shared 2-core machine; ``achieved_rate`` says whether it did."""

    MAX_CONNECTIONS = 64

    def __init__(self, port: int, rate: float) -> None:
        self.port = port
        self.rate = rate
        self.log: list[Response] = []
        self.late = 0  # requests that left more than 5 ms after their due time
        self._started = self._ended = 0.0
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._main, daemon=True)

    def __enter__(self) -> Load:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=30)

    def _main(self) -> None:
        with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
            runner.run(self._run())

    def achieved_rate(self) -> float:
        """Requests sent per second of sending."""
        with self._lock:
            n, span = len(self.log), self._ended - self._started
        return n / span if span > 0 else 0.0

    async def _one(self, idle: list[_Conn], sent: float) -> None:
        conn = idle.pop() if idle else None
        version: int | None = None
        status = 0
        try:
            if conn is None:
                conn = await _Conn.open(self.port)
            status, headers, body = await conn.get("/bench")
            header = headers.get("x-canaria-version") or headers.get("x-amz-executed-version")
            if header and header.isdigit():
                version = int(header)
            elif status == 200:
                version = int(json.loads(body)["version"])
            if len(idle) < self.MAX_CONNECTIONS:
                idle.append(conn)
            else:
                conn.close()
        except (OSError, asyncio.IncompleteReadError, ValueError, KeyError):
            if conn is not None:
                conn.close()
        with self._lock:
            self.log.append(Response(sent, version, status))

    async def _run(self) -> None:
        idle: list[_Conn] = []
        tasks: set[asyncio.Task[None]] = set()
        t0 = self._started = time.time()
        i = 0
        while not self._stop.is_set():
            due = t0 + i / self.rate
            delay = due - time.time()
            if delay > 0:
                await asyncio.sleep(delay)
            now = time.time()
            self.late += now - due > 0.005
            if len(tasks) < 4 * self.MAX_CONNECTIONS:
                task = asyncio.ensure_future(self._one(idle, now))
                tasks.add(task)
                task.add_done_callback(tasks.discard)
            i += 1
        self._ended = time.time()
        await asyncio.gather(*tasks, return_exceptions=True)
        for conn in idle:
            conn.close()

    def snapshot(self) -> list[Response]:
        with self._lock:
            return list(self.log)


class _Conn:
    """One keep-alive HTTP/1.1 connection: GET, read the status, headers and body."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer

    @classmethod
    async def open(cls, port: int) -> _Conn:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        return cls(reader, writer)

    async def get(self, path: str) -> tuple[int, dict[str, str], bytes]:
        self.writer.write(f"GET {path} HTTP/1.1\r\nhost: 127.0.0.1\r\n\r\n".encode())
        head = await asyncio.wait_for(self.reader.readuntil(b"\r\n\r\n"), 10.0)
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split(" ", 2)[1])
        headers = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        body = await self.reader.readexactly(int(headers.get("content-length", "0")))
        return status, headers, body

    def close(self) -> None:
        self.writer.close()


def write_app(root: Path, with_alarm: bool) -> Path:
    (root / "src").mkdir(parents=True)
    (root / "src" / "app.py").write_text(HANDLER)
    template = root / "template.yaml"
    template.write_text(TEMPLATE.format(alarms=ALARMS if with_alarm else ""))
    return template


def run_case(case: str, guard: str, rate: float, timeout: float, warmup: float) -> Result:
    root = Path(tempfile.mkdtemp(prefix=f"canaria-blast-{case}-{guard}-"))
    server: Server | None = None
    try:
        template = write_app(root, with_alarm=guard == "alarm")
        server = Server(root, template, STABLE)
        server.wait_ready(60)
        with Load(server.port, rate) as load:
            time.sleep(warmup)
            judge = {"enabled": guard == "judge"}
            body = {
                "template": str(template),
                "parameter_overrides": CASES[case],
                "judge": judge,
            }
            created = server.api("POST", "/deployments", body)
            dep_id = created["deployments"][0]["id"]
            deadline = time.monotonic() + timeout
            d = server.api("GET", f"/deployments/{dep_id}")
            while not d["completed"] and time.monotonic() < deadline:
                time.sleep(0.1)
                d = server.api("GET", f"/deployments/{dep_id}")
            time.sleep(2.0)
            d = server.api("GET", f"/deployments/{dep_id}")  # with the traffic totals
        return replace(
            measure(case, guard, d, load.snapshot()),
            achieved_rate=round(load.achieved_rate(), 1),
            late=load.late,
        )
    finally:
        if server is not None:
            server.stop()
        shutil.rmtree(root, ignore_errors=True)


def measure(case: str, guard: str, d: dict[str, Any], log: list[Response]) -> Result:
    decided_at = d.get("completed_at") if d["completed"] and d["rolled_back"] else None
    until = decided_at if decided_at is not None else float("inf")
    # A 5xx carries no version: during the deployment it is counted against the canary
    # (the stable version's 0.1 % adds about one per second at 1,000 req/s), before it
    # against nobody.
    created = d["created_at"]
    canary = [
        r
        for r in log
        if r.sent >= created and (r.version == 2 or (r.status >= 500 and r.version is None))
    ]
    before = [r for r in canary if r.sent < until]
    failed = sum(r.status >= 500 for r in before) if case != "slow" else len(before)
    first = min((r.sent for r in canary), default=None)
    to_stable = last_canary = None
    if decided_at is not None:
        after = sorted(r.sent for r in log if r.version == 1 and r.sent >= decided_at)
        to_stable = after[0] - decided_at if after else None
        # by the version header only: after the decision the 5xx without one are the
        # stable version's 0.1 %
        by_canary = [r.sent for r in canary if r.version == 2]
        last_canary = max(by_canary, default=decided_at) - decided_at
    versions = d.get("traffic", {}).get("versions", {}).get("BenchFunction", {})
    served = versions.get("2", {})
    cold = (int(versions.get("1", {}).get("cold_starts", 0)), int(served.get("cold_starts", 0)))
    return Result(
        case,
        guard,
        decided_at is not None,
        d.get("stopped_by"),
        failed if case != "slow" else 0,
        len(before),
        None if decided_at is None or first is None else decided_at - first,
        to_stable,
        last_canary,
        int(served.get("invocations", 0)),
        int(served.get("errors", 0)),
        cold,
        0.0,
        0,
    )


def _median(xs: list[float | None], fmt: str) -> str:
    got = [x for x in xs if x is not None]
    return format(statistics.median(got), fmt) if got else "–"


def table(results: list[Result], runs: int) -> Iterator[str]:
    yield (
        "| canary | guard | rolled back | failed canary requests | canary requests "
        "| first canary request → decision (s) | decision → first stable request (s) "
        "| decision → last canary request (s) | canary invocations / errors, server side "
        "| cold starts during the deployment, stable / canary |"
    )
    yield "|---|---|---|---|---|---|---|---|---|---|"
    keys = dict.fromkeys((r.case, r.guard) for r in results)
    for case, guard in keys:
        rs = [r for r in results if (r.case, r.guard) == (case, guard)]
        label = "judge" if guard == "judge" else "`Errors Sum > 0`, 60 s"
        decided = [r for r in rs if r.decided]
        failed = _median([float(r.failed_canary) for r in decided], "g")
        if case == "slow":
            failed = "n/a"
        yield (
            f"| {LABELS[case]} | {label} | {len(decided)}/{len(rs)} "
            f"({', '.join(sorted({str(r.stopped_by) for r in decided})) or '–'}) "
            f"| {failed} "
            f"| {_median([float(r.canary_requests) for r in decided], 'g')} "
            f"| {_median([r.first_canary_to_decision_s for r in decided], '.2f')} "
            f"| {_median([r.decision_to_stable_s for r in decided], '.3f')} "
            f"| {_median([r.decision_to_last_canary_s for r in decided], '.3f')} "
            f"| {_median([float(r.server_canary_requests) for r in decided], 'g')} / "
            f"{_median([float(r.server_canary_errors) for r in decided], 'g')} "
            f"| {_median([float(r.cold_starts[0]) for r in decided], 'g')} / "
            f"{_median([float(r.cold_starts[1]) for r in decided], 'g')} |"
        )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rate", type=float, default=20.0, help="requests per second")
    ap.add_argument("--runs", type=int, default=3, help="runs per case and guard (median)")
    ap.add_argument("--case-timeout", type=float, default=150.0)
    ap.add_argument("--warmup", type=float, default=8.0)
    ap.add_argument("--cases", default="100,50,5,1,slow")
    ap.add_argument("--guards", default="judge,alarm", help="judge, alarm or both")
    ap.add_argument("--json", type=Path, help="also write every run here")
    args = ap.parse_args()
    guards = args.guards.split(",")
    if not set(guards) <= {"judge", "alarm"}:
        ap.error(f"--guards {args.guards!r} (allowed: judge, alarm)")
    results: list[Result] = []
    started = time.monotonic()
    for case in args.cases.split(","):
        if case not in CASES:
            ap.error(f"unknown case {case!r} (allowed: {', '.join(CASES)})")
        for guard in guards:
            for _ in range(args.runs):
                r = run_case(case, guard, args.rate, args.case_timeout, args.warmup)
                print(json.dumps(r.__dict__), file=sys.stderr, flush=True)
                results.append(r)
    achieved = statistics.median(r.achieved_rate for r in results)
    print(
        f"## Blast radius over HTTP: {args.rate:g} req/s (achieved: {achieved:.0f}), "
        f"canary at 10 %, stable errors 0.1 %; medians of {args.runs} runs\n"
    )
    print("\n".join(table(results, args.runs)))
    print(f"\n_{time.monotonic() - started:.0f} s wall time_")
    if args.json:
        args.json.write_text(json.dumps([r.__dict__ for r in results], indent=2))


if __name__ == "__main__":
    main()
