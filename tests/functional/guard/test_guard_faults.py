"""Faults the guard meets on AWS: throttled APIs (back off, keep the evidence, say so),
and a deployment that CodeDeploy finishes on its own while the guard watches."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import boto3
import pytest

from canaria.clock import ManualClock
from canaria.guard import (
    AwsGuardClient,
    AwsStatus,
    Guard,
    GuardEvent,
    GuardOptions,
    GuardRecords,
    Mode,
)
from canaria.store import Store
from tests.functional.guard.test_guard_local import edge_client, hello  # noqa: F401
from tests.functional.harness import Canaria


class Throttling:
    """A CodeDeploy endpoint on loopback that throttles ListDeployments while ``on``."""

    def __init__(self) -> None:
        self.on = True
        self.seen: list[str] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                target = self.headers.get("X-Amz-Target", "").split(".")[-1]
                self.rfile.read(int(self.headers.get("Content-Length", "0")))
                outer.seen.append(target)
                if target == "ListDeploymentGroups":
                    status, body = 200, {"deploymentGroups": ["G"]}
                elif target == "ListDeployments" and outer.on:
                    status, body = (
                        400,
                        {"__type": "ThrottlingException", "message": "Rate exceeded"},
                    )
                else:
                    status, body = 200, {"deployments": []}
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/x-amz-json-1.1")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def throttling() -> Iterator[Throttling]:
    t = Throttling()
    yield t
    t.close()


def test_throttled_polls_back_off_and_say_so(throttling: Throttling, tmp_path: Path) -> None:
    session = boto3.session.Session(
        aws_access_key_id="k", aws_secret_access_key="s", region_name="eu-west-1"
    )
    client = AwsGuardClient(session=session, endpoint_url=throttling.url, max_attempts=2)
    events: list[GuardEvent] = []
    store = Store.open(str(tmp_path / "state"))
    guard = Guard(
        client,
        GuardRecords(store),
        GuardOptions(application="app", mode=Mode.STOP, poll_s=2.0),
        ManualClock(0.0),
        on_event=events.append,
    )
    assert guard.poll() == [] and guard.poll() == []
    assert throttling.seen.count("ListDeployments") >= 4  # botocore retried each call
    assert guard.next_delay() == 8.0  # two throttled polls in a row: 2 s × 2²
    assert "throttled" in events[-1].message and "evidence kept" in events[-1].message
    throttling.on = False
    assert guard.poll() == []
    assert guard.next_delay() == 2.0
    store.close()


def test_a_deployment_codedeploy_finishes_is_recorded_untouched(
    hello: Canaria,  # noqa: F811
    tmp_path: Path,
) -> None:
    r = hello.cli(
        "deploy", "-t", str(hello.template), "--parameter-overrides", "AppVersion=v2", "--json"
    )
    assert r.returncode == 0, r.stderr
    dep = json.loads(r.stdout)["deployments"][0]["id"]
    store = Store.open(str(tmp_path / "guard-state"))
    records = GuardRecords(store)
    guard = Guard(
        edge_client(hello), records, GuardOptions(stack="hello", mode=Mode.STOP), ManualClock(0)
    )
    deadline = time.monotonic() + 300  # the hook's cold start and 300 virtual seconds
    while time.monotonic() < deadline:
        guard.poll()
        record = records.get(dep)
        if record is not None and record.status is AwsStatus.SUCCEEDED:
            break
        for _ in range(5):
            assert hello.http("GET", "/hello")[0] == 200
        hello.advance(5)
    assert record is not None and record.status is AwsStatus.SUCCEEDED
    assert record.verdict is None and record.action is None
    assert guard.client.calls["codedeploy:stop_deployment"] == 0
    assert any("CodeDeploy reports Succeeded" in e.message for e in records.events(dep))
    store.close()


class LambdaConfig:
    """Lambda's GetFunctionConfiguration on loopback: a function with its own log group,
    and one the caller may not read (AccessDeniedException)."""

    def __init__(self) -> None:
        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                if "/functions/custom/" in self.path:
                    status, body = (
                        200,
                        {
                            "FunctionName": "custom",
                            "LoggingConfig": {"LogFormat": "JSON", "LogGroup": "/custom/hello"},
                        },
                    )
                    headers = {}
                else:
                    status, body = 403, {"Type": "User", "message": "not authorized"}
                    headers = {"X-Amzn-ErrorType": "AccessDeniedException"}
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                for k, v in headers.items():
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def test_the_log_group_comes_from_the_function_s_logging_config() -> None:
    lam = LambdaConfig()
    session = boto3.session.Session(
        aws_access_key_id="k", aws_secret_access_key="s", region_name="eu-west-1"
    )
    client = AwsGuardClient(session=session, endpoint_url=lam.url, max_attempts=1)
    try:
        assert client.log_group("custom") == "/custom/hello"
        assert client.log_group("plain") == "/aws/lambda/plain"  # not allowed to look
        client.log_group("custom")
        assert client.calls["lambda:get_function_configuration"] == 2  # asked once each
    finally:
        lam.close()
