"""One function's execution environments: warm pools per version, concurrency, limits.

Policy (Lambda's where Lambda has one):

- A version's idle workers are reused last-in first-out. No idle worker, while workers of
  the version are serving (or starting) → the request waits for one of them to free up
  as long as that is expected to be quicker than starting a new one: when its place in
  the queue times the version's recent handler time, over the workers serving, is
  shorter than the version's recent cold start, it waits up to that cold start's time;
  otherwise up to ``handover_grace_s`` (5 ms, wall). This is where canaria departs from
  Lambda, whose environments never share a CPU: here every environment runs on the same
  few cores, a cold start costs tens of milliseconds of CPU that every other request
  waits for, and more processes than cores serve no more requests, they only take turns
  (under 64 connections of a trivial handler the pool grew to 43 workers and served
  less than half of what 8 serve). A handler that waits on I/O (invocations longer than a
  cold start) still gets one environment per request in flight, as on Lambda; a short
  one is served by as many as keep up with it. A request never waits for a busy
  environment longer than a cold start would have taken. Nor does it wait while fewer
  than ``min_serving`` (2) of the version's environments serve: with one, the gateway
  wakes for every reply alone, and ``canaria up`` served the hello example 15 % slower,
  at 15 % more CPU per request, than with two or more.
- Still no worker → a new one is started (a cold start, counted,
  ``InvokeResult.cold_start``), unless
  ``max_starting_per_version`` (2) of the version's workers are starting already: then
  the request waits for the first worker that becomes idle or the first start slot that
  frees, up to the init timeout (then it starts one regardless). A burst, or a pause of
  the event loop that lets requests pile up, then grows the pool a few workers at a time
  instead of starting one process per waiting request, each start slowing the others.
- Concurrency is the number of invocations in flight across all versions, waiting ones
  included. At the reserved concurrency (0: always) ``Throttled("Rate Exceeded.")`` is
  raised at once, as Lambda does; without a reservation at ``max_concurrency`` (1,000,
  Lambda's default account quota), like an account's unreserved concurrency running out.
  Live processes are capped apart, at ``max_workers`` (64): at the cap an idle worker of
  another version is stopped to make room (for a version that has workers of its own,
  only one idle for ``EVICTABLE_IDLE_S``, 1 s, and ``min_serving`` no longer applies: a
  canary's two versions at a cap of 2 otherwise took each other's workers in turn), and
  with none a request waits for a worker of its version to free up (up to the init
  timeout, then it starts one anyway).
  The two caps used to be one, 64 requests in flight; once requests could wait for a busy
  environment, ``wrk`` reconnecting its 64 connections while the last ones drained was
  answered 1,609 429s in 3 s.
- Idle workers: each version keeps as many workers as it had requests in flight at its
  recent peak (the highest count of the last ``PEAK_WINDOWS`` × ``PEAK_WINDOW_S``: one
  minute), while they are used at least every ``idle_timeout_s`` (10 min, wall); idle
  workers beyond that are stopped after ``spare_idle_s`` (10 s), so a burst does not leave
  64 processes, while steady traffic whose concurrency jitters keeps the workers its
  peaks need instead of stopping them and paying a cold start a few seconds later.
- Timeout: ``config.timeout_s`` of wall time (never the virtual clock) from the moment the
  event is sent; the worker is killed and replaced. Initialisation has its own 10 s, as
  on Lambda.
- Memory: the worker's RSS is compared with ``config.memory_mb`` — directly, without an
  allowance, because a bare worker is lean: measured on this machine, a worker at rest
  uses 14 MB and one with boto3 imported and a client created 51 MB, less than the ~80 MB
  Lambda reports as "Max Memory Used" for such a function (Lambda's count includes its
  runtime client). So whatever fits in 128 MB on Lambda fits here. It is checked twice:
  the parent polls the worker's RSS (``/proc/<pid>/statm``) every 20 ms while it has been
  busy for 20 ms or more (kills a handler that stays over; the many requests shorter than
  that cost no read), and after every invocation the peak RSS the environment reports is
  compared (catches a short spike between polls). An environment reads its peak after
  every handler that could have grown it by 64 MB (1 ms of handler time since the last
  read; see ``worker.PeakSampler``); a runtime that reports none (a ``provided`` one) is
  read here the same way, its VmHWM from ``/proc/<pid>/status``. Either way,
  and for a ``MemoryError`` in the handler: ``Runtime.OutOfMemory`` and a fresh
  environment.
- Response: at most 6 MB (``MAX_RESPONSE_BYTES``, Lambda's synchronous limit); a larger
  one is answered ``Function.ResponseSizeTooLarge`` and the environment is kept.
- Logs: every captured line goes to ``on_log`` as it arrives, with START, END, REPORT
  and any platform message (timeout, exit) as ``stream="platform"``, in the order
  CloudWatch would show them; ``InvokeResult.logs`` holds the request's whole log as
  Lambda writes it (init output, START, lines, END, REPORT).
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import Any

import orjson

from canaria.clock import Clock
from canaria.errors import InvocationError, Throttled
from canaria.models.arns import function_arn
from canaria.models.runtime import InvokeResult, Version
from canaria.models.streaming import ResponseSink
from canaria.runtime.environment import (
    LogLine,
    end_line,
    exit_message,
    report_line,
    request_ids,
    start_line,
    timeout_message,
)
from canaria.runtime.launch import new_environment
from canaria.runtime.process import Invocation, Reply, ReplyKind, WorkerProcess

MAX_RESPONSE_BYTES = 6_291_556  # Lambda's synchronous response limit (6 MB)
WATCH_S = 0.02  # timeout precision and RSS poll period
REAP_INTERVAL_S = 1.0
PEAK_WINDOW_S = 10.0  # the recent peak of requests in flight: the highest of the last
PEAK_WINDOWS = 6  # six 10-second windows
ACCOUNT_CONCURRENCY = 1000  # Lambda's default concurrent executions per account and Region
UNKNOWN_INIT_S = 0.1  # a version's cold start before one has been measured
SLOT_POLL_S = 0.05  # how often a request waiting for a start slot looks for a free one
EVICTABLE_IDLE_S = 1.0  # at the process cap, idle this long before a version with workers
# of its own may stop it for another
EWMA = 0.2  # weight of the newest sample in the recent invocation and cold-start times

# a LogLine from a tuple, without the named tuple's generated ``__new__`` (a Python-level
# call; a request makes at least three lines)
_line = tuple.__new__


class FunctionRuntime:
    def __init__(
        self,
        name: str,
        *,
        reserved_concurrency: int | None,
        env_extra: Mapping[str, str],
        clock: Clock,
        on_log: Callable[[LogLine], None],
        max_workers: int = 64,
        max_concurrency: int = ACCOUNT_CONCURRENCY,
        max_starting_per_version: int = 2,
        spare_idle_s: float = 10.0,
        idle_timeout_s: float = 600.0,
        init_timeout_s: float = 10.0,
        handover_grace_s: float = 0.005,
        min_serving: int = 2,
        localize: Callable[[str], str] | None = None,
    ) -> None:
        self.name = name
        # the template's own URLs in a version's environment, as where they are served here
        self._localize = localize
        self._reserved = reserved_concurrency
        self._env_extra = dict(env_extra)
        self._clock = clock
        self._on_log = on_log
        self._max_workers = max_workers
        self._max_concurrency = max_concurrency
        self._max_starting = max_starting_per_version
        self._spare_idle_s = spare_idle_s
        self._idle_timeout_s = idle_timeout_s
        self._init_timeout_s = init_timeout_s
        self._grace_s = handover_grace_s
        self._min_serving = min_serving
        self._idle: dict[int, list[WorkerProcess]] = {}
        self._workers: set[WorkerProcess] = set()
        self._per_version: dict[int, int] = {}  # live workers of each version
        self._busy: set[WorkerProcess] = set()
        self._retired: set[int] = set()
        self._background: set[asyncio.Task[None]] = set()
        self._in_flight = 0
        self._running: dict[int, int] = {}  # requests in flight per version
        self._peaks = Peaks(time.monotonic())
        self._starting: dict[int, int] = {}  # workers starting per version
        self._waiters: dict[int, deque[asyncio.Future[WorkerProcess | None]]] = {}
        self._invocation_s: dict[int, float] = {}  # recent handler time per version
        self._init_s: dict[int, float] = {}  # recent cold start (init) time per version
        self._cold_starts = 0
        self._closed = False
        self._arns: dict[str | None, str] = {}  # the invoked ARN per qualifier
        self._monitor: asyncio.TimerHandle | None = None
        self._reaper: asyncio.TimerHandle | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def _local(self, version: Version) -> Version:
        """``version`` with the URLs its environment names of the application's own APIs
        (an ``execute-api`` URL, a function URL) given as where canaria serves them, as
        the stack's outputs are: a function that calls its own API by the URL the template
        gives it reaches it here."""
        env = version.config.environment
        if self._localize is None or not env:
            return version
        local = {k: self._localize(v) for k, v in env.items()}
        if local == env:
            return version
        return replace(version, config=replace(version.config, environment=local))

    def _running_loop(self) -> asyncio.AbstractEventLoop:
        """The event loop the workers' sockets belong to, looked up once: each
        ``asyncio.get_running_loop()`` costs a ``getpid`` system call (its fork check)."""
        loop = self._loop
        if loop is None or loop.is_closed():
            loop = self._loop = asyncio.get_running_loop()
        return loop

    # ---- the interface ----------------------------------------------------------------------

    def concurrent_executions(self) -> int:
        return self._in_flight

    @property
    def min_serving(self) -> int:
        """How many environments a version's queue grows to before it waits for busy ones."""
        return self._min_serving

    def cold_starts(self) -> int:
        return self._cold_starts

    def set_reserved_concurrency(self, reserved: int | None) -> None:
        self._reserved = reserved

    def environments(self) -> dict[int, int]:
        """Live execution environments (worker processes) per version number."""
        out: dict[int, int] = {}
        for w in self._workers:
            if not w.dead:
                out[w.version.number] = out.get(w.version.number, 0) + 1
        return out

    def worker_pids(self) -> list[int]:
        """Live worker processes (for tests and the dashboard)."""
        return [w.pid for w in self._workers if w.pid is not None]

    async def invoke(
        self,
        version: Version,
        event: bytes,
        *,
        qualifier: str | None,
        on_wait: Callable[[], None] | None = None,
        client_context: str | None = None,
        stream: ResponseSink | None = None,
    ) -> InvokeResult:
        """Run ``event`` on an environment of ``version``. ``on_wait`` is called at once
        when no idle environment is free, before the request waits for one to start or
        to free up (the request's ``InvokeResult.waited`` says so too). ``client_context``
        (an Invoke's ``ClientContext``, decoded JSON text) reaches the handler's context.
        ``stream``: the caller streams, so a streamed response goes there as the function
        writes it (its result's payload is then empty); a response that is not streamed
        (any Python handler's) still comes as the payload."""
        if self._closed:
            raise InvocationError(f"{self.name}: the function's runtime is shut down")
        reserved = self._reserved
        if (reserved is not None and self._in_flight >= reserved) or (
            self._in_flight >= self._max_concurrency
        ):
            raise Throttled("Rate Exceeded.")
        self._in_flight += 1
        number = version.number
        running = self._running[number] = self._running.get(number, 0) + 1
        self._peaks.note(number, running)
        try:
            if self._retired:
                self._retired.discard(number)
            now = self._clock.now()
            request_id, trace = request_ids(now)
            inv = Invocation(
                request_id,
                self._running_loop().create_future(),
                start_line(request_id, number),
                stream,
            )
            worker = self._warm(number)
            waited = worker is None
            if waited:
                if on_wait is not None:
                    on_wait()
                worker = await self._worker_or_start_slot(number)
            cold = worker is None
            reply: Reply | None = None
            if worker is None:
                worker, reply = await self._cold_start(version, inv, now)
            else:
                worker.current = inv
                inv.initialised = True
                self._busy_add(worker)
            if reply is None:
                try:
                    self._platform(number, request_id, inv.start_text)
                    inv.start_logged = True
                    timeout_s = version.config.timeout_s
                    header = {
                        "id": request_id,
                        "arn": self._arn(qualifier),
                        "trace": trace,
                        "deadline": int(time.time() * 1000 + timeout_s * 1000),
                    }
                    if client_context is not None:
                        header["client_context"] = client_context
                    reply = await worker.send(header, event, timeout_s)
                except BaseException:  # cancelled mid-invocation: the environment is not reusable
                    self._discard(worker)
                    raise
            return self._finish(version, inv, worker, reply, cold, waited)
        finally:
            self._in_flight -= 1
            self._running[number] -= 1

    async def _cold_start(
        self, version: Version, inv: Invocation, now: float
    ) -> tuple[WorkerProcess, Reply | None]:
        """Start an environment of ``version`` for ``inv`` (the caller holds a start slot):
        the worker, and the reply ``inv`` gets when the init failed (None when ready)."""
        number = version.number
        self._cold_starts += 1
        self._make_room()
        worker = new_environment(
            self.name, self._local(version), self._env_extra, self._line_sink(number), now
        )
        self._adopt(worker)
        worker.current = inv
        self._busy_add(worker)
        try:
            reply = await worker.start(self._init_timeout_s)
        except BaseException:  # cancelled during init: the environment is not reusable
            self._discard(worker)
            raise
        finally:
            self._release_start_slot(number)
        self._note_init(number, worker.init_ms)
        return worker, reply

    def _finish(
        self,
        version: Version,
        inv: Invocation,
        worker: WorkerProcess,
        reply: Reply,
        cold: bool,
        waited: bool,
    ) -> InvokeResult:
        """The invocation's result; the worker goes back to its pool, or is stopped."""
        number = version.number
        self._busy.discard(worker)
        worker.deadline = float("inf")
        if reply.duration_ms is not None:  # the handler's own time, not the gateway's queue
            took = reply.duration_ms / 1000.0
            last = self._invocation_s.get(number, took)
            self._invocation_s[number] = last + EWMA * (took - last)
        if reply.kind is ReplyKind.CLOSED:
            self._discard(worker)
            raise InvocationError(f"{self.name}: the function's runtime was shut down")
        result, healthy = self._result(version, inv, worker, reply, cold, waited)
        worker.current = None
        if healthy and not self._closed and number not in self._retired:
            worker.last_used = time.monotonic()
            self._park(number, worker)
            self._schedule_reaper()
        else:
            self._discard(worker)
        return result

    async def prepare(self, version: Version, count: int = 1) -> int:
        """Start execution environments of ``version`` before it takes traffic until it
        has ``count`` (idle, busy or starting), at most ``max_starting_per_version`` at a
        time, so the first requests it serves are warm: as Lambda provisions an alias's
        provisioned concurrency for the new version, split by the weights, before
        CodeDeploy shifts traffic. Returns how many it has. An environment whose init
        fails or times out is stopped and not counted (the first request then starts one
        and gets that error, as on Lambda); nothing is started past the process cap.
        These are not cold starts: no request waited for them. A retired version (rolled
        back, say) is taken back: its environments are kept again."""
        number = version.number
        self._retired.discard(number)
        self._peaks.note(number, count)  # kept for the peak window, not reaped as spare
        while not self._closed:
            have = self._live(number)
            room = self._max_workers - len(self._workers)
            batch = min(count - have, self._max_starting - self._starting.get(number, 0), room)
            if batch <= 0:
                return have
            started = await asyncio.gather(*(self._start_idle(version) for _ in range(batch)))
            if not all(started):
                return self._live(number)
        return 0

    def _live(self, number: int) -> int:
        """Environments of version ``number``: idle, serving, or starting."""
        return (
            len(self._idle.get(number, ()))
            + self._running.get(number, 0)
            + self._starting.get(number, 0)
        )

    async def _start_idle(self, version: Version) -> bool:
        """Start one environment of ``version`` with no request for it; park it idle."""
        number = version.number
        self._starting[number] = self._starting.get(number, 0) + 1
        worker = new_environment(
            self.name,
            self._local(version),
            self._env_extra,
            self._line_sink(number),
            self._clock.now(),
        )
        self._adopt(worker)
        self._busy_add(worker)
        try:
            reply = await worker.start(self._init_timeout_s)
        except BaseException:
            self._discard(worker)
            raise
        finally:
            self._release_start_slot(number)
        self._note_init(number, worker.init_ms)
        self._busy.discard(worker)
        worker.deadline = float("inf")
        if reply is not None or self._closed or number in self._retired:
            self._discard(worker)
            return False
        worker.last_used = time.monotonic()
        self._park(number, worker)
        self._schedule_reaper()
        return True

    async def retire(self, version_number: int) -> None:
        """Stop the version's idle workers; busy ones stop when they finish."""
        self._retired.add(version_number)
        idle = self._idle.pop(version_number, [])
        await asyncio.gather(*(self._stop(w) for w in idle))

    async def close(self) -> None:
        """Stop every worker; when this returns no worker process is left."""
        self._closed = True
        for handle in (self._monitor, self._reaper):
            if handle is not None:
                handle.cancel()
        self._idle.clear()
        for number in list(self._waiters):
            while self._hand_over(number, None):
                pass
        workers = list(self._workers)
        for w in workers:
            if w in self._busy:
                w.fail(ReplyKind.CLOSED)
        await asyncio.gather(*(self._stop(w) for w in workers))
        if self._background:
            await asyncio.gather(*self._background, return_exceptions=True)

    # ---- one invocation ---------------------------------------------------------------------

    def _warm(self, version_number: int) -> WorkerProcess | None:
        """The most recently used idle worker that is still alive; dead ones (killed from
        outside while idle) are dropped, so the request gets a fresh environment, as on
        Lambda, instead of a ``Runtime.ExitError`` it did not cause."""
        idle = self._idle.get(version_number)
        while idle:
            worker = idle.pop()
            if worker.usable():
                return worker
            self._discard(worker)
        return None

    def _arn(self, qualifier: str | None) -> str:
        arn = self._arns.get(qualifier)
        if arn is None:
            arn = self._arns[qualifier] = function_arn(self.name, qualifier)
        return arn

    async def _worker_or_start_slot(self, number: int) -> WorkerProcess | None:
        """With no idle worker of version ``number``: a worker handed over as it frees up,
        or None once the caller holds one of the version's start slots (it starts a
        worker then). Waits for a busy worker while ``_patience`` says that beats a cold
        start; then for a start slot while the version's slots are taken, up to the init
        timeout."""
        since = time.monotonic()
        deadline = since + self._init_timeout_s
        while True:
            if self._closed:
                raise InvocationError(f"{self.name}: the function's runtime is shut down")
            # a worker parked while this request was between waits (none was in line to be
            # handed it): taken, not stopped by ``_make_room`` to start another in its place
            worker = self._warm(number)
            if worker is not None:
                return worker
            now = time.monotonic()
            patience = self._patience(number)
            if now - since < patience and now < deadline:
                worker = await self._handed_within(number, since + patience - now)
                if worker is not None:
                    return worker
                continue  # a start slot freed up, or the patience ran out: look again
            starting = self._starting.get(number, 0)
            if (starting < self._max_starting and self._has_room(number)) or now >= deadline:
                self._starting[number] = starting + 1
                return None
            # a freed slot is offered to the first waiter, which may be a patient one that
            # leaves it: look again every SLOT_POLL_S
            worker = await self._handed_within(number, min(deadline - now, SLOT_POLL_S))
            if worker is not None:
                return worker

    def _has_room(self, number: int) -> bool:
        """Whether one more worker of version ``number`` may start: under the process cap;
        at it, when an idle worker of any version can be stopped for it. A version that has
        environments of its own takes only one idle for ``EVICTABLE_IDLE_S`` (1 s): one
        idle for a moment belongs to a version with traffic of its own, and stopping it
        only makes that version stop another in turn (a canary's two versions at a cap of
        2 took each other's environments 32 times in 3 s, serving an eighth as many
        requests)."""
        if len(self._workers) < self._max_workers:
            return True
        if not self._per_version.get(number):
            return any(self._idle.values())
        before = time.monotonic() - EVICTABLE_IDLE_S
        return any(idle and idle[0].last_used < before for idle in self._idle.values())

    def _patience(self, number: int) -> float:
        """How long a request of version ``number`` that found no idle worker should wait
        for a busy one: the version's recent cold start when the queue ahead of it is
        expected to drain sooner than that, else the hand-over grace (also while fewer than
        ``min_serving`` serve); 0 when none of its workers is serving or starting (nothing
        will free up)."""
        # busy, starting, or handed over
        serving = self._per_version.get(number, 0) - len(self._idle.get(number, ()))
        if serving <= 0:
            return 0.0
        if serving < self._min_serving and len(self._workers) < self._max_workers:
            return self._grace_s  # grow to min_serving, unless only another's stop makes room
        handler_s = self._invocation_s.get(number)
        if handler_s is None:  # nothing known yet: as on Lambda, a burst starts environments
            return self._grace_s
        init_s = self._init_s.get(number, UNKNOWN_INIT_S)
        queued = len(self._waiters.get(number, ())) + 1
        expected = queued * handler_s / serving
        return max(init_s, self._grace_s) if expected < init_s else self._grace_s

    def _note_init(self, number: int, init_ms: float | None) -> None:
        if init_ms is not None:
            last = self._init_s.get(number)
            sample = init_ms / 1000.0
            self._init_s[number] = sample if last is None else last + EWMA * (sample - last)

    async def _handed_within(self, number: int, timeout_s: float) -> WorkerProcess | None:
        """A worker of version ``number`` that frees up within ``timeout_s``; None when none
        did, or when a start slot freed up instead (the caller looks again). A bare future
        and one timer: under load most requests pass through here."""
        loop = self._running_loop()
        handed: asyncio.Future[WorkerProcess | None] = loop.create_future()
        waiters = self._waiters.setdefault(number, deque())
        waiters.append(handed)
        timer = loop.call_later(timeout_s, _expire, handed, waiters)
        try:
            return await handed
        except asyncio.CancelledError:
            if handed.done() and not handed.cancelled():
                if (given := handed.result()) is not None:
                    self._park(number, given)  # the next one in line gets it
            elif handed in waiters:  # a hand-over may have dropped it already
                waiters.remove(handed)
            raise
        finally:
            timer.cancel()

    def _release_start_slot(self, number: int) -> None:
        self._starting[number] -= 1
        self._hand_over(number, None)

    def _park(self, number: int, worker: WorkerProcess) -> None:
        """A worker free for the next request of its version: handed to the first request
        waiting, in order, else idle."""
        if not self._hand_over(number, worker):
            self._idle.setdefault(number, []).append(worker)

    def _hand_over(self, number: int, worker: WorkerProcess | None) -> bool:
        """Give the first request waiting for version ``number`` ``worker``, or with None
        a start slot to take; False when none waits."""
        waiters = self._waiters.get(number)
        while waiters:
            handed = waiters.popleft()
            if not handed.done():
                handed.set_result(worker)
                return True
        return False

    def _result(
        self,
        version: Version,
        inv: Invocation,
        worker: WorkerProcess,
        reply: Reply,
        cold: bool,
        waited: bool,
    ) -> tuple[InvokeResult, bool]:
        """The InvokeResult Lambda would give, and whether the worker may serve again."""
        rid = inv.request_id
        config = version.config
        max_kib = max(reply.max_memory_kib, 0)
        kind = reply.kind
        if kind in (ReplyKind.OK, ReplyKind.ERROR) and max_kib > worker.memory_limit_kib:
            kind = ReplyKind.OOM
        payload, error_type, platform = reply.payload, None, []
        duration = reply.duration_ms
        healthy = False
        match kind:
            case ReplyKind.OK:
                healthy = True
            case ReplyKind.ERROR:
                healthy = worker.init_error is None and not worker.dead
                error_type = _error_type(payload)
            case ReplyKind.OOM:
                error_type = "Runtime.OutOfMemory"
                message = exit_message(rid, None)
                payload = _error(message, error_type)
                platform = [message, error_type]
            case ReplyKind.TIMEOUT:
                error_type = "Sandbox.Timedout"
                message = timeout_message(rid, self._clock.now(), config.timeout_s)
                payload = _error(message, error_type)
                platform = [message]
                duration = config.timeout_s * 1000.0
            case ReplyKind.EXITED:
                error_type = "Runtime.ExitError"
                message = exit_message(rid, reply.returncode)
                payload = _error(message, error_type)
                platform = [message, error_type]
            case ReplyKind.CLOSED:
                raise AssertionError("a closed runtime returns no result")
        failed = kind is not ReplyKind.OK
        if len(payload) > MAX_RESPONSE_BYTES:
            # Lambda's synchronous limit: the caller gets this error, the environment lives on
            error_type = "Function.ResponseSizeTooLarge"
            message = (
                "Response payload size exceeded maximum allowed payload size "
                f"({MAX_RESPONSE_BYTES} bytes)."
            )
            payload = _error(message, error_type)
            platform = [*platform, message]
            failed = True
        if duration is None:
            duration = 0.0
        status = None
        if kind is ReplyKind.TIMEOUT:
            status = "timeout"
        elif kind in (ReplyKind.OOM, ReplyKind.EXITED):
            status = "error"
        report = report_line(
            rid,
            duration_ms=duration,
            memory_mb=config.memory_mb,
            max_memory_mb=-(-max_kib // 1024),
            init_ms=worker.init_ms if cold else None,
            status=status,
            error_type=error_type if status else None,
        )
        now = self._clock.now()
        number = version.number
        if not inv.start_logged:  # the environment failed before the handler could run
            self._platform(number, rid, inv.start_text)
        end = end_line(rid)
        on_log, name = self._on_log, self.name
        for text in platform:
            on_log(_line(LogLine, (name, number, rid, now, "platform", text)))
        on_log(_line(LogLine, (name, number, rid, now, "platform", end)))
        on_log(_line(LogLine, (name, number, rid, now, "platform", report)))
        logs = "\n".join([*inv.init_lines, inv.start_text, *inv.lines, *platform, end, report, ""])
        result = InvokeResult(
            payload=payload,
            version=version.number,
            request_id=rid,
            duration_ms=duration,
            function_error="Unhandled" if failed else None,
            error_type=error_type,
            cold_start=cold,
            logs=logs,
            waited=waited,
        )
        return result, healthy

    # ---- pools ------------------------------------------------------------------------------

    def _platform(self, version: int, request_id: str, text: str) -> None:
        self._on_log(
            _line(LogLine, (self.name, version, request_id, self._clock.now(), "platform", text))
        )

    def _line_sink(self, version: int) -> Callable[[str, str, str], None]:
        def sink(request_id: str, stream: str, text: str) -> None:
            self._on_log(
                _line(LogLine, (self.name, version, request_id, self._clock.now(), stream, text))
            )

        return sink

    def _busy_add(self, worker: WorkerProcess) -> None:
        self._busy.add(worker)
        if self._monitor is None:
            self._monitor = self._running_loop().call_later(WATCH_S, self._watch)

    def _watch(self) -> None:
        """The watchdog of busy workers: wall-clock timeout, RSS over the memory limit."""
        self._monitor = None
        now = time.monotonic()
        for worker in list(self._busy):
            if now >= worker.deadline:
                worker.fail(ReplyKind.TIMEOUT)
                continue
            if now - worker.busy_since < WATCH_S:
                continue  # too short to poll: the peak RSS after the request covers it
            rss = worker.rss_kib()
            if rss is not None and rss > worker.memory_limit_kib:
                worker.fail(ReplyKind.OOM)
        if self._busy and not self._closed:
            self._monitor = self._running_loop().call_later(WATCH_S, self._watch)

    def _make_room(self) -> None:
        """At the process cap, stop the longest-idle worker of any version."""
        if len(self._workers) < self._max_workers:
            return
        oldest: tuple[float, int] | None = None
        for number, idle in self._idle.items():
            if idle and (oldest is None or idle[0].last_used < oldest[0]):
                oldest = (idle[0].last_used, number)
        if oldest is not None:
            self._discard(self._idle[oldest[1]].pop(0))

    def _schedule_reaper(self) -> None:
        if self._reaper is None and not self._closed:
            self._reaper = self._running_loop().call_later(REAP_INTERVAL_S, self._reap)

    def _reap(self) -> None:
        """Stop idle workers beyond the version's recent peak of requests in flight once
        spare, and any idle for too long."""
        self._reaper = None
        now = time.monotonic()
        self._peaks.advance(now, self._running)
        for number, idle in list(self._idle.items()):
            spare = len(idle) + self._running.get(number, 0) - self._peaks.recent(number)
            keep: list[WorkerProcess] = []
            for i, w in enumerate(idle):  # oldest first
                idle_for = now - w.last_used
                if idle_for > self._idle_timeout_s or (i < spare and idle_for > self._spare_idle_s):
                    self._discard(w)
                else:
                    keep.append(w)
            if keep:
                self._idle[number] = keep
            else:
                del self._idle[number]
        if self._idle:
            self._schedule_reaper()

    def _adopt(self, worker: WorkerProcess) -> None:
        self._workers.add(worker)
        number = worker.version.number
        self._per_version[number] = self._per_version.get(number, 0) + 1

    def _forget(self, worker: WorkerProcess) -> None:
        if worker in self._workers:
            self._workers.discard(worker)
            self._per_version[worker.version.number] -= 1
        self._busy.discard(worker)

    def _discard(self, worker: WorkerProcess) -> None:
        """Stop ``worker`` in the background (``close`` waits for it)."""
        if worker not in self._workers:
            return
        self._forget(worker)
        task = asyncio.ensure_future(self._stop(worker))
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def _stop(self, worker: WorkerProcess) -> None:
        self._forget(worker)
        if worker.dead:
            worker.kill()
        await worker.stop()


def _expire(
    handed: asyncio.Future[WorkerProcess | None],
    waiters: deque[asyncio.Future[WorkerProcess | None]],
) -> None:
    """A wait for a worker timed out: out of the line, answered None."""
    if not handed.done():
        waiters.remove(handed)
        handed.set_result(None)


def _error(message: str, error_type: str) -> bytes:
    return orjson.dumps({"errorMessage": message, "errorType": error_type})


def _error_type(payload: bytes) -> str | None:
    try:
        shape: Any = orjson.loads(payload)
    except orjson.JSONDecodeError:
        return None
    return shape.get("errorType") if isinstance(shape, dict) else None


class Peaks:
    """The recent peak of requests in flight per version: the highest count in each of the
    last ``PEAK_WINDOWS`` windows of ``PEAK_WINDOW_S``. ``note`` runs per request (one
    comparison); windows move on in ``advance``, which the reaper calls."""

    def __init__(self, start: float) -> None:
        self._current: dict[int, int] = {}
        self._past: deque[dict[int, int]] = deque(maxlen=PEAK_WINDOWS - 1)
        self._window_start = start

    def note(self, number: int, running: int) -> None:
        if running > self._current.get(number, 0):
            self._current[number] = running

    def advance(self, now: float, running: Mapping[int, int]) -> None:
        """Close the windows that ended by ``now``; a new one starts at what runs now."""
        ended = int((now - self._window_start) // PEAK_WINDOW_S)
        if ended <= 0:
            return
        self._past.append(self._current)
        for _ in range(min(ended, PEAK_WINDOWS) - 1):
            self._past.append({})
        self._current = {n: r for n, r in running.items() if r}
        self._window_start += ended * PEAK_WINDOW_S

    def recent(self, number: int) -> int:
        peak = self._current.get(number, 0)
        for window in self._past:
            peak = max(peak, window.get(number, 0))
        return peak
