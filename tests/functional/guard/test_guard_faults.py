"""Faults the guard meets on AWS: throttled APIs (back off, keep the evidence, say so), a
deployment that CodeDeploy finishes or someone else stops while the guard watches, and
the guard's process killed in the middle of a deployment."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest

from canaria.clock import ManualClock
from canaria.guard import (
    ActionStatus,
    AwsGuardClient,
    AwsStatus,
    Guard,
    GuardEvent,
    GuardOptions,
    GuardRecords,
    Mode,
)
from canaria.store import Store
from tests.functional.guard.standins import Loopback, Quiet
from tests.functional.guard.test_guard_local import (  # noqa: F401
    edge_client,
    hello,
    start_bad_canary,
)
from tests.functional.harness import Canaria


class Throttling:
    """A CodeDeploy endpoint on loopback that throttles ListDeployments while ``on``."""

    def __init__(self) -> None:
        self.on = True
        self.seen: list[str] = []
        outer = self

        class Handler(Quiet):
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
                self.answer(status, data, [("Content-Type", "application/x-amz-json-1.1")])

        self.http = Loopback(Handler)
        self.url = self.http.url

    def close(self) -> None:
        self.http.close()


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
    assert record.weight == 0.1  # Canary10Percent5Minutes, read again every 15 polls
    assert guard.client.calls["codedeploy:get_deployment_target"] >= 3
    assert guard.client.calls["codedeploy:stop_deployment"] == 0
    assert any("CodeDeploy reports Succeeded" in e.message for e in records.events(dep))
    # the minutes that settled were cross-checked with the edge's metrics, which agree
    assert guard.client.calls["cloudwatch:get_metric_data"] >= 1
    assert not [e.message for e in records.events(dep) if e.kind == "signals"]
    store.close()


class LambdaConfig:
    """Lambda's GetFunctionConfiguration on loopback: a function with its own log group,
    and one the caller may not read (AccessDeniedException)."""

    def __init__(self) -> None:
        class Handler(Quiet):
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
                self.answer(status, data, [("Content-Type", "application/json"), *headers.items()])

        self.http = Loopback(Handler)
        self.url = self.http.url

    def close(self) -> None:
        self.http.close()


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


def test_a_deployment_stopped_by_someone_else_is_recorded_untouched(
    hello: Canaria,  # noqa: F811
    tmp_path: Path,
) -> None:
    """An operator (or CodeDeploy's own alarm) stops the deployment while the guard
    watches: the guard records CodeDeploy's Stopped and never acts on it."""
    dep = start_bad_canary(hello)
    store = Store.open(str(tmp_path / "guard-state"))
    records = GuardRecords(store)
    guard = Guard(
        edge_client(hello), records, GuardOptions(stack="hello", mode=Mode.STOP), ManualClock(0)
    )
    guard.poll()
    watched = records.get(dep)
    assert watched is not None and watched.status is AwsStatus.IN_PROGRESS
    hello.aws("codedeploy").stop_deployment(deploymentId=dep, autoRollbackEnabled=True)
    for _ in range(5):  # the canary's failures before the stop are in the logs
        for _ in range(20):
            hello.http("GET", "/hello")
        hello.advance(1)
        guard.poll()
    record = records.get(dep)
    assert record is not None and record.status is AwsStatus.STOPPED
    assert record.action is None and record.action_status is ActionStatus.NONE
    assert guard.client.calls["codedeploy:stop_deployment"] == 0
    assert any("CodeDeploy reports Stopped" in e.message for e in records.events(dep))
    d = hello.api().get(f"/deployments/{dep}")
    assert d["state"] == "Stopped" and d["stopped_by"] == "user", d
    store.close()


def guard_process(c: Canaria, log: Path) -> subprocess.Popen[bytes]:
    """`canaria guard` as a long-running process on `canaria up`'s edge and store."""
    with open(log, "ab") as out:
        return subprocess.Popen(
            [
                sys.executable,
                "-m",
                "canaria.cli.main",
                "guard",
                "--stack",
                "hello",
                "--local",
                "--poll",
                "0.2",
                "--json",
            ],
            env=c.env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )


def guarded(c: Canaria, dep: str) -> dict[str, Any] | None:
    found: dict[str, Any] | None = {g["deployment_id"]: g for g in c.status()["guarded"]}.get(dep)
    return found


def test_a_guard_killed_mid_deployment_resumes_and_stops_it_once(
    hello: Canaria,  # noqa: F811
    tmp_path: Path,
) -> None:
    dep = start_bad_canary(hello)
    log = tmp_path / "guard.log"
    first = guard_process(hello, log)
    deadline = time.monotonic() + 60
    while guarded(hello, dep) is None:  # it watches the deployment ...
        assert first.poll() is None and time.monotonic() < deadline, log.read_text()
        time.sleep(0.1)
    first.kill()  # ... and dies (SIGKILL: nothing is saved on the way out)
    first.wait()
    seen = guarded(hello, dep)
    assert seen is not None and seen["action_status"] == "none"

    failed_while_down = 0  # the canary fails while nothing watches it
    for _ in range(3):
        for _ in range(20):
            failed_while_down += hello.http("GET", "/hello")[0] >= 500
        hello.advance(1)
    assert failed_while_down > 0

    second = guard_process(hello, log)  # resumes from the store and what the edge reports
    deadline = time.monotonic() + 120
    while (g := guarded(hello, dep)) is None or g["action_status"] != "done":
        assert second.poll() is None and time.monotonic() < deadline, log.read_text()
        for _ in range(20):
            hello.http("GET", "/hello")
        hello.advance(1)
        time.sleep(0.2)
    second.kill()
    second.wait()
    assert hello.api().get(f"/deployments/{dep}")["state"] == "Stopped"
    assert g["canary_errors"] >= failed_while_down  # read back from the logs

    hello.advance(1)
    third = hello.cli("guard", "--stack", "hello", "--local", "--once", "--json")  # once more
    assert third.returncode == 0, third.stderr
    assert "codedeploy:list_deployments" in third.stderr
    assert "stop_deployment" not in third.stderr, third.stderr  # never a second stop
    record = guarded(hello, dep)
    assert record is not None and record["status"] == "Stopped", record
    actions = [e for e in hello.api().get(f"/guarded/{dep}")["events"] if e["kind"] == "action"]
    assert [a["message"].split(" answered")[0] for a in actions] == [
        f"calling codedeploy StopDeployment(deploymentId={dep}, autoRollbackEnabled=True)",
        f"codedeploy StopDeployment(deploymentId={dep}, autoRollbackEnabled=True)",
    ], actions
