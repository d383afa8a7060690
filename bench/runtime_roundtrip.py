"""Warm round trip through canaria's worker runtime, against a bare socket reference.

    .venv/bin/python bench/runtime_roundtrip.py [--calls 2000] [--uvloop]

Builds a trivial handler (returns a small dict) with ``build_artifact``, then makes
``--calls`` sequential ``FunctionRuntime.invoke`` calls with a ~1 KB API Gateway-like event
after a warm-up, and prints the median, p90 and p99 in µs. For reference, the same
number for the bare protocol: an echo over a ``socketpair`` with the same framing
(one orjson header + body each way) to a child process, measured in the same run.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import orjson

from canaria.clock import RealClock
from canaria.models import FunctionConfig, Version
from canaria.runtime import FunctionRuntime, LogLine, build_artifact

HANDLER = "def handler(event, context):\n    return {'statusCode': 200, 'body': 'hello'}\n"
EVENT = orjson.dumps(
    {
        "version": "2.0",
        "routeKey": "GET /hello",
        "rawPath": "/hello",
        "rawQueryString": "",
        "headers": {f"x-header-{i}": "v" * 20 for i in range(20)},
        "requestContext": {"http": {"method": "GET", "path": "/hello"}, "requestId": "x" * 36},
        "body": "",
        "isBase64Encoded": False,
    }
)

ECHO = """
import socket, struct, sys
s = socket.socket(fileno=int(sys.argv[1])); f = s.makefile("rb"); H = struct.Struct("!II")
while p := f.read(8):
    h, b = H.unpack(p); head = f.read(h); body = f.read(b)
    out = b'{"t":"r","k":"ok","ms":0.01,"mem":1000}'; res = b'{"statusCode":200}'
    s.sendall(H.pack(len(out), len(res)) + out + res)
"""


def summary(name: str, samples: list[float]) -> str:
    q = statistics.quantiles(samples, n=100)
    return (
        f"{name:<28} median {statistics.median(samples):7.1f} µs   "
        f"p90 {q[89]:7.1f} µs   p99 {q[98]:7.1f} µs   (n={len(samples)})"
    )


async def runtime_samples(calls: int, workdir: str) -> list[float]:
    code = Path(workdir) / "code"
    code.mkdir()
    (code / "app.py").write_text(HANDLER)
    digest, artifact = build_artifact(str(code), workdir)
    config = FunctionConfig(handler="app.handler", runtime="python3.11", code_uri=str(code))
    version = Version("bench", 1, digest, config, artifact, 0.0)
    lines: list[LogLine] = []
    runtime = FunctionRuntime(
        "bench", reserved_concurrency=None, env_extra={}, clock=RealClock(), on_log=lines.append
    )
    try:
        for _ in range(200):
            await runtime.invoke(version, EVENT, qualifier="live")
        samples = []
        for _ in range(calls):
            t = time.perf_counter()
            result = await runtime.invoke(version, EVENT, qualifier="live")
            samples.append((time.perf_counter() - t) * 1e6)
            assert result.ok and not result.cold_start
            lines.clear()
        return samples
    finally:
        await runtime.close()


async def echo_samples(calls: int) -> list[float]:
    import socket
    import struct

    parent, child = socket.socketpair()
    proc = subprocess.Popen(
        [sys.executable, "-c", ECHO, str(child.fileno())], pass_fds=(child.fileno(),)
    )
    child.close()
    reader, writer = await asyncio.open_unix_connection(sock=parent)
    header = struct.Struct("!II")
    head = orjson.dumps({"id": "x" * 36, "arn": "arn", "trace": "t" * 60, "deadline": 1})
    samples = []
    for i in range(calls + 200):
        t = time.perf_counter()
        writer.write(header.pack(len(head), len(EVENT)) + head + EVENT)
        h, b = header.unpack(await reader.readexactly(8))
        orjson.loads(await reader.readexactly(h))
        await reader.readexactly(b)
        if i >= 200:
            samples.append((time.perf_counter() - t) * 1e6)
    writer.close()
    await writer.wait_closed()
    proc.wait()
    return samples


async def main(calls: int) -> None:
    with tempfile.TemporaryDirectory() as workdir:
        print(summary("FunctionRuntime.invoke", await runtime_samples(calls, workdir)))
    print(summary("bare framed echo (reference)", await echo_samples(calls)))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument("--uvloop", action="store_true", help="run on uvloop, as canaria does")
    args = parser.parse_args()
    if args.uvloop:
        import uvloop

        uvloop.install()
    asyncio.run(main(args.calls))
