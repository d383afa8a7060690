"""`canaria up --guard-stack NAME`: the guard runs inside `up`, on its store, and its
decision shows in `canaria status` while the server runs."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.functional.guard.test_guard_local import start_bad_canary
from tests.functional.guard.test_guard_moto import (
    stack_of_a_function_without_deployments,
)
from tests.functional.harness import Canaria, copy_example


@pytest.fixture
def guarded_up(tmp_path: Path) -> Iterator[Canaria]:
    app = copy_example("hello", tmp_path)
    template = app / "template.yaml"
    template.write_text(template.read_text().replace("Threshold: 5", "Threshold: 100000"))
    extra = ("--guard-stack", "hello", "--guard-local", "--guard-act", "dry-run")
    c = Canaria(template, tmp_path / "state", extra=extra).start()
    yield c
    c.stop()


def test_the_guard_inside_up_decides_and_status_shows_it(guarded_up: Canaria) -> None:
    c = guarded_up
    dep = start_bad_canary(c)
    deadline = time.monotonic() + 120  # the guard polls every 2 wall seconds
    while True:
        guarded = {g["deployment_id"]: g for g in c.status()["guarded"]}
        if dep in guarded and guarded[dep]["action_status"] == "would":
            break
        assert time.monotonic() < deadline, f"no decision: {guarded}\n{c.output()[-2000:]}"
        for _ in range(10):
            c.http("GET", "/hello")
        c.advance(1)
        time.sleep(0.1)
    assert guarded[dep]["verdict"] == "ROLLBACK"
    assert c.api().get(f"/deployments/{dep}")["state"] == "AllowTraffic"  # a dry run
    assert "guard      stack hello (dry-run, this edge)" in c.output()


def test_a_guard_that_cannot_start_leaves_up_serving(tmp_path: Path) -> None:
    app = copy_example("hello", tmp_path)
    c = Canaria(
        app / "template.yaml", tmp_path / "state", extra=("--guard-stack", "nope", "--guard-local")
    ).start()
    try:
        deadline = time.monotonic() + 60
        while "Stack with id nope does not exist" not in c.output():
            assert time.monotonic() < deadline, c.output()
            time.sleep(0.1)
        assert "guard stopped:" in c.output()
        assert c.http("GET", "/hello")[0] == 200
    finally:
        c.stop()


def test_up_guards_a_configured_account(moto: str, tmp_path: Path) -> None:
    """`--guard-stack` without `--guard-local`: the guard reads the account the AWS chain
    names (here moto's server, reached through AWS_ENDPOINT_URL_CLOUDFORMATION), in the
    region `--guard-region` gives, and says what it found there."""
    stack_of_a_function_without_deployments(moto)  # in eu-west-1
    app = copy_example("hello", tmp_path)
    c = Canaria(
        app / "template.yaml",
        tmp_path / "state",
        extra=("--guard-stack", "plain-app", "--guard-region", "eu-west-1"),
    )
    for k in [k for k in c.env if k.startswith("AWS_")]:
        del c.env[k]
    c.env.update(
        AWS_ACCESS_KEY_ID="testing",
        AWS_SECRET_ACCESS_KEY="testing",
        AWS_ENDPOINT_URL_CLOUDFORMATION=moto,
        AWS_CONFIG_FILE=str(tmp_path / "none"),
        AWS_SHARED_CREDENTIALS_FILE=str(tmp_path / "none"),
        AWS_EC2_METADATA_DISABLED="true",
    )
    c.start()
    try:
        deadline = time.monotonic() + 60
        while "guard stopped:" not in c.output():
            assert time.monotonic() < deadline, c.output()
            time.sleep(0.1)
        assert "guard      stack plain-app (stop, eu-west-1)" in c.output()
        assert "stack 'plain-app' has no CodeDeploy application" in c.output()
        assert c.http("GET", "/hello")[0] == 200
    finally:
        c.stop()


def test_guard_options_of_up_are_checked(tmp_path: Path) -> None:
    app = copy_example("hello", tmp_path)
    c = Canaria(app / "template.yaml", tmp_path / "state")
    r = c.cli("up", "-t", str(c.template), "--guard-region", "eu-west-1")
    assert r.returncode == 2 and "need --guard-stack" in r.stderr, r.stderr
    r = c.cli(
        "up", "-t", str(c.template), "--guard-stack", "s", "--guard-local", "--guard-profile", "p"
    )
    assert r.returncode == 2 and "no --guard-region or --guard-profile" in r.stderr, r.stderr
