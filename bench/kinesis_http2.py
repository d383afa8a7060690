"""What HTTP/2 on the services relay costs: the SDK for JavaScript v3's Kinesis client as it
is (HTTP/2 with prior knowledge, each stream translated by the relay into one HTTP/1.1
exchange with moto) against the same client given the SDK's HTTP/1.1 handler (bytes piped
to moto as they come), in the same run.

    .venv/bin/python bench/kinesis_http2.py [--calls 300] [--concurrency 16] [--runs 5]

One ``canaria up`` (a child process) serves a template of one Kinesis stream. Each run
starts one ``node`` per client (``canaria exec``: the endpoints and keys every user
script gets; Node.js start-up is not timed) that first makes 20 untimed calls, then
``--calls`` ``PutRecord`` calls of 100 bytes one at a time, then ``--calls`` more with
``--concurrency`` in flight. The two clients alternate in order from run to run. The
table gives, per client, the medians over ``--runs`` of ms per call one at a time and of
calls per second with ``--concurrency`` in flight, and HTTP/2's figure ÷ HTTP/1.1's.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from up import Up

from canaria.npm import node_package

TEMPLATE = """\
Transform: AWS::Serverless-2016-10-31
Resources:
  Clicks:
    Type: AWS::Kinesis::Stream
    Properties: {Name: bench-clicks, ShardCount: 1}
"""

SCRIPT = """\
const kinesis = require(process.argv[2]);
const { NodeHttpHandler } = require(process.argv[3]);
const [mode, calls, concurrency] = [process.argv[4], Number(process.argv[5]),
                                    Number(process.argv[6])];
const client = new kinesis.KinesisClient(
  mode === 'http1' ? { requestHandler: new NodeHttpHandler() } : {});
const put = () => client.send(new kinesis.PutRecordCommand({
  StreamName: 'bench-clicks', PartitionKey: 'k', Data: Buffer.alloc(100, 120) }));
(async () => {
  for (let i = 0; i < 20; i++) await put();
  let t = performance.now();
  for (let i = 0; i < calls; i++) await put();
  const serial = (performance.now() - t) / calls;
  t = performance.now();
  let left = calls;
  const worker = async () => { while (left-- > 0) await put(); };
  await Promise.all(Array.from({ length: concurrency }, worker));
  const rate = calls / ((performance.now() - t) / 1000);
  console.log(JSON.stringify({ serial, rate }));
})().catch((e) => { console.error(e); process.exit(1); });
"""


def run_client(
    root: Path, script: Path, mode: str, calls: int, concurrency: int
) -> dict[str, float]:
    env = dict(os.environ, CANARIA_STATE=str(root / ".canaria"))
    env.pop("CANARIA_ENDPOINT", None)
    kinesis = node_package("@aws-sdk/client-kinesis")
    http = node_package("@smithy/node-http-handler")
    done = subprocess.run(
        [sys.executable, "-m", "canaria.cli.main", "exec", "--", "node", str(script),
         str(kinesis), str(http), mode, str(calls), str(concurrency)],
        env=env, cwd=root, capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip
    if done.returncode != 0:
        raise RuntimeError(f"{mode} client failed:\n{done.stdout}\n{done.stderr}")
    return json.loads(done.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=300)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="canaria-h2-") as tmp:
        root = Path(tmp)
        up = Up(root, {"template.yaml": TEMPLATE})
        script = root / "put.js"
        script.write_text(SCRIPT)
        results: dict[str, list[dict[str, float]]] = {"h2": [], "http1": []}
        try:
            for run in range(args.runs):
                order = ("h2", "http1") if run % 2 == 0 else ("http1", "h2")
                for mode in order:
                    results[mode].append(
                        run_client(root, script, mode, args.calls, args.concurrency)
                    )
        finally:
            up.stop()
    serial = {m: statistics.median(r["serial"] for r in rs) for m, rs in results.items()}
    rate = {m: statistics.median(r["rate"] for r in rs) for m, rs in results.items()}
    print(f"{args.calls} PutRecord calls per phase, medians of {args.runs} runs\n")
    print(f"| client | ms per call, one at a time | calls/s, {args.concurrency} in flight |")
    print("|---|---:|---:|")
    for mode, name in (("h2", "HTTP/2 (as the SDK is)"), ("http1", "HTTP/1.1 handler")):
        print(f"| {name} | {serial[mode]:.2f} | {rate[mode]:.0f} |")
    print(
        f"| HTTP/2 ÷ HTTP/1.1 | {serial['h2'] / serial['http1']:.2f} "
        f"| {rate['h2'] / rate['http1']:.2f} |"
    )


if __name__ == "__main__":
    main()
