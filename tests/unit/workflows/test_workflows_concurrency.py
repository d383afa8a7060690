"""Executions: Parallel and Map, execution timeout and abort, the history."""

from __future__ import annotations

import asyncio
from typing import Any

from canaria.clock import ManualClock
from canaria.workflows import ExecutionStatus, HistoryEvent, TaskFailed, execute

from .fakes import EXECUTION_ARN, FN, MACHINE_ARN, START, Flaky, FunctionRunner, run, settle

# -- Parallel and Map --------------------------------------------------------------------


def sleeper(clock: ManualClock, log: list[str]) -> Any:
    async def handler(params: Any) -> Any:
        log.append(f"start {params['id']}")
        await clock.sleep_until(clock.now() + params["delay"])
        log.append(f"end {params['id']}")
        if params.get("fail"):
            raise TaskFailed("Item.Failed", f"item {params['id']}")
        return params["id"]

    return handler


async def test_parallel_runs_branches_concurrently_in_order() -> None:
    clock = ManualClock(START)
    log: list[str] = []

    def branch(i: int, delay: int) -> dict[str, Any]:
        return {
            "StartAt": f"B{i}",
            "States": {
                f"B{i}": {
                    "Type": "Task",
                    "Resource": FN,
                    "Parameters": {"id": i, "delay": delay},
                    "End": True,
                }
            },
        }

    definition = {
        "StartAt": "P",
        "States": {
            "P": {
                "Type": "Parallel",
                "Branches": [branch(0, 5), branch(1, 1), branch(2, 3)],
                "ResultPath": "$.results",
                "End": True,
            }
        },
    }
    result, _ = await run(definition, {"in": 1}, {FN: sleeper(clock, log)}, clock=clock)
    assert result.output == {"in": 1, "results": [0, 1, 2]}
    assert log[:3] == ["start 0", "start 1", "start 2"]
    assert result.stop_time - result.start_time == 5  # concurrent, not 9


async def test_parallel_branch_failure_is_caught_with_its_error() -> None:
    definition = {
        "StartAt": "P",
        "States": {
            "P": {
                "Type": "Parallel",
                "Branches": [
                    {"StartAt": "Ok", "States": {"Ok": {"Type": "Pass", "End": True}}},
                    {
                        "StartAt": "F",
                        "States": {"F": {"Type": "Fail", "Error": "Branch.Broke", "Cause": "c"}},
                    },
                ],
                "Catch": [{"ErrorEquals": ["Branch.Broke"], "ResultPath": "$.err", "Next": "Done"}],
                "End": True,
            },
            "Done": {"Type": "Succeed"},
        },
    }
    result, _ = await run(definition, {"a": 1})
    assert result.output == {"a": 1, "err": {"Error": "Branch.Broke", "Cause": "c"}}


async def test_map_keeps_order_and_limits_concurrency() -> None:
    clock = ManualClock(START)
    log: list[str] = []
    definition = {
        "StartAt": "M",
        "States": {
            "M": {
                "Type": "Map",
                "ItemsPath": "$.jobs",
                "MaxConcurrency": 2,
                "ItemSelector": {
                    "id.$": "$$.Map.Item.Value.name",
                    "delay.$": "$$.Map.Item.Value.delay",
                    "index.$": "$$.Map.Item.Index",
                    "batch.$": "$.batch",
                },
                "ItemProcessor": {
                    "StartAt": "Work",
                    "States": {
                        "Work": {"Type": "Task", "Resource": FN, "ResultPath": "$.out", "End": True}
                    },
                },
                "ResultSelector": {"all.$": "$[*].out", "indexes.$": "$[*].index"},
                "ResultPath": "$.done",
                "End": True,
            }
        },
    }
    jobs = [{"name": n, "delay": d} for n, d in [("a", 4), ("b", 1), ("c", 1), ("d", 1)]]
    result, _ = await run(
        definition, {"jobs": jobs, "batch": 7}, {FN: sleeper(clock, log)}, clock=clock
    )
    assert result.output["done"] == {"all": ["a", "b", "c", "d"], "indexes": [0, 1, 2, 3]}
    # two at a time: a and b start; c starts only when b ends; d when c ends.
    assert log[:4] == ["start a", "start b", "end b", "start c"]
    assert result.stop_time - result.start_time == 4


async def test_map_with_legacy_iterator_and_failure() -> None:
    definition = {
        "StartAt": "M",
        "States": {
            "M": {
                "Type": "Map",
                "Iterator": {
                    "StartAt": "C",
                    "States": {
                        "C": {
                            "Type": "Choice",
                            "Choices": [{"Variable": "$", "NumericGreaterThan": 2, "Next": "Bad"}],
                            "Default": "Good",
                        },
                        "Good": {"Type": "Pass", "End": True},
                        "Bad": {"Type": "Fail", "Error": "TooBig"},
                    },
                },
                "End": True,
            }
        },
    }
    ok, _ = await run(definition, [1, 2])
    assert ok.output == [1, 2]
    empty, _ = await run(definition, [])
    assert empty.output == []
    bad, _ = await run(definition, [1, 3])
    assert (bad.status, bad.error) == (ExecutionStatus.FAILED, "TooBig")


async def test_map_items_path_must_be_an_array() -> None:
    definition = {
        "StartAt": "M",
        "States": {
            "M": {
                "Type": "Map",
                "ItemsPath": "$.x",
                "ItemProcessor": {"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}},
                "End": True,
            }
        },
    }
    result, _ = await run(definition, {"x": {"not": "a list"}})
    assert result.error == "States.Runtime"


# -- the execution -----------------------------------------------------------------------


async def test_execution_timeout() -> None:
    definition = {
        "StartAt": "W",
        "TimeoutSeconds": 60,
        "States": {"W": {"Type": "Wait", "Seconds": 3600, "End": True}},
    }
    result, _ = await run(definition, {})
    assert (result.status, result.error) == (ExecutionStatus.TIMED_OUT, "States.Timeout")
    assert result.stop_time - result.start_time == 60
    assert result.history[-1].type == "ExecutionTimedOut"


async def test_abort() -> None:
    clock = ManualClock(START)
    abort = asyncio.Event()
    definition = {"StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": 3600, "End": True}}}
    task = asyncio.ensure_future(
        execute(
            definition,
            {},
            runner=FunctionRunner({}),
            clock=clock,
            name="a",
            execution_arn=EXECUTION_ARN,
            state_machine_arn=MACHINE_ARN,
            abort=abort,
        )
    )
    await settle()
    abort.set()
    result = await task
    assert result.status is ExecutionStatus.ABORTED
    assert [e.type for e in result.history] == [
        "ExecutionStarted",
        "WaitStateEntered",
        "ExecutionAborted",
    ]


async def test_history_events() -> None:
    events: list[HistoryEvent] = []
    definition = {
        "StartAt": "Call",
        "States": {
            "Call": {
                "Type": "Task",
                "Resource": "arn:aws:states:::lambda:invoke",
                "Parameters": {"FunctionName": "work", "Payload.$": "$"},
                "Retry": [{"ErrorEquals": ["States.TaskFailed"]}],
                "Next": "Check",
            },
            "Check": {
                "Type": "Choice",
                "Choices": [{"Variable": "$.StatusCode", "NumericEquals": 200, "Next": "Done"}],
            },
            "Done": {"Type": "Succeed"},
        },
    }
    handlers = {
        "arn:aws:states:::lambda:invoke": _then({"StatusCode": 200, "Payload": 1}, Flaky("Boom"))
    }
    result, _ = await run(definition, {"in": 1}, handlers, events=events)
    assert result.status is ExecutionStatus.SUCCEEDED
    assert list(result.history) == events
    assert [e.type for e in events] == [
        "ExecutionStarted",
        "TaskStateEntered",
        "TaskScheduled",
        "TaskStarted",
        "TaskFailed",
        "TaskScheduled",
        "TaskStarted",
        "TaskSucceeded",
        "TaskStateExited",
        "ChoiceStateEntered",
        "ChoiceStateExited",
        "SucceedStateEntered",
        "SucceedStateExited",
        "ExecutionSucceeded",
    ]
    assert [e.id for e in events] == list(range(1, len(events) + 1))
    assert [e.previous_event_id for e in events] == list(range(0, len(events)))
    scheduled = events[2].to_api()
    assert scheduled["taskScheduledEventDetails"] == {
        "resourceType": "lambda",
        "resource": "invoke",
        "region": "us-east-1",
        "parameters": '{"FunctionName":"work","Payload":{"in":1}}',
    }
    assert events[1].to_api()["stateEnteredEventDetails"] == {"name": "Call", "input": '{"in":1}'}
    assert events[4].to_api()["taskFailedEventDetails"]["error"] == "Boom"
    assert events[-1].to_api()["executionSucceededEventDetails"] == {
        "output": '{"StatusCode":200,"Payload":1}'
    }


def _then(value: Any, first: Flaky) -> Any:
    def handler(params: Any) -> Any:
        first(params)
        return value

    return handler


async def test_parallel_branch_events_chain_from_the_parallel_state() -> None:
    definition = {
        "StartAt": "P",
        "States": {
            "P": {
                "Type": "Parallel",
                "Branches": [
                    {"StartAt": "A", "States": {"A": {"Type": "Pass", "End": True}}},
                    {"StartAt": "B", "States": {"B": {"Type": "Pass", "End": True}}},
                ],
                "End": True,
            }
        },
    }
    result, _ = await run(definition, {})
    by_type = {e.type + (e.details.get("name") or ""): e for e in result.history}
    started = by_type["ParallelStateStarted"]
    assert by_type["PassStateEnteredA"].previous_event_id == started.id
    assert by_type["PassStateEnteredB"].previous_event_id == started.id
    assert result.history[-1].type == "ExecutionSucceeded"
