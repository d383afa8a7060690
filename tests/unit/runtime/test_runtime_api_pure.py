"""The Runtime API's pure parts, the runtime catalogue and the dependency keys."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import orjson
import pytest

from canaria import runtimes
from canaria.runtime.api_process import _error_payload
from canaria.runtime.deps import npm_key, pip_key
from canaria.runtime.runtime_api import MAX_RESPONSE_BYTES, Event, sweep_socket_dirs


def test_next_answer_carries_lambdas_headers() -> None:
    event = Event(
        "rid-1", 1700000000123, "arn:aws:lambda:us-east-1:1:function:F:live", "Root=1", b"{}"
    )
    head = event.head().decode()
    assert head.startswith("HTTP/1.1 200 OK\r\n") and head.endswith("\r\n\r\n")
    assert "Lambda-Runtime-Aws-Request-Id: rid-1\r\n" in head
    assert "Lambda-Runtime-Deadline-Ms: 1700000000123\r\n" in head
    assert "Lambda-Runtime-Invoked-Function-Arn: arn:aws:lambda:us-east-1:1:function:F:live" in head
    assert "Lambda-Runtime-Trace-Id: Root=1\r\n" in head and "Content-Length: 2\r\n" in head
    assert "Client-Context" not in head and "Cognito-Identity" not in head
    full = Event("r", 1, "a", "t", b"", client_context='{"c":1}', cognito_identity='{"i":2}')
    text = full.head().decode()
    assert 'Lambda-Runtime-Client-Context: {"c":1}' in text
    assert 'Lambda-Runtime-Cognito-Identity: {"i":2}' in text


def test_response_limit_is_lambdas() -> None:
    assert MAX_RESPONSE_BYTES == 6291556


def test_error_payloads_take_lambdas_shape() -> None:
    shaped = {"errorMessage": "m", "errorType": "E", "trace": ["x"]}
    assert orjson.loads(_error_payload(orjson.dumps(shaped), "Other")) == shaped
    typed = orjson.loads(_error_payload(b'{"errorMessage": "m"}', "Custom.Type"))
    assert typed == {"errorMessage": "m", "errorType": "Custom.Type"}
    assert orjson.loads(_error_payload(b"plain text", None)) == {
        "errorMessage": "plain text",
        "errorType": "Runtime.Unknown",
    }


@pytest.mark.parametrize(
    ("runtime", "family", "v2"),
    [
        ("python3.12", runtimes.Family.PYTHON, False),
        ("nodejs20.x", runtimes.Family.NODEJS, False),
        ("nodejs18.x", runtimes.Family.NODEJS, False),
        ("nodejs16.x", runtimes.Family.NODEJS, True),
        ("nodejs8.10", runtimes.Family.NODEJS, True),
        ("provided", runtimes.Family.PROVIDED, False),
        ("provided.al2", runtimes.Family.PROVIDED, False),
        ("provided.al2023", runtimes.Family.PROVIDED, False),
        ("java21", None, False),
        ("nodejs", None, False),
        ("python2.7", None, False),
    ],
)
def test_runtime_catalogue(runtime: str, family: runtimes.Family | None, v2: bool) -> None:
    assert runtimes.family(runtime) is family
    assert runtimes.bundles_sdk_v2(runtime) is v2


def test_bootstrap_problems_name_the_file(tmp_path: Path) -> None:
    assert "no 'bootstrap' file" in (runtimes.bootstrap_problem(str(tmp_path)) or "")
    (tmp_path / "bootstrap").mkdir()
    assert "is not a file" in (runtimes.bootstrap_problem(str(tmp_path)) or "")
    (tmp_path / "bootstrap").rmdir()
    (tmp_path / "bootstrap").write_text("#!/bin/sh\n")
    assert "chmod +x" in (runtimes.bootstrap_problem(str(tmp_path)) or "")
    (tmp_path / "bootstrap").chmod(0o755)
    assert runtimes.bootstrap_problem(str(tmp_path)) is None


def test_dependency_keys_follow_the_manifest_not_the_code(tmp_path: Path) -> None:
    req = tmp_path / "requirements.txt"
    req.write_text("requests==2.32.3\n")
    pkg = tmp_path / "package.json"
    pkg.write_text('{"dependencies": {"uuid": "^9"}}')
    pip1, npm1 = pip_key(req), npm_key(pkg)
    (tmp_path / "app.py").write_text("changed code\n")
    assert (pip_key(req), npm_key(pkg)) == (pip1, npm1)
    req.write_text("requests==2.32.4\n")
    assert pip_key(req) != pip1
    (tmp_path / "package-lock.json").write_text("{}")
    assert npm_key(pkg) != npm1  # the lockfile decides too


def test_socket_directories_a_killed_canaria_left_are_removed(tmp_path: Path) -> None:
    """A canaria killed before it stopped its Node.js environments leaves their socket
    directories behind: the next one removes those whose process is gone, only those."""
    gone = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True,
        text=True,
        check=True,
    )
    dead = tmp_path / f"canaria-runtime-{gone.stdout.strip()}-abc"
    alive = tmp_path / f"canaria-runtime-{os.getpid()}-def"
    other = tmp_path / "canaria-runtime-notapid"
    for d in (dead, alive, other):
        d.mkdir()
        (d / "api.sock").write_text("")
    assert sweep_socket_dirs(str(tmp_path)) == [str(dead)]
    assert not dead.exists() and alive.exists() and other.exists()
