"""`canaria up --guard-stack NAME`: the guard runs inside `up`, on its store, and its
decision shows in `canaria status` while the server runs."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.functional.guard.test_guard_local import start_bad_canary
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
    assert "guard      stack hello (dry-run)" in c.output()


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
