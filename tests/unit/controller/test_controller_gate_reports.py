"""Request gates whose requests complete when their work reports (``completion:
reported``), under the manual clock with the real store, metrics and signals: what the
alias says, when the gate passes, and what a Failed report does."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from canaria.analysis import Metrics
from canaria.clock import ManualClock
from canaria.controller.deployments import new_deployment
from canaria.controller.service import Controller
from canaria.controller.signals import LocalSignals
from canaria.errors import InvalidRequest
from canaria.models import Alias, DeploymentPreference, JudgeSettings
from canaria.models.configs import parse_step_list
from canaria.models.deployment import Deployment, RequestGate, SetWeight, State, Step, Target
from canaria.store import CompletionReport, CompletionStatus, Store
from tests.unit.controller.fakes import RecordingBackend, ScriptedHooks


class Live:
    """A controller wired as ``canaria up`` wires it: the signals follow every step, and
    every finished invocation goes to the metrics and to ``note_request``."""

    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        self.clock = ManualClock(start=10_000.0)
        self.store = Store.open(str(tmp / "state"))
        for fn in ("Fn", "Other"):
            self.store.put_alias(Alias(fn, "live", 1), self.clock.now())
        self.restart()

    def restart(self) -> None:
        """A new process on the same store: metrics and routing memory start empty."""
        self.metrics = Metrics()
        self.backend = RecordingBackend()
        self.signals = LocalSignals(self.metrics, self.store, self.clock)
        self.ctl = Controller(self.store, self.clock, self.backend, ScriptedHooks(), self.signals)
        self.ctl.listeners.append(self.signals.follow)

    def deployment(self, steps: tuple[Step, ...]) -> Deployment:
        pref = DeploymentPreference(type="AllAtOnce", judge=JudgeSettings(enabled=False))
        return new_deployment(
            application="app",
            targets=[Target("Fn", "live", 1, 2)],
            preference=pref,
            custom_configs={},
            now=self.clock.now(),
            steps_override=steps,
        )

    def alias(self) -> Alias:
        found = self.store.alias("Fn", "live")
        assert found is not None
        return found

    def serve(self, version: int, *request_ids: str, fn: str = "Fn", error: bool = False) -> None:
        """Invocations that finished now, as ``Platform.record`` sees them."""
        t = self.clock.now()
        for rid in request_ids:
            self.signals.note_request(fn, version, rid, t)
            self.metrics.record(t, fn, version, "live", duration_ms=5.0, error=error)

    def report(
        self, request_id: str, status: CompletionStatus, reason: str = "", fn: str = "Fn"
    ) -> None:
        self.store.report_completion(
            CompletionReport(fn, request_id, status, reason, self.clock.now())
        )

    async def begin(self, *steps: Step) -> Deployment:
        """Start a deployment and take it into its first step."""
        d = await self.ctl.start(self.deployment(steps))
        return await self.ctl.step(d.id)

    async def tick(self, d: Deployment, seconds: float = 1.0) -> Deployment:
        self.clock.advance(seconds)
        return await self.ctl.step(d.id)

    def messages(self, d: Deployment) -> list[str]:
        return [e.message for e in self.store.events(d.id)]


@pytest.fixture
def live(tmp_path: Path) -> Iterator[Live]:
    w = Live(tmp_path)
    yield w
    w.store.close()


async def test_gate_closes_after_n_then_passes_when_n_reports_arrive_later(live: Live) -> None:
    d = await live.begin(RequestGate(3, "reported"), SetWeight(1.0))
    assert isinstance(d.current_step, RequestGate)
    assert live.alias() == Alias("Fn", "live", 2)  # the first N requests: all of them
    live.serve(2, "r1", "r2", "r3")  # the batch jobs started; their invocations returned
    d = await live.tick(d)
    assert live.alias() == Alias("Fn", "live", 1)  # N sent: no more until they report
    assert any("no more until 3 have reported Succeeded" in m for m in live.messages(d))
    live.report("r1", "Succeeded")
    live.report("r2", "Succeeded")
    for _ in range(3):  # the jobs run for hours: the gate holds, closed
        d = await live.tick(d, 3600)
        assert d.state is State.ALLOW_TRAFFIC and isinstance(d.current_step, RequestGate)
        assert live.alias() == Alias("Fn", "live", 1)
    live.report("r3", "Succeeded")
    d = await live.tick(d)
    d = await live.ctl.step(d.id)
    assert d.state is State.SUCCEEDED and live.alias() == Alias("Fn", "live", 2)
    assert any("the first 3 requests reported Succeeded" in m for m in live.messages(d))


async def test_a_response_alone_does_not_pass_a_reported_gate(live: Live) -> None:
    d = await live.begin(RequestGate(2, "reported"), SetWeight(1.0))
    live.serve(2, "r1", "r2")  # both invocations returned without error
    for _ in range(3):
        d = await live.tick(d, 600)
    assert isinstance(d.current_step, RequestGate) and live.alias() == Alias("Fn", "live", 1)


async def test_one_failed_report_rolls_back_with_its_reason(live: Live) -> None:
    d = await live.begin(SetWeight(0.1, 5), RequestGate(2, "reported"), SetWeight(1.0))
    d = await live.tick(d, 5)
    assert isinstance(d.current_step, RequestGate)
    assert live.alias() == Alias("Fn", "live", 1, 2, 0.1)  # opens at the weight in force
    live.serve(2, "r1", "r2")
    d = await live.tick(d)
    live.report("r1", "Succeeded")
    d = await live.tick(d, 1800)
    assert d.state is State.ALLOW_TRAFFIC
    live.report("r2", "Failed", "batch exited with code 3")
    d = await live.tick(d, 60)
    assert d.state is State.FAILED and d.rolled_back
    assert d.error_code == "REQUEST_GATE_FAILURE" and d.stopped_by == "request_gate"
    assert "request r2 reported Failed: batch exited with code 3" in (d.error_message or "")
    transition = [e for e in live.store.events(d.id) if e.kind == "transition"][-1]
    assert "batch exited with code 3" in transition.message
    assert live.alias() == Alias("Fn", "live", 1)


async def test_an_invocation_that_fails_outright_rolls_a_reported_gate_back(live: Live) -> None:
    """Its work never started, so no report will ever come."""
    d = await live.begin(RequestGate(3, "reported"), SetWeight(1.0))
    live.serve(2, "r1")
    live.serve(2, "r2", error=True)
    d = await live.tick(d)
    assert d.state is State.FAILED and d.rolled_back
    assert "1 invocation(s) of the new version failed" in (d.error_message or "")
    assert live.alias() == Alias("Fn", "live", 1)


async def test_reports_for_requests_the_gate_did_not_send_are_ignored(live: Live) -> None:
    d = await live.begin(SetWeight(0.1, 5), RequestGate(2, "reported"), SetWeight(1.0))
    live.serve(2, "before-the-gate")  # the new version, but during the 10 % step
    d = await live.tick(d, 5)
    assert isinstance(d.current_step, RequestGate)
    live.serve(1, "stable-1")  # the old version, while the gate is open
    live.serve(2, "other-fn", fn="Other")  # another function's version 2
    live.serve(2, "r1", "r2")
    d = await live.tick(d)
    for rid in ("before-the-gate", "stable-1", "never-served"):
        live.report(rid, "Failed", "not ours")
    live.report("other-fn", "Failed", "not ours", fn="Other")
    live.report("r1", "Failed", "not ours", fn="Other")  # r1's id, but another function
    d = await live.tick(d, 600)
    assert d.state is State.ALLOW_TRAFFIC and isinstance(d.current_step, RequestGate)
    assert live.alias() == Alias("Fn", "live", 1)
    assert [g.request_id for g in live.store.gate_requests(d.id, d.step_index)] == ["r1", "r2"]
    live.report("r1", "Succeeded")
    live.report("r2", "Succeeded")
    d = await live.tick(d)
    d = await live.ctl.step(d.id)
    assert d.state is State.SUCCEEDED and live.alias() == Alias("Fn", "live", 2)


async def test_a_report_may_arrive_before_its_invocation_is_recorded(live: Live) -> None:
    """The handler itself can report before it returns: order does not matter."""
    d = await live.begin(RequestGate(1, "reported"), SetWeight(1.0))
    live.report("r1", "Succeeded")
    d = await live.tick(d)
    assert isinstance(d.current_step, RequestGate)
    live.serve(2, "r1")
    d = await live.tick(d)
    d = await live.ctl.step(d.id)
    assert d.state is State.SUCCEEDED


async def test_a_restart_mid_gate_keeps_the_requests_it_sent(live: Live) -> None:
    d = await live.begin(RequestGate(2, "reported"), SetWeight(1.0))
    live.serve(2, "r1", "r2")
    d = await live.tick(d)
    assert live.alias() == Alias("Fn", "live", 1)
    live.restart()  # metrics and the signals' memory are gone; the store is not
    live.report("r1", "Succeeded")
    d = await live.tick(d, 3600)
    assert isinstance(d.current_step, RequestGate) and live.alias() == Alias("Fn", "live", 1)
    live.report("r2", "Succeeded")
    d = await live.tick(d)
    d = await live.ctl.step(d.id)
    assert d.state is State.SUCCEEDED and live.alias() == Alias("Fn", "live", 2)


async def test_request_ids_are_noted_only_while_a_reported_gate_is_in_force(live: Live) -> None:
    d = await live.begin(RequestGate(1, "response"), RequestGate(1, "reported"), SetWeight(1.0))
    live.serve(2, "response-gate")
    d = await live.tick(d)
    assert d.step_index == 1
    live.serve(2, "r1")
    live.report("r1", "Succeeded")
    d = await live.tick(d)
    d = await live.ctl.step(d.id)
    assert d.state is State.SUCCEEDED
    live.serve(2, "after")
    assert [g.request_id for g in live.store.gate_requests(d.id, 0)] == []
    assert [g.request_id for g in live.store.gate_requests(d.id, 1)] == ["r1"]


async def test_a_gate_whose_reports_never_all_come_fails_at_its_timeout(live: Live) -> None:
    d = await live.begin(RequestGate(3, "reported", timeout_s=600.0), SetWeight(1.0))
    live.serve(2, "r1", "r2", "r3")
    live.report("r1", "Succeeded")
    live.report("r2", "Succeeded")
    d = await live.tick(d, 599)
    assert d.state is State.ALLOW_TRAFFIC and d.next_wake_at is not None
    assert d.next_wake_at <= d.step_started_at + 600.0  # wakes up for the deadline
    d = await live.tick(d, 1)
    assert d.state is State.FAILED and d.rolled_back
    assert d.error_code == "REQUEST_GATE_FAILURE" and d.stopped_by == "request_gate"
    assert d.error_message == (
        "request gate timed out after 600s: 2 of the first 3 requests reported Succeeded, 3 routed"
    )
    assert live.alias() == Alias("Fn", "live", 1)


async def test_a_gate_that_passes_before_its_timeout_is_not_failed_by_it(live: Live) -> None:
    d = await live.begin(RequestGate(1, "reported", timeout_s=60.0), SetWeight(1.0))
    live.serve(2, "r1")
    live.report("r1", "Succeeded")
    d = await live.tick(d, 59)
    d = await live.ctl.step(d.id)
    assert d.state is State.SUCCEEDED and live.alias() == Alias("Fn", "live", 2)


# ---- step syntax ---------------------------------------------------------------------


def test_step_syntax_for_completion() -> None:
    steps = parse_step_list(
        [{"requests": 3, "completion": "reported"}, {"requests": 2, "completion": "response"}],
        where="Batch",
    )
    # a reported gate is limited to an hour unless told otherwise; a response gate is not
    assert steps == (
        RequestGate(3, "reported", 3600.0),
        RequestGate(2, "response"),
        SetWeight(1.0),
    )
    assert parse_step_list([{"requests": 1}], where="B")[0] == RequestGate(1, "response")
    timed = parse_step_list(
        [
            {"requests": 2, "completion": "reported", "timeout": "6h"},
            {"requests": 1, "timeout": 90},
        ],
        where="B",
    )
    assert timed[:2] == (RequestGate(2, "reported", 6 * 3600.0), RequestGate(1, "response", 90.0))


@pytest.mark.parametrize(
    "raw,msg",
    [
        (
            [{"requests": 3, "completion": "async"}],
            "Batch: step 1: completion 'async' (allowed: response, reported)",
        ),
        ([{"requests": 3, "completion": None}], "completion None (allowed: response, reported)"),
        (
            [{"completion": "reported"}],
            "{requests: N, completion: response | reported, timeout: T}",
        ),
        ([{"requests": 0, "completion": "reported"}], "requests 0 (allowed: an integer >= 1)"),
        (
            [{"requests": 3, "completion": "reported", "after": "1h"}],
            "{requests: N, completion: response | reported, timeout: T}",
        ),
        ([{"requests": 3, "timeout": "soon"}], "Batch: step 1: duration 'soon'"),
        ([{"requests": 3, "timeout": 0}], "Batch: step 1: timeout 0 must be > 0"),
        ([{"requests": 3, "timeout": float("nan")}], "Batch: step 1: duration nan"),
        ([{"weight": 5, "duration": float("inf")}], "Batch: step 1: duration inf"),
        ([{"weight": 5, "duration": -60}], "Batch: step 1: duration -60"),
    ],
)
def test_bad_completion_steps(raw: list[object], msg: str) -> None:
    with pytest.raises(InvalidRequest) as err:
        parse_step_list(raw, where="Batch")
    assert msg in err.value.message
