"""When schedules come due, what the function gets, and the timers that fire them on a
clock moved by hand (ManualClock), with a recording invoke in place of a function."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import orjson

from canaria.clock import ManualClock
from canaria.errors import Throttled
from canaria.models import InvokeResult
from canaria.models.event_transforms import EventTransform
from canaria.models.schedules import ScheduledInvocation, ScheduleKind, ScheduleTarget
from canaria.services.schedules import RETRY_DELAYS_S, Schedules, next_due, scheduled_event

RULE_ARN = "arn:aws:events:us-east-1:123456789012:rule/Tick"


def at(text: str) -> float:
    return datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp()


def schedule(expression: str, **kw: object) -> ScheduledInvocation:
    kind = kw.pop("kind", ScheduleKind.RULE)
    return ScheduledInvocation("Fn", "Tick", expression, kind, RULE_ARN, **kw)  # type: ignore[arg-type]


def test_a_rate_counts_from_when_the_schedule_was_created() -> None:
    s = schedule("rate(5 minutes)")
    created = at("2026-11-30T10:02:17")
    assert next_due(s, created, created) == created + 300
    assert next_due(s, created + 300, created) == created + 600  # strictly after
    assert next_due(s, created + 301, created) == created + 600


def test_cron_is_read_in_utc_or_the_schedules_time_zone() -> None:
    now = at("2026-11-30T20:07:00")
    assert next_due(schedule("cron(0/15 * ? * MON-FRI *)"), now, now) == at("2026-11-30T20:15:00")
    assert next_due(schedule("cron(0 9 ? * 2#1 *)"), now, now) == at("2026-12-07T09:00:00")
    paris = schedule("cron(0 10 * * ? *)", kind=ScheduleKind.SCHEDULER, timezone="Europe/Paris")
    assert next_due(paris, now, now) == at("2026-12-01T09:00:00")  # 10:00 CET is 09:00 UTC
    assert next_due(schedule("cron(0 0 1 1 ? 2020)"), now, now) is None  # its years are over


def test_a_one_time_schedule_fires_once() -> None:
    s = schedule("at(2026-12-24T18:00:00)", kind=ScheduleKind.SCHEDULER, timezone="Europe/Paris")
    before = at("2026-12-01T00:00:00")
    assert next_due(s, before, before) == at("2026-12-24T17:00:00")
    assert next_due(s, at("2026-12-24T17:00:00"), before) is None


def test_what_the_function_gets() -> None:
    when = at("2026-11-30T20:15:00")
    event = orjson.loads(scheduled_event(schedule("rate(1 hour)"), when) or b"null")
    assert event["detail-type"] == "Scheduled Event" and event["source"] == "aws.events"
    assert event["time"] == "2026-11-30T20:15:00Z" and event["resources"] == [RULE_ARN]
    assert event["detail"] == {} and event["account"] == "123456789012"
    given = schedule("rate(1 hour)", input='{"job": "report"}')
    assert scheduled_event(given, when) == b'{"job": "report"}'
    assert scheduled_event(schedule("rate(1 hour)", kind=ScheduleKind.SCHEDULER), when) == b"{}"


def test_a_scheduled_rule_targets_transform_shapes_the_event() -> None:
    when = at("2026-11-30T20:15:00")
    shaped = EventTransform(
        paths=(("at", "$.time"),), template='{"at": <at>, "rule": <aws.events.rule-name>}'
    )
    assert scheduled_event(schedule("rate(1 hour)", transform=shaped), when) == (
        b'{"at":"2026-11-30T20:15:00Z","rule":"Tick"}'
    )
    path = EventTransform(input_path="$.detail-type")
    assert scheduled_event(schedule("rate(1 hour)", transform=path), when) == b'"Scheduled Event"'
    nothing = EventTransform(paths=(("r", "$.resources"),), template='{"r": "<r>"}')
    assert scheduled_event(schedule("rate(1 hour)", transform=nothing), when) is None


class Recorder:
    """Records invocations (failing the first ``failures``) and executions started."""

    def __init__(self, failures: int = 0) -> None:
        self.calls: list[tuple[str, dict[str, object]]] = []
        self.started: list[tuple[str, str]] = []
        self.failures = failures

    async def start(self, machine: str, input_text: str) -> None:
        self.started.append((machine, input_text))

    async def __call__(self, function: str, event: bytes) -> InvokeResult:
        self.calls.append((function, orjson.loads(event)))
        if self.failures:
            self.failures -= 1
            if self.failures % 2:
                raise Throttled("Rate exceeded")
            return InvokeResult(
                b'{"errorMessage": "boom"}', 1, "r", 1.0, function_error="Unhandled"
            )
        return InvokeResult(b"null", 1, "r", 1.0)


async def settle() -> None:
    for _ in range(5):
        await asyncio.sleep(0)


async def test_timers_fire_on_the_clock_and_stop_when_removed() -> None:
    clock = ManualClock(at("2026-11-30T10:00:00"))
    invoke = Recorder()
    timers = Schedules(clock, invoke, invoke.start)
    tick = schedule("rate(1 minute)")
    timers.apply([tick, schedule("rate(1 minute)", enabled=False)])
    await settle()
    assert invoke.calls == [] and timers.running() == (tick,)
    for _ in range(3):
        clock.advance(60)
        await settle()
    assert len(invoke.calls) == 3
    timers.apply([])
    clock.advance(600)
    await settle()
    assert len(invoke.calls) == 3
    await timers.stop()


async def test_a_failed_invocation_is_tried_twice_more_a_minute_then_two_later() -> None:
    clock = ManualClock(at("2026-11-30T10:00:00"))
    invoke = Recorder(failures=2)  # a function error, then a throttle, then success
    timers = Schedules(clock, invoke, invoke.start)
    timers.apply([schedule("rate(1 day)")])
    await settle()
    clock.advance(86400)
    await settle()
    assert len(invoke.calls) == 1
    clock.advance(RETRY_DELAYS_S[0])
    await settle()
    assert len(invoke.calls) == 2
    clock.advance(RETRY_DELAYS_S[1])
    await settle()
    assert len(invoke.calls) == 3
    assert invoke.calls[0] == invoke.calls[2]  # the same event each time
    await timers.stop()


async def test_a_schedule_a_deploy_left_alone_keeps_its_timer() -> None:
    clock = ManualClock(at("2026-11-30T10:00:30"))
    invoke = Recorder()
    timers = Schedules(clock, invoke, invoke.start)
    timers.apply([schedule("rate(1 minute)")])  # due 10:01:30
    await settle()
    clock.advance(45)
    await settle()
    timers.apply([schedule("rate(1 minute)")])  # restarted, it would be due 10:02:15
    clock.advance(30)
    await settle()
    assert len(invoke.calls) == 1
    await timers.stop()


async def test_a_state_machines_schedule_starts_an_execution() -> None:
    clock = ManualClock(at("2026-11-30T10:00:00"))
    recorder = Recorder()
    timers = Schedules(clock, recorder, recorder.start)
    nightly = ScheduledInvocation(
        "orders-sync",
        "Nightly",
        "cron(0 3 * * ? *)",
        ScheduleKind.SCHEDULER,
        "arn:aws:scheduler:us-east-1:123456789012:schedule/default/SyncNightly",
        input='{"full": true}',
        target_type=ScheduleTarget.STATE_MACHINE,
    )
    timers.apply([nightly])
    await settle()
    clock.set(at("2026-12-01T03:00:00"))
    await settle()
    assert recorder.started == [("orders-sync", '{"full": true}')] and recorder.calls == []
    await timers.stop()
