"""The invocation service on its own: a real store, routing, metrics and runtimes, no
Platform. Invocations that would start a worker are left to the functional tests; a
function at reserved concurrency 0 is throttled before any process starts."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from canaria.analysis import Metrics
from canaria.analysis.prom import PromMetrics
from canaria.clock import ManualClock
from canaria.errors import InvocationError, NotFound, Throttled
from canaria.gateway import Routing
from canaria.invocations import Invocations
from canaria.models import Alias, FunctionConfig, FunctionSpec, InvokeResult
from canaria.runtime import FunctionRuntime
from canaria.store import Store

CONFIG = FunctionConfig(handler="app.handler", runtime="python3.11", code_uri="src")


class Notes:
    """The request ids a completion-reporting gate would follow."""

    def __init__(self) -> None:
        self.noted: list[tuple[str, int, str, float]] = []

    def note_request(self, function: str, version: int, request_id: str, started: float) -> None:
        self.noted.append((function, version, request_id, started))


class World:
    def __init__(self, tmp_path: Path) -> None:
        self.clock = ManualClock()
        self.store = Store.open(str(tmp_path / "state"))
        self.routing = Routing()
        self.metrics = Metrics()
        self.prom = PromMetrics()
        self.notes = Notes()
        self.specs = {"Fn": FunctionSpec("Fn", CONFIG, "live")}
        self.service = Invocations(
            self.store,
            self.routing,
            self.metrics,
            self.prom,
            self.notes,
            self.clock,
            self.function_spec,
        )
        now = self.clock.now()
        for digest in ("a", "b"):
            self.store.publish("Fn", digest, CONFIG, "artifact", now)
        self.routing.set_latest("Fn", 2)
        alias = Alias("Fn", "live", 1, 2, 0.0)
        self.store.put_alias(alias, now)
        self.routing.set_alias(alias)

    def function_spec(self, name: str) -> FunctionSpec:
        if name not in self.specs:
            raise NotFound(f"Function not found: {name}")
        return self.specs[name]


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    w = World(tmp_path)
    yield w
    w.store.close()


def test_qualifiers_resolve_to_a_version_and_alias(world: World) -> None:
    resolve = world.service.resolve
    assert resolve("Fn", None) == (2, None)
    assert resolve("Fn", "$LATEST") == (2, None)
    assert resolve("Fn", "1") == (1, None)
    assert resolve("Fn", "live") == (1, "live")
    for function, qualifier in (("Fn", "7"), ("Fn", "nope"), ("Other", None)):
        with pytest.raises(NotFound):
            resolve(function, qualifier)


def test_a_recorded_result_counts_per_version_and_is_noted(world: World) -> None:
    started = world.clock.now()
    result = InvokeResult(b"{}", 1, "rid-1", 12.0, cold_start=True)
    world.service.record(
        "Fn", "live", 1, result, throttled=False, started=started, finished=started
    )
    counts = world.metrics.bucket_counts("Fn", 1, started, started + 1)
    assert (counts.invocations, counts.cold_starts, counts.errors) == (1, 1, 0)
    assert world.notes.noted == [("Fn", 1, "rid-1", started)]
    labels = {"function": "Fn", "alias": "live", "version": "1"}
    assert world.prom.registry.get_sample_value("canaria_invocations_total", labels) == 1


async def test_a_throttled_invocation_is_recorded_and_counted_back_down(world: World) -> None:
    world.service.runtimes["Fn"] = FunctionRuntime(
        "Fn", reserved_concurrency=0, env_extra={}, clock=world.clock, on_log=lambda _: None
    )
    started = world.clock.now()
    with pytest.raises(Throttled):
        await world.service.invoke_qualified("Fn", "live", b"{}")
    counts = world.metrics.bucket_counts("Fn", 1, started, started + 1)
    assert (counts.invocations, counts.throttles) == (0, 1)
    assert world.notes.noted == []
    assert world.metrics.in_flight("Fn", 1) == 0
    labels = {"function": "Fn", "alias": "live", "version": "1"}
    gauge = world.prom.registry.get_sample_value("canaria_concurrent_executions", labels)
    assert gauge == 0
    await world.service.runtimes["Fn"].close()


async def test_a_function_without_a_runtime_is_not_found(world: World) -> None:
    with pytest.raises(NotFound):
        await world.service.invoke("Fn", 1, b"{}", alias=None, started=world.clock.now())


class Heard:
    """A ``RequestListener``: what the live judge would hear."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, float]] = []

    def started(self, t: float, function: str, version: int) -> None:
        self.calls.append(("started", t))

    def waiting(self, t: float, function: str, version: int) -> None:
        self.calls.append(("waiting", t))

    def finished(self, t: float, function: str, version: int, **_: object) -> None:
        self.calls.append(("finished", t))


async def test_an_invocation_the_runtime_refuses_ends_the_start_it_counted(
    world: World,
) -> None:
    runtime = FunctionRuntime(
        "Fn", reserved_concurrency=None, env_extra={}, clock=world.clock, on_log=lambda _: None
    )
    await runtime.close()  # a runtime shut down refuses with an InvocationError (not 429)
    world.service.runtimes["Fn"] = runtime
    heard = Heard()
    world.metrics.listeners.append(heard)
    started = world.clock.now()
    with pytest.raises(InvocationError):
        await world.service.invoke_qualified("Fn", "live", b"{}")
    assert heard.calls == [("started", started), ("finished", started)]
    counts = world.metrics.bucket_counts("Fn", 1, started, started + 1)
    assert (counts.invocations, counts.throttles, counts.errors) == (1, 0, 0)
    assert world.metrics.in_flight("Fn", 1) == 0
