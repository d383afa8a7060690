"""Gateway throughput against a raw uvicorn ASGI hello world and a minimal reference
gateway, measured in the same run.

    .venv/bin/python bench/gateway_throughput.py [--runs 5] [--duration 5] [--connections 64]
                                                 [--invoker trivial|workers] [--decompose]
                                                 [--unpinned]

Each server runs in its own process pinned to core 0; the load generator runs pinned to
core 1: ``wrk`` when it is on PATH (``apt-get install -y wrk``), else a small asyncio
keep-alive load generator in this script. Servers are measured alternately, median of
``--runs`` runs of ``--duration`` seconds each after a warm-up; the script prints a
markdown table with requests/s and the ratios gateway/uvicorn and gateway/reference, and
stops every process it started.

The reference gateway (``serve_reference``, about sixty lines) is the same hop with no
bookkeeping at all: httptools parsing, a queue of two idle worker processes over Unix
sockets, length-prefixed orjson frames, a fixed event, the proxy response mapped to
HTTP. ``--invoker workers`` against it measures what canaria's per-request work costs.

Beside requests/s, each setup's CPU time per request (user + system, the server and every
process it started, from /proc) is printed: on a shared machine it moves less than the
rate does, so it is the figure to compare across runs. Beside it, how much of that the
gateway's own process used (the rest is its workers'): where a setup's CPU goes.

``--decompose`` (with ``--invoker workers``) adds canaria's gateway in front of the
reference's own workers, queue and frames (``ReferenceHopInvoker``): between the reference
and that row lies canaria's gateway (HTTP, routing, the API Gateway event, the response
mapping); between that row and the workers row, canaria's runtime.

``--unpinned`` lets the kernel place everything on both cores (servers, workers and the
load generator compete): uvicorn is one process either way, while the gateway's worker
processes can then run beside it.

``--invoker trivial`` (default) answers in-process with a fixed proxy response: it
measures the data plane alone. ``--invoker workers`` plugs in the worker runtime
(``canaria.runtime``): see ``build_invoker``; it also measures ``canaria up`` on the hello
example (``serve_up``), the same hop with everything the platform records per request
(metrics, Prometheus counters, the function's log, the judge's feed).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import importlib
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from up import cpu_seconds, own_cpu_seconds, serving_process

SERVER_CORE = 0
LOAD_CORE = 1
PATH = "/hello"
HELLO = b'{"message": "hello"}'


PINNED = True  # False with --unpinned
UP = "canaria up, hello example (the whole platform)"
REFHOP = "canaria gateway → the reference's hop (its workers, queue and frames)"


def pin_to(core: int) -> None:
    if PINNED and hasattr(os, "sched_setaffinity") and core < (os.cpu_count() or 1):
        os.sched_setaffinity(0, {core})


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# ---- the servers (run in child processes) --------------------------------------------------


async def asgi_hello(
    scope: dict[str, Any], receive: Callable[..., Any], send: Callable[..., Any]
) -> None:
    assert scope["type"] == "http"
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(HELLO)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": HELLO})


def serve_uvicorn(port: int) -> None:
    import uvicorn

    config = uvicorn.Config(
        asgi_hello,
        host="127.0.0.1",
        port=port,
        loop="uvloop",
        http="httptools",
        lifespan="off",
        log_level="warning",
        access_log=False,
    )
    server = uvicorn.Server(config)
    print("READY", flush=True)
    server.run()


class TrivialInvoker:
    """In-process: the same proxy response for every event."""

    def __init__(self) -> None:
        import orjson

        from canaria.models import InvokeResult

        self._payloads = {
            v: InvokeResult(
                orjson.dumps(
                    {
                        "statusCode": 200,
                        "headers": {"Content-Type": "application/json"},
                        "body": HELLO.decode(),
                    }
                ),
                v,
                "bench",
                0.01,
            )
            for v in (1, 2)
        }

    async def invoke(
        self, function: str, version: int, event: bytes, *, alias: str | None, started: float
    ) -> Any:
        return self._payloads[version]

    async def close(self) -> None:
        return None


class CountingRecorder:
    """A recorder as cheap as the real one must be: counts per (version, second)."""

    def __init__(self) -> None:
        self.counts: dict[tuple[int, int], int] = {}

    def record(
        self,
        function: str,
        alias: str | None,
        version: int,
        result: Any,
        *,
        throttled: bool,
        started: float,
        finished: float,
    ) -> None:
        key = (version, int(started))
        self.counts[key] = self.counts.get(key, 0) + 1


WORKER_HANDLER = """
def handler(event, context):
    return {"statusCode": 200, "headers": {"Content-Type": "application/json"},
            "body": '{"message": "hello"}'}
"""


async def build_invoker(kind: str, workdir: str) -> Any:
    """The Invoker the gateway calls. The hook for the worker runtime is here.

    ``trivial``: in-process, fixed answer. ``workers``: canaria's worker runtime running
    a Python handler in warm worker processes, wired as ``canaria.platform`` wires it
    (``build_artifact`` → ``Version`` → ``FunctionRuntime.invoke``). Returns an object
    with ``invoke(function, version, event, *, alias)`` and ``close()``.
    """
    if kind == "trivial":
        return TrivialInvoker()
    if kind == "refhop":
        return await ReferenceHopInvoker.start(workdir)
    if kind != "workers":
        raise SystemExit(f"unknown invoker {kind!r}: trivial, workers or refhop")
    from canaria.clock import RealClock
    from canaria.models import FunctionConfig, Version

    try:
        runtime_pkg = importlib.import_module("canaria.runtime")
        FunctionRuntime = runtime_pkg.FunctionRuntime
        build_artifact = runtime_pkg.build_artifact
    except (ImportError, AttributeError) as exc:
        raise SystemExit(
            f"--invoker workers needs canaria.runtime's FunctionRuntime ({exc})"
        ) from None
    code = Path(workdir) / "hello"
    code.mkdir(parents=True, exist_ok=True)
    (code / "app.py").write_text(WORKER_HANDLER)
    config = FunctionConfig(handler="app.handler", runtime="python3.11", code_uri=str(code))
    digest, artifact = build_artifact(str(code), workdir)
    versions = {n: Version("hello", n, digest, config, artifact, time.time()) for n in (1, 2)}
    runtime = FunctionRuntime(
        "hello",
        reserved_concurrency=None,
        env_extra={},
        clock=RealClock(),
        on_log=lambda line: None,
    )

    class WorkerInvoker:
        async def invoke(
            self, function: str, version: int, event: bytes, *, alias: str | None, started: float
        ) -> Any:
            return await runtime.invoke(versions[version], event, qualifier=alias)

        async def close(self) -> None:
            await runtime.close()

    return WorkerInvoker()


class ReferenceHopInvoker:
    """canaria's gateway in front of the reference's own hop (``--decompose``): the
    reference's two worker processes, its queue and frames, carrying canaria's event and
    returning the handler's payload as is. What this row costs beyond the reference is
    canaria's gateway alone (HTTP, routing, the API Gateway event, the response mapping);
    what the workers row costs beyond this one is canaria's runtime."""

    def __init__(self, idle: Any, server: Any, workers: list[subprocess.Popen[bytes]]) -> None:
        self._idle = idle
        self._server = server
        self._workers = workers

    @classmethod
    async def start(cls, workdir: str) -> ReferenceHopInvoker:
        idle, server, workers = await start_reference_workers(workdir)
        return cls(idle, server, workers)

    async def invoke(
        self, function: str, version: int, event: bytes, *, alias: str | None, started: float
    ) -> Any:
        from canaria.models import InvokeResult

        reader, writer = await self._idle.get()
        try:
            writer.write(len(event).to_bytes(4, "big") + event)
            size = int.from_bytes(await reader.readexactly(4), "big")
            payload = await reader.readexactly(size)
        finally:
            self._idle.put_nowait((reader, writer))
        return InvokeResult(payload, version, "reference-hop", 0.0)

    async def close(self) -> None:
        self._server.close()
        for w in self._workers:
            w.kill()
            w.wait()


def serve_gateway(port: int, invoker_kind: str) -> None:
    import uvloop

    from canaria.analysis.api_metrics import ApiMetrics
    from canaria.clock import RealClock
    from canaria.gateway import GatewayServer, Routing
    from canaria.models import Alias, RouteSpec

    async def main() -> None:
        routing = Routing()
        routing.set_routes(
            [RouteSpec("GET", PATH, "http", "HelloApi", "$default", "hello")], {"hello": "live"}
        )
        routing.set_alias(Alias("hello", "live", 1, 2, 0.1))  # a canary at 10 %
        with tempfile.TemporaryDirectory() as workdir:
            invoker = await build_invoker(invoker_kind, workdir)
            meter = ApiMetrics()  # the AWS/ApiGateway metrics `canaria up` keeps
            meter.configure({"HelloApi": ("http", "helloapi")})
            server = GatewayServer(
                routing,
                invoker,
                CountingRecorder(),
                RealClock(),
                host="127.0.0.1",
                port=port,
                api_meter=meter,
            )
            await server.start()
            print("READY", flush=True)
            stop = asyncio.Event()
            loop = asyncio.get_running_loop()
            loop.add_signal_handler(signal.SIGTERM, stop.set)
            loop.add_signal_handler(signal.SIGINT, stop.set)
            await stop.wait()
            await server.stop()
            await invoker.close()

    uvloop.run(main())


def answers_ok(port: int) -> bool:
    """Whether ``GET PATH`` on ``port`` is answered 200 now."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1) as conn:
            conn.sendall(f"GET {PATH} HTTP/1.0\r\n\r\n".encode())
            return conn.recv(12).startswith(b"HTTP/1.1 200")
    except OSError:
        return False


def serve_up(port: int) -> None:
    """``canaria up`` on a copy of the hello example (GET /hello, one Python function behind
    an alias): the whole platform, with its metrics, logs and judge feed, where
    ``serve_gateway`` wires the gateway to the worker runtime alone."""
    root = Path(__file__).resolve().parents[1]
    with tempfile.TemporaryDirectory() as work:
        app = Path(work) / "hello"
        shutil.copytree(root / "examples" / "hello", app)
        env = dict(
            os.environ,
            CANARIA_STATE=str(Path(work) / "state"),
            CANARIA_ENDPOINT=f"http://127.0.0.1:{free_port()}",
        )
        control = env["CANARIA_ENDPOINT"].rsplit(":", 1)[1]
        command = [sys.executable, "-m", "canaria.cli.main", "up", "-t", str(app / "template.yaml")]
        up = subprocess.Popen(
            [*command, "--port", str(port), "--control-port", control],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=sys.stderr,
        )
        stop = False

        def on_term(signum: int, frame: object) -> None:
            nonlocal stop
            stop = True

        signal.signal(signal.SIGTERM, on_term)
        try:
            deadline = time.monotonic() + 60
            while not stop and up.poll() is None and time.monotonic() < deadline:
                if answers_ok(port):
                    break
                time.sleep(0.2)
            else:
                raise SystemExit(f"canaria up did not serve {PATH} (exit {up.poll()})")
            print("READY", flush=True)
            while not stop and up.poll() is None:
                time.sleep(0.2)
        finally:
            up.terminate()
            try:
                up.wait(timeout=20)
            except subprocess.TimeoutExpired:
                up.kill()
                up.wait()


# ---- the reference: a minimal gateway to two workers over Unix sockets -------------------

REF_WORKERS = 2
REF_EVENT = {"version": "2.0", "routeKey": "GET /hello", "headers": {}, "body": ""}


def serve_reference_worker(sock_path: str) -> None:
    """A worker: length-prefixed orjson event in, the handler's proxy response out."""
    import orjson

    conn = socket.socket(socket.AF_UNIX)
    conn.connect(sock_path)
    stream = conn.makefile("rb")
    while head := stream.read(4):
        event = orjson.loads(stream.read(int.from_bytes(head, "big")))
        assert event["rawPath"] == PATH
        answer = orjson.dumps(
            {
                "statusCode": 200,
                "headers": {"Content-Type": "application/json"},
                "body": HELLO.decode(),
            }
        )
        conn.sendall(len(answer).to_bytes(4, "big") + answer)


class ReferenceHttp(asyncio.Protocol):
    """httptools parsing; each request takes an idle worker from the queue, sends a fixed
    event, maps the proxy response to HTTP."""

    def __init__(self, idle: asyncio.Queue[tuple[asyncio.StreamReader, asyncio.StreamWriter]]):
        import httptools

        self.idle = idle
        self.parser = httptools.HttpRequestParser(self)
        self.url = b""
        self.transport: asyncio.Transport | None = None
        self.answering: set[asyncio.Task[None]] = set()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        self.parser.feed_data(data)

    def on_url(self, url: bytes) -> None:
        self.url = url

    def on_message_complete(self) -> None:
        task = asyncio.ensure_future(self.answer(self.url))
        self.answering.add(task)
        task.add_done_callback(self.answering.discard)

    async def answer(self, url: bytes) -> None:
        import orjson

        reader, writer = await self.idle.get()
        try:
            frame = orjson.dumps(REF_EVENT | {"rawPath": url.decode()})
            writer.write(len(frame).to_bytes(4, "big") + frame)
            size = int.from_bytes(await reader.readexactly(4), "big")
            result = orjson.loads(await reader.readexactly(size))
        finally:
            self.idle.put_nowait((reader, writer))
        body = result["body"].encode()
        head = b"HTTP/1.1 %d OK\r\ncontent-type: %s\r\ncontent-length: %d\r\n\r\n" % (
            result["statusCode"],
            result["headers"]["Content-Type"].encode(),
            len(body),
        )
        assert self.transport is not None
        if not self.transport.is_closing():  # the load generator may have hung up
            self.transport.write(head + body)


async def start_reference_workers(
    workdir: str,
) -> tuple[
    asyncio.Queue[tuple[asyncio.StreamReader, asyncio.StreamWriter]],
    asyncio.AbstractServer,
    list[subprocess.Popen[bytes]],
]:
    """``REF_WORKERS`` reference workers connected over a Unix socket in ``workdir``: the
    queue of idle ones, the socket's server and the processes."""
    idle: asyncio.Queue[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = asyncio.Queue()
    sock_path = str(Path(workdir) / "workers.sock")
    connected = asyncio.Event()

    def worker_connected(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        idle.put_nowait((r, w))
        if idle.qsize() == REF_WORKERS:
            connected.set()

    server = await asyncio.start_unix_server(worker_connected, sock_path)
    command = [sys.executable, __file__, "--serve", "refworker", "--sock", sock_path]
    workers = [subprocess.Popen(command) for _ in range(REF_WORKERS)]
    await connected.wait()
    return idle, server, workers


def serve_reference(port: int) -> None:
    import uvloop

    async def main() -> None:
        with tempfile.TemporaryDirectory() as workdir:
            idle, workers_server, workers = await start_reference_workers(workdir)
            loop = asyncio.get_running_loop()
            server = await loop.create_server(lambda: ReferenceHttp(idle), "127.0.0.1", port)
            print("READY", flush=True)
            stop = asyncio.Event()
            loop.add_signal_handler(signal.SIGTERM, stop.set)
            await stop.wait()
            server.close()
            workers_server.close()
            for w in workers:
                w.kill()
                w.wait()

    uvloop.run(main())


# ---- load generation (in this process, pinned to the other core) ---------------------------


def run_wrk(port: int, duration: float, connections: int) -> float:
    out = subprocess.run(
        ["wrk", "-t1", f"-c{connections}", f"-d{duration:g}s", f"http://127.0.0.1:{port}{PATH}"],
        capture_output=True,
        text=True,
        timeout=duration + 60,
        preexec_fn=lambda: pin_to(LOAD_CORE),
    )
    m = re.search(r"Requests/sec:\s*([\d.]+)", out.stdout)
    if m is None or float(m.group(1)) == 0:
        raise RuntimeError(f"wrk failed: {out.stdout}\n{out.stderr}")
    if re.search(r"Non-2xx or 3xx responses|Socket errors", out.stdout):
        raise RuntimeError(f"the server answered errors:\n{out.stdout}")
    return float(m.group(1))


async def _load_async(port: int, duration: float, connections: int) -> float:
    request = f"GET {PATH} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n".encode()
    deadline = time.monotonic() + duration
    done = 0

    async def one() -> None:
        nonlocal done
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            while time.monotonic() < deadline:
                writer.write(request)
                head = await reader.readuntil(b"\r\n\r\n")
                if not head.startswith(b"HTTP/1.1 200"):
                    raise RuntimeError(f"the server answered {head[:40]!r}")
                m = re.search(rb"(?i)content-length:\s*(\d+)", head)
                if m is None:
                    raise RuntimeError("this load generator needs Content-Length answers")
                await reader.readexactly(int(m.group(1)))
                done += 1
        finally:
            writer.close()

    started = time.monotonic()
    await asyncio.gather(*(one() for _ in range(connections)))
    return done / (time.monotonic() - started)


def run_asyncio_load(port: int, duration: float, connections: int) -> float:
    try:
        import uvloop

        return uvloop.run(_load_async(port, duration, connections))
    except ImportError:
        return asyncio.run(_load_async(port, duration, connections))


# ---- orchestration ---------------------------------------------------------------------------


class Child:
    def __init__(self, args: list[str], port: int) -> None:
        self.log = tempfile.TemporaryFile()  # noqa: SIM115 - the child's stderr, read on failure
        self.proc = subprocess.Popen(
            [sys.executable, __file__, *args],
            stdout=subprocess.PIPE,
            stderr=self.log,
            text=True,
            start_new_session=True,
        )
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if "READY" not in line:
            self.stop()
            raise RuntimeError(
                f"server {args} did not start (exit {self.proc.poll()}):\n{self.errors()}"
            )
        deadline = time.monotonic() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if time.monotonic() > deadline or self.proc.poll() is not None:
                    self.stop()
                    raise RuntimeError(f"server {args} does not accept connections") from None
                time.sleep(0.05)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.proc.stdout is not None:
            self.proc.stdout.close()

    def close(self) -> None:
        self.stop()
        self.log.close()

    def errors(self) -> str:
        self.log.seek(0)
        return self.log.read().decode(errors="replace")[-3000:]


def warm_up(load: Callable[[int, float, int], float], port: int, connections: int) -> None:
    """Load until the server answers at full speed: with the worker invoker, the first
    second is spent starting one worker per connection (cold starts, ~60 ms each on the
    server's one core), so a single 1-second warm-up may see no answer at all."""
    deadline = time.monotonic() + 30
    answered = 0
    while answered < 2 and time.monotonic() < deadline:
        with contextlib.suppress(RuntimeError):  # no answer yet: workers still starting
            answered += load(port, 1.0, connections) > 0


def measure(args: argparse.Namespace) -> None:
    pin_to(LOAD_CORE)
    load = run_wrk if shutil.which("wrk") else run_asyncio_load
    generator = "wrk" if load is run_wrk else "asyncio load generator"
    setups = {
        "uvicorn (httptools + uvloop), raw ASGI hello": ["--serve", "uvicorn"],
        f"reference gateway → {REF_WORKERS} workers (Unix sockets)": ["--serve", "reference"],
        f"canaria gateway, {args.invoker} invoker": [
            "--serve",
            "gateway",
            "--invoker",
            args.invoker,
        ],
    }
    if args.invoker == "workers":
        setups[UP] = ["--serve", "up"]
        if args.decompose:
            setups[REFHOP] = ["--serve", "gateway", "--invoker", "refhop"]
    if not PINNED:
        setups = {name: [*child_args, "--unpinned"] for name, child_args in setups.items()}
    children: dict[str, tuple[Child, int]] = {}
    results: dict[str, list[float]] = {name: [] for name in setups}
    cpu: dict[str, list[float]] = {name: [] for name in setups}  # µs per request
    own: dict[str, list[float]] = {name: [] for name in setups}  # the gateway process's
    try:
        for name, child_args in setups.items():
            port = free_port()
            children[name] = (Child([*child_args, "--port", str(port)], port), port)
        for _, port in children.values():
            warm_up(load, port, args.connections)
        gateways = {name: serving_process(child.proc.pid) for name, (child, _) in children.items()}
        for _ in range(args.runs):
            for name, (child, port) in children.items():
                before, own_before = cpu_seconds(child.proc.pid), own_cpu_seconds(gateways[name])
                rate = load(port, args.duration, args.connections)
                used = cpu_seconds(child.proc.pid) - before
                own_used = own_cpu_seconds(gateways[name]) - own_before
                results[name].append(rate)
                cpu[name].append(used / (rate * args.duration) * 1e6)
                own[name].append(own_used / (rate * args.duration) * 1e6)
    except Exception:
        for name, (child, _) in children.items():
            child.stop()
            if child.errors():
                print(f"--- {name} stderr ---\n{child.errors()}", file=sys.stderr)
        raise
    finally:
        for child, _ in children.values():
            child.close()
    medians = {name: statistics.median(values) for name, values in results.items()}
    base, reference, gateway = list(medians.values())[:3]
    placement = (
        f"server on core {SERVER_CORE}, load on core {LOAD_CORE}"
        if PINNED
        else "unpinned: servers, workers and load share both cores"
    )
    print(
        f"\n{args.runs} runs of {args.duration:g} s, {args.connections} connections, "
        f"{generator}; {placement}\n"
    )
    print(
        "| setup | req/s (median) | runs | CPU µs / request (median) "
        "| of which the gateway process |"
    )
    print("|---|---:|---|---:|---:|")
    for name, values in results.items():
        runs = ", ".join(f"{v:,.0f}" for v in values)
        print(
            f"| {name} | {medians[name]:,.0f} | {runs} | {statistics.median(cpu[name]):,.0f} "
            f"| {statistics.median(own[name]):,.0f} |"
        )
    print(f"\nratio gateway / uvicorn: **{gateway / base:.2f}**")
    print(f"ratio gateway / reference gateway: **{gateway / reference:.2f}**")
    for name in (UP, REFHOP):
        if name in medians:
            print(f"ratio {name} / reference gateway: **{medians[name] / reference:.2f}**")
    cpu_medians = {name: statistics.median(values) for name, values in cpu.items()}
    ref_cpu = list(cpu_medians.values())[1]
    for name, value in list(cpu_medians.items())[2:]:
        print(f"CPU per request, {name} / reference gateway: {value / ref_cpu:.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--duration", type=float, default=5.0)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--invoker", default="trivial", choices=["trivial", "workers", "refhop"])
    parser.add_argument(
        "--decompose",
        action="store_true",
        help="with --invoker workers: also canaria's gateway driving the reference's hop",
    )
    parser.add_argument("--unpinned", action="store_true", help="no CPU pinning at all")
    parser.add_argument(
        "--serve",
        choices=["uvicorn", "gateway", "reference", "refworker", "up"],
        help=argparse.SUPPRESS,
    )
    parser.add_argument("--sock", help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    global PINNED
    PINNED = not args.unpinned
    if args.serve:
        pin_to(SERVER_CORE)
        if args.serve == "uvicorn":
            serve_uvicorn(args.port)
        elif args.serve == "reference":
            serve_reference(args.port)
        elif args.serve == "refworker":
            serve_reference_worker(args.sock)
        elif args.serve == "up":
            serve_up(args.port)
        else:
            serve_gateway(args.port, args.invoker)
        return
    measure(args)


if __name__ == "__main__":
    main()
