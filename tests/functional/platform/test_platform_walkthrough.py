"""The README's hello walkthrough, as it is written: ``canaria up --time-scale 60``, a
request every 50 ms (the curl loop), ``deploy --wait`` of v2 then of v3. v2 must succeed
and v3 (failing every third request a warm environment serves) must be rolled back.

Before the canary step held until enough was seen, five wall seconds of this loop put
about 13 requests on v3's canary, too few to tell it from a good version, and v3 was
promoted in 5 of 5 tries. The outcome does not depend on the machine's speed: the step
holds until the judge could have caught a canary failing 10 % of its requests (about 80
canary requests, a minute of the loop) and only gives up after the step's real duration
(five wall minutes), far beyond what the loop needs even on a loaded machine."""

from __future__ import annotations

import http.client
import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.functional.harness import Canaria, copy_example

pytestmark = pytest.mark.slow


class Loop:
    """``while true; do curl -s localhost:3000/hello >/dev/null; sleep 0.05; done &``"""

    def __init__(self, port: int) -> None:
        self.port = port
        self.stopped = threading.Event()
        self.sent = 0
        self.thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> Loop:
        self.thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.stopped.set()
        self.thread.join(timeout=60)

    def _run(self) -> None:
        while not self.stopped.is_set():
            conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
            try:  # curl -s: a failed request is just the next one's business
                conn.request("GET", "/hello")
                conn.getresponse().read()
                self.sent += 1
            except OSError:
                pass
            finally:
                conn.close()
            time.sleep(0.05)


@pytest.fixture
def walkthrough(tmp_path: Path) -> Iterator[Canaria]:
    app = copy_example("hello", tmp_path)
    c = Canaria(app / "template.yaml", tmp_path / "state", clock="real", time_scale=60).start()
    yield c
    c.stop()


def deploy(c: Canaria, version: str) -> int:
    r = c.cli(
        "deploy", "-t", str(c.template), "--parameter-overrides", f"AppVersion={version}",
        "--wait", timeout=600,
    )  # fmt: skip
    return r.returncode


def test_the_hello_walkthrough_as_written(walkthrough: Canaria) -> None:
    c = walkthrough
    status, _, body = c.http("GET", "/hello")
    assert status == 200 and json.loads(body)["message"] == "hello from v1"
    with Loop(c.port) as loop:
        assert deploy(c, "v2") == 0
        assert deploy(c, "v3") == 1  # rolled back
    assert loop.sent > 0
    deployments = c.api().get("/deployments")["deployments"]
    releases = {d["targets"][0]["to_version"]: d for d in deployments if not d["rollback_of"]}
    v2, v3 = releases[2], releases[3]
    assert v2["state"] == "Succeeded", v2
    assert v2["judge"]["canary_requests"] >= 50, v2["judge"]  # held until it could judge
    # v3 never reached 100 %: stopped on its canary step, the alias back on v2
    assert v3["state"] in ("Stopped", "Failed") and v3["rolled_back"], v3
    assert v3["current_weight"] < 1.0, v3
    assert c.alias("HelloFunction")["split"] == {"2": 1.0}
