"""What a subscription filter delivers: matching lines only, one invocation per filter
and log stream, CloudWatch Logs' event, batches of at most ``MAX_EVENTS``."""

from __future__ import annotations

import asyncio
import base64
import gzip
import json
from typing import Any

from canaria.clock import ManualClock, RealClock
from canaria.log_groups import LogGroups
from canaria.logbook import LogBook, LogEntry
from canaria.models import (
    Application,
    FunctionConfig,
    FunctionSpec,
    InvokeResult,
    LogSubscriptionSpec,
)
from canaria.services.log_subscriptions import LogSubscriptions

ERRORS = LogSubscriptionSpec("errors", "/aws/lambda/Orders", "Orders", "ERROR", "Alerts")
SLOW = LogSubscriptionSpec("slow", "/aws/lambda/Orders", "Orders", "{ $.ms > 100 }", "Tuner")


class Deliveries:
    """The invocations the subscriptions made: (function, the decoded CloudWatch data)."""

    def __init__(self) -> None:
        self.made: list[tuple[str, dict[str, Any]]] = []

    async def invoke(self, function: str, event: bytes) -> InvokeResult:
        data = json.loads(gzip.decompress(base64.b64decode(json.loads(event)["awslogs"]["data"])))
        self.made.append((function, data))
        return InvokeResult(b"null", 1, "r", 1.0)


def line(seq: int, text: str, request: str = "req-1", function: str = "Orders") -> LogEntry:
    return LogEntry(seq, function, 1, request, 1_764_800_000.0 + seq, "stdout", text)


async def test_matching_lines_go_per_filter_and_stream() -> None:
    sent = Deliveries()
    subs = LogSubscriptions(RealClock(), sent.invoke, flush_every_s=3600)
    subs.configure([ERRORS, SLOW])
    assert subs.functions == {"Orders"}
    for entry in (
        line(1, "ERROR card declined"),
        line(2, '{"ms": 250}'),
        line(3, "INFO fine"),
        line(4, "ERROR timeout", request="req-2"),  # another environment's stream
        line(5, "ERROR elsewhere", function="Other"),
    ):
        subs.read(entry)
    await subs.stop()
    by_filter: dict[str, list[dict[str, Any]]] = {}
    for function, data in sent.made:
        assert data["messageType"] == "DATA_MESSAGE"
        assert data["logGroup"] == "/aws/lambda/Orders"
        by_filter.setdefault(f"{function}:{data['subscriptionFilters'][0]}", []).append(data)
    assert sorted(by_filter) == ["Alerts:errors", "Tuner:slow"]
    errors = sorted(by_filter["Alerts:errors"], key=lambda d: d["logEvents"][0]["timestamp"])
    assert [[e["message"] for e in d["logEvents"]] for d in errors] == [
        ["ERROR card declined"],
        ["ERROR timeout"],
    ]
    assert errors[0]["logStream"] != errors[1]["logStream"]
    assert errors[0]["logEvents"][0]["timestamp"] == 1_764_800_001_000
    [slow] = by_filter["Tuner:slow"]
    assert [e["message"] for e in slow["logEvents"]] == ['{"ms": 250}']


async def test_streams_are_named_as_their_group_names_them() -> None:
    """Lambda's default group names a stream YYYY/MM/DD/[version]id; a function with a
    LoggingConfig group (whatever its name, /aws/lambda/... too) puts its name in it; a
    group's own lines keep theirs."""
    groups = LogGroups(LogBook(None), lambda: 0.0)
    config = FunctionConfig("app.handler", "python3.11", "/code")
    functions = {
        "Orders": FunctionSpec("Orders", config),
        "Shop": FunctionSpec("Shop", config, log_group="/aws/lambda/shop-stack"),
    }
    groups.configure(Application("t.yaml", functions))
    sent = Deliveries()
    subs = LogSubscriptions(RealClock(), sent.invoke, 3600, stream_of=groups.stream_of)
    shared = LogSubscriptionSpec("shared", "/aws/lambda/shop-stack", "Shop", "ERROR", "Alerts")
    own = LogSubscriptionSpec("own", "/shop/audit", "group:/shop/audit", "ERROR", "Alerts")
    subs.configure([ERRORS, shared, own])
    subs.read(line(1, "ERROR card declined"))
    subs.read(line(2, "ERROR out of stock", function="Shop"))
    subs.read(LogEntry(3, "group:/shop/audit", 0, "", 1_764_800_003.0, "nightly", "ERROR late"))
    await subs.stop()
    streams = {data["subscriptionFilters"][0]: data["logStream"] for _, data in sent.made}
    assert streams["errors"].startswith("2025/12/03/[1]")
    assert streams["shared"].startswith("2025/12/03/Shop[1]")
    assert streams["own"] == "nightly"


async def test_a_large_backlog_goes_in_batches_and_past_the_limit_is_dropped() -> None:
    sent = Deliveries()
    subs = LogSubscriptions(
        RealClock(), sent.invoke, flush_every_s=3600, max_events=3, max_pending=7
    )
    subs.configure([ERRORS])
    for seq in range(10):
        subs.read(line(seq, f"ERROR {seq}"))
    await subs.stop()
    assert [len(data["logEvents"]) for _, data in sent.made] == [3, 3, 1]
    assert subs.dropped == {"errors": 3}


async def test_a_new_template_without_subscriptions_stops_reading() -> None:
    sent = Deliveries()
    subs = LogSubscriptions(RealClock(), sent.invoke, flush_every_s=3600)
    subs.configure([ERRORS])
    subs.read(line(1, "ERROR kept?"))
    subs.configure([])
    assert subs.functions == frozenset()
    subs.read(line(2, "ERROR after"))
    await subs.stop()
    assert sent.made == []  # what waited for a filter that is gone is let go


async def test_a_failed_delivery_is_tried_twice_more_on_the_platforms_clock() -> None:
    clock = ManualClock(1_764_800_000.0)
    attempts: list[float] = []

    async def failing(function: str, event: bytes) -> InvokeResult:
        attempts.append(clock.now())
        return InvokeResult(b"{}", 1, "r", 1.0, function_error="Unhandled")

    subs = LogSubscriptions(clock, failing, flush_every_s=3600)
    subs.configure([ERRORS])
    subs.read(line(1, "ERROR once"))
    subs.flush()
    for _ in range(3):
        await asyncio.sleep(0.05)  # the attempt runs, then waits on the clock
        clock.advance(60.0)
    await subs.stop()
    assert [t - attempts[0] for t in attempts] == [0.0, 60.0, 180.0]
