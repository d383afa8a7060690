"""What the controller observes on one machine: alarms on canaria's own metrics, the
judge's verdict per deployment, and request-gate progress.

Alarm states are evaluated every tick with CloudWatch semantics and persisted when they
change (so `canaria status` and a restarted server see them). The judge's e-process state
lives in the deployment row (``Deployment.judge``): each target's e-processes and the
start of the first interval they do not hold yet, written together, so a restarted
server neither counts a request twice nor skips one it still has. Between writes the
judge runs in memory, request by request (``canaria.analysis.live``): a rollback is
decided inside the request whose result decided it and handed to the controller at once
(``on_rollback``).

Request gates with ``completion: reported`` (long-running work: the invocation starts a
job and returns; the job finishes later) count reports instead of responses. The work
reports its invocation's final status to the control API::

    POST /canaria/v1/functions/{function}/completions
    Authorization: Bearer <token>
    {"request_id": "<context.aws_request_id>", "status": "Succeeded" | "Failed",
     "reason": "<optional text>"}

Reports are kept in the store (``completion_reports``) whichever request they name and
in whatever order they arrive. To know which request ids a gate sent to the new version,
``follow`` (a controller listener, run right after each step writes its aliases, so
before any request can reach a newly opened gate) keeps in memory which (function,
version) pairs are under such a gate now, and ``note_request`` (called by the platform
for every finished invocation) writes those pairs' request ids to the store
(``gate_requests``). Only requests served while a gate is open are written, about N per
gate, and a restarted server still knows them. A gate's progress is then one join of
the two tables; a report for a request id the gate never sent is ignored.
"""

from __future__ import annotations

import asyncio
import math
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, assert_never

from canaria.analysis import Metrics, alarms, judge
from canaria.analysis.api_metrics import ApiMetrics
from canaria.analysis.live import LiveJudge
from canaria.analysis.published import PublishedMetrics
from canaria.clock import Clock
from canaria.controller.plan import GateProgress, Verdict
from canaria.models import AlarmSpec
from canaria.models.deployment import (
    Deployment,
    DeploymentEvent,
    JudgeProgress,
    RequestGate,
    State,
)
from canaria.store import Store

TICK_S = 1.0
SLOW_WINDOW_S = 300.0
EVIDENCE_POINTS = 600


@dataclass
class _Watched:
    """A deployment whose targets are judged request by request."""

    deployment: Deployment
    judge: judge.Judge
    live: dict[str, LiveJudge]  # per target function


@dataclass(frozen=True)
class _OpenGate:
    """A ``completion: reported`` gate in force: whose request ids to note, from when."""

    deployment_id: str
    step_index: int
    opened_at: float


class LocalSignals:
    def __init__(
        self,
        metrics: Metrics,
        store: Store,
        clock: Clock,
        *,
        published: PublishedMetrics | None = None,
        apis: ApiMetrics | None = None,
    ) -> None:
        self.metrics = metrics
        self.published = published  # the application's own metrics, for its alarms
        self.apis = apis  # its APIs' (AWS/ApiGateway)
        self.store = store
        self.clock = clock
        self._states: dict[str, tuple[str, str, float]] = dict(store.alarm_states())
        self._stopping = False
        # per deployment: (time, {metric: evidence}) for the dashboard; bounded
        self.evidence_history: dict[str, deque[tuple[float, dict[str, float]]]] = {}
        # (function, version) -> the reported-completion gate sending it requests now
        self._noting: dict[tuple[str, int], _OpenGate] = {}
        # deployments judged request by request, and their judges per function
        self._judged: dict[str, _Watched] = {}
        self._by_function: dict[str, list[tuple[str, LiveJudge]]] = {}
        self._rollback_callbacks: list[Callable[[Deployment], None]] = []
        metrics.listeners.append(self)
        for d in store.deployments(active_only=True, limit=1000):
            self.follow(d)

    # ---- alarms ------------------------------------------------------------------------

    def evaluate_alarms(self, specs: Mapping[str, AlarmSpec], now: float) -> None:
        self._persist_alarms(self._evaluate_alarms(specs, now), now)

    def _evaluate_alarms(
        self, specs: Mapping[str, AlarmSpec], now: float
    ) -> list[tuple[str, str, str]]:
        """Evaluate every alarm (in memory); the (name, state, reason) that changed."""
        changed = []
        for name, spec in specs.items():
            prev = alarms.AlarmState(self._states.get(name, ("INSUFFICIENT_DATA", "", 0.0))[0])
            ev = alarms.evaluate(
                spec, self.metrics, now, prev, published=self.published, apis=self.apis
            )
            if ev.state is not prev or name not in self._states:
                self._states[name] = (ev.state.value, ev.reason, now)
                changed.append((name, ev.state.value, ev.reason))
        return changed

    def _persist_alarms(self, changed: list[tuple[str, str, str]], now: float) -> None:
        for name, state, reason in changed:
            self.store.put_alarm_state(name, state, reason, now)

    async def watch_alarms(self, specs: Callable[[], Mapping[str, AlarmSpec]]) -> None:
        last = -math.inf
        while not self._stopping:
            now = self.clock.now()
            if now - last >= TICK_S:
                changed = self._evaluate_alarms(specs(), now)
                if changed:  # kept in a worker thread: a slow store never stalls requests
                    await asyncio.to_thread(self._persist_alarms, changed, now)
                last = now
            await asyncio.sleep(max(self.clock.wall_delay(TICK_S), 0.01))

    def stop(self) -> None:
        self._stopping = True

    def set_alarm_state(self, name: str, state: str, reason: str, now: float) -> None:
        """CloudWatch's SetAlarmState: the state holds until an evaluation changes it (an
        alarm with ``TreatMissingData: ignore`` and no data keeps it)."""
        self._states[name] = (state, reason, now)
        self.store.put_alarm_state(name, state, reason, now)

    def alarms_in_alarm(self, now: float) -> tuple[str, ...]:
        return tuple(n for n, (state, _, _) in self._states.items() if state == "ALARM")

    def alarm_state(self, name: str) -> str:
        return self._states.get(name, ("INSUFFICIENT_DATA", "", 0.0))[0]

    def alarm_states_view(self) -> dict[str, dict[str, Any]]:
        return {
            n: {"state": s, "reason": r, "updated_at": t}
            for n, (s, r, t) in sorted(self._states.items())
        }

    # ---- judge -------------------------------------------------------------------------

    def on_rollback(self, callback: Callable[[Deployment], None]) -> None:
        """Call ``callback`` with the deployment the moment its judge rolls it back,
        from within the request whose result decided it."""
        self._rollback_callbacks.append(callback)

    def started(self, t: float, function: str, version: int) -> None:
        """A ``RequestListener`` of the metrics: an invocation went in flight."""
        for _, live in self._by_function.get(function, ()):
            live.started(t)

    def finished(
        self,
        t: float,
        function: str,
        version: int,
        *,
        duration_ms: float,
        error: bool,
        throttled: bool,
        timed_out: bool,
        cold_start: bool,
        waited: bool,
    ) -> None:
        """A ``RequestListener`` of the metrics: a request ended; its slot may close."""
        watchers = self._by_function.get(function)
        if not watchers:
            return
        now = self.clock.now()
        for deployment_id, live in watchers:
            live.finished(
                t,
                version,
                error=error and not throttled,
                fault=timed_out or throttled,
                throttled=throttled,
                duration_ms=duration_ms,
                cold_start=cold_start,
                waited=waited,
            )
            if live.advance(now):
                self._rolled_back(deployment_id)

    def waiting(self, t: float, function: str, version: int) -> None:
        """A ``RequestListener`` of the metrics: a request waits for an environment; the
        slots it held may close."""
        watchers = self._by_function.get(function)
        if not watchers:
            return
        now = self.clock.now()
        for deployment_id, live in watchers:
            live.waiting(t)
            if live.advance(now):
                self._rolled_back(deployment_id)

    def _rolled_back(self, deployment_id: str) -> None:
        watched = self._judged.get(deployment_id)
        if watched is not None:
            for callback in self._rollback_callbacks:
                callback(watched.deployment)

    def _track(self, d: Deployment) -> _Watched | None:
        """Judge ``d``'s targets request by request while it shifts traffic with the judge
        on; stop once it does not. The persisted progress seeds each target's judge, unless
        the one in memory is at least as far along (it wrote that progress) or nothing was
        written yet."""
        if d.state is not State.ALLOW_TRAFFIC or not d.judge.settings.enabled:
            self._untrack(d.id)
            return None
        watched = self._judged.get(d.id)
        if watched is None:
            watched = self._judged[d.id] = _Watched(d, judge.Judge(d.judge.settings), {})
        watched.deployment = d
        progress = d.judge.progress
        first = d.step_started_at if d.step_started_at is not None else self.clock.now()
        for t in d.targets:
            if t.from_version is None:
                continue
            current = watched.live.get(t.function)
            written = progress.since.get(t.function)
            if current is not None and (written is None or current.since >= written):
                continue
            since = first if written is None else written
            raw = progress.states.get(t.function)
            state = judge.state_from_json(raw) if raw else watched.judge.initial_state()
            live = LiveJudge(watched.judge, state, since, t.to_version, t.from_version)
            watched.live[t.function] = live
            others = [w for w in self._by_function.get(t.function, []) if w[0] != d.id]
            self._by_function[t.function] = [*others, (d.id, live)]
        return watched

    def _untrack(self, deployment_id: str) -> None:
        if self._judged.pop(deployment_id, None) is None:
            return
        for function, watchers in list(self._by_function.items()):
            kept = [w for w in watchers if w[0] != deployment_id]
            if kept:
                self._by_function[function] = kept
            else:
                del self._by_function[function]

    def judge(self, d: Deployment, now: float) -> tuple[JudgeProgress, Verdict, str]:
        """Close the intervals complete by ``now`` and report every target's evidence.

        Requests are judged as they finish (``canaria.analysis.live``); here each target's
        "slow" threshold is refreshed from the stable version's durations before its
        cursor (data already judged, so no interval judges itself), starts whose end was
        never recorded are let go, and the progress to persist is read off.
        """
        watched = self._track(d)
        assert watched is not None, "the judge runs while traffic shifts, with the judge on"
        settings = d.judge.settings
        j = watched.judge
        states: dict[str, Any] = dict(d.judge.progress.states)
        since: dict[str, float] = dict(d.judge.progress.since)
        evidence: dict[str, dict[str, float]] = {}
        verdict, reason = Verdict.CONTINUE, ""
        promote_all = True
        # the worst over the targets: None (not even 100 % detectable) beats any rate
        detectable: float | None = 0.0
        canary_requests: int | None = None
        for t in d.targets:
            live = watched.live.get(t.function)
            if live is None or t.from_version is None:
                continue
            live.slow_ms = judge.slow_threshold(
                self.metrics,
                t.function,
                t.from_version,
                float(math.floor(live.since)),
                window_s=SLOW_WINDOW_S,
                tolerance_ms=settings.slow_tolerance_ms,
            )
            live.forget_starts(self.metrics.function_in_flight(t.function))
            live.advance(now)
            state = live.state
            states[t.function] = judge.state_to_json(state)
            since[t.function] = live.since
            evidence[t.function] = j.evidence(state)
            rate = j.detectable(state)
            detectable = None if rate is None or detectable is None else max(detectable, rate)
            served = state.power.canary if state.power else 0
            canary_requests = served if canary_requests is None else min(canary_requests, served)
            if state.decided is judge.Verdict.ROLLBACK and verdict is not Verdict.ROLLBACK:
                metric = max(evidence[t.function], key=lambda k: evidence[t.function][k])
                verdict = Verdict.ROLLBACK
                reason = (
                    f"{t.function} v{t.to_version}: {metric} evidence "
                    f"{evidence[t.function][metric]:.3g} ≥ {j.threshold():.3g}"
                )
            promote_all = promote_all and state.decided is judge.Verdict.PROMOTE
        if verdict is Verdict.CONTINUE and promote_all and settings.early_promotion and evidence:
            verdict, reason = Verdict.PROMOTE, "the new version is no worse (early promotion)"
        flat = {m: max(e[m] for e in evidence.values()) for m in next(iter(evidence.values()), {})}
        body = JudgeProgress(
            states,
            since,
            flat,
            j.threshold(),
            detectable if evidence else None,
            canary_requests or 0,
        )
        if flat:
            history = self.evidence_history.setdefault(d.id, deque(maxlen=EVIDENCE_POINTS))
            history.append((now, flat))
        return body, verdict, reason

    # ---- request gates -----------------------------------------------------------------

    def follow(self, d: Deployment, events: tuple[DeploymentEvent, ...] = ()) -> None:
        """Note the request ids of ``d``'s new versions while its step in force is a
        request gate with ``completion: reported``, and stop once it is not; judge its
        requests as they finish while it shifts traffic with the judge on (a
        ``Controller`` listener; also run for every active deployment at start)."""
        self._track(d)
        step = d.current_step
        gate = None
        if (
            d.state is State.ALLOW_TRAFFIC
            and isinstance(step, RequestGate)
            and step.completion == "reported"
            and d.step_started_at is not None
        ):
            gate = _OpenGate(d.id, d.step_index, d.step_started_at)
        for t in d.targets:
            key = (t.function, t.to_version)
            if gate is not None:
                self._noting[key] = gate
            elif key in self._noting and self._noting[key].deployment_id == d.id:
                del self._noting[key]

    def note_request(self, function: str, version: int, request_id: str, started: float) -> None:
        """One finished invocation: kept in the store if a reported-completion gate sent
        it to ``version`` (a dict look-up otherwise)."""
        gate = self._noting.get((function, version))
        if gate is None or started < gate.opened_at:
            return
        self.store.note_gate_request(
            gate.deployment_id, gate.step_index, function, version, request_id, started
        )

    def gate(self, d: Deployment, now: float) -> GateProgress:
        step = d.current_step
        if not isinstance(step, RequestGate) or d.step_started_at is None:
            return GateProgress()
        routed = succeeded = errors = 0
        is_open = False
        for t in d.targets:
            c = self.metrics.bucket_counts(
                t.function, t.to_version, math.floor(d.step_started_at), now + 1
            )
            # routed: finished (recorded at completion) plus still running (long jobs)
            routed += c.invocations + self.metrics.in_flight(t.function, t.to_version)
            errors += c.errors
            succeeded += c.invocations - c.errors
            alias = self.store.alias(t.function, t.alias)
            is_open = is_open or (alias is not None and t.to_version in alias.weights())
        match step.completion:
            case "response":
                return GateProgress(routed, succeeded, errors, is_open)
            case "reported":
                return self._reported(d, routed, errors, is_open)
            case _:
                assert_never(step.completion)

    def _reported(self, d: Deployment, routed: int, errors: int, is_open: bool) -> GateProgress:
        """Succeeded: requests sent by the gate whose work reported Succeeded. Failed: those
        that reported Failed, and invocations that failed outright (their work never
        started, so it will never report)."""
        self.follow(d)  # a server started mid-gate notes from now on, at the latest
        sent = self.store.gate_requests(d.id, d.step_index)
        good = [g for g in sent if g.report is not None and g.report.status == "Succeeded"]
        bad = [g for g in sent if g.report is not None and g.report.status == "Failed"]
        reasons = []
        for g in bad:
            assert g.report is not None
            why = f": {g.report.reason}" if g.report.reason else ""
            reasons.append(f"request {g.request_id} reported Failed{why}")
        if errors:
            reasons.append(f"{errors} invocation(s) of the new version failed")
        return GateProgress(routed, len(good), len(bad) + errors, is_open, "; ".join(reasons))

    # ---- summaries for views -----------------------------------------------------------

    def traffic_summary(self, d: Deployment, now: float) -> dict[str, Any]:
        start = d.created_at
        out: dict[str, dict[str, dict[str, Any]]] = {}
        for t in d.targets:
            per: dict[str, dict[str, Any]] = {}
            for v in {t.from_version, t.to_version} - {None}:
                assert v is not None
                c = self.metrics.bucket_counts(t.function, v, start, now + 1)
                per[str(v)] = {
                    "invocations": c.invocations,
                    "errors": c.errors,
                    "throttles": c.throttles,
                    "cold_starts": c.cold_starts,
                    "p99_ms": c.p99_ms,
                }
            out[t.function] = per
        return {"since": start, "versions": out}


DETECTABLE_MILESTONES = (1.0, 0.5, 0.25, 0.1, 0.05, 0.02, 0.01, 0.005, 0.001)


def detectable_events(
    d: Deployment, progress: JudgeProgress, now: float
) -> tuple[DeploymentEvent, ...]:
    """A ``judge`` event each time the smallest detectable canary failure rate first
    falls to another milestone (100 %, 50 %, 25 %, 10 %, 5 %, ...)."""
    before, after = d.judge.progress.detectable, progress.detectable
    if after is None:
        return ()
    old = math.inf if before is None else before
    passed = [m for m in DETECTABLE_MILESTONES if after <= m < old]
    if not passed:
        return ()
    message = (
        f"judge: after {progress.canary_requests} canary requests, a canary failing "
        f"{after:.1%} of its requests or more would have been caught"
    )
    data = {"detectable": after, "canary_requests": progress.canary_requests}
    return (DeploymentEvent(d.id, now, "judge", message, data),)
