"""Node.js through the Lambda Runtime API beside Python through the worker protocol.

    .venv/bin/python bench/runtime_node.py [--calls 2000] [--cold 20] [--runs 3] [--no-deps]
                                           [--lines 22,24] [--python-lines 3.12,3.13]

In one run, on uvloop as canaria runs:

1. warm round trip: ``--calls`` sequential ``FunctionRuntime.invoke`` of a trivial handler
   with a ~1 KB API Gateway-like event, for a Python function (canaria's worker protocol,
   the reference) and a Node.js one (``node`` + canaria's bootstrap over the Runtime API),
   and, when it is installed, AWS's Python runtime client ``awslambdaric`` over the same
   Runtime API (the issue's reference point); median, p90, p99 in µs;
2. Node.js cold start: ``--cold`` first invocations of fresh environments (the process
   started, the handler loaded, the first event answered), median in ms, beside Python's;
3. the other Node.js release lines (``--lines``): the same warm and cold rows for
   ``nodejs<N>.x`` on Node.js N as canaria installs it from the npm registry, and the time
   that install takes once (into an empty temporary share, median of ``--runs``);
4. the other Python versions this machine has (``--python-lines``): the same warm and cold
   rows for ``python3.N`` on this machine's Python 3.N (the worker's packages installed for
   it as ``canaria up`` installs them);
5. time to a servable version after a code change, with ``requirements.txt``
   (aws-lambda-powertools, aws-xray-sdk, from PyPI) and ``package.json`` (uuid, from npm)
   unchanged: the first build (installs) and the second (code changed, manifest not),
   each the median of ``--runs``; and a TypeScript function with ``BuildMethod: esbuild``
   (esbuild from its ``package.json``), bundled at each build.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import orjson

from canaria import nodejs, pythons
from canaria.clock import RealClock
from canaria.models import EsbuildOptions, FunctionConfig, Version
from canaria.runtime import FunctionRuntime, LogLine, build_artifact

PY = "def handler(event, context):\n    return {'statusCode': 200, 'body': 'hello'}\n"
JS = "exports.handler = async () => ({ statusCode: 200, body: 'hello' });\n"
TS = (
    "type Reply = { statusCode: number; body: string };\n"
    "export const handler = async (): Promise<Reply> => ({ statusCode: 200, body: 'hello' });\n"
)
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


def summary(name: str, samples: list[float], unit: str = "µs") -> str:
    q = statistics.quantiles(samples, n=100) if len(samples) > 2 else [samples[0]] * 99
    return (
        f"{name:<34} median {statistics.median(samples):8.1f} {unit}   "
        f"p90 {q[89]:8.1f} {unit}   p99 {q[98]:8.1f} {unit}   (n={len(samples)})"
    )


def version(workdir: Path, name: str, files: dict[str, str], runtime: str, n: int) -> Version:
    code = workdir / name
    code.mkdir(parents=True, exist_ok=True)
    for rel, text in files.items():
        (code / rel).write_text(text)
        if rel == "bootstrap":
            (code / rel).chmod(0o755)
    digest, artifact = build_artifact(str(code), str(workdir / "state"), runtime=runtime)
    config = FunctionConfig(handler="app.handler", runtime=runtime, code_uri=str(code))
    return Version("bench", n, digest, config, artifact, 0.0)


def new_runtime(lines: list[LogLine]) -> FunctionRuntime:
    return FunctionRuntime(
        "bench", reserved_concurrency=None, env_extra={}, clock=RealClock(), on_log=lines.append
    )


async def warm(v: Version, calls: int) -> list[float]:
    lines: list[LogLine] = []
    runtime = new_runtime(lines)
    try:
        for _ in range(200):
            await runtime.invoke(v, EVENT, qualifier="live")
        samples = []
        for _ in range(calls):
            t = time.perf_counter()
            result = await runtime.invoke(v, EVENT, qualifier="live")
            samples.append((time.perf_counter() - t) * 1e6)
            assert result.ok and not result.cold_start, result.payload
            lines.clear()
        return samples
    finally:
        await runtime.close()


async def cold(v: Version, count: int) -> list[float]:
    lines: list[LogLine] = []
    runtime = new_runtime(lines)
    samples = []
    try:
        for _ in range(count):
            t = time.perf_counter()
            result = await runtime.invoke(v, EVENT, qualifier=None)
            samples.append((time.perf_counter() - t) * 1e3)
            assert result.ok and result.cold_start, result.payload
            await runtime.retire(v.number)  # the next invocation starts a fresh environment
            lines.clear()
        return samples
    finally:
        await runtime.close()


def servable(workdir: Path, runs: int) -> None:
    esbuild = EsbuildOptions(("app.ts",), ("--target=es2020", "--format=cjs", "--minify"))
    manifests = {
        "requirements.txt": ("aws-lambda-powertools\naws-xray-sdk\n", "app.py", PY, None),
        "package.json": (json.dumps({"dependencies": {"uuid": "^9.0.0"}}), "app.js", JS, None),
        "package.json+esbuild": (
            json.dumps({"dependencies": {"esbuild": "0.14.54"}}),
            "app.ts",
            TS,
            esbuild,
        ),
    }
    for label, (text, source, code_text, build) in manifests.items():
        manifest = label.split("+")[0]
        first, second = [], []
        for run in range(runs):
            root = workdir / f"deps-{label}-{run}"
            code = root / "code"
            code.mkdir(parents=True)
            (code / manifest).write_text(text)
            (code / source).write_text(code_text)
            t = time.perf_counter()
            build_artifact(str(code), str(root / "state"), build)
            first.append(time.perf_counter() - t)
            comment = "# changed" if source.endswith(".py") else "// changed"
            (code / source).write_text(f"{code_text}{comment}\n")
            t = time.perf_counter()
            build_artifact(str(code), str(root / "state"), build)
            second.append(time.perf_counter() - t)
            shutil.rmtree(root)
        print(
            f"servable version, {label:<20} first build (install) "
            f"{statistics.median(first):7.2f} s   code change, same manifest "
            f"{statistics.median(second) * 1000:7.1f} ms   (median of {runs})"
        )


def install_time(major: int, runs: int) -> list[float]:
    """Seconds ``nodejs.install`` takes into an empty share (npm's own cache warm after the
    first run, as on a machine that installed it before)."""
    samples = []
    before = os.environ.get("CANARIA_NODE_MODULES")
    try:
        for _ in range(runs):
            with tempfile.TemporaryDirectory() as share:
                os.environ["CANARIA_NODE_MODULES"] = str(Path(share) / "node_modules")
                t = time.perf_counter()
                nodejs.install(major)
                samples.append(time.perf_counter() - t)
    finally:
        if before is None:
            os.environ.pop("CANARIA_NODE_MODULES", None)
        else:
            os.environ["CANARIA_NODE_MODULES"] = before
    return samples


async def main(args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        py = version(workdir, "py", {"app.py": PY}, "python3.11", 1)
        js = version(workdir, "js", {"app.js": JS}, "nodejs20.x", 1)
        print(summary("warm, Python (worker protocol)", await warm(py, args.calls)))
        print(summary("warm, Node.js (Runtime API)", await warm(js, args.calls)))
        if importlib.util.find_spec("awslambdaric") is not None:
            boot = f'#!/bin/sh\nexec {sys.executable} -m awslambdaric "$_HANDLER"\n'
            ric = version(workdir, "ric", {"app.py": PY, "bootstrap": boot}, "provided", 1)
            print(summary("warm, Python awslambdaric (RAPI)", await warm(ric, args.calls)))
        print(summary("cold start, Python", await cold(py, args.cold), "ms"))
        print(summary("cold start, Node.js", await cold(js, args.cold), "ms"))
        for line in args.python_lines:
            if pythons.find(line) is None:
                print(f"python{line}: not on this machine, skipped")
                continue
            python = pythons.install(line)
            v = version(workdir, f"py{line}", {"app.py": PY}, f"python{line}", 1)
            print(summary(f"warm, Python {python.version}", await warm(v, args.calls)))
            print(summary(f"cold start, Python {python.version}", await cold(v, args.cold), "ms"))
        for major in args.lines:
            node = nodejs.node_for(f"nodejs{major}.x")
            if node is None or node.major != major:
                node = nodejs.install(major)
            v = version(workdir, f"js{major}", {"app.js": JS}, f"nodejs{major}.x", 1)
            print(summary(f"warm, Node.js {node.version}", await warm(v, args.calls)))
            print(summary(f"cold start, Node.js {node.version}", await cold(v, args.cold), "ms"))
            print(summary(f"install Node.js {major} (once)", install_time(major, args.runs), "s"))
        if args.deps:
            servable(workdir, args.runs)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument("--cold", type=int, default=20)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--no-deps", dest="deps", action="store_false")
    parser.add_argument(
        "--python-lines",
        type=lambda text: [line for line in text.split(",") if line],
        default=["3.12", "3.13"],
        help="other Python versions to measure, when this machine has them ('' for none)",
    )
    parser.add_argument(
        "--lines",
        type=lambda text: [int(n) for n in text.split(",") if n],
        default=[22, 24],
        help="other Node.js release lines to measure, e.g. 22,24 ('' for none)",
    )
    args = parser.parse_args()
    import uvloop

    uvloop.install()
    asyncio.run(main(args))
