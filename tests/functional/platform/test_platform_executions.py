"""Step Functions executions outlive `canaria up`: a clean restart and a SIGKILL, seen
through boto3 the way code written for AWS sees them."""

from __future__ import annotations

import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from canaria.store import ABANDONED_CAUSE
from tests.functional.harness import Canaria

pytestmark = pytest.mark.slow

TEMPLATE = """\
AWSTemplateFormatVersion: "2010-09-09"
Transform: AWS::Serverless-2016-10-31
Resources:
  Double:
    Type: AWS::Serverless::Function
    Properties:
      Handler: app.handler
      Runtime: python3.11
      CodeUri: src
  Calc:
    Type: AWS::Serverless::StateMachine
    Properties:
      Definition:
        StartAt: Prepare
        States:
          Prepare:
            Type: Pass
            Parameters:
              n.$: $.n
            Next: Twice
          Twice:
            Type: Task
            Resource: !GetAtt Double.Arn
            End: true
  Slow:
    Type: AWS::Serverless::StateMachine
    Properties:
      Definition:
        StartAt: Nap
        States:
          Nap:
            Type: Wait
            Seconds: 3600
            End: true
"""

HANDLER = """\
def handler(event, context):
    return {"n": event["n"] * 2}
"""


@pytest.fixture
def app(tmp_path: Path) -> Iterator[Canaria]:
    (tmp_path / "app" / "src").mkdir(parents=True)
    (tmp_path / "app" / "template.yaml").write_text(TEMPLATE)
    (tmp_path / "app" / "src" / "app.py").write_text(textwrap.dedent(HANDLER))
    c = Canaria(tmp_path / "app" / "template.yaml", tmp_path / "state").start()
    yield c
    c.stop()


def seen(sfn: Any, arn: str, machine: str) -> tuple[Any, Any, Any]:
    def clean(answer: dict[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in answer.items() if k != "ResponseMetadata"}

    return (
        clean(sfn.describe_execution(executionArn=arn)),
        clean(sfn.get_execution_history(executionArn=arn)),
        clean(sfn.list_executions(stateMachineArn=machine)),
    )


def test_executions_survive_a_restart_and_a_kill(app: Canaria) -> None:
    sfn = app.aws("stepfunctions")
    machines = {m["name"]: m["stateMachineArn"] for m in sfn.list_state_machines()["stateMachines"]}
    calc, slow = machines["Calc"], machines["Slow"]
    done = sfn.start_sync_execution(stateMachineArn=calc, name="first", input='{"n": 21}')
    assert (done["status"], done["output"]) == ("SUCCEEDED", '{"n":42}'), done
    arn = done["executionArn"]
    before = seen(sfn, arn, calc)
    events = [e["type"] for e in before[1]["events"]]
    assert events[0] == "ExecutionStarted" and events[-1] == "ExecutionSucceeded"
    assert "LambdaFunctionSucceeded" in events
    napping = sfn.start_execution(stateMachineArn=slow, name="napping")["executionArn"]
    assert sfn.describe_execution(executionArn=napping)["status"] == "RUNNING"

    # ---- a clean restart: the finished execution answers as before -----------------
    app.stop()
    app.start()
    sfn = app.aws("stepfunctions")
    assert seen(sfn, arn, calc) == before
    stopped = sfn.describe_execution(executionArn=napping)
    assert (stopped["status"], stopped["cause"]) == ("ABORTED", ABANDONED_CAUSE)
    with pytest.raises(sfn.exceptions.ExecutionAlreadyExists):
        sfn.start_execution(stateMachineArn=calc, name="first", input='{"n": 1}')

    # ---- SIGKILL mid-execution: the next canaria finds it RUNNING and aborts it -------
    orphan = sfn.start_execution(stateMachineArn=slow, name="orphan")["executionArn"]
    app.kill()
    app.start()
    sfn = app.aws("stepfunctions")
    assert seen(sfn, arn, calc) == before
    view = sfn.describe_execution(executionArn=orphan)
    assert (view["status"], view["cause"]) == ("ABORTED", ABANDONED_CAUSE)
    assert "stopDate" in view and "error" not in view
    listed = sfn.list_executions(stateMachineArn=slow)["executions"]
    assert [(e["name"], e["status"]) for e in listed] == [
        ("orphan", "ABORTED"),
        ("napping", "ABORTED"),
    ]
