"""The release executor on real parts (``tests.unit.release_world``)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from canaria.aws.states import machine_arn
from canaria.controller.deployer import (
    CreateServices,
    CreateTables,
    FireSchedules,
    LoadFunctions,
    LoadStateMachines,
    PointAlias,
    PollSources,
    Publish,
    StartDeployment,
)
from canaria.errors import Conflict, InvalidRequest
from canaria.models.deployment import State
from canaria.models.services import EventSource, QueueEventSource
from canaria.release import Rollout
from tests.unit.release_world import RecordingResources, World


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[World]:
    w = World(tmp_path)
    yield w
    await w.close()


async def test_first_release_sets_up_everything_then_publishes_and_points(world: World) -> None:
    result = await world.releases.release(world.app(), initial=True)
    kinds = [type(i) for i in result.plan.instructions]
    assert kinds == [
        CreateTables,
        CreateServices,
        LoadStateMachines,
        LoadFunctions,
        PollSources,
        FireSchedules,
        Publish,
        PointAlias,
    ]
    assert set(world.resources.tables) == {"Items"}
    assert "Jobs" in world.resources.services
    assert [s.function for s in world.resources.polled] == ["Api"]
    assert world.state_machines.machine(machine_arn("Check")).name == "Check"
    assert set(world.runtimes) == {"Api"}
    assert world.releases.app is not None and set(world.releases.app.functions) == {"Api"}
    version = world.store.latest_version("Api")
    assert version is not None and version.number == 1
    assert world.routing.routed_versions("Api") == {1}


def queue_name(source: EventSource) -> str:
    assert isinstance(source, QueueEventSource)
    return source.queue_name


async def test_dry_run_describes_every_instruction_and_changes_nothing(world: World) -> None:
    result = await world.releases.release(world.app(), dry_run=True)
    lines = result.plan.describe()
    assert lines[:6] == [
        f"create tables that do not exist: {world.app().tables['Items'].table_name}",
        f"create service resources that do not exist: {', '.join(world.app().services)}",
        "load state machines: Check",
        "load functions: Api (1 route)",
        f"read queues and streams: {queue_name(world.app().event_sources[0])} → Api",
        "fire schedules: rate(1 day) → function Api",
    ]
    assert lines[6].startswith("publish Api version 1 (digest ")
    assert lines[7] == "point Api:live at version 1 (new alias)"
    assert result.deployments == ()
    assert world.store.latest_version("Api") is None and world.store.aliases() == []
    assert world.resources == RecordingResources()
    assert world.runtimes == {} and world.releases.app is None


async def test_a_change_publishes_the_next_version_and_starts_a_deployment(world: World) -> None:
    await world.releases.release(world.app(), initial=True)
    result = await world.releases.release(
        world.app(greeting="hello"), rollout=Rollout(config="Canary10Percent5Minutes")
    )
    publish = next(i for i in result.plan.changes if isinstance(i, Publish))
    assert publish.number == 2 and result.plan.versions == {"Api": 2}
    (d,) = result.deployments
    assert d.config_name.endswith("Canary10Percent5Minutes")
    assert [(t.from_version, t.to_version) for t in d.targets] == [(1, 2)]
    assert world.store.deployment(d.id).state is State.BEFORE_ALLOW_TRAFFIC
    assert world.routing.routed_versions("Api") == {1}  # the controller moves traffic


async def test_the_planned_version_number_is_published_or_nothing_is(world: World) -> None:
    await world.releases.release(world.app(), initial=True)
    app = world.app(greeting="hello")
    planned = (await world.releases.release(app, dry_run=True)).plan
    v1 = world.store.latest_version("Api")
    assert v1 is not None
    # another writer publishes version 2 between the plan and its execution
    world.store.publish("Api", "elsewhere", v1.config, v1.artifact, world.clock.now())
    machines = world.state_machines.parse(app.state_machines)
    with pytest.raises(Conflict, match="publishes version 2, but the store's next version is 3"):
        await world.releases.execute(planned, app, machines, Rollout())
    assert [v.number for v in world.store.versions("Api")] == [1, 2]
    assert world.store.deployments() == []


async def test_up_leaves_a_changed_template_for_deploy(world: World) -> None:
    await world.releases.release(world.app(), initial=True)
    result = await world.releases.release(world.app(greeting="hello"), initial=True)
    assert not any(isinstance(i, StartDeployment) for i in result.plan.instructions)
    assert result.deployments == () and world.store.deployments() == []
    assert any("Api:live runs version 1; the template has changed" in w for w in result.warnings)
    alias = world.store.alias("Api", "live")
    assert alias is not None and alias.version == 1


async def test_an_alias_held_by_a_deployment_in_progress_is_refused(world: World) -> None:
    await world.releases.release(world.app(config="Linear10PercentEvery1Minute"), initial=True)
    (held,) = (
        await world.releases.release(world.app("v2", config="Linear10PercentEvery1Minute"))
    ).deployments
    with pytest.raises(Conflict, match=f"already being deployed by {held.id}"):
        await world.releases.release(world.app("v3", config="Linear10PercentEvery1Minute"))
    assert world.store.latest_version("Api").number == 2  # type: ignore[union-attr]


async def test_queues_and_schedules_the_template_drops_are_no_longer_run(world: World) -> None:
    first = await world.releases.release(world.app(), initial=True)
    assert world.resources.polled != ()
    assert [s.name for s in world.resources.fired] == ["Nightly"]
    assert "fire schedules: rate(1 day) → function Api" in first.plan.describe()
    result = await world.releases.release(world.app(queue=False))
    assert PollSources(()) in result.plan.instructions
    assert FireSchedules(()) in result.plan.instructions
    assert {"stop reading queues and streams", "stop firing schedules"} <= set(
        result.plan.describe()
    )
    assert world.resources.polled == () and world.resources.fired == ()
    unchanged = await world.releases.release(world.app(queue=False), dry_run=True)
    assert not any(isinstance(i, PollSources | FireSchedules) for i in unchanged.plan.instructions)


async def test_deploy_refuses_a_template_outside_the_allowed_directories(
    world: World, tmp_path: Path
) -> None:
    elsewhere = tmp_path / "elsewhere.yaml"
    elsewhere.write_text("Resources: {}\n")
    with pytest.raises(InvalidRequest, match=r"elsewhere\.yaml"):
        await world.releases.deploy(str(elsewhere), {})
    assert world.store.versions("Api") == []
