"""The judge on a real `canaria up`, where traffic is sparse in virtual time.

With `--time-scale 60`, 40 requests per wall second are fewer than one per virtual second:
most one-second ticks hold a request of only one version. Such a tick says nothing about
the versions' relative error rates, so the judge must carry it over until both versions
have served, or it would never learn anything. One request per virtual second on the
manual clock reproduces that exactly.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.functional.harness import Canaria, copy_example


@pytest.fixture
def hello(tmp_path: Path) -> Iterator[Canaria]:
    app = copy_example("hello", tmp_path)
    # The alarm would also catch v3 (5 errors a minute); this test is about the judge.
    template = app / "template.yaml"
    template.write_text(template.read_text().replace("Threshold: 5", "Threshold: 100000"))
    c = Canaria(template, tmp_path / "state").start()
    yield c
    c.stop()


def test_judge_stops_a_bad_canary_with_one_request_per_second(hello: Canaria) -> None:
    r = hello.cli(
        "deploy", "-t", str(hello.template), "--parameter-overrides", "AppVersion=v3", "--json"
    )
    assert r.returncode == 0, r.stderr
    dep = json.loads(r.stdout)["deployments"][0]["id"]
    failed = 0
    for _ in range(600):  # the canary step lasts 300 virtual seconds
        d = hello.api().get(f"/deployments/{dep}")
        if d["completed"]:
            break
        if d["state"] == "AllowTraffic":
            failed += hello.http("GET", "/hello")[0] >= 500
        hello.advance(1)
    assert d["state"] == "Stopped" and d["rolled_back"], d
    assert d["stopped_by"].startswith("judge"), d
    assert failed <= 10, failed  # a handful of failed requests, not a minute's worth
    assert hello.alias("HelloFunction")["split"] == {"1": 1.0}
