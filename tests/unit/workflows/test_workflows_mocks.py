"""Step Functions Local's mocked service integrations: the mock configuration read and
checked, a test case's answers given per invocation (retries and Map iterations count),
a Task state the test case does not name calling its integration."""

from __future__ import annotations

import json
from typing import Any

import pytest

from canaria.workflows import (
    ExecutionStatus,
    HistoryEvent,
    MockConfigError,
    MockedCalls,
    mock_case,
    parse_mock_config,
)

from .fakes import FN, START, run

# the example of AWS's documentation ("Configuration file for mocked service integrations")
CONFIG = {
    "StateMachines": {
        "LambdaSQSIntegration": {
            "TestCases": {
                "HappyPath": {"LambdaState": "MockedLambdaSuccess", "SQSState": "MockedSQS"},
                "RetryPath": {"LambdaState": "MockedLambdaRetry", "SQSState": "MockedSQS"},
                "HybridPath": {"LambdaState": "MockedLambdaSuccess"},
            }
        }
    },
    "MockedResponses": {
        "MockedLambdaSuccess": {
            "0": {"Return": {"StatusCode": 200, "Payload": {"body": "Hello from Lambda!"}}}
        },
        "MockedSQS": {"0": {"Return": {"MessageId": "m-1"}}},
        "MockedLambdaRetry": {
            "0": {"Throw": {"Error": "Lambda.ResourceNotReadyException", "Cause": "not ready"}},
            "1-2": {"Throw": {"Error": "Lambda.TimeoutException", "Cause": "timed out"}},
            "3": {"Return": {"StatusCode": 200, "Payload": {"body": "at last"}}},
        },
    },
}
SQS = "arn:aws:states:::sqs:sendMessage"
MACHINE = {
    "StartAt": "LambdaState",
    "States": {
        "LambdaState": {
            "Type": "Task",
            "Resource": "arn:aws:states:::lambda:invoke",
            "Parameters": {"FunctionName": FN, "Payload.$": "$"},
            "ResultSelector": {"body.$": "$.Payload.body"},
            "Retry": [{"ErrorEquals": ["States.ALL"], "IntervalSeconds": 2, "MaxAttempts": 3}],
            "Next": "SQSState",
        },
        "SQSState": {
            "Type": "Task",
            "Resource": SQS,
            "Parameters": {"QueueUrl": "q", "MessageBody.$": "$.body"},
            "ResultPath": "$.sent",
            "End": True,
        },
    },
}


async def run_case(case: str, handlers: dict[str, Any] | None = None) -> tuple[Any, Any, Any]:
    config = parse_mock_config(json.dumps(CONFIG))
    mocks = MockedCalls(mock_case(config, "LambdaSQSIntegration", case))
    events: list[HistoryEvent] = []
    result, runner = await run(MACHINE, {"data": 1}, handlers, events=events, mocks=mocks)
    return result, runner, events


async def test_a_test_case_answers_its_states_and_calls_nothing() -> None:
    result, runner, _ = await run_case("HappyPath")
    assert result.status is ExecutionStatus.SUCCEEDED
    assert result.output == {"body": "Hello from Lambda!", "sent": {"MessageId": "m-1"}}
    assert runner.calls == []


async def test_each_retry_takes_the_next_answer() -> None:
    result, _, events = await run_case("RetryPath")
    assert result.status is ExecutionStatus.SUCCEEDED and result.output["body"] == "at last"
    failed = [e.details["error"] for e in events if e.type == "TaskFailed"]
    assert failed == [
        "Lambda.ResourceNotReadyException",
        "Lambda.TimeoutException",
        "Lambda.TimeoutException",
    ]
    assert [e.timestamp - START for e in events if e.type == "TaskScheduled"][:4] == [0, 2, 6, 14]


async def test_a_state_the_test_case_does_not_name_calls_its_integration() -> None:
    result, runner, _ = await run_case("HybridPath", {SQS: lambda p: {"MessageId": "real"}})
    assert result.output["sent"] == {"MessageId": "real"}
    assert [r for r, _, _ in runner.calls] == [SQS]


def test_the_last_answer_repeats() -> None:
    config = parse_mock_config(json.dumps(CONFIG))
    calls = MockedCalls(mock_case(config, "LambdaSQSIntegration", "RetryPath"))
    answers = [calls.next("LambdaState") for _ in range(6)]
    assert [a.error for a in answers if a] == [
        "Lambda.ResourceNotReadyException",
        "Lambda.TimeoutException",
        "Lambda.TimeoutException",
        None,
        None,
        None,
    ]
    assert calls.next("Other") is None


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ("{", "not valid JSON"),
        ({"StateMachines": {}, "Extra": 1}, "unknown top-level field(s) Extra"),
        (
            {"StateMachines": {"M": {"TestCases": {"T": {"S": "Missing"}}}}, "MockedResponses": {}},
            "StateMachines.M.TestCases.T.S: no mocked response 'Missing'",
        ),
        (
            {"MockedResponses": {"R": {"0": {"Return": 1}, "2": {"Return": 2}}}},
            "invocation 1 has no response",
        ),
        (
            {"MockedResponses": {"R": {"0-1": {"Return": 1}, "1": {"Return": 2}}}},
            "invocation 2 has no",
        ),
        ({"MockedResponses": {"R": {"first": {"Return": 1}}}}, "expected an invocation number"),
        (
            {"MockedResponses": {"R": {"0": {"Return": 1, "Throw": {}}}}},
            "exactly one of Return or Throw",
        ),
        (
            {"MockedResponses": {"R": {"0": {"Throw": {"Cause": "c"}}}}},
            "R.'0'.Throw: expected Error",
        ),
    ],
)
def test_what_is_wrong_in_a_configuration_is_said_where(config: Any, message: str) -> None:
    text = config if isinstance(config, str) else json.dumps(config)
    with pytest.raises(MockConfigError, match=None) as info:
        parse_mock_config(text)
    assert message in str(info.value)


def test_a_test_case_the_configuration_does_not_have() -> None:
    config = parse_mock_config(json.dumps(CONFIG))
    with pytest.raises(MockConfigError, match="its test cases: HappyPath, HybridPath, RetryPath"):
        mock_case(config, "LambdaSQSIntegration", "Nope")
    with pytest.raises(MockConfigError, match="test cases for: LambdaSQSIntegration"):
        mock_case(config, "Other", "HappyPath")
