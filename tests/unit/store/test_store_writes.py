"""Deployment rows are written compare-and-set, by several writers at once, on SQLite and
PostgreSQL: a writer that read an old revision changes nothing."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import replace

import pytest

from canaria.errors import Conflict
from canaria.models import Alias
from canaria.models.deployment import (
    Deployment,
    DeploymentEvent,
    HookExecution,
    HookStatus,
    SetWeight,
    State,
    Target,
)
from canaria.store import StaleDeployment, Store, make_engine


def deployment(id: str = "d-AAAAAAAAA", fn: str = "Fn", wake: float | None = 1.0) -> Deployment:
    return Deployment(
        id=id,
        application="app",
        targets=(Target(fn, "live", 1, 2),),
        config_name="Custom",
        steps=(SetWeight(0.1, 60), SetWeight(1.0)),
        created_at=1.0,
        updated_at=1.0,
        next_wake_at=wake,
    )


@pytest.fixture
def second(any_store: Store) -> Iterator[Store]:
    """Another writer on the same database (its own engine and connections)."""
    other = Store(make_engine(any_store.engine.url.render_as_string(hide_password=False)))
    yield other
    other.close()


def test_a_writer_that_read_an_old_revision_changes_nothing(
    any_store: Store, second: Store
) -> None:
    any_store.put_alias(Alias("Fn", "live", 1), 0.0)
    any_store.create_deployment(deployment())
    mine, theirs = any_store.deployment("d-AAAAAAAAA"), second.deployment("d-AAAAAAAAA")
    assert mine.revision == theirs.revision == 1

    moved = replace(mine, step_index=0, updated_at=2.0)
    ev = DeploymentEvent(mine.id, 2.0, "step", "10%")
    saved = any_store.save_deployment(moved, aliases=[Alias("Fn", "live", 1, 2, 0.1)], events=[ev])
    assert saved.revision == 2

    stale = replace(theirs, state=State.STOPPED, updated_at=3.0)
    late = DeploymentEvent(theirs.id, 3.0, "transition", "stopped")
    with pytest.raises(StaleDeployment, match=r"revision 1, stored revision 2"):
        second.save_deployment(stale, aliases=[Alias("Fn", "live", 1)], events=[late])

    assert second.deployment(mine.id) == saved  # the first write stands, whole
    assert second.alias("Fn", "live") == Alias("Fn", "live", 1, 2, 0.1)
    assert [e.message for e in second.events(mine.id)] == ["10%"]
    assert second.alias_holder("Fn", "live") == mine.id  # the lock was not released


def test_two_writers_racing_lose_no_update(any_store: Store, second: Store) -> None:
    """Each writer reads, adds one to step_index and writes, retrying when it is stale:
    every increment lands, once."""
    any_store.create_deployment(deployment())
    per_writer = 15
    stale_seen = [0, 0]
    start = threading.Barrier(2)

    def writer(store: Store, slot: int) -> None:
        start.wait()
        done = 0
        while done < per_writer:
            d = store.deployment("d-AAAAAAAAA")
            ev = DeploymentEvent(d.id, 1.0, "step", f"writer {slot} #{done}")
            try:
                store.save_deployment(replace(d, step_index=d.step_index + 1), events=[ev])
            except StaleDeployment:
                stale_seen[slot] += 1
                continue
            done += 1

    threads = [
        threading.Thread(target=writer, args=(s, i)) for i, s in enumerate((any_store, second))
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not any(t.is_alive() for t in threads)

    final = any_store.deployment("d-AAAAAAAAA")
    assert final.step_index == -1 + 2 * per_writer
    assert final.revision == 1 + 2 * per_writer
    messages = [e.message for e in any_store.events(final.id)]
    assert sorted(messages) == sorted(
        f"writer {slot} #{i}" for slot in (0, 1) for i in range(per_writer)
    )


def test_an_alias_a_deployment_holds_cannot_be_moved_behind_its_back(any_store: Store) -> None:
    any_store.put_alias_unless_held(Alias("Fn", "live", 1), 0.0)
    any_store.create_deployment(deployment())
    with pytest.raises(Conflict, match=r"Fn:live is being moved by deployment d-AAAAAAAAA"):
        any_store.put_alias_unless_held(Alias("Fn", "live", 3), 1.0)
    assert any_store.alias("Fn", "live") == Alias("Fn", "live", 1)
    other = replace(deployment("d-BBBBBBBBB", fn="Other"), revision=0)
    any_store.create_deployment(other)
    with pytest.raises(Conflict, match="held by deployment d-AAAAAAAAA, not d-BBBBBBBBB"):
        any_store.save_deployment(
            replace(other, revision=1), aliases=[Alias("Fn", "live", 2)], events=[]
        )
    assert any_store.alias("Fn", "live") == Alias("Fn", "live", 1)
    assert any_store.deployment("d-BBBBBBBBB").revision == 1  # the whole write was undone


def test_due_deployments_and_next_wake(any_store: Store) -> None:
    any_store.create_deployment(deployment("d-AAAAAAAAA", "A", wake=5.0))
    any_store.create_deployment(deployment("d-BBBBBBBBB", "B", wake=50.0))
    any_store.create_deployment(deployment("d-CCCCCCCCC", "C", wake=None))  # never planned
    done = any_store.create_deployment(deployment("d-DDDDDDDDD", "D", wake=1.0))
    any_store.save_deployment(replace(done, state=State.SUCCEEDED, next_wake_at=1.0))
    assert [d.id for d in any_store.due_deployments(4.0)] == ["d-CCCCCCCCC"]
    assert {d.id for d in any_store.due_deployments(5.0)} == {"d-AAAAAAAAA", "d-CCCCCCCCC"}
    assert any_store.next_wake_at() == 5.0


def test_events_are_appended(any_store: Store) -> None:
    d = any_store.create_deployment(deployment(), [DeploymentEvent("d-AAAAAAAAA", 1.0, "c", "one")])
    any_store.append_events([DeploymentEvent(d.id, 2.0, "notification", "two")])
    assert [e.message for e in any_store.events(d.id)] == ["one", "two"]
    assert any_store.deployment(d.id).revision == 1  # the row was not rewritten


def test_a_hook_report_is_never_overwritten_by_a_timeout(any_store: Store) -> None:
    d = any_store.create_deployment(deployment())
    h = HookExecution("e-1", d.id, "BeforeAllowTraffic", "Hook", HookStatus.PENDING, 1.0, 10.0)
    any_store.save_hook(h)
    any_store.report_hook(d.id, "e-1", HookStatus.SUCCEEDED, 9.9)
    timed_out = replace(h, status=HookStatus.FAILED, finished_at=10.0, message="timed out")
    with pytest.raises(Conflict, match="already reported Succeeded"):
        any_store.save_deployment(replace(d, state=State.FAILED), hooks=[timed_out])
    assert any_store.hook("e-1").status is HookStatus.SUCCEEDED
    assert any_store.deployment(d.id).state is State.CREATED
