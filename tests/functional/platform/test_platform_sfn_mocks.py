"""Step Functions Local's mocked service integrations through a real `canaria up
--sfn-mock-config` and boto3, as AWS's testing samples drive Step Functions Local:
a state machine created with CreateStateMachine, executions started as
"<ARN>#<test case>", their histories read; the configuration read again at each start
(an edit applies without a restart); what is wrong said in the API's error."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.functional.harness import Canaria, wait_until

TEMPLATE = "Transform: AWS::Serverless-2016-10-31\nResources:\n  Queue: {Type: AWS::SQS::Queue}\n"
DEFINITION = {
    "StartAt": "LambdaState",
    "States": {
        "LambdaState": {
            "Type": "Task",
            "Resource": "arn:aws:states:::lambda:invoke",
            "Parameters": {"Payload.$": "$", "FunctionName": "HelloWorldFunction"},
            "Retry": [{"ErrorEquals": ["States.ALL"], "IntervalSeconds": 2, "MaxAttempts": 3}],
            "Next": "SQSState",
        },
        "SQSState": {
            "Type": "Task",
            "Resource": "arn:aws:states:::sqs:sendMessage",
            "Parameters": {
                "QueueUrl": "https://sqs.us-east-1.amazonaws.com/123456789012/myQueue",
                "MessageBody.$": "$",
            },
            "End": True,
        },
    },
}
CONFIG = {
    "StateMachines": {
        "LambdaSQSIntegration": {
            "TestCases": {
                "HappyPath": {"LambdaState": "LambdaOk", "SQSState": "SqsOk"},
                "RetryPath": {"LambdaState": "LambdaRetry", "SQSState": "SqsOk"},
            }
        }
    },
    "MockedResponses": {
        "LambdaOk": {"0": {"Return": {"StatusCode": 200, "Payload": {"body": "hello"}}}},
        "SqsOk": {"0": {"Return": {"MessageId": "m-1"}}},
        "LambdaRetry": {
            "0": {"Throw": {"Error": "Lambda.ResourceNotReadyException", "Cause": "not ready"}},
            "1-2": {"Throw": {"Error": "Lambda.TimeoutException", "Cause": "timed out"}},
            "3": {"Return": {"StatusCode": 200, "Payload": {"body": "at last"}}},
        },
    },
}


@pytest.fixture
def app(tmp_path: Path) -> Iterator[Canaria]:
    (tmp_path / "app").mkdir()
    (tmp_path / "app" / "template.yaml").write_text(TEMPLATE)
    config = tmp_path / "app" / "MockConfigFile.json"
    config.write_text(json.dumps(CONFIG))
    c = Canaria(
        tmp_path / "app" / "template.yaml",
        tmp_path / "state",
        extra=("--sfn-mock-config", str(config)),
    ).start()
    c.aws("stepfunctions").create_state_machine(
        name="LambdaSQSIntegration",
        definition=json.dumps(DEFINITION),
        roleArn="arn:aws:iam::123456789012:role/DummyRole",
    )
    yield c
    c.stop()


def execute(c: Canaria, case: str, name: str) -> list[dict[str, Any]]:
    sfn = c.aws("stepfunctions")
    arn = sfn.list_state_machines()["stateMachines"][0]["stateMachineArn"]
    started = sfn.start_execution(
        name=name, stateMachineArn=f"{arn}#{case}", input=json.dumps({"data": "x"})
    )
    done = wait_until(
        lambda: sfn.describe_execution(executionArn=started["executionArn"]),
        lambda d: d["status"] != "RUNNING",
        f"execution {name}",
    )
    assert done["status"] == "SUCCEEDED", done
    return sfn.get_execution_history(executionArn=started["executionArn"])["events"]


def test_test_cases_answer_their_states(app: Canaria) -> None:
    events = execute(app, "HappyPath", "happy")
    exited = [e["stateExitedEventDetails"] for e in events if e["type"] == "TaskStateExited"]
    assert [e["name"] for e in exited] == ["LambdaState", "SQSState"]
    assert json.loads(exited[1]["output"]) == {"MessageId": "m-1"}

    events = execute_with_clock(app, "RetryPath", "retry")
    errors = [e["taskFailedEventDetails"]["error"] for e in events if e["type"] == "TaskFailed"]
    assert errors == [
        "Lambda.ResourceNotReadyException",
        "Lambda.TimeoutException",
        "Lambda.TimeoutException",
    ]


def execute_with_clock(c: Canaria, case: str, name: str) -> list[dict[str, Any]]:
    """An execution whose retries wait: the manual clock moved until it ends."""
    sfn = c.aws("stepfunctions")
    arn = sfn.list_state_machines()["stateMachines"][0]["stateMachineArn"]
    started = sfn.start_execution(name=name, stateMachineArn=f"{arn}#{case}", input="{}")

    def status() -> str:
        c.advance(1)
        return str(sfn.describe_execution(executionArn=started["executionArn"])["status"])

    assert wait_until(status, lambda s: s != "RUNNING", f"execution {name}") == "SUCCEEDED"
    return sfn.get_execution_history(executionArn=started["executionArn"])["events"]


def test_an_edit_applies_to_the_next_execution_and_errors_are_named(app: Canaria) -> None:
    sfn = app.aws("stepfunctions")
    arn = sfn.list_state_machines()["stateMachines"][0]["stateMachineArn"]
    with pytest.raises(ClientError) as info:
        sfn.start_execution(stateMachineArn=f"{arn}#Nope", input="{}")
    assert info.value.response["Error"]["Code"] == "ValidationException"
    assert "no test case 'Nope'" in info.value.response["Error"]["Message"]
    config = Path(app.template.parent / "MockConfigFile.json")
    edited = json.loads(config.read_text())
    edited["StateMachines"]["LambdaSQSIntegration"]["TestCases"]["Nope"] = {
        "LambdaState": "LambdaOk",
        "SQSState": "SqsOk",
    }
    config.write_text(json.dumps(edited))
    assert len(execute(app, "Nope", "after-edit")) > 0
    config.write_text("{ not json")
    with pytest.raises(ClientError, match="not valid JSON"):
        sfn.start_execution(stateMachineArn=f"{arn}#Nope", input="{}")


def test_up_refuses_a_configuration_it_cannot_read(tmp_path: Path) -> None:
    (tmp_path / "template.yaml").write_text(TEMPLATE)
    bad = tmp_path / "Mock.json"
    bad.write_text(json.dumps({"MockedResponses": {"R": {"1": {"Return": 1}}}}))
    done = subprocess.run(
        [sys.executable, "-m", "canaria.cli.main", "up", "--port", "0", "--control-port", "0"],
        cwd=tmp_path,
        env={
            **os.environ,
            "SFN_MOCK_CONFIG": str(bad),
            "CANARIA_STATE": str(tmp_path / "s"),
        },
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode != 0
    assert (
        f"--sfn-mock-config {bad}: MockedResponses.R: invocation 0 has no response" in done.stderr
    )
