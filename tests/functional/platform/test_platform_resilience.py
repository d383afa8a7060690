"""What must hold when things go wrong around a deployment: the server is killed in the
middle of one, traffic keeps flowing while weights move and roll back, and a version
whose handler cannot even be imported never receives traffic."""

from __future__ import annotations

import json
import threading
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.functional.harness import Canaria, copy_example


@pytest.fixture
def hello(tmp_path: Path) -> Iterator[Canaria]:
    app = copy_example("hello", tmp_path)
    c = Canaria(app / "template.yaml", tmp_path / "state").start()
    yield c
    c.stop()


def deploy(c: Canaria, version: str, template: Path | None = None) -> str:
    r = c.cli(
        "deploy",
        "-t",
        str(template or c.template),
        "--parameter-overrides",
        f"AppVersion={version}",
        "--json",
    )
    assert r.returncode == 0, r.stdout + r.stderr
    return str(json.loads(r.stdout)["deployments"][0]["id"])


def until_state(c: Canaria, dep: str, state: str) -> dict[str, Any]:
    for _ in range(600):
        d: dict[str, Any] = c.api().get(f"/deployments/{dep}")
        if d["state"] == state or d["completed"]:
            return d
        c.advance(1)
    raise AssertionError(f"{dep} never reached {state}")


def test_sigkill_mid_shift_then_restart_completes_with_a_consistent_alias(
    hello: Canaria,
) -> None:
    dep = deploy(hello, "v2")
    d = until_state(hello, dep, "AllowTraffic")
    assert d["state"] == "AllowTraffic"
    assert hello.alias("HelloFunction")["split"] == {"1": 0.9, "2": 0.1}
    hello.kill()  # SIGKILL: the server and its workers, no chance to clean up
    hello.start()
    # the stored split is what the gateway serves again, before the controller moves on
    assert hello.alias("HelloFunction")["split"] == {"1": 0.9, "2": 0.1}
    answers = Counter(json.loads(hello.http("GET", "/hello")[2])["message"] for _ in range(20))
    assert answers == {"hello from v1": 18, "hello, world, from v2": 2}
    d = hello.wait_deployment(dep, step=30)
    assert d["state"] == "Succeeded", d
    assert hello.alias("HelloFunction")["split"] == {"2": 1.0}


class Traffic(threading.Thread):
    """GET /hello as fast as one connection goes, until stopped; statuses counted."""

    def __init__(self, c: Canaria) -> None:
        super().__init__(daemon=True)
        self.c = c
        self.statuses: Counter[int] = Counter()
        self.stopping = threading.Event()

    def run(self) -> None:
        while not self.stopping.is_set():
            self.statuses[self.c.http("GET", "/hello")[0]] += 1


def test_no_request_fails_for_the_platform_during_a_shift_and_a_rollback(
    hello: Canaria,
) -> None:
    traffic = [Traffic(hello) for _ in range(4)]
    for t in traffic:
        t.start()
    try:
        good = deploy(hello, "v2")
        d = hello.wait_deployment(good, step=10)
        assert d["state"] == "Succeeded", json.dumps(d)[:3000]
        # v2 again at 10 %, then an operator rollback in the middle of the shift
        back = deploy(hello, "v1")
        until_state(hello, back, "AllowTraffic")
        r = hello.cli("rollback", "HelloFunction")
        assert r.returncode == 0, r.stderr
        assert hello.alias("HelloFunction")["split"] == {"2": 1.0}
    finally:
        for t in traffic:
            t.stopping.set()
        for t in traffic:
            t.join()
    statuses = sum((t.statuses for t in traffic), Counter())
    assert set(statuses) == {200}, statuses  # v1 and v2 never fail on their own
    assert sum(statuses.values()) > 50


def test_a_version_that_cannot_import_never_gets_traffic(hello: Canaria) -> None:
    app = hello.template.parent
    broken = app / "src" / "broken"
    broken.mkdir()
    (broken / "app.py").write_text("import no_such_module\n\ndef handler(e, c):\n    return {}\n")
    template = app / "broken.yaml"
    template.write_text(
        hello.template.read_text().replace(
            "AllowedValues: [v1, v2, v3]", "AllowedValues: [v1, v2, v3, broken]"
        )
    )
    dep = deploy(hello, "broken", template)
    d = hello.wait_deployment(dep, step=10)
    assert d["state"] == "Failed" and not d["rolled_back"], d
    assert [h["status"] for h in d["hook_executions"]] == ["Failed"]
    assert hello.alias("HelloFunction")["split"] == {"1": 1.0}
    r = hello.cli("invoke", "HelloFunction:2", "--json")
    body = json.loads(r.stdout)
    assert body["payload"]["errorType"] == "Runtime.ImportModuleError", body
    assert "no_such_module" in body["payload"]["errorMessage"]
    assert hello.http("GET", "/hello")[0] == 200
