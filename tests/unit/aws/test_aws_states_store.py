"""Step Functions executions outlive a restart: StateMachines on a real store (SQLite),
built again on the same store, answers as before through the JSON 1.0 operations."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from canaria.aws.states import ExecutionAlreadyExists, PlatformTasks, StateMachines, machine_arn
from canaria.aws.stepfunctions_api import OPERATIONS
from canaria.clock import ManualClock
from canaria.errors import NotFound
from canaria.models import StateMachineSpec
from canaria.store import ABANDONED_CAUSE, Store
from tests.unit.aws.test_aws_states import Functions, machine, task

DOUBLE = machine(
    ("Prepare", {"Type": "Pass", "Parameters": {"n.$": "$.n"}, "Next": "Double"}),
    ("Double", task("double")),
)
NAP = machine(("Nap", {"Type": "Wait", "Seconds": 3600, "End": True}))


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    s = Store.open(str(tmp_path / "state"))
    yield s
    s.close()


class Edge:
    def __init__(self, state_machines: StateMachines) -> None:
        self.state_machines = state_machines


def boot(store: Store, clock: ManualClock, **machines: dict[str, Any]) -> StateMachines:
    """What `canaria up` does: adopt the template's machines, then load."""
    sm = StateMachines(clock, PlatformTasks(Functions(), "127.0.0.1", 9), store)
    specs = {n: StateMachineSpec(n, n, d, "STANDARD") for n, d in machines.items()}
    sm.adopt(specs, sm.parse(specs))
    sm.load()
    return sm


async def call(sm: StateMachines, operation: str, **body: Any) -> Any:
    response = await OPERATIONS[operation](Edge(sm), body)
    assert response.status_code == 200, bytes(response.body)
    return json.loads(bytes(response.body))


async def answers(sm: StateMachines, arn: str, machine: str) -> tuple[Any, Any, Any]:
    return (
        await call(sm, "DescribeExecution", executionArn=arn),
        await call(sm, "GetExecutionHistory", executionArn=arn),
        await call(sm, "ListExecutions", stateMachineArn=machine),
    )


async def test_executions_answer_the_same_after_a_restart(store: Store) -> None:
    clock = ManualClock()
    sm = boot(store, clock, calc=DOUBLE)
    first = await sm.start_sync("calc", "first", '{"n": 21, "keep": "order"}')
    failed = await sm.start_sync("calc", "second", '{"m": 1}')
    assert (first.status, first.output, failed.status) == ("SUCCEEDED", {"n": 42}, "FAILED")
    before = await answers(sm, first.arn, machine_arn("calc"))
    failed_before = await call(sm, "DescribeExecution", executionArn=failed.arn)
    assert before[1]["events"][0]["type"] == "ExecutionStarted"
    assert before[1]["events"][-1]["type"] == "ExecutionSucceeded"

    again = boot(store, clock, calc=DOUBLE)  # a restart
    assert await answers(again, first.arn, machine_arn("calc")) == before
    assert await call(again, "DescribeExecution", executionArn=failed.arn) == failed_before
    assert [e["name"] for e in before[2]["executions"]] == ["second", "first"]
    with pytest.raises(ExecutionAlreadyExists):
        await again.start_sync("calc", "first", "{}")
    # a new name still runs, and lists before the old ones
    third = await again.start_sync("calc", "third", '{"n": 1}')
    assert third.output == {"n": 2}
    listed = await call(again, "ListExecutions", stateMachineArn=machine_arn("calc"))
    assert [e["name"] for e in listed["executions"]] == ["third", "second", "first"]


async def test_a_machine_gone_from_the_template_still_answers(store: Store) -> None:
    clock = ManualClock()
    sm = boot(store, clock, calc=DOUBLE)
    e = await sm.start_sync("calc", "kept", '{"n": 2}')
    before = await answers(sm, e.arn, machine_arn("calc"))

    again = boot(store, clock, other=NAP)
    assert await answers(again, e.arn, machine_arn("calc")) == before
    with pytest.raises(NotFound):  # no new executions of it
        again.start("calc", None, "{}")
    with pytest.raises(NotFound):  # nor any listing of a machine never seen
        again.executions_of(machine_arn("never"))


async def test_stopping_and_closing_are_stored(store: Store) -> None:
    clock = ManualClock()
    sm = boot(store, clock, slow=NAP)
    stopped = sm.start("slow", "stopped", "{}")
    left = sm.start("slow", "left", "{}")
    await sm.stop(stopped.arn, "Operator", "enough")
    clock.advance(5)
    await sm.close()  # a clean stop of canaria aborts what still runs
    assert (left.status, left.error, left.cause) == ("ABORTED", None, ABANDONED_CAUSE)

    again = boot(store, clock, slow=NAP)
    got = {e.name: (e.status, e.error, e.cause) for e in again.executions.values()}
    assert got == {
        "stopped": ("ABORTED", "Operator", "enough"),
        "left": ("ABORTED", None, ABANDONED_CAUSE),
    }
    assert again.execution(left.arn).stopped == clock.now()
    assert [h.type for h in again.execution(stopped.arn).history][-1] == "ExecutionAborted"


async def test_an_execution_running_when_canaria_died_is_aborted_on_load(store: Store) -> None:
    clock = ManualClock()
    sm = boot(store, clock, slow=NAP)
    e = sm.start("slow", "orphan", "{}")
    await call(sm, "DescribeExecution", executionArn=e.arn)
    # no close(): the process died; the next one finds the row RUNNING
    clock.advance(60)
    again = boot(store, clock, slow=NAP)
    view = await call(again, "DescribeExecution", executionArn=e.arn)
    assert (view["status"], view["stopDate"], view["cause"]) == (
        "ABORTED",
        clock.now(),
        ABANDONED_CAUSE,
    )
    assert "error" not in view
    await sm.close()  # the first instance's task, for the test's own tidiness
