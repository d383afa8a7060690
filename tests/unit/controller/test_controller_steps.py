"""Each step kind under the manual clock, with the real signals (metrics store, judge,
request-gate counting) and a real SQLite store: what the alias says at every point."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from canaria.analysis import Metrics
from canaria.clock import ManualClock
from canaria.controller.deployments import new_deployment
from canaria.controller.plan import Command
from canaria.controller.service import Controller
from canaria.controller.signals import LocalSignals
from canaria.models import Alias, DeploymentPreference, JudgeSettings
from canaria.models.deployment import (
    Deployment,
    ManualGate,
    RequestGate,
    SetWeight,
    State,
    Step,
    Target,
)
from canaria.store import Store
from tests.unit.controller.fakes import RecordingBackend, ScriptedHooks


class Live:
    """A controller whose signals come from a metrics store the test writes requests to."""

    def __init__(self, tmp: Path) -> None:
        self.clock = ManualClock(start=10_000.0)
        self.store = Store.open(str(tmp / "state"))
        self.metrics = Metrics()
        self.backend = RecordingBackend()
        self.signals = LocalSignals(self.metrics, self.store, self.clock)
        self.ctl = Controller(self.store, self.clock, self.backend, ScriptedHooks(), self.signals)
        for fn in ("Fn", "Other"):
            self.store.put_alias(Alias(fn, "live", 1), self.clock.now())

    def deployment(
        self,
        steps: tuple[Step, ...],
        functions: tuple[str, ...] = ("Fn",),
        judge: JudgeSettings | None = None,
    ) -> Deployment:
        pref = DeploymentPreference(type="AllAtOnce", judge=judge or JudgeSettings(enabled=True))
        return new_deployment(
            application="app",
            targets=[Target(fn, "live", 1, 2) for fn in functions],
            preference=pref,
            custom_configs={},
            now=self.clock.now(),
            steps_override=steps,
        )

    def alias(self, fn: str = "Fn") -> Alias:
        found = self.store.alias(fn, "live")
        assert found is not None and self.backend.current.get((fn, "live"), found) == found
        return found

    def serve(
        self, fn: str, version: int, n: int, *, errors: int = 0, duration_ms: float = 5.0
    ) -> None:
        """``n`` requests of ``version`` in the current second, the first ``errors`` failing."""
        t = self.clock.now()
        for i in range(n):
            self.metrics.record(t, fn, version, "live", duration_ms=duration_ms, error=i < errors)

    async def tick(self, d: Deployment, seconds: float = 1.0) -> Deployment:
        self.clock.advance(seconds)
        return await self.ctl.step(d.id)


@pytest.fixture
def live(tmp_path: Path) -> Iterator[Live]:
    w = Live(tmp_path)
    yield w
    w.store.close()


async def test_set_weight_holds_then_moves_on(live: Live) -> None:
    d = await live.ctl.start(
        live.deployment((SetWeight(0.2, 30), SetWeight(0.6, 30), SetWeight(1.0)))
    )
    d = await live.ctl.step(d.id)
    assert live.alias() == Alias("Fn", "live", 1, 2, 0.2)
    d = await live.tick(d, 29)
    assert live.alias().additional_weight == pytest.approx(0.2)
    d = await live.tick(d, 1)
    assert live.alias() == Alias("Fn", "live", 1, 2, 0.6)
    d = await live.tick(d, 30)
    d = await live.ctl.step(d.id)
    assert d.state is State.SUCCEEDED and live.alias() == Alias("Fn", "live", 2)


async def test_manual_gate_waits_for_promote_however_long(live: Live) -> None:
    d = await live.ctl.start(live.deployment((SetWeight(0.1, 10), ManualGate(), SetWeight(1.0))))
    d = await live.ctl.step(d.id)
    d = await live.tick(d, 10)
    assert isinstance(d.current_step, ManualGate)
    for _ in range(5):
        d = await live.tick(d, 3600)
        assert d.state is State.ALLOW_TRAFFIC and isinstance(d.current_step, ManualGate)
        assert live.alias() == Alias("Fn", "live", 1, 2, 0.1)  # the weight in force is held
    d = await live.ctl.command(d.id, Command.PROMOTE)
    d = await live.ctl.step(d.id)
    assert d.state is State.SUCCEEDED and live.alias() == Alias("Fn", "live", 2)


async def test_request_gate_opens_to_every_request_without_an_earlier_weight(live: Live) -> None:
    d = await live.ctl.start(live.deployment((RequestGate(3), SetWeight(1.0))))
    d = await live.ctl.step(d.id)
    assert isinstance(d.current_step, RequestGate)
    assert live.alias() == Alias("Fn", "live", 2)  # the first N requests: all of them
    live.serve("Fn", 2, 2)
    d = await live.tick(d)
    assert isinstance(d.current_step, RequestGate) and live.alias() == Alias("Fn", "live", 2)
    live.serve("Fn", 2, 1)
    d = await live.tick(d)
    d = await live.ctl.step(d.id)
    assert d.state is State.SUCCEEDED and live.alias() == Alias("Fn", "live", 2)


async def test_request_gate_stops_sending_until_the_n_requests_finish(live: Live) -> None:
    """Long-running requests: N have reached the new version but are still running. The
    alias stops sending it anything; the next step applies once all N have succeeded."""
    d = await live.ctl.start(live.deployment((SetWeight(0.1, 5), RequestGate(4), SetWeight(0.5))))
    d = await live.ctl.step(d.id)
    d = await live.tick(d, 5)
    assert isinstance(d.current_step, RequestGate)
    assert live.alias() == Alias("Fn", "live", 1, 2, 0.1)  # opens at the weight in force
    live.serve("Fn", 2, 1)  # one finished ...
    live.metrics.record_concurrency(live.clock.now(), "Fn", 2, "live", 3)  # ... three running
    d = await live.tick(d)
    assert isinstance(d.current_step, RequestGate)
    assert live.alias() == Alias("Fn", "live", 1)  # closed: no more to the new version
    assert any("no more until 4" in e.message for e in live.store.events(d.id))
    for _ in range(3):  # nothing new: the gate holds, closed, however long it takes
        d = await live.tick(d, 600)
        assert isinstance(d.current_step, RequestGate) and live.alias() == Alias("Fn", "live", 1)
    live.serve("Fn", 2, 3)
    live.metrics.record_concurrency(live.clock.now(), "Fn", 2, "live", 0)
    d = await live.tick(d)
    assert isinstance(d.current_step, SetWeight)
    assert live.alias() == Alias("Fn", "live", 1, 2, 0.5)


async def test_request_gate_one_failure_rolls_back(live: Live) -> None:
    d = await live.ctl.start(live.deployment((RequestGate(5), SetWeight(1.0))))
    d = await live.ctl.step(d.id)
    live.serve("Fn", 2, 2, errors=1)
    d = await live.tick(d)
    assert d.state is State.FAILED and d.error_code == "REQUEST_GATE_FAILURE" and d.rolled_back
    assert live.alias() == Alias("Fn", "live", 1)


async def test_atomic_group_rolled_back_together_when_one_member_fails(live: Live) -> None:
    """Two functions, one deployment; only Other's new version fails, the judge sees it,
    and both aliases go back to version 1 in the same write."""
    d = await live.ctl.start(
        live.deployment((SetWeight(0.1, 600), SetWeight(1.0)), functions=("Fn", "Other"))
    )
    d = await live.ctl.step(d.id)
    assert live.alias("Fn") == Alias("Fn", "live", 1, 2, 0.1)
    assert live.alias("Other") == Alias("Other", "live", 1, 2, 0.1)
    for _ in range(60):
        live.serve("Fn", 1, 90)
        live.serve("Fn", 2, 10)
        live.serve("Other", 1, 90)
        live.serve("Other", 2, 10, errors=10)
        d = await live.tick(d)
        if d.state.completed:
            break
    assert d.state is State.STOPPED and d.stopped_by == "judge" and d.rolled_back
    assert "Other" in (d.error_message or "")
    judged = [e for e in live.store.events(d.id) if e.kind == "judge"]
    assert judged and "errors evidence" in judged[0].message  # the case being built, visible
    assert d.judge.progress.evidence["errors"] >= d.judge.progress.threshold == 300.0
    assert live.alias("Fn") == Alias("Fn", "live", 1)
    assert live.alias("Other") == Alias("Other", "live", 1)
    rollback_writes = [a for a in live.backend.applied if a.additional_version is None]
    assert {a.function for a in rollback_writes[-2:]} == {"Fn", "Other"}


@pytest.mark.parametrize(
    ("tolerance_ms", "outcome"), [(1.0, State.SUCCEEDED), (0.0, State.STOPPED)]
)
async def test_a_canary_microseconds_slower_is_slow_only_without_tolerance(
    live: Live, tolerance_ms: float, outcome: State
) -> None:
    """Stable answers in 0.10-0.12 ms, the canary in 0.2 ms: every canary request is beyond
    the stable p99, a difference no user would roll back for. The default 1 ms tolerance
    lets it through; with none, the judge's "slow" test stops it."""
    judge = JudgeSettings(enabled=True, slow_tolerance_ms=tolerance_ms)
    d = await live.ctl.start(live.deployment((SetWeight(0.1, 60), SetWeight(1.0)), judge=judge))
    d = await live.ctl.step(d.id)
    for _ in range(120):
        for i in range(90):
            live.serve("Fn", 1, 1, duration_ms=0.10 + 0.02 * i / 90)
        live.serve("Fn", 2, 10, duration_ms=0.2)
        d = await live.tick(d)
        if d.state.completed:
            break
    assert d.state is outcome, (d.error_message, d.judge.progress.evidence)
    if outcome is State.STOPPED:
        assert d.stopped_by == "judge" and "slow evidence" in (d.error_message or "")
        assert live.alias() == Alias("Fn", "live", 1)
    else:
        assert d.judge.progress.evidence["slow"] == 1.0  # no slow request on either side: E = 1
        assert live.alias() == Alias("Fn", "live", 2)
