"""The controller: wakes when a deployment is due, reconciles it, persists, then acts.

Order of work for every step, so that a crash at any point is safe:

1. read the deployment and its hook executions from the store;
2. observe (alarms, judge, request gate, operator command) and ``reconcile`` → ``Plan``;
3. write the plan (deployment, aliases, events, hooks) in ONE transaction;
4. push the written aliases to the traffic backend (the gateway's routing);
5. carry out side effects: invoke hooks, send notifications.

On start, ``recover`` re-applies every stored alias to the backend and invokes again every
hook still waiting for its report: one never invoked, and one whose invocation the stop
cut short (its worker died with the server, so no report can come from it; Lambda, too,
retries an asynchronous invocation that failed). Deployments then continue from their
last step.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import replace
from typing import Any, Protocol

from canaria.clock import Clock
from canaria.controller.plan import Command, GateProgress, InvokeHook, Notify, Observation, Verdict
from canaria.controller.reconcile import reconcile
from canaria.models import Alias
from canaria.models.deployment import Deployment, DeploymentEvent, HookStatus, State
from canaria.store import Store

log = logging.getLogger("canaria.controller")


class TrafficBackend(Protocol):
    """Where alias changes take effect: the local gateway, or real Lambda aliases."""

    def apply(self, alias: Alias) -> None: ...


class HookRunner(Protocol):
    async def run_hook(self, function: str, payload: Mapping[str, str]) -> str | None:
        """Invoke a hook function; return an error message if it failed to run."""
        ...


class Signals(Protocol):
    """What the controller observes about live traffic."""

    def alarms_in_alarm(self, now: float) -> tuple[str, ...]: ...

    def judge(self, d: Deployment, now: float) -> tuple[dict[str, Any], Verdict, str]: ...

    def gate(self, d: Deployment, now: float) -> GateProgress: ...


Notifier = Callable[[Deployment, str], Awaitable[None]]


class Controller:
    def __init__(
        self,
        store: Store,
        clock: Clock,
        backend: TrafficBackend,
        hooks: HookRunner,
        signals: Signals,
        notifier: Notifier | None = None,
    ) -> None:
        self.store = store
        self.clock = clock
        self.backend = backend
        self.hooks = hooks
        self.signals = signals
        self.notifier = notifier
        self._lock = asyncio.Lock()
        self._poke = asyncio.Event()
        self._tasks: set[asyncio.Task[None]] = set()
        self._stopping = False
        self._resume: list[InvokeHook] = []  # hooks ``recover`` found waiting
        self.listeners: list[Callable[[Deployment, tuple[DeploymentEvent, ...]], None]] = []

    # ---- lifecycle ---------------------------------------------------------------------

    def recover(self) -> None:
        """Make the backend match the store; note the hooks still waiting for a report,
        which ``run`` invokes again (once the application is loaded and can run them)."""
        for alias in self.store.aliases():
            self.backend.apply(alias)
        for d in self.store.deployments(active_only=True):
            for h in self.store.hooks(d.id):
                if h.status in (HookStatus.PENDING, HookStatus.IN_PROGRESS):
                    if h.invoked:
                        log.warning(
                            "%s: hook %s was running when canaria stopped; invoking it again",
                            d.id,
                            h.function,
                        )
                    self._resume.append(InvokeHook(h, _payload(h)))

    async def run(self) -> None:
        """Reconcile due deployments until ``stop``."""
        while self._resume:
            self._spawn(self._invoke_hook(self._resume.pop(0)))
        while not self._stopping:
            now = self.clock.now()
            wake: float | None = None
            for d in self.store.deployments(active_only=True, limit=1000):
                if d.next_wake_at is None or d.next_wake_at <= now:
                    d = await self.step(d.id)
                if not d.state.completed and d.next_wake_at is not None:
                    wake = d.next_wake_at if wake is None else min(wake, d.next_wake_at)
            delay = 1.0 if wake is None else self.clock.wall_delay(wake - self.clock.now())
            self._poke.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._poke.wait(), timeout=min(max(delay, 0.001), 1.0))

    def poke(self) -> None:
        self._poke.set()

    async def drain(self) -> None:
        """Wait for the side effects started so far (hook invocations, notifications)."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    async def stop(self) -> None:
        self._stopping = True
        self._poke.set()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    # ---- one step ----------------------------------------------------------------------

    async def step(self, deployment_id: str, command: Command | None = None) -> Deployment:
        async with self._lock:
            d = self.store.deployment(deployment_id)
            if d.state.completed:
                return d
            now = self.clock.now()
            hooks = {h.execution_id: h for h in self.store.hooks(d.id)}
            verdict, reason = Verdict.CONTINUE, ""
            judge_events: tuple[DeploymentEvent, ...] = ()
            if d.state is State.ALLOW_TRAFFIC and d.judge.get("enabled", True):
                judge_state, verdict, reason = self.signals.judge(d, now)
                judge_events = evidence_events(d, judge_state, now)
                d = replace(d, judge=judge_state)
            obs = Observation(
                now=now,
                hooks=hooks,
                alarms_in_alarm=self.signals.alarms_in_alarm(now),
                verdict=verdict,
                verdict_reason=reason,
                gate=self.signals.gate(d, now),
                command=command,
            )
            plan = reconcile(d, obs)
            new = plan.deployment
            events = (*judge_events, *plan.events)
            if command is not None:
                op = DeploymentEvent(d.id, now, "operator", f"operator command: {command.value}")
                events = (op, *events)
            self.store.save_deployment(new, aliases=plan.aliases, events=events, hooks=plan.hooks)
            for alias in plan.aliases:
                self.backend.apply(alias)
            for action in plan.actions:
                if isinstance(action, InvokeHook):
                    self._spawn(self._invoke_hook(action))
                elif isinstance(action, Notify) and self.notifier is not None:
                    self._spawn(self.notifier(new, action.event))
            for listener in self.listeners:
                listener(new, events)
            return new

    async def start(self, d: Deployment) -> Deployment:
        """Store a new deployment (Conflict if its alias is busy) and take its first step."""
        self.store.create_deployment(d)
        self.store.save_deployment(
            d, events=(DeploymentEvent(d.id, d.created_at, "created", _created_message(d)),)
        )
        started = await self.step(d.id)
        self.poke()
        return started

    async def command(self, deployment_id: str, command: Command) -> Deployment:
        d = await self.step(deployment_id, command)
        self.poke()
        return d

    # ---- hooks -------------------------------------------------------------------------

    async def _invoke_hook(self, action: InvokeHook) -> None:
        h = action.execution
        self.store.save_hook(replace(h, invoked=True))
        error = await self.hooks.run_hook(h.function, action.payload)
        if error is None:
            return
        # The hook function itself failed (crash, import error, timeout): CodeDeploy would
        # wait out the hook's hour; canaria fails the hook at once and says why.
        try:
            current = self.store.hook(h.execution_id)
            if current.status in (HookStatus.PENDING, HookStatus.IN_PROGRESS):
                failed = replace(
                    current,
                    status=HookStatus.FAILED,
                    finished_at=self.clock.now(),
                    message=f"the hook function failed: {error}",
                )
                self.store.save_hook(failed)
        finally:
            self.poke()

    def _spawn(self, coro: Awaitable[None]) -> None:
        async def guarded() -> None:
            try:
                await coro
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("controller side effect failed")

        task = asyncio.ensure_future(guarded())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)


def evidence_events(
    d: Deployment, judge: Mapping[str, Any], now: float
) -> tuple[DeploymentEvent, ...]:
    """A ``judge`` event each time a metric's evidence first reaches another power of ten
    (10, 100, …), so the deployment's events show the judge building its case."""
    before = d.judge.get("evidence") or {}
    after = judge.get("evidence") or {}
    threshold = float(judge.get("threshold") or 0.0)
    out = []
    for metric, value in after.items():
        old = float(before.get(metric, 1.0))
        if value >= 10.0 and math.floor(math.log10(value)) > math.floor(math.log10(max(old, 1.0))):
            out.append(
                DeploymentEvent(
                    d.id,
                    now,
                    "judge",
                    f"judge: {metric} evidence {value:.3g} (rollback at {threshold:.3g})",
                    {"evidence": dict(after), "threshold": threshold},
                )
            )
    return tuple(out)


def _created_message(d: Deployment) -> str:
    moves = ", ".join(
        f"{t.function}:{t.alias} {t.from_version} → {t.to_version}" for t in d.targets
    )
    return f"created: {moves} with {d.config_name}"


def _payload(h: Any) -> dict[str, str]:
    return {"DeploymentId": h.deployment_id, "LifecycleEventHookExecutionId": h.execution_id}
