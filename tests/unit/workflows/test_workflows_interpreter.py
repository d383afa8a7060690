"""Executions: data flow through each state type, retries against a manual clock, catches."""

from __future__ import annotations

import asyncio
import random
from typing import Any

import pytest

from canaria.clock import ManualClock
from canaria.workflows import ExecutionStatus, HistoryEvent, execute, load_definition

from .fakes import (
    EXECUTION_ARN,
    FN,
    MACHINE_ARN,
    START,
    Flaky,
    FunctionRunner,
    drive,
    one_task,
    run,
)

# -- input and output processing -------------------------------------------------------


async def test_processing_order_with_the_aws_docs_examples() -> None:
    """InputPath -> Parameters -> task -> ResultSelector -> ResultPath -> OutputPath."""
    data = {
        "comment": "Example for InputPath.",
        "dataset1": {"val1": 1, "val2": 2, "val3": 3},
        "dataset2": {"val1": "a", "val2": "b", "val3": "c"},
        "product": {
            "details": {"color": "blue", "size": "small", "material": "cotton"},
            "availability": "in stock",
            "sku": "2317",
            "cost": "$23",
        },
    }
    emr_result = {
        "resourceType": "elasticmapreduce",
        "resource": "createCluster.sync",
        "output": {"SdkHttpMetadata": {"HttpStatusCode": 200}, "ClusterId": "AKIAIOSFODNN7EXAMPLE"},
    }
    seen: list[Any] = []

    def create_cluster(params: Any) -> Any:
        seen.append(params)
        return emr_result

    definition = one_task(
        InputPath="$.product",
        Parameters={
            "comment": "Selecting what I care about.",
            "MyDetails": {
                "size.$": "$.details.size",
                "exists.$": "$.availability",
                "StaticValue": "foo",
            },
        },
        ResultSelector={"ClusterId.$": "$.output.ClusterId", "ResourceType.$": "$.resourceType"},
        ResultPath="$.EMROutput",
        OutputPath="$.EMROutput",
    )
    result, _ = await run(definition, data, {FN: create_cluster})
    assert seen == [
        {
            "comment": "Selecting what I care about.",
            "MyDetails": {"size": "small", "exists": "in stock", "StaticValue": "foo"},
        }
    ]
    assert result.status is ExecutionStatus.SUCCEEDED
    assert result.output == {
        "ClusterId": "AKIAIOSFODNN7EXAMPLE",
        "ResourceType": "elasticmapreduce",
    }

    # Without OutputPath, ResultPath merged the selection into the raw input (not the
    # InputPath-filtered one).
    del definition["States"]["T"]["OutputPath"]
    result, _ = await run(definition, data, {FN: create_cluster})
    assert result.output == {
        **data,
        "EMROutput": {"ClusterId": "AKIAIOSFODNN7EXAMPLE", "ResourceType": "elasticmapreduce"},
    }


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({}, "Hello, AWS Step Functions!"),
        ({"ResultPath": "$"}, "Hello, AWS Step Functions!"),
        ({"ResultPath": None}, {"who": "AWS Step Functions", "n": 1}),
        (
            {"ResultPath": "$.taskresult"},
            {"who": "AWS Step Functions", "n": 1, "taskresult": "Hello, AWS Step Functions!"},
        ),
        ({"ResultPath": "$.taskresult", "OutputPath": "$.n"}, 1),
        ({"OutputPath": None}, {}),
        (
            {"InputPath": None, "ResultPath": "$.r"},
            {"who": "AWS Step Functions", "n": 1, "r": "Hello, !"},
        ),
    ],
)
async def test_result_path_and_output_path(fields: dict[str, Any], expected: Any) -> None:
    def hello(params: Any) -> str:
        return f"Hello, {params.get('who', '')}!"

    result, _ = await run(one_task(**fields), {"who": "AWS Step Functions", "n": 1}, {FN: hello})
    assert result.output == expected


async def test_result_path_into_a_scalar_is_a_catchable_match_failure() -> None:
    definition = one_task(
        ResultPath="$.who.inner",
        Catch=[{"ErrorEquals": ["States.ResultPathMatchFailure"], "Next": "Caught"}],
    )
    definition["States"]["Caught"] = {"Type": "Pass", "End": True}
    result, _ = await run(definition, {"who": "x"}, {FN: lambda p: 1})
    assert result.status is ExecutionStatus.SUCCEEDED
    assert result.output["Error"] == "States.ResultPathMatchFailure"


async def test_pass_state_and_the_context_object() -> None:
    definition = {
        "StartAt": "Fixed",
        "States": {
            "Fixed": {"Type": "Pass", "Result": {"x": 1}, "ResultPath": "$.fixed", "Next": "Ctx"},
            "Ctx": {
                "Type": "Pass",
                "Parameters": {
                    "execution.$": "$$.Execution.Name",
                    "id.$": "$$.Execution.Id",
                    "input.$": "$$.Execution.Input",
                    "started.$": "$$.Execution.StartTime",
                    "state.$": "$$.State.Name",
                    "entered.$": "$$.State.EnteredTime",
                    "machine.$": "$$.StateMachine.Name",
                    "machineId.$": "$$.StateMachine.Id",
                    "fixed.$": "$.fixed.x",
                    "list": [{"nested.$": "$.fixed"}, 2],
                },
                "End": True,
            },
        },
    }
    result, _ = await run(definition, {"a": 1})
    assert result.output == {
        "execution": "run-1",
        "id": EXECUTION_ARN,
        "input": {"a": 1},
        "started": "2023-11-14T22:13:20.000Z",
        "state": "Ctx",
        "entered": "2023-11-14T22:13:20.000Z",
        "machine": "Test",
        "machineId": MACHINE_ARN,
        "fixed": 1,
        "list": [{"nested": {"x": 1}}, 2],
    }


async def test_missing_parameter_path_is_a_runtime_error_not_caught_by_states_all() -> None:
    definition = one_task(
        Parameters={"id.$": "$.company_id"},
        Catch=[{"ErrorEquals": ["States.ALL"], "Next": "Caught"}],
        Retry=[{"ErrorEquals": ["States.ALL"]}],
    )
    definition["States"]["Caught"] = {"Type": "Succeed"}
    result, runner = await run(definition, {"name": "x"}, {FN: lambda p: p})
    assert result.status is ExecutionStatus.FAILED
    assert result.error == "States.Runtime"
    assert "'$.company_id'" in (result.cause or "") and "'id.$'" in (result.cause or "")
    assert runner.calls == []


# -- Choice, Wait, Succeed, Fail ---------------------------------------------------------


def choice_machine(default: bool = True) -> dict[str, Any]:
    choice: dict[str, Any] = {
        "Type": "Choice",
        "Choices": [
            # Rules are tried in order: a missing $.n must be tested before comparing it.
            {"Not": {"Variable": "$.n", "IsPresent": True}, "Next": "Missing"},
            {"Variable": "$.n", "NumericGreaterThan": 10, "Next": "Big"},
        ],
    }
    if default:
        choice["Default"] = "Small"
    return {
        "StartAt": "C",
        "States": {
            "C": choice,
            "Big": {"Type": "Pass", "Result": "big", "End": True},
            "Small": {"Type": "Pass", "Result": "small", "End": True},
            "Missing": {"Type": "Fail", "Error": "NoNumber", "Cause": "n is missing"},
        },
    }


async def test_choice_routes() -> None:
    assert (await run(choice_machine(), {"n": 11}))[0].output == "big"
    assert (await run(choice_machine(), {"n": 1}))[0].output == "small"
    missing, _ = await run(choice_machine(), {})
    assert (missing.status, missing.error, missing.cause) == (
        ExecutionStatus.FAILED,
        "NoNumber",
        "n is missing",
    )


async def test_no_choice_matched() -> None:
    result, _ = await run(choice_machine(default=False), {"n": 1})
    assert result.status is ExecutionStatus.FAILED
    assert result.error == "States.NoChoiceMatched"


async def test_fail_with_error_path_and_cause_path() -> None:
    definition = {
        "StartAt": "F",
        "States": {"F": {"Type": "Fail", "ErrorPath": "$.e", "CausePath": "$.c"}},
    }
    result, _ = await run(definition, {"e": "Custom.Error", "c": "because"})
    assert (result.error, result.cause) == ("Custom.Error", "because")


async def test_succeed_applies_input_and_output_paths() -> None:
    definition = {
        "StartAt": "S",
        "States": {"S": {"Type": "Succeed", "InputPath": "$.a", "OutputPath": "$.b"}},
    }
    result, _ = await run(definition, {"a": {"b": 7}})
    assert result.output == 7


@pytest.mark.parametrize(
    ("wait", "data", "elapsed"),
    [
        ({"Seconds": 30}, {}, 30),
        ({"SecondsPath": "$.s"}, {"s": 45}, 45),
        ({"Timestamp": "2023-11-14T22:15:00Z"}, {}, 100),
        ({"TimestampPath": "$.t"}, {"t": "2023-11-14T22:14:00+00:00"}, 40),
        ({"Timestamp": "2020-01-01T00:00:00Z"}, {}, 0),
    ],
)
async def test_wait_uses_the_clock(wait: dict[str, Any], data: Any, elapsed: float) -> None:
    definition = {
        "StartAt": "W",
        "States": {"W": {"Type": "Wait", "Next": "Done", **wait}, "Done": {"Type": "Succeed"}},
    }
    clock = ManualClock(START)
    result, _ = await run(definition, data, clock=clock)
    assert result.status is ExecutionStatus.SUCCEEDED
    assert result.stop_time - result.start_time == elapsed
    assert result.output == data


async def test_wait_with_a_bad_seconds_path_fails() -> None:
    definition = {
        "StartAt": "W",
        "States": {"W": {"Type": "Wait", "SecondsPath": "$.s", "End": True}},
    }
    result, _ = await run(definition, {"s": "soon"})
    assert result.error == "States.Runtime"


# -- Retry and Catch ----------------------------------------------------------------------


async def test_retry_backs_off_on_the_clock() -> None:
    definition = one_task(
        Retry=[{"ErrorEquals": ["Lambda.ServiceException"], "IntervalSeconds": 2, "BackoffRate": 3}]
    )
    result, runner = await run(definition, {}, {FN: Flaky(*["Lambda.ServiceException"] * 3)})
    assert result.status is ExecutionStatus.SUCCEEDED and result.output == "ok"
    assert [t - START for t in runner.call_times] == [0, 2, 8, 26]


async def test_retry_defaults_and_exhaustion() -> None:
    definition = one_task(Retry=[{"ErrorEquals": ["States.ALL"]}])
    result, runner = await run(definition, {}, {FN: Flaky(*["Boom"] * 4)})
    assert [t - START for t in runner.call_times] == [0, 1, 3, 7]  # 1 s, x2, 3 retries
    assert (result.status, result.error, result.cause) == (ExecutionStatus.FAILED, "Boom", "flaky")


async def test_retry_max_delay_and_zero_attempts() -> None:
    definition = one_task(
        Retry=[
            {"ErrorEquals": ["Never"], "MaxAttempts": 0},
            {
                "ErrorEquals": ["Capped"],
                "IntervalSeconds": 3,
                "MaxAttempts": 4,
                "MaxDelaySeconds": 10,
            },
        ]
    )
    result, runner = await run(definition, {}, {FN: Flaky(*["Capped"] * 4)})
    assert [t - START for t in runner.call_times] == [0, 3, 9, 19, 29]
    result, runner = await run(definition, {}, {FN: Flaky("Never")})
    assert result.error == "Never" and len(runner.calls) == 1


async def test_full_jitter_stays_within_the_backoff() -> None:
    definition = one_task(
        Retry=[
            {"ErrorEquals": ["E"], "IntervalSeconds": 8, "MaxAttempts": 2, "JitterStrategy": "FULL"}
        ]
    )
    clock = ManualClock(START)
    runner = FunctionRunner({FN: Flaky("E", "E")}, clock)
    result = await drive(
        clock,
        execute(
            load_definition(definition),
            {},
            runner=runner,
            clock=clock,
            name="j",
            execution_arn=EXECUTION_ARN,
            state_machine_arn=MACHINE_ARN,
            rng=random.Random(5),
        ),
        step=0.25,
    )
    assert result.output == "ok"
    first, second = (b - a for a, b in zip(runner.call_times, runner.call_times[1:], strict=False))
    assert 0 <= first <= 8.25 and 0 <= second <= 16.25
    assert first != 8 or second != 16  # jittered, not the plain back-off


async def test_retriers_count_separately_as_in_the_aws_docs() -> None:
    """ErrorA, ErrorB, ErrorC, ErrorB: waits 1, 2 (first retrier), 5 (second), then the
    first retrier is exhausted and the Catch takes over."""
    definition = {
        "StartAt": "X",
        "States": {
            "X": {
                "Type": "Task",
                "Resource": FN,
                "Next": "Y",
                "Retry": [
                    {
                        "ErrorEquals": ["ErrorA", "ErrorB"],
                        "IntervalSeconds": 1,
                        "BackoffRate": 2.0,
                        "MaxAttempts": 2,
                    },
                    {"ErrorEquals": ["ErrorC"], "IntervalSeconds": 5},
                ],
                "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "Z", "ResultPath": "$.error"}],
            },
            "Y": {"Type": "Succeed"},
            "Z": {"Type": "Pass", "End": True},
        },
    }
    result, runner = await run(
        definition, {"keep": 1}, {FN: Flaky("ErrorA", "ErrorB", "ErrorC", "ErrorB")}
    )
    assert [t - START for t in runner.call_times] == [0, 1, 3, 8]
    assert result.output == {"keep": 1, "error": {"Error": "ErrorB", "Cause": "flaky"}}


async def test_catch_default_result_path_replaces_the_input() -> None:
    definition = one_task(Catch=[{"ErrorEquals": ["ZeroDivisionError"], "Next": "H"}])
    definition["States"]["H"] = {"Type": "Pass", "End": True}
    result, _ = await run(definition, {"x": 1}, {FN: Flaky("ZeroDivisionError")})
    assert result.output == {"Error": "ZeroDivisionError", "Cause": "flaky"}


async def test_task_failed_matches_any_error_but_timeout() -> None:
    definition = one_task(
        TimeoutSeconds=5, Catch=[{"ErrorEquals": ["States.TaskFailed"], "Next": "H"}]
    )
    definition["States"]["H"] = {"Type": "Pass", "End": True}
    result, _ = await run(definition, {}, {FN: Flaky("Custom.Error")})
    assert result.output["Error"] == "Custom.Error"

    async def never(params: Any) -> Any:
        await asyncio.Event().wait()

    result, _ = await run(definition, {}, {FN: never})
    assert (result.status, result.error) == (ExecutionStatus.FAILED, "States.Timeout")


async def test_task_timeout_passes_the_limit_and_times_out_on_the_clock() -> None:
    async def slow(params: Any) -> Any:
        await asyncio.Event().wait()

    events: list[HistoryEvent] = []
    definition = one_task(
        TimeoutSeconds=10, Catch=[{"ErrorEquals": ["States.Timeout"], "Next": "H"}]
    )
    definition["States"]["H"] = {"Type": "Pass", "End": True}
    result, runner = await run(definition, {}, {FN: slow}, events=events)
    assert runner.calls[0][2] == 10
    assert result.output["Error"] == "States.Timeout"
    assert result.stop_time - result.start_time == 10
    assert "LambdaFunctionTimedOut" in [e.type for e in events]


async def test_unexpected_runner_exceptions_become_task_failed() -> None:
    def broken(params: Any) -> Any:
        raise ConnectionError("refused")

    result, _ = await run(one_task(), {}, {FN: broken})
    assert (result.error, result.cause) == ("States.TaskFailed", "ConnectionError: refused")
