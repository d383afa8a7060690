"""Step Functions on canaria: state machines, their executions, and how tasks run.

``StateMachines`` keeps the machines the template declares (and any created through
``CreateStateMachine``), starts executions of them on the ``workflows`` interpreter and
keeps each execution's status and history: the last ``KEEP`` executions in memory and,
given a store, in the store too (a row when an execution starts, rewritten when it ends),
so they outlive a restart as STANDARD executions do on AWS. ``load`` reads them back;
one that was running when canaria stopped is ABORTED.

``PlatformTasks`` is the interpreter's task runner on this machine:

- a Lambda function ARN or name, and ``arn:aws:states:::lambda:invoke`` → the platform's
  Lambda Invoke (aliases split by their weights, as on AWS);
- ``arn:aws:states:::apigateway:invoke`` → an HTTP request to canaria's own gateway. A
  machine written for AWS names ``<api-id>.execute-api.<region>.amazonaws.com``; any such
  name, and the gateway's own address, reach the local gateway; a ``/@connections/{id}``
  path is a WebSocket API's Management API (post to, get or close that connection);
- ``arn:aws:states:::http:invoke`` → a real HTTP request (loopback only on this machine);
- the DynamoDB, SQS, SNS and EventBridge optimized integrations and the AWS SDK
  integrations (``aws-sdk:<service>:<action>``) → the API call, to this machine's engines
  (``state_services.py``).
"""

from __future__ import annotations

import asyncio
import http.client
import logging
import re
import uuid
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urlencode, urlsplit

import orjson

from canaria import workflows
from canaria.aws.execution_logs import ExecutionLog
from canaria.aws.state_services import ServiceTasks
from canaria.clock import Clock
from canaria.errors import CanariaError, Conflict, InvalidRequest, NotFound
from canaria.gateway.websockets import WebSocketHub
from canaria.log_groups import LogGroups, name_of_arn
from canaria.models import ExecutionLogging, InvokeResult, StateMachineSpec
from canaria.models.arns import ACCOUNT, REGION, parse_function
from canaria.services.local_urls import EXECUTE_API
from canaria.store import ABANDONED_CAUSE, ExecutionRecord, Executions, Store

KEEP = 1000
NAME = re.compile(r"^[A-Za-z0-9_-]{1,80}$")
_CONNECTION = re.compile(r"^/@connections/(?P<id>[^/]+)/?$")

log = logging.getLogger("canaria")


class Invoker(Protocol):
    async def invoke_qualified(
        self, function: str, qualifier: str | None, payload: bytes
    ) -> InvokeResult: ...


# Step Functions' own error codes, so boto3 raises the exception classes code written for
# AWS catches (``sfn.exceptions.ExecutionDoesNotExist``, ...).
class StateMachineDoesNotExist(NotFound):
    code = "StateMachineDoesNotExist"


class ExecutionDoesNotExist(NotFound):
    code = "ExecutionDoesNotExist"


class StateMachineAlreadyExists(Conflict):
    code = "StateMachineAlreadyExists"


class ExecutionAlreadyExists(Conflict):
    code = "ExecutionAlreadyExists"


class InvalidName(InvalidRequest):
    code = "InvalidName"


class InvalidExecutionInput(InvalidRequest):
    code = "InvalidExecutionInput"


class ValidationException(InvalidRequest):
    code = "ValidationException"


class InvalidLoggingConfiguration(InvalidRequest):
    code = "InvalidLoggingConfiguration"


def role_arn(machine: str) -> str:
    """The role a machine runs as here (``DescribeStateMachine``, its history's
    ``ExecutionStarted``): canaria runs no IAM, so one named after it."""
    return f"arn:aws:iam::{ACCOUNT}:role/{machine}-role"


def logging_of(config: Any) -> ExecutionLogging | None:
    """``CreateStateMachine``'s ``loggingConfiguration``, checked as Step Functions checks
    it; None for level ``OFF`` or none."""
    if config is None:
        return None
    if not isinstance(config, dict):
        raise InvalidLoggingConfiguration("loggingConfiguration must be an object")
    level = config.get("level", "OFF")
    if level not in ("ALL", "ERROR", "FATAL", "OFF"):
        raise InvalidLoggingConfiguration(f"Invalid logging level: {level!r}")
    destinations = config.get("destinations") or []
    if level == "OFF":
        return None
    if not isinstance(destinations, list) or len(destinations) != 1:
        raise InvalidLoggingConfiguration(
            "Invalid Logging Configuration: Must specify exactly one Log Destination."
        )
    target = destinations[0] if isinstance(destinations[0], dict) else {}
    arn = (target.get("cloudWatchLogsLogGroup") or {}).get("logGroupArn")
    group = name_of_arn(arn) if isinstance(arn, str) else None
    if group is None:
        raise InvalidLoggingConfiguration(
            f"Invalid Logging Configuration: Log Destination {arn!r} is not a log group ARN."
        )
    include = config.get("includeExecutionData", False) is True
    return ExecutionLogging(group, level, include)


def machine_arn(name: str) -> str:
    return f"arn:aws:states:{REGION}:{ACCOUNT}:stateMachine:{name}"


def execution_arn(machine: str, name: str) -> str:
    return f"arn:aws:states:{REGION}:{ACCOUNT}:execution:{machine}:{name}"


@dataclass
class Machine:
    name: str
    arn: str
    definition: Mapping[str, Any]
    parsed: Any  # workflows' validated definition; None for a machine no longer declared
    type: str
    created: float
    logging: ExecutionLogging | None = None  # where its executions write their history


@dataclass
class Execution:
    arn: str
    name: str
    machine: Machine
    input: Any
    started: float
    status: str = "RUNNING"
    stopped: float | None = None
    output: Any = None
    error: str | None = None
    cause: str | None = None
    history: list[workflows.HistoryEvent] = field(default_factory=list)
    task: asyncio.Task[None] | None = None
    abort: asyncio.Event = field(default_factory=asyncio.Event)
    # StopExecution's error and cause, which the ABORTED execution reports
    stop_request: tuple[str | None, str | None] | None = None
    # started as "<machine ARN>#<test case>": the mock configuration's answers
    mocks: workflows.MockedCalls | None = None


class StateMachines:
    def __init__(
        self, clock: Clock, tasks: workflows.TaskRunner, store: Store | None = None
    ) -> None:
        self.clock = clock
        self.tasks = tasks
        self.machines: dict[str, Machine] = {}
        self.executions: OrderedDict[str, Execution] = OrderedDict()
        self.kept = None if store is None else Executions(store, KEEP)
        self.log_groups: LogGroups | None = None  # where logging machines write (the edge's)
        # callback tasks' tokens, for SendTaskSuccess, SendTaskFailure, SendTaskHeartbeat
        self.tokens = workflows.TaskTokens()
        # Step Functions Local's mock configuration file (SFN_MOCK_CONFIG), read again at
        # each execution that names a test case, so an edit applies to the next one
        self.mock_config: Path | None = None

    # ---- machines ------------------------------------------------------------------------

    @staticmethod
    def parse(specs: Mapping[str, StateMachineSpec]) -> dict[str, Any]:
        """Each machine's parsed definition by name; a DefinitionError names the machine
        (its template resource), the state and the feature that is wrong. Nothing changes."""
        parsed: dict[str, Any] = {}
        for s in specs.values():
            try:
                parsed[s.name] = workflows.load_definition(s.definition)
            except workflows.DefinitionError as exc:
                raise workflows.DefinitionError(
                    f"Resources.{s.logical_id} (state machine {s.name}): {exc.message}"
                ) from None
            _warn_unserved(f"Resources.{s.logical_id} (state machine {s.name})", parsed[s.name])
        return parsed

    def adopt(self, specs: Mapping[str, StateMachineSpec], parsed: Mapping[str, Any]) -> None:
        """Make the template's machines current, with definitions ``parse`` returned."""
        for spec in specs.values():
            self._put(spec.name, spec.definition, parsed[spec.name], spec.type, spec.logging)

    def create(
        self,
        name: str,
        definition: Mapping[str, Any],
        type_: str,
        log_config: ExecutionLogging | None = None,
    ) -> Machine:
        if not NAME.match(name):
            raise InvalidName(f"Invalid Name: '{name}' (1-80 letters, digits, - and _)")
        if type_ not in ("STANDARD", "EXPRESS"):
            raise ValidationException(f"type {type_!r} (allowed: STANDARD, EXPRESS)")
        parsed = workflows.load_definition(definition)
        _warn_unserved(f"state machine {name}", parsed)
        existing = self.machines.get(machine_arn(name))
        if existing is not None and existing.definition != definition:
            raise StateMachineAlreadyExists(f"State Machine Already Exists: '{machine_arn(name)}'")
        return self._put(name, definition, parsed, type_, log_config)

    def _put(
        self,
        name: str,
        definition: Mapping[str, Any],
        parsed: Any,
        type_: str,
        log_config: ExecutionLogging | None = None,
    ) -> Machine:
        arn = machine_arn(name)
        old = self.machines.get(arn)
        created = old.created if old else self.clock.now()
        m = Machine(name, arn, definition, parsed, type_, created, log_config)
        self.machines[arn] = m
        return m

    def machine(self, arn: str) -> Machine:
        m = self.machines.get(arn) or self.machines.get(machine_arn(arn))
        if m is None:
            raise StateMachineDoesNotExist(f"State Machine Does Not Exist: '{arn}'")
        return m

    # ---- executions ----------------------------------------------------------------------

    def load(self) -> None:
        """Read back the executions the store keeps (once, before serving, after the
        template's machines are adopted). Those left RUNNING by a canaria that stopped
        become ABORTED; one whose machine is gone still answers."""
        if self.kept is None:
            return
        loaded: OrderedDict[str, Execution] = OrderedDict()
        for r in self.kept.load(self.clock.now()):
            if r.arn in self.executions:  # started here already: this process owns it
                continue
            m = self.machines.get(r.machine_arn) or Machine(
                r.machine_name, r.machine_arn, {}, None, r.machine_type, r.started
            )
            loaded[r.arn] = Execution(
                r.arn,
                r.name,
                m,
                r.input,
                r.started,
                str(r.status),
                r.stopped,
                r.output,
                r.error,
                r.cause,
                list(r.history),
            )
        loaded.update(self.executions)
        self.executions = loaded

    def execution(self, arn: str) -> Execution:
        e = self.executions.get(arn)
        if e is None:
            raise ExecutionDoesNotExist(f"Execution Does Not Exist: '{arn}'")
        return e

    def executions_of(self, machine_ref: str) -> list[Execution]:
        """A machine's executions, newest first. A machine the template no longer declares
        still lists the executions kept of it."""
        try:
            arn = self.machine(machine_ref).arn
        except StateMachineDoesNotExist:
            arn = machine_ref if machine_ref.startswith("arn:") else machine_arn(machine_ref)
            if not any(e.machine.arn == arn for e in self.executions.values()):
                raise
        return [e for e in reversed(self.executions.values()) if e.machine.arn == arn]

    def _new_execution(
        self, machine_ref: str, name: str | None, input_text: str | None
    ) -> Execution:
        machine_ref, _, case = machine_ref.partition("#")
        m = self.machine(machine_ref)
        mocks = workflows.MockedCalls(self._test_case(m.name, case)) if case else None
        name = name or str(uuid.uuid4())
        if not NAME.match(name):
            raise InvalidName(f"Invalid Name: '{name}'")
        arn = execution_arn(m.name, name)
        if arn in self.executions:
            raise ExecutionAlreadyExists(f"Execution Already Exists: '{arn}'")
        try:
            value = orjson.loads(input_text or "{}")
        except orjson.JSONDecodeError as exc:
            raise InvalidExecutionInput(f"Invalid State Machine Execution Input: {exc}") from None
        e = Execution(arn, name, m, value, self.clock.now(), mocks=mocks)
        if self.kept is not None:
            try:
                self.kept.start(_record(e))
            except Conflict as exc:  # the name was used before canaria restarted
                raise ExecutionAlreadyExists(exc.message) from None
        self.executions[arn] = e
        while len(self.executions) > KEEP:
            oldest = next(iter(self.executions.values()))
            if oldest.status == "RUNNING":
                break
            self.executions.popitem(last=False)
        return e

    def _test_case(self, machine: str, case: str) -> workflows.MockCase:
        """The test case ``case`` of ``machine`` in the mock configuration file, read now."""
        if self.mock_config is None:
            raise ValidationException(
                f"'{machine}#{case}' names a test case, but no mock configuration was given "
                "(canaria up --sfn-mock-config FILE, or SFN_MOCK_CONFIG, as Step Functions "
                "Local reads it)"
            )
        try:
            config = workflows.parse_mock_config(self.mock_config.read_text(encoding="utf-8"))
            return workflows.mock_case(config, machine, case)
        except OSError as exc:
            raise ValidationException(
                f"the mock configuration {self.mock_config} cannot be read: {exc.strerror}"
            ) from None
        except workflows.MockConfigError as exc:
            raise ValidationException(f"the mock configuration {self.mock_config}: {exc}") from None

    def _recorder(self, e: Execution) -> Callable[[workflows.HistoryEvent], None]:
        """What keeps each history event of ``e``: its history, and its machine's log
        group when the machine logs."""
        config = e.machine.logging
        if config is None or self.log_groups is None:
            return e.history.append
        log = ExecutionLog(self.log_groups, config, e.machine.name, e.arn, e.started)
        keep = e.history.append

        def record(event: workflows.HistoryEvent) -> None:
            keep(event)
            log.write(event)

        return record

    async def _run(self, e: Execution) -> None:
        try:
            result = await workflows.execute(
                e.machine.parsed,
                e.input,
                runner=self.tasks,
                clock=self.clock,
                name=e.name,
                execution_arn=e.arn,
                state_machine_arn=e.machine.arn,
                on_event=self._recorder(e),
                role_arn=role_arn(e.machine.name),
                abort=e.abort,
                tokens=self.tokens,
                mocks=e.mocks,
            )
            e.status, e.output = str(result.status), result.output
            e.error, e.cause = result.error, result.cause
            if e.status == "ABORTED" and e.stop_request is not None:
                e.error, e.cause = e.stop_request
        except asyncio.CancelledError:  # canaria is stopping
            e.status, e.cause = "ABORTED", ABANDONED_CAUSE
        except Exception as exc:  # an interpreter bug must not leave it RUNNING forever
            e.status, e.error, e.cause = "FAILED", "States.Runtime", f"{type(exc).__name__}: {exc}"
        e.stopped = self.clock.now()
        if self.kept is not None:
            try:
                self.kept.finish(_record(e))
            except Exception:  # the answer still stands; a restart would call it ABORTED
                log.exception("could not store the end of execution %s", e.arn)

    def start(self, machine_ref: str, name: str | None, input_text: str | None) -> Execution:
        e = self._new_execution(machine_ref, name, input_text)
        e.task = asyncio.ensure_future(self._run(e))
        return e

    async def start_sync(
        self, machine_ref: str, name: str | None, input_text: str | None
    ) -> Execution:
        e = self._new_execution(machine_ref, name, input_text)
        await self._run(e)
        return e

    async def stop(self, arn: str, error: str | None, cause: str | None) -> Execution:
        e = self.execution(arn)
        if e.status == "RUNNING" and e.task is not None:
            e.stop_request = (error, cause)
            e.abort.set()
            await asyncio.gather(e.task, return_exceptions=True)
        return e

    async def close(self) -> None:
        """Abort the executions still running (their rows say so)."""
        running = [e.task for e in self.executions.values() if e.task and not e.task.done()]
        for t in running:
            t.cancel()
        await asyncio.gather(*running, return_exceptions=True)


def _record(e: Execution) -> ExecutionRecord:
    return ExecutionRecord(
        arn=e.arn,
        name=e.name,
        machine_arn=e.machine.arn,
        machine_name=e.machine.name,
        machine_type=e.machine.type,
        input=e.input,
        started=e.started,
        status=workflows.ExecutionStatus(e.status),
        stopped=e.stopped,
        output=e.output,
        error=e.error,
        cause=e.cause,
        history=tuple(e.history),
    )


# ---- tasks ---------------------------------------------------------------------------------


class PlatformTasks:
    """The interpreter's task runner: Lambda, API Gateway and HTTP on this machine."""

    def __init__(
        self,
        invoker: Invoker,
        gateway_host: str,
        gateway_port: int,
        services: ServiceTasks | None = None,
        websockets: WebSocketHub | None = None,
    ) -> None:
        self.invoker = invoker
        self.gateway = (gateway_host, gateway_port)
        self.services = services
        # open WebSocket connections: ``apigateway:invoke`` of ``/@connections/{id}``
        self.websockets = websockets

    async def run(self, resource: str, parameters: Any, *, timeout_s: float | None) -> Any:
        kind = workflows.resource_kind(resource)
        match kind:
            case "lambda_function":
                return await self._lambda(resource, None, parameters, wrap=False)
            case "lambda_invoke":
                params = _object(parameters, resource)
                if "FunctionName" not in params:
                    raise workflows.TaskFailed(
                        "States.Runtime", "lambda:invoke needs Parameters.FunctionName"
                    )
                return await self._lambda(
                    str(params["FunctionName"]),
                    params.get("Qualifier"),
                    params.get("Payload", {}),
                    wrap=True,
                )
            case "apigateway_invoke":
                params = _object(parameters, resource)
                found = self._connection(params)
                if found is not None:  # the Management API of a WebSocket API
                    return found
                return await asyncio.to_thread(self._apigateway, params)
            case "http_invoke":
                return await asyncio.to_thread(self._http, _object(parameters, resource))
            case "aws_service" | "aws_sdk":
                if self.services is None:
                    raise workflows.TaskFailed(
                        "States.Runtime", f"{resource}: no AWS services are served here"
                    )
                return await self.services.run(resource, parameters)

    async def _lambda(self, ref: str, qualifier: Any, payload: Any, *, wrap: bool) -> Any:
        try:
            name, q = parse_function(ref, str(qualifier) if qualifier else None)
            result = await self.invoker.invoke_qualified(name, q, orjson.dumps(payload))
        except CanariaError as exc:
            raise workflows.TaskFailed(f"Lambda.{exc.code}", exc.message) from None
        if result.function_error:
            try:
                err = orjson.loads(result.payload)
                error = str(err.get("errorType") or "Lambda.Unknown")
            except (orjson.JSONDecodeError, AttributeError):
                error = "Lambda.Unknown"
            raise workflows.TaskFailed(error, result.payload.decode(errors="replace"))
        try:
            value = orjson.loads(result.payload) if result.payload else None
        except orjson.JSONDecodeError:
            value = result.payload.decode(errors="replace")
        if not wrap:
            return value
        return {
            "ExecutedVersion": str(result.version),
            "Payload": value,
            "StatusCode": 200,
            "SdkHttpMetadata": {"HttpStatusCode": 200},
        }

    def _connection(self, p: Mapping[str, Any]) -> Any:
        """``POST|GET|DELETE /@connections/{id}`` of a WebSocket API (a workflow answering
        its client, as ``apigateway:invoke`` does on AWS), run on the loop against the
        gateway's connections; None for any other call."""
        found = _CONNECTION.match("/" + str(p.get("Path", "")).lstrip("/"))
        if found is None or self.websockets is None:
            return None
        host = urlsplit(f"https://{str(p.get('ApiEndpoint', '')).split('://')[-1]}").hostname
        api_id = host.split(".", 1)[0] if host and EXECUTE_API.match(host) else None
        stage = str(p.get("Stage", "")).strip("/")
        session = self.websockets.session_for(found["id"], stage, api_id)
        if session is None:
            gone = {"message": f"Connection {found['id']} is gone"}
            raise workflows.TaskFailed("ApiGateway.410", orjson.dumps(gone).decode())
        method = str(p.get("Method", "POST")).upper()
        status, reason, body = 200, "OK", None
        if method == "POST":
            data = p.get("RequestBody")
            session.send_data(data.encode() if isinstance(data, str) else orjson.dumps(data))
        elif method == "GET":
            body = session.description()
        elif method == "DELETE":
            session.close(1000, "")
            status, reason = 204, "No Content"
        else:
            raise workflows.TaskFailed("ApiGateway.403", '{"message": "Forbidden"}')
        return {
            "ResponseBody": body or {},
            "StatusCode": status,
            "StatusText": reason,
            "Headers": {},
        }

    def _apigateway(self, p: Mapping[str, Any]) -> Any:
        endpoint = str(p.get("ApiEndpoint", ""))
        host = urlsplit(endpoint if "://" in endpoint else f"https://{endpoint}").hostname or ""
        if not endpoint:
            raise workflows.TaskFailed(
                "States.Runtime", "apigateway:invoke needs Parameters.ApiEndpoint"
            )
        if not (EXECUTE_API.match(host) or host in ("127.0.0.1", "localhost")):
            raise workflows.TaskFailed(
                "States.Runtime",
                f"ApiEndpoint {endpoint!r} is not this application's API: canaria serves "
                "<api-id>.execute-api.<region>.amazonaws.com and its own gateway",
            )
        method = str(p.get("Method", "GET")).upper()
        path = "/" + str(p.get("Path", "")).lstrip("/")
        stage = str(p.get("Stage", "")).strip("/")
        if stage and stage != "$default":
            path = f"/{stage}{path}"
        status, reason, headers, body = _request(
            self.gateway,
            method,
            path,
            p.get("QueryParameters"),
            p.get("Headers"),
            p.get("RequestBody"),
        )
        if status >= 400:
            raise workflows.TaskFailed(f"ApiGateway.{status}", body.decode(errors="replace"))
        return {
            "ResponseBody": _body(headers, body),
            "StatusCode": status,
            "StatusText": reason,
            "Headers": {k: [v] for k, v in headers.items()},
        }

    def _http(self, p: Mapping[str, Any]) -> Any:
        url = urlsplit(str(p.get("ApiEndpoint", "")))
        if url.hostname not in ("127.0.0.1", "localhost"):
            raise workflows.TaskFailed(
                "States.Runtime",
                f"http:invoke to {url.hostname!r}: this machine reaches loopback only",
            )
        port = url.port or (443 if url.scheme == "https" else 80)
        status, reason, headers, body = _request(
            (url.hostname, port),
            str(p.get("Method", "GET")).upper(),
            url.path or "/",
            p.get("QueryParameters"),
            p.get("Headers"),
            p.get("RequestBody"),
        )
        if status >= 400:
            raise workflows.TaskFailed(
                f"States.Http.StatusCode.{status}", body.decode(errors="replace")
            )
        return {
            "ResponseBody": _body(headers, body),
            "StatusCode": status,
            "StatusText": reason,
            "Headers": headers,
        }


def _object(parameters: Any, resource: str) -> Mapping[str, Any]:
    if not isinstance(parameters, Mapping):
        raise workflows.TaskFailed("States.Runtime", f"{resource} needs an object of Parameters")
    return parameters


def _request(
    where: tuple[str, int],
    method: str,
    path: str,
    query: Any,
    headers: Any,
    body: Any,
) -> tuple[int, str, dict[str, str], bytes]:
    if isinstance(query, Mapping) and query:
        pairs = [
            (k, str(v)) for k, vs in query.items() for v in (vs if isinstance(vs, list) else [vs])
        ]
        path = f"{path}?{urlencode(pairs)}"
    sent: dict[str, str] = {}
    if isinstance(headers, Mapping):
        for k, v in headers.items():
            sent[str(k)] = ",".join(map(str, v)) if isinstance(v, list) else str(v)
    data: bytes | None = None
    if body is not None:
        data = body.encode() if isinstance(body, str) else orjson.dumps(body)
        sent.setdefault("Content-Type", "application/json")
    conn = http.client.HTTPConnection(where[0], where[1], timeout=60)
    try:
        conn.request(method, path, body=data, headers=sent)
        resp = conn.getresponse()
        return resp.status, resp.reason, dict(resp.getheaders()), resp.read()
    except OSError as exc:
        raise workflows.TaskFailed("States.Runtime", f"{method} {path}: {exc}") from None
    finally:
        conn.close()


def _body(headers: Mapping[str, str], body: bytes) -> Any:
    ctype = next((v for k, v in headers.items() if k.lower() == "content-type"), "")
    if body and "json" in ctype:
        try:
            return orjson.loads(body)
        except orjson.JSONDecodeError:
            pass
    return body.decode(errors="replace")


def _warn_unserved(what: str, machine: workflows.StateMachine) -> None:
    for state, resource in workflows.unserved_tasks(machine):
        log.warning(
            "%s: state %r calls %s, a service canaria does not serve: the task fails when it "
            "runs (NotServedByCanaria); Catch it, or give the state machine a Lambda "
            "function that stands in for the service",
            what,
            state,
            resource,
        )
