"""A step that requires a detectable failure rate, on a real `canaria up` (manual clock):
without traffic the judge cannot judge, and the deployment fails as JUDGE_INCONCLUSIVE
at the hold's cap, rolled back; with traffic the step ends once enough was served, and
`deploy --wait`, the events and the deployment say what was detectable."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.functional.harness import Canaria, copy_example


@pytest.fixture
def hello(tmp_path: Path) -> Iterator[Canaria]:
    app = copy_example("hello", tmp_path)
    template = app / "template.yaml"  # the alarm stays quiet: this is about the judge
    template.write_text(template.read_text().replace("Threshold: 5", "Threshold: 100000"))
    c = Canaria(template, tmp_path / "state").start()
    yield c
    c.stop()


def deploy(c: Canaria, version: str, *flags: str) -> str:
    r = c.cli(
        "deploy", "-t", str(c.template), "--parameter-overrides", f"AppVersion={version}",
        "--json", *flags,
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    return str(json.loads(r.stdout)["deployments"][0]["id"])


def run(c: Canaria, dep: str, traffic: bool, limit: int = 2000) -> dict[str, Any]:
    """One virtual second at a time (one request each, if ``traffic``) until it ends."""
    for _ in range(limit):
        d: dict[str, Any] = c.api().get(f"/deployments/{dep}")
        if d["completed"]:
            return d
        if traffic and d["state"] == "AllowTraffic":
            c.http("GET", "/hello")
        c.advance(1)
    raise AssertionError(f"deployment {dep} did not finish: {d}")


def test_without_traffic_the_release_could_not_be_judged(hello: Canaria) -> None:
    dep = deploy(hello, "v2", "--min-detectable", "10")
    for _ in range(1000):  # until the judge has looked at the canary step
        d = hello.api().get(f"/deployments/{dep}")
        if d["judge"].get("evidence"):
            break
        hello.advance(1)
    r = hello.cli("status")
    assert r.returncode == 0, r.stderr
    text = " ".join(r.stdout.split())  # the panel wraps its caption to the terminal
    assert "not even a canary failing every request would have" in text, r.stdout
    assert "(required: 10.0%)" in text, r.stdout
    d = run(hello, dep, traffic=False)
    assert d["state"] == "Failed" and d["rolled_back"], d
    assert d["error_code"] == "JUDGE_INCONCLUSIVE"
    assert "could not judge" in d["error_message"] and "10.0% required" in d["error_message"]
    # it held past the step's 300 s, as long again
    assert "held 300s past the step" in d["error_message"]
    events = hello.api().get(f"/deployments/{dep}/events")["events"]
    began = next(e["time"] for e in events if e["message"].startswith("step 1/2"))
    holds = [e for e in events if "holding past its duration" in e["message"]]
    assert len(holds) == 1 and holds[0]["time"] >= began + 300, holds
    assert d["completed_at"] - began >= 600, d
    assert hello.alias("HelloFunction")["split"] == {"1": 1.0}


def test_with_traffic_the_step_ends_once_the_rate_is_detectable(hello: Canaria) -> None:
    dep = deploy(hello, "v2", "--min-detectable", "40")
    d = run(hello, dep, traffic=True)
    assert d["state"] == "Succeeded" and not d["rolled_back"], d
    assert d["judge"]["detectable"] is not None and d["judge"]["detectable"] <= 0.4
    assert d["judge"]["canary_requests"] > 0
    events = hello.api().get(f"/deployments/{dep}/events")["events"]
    messages = [e["message"] for e in events]
    assert any("would have been caught" in m for m in messages), messages
    assert any("failing was detectable after" in m for m in messages), messages
