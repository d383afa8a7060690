"""CloudWatch Logs subscription filters delivered to functions, as CloudWatch Logs
delivers them.

The log book hands every line of a subscribed function's log group to ``read`` (its tap):
a line its filter's pattern matches (``analysis.filter_patterns``, every form; an empty
pattern matches every line, the platform's ``START`` / ``END`` / ``REPORT`` lines
included, as they are in the group on AWS) is kept, per filter and log stream. Every
``flush_every_s`` the kept lines go out, one invocation per filter and stream, through the
destination's alias (asynchronous, as CloudWatch Logs invokes Lambda, so a canary deployment
splits them by its weights, and a failed delivery is tried twice more, one and two minutes
later) with the event CloudWatch Logs sends::

    {"awslogs": {"data": base64(gzip(json))}}
    json = {"messageType": "DATA_MESSAGE", "owner": <account>, "logGroup": ...,
            "logStream": ..., "subscriptionFilters": [<name>],
            "logEvents": [{"id": ..., "timestamp": <ms>, "message": ...}, ...]}

At most ``MAX_EVENTS`` events go in one invocation (the rest in the next), and at most
``MAX_PENDING`` wait per filter: past that, lines are dropped and counted (``dropped``),
rather than held without limit while a destination cannot keep up; canaria's log says how
many at the next flush.
"""

from __future__ import annotations

import asyncio
import base64
import gzip
import logging
import threading
from collections.abc import Callable, Sequence
from typing import Any

import orjson

from canaria.analysis import filter_patterns
from canaria.clock import Clock
from canaria.errors import CanariaError
from canaria.logbook import LogEntry, stream_name
from canaria.models import LogSubscriptionSpec
from canaria.models.arns import ACCOUNT
from canaria.services.forwarding import PutRecords
from canaria.services.pollers import Invoke
from canaria.services.schedules import RETRY_DELAYS_S

log = logging.getLogger("canaria.services")

__all__ = ["LogSubscriptions", "data_message", "subscription_event"]

MAX_EVENTS = 10_000  # log events in one delivery
MAX_PENDING = 100_000  # waiting per filter, beyond which lines are dropped


def data_message(spec: LogSubscriptionSpec, stream: str, events: list[Any]) -> bytes:
    """A delivery of ``events`` (of one log stream), GZIP'd: a delivery stream's record."""
    data = {
        "messageType": "DATA_MESSAGE",
        "owner": ACCOUNT,
        "logGroup": spec.group,
        "logStream": stream,
        "subscriptionFilters": [spec.name],
        "logEvents": events,
    }
    return gzip.compress(orjson.dumps(data))


def subscription_event(spec: LogSubscriptionSpec, stream: str, events: list[Any]) -> bytes:
    """The event a delivery of ``events`` (of one log stream) invokes its function with."""
    packed = base64.b64encode(data_message(spec, stream, events)).decode("ascii")
    return orjson.dumps({"awslogs": {"data": packed}})


class LogSubscriptions:
    """The running application's subscription filters (see the module docstring)."""

    def __init__(
        self,
        clock: Clock,
        invoke: Invoke,
        flush_every_s: float = 0.5,
        max_events: int = MAX_EVENTS,
        max_pending: int = MAX_PENDING,
        stream_of: Callable[[LogEntry], str] = stream_name,
    ) -> None:
        self.clock = clock
        self.invoke = invoke
        # a line's log stream, as its group names it (``LogGroups.stream_of``)
        self.stream_of = stream_of
        self.flush_every_s = flush_every_s
        self.max_events = max_events
        self.max_pending = max_pending
        self._by_source: dict[str, list[tuple[LogSubscriptionSpec, filter_patterns.Pattern]]] = {}
        # (filter, log stream) -> the events waiting; the log book's tap may run on any thread
        self._pending: dict[tuple[LogSubscriptionSpec, str], list[dict[str, Any]]] = {}
        self._waiting: dict[str, int] = {}  # filter -> events waiting
        self._lock = threading.Lock()
        self.dropped: dict[str, int] = {}  # filter -> lines dropped past MAX_PENDING
        self._dropping: dict[str, int] = {}  # the same since the last flush (logged there)
        self._flusher: asyncio.Task[None] | None = None
        self._sending: set[asyncio.Task[None]] = set()
        # a filter whose destination is a delivery stream: (its ARN, the records)
        self.firehose: PutRecords | None = None

    def configure(self, specs: Sequence[LogSubscriptionSpec]) -> None:
        """Deliver ``specs`` from now on (a new template's)."""
        by_source: dict[str, list[tuple[LogSubscriptionSpec, filter_patterns.Pattern]]] = {}
        for spec in specs:
            pattern = filter_patterns.parse(spec.pattern)
            by_source.setdefault(spec.source, []).append((spec, pattern))
        with self._lock:
            self._by_source = by_source
            kept = {spec for subs in by_source.values() for spec, _ in subs}
            self._pending = {k: v for k, v in self._pending.items() if k[0] in kept}
        if by_source and self._flusher is None:
            self._flusher = asyncio.ensure_future(self._flush_every())
        elif not by_source and self._flusher is not None:
            self._flusher.cancel()
            self._flusher = None

    @property
    def functions(self) -> frozenset[str]:
        """The functions whose every line is read (their log group is subscribed)."""
        return frozenset(self._by_source)

    def read(self, entry: LogEntry) -> None:
        """The log book's tap: keep ``entry`` for each filter of its group it matches."""
        subscriptions = self._by_source.get(entry.function)
        if not subscriptions:
            return
        for spec, pattern in subscriptions:
            if pattern.match(entry.text) is None:
                continue
            event = {
                "id": f"{entry.seq:056d}",
                "timestamp": int(entry.time * 1000),
                "message": entry.text,
            }
            with self._lock:
                waiting = self._waiting.get(spec.name, 0)
                if waiting >= self.max_pending:
                    self.dropped[spec.name] = self.dropped.get(spec.name, 0) + 1
                    self._dropping[spec.name] = self._dropping.get(spec.name, 0) + 1
                    continue
                self._waiting[spec.name] = waiting + 1
                stream = self.stream_of(entry)
                self._pending.setdefault((spec, stream), []).append(event)

    def flush(self) -> None:
        """Send what is waiting: one invocation per filter and log stream."""
        with self._lock:
            pending, self._pending = self._pending, {}
            self._waiting = {}
            dropped, self._dropping = self._dropping, {}
        for name, count in dropped.items():
            log.warning(
                "subscription filter %s: %d log lines dropped: more than %d were waiting",
                name,
                count,
                self.max_pending,
            )
        for (spec, stream), events in pending.items():
            for start in range(0, len(events), self.max_events):
                batch = events[start : start + self.max_events]
                task = asyncio.ensure_future(self._deliver(spec, stream, batch))
                self._sending.add(task)
                task.add_done_callback(self._sending.discard)

    async def stop(self) -> None:
        if self._flusher is not None:
            self._flusher.cancel()
            self._flusher = None
        self.flush()
        if self._sending:
            await asyncio.gather(*self._sending, return_exceptions=True)

    async def _flush_every(self) -> None:
        while True:
            await asyncio.sleep(self.flush_every_s)
            self.flush()

    async def _deliver(self, spec: LogSubscriptionSpec, stream: str, events: list[Any]) -> None:
        """One delivery, tried again one and then two minutes (of the platform's clock)
        after a function error or a throttle, as Lambda retries an asynchronous invocation."""
        if spec.delivery_stream is not None:
            try:
                if self.firehose is None:
                    raise CanariaError("no delivery streams run here")
                self.firehose(spec.delivery_stream, [data_message(spec, stream, events)])
            except CanariaError as exc:
                log.warning("subscription filter %s: %s", spec.name, exc.message)
            return
        event = subscription_event(spec, stream, events)
        for attempt, delay in enumerate((0.0, *RETRY_DELAYS_S)):
            if delay:
                await self.clock.sleep_until(self.clock.now() + delay)
            try:
                result = await self.invoke(spec.destination, event)
            except CanariaError as exc:
                problem = exc.message
            else:
                if result.ok:
                    return
                problem = result.error_type or result.function_error or "failed"
            log.warning(
                "subscription filter %s: delivery of %d log events to %s, attempt %d failed: %s",
                spec.name,
                len(events),
                spec.destination,
                attempt + 1,
                problem,
            )
