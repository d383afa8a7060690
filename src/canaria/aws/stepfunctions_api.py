"""Step Functions (``AWSStepFunctions``, JSON 1.0) on the edge: enough for boto3's
``stepfunctions`` client to create machines, run them and read what happened.

Timestamps are epoch seconds, as the JSON protocols send them. Functions reach this with
``AWS_DISABLE_HOST_PREFIX_INJECTION=true`` in their environment: botocore otherwise sends
``StartSyncExecution`` to ``sync-<endpoint host>``, which does not resolve locally.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, Protocol

import orjson
from starlette.responses import Response

from canaria.aws.responses import AMZ_JSON_10, json_error, json_response
from canaria.aws.states import (
    Execution,
    StateMachines,
    ValidationException,
    logging_of,
    role_arn,
)
from canaria.errors import CanariaError
from canaria.log_groups import group_arn
from canaria.models import ExecutionLogging
from canaria.workflows import DefinitionError
from canaria.workflows.callbacks import MAX_OUTPUT

SFN_CODES = frozenset(
    {
        "StateMachineDoesNotExist",
        "ExecutionDoesNotExist",
        "StateMachineAlreadyExists",
        "ExecutionAlreadyExists",
        "InvalidName",
        "InvalidExecutionInput",
        "InvalidDefinition",
        "InvalidLoggingConfiguration",
        "ValidationException",
        "InvalidToken",
        "InvalidOutput",
        "TaskDoesNotExist",
        "TaskTimedOut",
    }
)


class InvalidOutput(CanariaError):
    http_status = 400
    code = "InvalidOutput"


class StatesBackend(Protocol):
    @property
    def state_machines(self) -> StateMachines: ...


Handler = Callable[[Any, dict[str, Any]], Awaitable[Response]]


def _ok(body: Any) -> Response:
    return json_response(body, media_type=AMZ_JSON_10)


def _fail(exc: CanariaError) -> Response:
    # states.py and workflows raise Step Functions' own codes (InvalidDefinition, ...);
    # anything else that is the caller's fault is a ValidationException.
    code = exc.code if exc.code in SFN_CODES else "ValidationException"
    return json_error(code, exc.message, AMZ_JSON_10)


def _operation(fn: Callable[[StateMachines, dict[str, Any]], Awaitable[Any]]) -> Handler:
    async def handler(edge: Any, body: dict[str, Any]) -> Response:
        try:
            return _ok(await fn(edge.state_machines, body))
        except CanariaError as exc:
            return _fail(exc)

    return handler


def _required(body: dict[str, Any], key: str) -> str:
    value = body.get(key)
    if not isinstance(value, str) or not value:
        raise ValidationException(
            f"1 validation error detected: '{key}' must be a non-empty string"
        )
    return value


def _execution(e: Execution, *, sync: bool = False) -> dict[str, Any]:
    out: dict[str, Any] = {
        "executionArn": e.arn,
        "stateMachineArn": e.machine.arn,
        "name": e.name,
        "status": e.status,
        "startDate": e.started,
        "input": orjson.dumps(e.input).decode(),
    }
    if e.stopped is not None:
        out["stopDate"] = e.stopped
    if e.status == "SUCCEEDED":
        out["output"] = orjson.dumps(e.output).decode()
    if e.error is not None:
        out["error"] = e.error
    if e.cause is not None:
        out["cause"] = e.cause
    if sync:
        out["billingDetails"] = {"billedMemoryUsedInMB": 64, "billedDurationInMilliseconds": 100}
    return out


async def create_state_machine(sm: StateMachines, body: dict[str, Any]) -> Any:
    name = _required(body, "name")
    try:
        definition = orjson.loads(_required(body, "definition"))
    except orjson.JSONDecodeError as exc:
        raise DefinitionError(f"Invalid State Machine Definition: not JSON: {exc}") from None
    if not isinstance(definition, dict):
        raise DefinitionError("Invalid State Machine Definition: must be a JSON object")
    log_config = logging_of(body.get("loggingConfiguration"))
    m = sm.create(name, definition, str(body.get("type", "STANDARD")), log_config)
    return {"stateMachineArn": m.arn, "creationDate": m.created}


async def describe_state_machine(sm: StateMachines, body: dict[str, Any]) -> Any:
    m = sm.machine(_required(body, "stateMachineArn"))
    return {
        "stateMachineArn": m.arn,
        "name": m.name,
        "status": "ACTIVE",
        "definition": orjson.dumps(m.definition).decode(),
        "roleArn": role_arn(m.name),
        "type": m.type,
        "creationDate": m.created,
        "loggingConfiguration": _logging_view(m.logging),
    }


def _logging_view(config: ExecutionLogging | None) -> dict[str, Any]:
    if config is None:
        return {"level": "OFF", "includeExecutionData": False}
    arn = f"{group_arn(config.group)}:*"
    return {
        "level": config.level,
        "includeExecutionData": config.include_data,
        "destinations": [{"cloudWatchLogsLogGroup": {"logGroupArn": arn}}],
    }


async def list_state_machines(sm: StateMachines, body: dict[str, Any]) -> Any:
    return {
        "stateMachines": [
            {"stateMachineArn": m.arn, "name": m.name, "type": m.type, "creationDate": m.created}
            for m in sm.machines.values()
        ]
    }


async def start_execution(sm: StateMachines, body: dict[str, Any]) -> Any:
    e = sm.start(_required(body, "stateMachineArn"), body.get("name"), body.get("input"))
    return {"executionArn": e.arn, "startDate": e.started}


async def start_sync_execution(sm: StateMachines, body: dict[str, Any]) -> Any:
    e = await sm.start_sync(_required(body, "stateMachineArn"), body.get("name"), body.get("input"))
    return _execution(e, sync=True)


async def describe_execution(sm: StateMachines, body: dict[str, Any]) -> Any:
    return _execution(sm.execution(_required(body, "executionArn")))


async def stop_execution(sm: StateMachines, body: dict[str, Any]) -> Any:
    e = await sm.stop(_required(body, "executionArn"), body.get("error"), body.get("cause"))
    return {"stopDate": e.stopped}


async def list_executions(sm: StateMachines, body: dict[str, Any]) -> Any:
    wanted = body.get("statusFilter")
    found = [
        e
        for e in sm.executions_of(_required(body, "stateMachineArn"))
        if wanted is None or e.status == wanted
    ]
    limit = int(body.get("maxResults") or 100)
    return {
        "executions": [
            {
                k: v
                for k, v in _execution(e).items()
                if k not in ("input", "output", "error", "cause")
            }
            for e in found[:limit]
        ]
    }


async def get_execution_history(sm: StateMachines, body: dict[str, Any]) -> Any:
    e = sm.execution(_required(body, "executionArn"))
    events = [ev.to_api() for ev in e.history]
    if body.get("reverseOrder"):
        events.reverse()
    limit = int(body.get("maxResults") or 1000)
    return {"events": events[:limit]}


def _token(body: dict[str, Any]) -> str:
    token = _required(body, "taskToken")
    if len(token) > 2048:
        raise ValidationException(
            "1 validation error detected: 'taskToken' must have length less than or equal to 2048"
        )
    return token


async def send_task_success(sm: StateMachines, body: dict[str, Any]) -> Any:
    token = _token(body)
    text = _required(body, "output")
    if len(text.encode()) > MAX_OUTPUT:
        raise InvalidOutput("the output is over 256 KiB")
    try:
        output = orjson.loads(text)
    except orjson.JSONDecodeError as exc:
        raise InvalidOutput(f"the output is not JSON: {exc}") from None
    sm.tokens.succeed(token, output)
    return {}


async def send_task_failure(sm: StateMachines, body: dict[str, Any]) -> Any:
    error, cause = body.get("error"), body.get("cause")
    sm.tokens.fail(
        _token(body),
        error if isinstance(error, str) else None,
        cause if isinstance(cause, str) else None,
    )
    return {}


async def send_task_heartbeat(sm: StateMachines, body: dict[str, Any]) -> Any:
    sm.tokens.heartbeat(_token(body))
    return {}


OPERATIONS: dict[str, Handler] = {
    "SendTaskSuccess": _operation(send_task_success),
    "SendTaskFailure": _operation(send_task_failure),
    "SendTaskHeartbeat": _operation(send_task_heartbeat),
    "CreateStateMachine": _operation(create_state_machine),
    "DescribeStateMachine": _operation(describe_state_machine),
    "ListStateMachines": _operation(list_state_machines),
    "StartExecution": _operation(start_execution),
    "StartSyncExecution": _operation(start_sync_execution),
    "DescribeExecution": _operation(describe_execution),
    "StopExecution": _operation(stop_execution),
    "ListExecutions": _operation(list_executions),
    "GetExecutionHistory": _operation(get_execution_history),
}
