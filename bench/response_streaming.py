"""What a streamed response gives and costs: a ``RESPONSE_STREAM`` function URL against a
``BUFFERED`` one of the same Node.js handler, in the same run.

    .venv/bin/python bench/response_streaming.py [--runs 5] [--wrk-seconds 3]

A real ``canaria up`` (a child process) serves two functions with the same
``awslambda.streamifyResponse`` handler, one behind a streamed URL, one behind a buffered
URL (the reference). It answers with HTTP metadata (``HttpResponseStream.from``), which
a buffered URL maps as a proxy response. The handler's query picks what it writes:

- ``?ttfb``: a first piece, then 300 ms of work, then the rest: time to the first body
  byte and to the end, on each URL;
- ``?large``: 5 MB in 64 KB writes, at once: time to the end (MB/s) on each URL;
- ``?small``: ``hello``, loaded with ``wrk`` (16 connections, ``--wrk-seconds``):
  requests per second and platform CPU per request on each URL.

Prints a Markdown table of the medians over ``--runs`` and the ratios streamed/buffered.
"""

from __future__ import annotations

import argparse
import http.client
import shutil
import statistics
import tempfile
import time
import urllib.parse
from pathlib import Path

from up import Up, wrk

TEMPLATE = """\
AWSTemplateFormatVersion: "2010-09-09"
Transform: AWS::Serverless-2016-10-31
Globals:
  Function: {Handler: index.handler, Runtime: nodejs20.x, CodeUri: node, MemorySize: 512}
Resources:
  Streamed:
    Type: AWS::Serverless::Function
    Properties:
      FunctionUrlConfig: {AuthType: NONE, InvokeMode: RESPONSE_STREAM}
  Buffered:
    Type: AWS::Serverless::Function
    Properties:
      FunctionUrlConfig: {AuthType: NONE, InvokeMode: BUFFERED}
"""

HANDLER = """\
const PIECE = Buffer.alloc(64 * 1024, 'x');
exports.handler = awslambda.streamifyResponse(async (event, responseStream) => {
  const mode = event.rawQueryString;
  const head = { statusCode: 200, headers: { 'Content-Type': 'text/plain' } };
  const stream = awslambda.HttpResponseStream.from(responseStream, head);
  if (mode === 'ttfb') {
    stream.write('first\\n');
    await new Promise((resolve) => setTimeout(resolve, 300));
    stream.write('rest\\n');
  } else if (mode === 'large') {
    for (let i = 0; i < 80; i++) {
      if (!stream.write(PIECE)) await new Promise((resolve) => stream.once('drain', resolve));
    }
  } else {
    stream.write('hello');
  }
  stream.end();
});
"""

LARGE_BYTES = 80 * 64 * 1024


def timed_get(url: str, query: str) -> tuple[float, float, int]:
    """Seconds to the first body byte and to the end, and the body's size."""
    parts = urllib.parse.urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=60)
    try:
        started = time.perf_counter()
        conn.request("GET", "/?" + query)
        answer = conn.getresponse()
        first = answer.read1(65536)
        first_at = time.perf_counter()
        size = len(first) + len(answer.read())
        return first_at - started, time.perf_counter() - started, size
    finally:
        conn.close()


def one_run(urls: dict[str, str], up: Up, wrk_seconds: int) -> dict[str, float]:
    row: dict[str, float] = {}
    for name, url in urls.items():
        timed_get(url, "small")  # warm: the environment is started
        ttfb, total, _ = timed_get(url, "ttfb")
        row[f"{name} ttfb ms"] = ttfb * 1000
        row[f"{name} end ms"] = total * 1000
        _, total, size = timed_get(url, "large")
        assert size == LARGE_BYTES, size
        row[f"{name} MB/s"] = size / total / 1e6
        if shutil.which("wrk"):
            port = int(urllib.parse.urlsplit(url).port or 0)
            cpu = up.cpu_seconds()
            rate = wrk(port, "/?small", wrk_seconds)
            used = up.cpu_seconds() - cpu
            row[f"{name} req/s"] = rate
            row[f"{name} CPU us/request"] = used / (rate * wrk_seconds) * 1e6
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--wrk-seconds", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="canaria-streaming-") as tmp:
        up = Up(Path(tmp), {"template.yaml": TEMPLATE, "node/index.js": HANDLER})
        try:
            urls = {}
            for line in up.starting("url"):
                address, owner = line.split()[1], line.split("(", 1)[1]
                urls["streamed" if owner.startswith("Streamed") else "buffered"] = address
            rows = [one_run(urls, up, args.wrk_seconds) for _ in range(args.runs)]
        finally:
            up.stop()
    print(f"| measure (median of {args.runs}) | streamed | buffered | streamed / buffered |")
    print("|---|---:|---:|---:|")
    for measure in [k.split(" ", 1)[1] for k in rows[0] if k.startswith("streamed ")]:
        streamed = statistics.median(r[f"streamed {measure}"] for r in rows)
        buffered = statistics.median(r[f"buffered {measure}"] for r in rows)
        print(f"| {measure} | {streamed:,.1f} | {buffered:,.1f} | {streamed / buffered:.2f} |")


if __name__ == "__main__":
    main()
