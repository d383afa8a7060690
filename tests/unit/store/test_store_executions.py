"""Step Functions executions in the store, on SQLite and PostgreSQL."""

from __future__ import annotations

from dataclasses import replace

import pytest

from canaria.errors import Conflict
from canaria.store import ABANDONED_CAUSE, ExecutionRecord, Executions, Store
from canaria.workflows import ExecutionStatus, HistoryEvent

MACHINE = "arn:aws:states:us-east-1:123456789012:stateMachine:m"


def running(name: str, started: float = 10.0) -> ExecutionRecord:
    return ExecutionRecord(
        arn=f"arn:aws:states:us-east-1:123456789012:execution:m:{name}",
        name=name,
        machine_arn=MACHINE,
        machine_name="m",
        machine_type="STANDARD",
        input={"z": 1, "a": [1.5, None, "é"]},
        started=started,
    )


HISTORY = (
    HistoryEvent(1, 0, 10.0, "ExecutionStarted", {"input": '{"z":1}', "roleArn": "r"}),
    HistoryEvent(2, 1, 10.25, "PassStateEntered", {"name": "P", "input": "{}"}),
    HistoryEvent(3, 2, 11.5, "ExecutionSucceeded", {"output": '{"ok":true}'}),
)


def test_a_running_then_finished_execution_roundtrips(any_store: Store) -> None:
    kept = Executions(any_store, keep=10)
    r = running("one")
    kept.start(r)
    assert kept.get(r.arn) == r
    done = replace(
        r,
        status=ExecutionStatus.SUCCEEDED,
        stopped=11.5,
        output={"ok": True, "b": 2, "a": 1},
        history=HISTORY,
    )
    kept.finish(done)
    got = kept.get(done.arn)
    assert got == done
    assert got is not None and list(got.output) == ["ok", "b", "a"]  # key order kept
    failed = replace(
        running("two"), status=ExecutionStatus.FAILED, stopped=12.0, error="E", cause="c"
    )
    kept.start(running("two"))
    kept.finish(failed)
    assert kept.load(now=99.0) == [done, failed]
    assert kept.get("arn:nope") is None


def test_a_used_name_is_refused(any_store: Store) -> None:
    kept = Executions(any_store, keep=10)
    kept.start(running("one"))
    with pytest.raises(Conflict, match="Execution Already Exists"):
        kept.start(running("one", started=20.0))
    # a new Executions on the same store (a restart) knows it too
    with pytest.raises(Conflict):
        Executions(any_store, keep=10).start(running("one"))


def test_running_rows_become_aborted_on_load(any_store: Store) -> None:
    kept = Executions(any_store, keep=10)
    kept.start(running("left"))
    kept.start(running("done"))
    kept.finish(replace(running("done"), status=ExecutionStatus.SUCCEEDED, stopped=11.0))
    loaded = Executions(any_store, keep=10).load(now=50.0)
    assert [(r.name, r.status, r.stopped, r.error, r.cause) for r in loaded] == [
        ("left", ExecutionStatus.ABORTED, 50.0, None, ABANDONED_CAUSE),
        ("done", ExecutionStatus.SUCCEEDED, 11.0, None, None),
    ]
    assert loaded[0].history == ()
    # written back: a later load does not stop it again
    again = Executions(any_store, keep=10).load(now=70.0)
    assert again == loaded


def test_load_orders_by_start_and_keeps_the_newest(any_store: Store) -> None:
    kept = Executions(any_store, keep=3)
    # the same start time for all (a manual clock): the order they started in stands
    for name in ("a", "b", "c"):
        kept.start(running(name))
        kept.finish(replace(running(name), status=ExecutionStatus.SUCCEEDED, stopped=11.0))
    assert [r.name for r in kept.load(now=20.0)] == ["a", "b", "c"]
    kept.start(running("d"))  # room is made by deleting the oldest finished row
    assert kept.get(running("a").arn) is None
    assert [r.name for r in kept.load(now=20.0)] == ["b", "c", "d"]


def test_trimming_deletes_finished_rows_before_running_ones(any_store: Store) -> None:
    kept = Executions(any_store, keep=2)
    kept.start(running("slow"))  # oldest, still running
    for name in ("x", "y"):
        kept.start(running(name))
        kept.finish(replace(running(name), status=ExecutionStatus.FAILED, stopped=12.0))
    # three rows for keep=2: the oldest finished went, the running one stayed
    assert kept.get(running("x").arn) is None
    assert kept.get(running("slow").arn) is not None
    kept.start(running("z"))  # "slow" is still running: "y" goes
    assert kept.get(running("y").arn) is None
    # on load, "slow" is aborted, then trimmed as the oldest finished
    assert [(r.name, r.status) for r in Executions(any_store, keep=1).load(now=30.0)] == [
        ("z", ExecutionStatus.ABORTED)
    ]
    assert kept.get(running("slow").arn) is None
