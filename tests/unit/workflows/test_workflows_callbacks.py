"""Callback tasks (``.waitForTaskToken``): the token in the integration's parameters, and
the task's end from SendTaskSuccess, SendTaskFailure, a missed heartbeat or its timeout."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from canaria.clock import ManualClock
from canaria.workflows import (
    DefinitionError,
    ExecutionStatus,
    HistoryEvent,
    TaskTokens,
    execute,
    load_definition,
)
from canaria.workflows.callbacks import InvalidToken, TaskTimedOut

from .fakes import EXECUTION_ARN, MACHINE_ARN, START, FunctionRunner, settle

QUEUE = "arn:aws:states:::sqs:sendMessage"


def machine(**task: Any) -> dict[str, Any]:
    return {
        "StartAt": "Ask",
        "States": {
            "Ask": {
                "Type": "Task",
                "Resource": QUEUE + ".waitForTaskToken",
                "Parameters": {"QueueUrl": "q", "MessageBody": {"token.$": "$$.Task.Token"}},
                "ResultPath": "$.answer",
                "End": True,
                **task,
            }
        },
    }


async def started(
    definition: dict[str, Any], tokens: TaskTokens, clock: ManualClock, events: list[HistoryEvent]
) -> tuple[asyncio.Task[Any], FunctionRunner]:
    sent: list[Any] = []
    runner = FunctionRunner({QUEUE: lambda p: sent.append(p) or {"MessageId": "m-1"}}, clock)
    task = asyncio.ensure_future(
        execute(
            load_definition(definition),
            {"order": "o-1"},
            runner=runner,
            clock=clock,
            name="run-1",
            execution_arn=EXECUTION_ARN,
            state_machine_arn=MACHINE_ARN,
            on_event=events.append,
            tokens=tokens,
        )
    )
    await settle()
    return task, runner


async def test_the_token_goes_out_and_send_task_success_ends_the_task() -> None:
    clock, tokens, events = ManualClock(START), TaskTokens(), []
    task, runner = await started(machine(), tokens, clock, events)
    ((resource, parameters, _),) = runner.calls
    assert resource == QUEUE  # the integration itself, without .waitForTaskToken
    token = parameters["MessageBody"]["token"]
    assert not task.done()  # waiting for the token
    assert "TaskSubmitted" in [e.type for e in events]
    tokens.succeed(token, {"approved": True})
    result = await task
    assert result.status is ExecutionStatus.SUCCEEDED
    assert result.output == {"order": "o-1", "answer": {"approved": True}}
    with pytest.raises(TaskTimedOut):  # the task no longer waits for it
        tokens.succeed(token, {})
    with pytest.raises(InvalidToken):
        tokens.succeed("not-a-token", {})


async def test_send_task_failure_fails_the_task_with_its_error() -> None:
    clock, tokens, events = ManualClock(START), TaskTokens(), []
    catch = [{"ErrorEquals": ["Rejected"], "ResultPath": "$.why", "Next": "Done"}]
    definition = machine(Catch=catch)
    definition["States"]["Done"] = {"Type": "Pass", "End": True}
    task, runner = await started(definition, tokens, clock, events)
    tokens.fail(runner.calls[0][1]["MessageBody"]["token"], "Rejected", "too expensive")
    result = await task
    assert result.output["why"] == {"Error": "Rejected", "Cause": "too expensive"}
    assert "TaskFailed" in [e.type for e in events]


async def test_a_missed_heartbeat_times_the_task_out() -> None:
    clock, tokens, events = ManualClock(START), TaskTokens(), []
    task, runner = await started(machine(HeartbeatSeconds=60), tokens, clock, events)
    token = runner.calls[0][1]["MessageBody"]["token"]
    clock.advance(50)
    await settle()
    tokens.heartbeat(token)  # the worker is still at it
    await settle()
    clock.advance(50)
    await settle()
    assert not task.done()
    clock.advance(11)
    await settle()
    result = await task
    assert (result.status, result.error) == (ExecutionStatus.FAILED, "States.HeartbeatTimeout")
    assert "TaskTimedOut" in [e.type for e in events]


async def test_timeout_seconds_bounds_the_wait() -> None:
    clock, tokens, events = ManualClock(START), TaskTokens(), []
    task, _ = await started(machine(TimeoutSeconds=30), tokens, clock, events)
    clock.advance(31)
    await settle()
    result = await task
    assert (result.status, result.error) == (ExecutionStatus.FAILED, "States.Timeout")


def test_what_a_callback_task_may_not_be() -> None:
    with pytest.raises(DefinitionError, match="HeartbeatSeconds must be smaller"):
        load_definition(machine(HeartbeatSeconds=60, TimeoutSeconds=30))
    http = machine()
    http["States"]["Ask"]["Resource"] = "arn:aws:states:::http:invoke.waitForTaskToken"
    with pytest.raises(DefinitionError, match="no waitForTaskToken pattern"):
        load_definition(http)
    sync = machine()
    sync["States"]["Ask"]["Resource"] = "arn:aws:states:::states:startExecution.sync"
    with pytest.raises(DefinitionError, match="sync integration pattern"):
        load_definition(sync)
