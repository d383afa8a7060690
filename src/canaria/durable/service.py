"""Durable functions: executions started on ``Invoke``, kept and replayed by AWS's local
durable execution service (``canaria.durable.runner``), supervised here.

How an execution runs:

1. An ``Invoke`` of a function with a ``DurableConfig`` (from the edge, a queue, a
   schedule, a hook) does not run the handler. It starts an execution, pinned to the
   version the qualifier names at that moment: an alias's weighted split picks it, as it
   picks the version of any invocation, so a canary serves its share of new executions.
2. The service invokes the handler through the edge's ``Invoke`` with that version and
   its durable input (``DurableExecutionArn``, ``CheckpointToken``,
   ``InitialExecutionState``), marked ``X-Dex-Handler-Invoke``. canaria runs, counts and
   judges that invocation like any other, on the version the execution is pinned to.
3. The handler's SDK checkpoints through the edge (``/2025-12-01/durable-executions/…``),
   which forwards to the service. When it returns ``PENDING`` (a wait, a retry, a
   callback), the service invokes it again later, on the same version, to replay.
4. A synchronous ``Invoke`` waits for the execution's end and answers with its result (or
   its error, as a function error); an ``Event`` one answers 202 at once. Both carry the
   execution's ARN (``X-Amz-Durable-Execution-Arn``).

The service is started with the first template that has a durable function and keeps its
executions in ``<state>/durable/executions.sqlite``.
"""

from __future__ import annotations

import asyncio
import contextlib
import http.client
import json
import logging
import os
import sys
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from canaria.clock import Clock, ScaledClock
from canaria.errors import CanariaError, InvalidRequest
from canaria.models import DurableSpec, FunctionSpec, InvokeResult
from canaria.models.arns import ACCOUNT
from canaria.ports import free_port

log = logging.getLogger("canaria.durable")

API = "/2025-12-01"
# The header the service's handler invocations carry (the library's INVOCATION_MARKER_HEADER)
HANDLER_INVOKE_HEADER = "x-dex-handler-invoke"
SYNC_EXECUTION_TIMEOUT_S = 900  # Lambda: a synchronous Invoke's execution ends within 15 min
TERMINAL = frozenset({"SUCCEEDED", "FAILED", "TIMED_OUT", "STOPPED"})
# how often a synchronous Invoke asks whether its execution ended: soon at first (most end
# within one or two handler invocations), then less often, up to every 50 ms
_POLL_FIRST_S = 0.002
_POLL_MAX_S = 0.05


class DurableError(CanariaError):
    http_status = 503
    code = "ServiceException"


@dataclass(frozen=True)
class Outcome:
    """How an execution ended: ``result`` (JSON text) when it succeeded, else ``error``
    (Lambda's ErrorObject: ErrorType, ErrorMessage, StackTrace)."""

    arn: str
    status: str
    result: str | None
    error: Mapping[str, Any] | None


def invocation_id(arn: str) -> str:
    """The id an execution's ARN ends with (the service's ARNs are ``<name>/<id>``): what
    a durable Invoke reports as its request id."""
    return arn.rsplit("/", 1)[-1]


def ended_failed(result: InvokeResult) -> bool:
    """Whether a handler invocation's output ends its execution ``FAILED`` (the SDKs
    answer ``{"Status": "FAILED", "Error": ...}`` when the workflow raised)."""
    if b'"FAILED"' not in result.payload:  # most outputs: no parse
        return False
    try:
        output = json.loads(result.payload)
    except ValueError:
        return False
    return isinstance(output, dict) and output.get("Status") == "FAILED"


def function_configs(
    functions: Mapping[str, FunctionSpec], names: Mapping[str, str]
) -> dict[str, Any]:
    """What ``context.invoke`` may call, in the service's shape: every function of the
    template by its name and by each name it is declared with (``FunctionName``), a
    durable one with its ``DurableConfig``."""
    configs: dict[str, Any] = {}
    for name, spec in functions.items():
        configs[name] = _config(spec.durable)
    for declared, logical in names.items():
        if logical in functions:
            configs[declared] = _config(functions[logical].durable)
    return configs


def _config(durable: DurableSpec | None) -> dict[str, Any]:
    if durable is None:
        return {}
    return {
        "DurableConfig": {
            "ExecutionTimeout": durable.execution_timeout_s,
            "RetentionPeriodInDays": durable.retention_days,
        }
    }


class DurableExecutions:
    """The durable execution service as a supervised child, and the calls canaria makes
    to it. ``edge`` gives the URL the service invokes handlers at (read when it starts:
    the edge's port may be picked after this is made); ``credentials`` the keys it signs
    with (the operator's: it invokes any function's version)."""

    def __init__(
        self,
        state_dir: str,
        clock: Clock,
        edge: Callable[[], str],
        credentials: tuple[str, str],
        log_path: str | None = None,
    ) -> None:
        self.store_path = os.path.join(state_dir, "durable", "executions.sqlite")
        self.clock = clock
        self.edge = edge
        self.credentials = credentials
        self.log_path = log_path
        self.start_timeout_s = 30.0
        self._configs: dict[str, Any] = {}
        self.functions: frozenset[str] = frozenset()  # the durable ones, by name
        self._running_configs: dict[str, Any] | None = None
        self._port: int | None = None
        self._proc: asyncio.subprocess.Process | None = None
        self._lock = asyncio.Lock()
        self._stopping = False
        self._replacing = False  # ``adopt`` stops it to start it with new configs
        self._supervisor: asyncio.Task[None] | None = None
        self.restarts = 0

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.returncode is None

    # ---- lifecycle ---------------------------------------------------------------------

    async def adopt(self, functions: Mapping[str, FunctionSpec], names: Mapping[str, str]) -> None:
        """A release's functions: the service starts with the first durable function, and
        starts again when what ``context.invoke`` may call changed (its executions are
        kept: they are in its store)."""
        self._configs = function_configs(functions, names)
        self.functions = frozenset(n for n, spec in functions.items() if spec.durable is not None)
        if self.functions or self.running:
            async with self._lock:
                if self.running and self._running_configs != self._configs:
                    self._replacing = True
                    try:
                        await self._terminate()
                    finally:
                        self._replacing = False
            await self.ensure_running()

    async def ensure_running(self) -> None:
        async with self._lock:
            if self.running:
                return
            if self._stopping:
                raise DurableError("canaria is stopping")
            await self._spawn()

    async def _spawn(self) -> None:
        os.makedirs(os.path.dirname(self.store_path), exist_ok=True)
        port = free_port()
        scale = self.clock.scale if isinstance(self.clock, ScaledClock) else 1.0
        env = dict(
            os.environ,
            AWS_ACCESS_KEY_ID=self.credentials[0],
            AWS_SECRET_ACCESS_KEY=self.credentials[1],
            AWS_SESSION_TOKEN="",
        )
        env.pop("AWS_PROFILE", None)
        configs = dict(self._configs)
        stderr: Any = asyncio.subprocess.DEVNULL
        log_file = None
        if self.log_path is not None:
            os.makedirs(os.path.dirname(self.log_path) or ".", exist_ok=True)
            log_file = open(self.log_path, "ab")  # noqa: SIM115 - the child holds it
            stderr = log_file
        try:
            self._proc = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "canaria.durable.runner",
                "--port",
                str(port),
                "--lambda-endpoint",
                self.edge(),
                "--store",
                self.store_path,
                "--time-scale",
                repr(scale),
                "--virtual-now",
                repr(self.clock.now()),
                "--function-configs",
                json.dumps(configs),
                stdout=asyncio.subprocess.DEVNULL,
                stderr=stderr,
                env=env,
                start_new_session=True,
            )
        finally:
            if log_file is not None:
                log_file.close()
        deadline = time.monotonic() + self.start_timeout_s
        while time.monotonic() < deadline:
            if self._proc.returncode is not None:
                raise DurableError(
                    f"the durable execution service exited at start ({self._proc.returncode}); "
                    f"see {self.log_path}"
                )
            with contextlib.suppress(OSError):
                _, writer = await asyncio.open_connection("127.0.0.1", port)
                writer.close()
                self._port = port
                self._running_configs = configs
                self._supervisor = asyncio.ensure_future(self._supervise(self._proc))
                return
            await asyncio.sleep(0.05)
        self._proc.kill()
        raise DurableError(
            f"the durable execution service did not listen within {self.start_timeout_s} s"
        )

    async def _supervise(self, proc: asyncio.subprocess.Process) -> None:
        """Start the service again when it dies on its own: its open executions' timers
        live in it, and the new one arms them again (``runner.resume_open_executions``)."""
        await proc.wait()
        if self._stopping or proc is not self._proc or self._replacing:
            return  # stopped, or replaced by ``adopt``
        self.restarts += 1
        log.warning("the durable execution service exited (%s); restarting", proc.returncode)
        await asyncio.sleep(min(5.0, 0.2 * self.restarts))
        try:
            await self.ensure_running()
        except CanariaError as exc:
            log.error("the durable execution service did not restart: %s", exc.message)

    async def _terminate(self) -> None:
        proc = self._proc
        if proc is None or proc.returncode is not None:
            return
        proc.terminate()
        try:
            await asyncio.wait_for(proc.wait(), 10)
        except TimeoutError:
            proc.kill()
            await proc.wait()

    async def stop(self) -> None:
        self._stopping = True
        async with self._lock:
            await self._terminate()
        if self._supervisor is not None:
            await asyncio.gather(self._supervisor, return_exceptions=True)

    # ---- calls -------------------------------------------------------------------------

    async def start(
        self,
        function: str,
        version: int,
        spec: DurableSpec,
        payload: bytes,
        name: str | None = None,
    ) -> str:
        """Start an execution of ``function`` pinned to ``version``; its ARN."""
        await self.ensure_running()
        body = {
            "AccountId": ACCOUNT,
            "FunctionName": function,
            "FunctionQualifier": str(version),
            "ExecutionName": name or str(uuid.uuid4()),
            "ExecutionTimeoutSeconds": spec.execution_timeout_s,
            "ExecutionRetentionPeriodDays": spec.retention_days,
            "Input": payload.decode(),
        }
        status, _, answer = await self.request(
            "POST", "/start-durable-execution", json.dumps(body).encode()
        )
        reply = _json(answer)
        if status >= 300 or "ExecutionArn" not in reply:
            raise _refused(status, reply)
        return str(reply["ExecutionArn"])

    async def outcome(self, arn: str) -> Outcome:
        """Wait for the execution's end."""
        path = f"{API}/durable-executions/{quote(arn, safe='')}"
        pause = _POLL_FIRST_S
        while True:
            status, _, answer = await self.request("GET", path)
            reply = _json(answer)
            if status >= 300:
                raise _refused(status, reply)
            if reply.get("Status") in TERMINAL:
                return Outcome(arn, str(reply["Status"]), reply.get("Result"), reply.get("Error"))
            await asyncio.sleep(pause)
            pause = min(_POLL_MAX_S, pause * 1.5)

    async def run(
        self,
        function: str,
        version: int,
        spec: DurableSpec,
        payload: bytes,
        name: str | None = None,
    ) -> InvokeResult:
        """A synchronous ``Invoke``: start, wait for the end, answer as Lambda does (the
        result's ``durable_execution`` names the execution)."""
        if spec.execution_timeout_s > SYNC_EXECUTION_TIMEOUT_S:
            raise InvalidRequest(
                f"{function}'s DurableConfig ExecutionTimeout is {spec.execution_timeout_s} s; "
                f"a synchronous Invoke of a durable function needs at most "
                f"{SYNC_EXECUTION_TIMEOUT_S} s (invoke it with InvocationType Event)"
            )
        started = time.monotonic()
        arn = await self.start(function, version, spec, payload, name)
        end = await self.outcome(arn)
        duration_ms = (time.monotonic() - started) * 1000
        request_id = invocation_id(arn)
        if end.status == "SUCCEEDED":
            body = (end.result or "null").encode()
            return InvokeResult(body, version, request_id, duration_ms, durable_execution=arn)
        error = dict(end.error or {})
        shape = {
            "errorType": error.get("ErrorType") or f"DurableExecution{end.status.title()}",
            "errorMessage": error.get("ErrorMessage") or f"the durable execution {end.status}",
        }
        if error.get("StackTrace"):
            shape["stackTrace"] = error["StackTrace"]
        return InvokeResult(
            json.dumps(shape).encode(),
            version,
            request_id,
            duration_ms,
            function_error="Unhandled",
            durable_execution=arn,
        )

    async def request(
        self, method: str, path: str, body: bytes = b"", headers: Mapping[str, str] | None = None
    ) -> tuple[int, dict[str, str], bytes]:
        """One request to the service (the edge forwards the SDKs' durable calls here)."""
        await self.ensure_running()
        assert self._port is not None
        return await asyncio.to_thread(_http, self._port, method, path, body, dict(headers or {}))


def _http(
    port: int, method: str, path: str, body: bytes, headers: dict[str, str]
) -> tuple[int, dict[str, str], bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        if body:
            headers.setdefault("Content-Type", "application/json")
        conn.request(method, path, body=body or None, headers=headers)
        response = conn.getresponse()
        return response.status, dict(response.getheaders()), response.read()
    except OSError as exc:
        raise DurableError(f"the durable execution service did not answer: {exc}") from exc
    finally:
        conn.close()


def _json(body: bytes) -> dict[str, Any]:
    try:
        value = json.loads(body or b"{}")
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def _refused(status: int, reply: Mapping[str, Any]) -> CanariaError:
    message = reply.get("message") or reply.get("Message") or f"HTTP {status}"
    error = InvalidRequest(str(message)) if 400 <= status < 500 else DurableError(str(message))
    return error
