"""What a WebSocket API's message costs next to an HTTP request to the same function.

    .venv/bin/python bench/websocket_apis.py [--count 500] [--runs 3]

A real ``canaria up`` (a child process) serves one Python function, ``Echo``, both as a
two-way WebSocket route and as an HTTP API route; ``$connect`` and ``$disconnect`` run a
function too. In the same run, from this process:

- **round trip**: ``--count`` sequential HTTP requests on one keep-alive connection
  (the reference), then ``--count`` sequential messages on one WebSocket connection,
  each answered by the route's function; median and p90 of each, and their ratio.
- **connect**: ``--count / 5`` sequential connections opened (the handshake waits for
  ``$connect``'s function) and closed, against as many HTTP requests each on a new TCP
  connection (the reference).
- **Management API**: ``--count`` sequential ``PostToConnection`` calls (boto3, the
  operator's keys) to an open connection, each until the client has the message, against
  as many ``GetFunction`` calls to the same edge (the reference: the same SigV4 check and
  the same server, no connection involved).

Prints a Markdown table of the medians over ``--runs``.
"""

from __future__ import annotations

import argparse
import asyncio
import http.client
import json
import os
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path
from typing import Any

import boto3
from websockets.asyncio.client import connect

from canaria.auth import access_key_id, secret_access_key

TEMPLATE = textwrap.dedent(
    """
    Transform: AWS::Serverless-2016-10-31
    Globals:
      Function: {Runtime: python3.11, CodeUri: src, Timeout: 10}
    Resources:
      Echo:
        Type: AWS::Serverless::Function
        Properties:
          Handler: app.echo
          Events:
            Http: {Type: HttpApi, Properties: {Path: /echo, Method: GET}}
      Hello:
        Type: AWS::Serverless::Function
        Properties: {Handler: app.hello}
      Sockets:
        Type: AWS::Serverless::WebSocketApi
        Properties:
          RouteSelectionExpression: $request.body.action
          StageName: bench
          Routes:
            $connect: {FunctionArn: !GetAtt Hello.Arn}
            $disconnect: {FunctionArn: !GetAtt Hello.Arn}
            echo:
              FunctionArn: !GetAtt Echo.Arn
              RouteResponseSelectionExpression: $default
    """
)
APP = textwrap.dedent(
    """
    def echo(event, context):
        body = event.get("body") or "ok"
        if "whoami" in body:
            return {"statusCode": 200, "body": event["requestContext"]["connectionId"]}
        return {"statusCode": 200, "body": body}

    def hello(event, context):
        return {"statusCode": 200}
    """
)


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


class Up:
    """One ``canaria up`` child on free ports, in a temporary application folder."""

    def __init__(self, root: Path) -> None:
        (root / "src").mkdir(parents=True)
        (root / "src" / "app.py").write_text(APP)
        (root / "template.yaml").write_text(TEMPLATE)
        self.root = root
        self.state = root / ".canaria"
        env = dict(os.environ, CANARIA_STATE=str(self.state), PYTHONUNBUFFERED="1")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "canaria.cli.main", "up", "--port", "0",
             "--control-port", "0"],
            cwd=root, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        )  # fmt: skip
        self.port = self.control_port = 0
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            if line.startswith("gateway "):
                self.port = int(line.rsplit(":", 1)[1])
            elif line.startswith("control "):
                self.control_port = int(line.split()[1].rsplit(":", 1)[1])
            elif line.startswith("dynamodb "):
                break
        if not self.port or not self.control_port:
            raise RuntimeError("canaria up did not start")

    def client(self, service: str, path: str = "") -> Any:
        token = (self.state / "token").read_text().strip()
        return boto3.client(
            service,
            endpoint_url=f"http://127.0.0.1:{self.control_port}{path}",
            region_name="us-east-1",
            aws_access_key_id=access_key_id(token),
            aws_secret_access_key=secret_access_key(token),
        )

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=30)


def http_round_trips(port: int, count: int, *, fresh: bool) -> list[float]:
    out: list[float] = []
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    for _ in range(count):
        if fresh:
            conn.close()
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        t = time.perf_counter()
        conn.request("GET", "/echo")
        conn.getresponse().read()
        out.append(time.perf_counter() - t)
    conn.close()
    return out


async def ws_round_trips(url: str, count: int) -> list[float]:
    out: list[float] = []
    message = json.dumps({"action": "echo", "n": 1})
    async with connect(url) as ws:
        for _ in range(count):
            t = time.perf_counter()
            await ws.send(message)
            await ws.recv()
            out.append(time.perf_counter() - t)
    return out


async def connects(url: str, count: int) -> list[float]:
    out: list[float] = []
    for _ in range(count):
        t = time.perf_counter()
        async with connect(url):
            pass
        out.append(time.perf_counter() - t)
    return out


async def posts(up: Up, url: str, count: int) -> tuple[list[float], list[float]]:
    """``PostToConnection`` until received, then ``GetFunction`` (the reference)."""
    management = up.client("apigatewaymanagementapi", "/bench")
    lam = up.client("lambda")
    async with connect(url) as ws:
        await ws.send(json.dumps({"action": "echo", "whoami": True}))
        connection_id = str(await ws.recv())
        posted: list[float] = []
        for i in range(count):
            t = time.perf_counter()
            await asyncio.to_thread(
                management.post_to_connection, ConnectionId=connection_id, Data=str(i).encode()
            )
            await ws.recv()
            posted.append(time.perf_counter() - t)
    reference: list[float] = []
    for _ in range(count):
        t = time.perf_counter()
        await asyncio.to_thread(lam.get_function, FunctionName="Echo")
        reference.append(time.perf_counter() - t)
    return posted, reference


async def one_run(count: int) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as tmp:
        up = Up(Path(tmp) / "app")
        try:
            url = f"ws://127.0.0.1:{up.port}/bench"
            http_round_trips(up.port, 50, fresh=False)  # warm environments
            await ws_round_trips(url, 50)
            http_rt = await asyncio.to_thread(http_round_trips, up.port, count, fresh=False)
            ws_rt = await ws_round_trips(url, count)
            fresh = await asyncio.to_thread(http_round_trips, up.port, count // 5, fresh=True)
            opened = await connects(url, count // 5)
            posted, reference = await posts(up, url, count)
        finally:
            up.stop()
    ms = 1000.0
    return {
        "http_p50": statistics.median(http_rt) * ms,
        "http_p90": pct(http_rt, 0.9) * ms,
        "ws_p50": statistics.median(ws_rt) * ms,
        "ws_p90": pct(ws_rt, 0.9) * ms,
        "fresh_p50": statistics.median(fresh) * ms,
        "connect_p50": statistics.median(opened) * ms,
        "post_p50": statistics.median(posted) * ms,
        "get_function_p50": statistics.median(reference) * ms,
    }


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=500)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    runs = []
    for i in range(args.runs):
        result = await one_run(args.count)
        runs.append(result)
        print(f"run {i + 1}: " + ", ".join(f"{k} {v:.2f}" for k, v in result.items()))
    med = {k: statistics.median(r[k] for r in runs) for k in runs[0]}
    print()
    print("| | reference p50 | WebSocket p50 | ratio |")
    print("|---|---:|---:|---:|")
    print(
        f"| round trip (HTTP request / message, p90 {med['http_p90']:.2f} / {med['ws_p90']:.2f}"
        f" ms) | {med['http_p50']:.2f} ms | {med['ws_p50']:.2f} ms"
        f" | {med['ws_p50'] / med['http_p50']:.2f}× |"
    )
    print(
        f"| connect (HTTP on a new connection / handshake with `$connect`) "
        f"| {med['fresh_p50']:.2f} ms | {med['connect_p50']:.2f} ms "
        f"| {med['connect_p50'] / med['fresh_p50']:.2f}× |"
    )
    print(
        f"| edge call (`GetFunction` / `PostToConnection` until received) "
        f"| {med['get_function_p50']:.2f} ms | {med['post_p50']:.2f} ms "
        f"| {med['post_p50'] / med['get_function_p50']:.2f}× |"
    )


if __name__ == "__main__":
    asyncio.run(main())
