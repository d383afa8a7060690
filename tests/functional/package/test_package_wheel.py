"""The package works installed, away from any checkout: the wheel is built, installed into
a fresh venv under a temporary directory, `canaria setup` installs the npm packages there,
and `canaria up` serves a function writing to a DynamoDB table, and the dashboard.

The new venv sees this environment's third-party packages through a ``.pth`` line (the
dependencies are not what is tested, and a download would make the test slow and
network-bound); canaria itself is the wheel's copy, and the test checks it is.
"""

from __future__ import annotations

import http.client
import json
import os
import signal
import subprocess
import sys
import sysconfig
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]

pytestmark = pytest.mark.slow
PORTS_BOUND_BY_THE_SERVER = ("--port", "0", "--control-port", "0")

TEMPLATE = """\
AWSTemplateFormatVersion: "2010-09-09"
Transform: AWS::Serverless-2016-10-31
Resources:
  Items:
    Type: AWS::DynamoDB::Table
    Properties:
      TableName: items
      BillingMode: PAY_PER_REQUEST
      AttributeDefinitions: [{AttributeName: id, AttributeType: S}]
      KeySchema: [{AttributeName: id, KeyType: HASH}]
  Store:
    Type: AWS::Serverless::Function
    Properties:
      Runtime: python3.11
      Handler: app.handler
      CodeUri: src
      AutoPublishAlias: live
      Environment: {Variables: {TABLE: !Ref Items}}
      Events:
        Put: {Type: HttpApi, Properties: {Path: "/items/{id}", Method: PUT}}
"""

HANDLER = """\
import json, os
import boto3

table = boto3.resource("dynamodb").Table(os.environ["TABLE"])

def handler(event, context):
    key = event["pathParameters"]["id"]
    table.put_item(Item={"id": key, "body": event.get("body") or ""})
    return {"statusCode": 200, "body": json.dumps(table.get_item(Key={"id": key})["Item"])}
"""


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh venv with the wheel of this tree installed; returns its bin directory."""
    where = tmp_path_factory.mktemp("installed")
    dist = where / "dist"
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(dist), str(ROOT)],
        check=True,
        capture_output=True,
        timeout=600,
    )
    (wheel,) = dist.glob("canaria-*.whl")
    venv = where / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=300)
    bin_dir = venv / "bin"
    purelib = subprocess.run(
        [bin_dir / "python", "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    (Path(purelib) / "deps.pth").write_text(sysconfig.get_path("purelib") + "\n")
    subprocess.run(
        [bin_dir / "python", "-m", "pip", "install", "-q", "--no-deps", "--no-index", str(wheel)],
        check=True,
        capture_output=True,
        timeout=300,
    )
    found = subprocess.run(
        [bin_dir / "python", "-c", "import canaria; print(canaria.__file__)"],
        check=True,
        capture_output=True,
        text=True,
        cwd=where,
    ).stdout.strip()
    assert found.startswith(str(venv)), found  # the wheel's copy, not the checkout
    return bin_dir


def clean_env(state: Path) -> dict[str, str]:
    keep = ("PATH", "HOME", "LANG", "TMPDIR")
    env = {k: v for k, v in os.environ.items() if k in keep}
    env["CANARIA_STATE"] = str(state)
    return env


@pytest.fixture
def served(installed: Path, tmp_path: Path) -> Iterator[tuple[Path, dict[str, str], str]]:
    app = tmp_path / "app"
    (app / "src").mkdir(parents=True)
    (app / "template.yaml").write_text(TEMPLATE)
    (app / "src" / "app.py").write_text(HANDLER)
    env = clean_env(tmp_path / "state")
    setup = subprocess.run(
        [installed / "canaria", "setup"], env=env, capture_output=True, text=True, timeout=600
    )
    assert setup.returncode == 0, setup.stderr
    assert str(installed.parent / "share" / "canaria" / "node_modules") in setup.stdout
    log = tmp_path / "up.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [installed / "canaria", "up", "-t", "template.yaml", *PORTS_BOUND_BY_THE_SERVER],
            cwd=app,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        yield app, env, wait_for_gateway(proc, log)
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def wait_for_gateway(proc: subprocess.Popen[bytes], log: Path) -> str:
    """The gateway's address, from what `canaria up` prints once it serves."""
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        for line in log.read_text(errors="replace").splitlines():
            if line.startswith("gateway "):
                return line.split()[1]
        if proc.poll() is not None:
            break
        time.sleep(0.1)
    raise AssertionError(f"canaria up did not start:\n{log.read_text(errors='replace')}")


def request(base: str, method: str, path: str, body: bytes | None = None) -> tuple[int, bytes]:
    host, port = base.removeprefix("http://").rsplit(":", 1)
    conn = http.client.HTTPConnection(host, int(port), timeout=30)
    try:
        conn.request(method, path, body=body)
        resp = conn.getresponse()
        return resp.status, resp.read()
    finally:
        conn.close()


def test_the_installed_wheel_serves_a_table_and_the_dashboard(
    served: tuple[Path, dict[str, str], str], installed: Path
) -> None:
    _app, env, gateway = served
    status, body = request(gateway, "PUT", "/items/a1", b"kept")
    assert status == 200, body
    assert json.loads(body) == {"id": "a1", "body": "kept"}

    state = Path(env["CANARIA_STATE"])
    control = (state / "endpoint").read_text().strip()
    token = (state / "token").read_text().strip()
    status, page = request(control, "GET", f"/?token={token}")
    assert status in (200, 303), page
    host, port = control.removeprefix("http://").rsplit(":", 1)
    conn = http.client.HTTPConnection(host, int(port), timeout=30)
    conn.request("GET", "/static/uplot.js", headers={"Authorization": f"Bearer {token}"})
    resp = conn.getresponse()
    assert resp.status == 200 and len(resp.read()) > 10_000  # served from node_modules
    conn.close()

    out = subprocess.run(
        [installed / "canaria", "status", "--json"], env=env, capture_output=True, text=True
    )
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["functions"]["Store"]["aliases"][0]["split"] == {"1": 1.0}


def test_the_installed_wheel_runs_the_demo(installed: Path, tmp_path: Path) -> None:
    env = clean_env(tmp_path / "unused")
    done = subprocess.run(
        [installed / "canaria", "demo"],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "HelloFunction:live now serves" in done.stdout
