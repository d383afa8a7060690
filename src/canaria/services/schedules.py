"""Fire the application's schedules on canaria's clock: each ``ScheduledInvocation``
invokes its function (through its AutoPublishAlias, like every event source, so a canary
deployment splits scheduled invocations by its weights), or starts an execution of its
state machine, when its expression comes due.

The clock is the one the whole platform runs on: under ``--time-scale 60`` a
``rate(1 hour)`` schedule fires every minute of wall time, a ``cron(0 9 * * ? *)`` once a
virtual day; a jump of a manual clock (``POST /clock``) fires a schedule once, not once
per period it skipped. As EventBridge invokes Lambda asynchronously, a firing does not
wait for the previous one, and a failed invocation (a function error or a throttle) is
tried twice more, one and then two minutes later (Lambda's asynchronous retries).

The event is the target's ``Input`` when the template gives one; otherwise a rule's
"Scheduled Event" envelope, or ``{}`` from EventBridge Scheduler.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Awaitable, Callable, Iterable
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import orjson
from pyawscron import AWSCron

from canaria.clock import Clock
from canaria.errors import CanariaError
from canaria.models.arns import ACCOUNT, REGION
from canaria.models.event_transforms import apply
from canaria.models.schedules import (
    ScheduledInvocation,
    ScheduleKind,
    ScheduleTarget,
    rate_seconds,
)
from canaria.services.pollers import Invoke

StartExecution = Callable[[str, str], Awaitable[None]]  # (state machine name, input)

__all__ = ["RETRY_DELAYS_S", "Schedules", "next_due", "scheduled_event"]

log = logging.getLogger("canaria.services")

RETRY_DELAYS_S = (60.0, 120.0)  # Lambda's asynchronous invocation: two retries


def next_due(schedule: ScheduledInvocation, after: float, anchor: float) -> float | None:
    """When ``schedule`` next comes due strictly after ``after`` (epoch seconds on the
    platform's clock); ``anchor`` is when it was created (a rate counts from there).
    None when it never will again (a past ``at(...)``, a cron whose years are over)."""
    expression = schedule.expression
    if (period := rate_seconds(expression)) is not None:
        periods = int((after - anchor) // period) + 1
        return anchor + periods * period
    zone = ZoneInfo(schedule.timezone)
    if expression.startswith("at("):
        local = datetime.fromisoformat(expression[3:-1]).replace(tzinfo=zone)
        when = local.timestamp()
        return when if when > after else None
    # pyawscron reads UTC only: give it the wall-clock time of the schedule's zone as if
    # it were UTC, and read its answer back in that zone.
    wall = datetime.fromtimestamp(after, zone).replace(tzinfo=UTC)
    nxt = AWSCron(expression[5:-1].strip()).occurrence(wall).next()
    return None if nxt is None else nxt.replace(tzinfo=zone).timestamp()


def scheduled_event(schedule: ScheduledInvocation, when: float) -> bytes | None:
    """The event the target gets when ``schedule`` fires at ``when``; None when the
    rule target's ``InputTransformer`` makes nothing of it (EventBridge sends nothing)."""
    if schedule.input is not None:
        return schedule.input.encode()
    if schedule.kind is ScheduleKind.SCHEDULER:
        return b"{}"
    event = {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": ACCOUNT,
        "time": datetime.fromtimestamp(when, UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "region": REGION,
        "resources": [schedule.rule_arn],
        "detail": {},
    }
    if schedule.transform is None:
        return orjson.dumps(event)
    rule_name = schedule.rule_arn.rsplit("/", 1)[-1]
    text = apply(schedule.transform, event, schedule.rule_arn, rule_name)
    return None if text is None else text.encode()


class Schedules:
    """One timer task per enabled schedule of the running application."""

    def __init__(self, clock: Clock, invoke: Invoke, start: StartExecution) -> None:
        self.clock = clock
        self.invoke = invoke
        self.start = start
        # sends an event to a queue of the services engine (by name)
        self.relay: Callable[[str, bytes], Awaitable[None]] | None = None
        self._timers: dict[tuple[str, str], tuple[ScheduledInvocation, asyncio.Task[None]]] = {}
        self._firing: set[asyncio.Task[None]] = set()

    def apply(self, schedules: Iterable[ScheduledInvocation]) -> None:
        """Fire exactly ``schedules`` (the enabled ones); a changed schedule restarts
        (a rate then counts from now, as a rule updated on AWS does)."""
        wanted = {(s.target, s.name): s for s in schedules if s.enabled}
        for key, (schedule, task) in list(self._timers.items()):
            if wanted.get(key) != schedule:
                task.cancel()
                del self._timers[key]
        for key, schedule in wanted.items():
            if key not in self._timers:
                task = asyncio.ensure_future(self._run(schedule, self.clock.now()))
                self._timers[key] = (schedule, task)

    def running(self) -> tuple[ScheduledInvocation, ...]:
        return tuple(schedule for schedule, _ in self._timers.values())

    async def stop(self) -> None:
        tasks = [task for _, task in self._timers.values()] + list(self._firing)
        self._timers.clear()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def _run(self, schedule: ScheduledInvocation, anchor: float) -> None:
        due = next_due(schedule, anchor, anchor)
        while due is not None:
            await self.clock.sleep_until(due)
            task = asyncio.ensure_future(self._fire(schedule, due))
            self._firing.add(task)
            task.add_done_callback(self._firing.discard)
            due = next_due(schedule, max(due, self.clock.now()), anchor)

    async def _fire(self, schedule: ScheduledInvocation, when: float) -> None:
        event = scheduled_event(schedule, when)
        if event is None:
            log.warning(
                "schedule %s: the target's InputTemplate does not make JSON: nothing is sent",
                schedule.name,
            )
            return
        for attempt, delay in enumerate((0.0, *RETRY_DELAYS_S)):
            if delay:
                await self.clock.sleep_until(self.clock.now() + delay)
            problem = await self._attempt(schedule, event)
            if problem is None:
                return
            log.warning(
                "schedule %s of %s %s: attempt %d failed: %s",
                schedule.name,
                schedule.target_type.value,
                schedule.target,
                attempt + 1,
                problem,
            )

    async def _attempt(self, schedule: ScheduledInvocation, event: bytes) -> str | None:
        try:
            if schedule.target_type is ScheduleTarget.STATE_MACHINE:
                await self.start(schedule.target, event.decode())
                return None
            if schedule.target_type is ScheduleTarget.QUEUE:
                if self.relay is None:
                    return "no queues here"
                try:
                    await self.relay(schedule.target, event)
                except Exception as exc:  # the services engine restarting: tried again
                    return f"{type(exc).__name__}: {exc}"
                return None
            result = await self.invoke(schedule.target, event)
        except CanariaError as exc:
            return exc.message
        if result.function_error:
            return result.payload.decode(errors="replace")[:200]
        return None
