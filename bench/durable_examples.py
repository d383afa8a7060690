"""AWS's own durable-function examples and their integration suite, run against canaria.

    .venv/bin/python bench/durable_examples.py DIR [--time-scale 1] [-- PYTEST ARGS]

DIR is a checkout (or extract) of aws/aws-durable-execution-sdk-python holding
``packages/aws-durable-execution-sdk-python-examples``; it is third-party code, fetched by
whoever runs the bench and never committed. The examples package is copied to a temporary
directory and prepared as its test README says for a deployment: the SAM template written
by its own ``scripts/generate_sam_template.py``, the example files flattened into
``build/`` (without the SDK packages its build vendors: the functions get canaria's). Then
one ``canaria up`` serves the template, unedited, with the Lambda endpoint parameter set to
canaria's edge, and the suite runs with ``--runner-mode=cloud`` against that edge, its
function names from its own ``scripts/generate_function_name_map.py``. ``test/otel`` and
``test/plugin`` are left out: they need packages that are not released. Prints pytest's
summary line and every failure's first assertion line.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from canaria.auth import access_key_id, secret_access_key

EXAMPLES = Path("packages/aws-durable-execution-sdk-python-examples")
PARAMETERS = (
    "PythonRuntime=python3.13 FunctionNamePrefix=PythonTest- "
    "LambdaExecutionRoleArn=arn:aws:iam::123456789012:role/examples "
    "AdotLayerArn=arn:aws:lambda:us-east-1:123456789012:layer:adot:1"
)


def prepare(source: Path, into: Path) -> Path:
    """The examples package, built for a deployment as its README says."""
    shutil.copytree(source / EXAMPLES, into, ignore=shutil.ignore_patterns("build", ".canaria"))
    build = into / "build"
    build.mkdir()
    for path in (into / "src").rglob("*"):
        if path.is_file():
            shutil.copy2(path, build / path.name)  # the catalog's handlers are flat modules
    subprocess.run(
        [sys.executable, "scripts/generate_sam_template.py", "--output", "template.json"],
        cwd=into, check=True, capture_output=True,
    )  # fmt: skip
    return into / "template.json"


def start(root: Path, template: Path, edge_port: int, time_scale: float) -> subprocess.Popen[bytes]:
    env = dict(os.environ, CANARIA_STATE=str(root / ".canaria"))
    args = [
        sys.executable, "-m", "canaria.cli.main", "up", "-t", str(template), "--port", "0",
        "--control-port", str(edge_port), "--time-scale", str(time_scale),
        "--parameter-overrides",
        f"{PARAMETERS} LambdaEndpoint=http://127.0.0.1:{edge_port}",
    ]  # fmt: skip
    log = open(root / "up.log", "wb")  # noqa: SIM115 - the child holds it
    proc = subprocess.Popen(args, cwd=root, env=env, stdout=log, stderr=subprocess.STDOUT)
    endpoint = root / ".canaria" / "endpoint"
    deadline = time.monotonic() + 300
    while not (endpoint.exists() and endpoint.read_text().endswith("\n")):
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            raise RuntimeError(f"canaria up did not start: {(root / 'up.log').read_text()[-2000:]}")
        time.sleep(0.2)
    return proc


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("source", type=Path, help="a checkout of aws/aws-durable-execution-sdk-python")
    p.add_argument("--time-scale", type=float, default=1.0)
    p.add_argument("--edge-port", type=int, default=0, help="the edge's port (0: a free one)")
    p.add_argument("pytest_args", nargs="*", help="after --: more pytest arguments")
    args = p.parse_args()
    port = args.edge_port
    if not port:
        from canaria.ports import free_port

        port = free_port()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "examples"
        template = prepare(args.source, root)
        proc = start(root, template, port, args.time_scale)
        try:
            token = (root / ".canaria" / "token").read_text().strip()
            names = subprocess.run(
                [sys.executable, "generate_function_name_map.py", "--function-name-prefix",
                 "PythonTest-"],
                cwd=root / "scripts", check=True, capture_output=True, text=True,
            ).stdout  # fmt: skip
            env = dict(
                os.environ,
                LAMBDA_ENDPOINT=f"http://127.0.0.1:{port}",
                AWS_REGION="us-east-1",
                AWS_ACCESS_KEY_ID=access_key_id(token),
                AWS_SECRET_ACCESS_KEY=secret_access_key(token),
                PYTEST_FUNCTION_NAME_MAP=json.dumps(json.loads(names)),
            )
            env.pop("AWS_PROFILE", None)
            run = subprocess.run(
                [sys.executable, "-m", "pytest", "--runner-mode=cloud", "-q", "-p",
                 "no:cacheprovider", "-W", "ignore", "test/", "--ignore=test/otel",
                 "--ignore=test/plugin", *args.pytest_args],
                cwd=root, env=env, capture_output=True, text=True, timeout=3600,
            )  # fmt: skip
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=60)
    lines = run.stdout.splitlines()
    for line in lines:
        if line.startswith(("FAILED", "ERROR")):
            print(line[:200])
    print(
        next((x for x in reversed(lines) if " in " in x and ("passed" in x or "failed" in x)), "?")
    )


if __name__ == "__main__":
    main()
