"""Operator commands on a real SQLite store and a real controller (manual clock)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from canaria.clock import ManualClock
from canaria.commands import OperatorCommands
from canaria.controller.deployments import new_deployment
from canaria.controller.service import Controller
from canaria.errors import Conflict, InvalidRequest, NotFound
from canaria.models import Alias, DeploymentPreference, FunctionConfig, FunctionSpec
from canaria.models.deployment import Deployment, State, Target
from canaria.store import Store
from tests.unit.controller.fakes import RecordingBackend, ScriptedHooks, SettableSignals

CONFIG = FunctionConfig("app.handler", "python3.11", "/code", {})


class Template:
    """A ``FunctionLookup``: ``Fn`` with an alias, ``Bare`` without one."""

    def __init__(self) -> None:
        self.specs = {
            "Fn": FunctionSpec("Fn", CONFIG, auto_publish_alias="live"),
            "Bare": FunctionSpec("Bare", CONFIG),
        }

    def function_spec(self, name: str) -> FunctionSpec:
        if name not in self.specs:
            raise NotFound(f"Function not found: {name}")
        return self.specs[name]


class World:
    def __init__(self, tmp: Path) -> None:
        self.clock = ManualClock(start=1000.0)
        self.store = Store.open(str(tmp / "state"))
        self.backend = RecordingBackend()
        self.controller = Controller(
            self.store, self.clock, self.backend, ScriptedHooks(), SettableSignals()
        )
        self.commands = OperatorCommands(self.store, self.controller, Template())
        for digest in ("one", "two"):
            self.store.publish("Fn", digest, CONFIG, "/art", self.clock.now())
        self.store.put_alias(Alias("Fn", "live", 1), self.clock.now())

    async def deploy(self, config: str) -> Deployment:
        """Start a deployment of ``Fn:live`` from version 1 to 2."""
        d = new_deployment(
            application="app",
            targets=[Target("Fn", "live", 1, 2)],
            preference=DeploymentPreference(type=config),
            custom_configs={},
            now=self.clock.now(),
        )
        return await self.controller.start(d)

    async def finish(self, d: Deployment) -> Deployment:
        """Step ``d`` at each of its wake-ups until it completes."""
        while not d.state.completed:
            assert d.next_wake_at is not None
            self.clock.set(max(self.clock.now(), d.next_wake_at))
            d = await self.controller.step(d.id)
        return d

    def live(self) -> Alias:
        alias = self.store.alias("Fn", "live")
        assert alias is not None
        return alias


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    w = World(tmp_path)
    yield w
    w.store.close()


async def test_rollback_of_a_function_rolls_back_its_deployment_in_progress(world: World) -> None:
    d = await world.deploy("Linear10PercentEvery1Minute")
    await world.controller.step(d.id)  # into AllowTraffic: 10 % on version 2
    assert world.live().additional_version == 2
    back = await world.commands.rollback_function("Fn")
    assert back.id == d.id and back.state is State.STOPPED and back.rolled_back
    assert world.live() == Alias("Fn", "live", 1)


async def test_rollback_after_success_is_a_deployment_of_its_own(world: World) -> None:
    done = await world.finish(await world.deploy("AllAtOnce"))
    assert done.state is State.SUCCEEDED and world.live() == Alias("Fn", "live", 2)
    back = await world.commands.rollback_function("Fn")
    assert back.rollback_of == done.id
    assert [(t.from_version, t.to_version) for t in back.targets] == [(2, 1)]
    await world.finish(back)
    assert world.live() == Alias("Fn", "live", 1)


async def test_a_success_no_longer_live_is_not_rolled_back(world: World) -> None:
    await world.finish(await world.deploy("AllAtOnce"))
    await world.controller.update_alias(Alias("Fn", "live", 1))  # moved by hand since
    with pytest.raises(InvalidRequest, match="Fn: no deployment to roll back"):
        await world.commands.rollback_function("Fn")


async def test_rollback_refuses_functions_it_cannot_roll_back(world: World) -> None:
    with pytest.raises(InvalidRequest, match="no deployment to roll back"):
        await world.commands.rollback_function("Fn")
    with pytest.raises(InvalidRequest, match="Bare has no alias to roll back"):
        await world.commands.rollback_function("Bare")
    with pytest.raises(NotFound):
        await world.commands.rollback_function("Missing")


@pytest.mark.parametrize(("rollback", "version"), [(True, 1), (False, None)])
async def test_stop_deployment_rolls_back_only_when_asked(
    world: World, rollback: bool, version: int | None
) -> None:
    d = await world.deploy("Linear10PercentEvery1Minute")
    d = await world.controller.step(d.id)  # into AllowTraffic: 10 % on version 2
    assert world.live().additional_version == 2
    stopped = await world.commands.stop_deployment(d.id, rollback)
    assert stopped.state is State.STOPPED and stopped.rolled_back is rollback
    assert world.live().version == 1
    assert (world.live().additional_version is None) is rollback


async def test_a_command_on_a_completed_deployment_is_refused(world: World) -> None:
    done = await world.finish(await world.deploy("AllAtOnce"))
    with pytest.raises(Conflict):
        await world.commands.stop_deployment(done.id, True)
