"""The invocation service: resolve a qualifier, invoke a version, count what is in flight,
record the outcome. The gateway (as its ``Invoker`` and ``Recorder``), the edge, hooks,
queue pollers and state machines all invoke through it, so every request is counted and
recorded the same way, below the composition root rather than through it.

Per request it does the least that keeps the metrics exact: one dictionary update per
change of the in-flight count feeds ``ConcurrentExecutions`` (alarms, request gates);
the Prometheus gauge reads the same counts when ``/metrics`` is scraped instead of being
set twice per request.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from functools import partial
from typing import Protocol

from canaria.analysis import Metrics
from canaria.analysis.prom import PromMetrics
from canaria.clock import Clock
from canaria.durable import DurableExecutions, ended_failed
from canaria.errors import CanariaError, InvalidRequest, NotFound
from canaria.gateway import Routing
from canaria.inputs import version_number
from canaria.models import FunctionSpec, InvokeResult, Version
from canaria.models.arns import function_arn
from canaria.models.streaming import ResponseSink
from canaria.runtime import FunctionRuntime
from canaria.store import Store

log = logging.getLogger("canaria.invocations")

InFlightKey = tuple[str, int, str | None]  # (function, version, alias)


class RequestNotes(Protocol):
    def note_request(self, function: str, version: int, request_id: str, started: float) -> None:
        """A request id a request gate with reported completion may wait for."""
        ...


class Invocations:
    """Resolve, invoke, count and record invocations of the running application's
    functions. ``runtimes`` (one ``FunctionRuntime`` per function) is filled by whoever
    adopts an application; ``function_spec`` names the function's current spec."""

    def __init__(
        self,
        store: Store,
        routing: Routing,
        metrics: Metrics,
        prom: PromMetrics,
        notes: RequestNotes,
        clock: Clock,
        function_spec: Callable[[str], FunctionSpec],
    ) -> None:
        self.store = store
        self.routing = routing
        self.metrics = metrics
        self.prom = prom
        self.notes = notes
        self.clock = clock
        self.function_spec = function_spec
        self.runtimes: dict[str, FunctionRuntime] = {}
        self._background: set[asyncio.Task[None]] = set()  # Event invocations running
        # the durable execution service: an Invoke of a function with a DurableConfig
        # starts an execution there instead of running the handler
        self.durable: DurableExecutions | None = None
        self._versions: dict[tuple[str, int], Version] = {}
        # requests running per (function, version, alias): ConcurrentExecutions, what a
        # request-count gate waits for, and the Prometheus gauge at scrape time
        self.in_flight: dict[InFlightKey, int] = {}

    def version(self, function: str, number: int) -> Version:
        """A published version (cached: versions are immutable)."""
        key = (function, number)
        v = self._versions.get(key)
        if v is None:
            v = self._versions[key] = self.store.version(function, number)
        return v

    async def invoke(
        self,
        function: str,
        version: int,
        event: bytes,
        *,
        alias: str | None,
        started: float,
        client_context: str | None = None,
        handler_invocation: bool = False,
        stream: ResponseSink | None = None,
    ) -> InvokeResult:
        """The gateway's Invoker: run ``event`` on ``function`` at ``version``. It goes in
        flight at ``started``, the time its record will carry, so the judge pairs the two.
        ``client_context`` is an Invoke's ``ClientContext``, decoded (JSON text). A durable
        function's event runs an execution on ``version`` to its end, unless this is the
        durable execution service's own ``handler_invocation``. ``stream``: where a streamed
        response goes as it is written (``FunctionRuntime.invoke``)."""
        durable = self.durable
        if durable is not None and function in durable.functions and not handler_invocation:
            spec = self.function_spec(function).durable
            assert spec is not None
            return await durable.run(function, version, spec, event)
        runtime = self.runtimes.get(function)
        if runtime is None:
            raise NotFound(f"Function not found: {function_arn(function)}")
        key = (function, version, alias)
        self._count_in_flight(key, +1, started)
        try:
            return await runtime.invoke(
                self.version(function, version),
                event,
                qualifier=alias,
                on_wait=partial(self.metrics.waiting, started, function, version),
                client_context=client_context,
                stream=stream,
            )
        finally:
            self._count_in_flight(key, -1, self.clock.now())

    def _count_in_flight(self, key: InFlightKey, delta: int, t: float) -> None:
        in_flight = self.in_flight
        n = in_flight.get(key)
        if n is None:  # a new (function, version, alias): the gauge reads it from now on
            n = 0
            self.prom.watch_concurrency(key, in_flight)
        n = in_flight[key] = n + delta
        function, version, alias = key
        self.metrics.record_concurrency(t, function, version, alias, n)

    def record(
        self,
        function: str,
        alias: str | None,
        version: int,
        result: InvokeResult | None,
        *,
        throttled: bool,
        started: float,
        finished: float,
    ) -> None:
        """The gateway's Recorder: per-version metrics at 1-second resolution, and the
        request id for a request gate that waits for its work's completion report. A
        durable execution's outcome is not recorded: its invocations were, one by one."""
        if result is not None and result.durable_execution is not None:
            return
        if result is not None:
            self.notes.note_request(function, version, result.request_id, started)
        self.metrics.record(
            started,
            function,
            version,
            alias,
            duration_ms=result.duration_ms if result else 0.0,
            error=bool(result and result.function_error),
            throttled=throttled,
            timed_out=bool(result and result.error_type == "Sandbox.Timedout"),
            cold_start=bool(result and result.cold_start),
            waited=bool(result and result.waited),
        )
        self.prom.observe(function, alias, version, result, throttled)

    async def invoke_event(
        self, function: str, version: int, event: bytes, *, alias: str | None
    ) -> str | None:
        """Lambda's asynchronous (``Event``) invocation, answered at once: a durable
        function's execution is started (its ARN returned), any other invocation runs in
        the background and is recorded when it ends."""
        durable = self.durable
        if durable is not None and function in durable.functions:
            spec = self.function_spec(function).durable
            assert spec is not None
            return await durable.start(function, version, spec, event)
        task = asyncio.ensure_future(self._invoke_recorded(function, version, event, alias))
        self._background.add(task)
        task.add_done_callback(self._background.discard)
        return None

    async def _invoke_recorded(
        self, function: str, version: int, event: bytes, alias: str | None
    ) -> None:
        started = self.clock.now()
        try:
            result = await self.invoke(function, version, event, alias=alias, started=started)
        except CanariaError as exc:
            log.warning("asynchronous invocation of %s:%s: %s", function, version, exc.message)
            throttled = exc.http_status == 429
            self._record_since(started, function, alias, version, None, throttled=throttled)
            return
        self._record_since(started, function, alias, version, result)

    async def start_durable(
        self, function: str, qualifier: str | None, payload: bytes, name: str | None
    ) -> tuple[str, int]:
        """An asynchronous Invoke of a durable function: start its execution, pinned to
        the version ``qualifier`` names now; the execution's ARN and that version."""
        durable = self.function_spec(function).durable
        if durable is None or self.durable is None:
            raise InvalidRequest(f"{function} is not a durable function (no DurableConfig)")
        version, _ = self.resolve(function, qualifier)
        return await self.durable.start(function, version, durable, payload, name), version

    async def run_durable(
        self, function: str, qualifier: str | None, payload: bytes, name: str | None
    ) -> InvokeResult:
        """A synchronous Invoke of a durable function: its execution's outcome."""
        durable = self.function_spec(function).durable
        if durable is None or self.durable is None:
            raise InvalidRequest(f"{function} is not a durable function (no DurableConfig)")
        version, _ = self.resolve(function, qualifier)
        return await self.durable.run(function, version, durable, payload, name)

    def resolve(self, function: str, qualifier: str | None) -> tuple[int, str | None]:
        """Version and alias a qualifier names; an alias splits by its weights."""
        self.function_spec(function)
        if qualifier is None or qualifier == "$LATEST":
            latest = self.store.latest_version(function)
            if latest is None:
                raise NotFound(f"Function not found: {function_arn(function)}")
            return latest.number, None
        number = version_number(qualifier)
        if number is not None:
            self.version(function, number)
            return number, None
        if self.store.alias(function, qualifier) is None:
            raise NotFound(f"Function not found: {function_arn(function, qualifier)}")
        return self.routing.choose_alias(function, qualifier), qualifier

    async def invoke_qualified(
        self,
        function: str,
        qualifier: str | None,
        payload: bytes,
        *,
        client_context: str | None = None,
        handler_invocation: bool = False,
        stream: ResponseSink | None = None,
    ) -> InvokeResult:
        """Lambda Invoke semantics (edge, CLI, hooks, state machines), with metrics. A
        durable function's Invoke runs an execution to its end (``canaria.durable``);
        ``handler_invocation``: this is the durable execution service's own invocation of
        its handler, run as is."""
        version, alias = self.resolve(function, qualifier)
        return await self.invoke_resolved(
            function,
            version,
            alias,
            payload,
            client_context=client_context,
            handler_invocation=handler_invocation,
            stream=stream,
        )

    async def invoke_resolved(
        self,
        function: str,
        version: int,
        alias: str | None,
        payload: bytes,
        *,
        client_context: str | None = None,
        handler_invocation: bool = False,
        stream: ResponseSink | None = None,
    ) -> InvokeResult:
        """``invoke_qualified`` of the version and alias ``resolve`` chose (a caller that
        needs the version before the invocation ends: ``InvokeWithResponseStream``)."""
        started = self.clock.now()
        try:
            result = await self.invoke(
                function,
                version,
                payload,
                alias=alias,
                started=started,
                client_context=client_context,
                handler_invocation=handler_invocation,
                stream=stream,
            )
        except NotFound:  # no runtime: it never went in flight
            raise
        except CanariaError as exc:  # as the gateway records it: throttled, or no answer
            throttled = exc.http_status == 429
            self._record_since(started, function, alias, version, None, throttled=throttled)
            raise
        if handler_invocation and result.function_error is None and ended_failed(result):
            # the invocation that ends its durable execution FAILED: an error to the judge
            # and the metrics; the service still gets the handler's output as it was
            self._record_since(
                started, function, alias, version, result._replace(function_error="Handled")
            )
            return result
        self._record_since(started, function, alias, version, result)
        return result

    def _record_since(
        self,
        started: float,
        function: str,
        alias: str | None,
        version: int,
        result: InvokeResult | None,
        *,
        throttled: bool = False,
    ) -> None:
        """Record an invocation that ended now (a start counted in flight ends here)."""
        now = self.clock.now()
        self.record(
            function, alias, version, result, throttled=throttled, started=started, finished=now
        )


__all__ = ["InFlightKey", "Invocations", "RequestNotes"]
