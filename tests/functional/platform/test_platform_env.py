"""`canaria env` and `canaria exec`: a user's own boto3 script, with no endpoint or keys of
its own, reaches the edge."""

from __future__ import annotations

import json
import shlex
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from canaria.auth import access_key_id, secret_access_key
from tests.functional.harness import Canaria, copy_example

SCRIPT = """
import json, boto3
lam = boto3.client("lambda")
out = lam.invoke(FunctionName="HelloFunction", Qualifier="live", Payload=b"{}")
body = json.loads(json.loads(out["Payload"].read())["body"])
alias = lam.get_alias(FunctionName="HelloFunction", Name="live")
print(json.dumps({"version": out["ExecutedVersion"], "message": body["message"],
                  "alias": alias["FunctionVersion"], "region": lam.meta.region_name}))
"""


@pytest.fixture
def hello(tmp_path: Path) -> Iterator[Canaria]:
    app = copy_example("hello", tmp_path)
    c = Canaria(app / "template.yaml", tmp_path / "state").start()
    yield c
    c.stop()


def test_env_prints_the_exports_the_edge_accepts(hello: Canaria) -> None:
    r = hello.cli("env")
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[0] == "unset AWS_SESSION_TOKEN AWS_PROFILE"
    exported = dict(
        shlex.split(line.removeprefix("export "))[0].split("=", 1) for line in lines[1:]
    )
    token = hello.token()
    assert exported["AWS_ACCESS_KEY_ID"] == access_key_id(token)
    assert exported["AWS_SECRET_ACCESS_KEY"] == secret_access_key(token)
    assert exported["AWS_ENDPOINT_URL"] == f"http://127.0.0.1:{hello.control_port}"
    assert exported["AWS_ENDPOINT_URL_DYNAMODB"].startswith("http://127.0.0.1:")
    assert exported["AWS_REGION"] == exported["AWS_DEFAULT_REGION"] == "us-east-1"
    assert exported["AWS_DISABLE_HOST_PREFIX_INJECTION"] == "true"
    as_json = json.loads(hello.cli("env", "--json").stdout)
    assert as_json == exported


def test_exec_runs_an_unmodified_boto3_script_against_the_edge(hello: Canaria) -> None:
    # whatever AWS settings the caller's shell had, the command gets canaria's
    hello.env.update(
        AWS_ACCESS_KEY_ID="AKIAWRONGWRONGWRONG0",
        AWS_SECRET_ACCESS_KEY="wrong",
        AWS_SESSION_TOKEN="stale",
        AWS_DEFAULT_REGION="eu-west-3",
    )
    r = hello.cli("exec", "--", sys.executable, "-c", SCRIPT)
    assert r.returncode == 0, r.stderr
    got = json.loads(r.stdout)
    assert got == {"version": "1", "message": "hello from v1", "alias": "1", "region": "us-east-1"}


def test_exec_passes_the_exit_status_and_refuses_nothing_to_run(hello: Canaria) -> None:
    r = hello.cli("exec", "--", sys.executable, "-c", "raise SystemExit(7)")
    assert r.returncode == 7
    r = hello.cli("exec")
    assert r.returncode == 2 and "name a command to run" in r.stderr
    r = hello.cli("exec", "--", "no-such-command-here")
    assert r.returncode == 127 and "cannot run no-such-command-here" in r.stderr


def test_env_without_a_server_says_what_to_do(tmp_path: Path) -> None:
    r = subprocess.run(
        [sys.executable, "-m", "canaria.cli.main", "env"],
        env={"PATH": "/usr/bin:/bin", "CANARIA_STATE": str(tmp_path / "none")},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert r.returncode == 2 and "run `canaria up` there" in r.stderr


def test_exec_finds_the_state_in_a_directory_above(hello: Canaria, tmp_path: Path) -> None:
    # a test suite run from the application's src/ (where a Node.js project's package.json
    # is) reaches the canaria up of the application's directory, as git finds .git
    project = tmp_path / "project"
    (project / "src" / "tests").mkdir(parents=True)
    (project / ".canaria").symlink_to(hello.state)
    env = {k: v for k, v in hello.env.items() if k not in ("CANARIA_STATE", "CANARIA_ENDPOINT")}
    r = subprocess.run(
        [sys.executable, "-m", "canaria.cli.main", "exec", "--", sys.executable, "-c", SCRIPT],
        env=env,
        cwd=project / "src" / "tests",
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["message"] == "hello from v1"
