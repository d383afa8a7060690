"""`canaria guard` against the alarm the template declares, at 100 req/s through the
local edge standing in for AWS.

    .venv/bin/python bench/guard_stop.py [--rate 100] [--runs 3] [--poll 2] [--timeout 180]

Each run copies `examples/hello` to a temporary directory, starts its own `canaria up`
(real clock, time scale 1), sends `GET /hello` at a fixed rate on loopback (open loop:
request i leaves at t0 + i/rate) and deploys v3 (fails every third request a warm
environment serves) with `Canary10Percent5Minutes` and canaria's own judge off. Two
guards, each in its own `canaria up`:

- guard: `canaria guard --stack hello --local` (in this process, one poll every `--poll`
  seconds, its AWS calls counted) with the template's alarm detached (threshold raised);
- alarm: the template's `HelloErrorsAlarm` as declared (`Errors` Sum > 5 over 60 s on
  the alias) attached to the deployment, no guard.

Per run: failed requests from the first canary request (the deployment entering
AllowTraffic) to the stop (the deployment's `completed_at`), the seconds between those
two, and for the guard its AWS API calls per minute (every call from its start to the
stop, over that time). Every process started here is stopped by its PID; temporary
files are removed.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import shutil
import signal
import statistics
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.functional.harness import Canaria, copy_example  # noqa: E402


@dataclass
class Outcome:
    guard: str
    failed: int
    seconds: float
    calls_per_minute: float | None
    state: str


class Load:
    """Open-loop GETs at ``rate`` per second from a thread pool; (sent, status) kept."""

    def __init__(self, port: int, rate: float) -> None:
        self.port = port
        self.rate = rate
        self.results: list[tuple[float, int]] = []
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._local = threading.local()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _get(self, sent: float) -> None:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._local.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        try:
            conn.request("GET", "/hello")
            resp = conn.getresponse()
            resp.read()
            status = resp.status
        except OSError:
            self._local.conn = None
            status = 599
        with self._lock:
            self.results.append((sent, status))

    def _run(self) -> None:
        with ThreadPoolExecutor(max_workers=16) as pool:
            t0 = time.time()
            i = 0
            while not self._stop.is_set():
                due = t0 + i / self.rate
                delay = due - time.time()
                if delay > 0:
                    time.sleep(delay)
                pool.submit(self._get, due)
                i += 1

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        self._stop.set()
        self.thread.join()


def guard_thread(c: Canaria, poll_s: float, stop: threading.Event, out: dict[str, Any]) -> None:
    import boto3

    from canaria.auth import access_key_id, secret_access_key
    from canaria.clock import RealClock
    from canaria.guard import AwsGuardClient, Guard, GuardOptions, GuardRecords, Mode
    from canaria.store import Store

    session = boto3.session.Session(
        aws_access_key_id=access_key_id(c.token()),
        aws_secret_access_key=secret_access_key(c.token()),
        region_name="us-east-1",
    )
    client = AwsGuardClient(session=session, endpoint_url=f"http://127.0.0.1:{c.control_port}")
    store = Store.open(str(c.state.parent / "guard-state"))
    guard = Guard(
        client,
        GuardRecords(store),
        GuardOptions(stack="hello", mode=Mode.STOP, poll_s=poll_s),
        RealClock(),
    )
    out["started"] = time.time()
    while not stop.is_set():
        guard.poll()
        out["calls"] = sum(client.calls.values())
        out["per_api"] = dict(client.calls)
        if client.calls["codedeploy:stop_deployment"] and "stopped_at" not in out:
            out["stopped_at"] = time.time()
            out["calls_at_stop"] = out["calls"]
        stop.wait(guard.next_delay())
    store.close()


def healthy_watch(rate: float, poll_s: float, seconds: float) -> dict[str, float]:
    """The guard watching a healthy canary (v2) for ``seconds``: its AWS calls per minute
    per API, and whether it stopped anything."""
    tmp = Path(tempfile.mkdtemp(prefix="canaria-guard-bench-"))
    c: Canaria | None = None
    load: Load | None = None
    stop = threading.Event()
    out: dict[str, Any] = {}
    watcher: threading.Thread | None = None
    try:
        app = copy_example("hello", tmp)
        template = app / "template.yaml"
        c = Canaria(template, tmp / "state", clock="real", time_scale=1.0).start()
        load = Load(c.port, rate)
        load.start()
        time.sleep(3)
        r = c.cli(
            "deploy", "-t", str(template), "--parameter-overrides", "AppVersion=v2",
            "--no-judge", "--json",
        )  # fmt: skip
        if r.returncode != 0:
            raise RuntimeError(r.stderr)
        watcher = threading.Thread(target=guard_thread, args=(c, poll_s, stop, out))
        watcher.start()
        time.sleep(seconds)
        stop.set()
        watcher.join()
        minutes = (time.time() - out["started"]) / 60.0
        per_api = {k: v / minutes for k, v in out["per_api"].items()}
        per_api["stopped"] = float(out["per_api"].get("codedeploy:stop_deployment", 0))
        return per_api
    finally:
        stop.set()
        if load is not None and load.thread.is_alive():
            load.stop()
        if watcher is not None and watcher.is_alive():
            watcher.join()
        if c is not None:
            c.stop()
        shutil.rmtree(tmp, ignore_errors=True)


def one_run(kind: str, rate: float, poll_s: float, timeout: float) -> Outcome:
    tmp = Path(tempfile.mkdtemp(prefix="canaria-guard-bench-"))
    c: Canaria | None = None
    load: Load | None = None
    stop = threading.Event()
    out: dict[str, Any] = {}
    watcher: threading.Thread | None = None
    try:
        app = copy_example("hello", tmp)
        template = app / "template.yaml"
        if kind == "guard":
            template.write_text(template.read_text().replace("Threshold: 5", "Threshold: 1000000"))
        c = Canaria(template, tmp / "state", clock="real", time_scale=1.0).start()
        load = Load(c.port, rate)
        load.start()
        time.sleep(3)  # warm the stable version
        if kind == "guard":
            watcher = threading.Thread(target=guard_thread, args=(c, poll_s, stop, out))
            watcher.start()
        r = c.cli(
            "deploy", "-t", str(template), "--parameter-overrides", "AppVersion=v3",
            "--no-judge", "--json",
        )  # fmt: skip
        if r.returncode != 0:
            raise RuntimeError(r.stderr)
        dep = json.loads(r.stdout)["deployments"][0]["id"]
        deadline = time.time() + timeout
        while True:
            d = c.api().get(f"/deployments/{dep}")
            if d["completed"] or time.time() > deadline:
                break
            time.sleep(0.2)
        time.sleep(1)
        load.stop()
        stop.set()
        if watcher:
            watcher.join()
        events = c.api().get(f"/deployments/{dep}/events")["events"]
        began = next(
            (
                e["time"]
                for e in events
                if e["kind"] == "transition" and e["data"].get("to") == "AllowTraffic"
            ),
            None,
        )
        end = d.get("completed_at") or time.time()
        if began is None:
            raise RuntimeError(f"no AllowTraffic in {json.dumps(events)[:2000]}")
        failed = sum(1 for t, s in load.results if began <= t <= end and s >= 500)
        cpm = None
        if kind == "guard" and "stopped_at" in out:
            cpm = out["calls_at_stop"] / ((out["stopped_at"] - out["started"]) / 60.0)
        return Outcome(kind, failed, end - began, cpm, f"{d['state']}")
    finally:
        stop.set()
        if load is not None and load.thread.is_alive():
            load.stop()
        if watcher is not None:
            watcher.join()
        if c is not None:
            c.stop()
        shutil.rmtree(tmp, ignore_errors=True)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rate", type=float, default=100.0)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--poll", type=float, default=2.0)
    ap.add_argument("--timeout", type=float, default=180.0)
    ap.add_argument("--watch", type=float, default=60.0, help="seconds of the healthy watch")
    args = ap.parse_args()
    rows: list[Outcome] = []
    for i in range(args.runs):
        for kind in ("guard", "alarm"):
            o = one_run(kind, args.rate, args.poll, args.timeout)
            rows.append(o)
            print(f"run {i + 1} {kind}: {o}", file=sys.stderr, flush=True)
    load = os.getloadavg()
    print(f"\n{args.rate:g} req/s, {args.runs} runs, guard poll {args.poll:g} s, "
          f"load average {load[0]:.2f}\n")  # fmt: skip
    print("| stopped by | failed requests (median, runs) | seconds first canary → stop "
          "(median) | guard AWS calls / min | outcome |")  # fmt: skip
    print("|---|---|---|---|---|")
    for kind in ("guard", "alarm"):
        rs = [r for r in rows if r.guard == kind]
        cpm = [r.calls_per_minute for r in rs if r.calls_per_minute is not None]
        print(
            f"| {kind} | {statistics.median(r.failed for r in rs):g} "
            f"({', '.join(str(r.failed) for r in rs)}) "
            f"| {statistics.median(r.seconds for r in rs):.1f} "
            f"({', '.join(f'{r.seconds:.1f}' for r in rs)}) "
            f"| {f'{statistics.median(cpm):.0f}' if cpm else '-'} "
            f"| {', '.join(r.state for r in rs)} |"
        )
    watch = healthy_watch(args.rate, args.poll, args.watch)
    stopped = watch.pop("stopped")
    print(f"\nHealthy canary (v2) watched {args.watch:g} s at {args.rate:g} req/s, poll "
          f"{args.poll:g} s: StopDeployment calls {stopped:g}\n")  # fmt: skip
    print("| API | calls / min |")
    print("|---|---|")
    for api, n in sorted(watch.items()):
        print(f"| {api} | {n:.1f} |")
    print(f"| total | {sum(watch.values()):.1f} |")


if __name__ == "__main__":
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))
    main()
