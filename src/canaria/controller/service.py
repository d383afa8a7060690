"""The controller: wakes when a deployment is due, reconciles it, persists, then acts.

Order of work for every step, so that a crash at any point is safe:

1. read the deployment and its hook executions from the store;
2. observe (alarms, judge, request gate, operator command) and ``reconcile`` → ``Plan``;
3. write the plan (deployment, aliases, events, hooks) in ONE transaction;
4. push the written aliases to the traffic backend (the gateway's routing) — a judge
   rollback decided between ticks is pushed first and written right after
   (``judge_rolled_back``);
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
from typing import Any, Protocol, TypeVar, assert_never

from canaria.clock import Clock
from canaria.controller.deployments import rollback_deployment
from canaria.controller.plan import Command, GateProgress, InvokeHook, Notify, Observation, Verdict
from canaria.controller.reconcile import HOOK_CRASHED, aliases_at, reconcile
from canaria.controller.signals import detectable_events
from canaria.errors import Conflict
from canaria.models import Alias
from canaria.models.deployment import (
    Deployment,
    DeploymentEvent,
    HookStatus,
    JudgeProgress,
    NotificationEvent,
    State,
)
from canaria.store import StaleDeployment, Store

log = logging.getLogger("canaria.controller")
T = TypeVar("T")
_CAS_ATTEMPTS = 3  # another writer changed the row: read again and re-plan, a few times


class TrafficBackend(Protocol):
    """Where alias changes take effect: the local gateway, or real Lambda aliases."""

    def apply(self, alias: Alias) -> None: ...


class HookRunner(Protocol):
    async def run_hook(
        self, function: str, payload: Mapping[str, str], version: int | None = None
    ) -> str | None:
        """Invoke a hook function (at ``version`` when given); return an error message if
        it failed to run."""
        ...


class Signals(Protocol):
    """What the controller observes about live traffic."""

    def alarms_in_alarm(self, now: float) -> tuple[str, ...]: ...

    def judge(self, d: Deployment, now: float) -> tuple[JudgeProgress, Verdict, str]: ...

    def gate(self, d: Deployment, now: float) -> GateProgress: ...

    def on_rollback(self, callback: Callable[[Deployment], None]) -> None:
        """Have ``callback`` called with a deployment the moment its judge rolls it back,
        between two ticks."""
        ...


Notifier = Callable[[Deployment, NotificationEvent], Awaitable[None]]


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
        signals.on_rollback(self.judge_rolled_back)

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
                    version = (
                        d.pre_traffic_hook_version
                        if h.phase == "BeforeAllowTraffic"
                        else d.post_traffic_hook_version
                    )
                    self._resume.append(InvokeHook(h, _payload(h), version))

    async def run(self) -> None:
        """Reconcile due deployments (``next_wake_at <= now``) until ``stop``."""
        while self._resume:
            self._spawn(self._invoke_hook(self._resume.pop(0)))
        while not self._stopping:
            delay = 1.0
            try:
                for d in await self._io(self.store.due_deployments, self.clock.now()):
                    try:
                        await self.step(d.id)
                    except Exception:  # one deployment's trouble must not stop the others
                        log.exception("reconciling deployment %s failed; trying again", d.id)
                wake = await self._io(self.store.next_wake_at)
                if wake is not None:
                    delay = self.clock.wall_delay(wake - self.clock.now())
            except Exception:  # the store is unreachable: try again within a second
                log.exception("reading due deployments failed; trying again")
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
        """Reconcile one deployment once: observe, plan, write (compare-and-set), act. A
        write that finds the row changed by another writer reads it again and re-plans."""
        async with self._lock:
            for attempt in range(_CAS_ATTEMPTS):
                try:
                    return await self._step(deployment_id, command)
                except StaleDeployment:
                    if attempt == _CAS_ATTEMPTS - 1:
                        raise
                    log.info("deployment %s changed under us; reconciling again", deployment_id)
            raise AssertionError("unreachable")

    async def _step(self, deployment_id: str, command: Command | None) -> Deployment:
        d = await self._io(self.store.deployment, deployment_id)
        if d.state.completed:
            if command is not None:
                raise Conflict(f"deployment {d.id} has already completed ({d.state.value})")
            return d
        now = self.clock.now()
        hooks = {h.execution_id: h for h in await self._io(self.store.hooks, d.id)}
        verdict, reason = Verdict.CONTINUE, ""
        judge_events: tuple[DeploymentEvent, ...] = ()
        if d.state is State.ALLOW_TRAFFIC and d.judge.settings.enabled:
            progress, verdict, reason = self.signals.judge(d, now)
            judge_events = (
                *evidence_events(d, progress, now),
                *detectable_events(d, progress, now),
            )
            d = replace(d, judge=replace(d.judge, progress=progress))
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
        events = (*judge_events, *plan.events)
        if command is not None:
            op = DeploymentEvent(d.id, now, "operator", f"operator command: {command.value}")
            events = (op, *events)
        new = await self._io(
            lambda: self.store.save_deployment(
                plan.deployment, aliases=plan.aliases, events=events, hooks=plan.hooks
            )
        )
        for alias in plan.aliases:
            self.backend.apply(alias)
        for action in plan.actions:
            match action:
                case InvokeHook():
                    self._spawn(self._invoke_hook(action))
                case Notify(event=event):
                    if self.notifier is not None:
                        self._spawn(self.notifier(new, event))
                case _:
                    assert_never(action)
        for listener in self.listeners:
            listener(new, events)
        return new

    async def start(self, d: Deployment) -> Deployment:
        """Store a new deployment (Conflict if its alias is busy) and take its first step."""
        created = DeploymentEvent(d.id, d.created_at, "created", _created_message(d))
        await self._io(self.store.create_deployment, d, (created,))
        started = await self.step(d.id)
        self.poke()
        return started

    async def command(self, deployment_id: str, command: Command) -> Deployment:
        """An operator command (stop, rollback, promote): Conflict once it has completed."""
        d = await self.step(deployment_id, command)
        self.poke()
        return d

    def judge_rolled_back(self, d: Deployment) -> None:
        """The judge rolled ``d`` back between two ticks: send its traffic to the stable
        versions now, then take the step that writes the rollback.

        This is the one move made before it is written. Serving the stable version is
        always safe, and at 1,000 req/s the store write would let a few more requests
        reach the failing canary. If the step does not end in a rollback after all (an
        operator's command came first), the stored aliases are applied again; if canaria
        stops in between, ``recover`` applies them and the judge decides again."""
        for alias in aliases_at(d, 0.0):
            self.backend.apply(alias)
        try:
            asyncio.get_running_loop()
        except RuntimeError:  # no loop (a synchronous caller): the next tick writes it
            return
        self._spawn(self._write_rollback(d))

    async def _write_rollback(self, d: Deployment) -> None:
        new = await self.step(d.id)
        if new.state.completed and new.rolled_back:
            return
        for t in d.targets:
            stored = await self._io(self.store.alias, t.function, t.alias)
            if stored is not None:
                self.backend.apply(stored)

    # ---- alias and hook writes from outside (edge, release, operator) -------------------

    async def update_alias(self, alias: Alias) -> Alias:
        """Move an alias no deployment holds (the edge's UpdateAlias, a first publish).
        An alias a deployment is moving is refused with a Conflict naming it: stop the
        deployment first."""
        await self._io(self.store.put_alias_unless_held, alias, self.clock.now())
        self.backend.apply(alias)
        return alias

    async def report_hook(self, deployment_id: str, execution_id: str, status: HookStatus) -> None:
        """A hook's report (PutLifecycleEventHookExecutionStatus); the next step reads it."""
        now = self.clock.now()
        await self._io(self.store.report_hook, deployment_id, execution_id, status, now)
        self.poke()

    async def rollback_finished(self, d: Deployment, function: str) -> Deployment:
        """Roll ``function`` back from the target of the finished deployment ``d`` to the
        version it replaced: a deployment of its own (all at once, no hooks), as
        CodeDeploy records a rollback; ``d`` gets an event naming it."""
        now = self.clock.now()
        back = rollback_deployment(d, function, now)
        note = DeploymentEvent(d.id, now, "operator", f"rolled back by deployment {back.id}")
        await self._io(self.store.append_events, (note,))
        return await self.start(back)

    async def append_events(self, events: tuple[DeploymentEvent, ...]) -> None:
        await self._io(self.store.append_events, events)

    async def _io(self, fn: Callable[..., T], *args: Any) -> T:
        """Store I/O runs in a worker thread: a slow database never stalls the requests
        the event loop is serving."""
        return await asyncio.to_thread(fn, *args)

    # ---- hooks -------------------------------------------------------------------------

    async def _invoke_hook(self, action: InvokeHook) -> None:
        h = action.execution
        try:
            await self._io(self.store.save_hook, replace(h, invoked=True))
        except Conflict:
            return  # it reported (or timed out) before this invocation started
        error = await self.hooks.run_hook(h.function, action.payload, action.version)
        if error is None:
            return
        # The hook function itself failed (crash, import error, timeout): CodeDeploy would
        # wait out the hook's hour; canaria fails the hook at once and says why.
        try:
            current = await self._io(self.store.hook, h.execution_id)
            failed = replace(
                current,
                status=HookStatus.FAILED,
                finished_at=self.clock.now(),
                message=f"{HOOK_CRASHED}{error}",
            )
            with contextlib.suppress(Conflict):  # it reported after all: the report stands
                await self._io(self.store.save_hook, failed)
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
    d: Deployment, progress: JudgeProgress, now: float
) -> tuple[DeploymentEvent, ...]:
    """A ``judge`` event each time a metric's evidence first reaches another power of ten
    (10, 100, …), so the deployment's events show the judge building its case."""
    before = d.judge.progress.evidence
    after = progress.evidence
    threshold = progress.threshold or 0.0
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
