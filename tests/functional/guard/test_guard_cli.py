"""`canaria guard` as a user runs it: rehearsed with --local against `canaria up`, shown
in `canaria status`; bad input and missing credentials get a message and exit 2."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.functional.guard.test_guard_local import start_bad_canary
from tests.functional.harness import Canaria, copy_example


@pytest.fixture
def hello(tmp_path: Path) -> Iterator[Canaria]:
    app = copy_example("hello", tmp_path)
    template = app / "template.yaml"
    template.write_text(template.read_text().replace("Threshold: 5", "Threshold: 100000"))
    c = Canaria(template, tmp_path / "state").start()
    yield c
    c.stop()


def test_dry_run_then_act_against_the_local_edge_shows_in_status(hello: Canaria) -> None:
    dep = start_bad_canary(hello)
    decided = False
    for _ in range(100):
        for _ in range(20):
            hello.http("GET", "/hello")
        hello.advance(1)
        r = hello.cli("guard", "--stack", "hello", "--local", "--dry-run", "--once", "--json")
        assert r.returncode == 0, r.stderr
        events = [json.loads(line) for line in r.stdout.splitlines()]
        if any("would call codedeploy StopDeployment" in e["message"] for e in events):
            decided = True
            break
    assert decided
    assert "AWS calls:" in r.stderr and "logs:filter_log_events" in r.stderr
    status = hello.status()
    guarded = {g["deployment_id"]: g for g in status["guarded"]}
    assert guarded[dep]["verdict"] == "ROLLBACK" and guarded[dep]["action_status"] == "would"
    assert guarded[dep]["weight"] == 0.1
    assert guarded[dep]["evidence"]["errors"] >= 300  # crossed M/α = 3/0.01
    assert hello.api().get(f"/deployments/{dep}")["state"] == "AllowTraffic"  # untouched
    text = hello.cli("status")
    assert "guarded AWS deployments" in text.stdout and dep in text.stdout
    detail = hello.api().get(f"/guarded/{dep}")  # every event, for the record
    assert [e["kind"] for e in detail["events"]][:2] == ["watch", "judge"]
    assert detail["events"][-1]["message"].startswith("dry run: would call")

    # The walkthrough's next step: the same guard without --dry-run acts on that verdict.
    r = hello.cli("guard", "--stack", "hello", "--local", "--once")
    assert r.returncode == 0, r.stderr
    assert "codedeploy:stop_deployment 1" in r.stderr, r.stderr
    d = hello.api().get(f"/deployments/{dep}")
    assert d["state"] == "Stopped" and d["rolled_back"], d
    guarded = {g["deployment_id"]: g for g in hello.status()["guarded"]}
    assert guarded[dep]["action_status"] == "done" and guarded[dep]["mode"] == "stop"
    r = hello.cli("guard", "--stack", "hello", "--local", "--once")  # and never again
    assert r.returncode == 0 and "stop_deployment" not in r.stderr, r.stderr


def test_a_stack_that_does_not_exist_is_refused(hello: Canaria) -> None:
    r = hello.cli("guard", "--stack", "nope", "--local", "--once")
    assert r.returncode == 2
    assert "Stack with id nope does not exist" in r.stderr


def run_without_credentials(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("AWS_") and k not in ("CANARIA_STATE", "CANARIA_ENDPOINT")
    }
    env.update(
        AWS_CONFIG_FILE=str(tmp_path / "none"),
        AWS_SHARED_CREDENTIALS_FILE=str(tmp_path / "none"),
        AWS_EC2_METADATA_DISABLED="true",
        CANARIA_STATE=str(tmp_path / "state"),
    )
    return subprocess.run(
        [sys.executable, "-m", "canaria.cli.main", "guard", *args],
        env=env,
        text=True,
        capture_output=True,
        timeout=120,
    )


def test_no_credentials_and_no_region_say_what_to_set(tmp_path: Path) -> None:
    r = run_without_credentials(tmp_path, "--stack", "my-app", "--once")
    assert r.returncode == 2 and "no AWS region" in r.stderr, r.stderr
    r = run_without_credentials(tmp_path, "--stack", "my-app", "--region", "eu-west-1", "--once")
    assert r.returncode == 2 and "no AWS credentials found" in r.stderr, r.stderr


def test_bad_options_are_refused(tmp_path: Path) -> None:
    r = run_without_credentials(tmp_path, "--once")
    assert r.returncode == 2 and "exactly one of --stack or --application" in r.stderr
    r = run_without_credentials(tmp_path, "--stack", "s", "--act", "reboot")
    assert r.returncode == 2 and "allowed: stop, alarm" in r.stderr
