"""Step Functions on canaria: machines, executions and the task runner, with an in-memory
Lambda and a real HTTP server on loopback standing in for the gateway."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import orjson
import pytest

from canaria.aws.states import PlatformTasks, StateMachines, machine_arn
from canaria.clock import ManualClock
from canaria.errors import Conflict, InvalidRequest, NotFound
from canaria.models import InvokeResult, StateMachineSpec
from canaria.workflows import DefinitionError


class Functions:
    """Lambda Invoke in memory: `double` doubles, `boom` raises."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str | None, Any]] = []

    async def invoke_qualified(
        self, function: str, qualifier: str | None, payload: bytes
    ) -> InvokeResult:
        event = orjson.loads(payload)
        self.calls.append((function, qualifier, event))
        if function == "boom":
            err = {"errorType": "ValueError", "errorMessage": "no"}
            return InvokeResult(orjson.dumps(err), 3, "r", 1.0, function_error="Unhandled")
        if function != "double":
            raise NotFound(f"Function not found: {function}")
        return InvokeResult(orjson.dumps({"n": event["n"] * 2}), 7, "r", 1.0)


class Api(BaseHTTPRequestHandler):
    def log_message(self, *args: Any) -> None:
        pass

    def _answer(self) -> None:
        length = int(self.headers.get("content-length") or 0)
        body = self.rfile.read(length) if length else b""
        status = 404 if self.path.endswith("/missing") else 200
        out = json.dumps({"path": self.path, "method": self.command, "body": body.decode()})
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(out)))
        self.end_headers()
        self.wfile.write(out.encode())

    do_GET = do_POST = do_DELETE = _answer


@pytest.fixture
def gateway() -> Iterator[int]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), Api)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address[1]
    server.shutdown()
    server.server_close()


def machine(*states: tuple[str, dict[str, Any]]) -> dict[str, Any]:
    return {"StartAt": states[0][0], "States": dict(states)}


def task(resource: str, params: dict[str, Any] | None = None, **more: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"Type": "Task", "Resource": resource, "End": True, **more}
    if params is not None:
        body["Parameters"] = params
    return body


async def test_lambda_tasks_plain_and_integration(gateway: int) -> None:
    fns = Functions()
    sm = StateMachines(ManualClock(), PlatformTasks(fns, "127.0.0.1", gateway))
    sm.create(
        "plain",
        machine(("Double", task("arn:aws:lambda:us-east-1:123456789012:function:double:live"))),
        "EXPRESS",
    )
    e = await sm.start_sync("plain", None, '{"n": 21}')
    assert (e.status, e.output) == ("SUCCEEDED", {"n": 42})
    assert fns.calls == [("double", "live", {"n": 21})]

    sm.create(
        "wrapped",
        machine(
            (
                "Call",
                task(
                    "arn:aws:states:::lambda:invoke", {"FunctionName": "double", "Payload.$": "$"}
                ),
            )
        ),
        "EXPRESS",
    )
    e = await sm.start_sync(machine_arn("wrapped"), "run-1", '{"n": 2}')
    assert e.status == "SUCCEEDED"
    assert e.output["Payload"] == {"n": 4} and e.output["ExecutedVersion"] == "7"

    sm.create("failing", machine(("Call", task("boom"))), "EXPRESS")
    e = await sm.start_sync("failing", None, "{}")
    assert (e.status, e.error) == ("FAILED", "ValueError")
    assert e.history[0].type == "ExecutionStarted" and e.history[-1].type == "ExecutionFailed"


async def test_apigateway_invoke_reaches_the_gateway_by_its_aws_name(gateway: int) -> None:
    sm = StateMachines(ManualClock(), PlatformTasks(Functions(), "127.0.0.1", gateway))
    endpoint = "abc123.execute-api.us-east-1.amazonaws.com"
    sm.create(
        "api",
        machine(
            (
                "Post",
                task(
                    "arn:aws:states:::apigateway:invoke",
                    {
                        "ApiEndpoint": endpoint,
                        "Method": "POST",
                        "Stage": "prod",
                        "Path": "/company",
                        "QueryParameters": {"a": ["1", "2"]},
                        "RequestBody": {"name": "x"},
                    },
                ),
            )
        ),
        "EXPRESS",
    )
    e = await sm.start_sync("api", None, "{}")
    assert e.status == "SUCCEEDED", (e.error, e.cause)
    body = e.output["ResponseBody"]
    assert body["path"] == "/prod/company?a=1&a=2" and body["method"] == "POST"
    assert json.loads(body["body"]) == {"name": "x"}
    assert (e.output["StatusCode"], e.output["StatusText"]) == (200, "OK")

    sm.create(
        "missing",
        machine(
            (
                "Get",
                task(
                    "arn:aws:states:::apigateway:invoke",
                    {"ApiEndpoint": endpoint, "Method": "GET", "Path": "/missing"},
                ),
            )
        ),
        "EXPRESS",
    )
    e = await sm.start_sync("missing", None, "{}")
    assert (e.status, e.error) == ("FAILED", "ApiGateway.404")

    sm.create(
        "elsewhere",
        machine(
            (
                "Get",
                task(
                    "arn:aws:states:::apigateway:invoke",
                    {"ApiEndpoint": "example.com", "Method": "GET", "Path": "/"},
                ),
            )
        ),
        "EXPRESS",
    )
    e = await sm.start_sync("elsewhere", None, "{}")
    assert e.status == "FAILED" and "not this application's API" in (e.cause or "")

    sm.create(
        "nowhere",
        machine(
            ("Get", task("arn:aws:states:::apigateway:invoke", {"Method": "GET", "Path": "/"}))
        ),
        "EXPRESS",
    )
    e = await sm.start_sync("nowhere", None, "{}")
    assert e.status == "FAILED" and "needs Parameters.ApiEndpoint" in (e.cause or "")


async def test_refusals_change_nothing() -> None:
    sm = StateMachines(ManualClock(), PlatformTasks(Functions(), "127.0.0.1", 9))
    good = machine(("Done", {"Type": "Succeed"}))
    sm.create("m", good, "STANDARD")
    with pytest.raises(Conflict):
        sm.create("m", machine(("Other", {"Type": "Succeed"})), "STANDARD")
    with pytest.raises(InvalidRequest):
        sm.create("bad name!", good, "STANDARD")
    with pytest.raises(DefinitionError, match="Check"):
        sm.create(
            "n",
            machine(
                (
                    "Check",
                    {
                        "Type": "Choice",
                        "Choices": [{"Variable": "$.x", "StringEq": "a", "Next": "Check"}],
                    },
                )
            ),
            "STANDARD",
        )
    spec = StateMachineSpec("T", "t", machine(("Gone", {"Type": "Task", "End": True})))
    with pytest.raises(DefinitionError, match="Gone"):
        sm.parse({"T": spec})
    assert list(sm.machines) == [machine_arn("m")]
    with pytest.raises(InvalidRequest, match="Input"):
        sm.start("m", None, "{not json")
    with pytest.raises(NotFound):
        sm.start("nope", None, "{}")
    e = await sm.start_sync("m", "once", "{}")
    with pytest.raises(Conflict):
        await sm.start_sync("m", "once", "{}")
    assert sm.execution(e.arn).status == "SUCCEEDED"


async def test_stop_execution_aborts_a_waiting_run() -> None:
    clock = ManualClock()
    sm = StateMachines(clock, PlatformTasks(Functions(), "127.0.0.1", 9))
    sm.create("slow", machine(("Nap", {"Type": "Wait", "Seconds": 3600, "End": True})), "STANDARD")
    e = sm.start("slow", None, "{}")
    assert e.status == "RUNNING"
    stopped = await sm.stop(e.arn, "Operator", "enough")
    assert (stopped.status, stopped.error, stopped.cause) == ("ABORTED", "Operator", "enough")
    await sm.close()


class Edge:
    def __init__(self) -> None:
        self.state_machines = StateMachines(ManualClock(), PlatformTasks(Functions(), "h", 9))


@pytest.mark.parametrize(
    ("operation", "body", "code"),
    [
        ("DescribeExecution", {"executionArn": "arn:nope"}, "ExecutionDoesNotExist"),
        ("DescribeStateMachine", {"stateMachineArn": "nope"}, "StateMachineDoesNotExist"),
        ("StartExecution", {"stateMachineArn": "m", "name": "bad name!"}, "InvalidName"),
        ("StartExecution", {"stateMachineArn": "m", "input": "{"}, "InvalidExecutionInput"),
        ("CreateStateMachine", {"name": "x", "definition": "{"}, "InvalidDefinition"),
        (
            "CreateStateMachine",
            {"name": "x", "definition": '{"StartAt": "A", "States": {}}'},
            "InvalidDefinition",
        ),
        (
            "CreateStateMachine",
            {"name": "m", "definition": '{"StartAt": "B", "States": {"B": {"Type": "Succeed"}}}'},
            "StateMachineAlreadyExists",
        ),
        ("StartExecution", {}, "ValidationException"),
    ],
)
async def test_wire_errors_carry_step_functions_codes(
    operation: str, body: dict[str, Any], code: str
) -> None:
    from canaria.aws.stepfunctions_api import OPERATIONS

    edge = Edge()
    edge.state_machines.create("m", machine(("Done", {"Type": "Succeed"})), "STANDARD")
    response = await OPERATIONS[operation](edge, body)
    assert response.status_code == 400
    assert json.loads(bytes(response.body))["__type"] == code
