"""What a durable execution costs against a plain invocation, through a real ``canaria up``.

    .venv/bin/python bench/durable_executions.py [--calls 30] [--runs 3]

One ``canaria up --time-scale 60`` (a child process) serves a plain Python function and
durable ones written with AWS's Python durable execution SDK. Each case is a synchronous
``Invoke`` with boto3 through the edge, ``--calls`` times per run; the median ms per
``Invoke`` over ``--runs`` runs is printed with its ratio to the plain function's in the
same run (the machine is shared: compare ratios, not milliseconds, across sessions), and
the part of it the handler's invocations took (the sum of their ``REPORT`` durations per
execution): the rest is the service's and canaria's.

- ``plain``: a function that returns at once (the reference);
- ``durable, no operation``: an execution that returns at once: the service starts it,
  invokes the handler once with its state, and canaria waits for its end;
- ``durable, 5 steps``: five ``context.step`` calls, each one checkpoint through the edge;
- ``durable, chained invoke``: ``context.invoke`` of the plain function: the handler
  suspends, the service invokes the target, then replays the handler;
- ``durable, wait 60 s``: ``context.wait`` of one virtual minute, one wall second at the
  time scale; what is over 1,000 ms is the timer's lateness and the replay.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import boto3

from canaria.auth import access_key_id, secret_access_key

PY = f"python{sys.version_info.major}.{sys.version_info.minor}"

TEMPLATE = f"""\
Transform: AWS::Serverless-2016-10-31
Globals:
  Function: {{CodeUri: src, Runtime: {PY}, Timeout: 30}}
Resources:
  Plain:
    Type: AWS::Serverless::Function
    Properties: {{Handler: app.plain}}
  Durable:
    Type: AWS::Serverless::Function
    Properties:
      Handler: app.durable
      DurableConfig: {{ExecutionTimeout: 300}}
      Environment: {{Variables: {{PLAIN: !Ref Plain}}}}
"""

APP = """\
import os

from aws_durable_execution_sdk_python import DurableContext, durable_execution
from aws_durable_execution_sdk_python.config import Duration


def plain(event, context):
    return 1


@durable_execution
def durable(event, context: DurableContext):
    kind = event["kind"]
    if kind == "steps":
        return sum(context.step(lambda _, i=i: i, name=f"s{i}") for i in range(5))
    if kind == "invoke":
        return context.invoke(os.environ["PLAIN"], {}, name="plain")
    if kind == "wait":
        context.wait(Duration.from_seconds(60), name="minute")
    return 0
"""

CASES: list[tuple[str, str, dict[str, Any]]] = [
    ("plain", "Plain", {}),
    ("durable, no operation", "Durable", {"kind": "none"}),
    ("durable, 5 steps", "Durable", {"kind": "steps"}),
    ("durable, chained invoke", "Durable", {"kind": "invoke"}),
    ("durable, wait 60 s", "Durable", {"kind": "wait"}),
]


class Up:
    """One ``canaria up --time-scale 60`` child on free ports, in a temporary folder."""

    def __init__(self, root: Path) -> None:
        (root / "src").mkdir(parents=True)
        (root / "src" / "app.py").write_text(APP)
        (root / "template.yaml").write_text(TEMPLATE)
        self.state = root / ".canaria"
        env = dict(os.environ, CANARIA_STATE=str(self.state), PYTHONUNBUFFERED="1")
        self.log = open(root / "up.log", "w")  # noqa: SIM115 - closed in stop
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "canaria.cli.main", "up", "--port", "0",
             "--control-port", "0", "--time-scale", "60"],
            cwd=root, env=env, stdout=self.log, stderr=subprocess.STDOUT,
        )  # fmt: skip
        endpoint = self.state / "endpoint"
        deadline = time.monotonic() + 120
        while not (endpoint.exists() and endpoint.read_text().endswith("\n")):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"canaria up did not start: {(root / 'up.log').read_text()}")
            time.sleep(0.1)
        self.url = endpoint.read_text().strip()

    def lambda_client(self) -> Any:
        token = (self.state / "token").read_text().strip()
        return boto3.client(
            "lambda",
            endpoint_url=self.url,
            region_name="us-east-1",
            aws_access_key_id=access_key_id(token),
            aws_secret_access_key=secret_access_key(token),
        )

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=30)
        self.log.close()


def handler_ms(up: Up, function: str) -> list[float]:
    """The durations of ``function``'s invocations so far, from its ``REPORT`` lines."""
    log = up.state / "logs" / f"{function}.log"
    text = log.read_text() if log.exists() else ""
    return [float(line.split("Duration: ")[1].split(" ms")[0]) for line in text.splitlines()
            if " REPORT RequestId" in line]  # fmt: skip


def one_run(up: Up, lam: Any, calls: int) -> dict[str, tuple[float, float]]:
    """Each case's median ms per Invoke, and its handlers' ms per execution."""
    out: dict[str, tuple[float, float]] = {}
    for name, function, event in CASES:
        payload = json.dumps(event).encode()
        lam.invoke(FunctionName=function, Payload=payload)  # warm: an environment started
        took: list[float] = []
        count = calls if "wait" not in name else max(3, calls // 10)
        before = handler_ms(up, function)
        for _ in range(count):
            began = time.perf_counter()
            r = lam.invoke(FunctionName=function, Payload=payload)
            took.append((time.perf_counter() - began) * 1000)
            if "FunctionError" in r:
                raise RuntimeError(f"{name}: {r['Payload'].read()!r}")
        time.sleep(0.3)  # the last REPORT line written
        ran = handler_ms(up, function)[len(before) :]
        if function == "Durable":  # its chained invocations of Plain are in Plain's log
            ran += handler_ms(up, "Plain")[-count:] if "invoke" in name else []
        out[name] = (statistics.median(took), sum(ran) / count)
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--calls", type=int, default=30)
    p.add_argument("--runs", type=int, default=3)
    args = p.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        up = Up(Path(tmp))
        try:
            lam = up.lambda_client()
            runs = [one_run(up, lam, args.calls) for _ in range(args.runs)]
        finally:
            up.stop()
    print(f"median ms per synchronous Invoke, {args.runs} runs of {args.calls} calls")
    print(f"{'case':28} {'ms':>9} {'× plain':>9} {'handlers ms':>12} {'the rest ms':>12}")
    for name, _, _ in CASES:
        total = statistics.median(r[name][0] for r in runs)
        ratio = statistics.median(r[name][0] / r["plain"][0] for r in runs)
        handlers = statistics.median(r[name][1] for r in runs)
        print(f"{name:28} {total:9.1f} {ratio:9.1f} {handlers:12.1f} {total - handlers:12.1f}")


if __name__ == "__main__":
    main()
