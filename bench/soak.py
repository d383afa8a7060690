"""Soak: 500 requests/s through the gateway during a traffic shift and during a rollback.

    .venv/bin/python bench/soak.py [--rate 500] [--duration 60] [--connections 32] [--warmup 10]

Starts its own ``canaria up`` (the hello example copied to a temporary directory, manual
clock) and an open-loop load generator in this process (request i leaves at t0 + i/rate
on one of ``--connections`` keep-alive connections; latency counts from the scheduled
time, so queueing is included). A warm-up of ``--warmup`` seconds, reported apart (the
first requests of a fresh start are cold starts), then three phases of ``--duration``
seconds each:

- steady: no deployment, v1 serving (the reference the other two are compared with);
- shift: v2 deploys (Canary10Percent5Minutes); the clock is moved so the canary takes
  10 % during the first half and 100 % for the second;
- rollback: v3 (fails every third request a warm environment serves) deploys and takes
  10 %; the judge or the alarm rolls it back under the load.

Per phase: requests sent, p50/p99 latency, responses by class, platform-caused errors
(connection errors and 429/503/504, which no handler returns), canaria's RSS before and
after, its worker processes and cold starts (from ``/metrics``). Prints a Markdown table
and stops every process it started (by PID).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


class Server:
    def __init__(self, work: Path) -> None:
        self.app = work / "hello"
        shutil.copytree(ROOT / "examples" / "hello", self.app)
        self.state = work / "state"
        self.port, self.control = free_port(), free_port()
        self.env = dict(
            os.environ,
            CANARIA_STATE=str(self.state),
            CANARIA_ENDPOINT=f"http://127.0.0.1:{self.control}",
        )
        self.log = open(work / "up.log", "wb")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "canaria.cli.main",
                "up",
                "-t",
                str(self.app / "template.yaml"),
                "--port",
                str(self.port),
                "--control-port",
                str(self.control),
                "--clock",
                "manual",
            ],
            env=self.env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 60
        while True:
            try:
                self.api("GET", "/status")
                return
            except OSError:
                if time.monotonic() > deadline or self.proc.poll() is not None:
                    raise RuntimeError("canaria up did not start") from None
                time.sleep(0.2)

    def api(self, method: str, path: str, body: object = None) -> object:
        token = (self.state / "token").read_text().strip()
        req = urllib.request.Request(
            f"http://127.0.0.1:{self.control}/canaria/v1{path}",
            data=None if body is None else json.dumps(body).encode(),
            method=method,
            headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
        )
        with urllib.request.urlopen(req, timeout=60) as resp:
            return json.loads(resp.read())

    def deploy(self, version: str) -> str:
        answer = self.api(
            "POST",
            "/deployments",
            {
                "template": str(self.app / "template.yaml"),
                "parameter_overrides": {"AppVersion": version},
            },
        )
        assert isinstance(answer, dict)
        return str(answer["deployments"][0]["id"])

    def deployment(self, dep: str) -> dict[str, object]:
        answer = self.api("GET", f"/deployments/{dep}")
        assert isinstance(answer, dict)
        return answer

    def advance(self, seconds: float) -> None:
        self.api("POST", "/clock", {"advance": seconds})

    def workers(self) -> int:
        out = subprocess.run(
            ["pgrep", "-P", str(self.proc.pid), "-f", "worker.py"], capture_output=True, text=True
        ).stdout
        return len(out.split())

    def cold_starts(self) -> float:
        token = (self.state / "token").read_text().strip()
        req = urllib.request.Request(
            f"http://127.0.0.1:{self.control}/metrics", headers={"Authorization": f"Bearer {token}"}
        )
        with urllib.request.urlopen(req, timeout=30) as resp:
            text = resp.read().decode()
        return sum(
            float(line.rsplit(" ", 1)[1])
            for line in text.splitlines()
            if line.startswith("canaria_cold_starts_total{")
        )

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()


async def load(
    port: int, rate: float, duration: float, connections: int, during: list[tuple[float, object]]
) -> tuple[list[float], Counter[str]]:
    """Open loop at ``rate``; ``during``: (second, callable) run in a thread at that time."""
    request = b"GET /hello HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
    latencies: list[float] = []
    outcomes: Counter[str] = Counter()
    free: asyncio.Queue[tuple[asyncio.StreamReader, asyncio.StreamWriter] | None] = asyncio.Queue()
    for _ in range(connections):
        free.put_nowait(None)

    async def one(scheduled: float) -> None:
        conn = await free.get()
        try:
            if conn is None:
                conn = await asyncio.open_connection("127.0.0.1", port)
            reader, writer = conn
            writer.write(request)
            head = await reader.readuntil(b"\r\n\r\n")
            status = int(head.split(b" ", 2)[1])
            length = 0
            for line in head.split(b"\r\n"):
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":")[1])
            await reader.readexactly(length)
            latencies.append(time.perf_counter() - scheduled)
            outcomes[f"{status // 100}xx" if status not in (429, 503, 504) else str(status)] += 1
            free.put_nowait(conn)
        except (OSError, asyncio.IncompleteReadError, ValueError):
            outcomes["connection error"] += 1
            free.put_nowait(None)

    loop = asyncio.get_running_loop()
    t0 = time.perf_counter()
    tasks = []
    pending = sorted(during, key=lambda x: x[0])
    total = int(rate * duration)
    for i in range(total):
        at = t0 + i / rate
        while pending and at - t0 >= pending[0][0]:
            _, action = pending.pop(0)
            tasks.append(loop.run_in_executor(None, action))  # type: ignore[arg-type]
        delay = at - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.ensure_future(one(at)))
    await asyncio.gather(*tasks)
    return latencies, outcomes


def until(server: Server, dep: str, state: str, step: float = 5.0) -> None:
    for _ in range(200):
        d = server.deployment(dep)
        if d["state"] == state or d["completed"]:
            return
        server.advance(step)
        time.sleep(0.05)


def phase(
    server: Server, name: str, version: str | None, args: argparse.Namespace
) -> dict[str, object]:
    """One phase; ``version`` None: no deployment (the reference, measured in the same run)."""
    dep = server.deploy(version) if version else None
    if dep is not None:
        until(server, dep, "AllowTraffic")
    before = rss_mb(server.proc.pid)
    cold0 = server.cold_starts()
    during: list[tuple[float, object]] = []
    if version == "v2":  # the canary's five minutes pass half-way through: 100 %
        during.append((args.duration / 2, lambda: server.advance(301)))
    elif (
        version == "v3"
    ):  # the judge and the alarm look every tick: move the clock a second a second
        during.extend((float(s), lambda: server.advance(1)) for s in range(int(args.duration)))
    latencies, outcomes = asyncio.run(
        load(server.port, args.rate, args.duration, args.connections, during)
    )
    outcome = "none"
    if dep is not None:
        for _ in range(50):
            if server.deployment(dep)["completed"]:
                break
            server.advance(5)
        d = server.deployment(dep)
        outcome = f"{d['state']}{' (rolled back)' if d.get('rolled_back') else ''}"
    q = statistics.quantiles(latencies, n=100) if len(latencies) > 100 else [0.0] * 99
    platform = sum(outcomes[k] for k in ("connection error", "429", "503", "504"))
    return {
        "phase": name,
        "sent": sum(outcomes.values()),
        "p50_ms": q[49] * 1000,
        "p99_ms": q[98] * 1000,
        "outcomes": dict(outcomes),
        "platform_errors": platform,
        "rss_before_mb": before,
        "rss_after_mb": rss_mb(server.proc.pid),
        "workers": server.workers(),
        "cold_starts": server.cold_starts() - cold0,
        "deployment": outcome,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rate", type=float, default=500.0)
    parser.add_argument("--duration", type=float, default=60.0)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--warmup", type=float, default=10.0, help="seconds, reported apart")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="canaria-soak-") as tmp:
        server = Server(Path(tmp))
        try:
            warm = argparse.Namespace(**{**vars(args), "duration": args.warmup})
            rows = [
                phase(server, "warm-up (the first requests of a fresh start)", None, warm),
                phase(server, "steady, after the warm-up (no deployment; reference)", None, args),
                phase(server, "shift (v2: 10 % → 100 %)", "v2", args),
                phase(server, "rollback (v3 at 10 %)", "v3", args),
            ]
        finally:
            server.stop()
    print(
        f"rate {args.rate:g}/s for {args.duration:g} s per phase, {args.connections} connections\n"
    )
    print(
        "| phase | sent | p50 ms | p99 ms | responses | platform errors | RSS MB before → after "
        "| workers | cold starts | deployment |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(
            f"| {r['phase']} | {r['sent']} | {r['p50_ms']:.1f} | {r['p99_ms']:.1f} | "
            f"{r['outcomes']} | {r['platform_errors']} | {r['rss_before_mb']:.0f} → "
            f"{r['rss_after_mb']:.0f} | {r['workers']} | {r['cold_starts']:.0f} | "
            f"{r['deployment']} |"
        )


if __name__ == "__main__":
    main()
