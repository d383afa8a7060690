"""Gateway latency during a deployment while the store (PostgreSQL) answers slowly.

The store is PostgreSQL behind a loopback TCP proxy that holds every answer from the
server for ``--delay-ms`` (50 ms: a slow or distant database; each statement is at least
one round trip). `canaria up` (real clock, ``--time-scale``) serves the hello example; a
deployment with a long linear config is started, so the controller reconciles it every
tick (one virtual second) while closed-loop clients send GET /hello for ``--seconds``.
The same run with the proxy passing answers on at once is the reference.

Run it against another tree with ``--src DIR`` (its ``src`` directory goes first on the
child's PYTHONPATH), e.g. the tree before store I/O moved off the event loop:

    git archive <commit> | tar -x -C /tmp/before
    .venv/bin/python bench/slow_store.py --src /tmp/before/src
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
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
import uuid
from pathlib import Path

from sqlalchemy import create_engine, text

ROOT = Path(__file__).resolve().parents[1]
PG_ADMIN = os.environ.get(
    "CANARIA_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)


class DelayProxy:
    """TCP proxy: client → server passes at once; server → client after ``delay_s``,
    in order (a slow database, as the client sees it). It runs its own event loop in a
    thread, so the bench's blocking calls never hold it up."""

    def __init__(self, target: tuple[str, int], delay_s: float) -> None:
        self.target = target
        self.delay_s = delay_s
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.server: asyncio.Server | None = None

    def start(self) -> int:
        self.thread.start()
        started = asyncio.run_coroutine_threadsafe(
            asyncio.start_server(self._serve, "127.0.0.1", 0), self.loop
        )
        self.server = started.result(timeout=30)
        return int(self.server.sockets[0].getsockname()[1])

    def close(self) -> None:
        async def shut() -> None:
            if self.server is not None:
                self.server.close()
            for task in asyncio.all_tasks():
                if task is not asyncio.current_task():
                    task.cancel()

        asyncio.run_coroutine_threadsafe(shut(), self.loop).result(timeout=30)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=30)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection(*self.target)

        async def forward(
            src: asyncio.StreamReader, dst: asyncio.StreamWriter, delay: float
        ) -> None:
            queue: asyncio.Queue[tuple[float, bytes]] = asyncio.Queue()

            async def deliver() -> None:
                while True:
                    due, chunk = await queue.get()
                    if not chunk:
                        break
                    wait = due - time.monotonic()
                    if wait > 0:
                        await asyncio.sleep(wait)
                    dst.write(chunk)
                    await dst.drain()
                dst.close()

            task = asyncio.ensure_future(deliver())
            try:
                while chunk := await src.read(65536):
                    queue.put_nowait((time.monotonic() + delay, chunk))
            except ConnectionError:
                pass
            queue.put_nowait((0.0, b""))
            with contextlib.suppress(ConnectionError):
                await task

        await asyncio.gather(
            forward(reader, up_writer, 0.0),
            forward(up_reader, writer, self.delay_s),
            return_exceptions=True,
        )


async def load(port: int, seconds: float, clients: int) -> list[float]:
    """Closed-loop GET /hello on keep-alive connections; latencies in ms."""
    latencies: list[float] = []
    stop_at = time.monotonic() + seconds
    request = b"GET /hello HTTP/1.1\r\nHost: bench\r\n\r\n"

    async def client() -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        while time.monotonic() < stop_at:
            started = time.perf_counter()
            writer.write(request)
            head = await reader.readuntil(b"\r\n\r\n")
            length = next(
                int(line.split(b":")[1])
                for line in head.split(b"\r\n")
                if line.lower().startswith(b"content-length")
            )
            await reader.readexactly(length)
            latencies.append((time.perf_counter() - started) * 1000)
        writer.close()

    await asyncio.gather(*(client() for _ in range(clients)))
    return latencies


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "canaria.cli.main", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


async def one_run(delay_ms: float, args: argparse.Namespace) -> dict[str, float]:
    name = f"canaria_bench_{uuid.uuid4().hex[:10]}"
    admin = create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    pg = admin.url
    proxy = DelayProxy((pg.host or "127.0.0.1", pg.port or 5432), delay_ms / 1000)
    proxy_port = proxy.start()
    url = pg.set(port=proxy_port, database=name).render_as_string(hide_password=False)
    work = Path(tempfile.mkdtemp(prefix="canaria-slow-store-"))
    shutil.copytree(ROOT / "examples" / "hello", work / "hello")
    state = work / "state"
    env = dict(os.environ, CANARIA_STATE=str(state), CANARIA_DATABASE_URL=url)
    if args.src:
        env["PYTHONPATH"] = os.pathsep.join([args.src, env.get("PYTHONPATH", "")])
    template = str(work / "hello" / "template.yaml")
    log = open(work / "up.log", "wb")  # noqa: SIM115 - the child's output
    port, control = free_port(), free_port()  # chosen here: older trees cannot report them
    env["CANARIA_ENDPOINT"] = f"http://127.0.0.1:{control}"
    up = ["up", "-t", template, "--time-scale", str(args.time_scale), "--port", str(port)]
    proc = subprocess.Popen(
        [sys.executable, "-m", "canaria.cli.main", *up, "--control-port", str(control)],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 180
        while cli(env, "status").returncode != 0:
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError((work / "up.log").read_text(errors="replace"))
            await asyncio.sleep(0.2)
        await load(port, 1.0, 2)  # warm the worker
        started = cli(
            env,
            "deploy",
            "-t",
            template,
            "--parameter-overrides",
            "AppVersion=v2",
            "--config",
            "Linear10PercentEvery10Minutes",
            "--json",
        )
        if started.returncode != 0:
            raise RuntimeError(started.stderr)
        latencies = await load(port, args.seconds, args.clients)
        status = json.loads(cli(env, "status", "--json").stdout)
        (d,) = status["deployments"]
        return {
            "requests": len(latencies),
            "p50": percentile(latencies, 0.50),
            "p99": percentile(latencies, 0.99),
            "max": max(latencies),
            "step": d["step_index"],
        }
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()
        proxy.close()
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE "{name}" WITH (FORCE)'))
        admin.dispose()
        shutil.rmtree(work, ignore_errors=True)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--delay-ms", type=float, default=50.0)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--time-scale", type=float, default=60.0)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--src", help="a tree's src/ directory to run instead of this one")
    args = parser.parse_args()
    rows: dict[float, list[dict[str, float]]] = {0.0: [], args.delay_ms: []}
    for _ in range(args.runs):
        for delay in rows:  # reference and slow store, alternating within the run
            rows[delay].append(await one_run(delay, args))
    print(
        f"| store answers after | requests | p50 ms | p99 ms | max ms | (median of {args.runs}) |"
    )
    print("|---|---|---|---|---|---|")
    for delay, runs in rows.items():
        med = {k: statistics.median(r[k] for r in runs) for k in ("requests", "p50", "p99", "max")}
        print(
            f"| {delay:g} ms | {med['requests']:.0f} | {med['p50']:.2f} | {med['p99']:.2f} "
            f"| {med['max']:.0f} | |"
        )
    p99 = {d: statistics.median(r["p99"] for r in runs) for d, runs in rows.items()}
    print(f"\np99 ratio slow/reference: {p99[args.delay_ms] / p99[0.0]:.1f}x")


if __name__ == "__main__":
    asyncio.run(main())
