"""What a function may do with the credentials in its environment: what a Lambda
execution role allows (invoke, run state machines, report its own hook execution and its
own completions), nothing that moves traffic or decides a deployment. Before, every
function held the operator's token and keys: a canary could promote itself, stop or
approve any deployment, and rewrite an alias's weights under the judge."""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from canaria.auth import Keyring, access_key_id
from tests.functional.harness import Canaria, copy_example
from tests.functional.platform.test_platform_resilience import deploy

INTRUDER = """
import json
import os
import urllib.error
import urllib.request

import boto3
from botocore.exceptions import ClientError


def handler(event, context):
    op = event["op"]
    try:
        if op == "env":
            return {k: os.environ.get(k) for k in ("CANARIA_TOKEN", "AWS_ACCESS_KEY_ID")}
        if op == "update_alias":
            boto3.client("lambda").update_alias(
                FunctionName="HelloFunction", Name="live", FunctionVersion=event["version"]
            )
        elif op == "publish":
            boto3.client("lambda").publish_version(FunctionName="HelloFunction")
        elif op == "stop":
            boto3.client("codedeploy").stop_deployment(deploymentId=event["id"])
        elif op == "report":
            boto3.client("codedeploy").put_lifecycle_event_hook_execution_status(
                deploymentId=event["id"],
                lifecycleEventHookExecutionId=event["hook"],
                status="Succeeded",
            )
        elif op == "invoke":
            answer = boto3.client("lambda").invoke(FunctionName="HelloFunction")
            return json.loads(answer["Payload"].read())
        elif op == "get_deployment":
            boto3.client("codedeploy").get_deployment(deploymentId=event["id"])
        elif op == "read_stack":  # a hook finds what it tests, and checks the alarms
            boto3.client("cloudformation").list_stack_resources(StackName=event["stack"])
            boto3.client("cloudwatch").describe_alarms()
            boto3.client("logs").describe_log_groups()
        elif op == "set_alarm":
            boto3.client("cloudwatch").set_alarm_state(
                AlarmName=event["alarm"], StateValue="ALARM", StateReason="a function says so"
            )
        elif op == "control":
            request = urllib.request.Request(
                os.environ["CANARIA_ENDPOINT"] + event["path"],
                data=json.dumps(event.get("body")).encode() if "body" in event else None,
                headers={
                    "Authorization": "Bearer " + os.environ["CANARIA_TOKEN"],
                    "Content-Type": "application/json",
                },
                method=event.get("method", "GET"),
            )
            with urllib.request.urlopen(request) as answer:
                return answer.status
    except ClientError as exc:
        return exc.response["Error"]["Code"]
    except urllib.error.HTTPError as exc:
        return exc.code
    return "allowed"
"""

# the PreTraffic hook holds until the test lets it report
HELD_HOOK = """
import os
import time

_real = handler


def handler(event, context):
    while not os.path.exists({release!r}):
        time.sleep(0.05)
    return _real(event, context)
"""


@pytest.fixture
def app(tmp_path: Path) -> Iterator[Canaria]:
    root = copy_example("hello", tmp_path)
    (root / "intruder").mkdir()
    (root / "intruder" / "app.py").write_text(INTRUDER)
    hook = root / "hooks" / "pre_traffic.py"
    hook.write_text(hook.read_text() + HELD_HOOK.format(release=str(tmp_path / "release")))
    template = root / "template.yaml"
    template.write_text(
        template.read_text().replace(
            "\nOutputs:",
            "  Intruder:\n"
            "    Type: AWS::Serverless::Function\n"
            "    Properties:\n"
            "      Handler: app.handler\n"
            "      CodeUri: intruder\n"
            "      Timeout: 30\n"
            "\nOutputs:",
        )
    )
    c = Canaria(template, tmp_path / "state").start()
    yield c
    (tmp_path / "release").touch()
    c.stop()


def call(c: Canaria, fn: str, event: dict[str, Any]) -> Any:
    answer = c.aws("lambda").invoke(FunctionName=fn, Payload=json.dumps(event).encode())
    body = answer["Payload"].read()
    assert "FunctionError" not in answer, body
    return json.loads(body)


def pending_hook(c: Canaria, dep: str) -> dict[str, Any]:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        d = c.api().get(f"/deployments/{dep}")
        if d["hook_executions"]:
            return d["hook_executions"][0]  # type: ignore[no-any-return]
        time.sleep(0.05)
    raise AssertionError("no hook execution was started")


def test_no_function_holds_the_operators_token_or_keys(app: Canaria) -> None:
    env = call(app, "Intruder", {"op": "env"})
    assert env["CANARIA_TOKEN"] and env["CANARIA_TOKEN"] != app.token()
    assert env["AWS_ACCESS_KEY_ID"] != access_key_id(app.token())
    # keys of its own: not another function's
    keyring = Keyring(app.token())
    assert env["AWS_ACCESS_KEY_ID"] == keyring.function_keys("Intruder")[0]
    assert env["AWS_ACCESS_KEY_ID"] != keyring.function_keys("HelloFunction")[0]


def test_a_function_cannot_move_traffic_or_decide_a_deployment(
    app: Canaria, tmp_path: Path
) -> None:
    dep = deploy(app, "v2")
    hook = pending_hook(app, dep)
    assert hook["status"] == "Pending"
    # what an execution role allows
    assert call(app, "Intruder", {"op": "invoke"})["statusCode"] == 200
    assert call(app, "Intruder", {"op": "get_deployment", "id": dep}) == "allowed"
    stack = app.aws("cloudformation").describe_stacks()["Stacks"][0]["StackName"]
    assert call(app, "Intruder", {"op": "read_stack", "stack": stack}) == "allowed"
    # what it does not
    assert call(app, "Intruder", {"op": "update_alias", "version": "2"}) == "AccessDeniedException"
    assert call(app, "Intruder", {"op": "publish"}) == "AccessDeniedException"
    assert call(app, "Intruder", {"op": "stop", "id": dep}) == "AccessDeniedException"
    alarm = {"op": "set_alarm", "alarm": "HelloErrorsAlarm"}  # an alarm would roll it back
    assert call(app, "Intruder", alarm) == "AccessDeniedException"
    report = {"op": "report", "id": dep, "hook": hook["execution_id"]}
    assert call(app, "Intruder", report) == "AccessDeniedException"
    # the control API: not with a function's token
    assert call(app, "Intruder", {"op": "control", "path": "/canaria/v1/status"}) == 401
    promote = {"op": "control", "path": f"/canaria/v1/deployments/{dep}/promote"}
    assert call(app, "Intruder", {**promote, "method": "POST", "body": {}}) == 401
    others = {
        "op": "control",
        "path": "/canaria/v1/functions/HelloFunction/completions",
        "method": "POST",
        "body": {"request_id": "r-1", "status": "Succeeded"},
    }
    assert call(app, "Intruder", others) == 401
    own = {**others, "path": "/canaria/v1/functions/Intruder/completions"}
    assert call(app, "Intruder", own) == 201
    d = app.api().get(f"/deployments/{dep}")
    assert d["state"] == "BeforeAllowTraffic" and d["hook_executions"][0]["status"] == "Pending"
    assert app.alias("HelloFunction")["split"] == {"1": 1.0}
    # the hook itself reports its own execution
    (tmp_path / "release").touch()
    assert app.wait_deployment(dep)["state"] == "Succeeded"


def test_hook_execution_ids_cannot_be_derived_from_the_deployment_id(app: Canaria) -> None:
    dep = deploy(app, "v2")
    hook = pending_hook(app, dep)
    digest = hashlib.sha256(f"{dep}/BeforeAllowTraffic".encode()).hexdigest()
    assert digest[:8] not in hook["execution_id"]
    assert len(hook["execution_id"]) == 36
