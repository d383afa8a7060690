"""kill -9 under --time-scale: the restarted server's virtual time is not earlier than
what the killed one had reached. Before, it restarted at the wall time, (scale − 1) ×
uptime in the past."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.functional.harness import Canaria, copy_example


@pytest.fixture
def scaled(tmp_path: Path) -> Iterator[Canaria]:
    app = copy_example("hello", tmp_path)
    c = Canaria(app / "template.yaml", tmp_path / "state", clock="real", time_scale=60)
    yield c
    if c.proc is not None and c.proc.poll() is None:
        c.kill()


def test_virtual_time_is_monotonic_across_a_kill(scaled: Canaria) -> None:
    scaled.start()
    reached = ahead(scaled)
    scaled.kill()
    scaled.start()
    assert float(scaled.api().get("/clock")["now"]) >= reached
    scaled.stop()
    # also after a clean stop, when the next run does not scale time
    plain = Canaria(scaled.template, scaled.state, clock="real", time_scale=1)
    plain.start()
    try:
        assert plain.api().get("/clock")["kind"] == "ScaledClock"
        assert float(plain.api().get("/clock")["now"]) > time.time() + 30
    finally:
        plain.stop()


def ahead(c: Canaria, seconds: float = 30.0) -> float:
    """The server's virtual time once it is ``seconds`` ahead of the wall."""
    deadline = time.monotonic() + 60
    while True:
        now = float(c.api().get("/clock")["now"])
        if now > time.time() + seconds or time.monotonic() > deadline:
            return now
        time.sleep(0.1)
