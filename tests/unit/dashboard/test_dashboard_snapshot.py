"""What the page receives: overview, lifecycle, series, history, bounds."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest

from canaria.controller.plan import Command
from canaria.dashboard.snapshot import MAX_HISTORY, MAX_POINTS, BlastRadius, snapshot
from canaria.models.deployment import State
from tests.unit.dashboard.world import World


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    w = World(tmp_path)
    yield w
    w.close()


def test_overview_lists_functions_aliases_versions_routes(world: World) -> None:
    world.clock.advance(90)
    snap = snapshot(world, BlastRadius(since=0))
    hello = snap["functions"]["Hello"]
    assert [a["name"] for a in hello["aliases"]] == ["live"]
    assert hello["aliases"][0]["split"] == {"1": 1.0}
    assert [v["number"] for v in hello["versions"]] == [2, 1]  # newest first
    assert hello["versions"][0]["digest"] == "b" * 64
    assert hello["versions"][0]["age_s"] == pytest.approx(90)
    assert [(r["method"], r["path"]) for r in hello["routes"]] == [("GET", "/hello")]
    assert snap["focus"] is None and snap["history"] == []
    orjson.dumps(snap)  # JSON-ready


async def test_faulty_canary_is_stopped_by_the_judge_and_shown_rolled_back(world: World) -> None:
    d = await world.controller.start(world.deployment())
    d = await world.settle(d)
    assert d.state is State.ALLOW_TRAFFIC
    snap = snapshot(world, BlastRadius(since=0))
    focus = snap["focus"]
    assert focus["id"] == d.id
    assert [r["status"] for r in focus["lifecycle"]] == [
        "skipped",  # no PreTraffic hook
        "running",  # 10 %
        "pending",  # 100 %
        "skipped",  # no PostTraffic hook
        "pending",  # outcome
    ]
    assert focus["lifecycle"][1]["weight"] == pytest.approx(0.1)
    assert snap["functions"]["Hello"]["aliases"][0]["split"] == {"1": 0.9, "2": 0.1}

    for _ in range(60):  # the new version fails every request it gets
        world.traffic(1, per_second=50, failing_new=1.0)
        d = await world.settle(d)
        if d.state.completed:
            break
    assert d.state is State.STOPPED and d.rolled_back

    snap = snapshot(world, BlastRadius(since=0))
    focus = snap["focus"]
    assert focus["state"] == "Stopped" and focus["rolled_back"]
    assert focus["stopped_by"]
    steps = focus["lifecycle"][1:3]
    assert [s["status"] for s in steps] == ["stopped", "skipped"]
    outcome = focus["lifecycle"][-1]
    assert outcome["label"] == "Stopped (rolled back)" and outcome["status"] == "failed"
    assert focus["stopped_by"] in outcome["detail"]
    # traffic on the new version went to 10 % and back to 0 at the rollback
    weights = [w for _, w in focus["weights"]]
    assert max(weights) == pytest.approx(0.1) and weights[-1] == 0.0
    # per-version series on one shared window, and judge evidence against its threshold
    series = focus["series"]["Hello"]
    assert set(series) == {"1", "2"}
    assert len(series["1"]) == len(series["2"]) <= MAX_POINTS + 1
    assert any(row[2] == 1.0 for row in series["2"])  # error rate of the new version
    assert all(row[2] in (None, 0.0) for row in series["1"])
    assert focus["evidence_history"]
    assert max(focus["judge"]["evidence"].values()) >= focus["judge"]["threshold"]
    row = snap["history"][0]
    assert row["id"] == d.id and row["blast_radius"] > 0 and row["duration_s"] > 0
    assert snap["functions"]["Hello"]["aliases"][0]["split"] == {"1": 1.0}


async def test_promote_fully_finishes_a_good_canary(world: World) -> None:
    d = await world.settle(await world.controller.start(world.deployment()))
    world.traffic(5, per_second=20, failing_new=0.0)
    d = await world.controller.command(d.id, Command.PROMOTE_FULL)
    d = await world.settle(d)
    assert d.state is State.SUCCEEDED
    focus = snapshot(world, BlastRadius(since=0))["focus"]
    assert [r["status"] for r in focus["lifecycle"][1:3]] == ["done", "done"]
    assert focus["lifecycle"][-1]["label"] == "Succeeded"
    assert focus["weights"][-1][1] == 1.0
    assert snapshot(world, BlastRadius(since=0))["history"][0]["blast_radius"] == 0


async def test_focus_can_be_pinned_and_history_is_bounded(world: World) -> None:
    ids = []
    for _ in range(MAX_HISTORY + 5):
        d = await world.settle(await world.controller.start(world.deployment("AllAtOnce")))
        assert d.state is State.SUCCEEDED
        ids.append(d.id)
        world.clock.advance(1)
    blast = BlastRadius(since=0)
    snap = snapshot(world, blast)
    assert len(snap["history"]) == MAX_HISTORY
    assert snap["focus"]["id"] == ids[-1] and not snap["pinned"]
    pinned = snapshot(world, blast, focus_id=ids[0])  # older than the history shown
    assert pinned["focus"]["id"] == ids[0] and pinned["pinned"]
    missing = snapshot(world, blast, focus_id="d-nope")
    assert missing["focus"]["id"] == ids[-1] and not missing["pinned"]


async def test_blast_radius_is_unknown_for_deployments_before_this_process(world: World) -> None:
    d = await world.settle(await world.controller.start(world.deployment("AllAtOnce")))
    world.clock.advance(10)
    snap = snapshot(world, BlastRadius(since=world.clock.now()))
    assert snap["history"][0]["id"] == d.id and snap["history"][0]["blast_radius"] is None


async def test_a_long_window_is_binned_to_a_bounded_number_of_points(world: World) -> None:
    d = await world.settle(await world.controller.start(world.deployment()))
    world.traffic(1200, per_second=2, failing_new=0.0)  # 20 minutes at 10 %: no rollback
    d = await world.settle(d)
    focus = snapshot(world, BlastRadius(since=0))["focus"]
    assert focus["window"]["bin_s"] > 1
    for rows in focus["series"]["Hello"].values():
        assert len(rows) <= MAX_POINTS + 1
    assert len(focus["evidence_history"]) <= MAX_POINTS + 1


def test_guarded_aws_deployments_are_shown_beside_local_ones(world: World) -> None:
    from canaria.guard.model import ActionStatus, AwsStatus, GuardEvent, GuardRecord, Mode
    from canaria.guard.records import GuardRecords

    assert snapshot(world, BlastRadius(since=0))["guarded"] == []
    record = GuardRecord(
        "d-AWS123456", "my-app", "HelloGroup", "my-app-Hello-X", "live", "5", "6",
        AwsStatus.STOPPED, Mode.STOP, judge={"evidence": {"errors": 512.0}},
        verdict="ROLLBACK", action="codedeploy StopDeployment(...)",
        action_status=ActionStatus.DONE, answer="{}", created_at=1.0, updated_at=2.0,
    )  # fmt: skip
    GuardRecords(world.store).save(record, [GuardEvent("d-AWS123456", 2.0, "action", "stopped")])
    guarded = snapshot(world, BlastRadius(since=0))["guarded"]
    assert [(g["deployment_id"], g["verdict"], g["status"]) for g in guarded] == [
        ("d-AWS123456", "ROLLBACK", "Stopped")
    ]
    assert guarded[0]["evidence"] == {"errors": 512.0}
    assert guarded[0]["events"][-1]["message"] == "stopped"
