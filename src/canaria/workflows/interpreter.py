"""Run a loaded state machine.

The interpreter does no I/O of its own: Task states call an injected :class:`TaskRunner`,
waits and retry back-offs go through an injected :class:`~canaria.clock.Clock`, random
choices (jitter, ``States.UUID``, ``States.MathRandom``) through an injected
``random.Random``. Data flows through each state in the ASL order::

    InputPath -> Parameters -> task -> ResultSelector -> ResultPath -> OutputPath

``ResultPath`` writes into the state's raw input (before ``InputPath``), as AWS does.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import random
from collections.abc import Awaitable, Callable, Coroutine, Mapping, Sequence
from typing import Any, Protocol, assert_never

from canaria.clock import Clock
from canaria.workflows.callbacks import TaskTokens, Waiting
from canaria.workflows.choice import evaluate, parse_timestamp
from canaria.workflows.definition import load_definition
from canaria.workflows.errors import (
    ALL,
    HEARTBEAT_TIMEOUT,
    ITEM_READER_FAILED,
    NO_CHOICE_MATCHED,
    RESULT_PATH_MATCH_FAILURE,
    RUNTIME,
    TASK_FAILED,
    TIMEOUT,
    UNCATCHABLE,
    StatesError,
)
from canaria.workflows.history import (
    ExecutionResult,
    ExecutionStatus,
    HistoryEvent,
    Recorder,
    Thread,
    iso_timestamp,
    to_json,
)
from canaria.workflows.item_reader import SDK_S3, parse_items
from canaria.workflows.mocks import MockedCalls, MockedResponse
from canaria.workflows.paths import Path, PathMismatch, PathNotFound, assign, resolve
from canaria.workflows.resources import history_resource, integration
from canaria.workflows.states import (
    Catcher,
    ChoiceState,
    FailState,
    ItemReader,
    MapState,
    ParallelState,
    PassState,
    Retrier,
    State,
    StateMachine,
    SucceedState,
    TaskState,
    WaitState,
)
from canaria.workflows.templates import Template, render


class TaskRunner(Protocol):
    """Runs one Task resource; canaria's platform implements it for Lambda and HTTP.

    Raise :class:`~canaria.workflows.errors.TaskFailed` for a failure of the task itself;
    its ``error`` is the name Retry and Catch match."""

    async def run(self, resource: str, parameters: Any, *, timeout_s: float | None) -> Any: ...


async def execute(
    definition: StateMachine | Mapping[str, Any] | str,
    input: Any,
    *,
    runner: TaskRunner,
    clock: Clock,
    name: str,
    execution_arn: str,
    state_machine_arn: str,
    on_event: Callable[[HistoryEvent], None] | None = None,
    rng: random.Random | None = None,
    abort: asyncio.Event | None = None,
    role_arn: str = "",
    tokens: TaskTokens | None = None,
    mocks: MockedCalls | None = None,
) -> ExecutionResult:
    """Run one execution to its end and return its result and history.

    ``abort`` set while running stops the execution as ABORTED (StopExecution). The
    definition's top-level ``TimeoutSeconds`` ends it as TIMED_OUT. ``tokens`` holds the
    task tokens of its callback tasks (``.waitForTaskToken``) while they wait. ``mocks``:
    a test case's mocked responses, which answer the Task states it names (``mocks``)."""
    machine = definition if isinstance(definition, StateMachine) else load_definition(definition)
    run = _Run(
        runner=runner,
        clock=clock,
        rng=rng or random.Random(),
        recorder=Recorder(clock.now, on_event),
        name=name,
        execution_arn=execution_arn,
        state_machine_arn=state_machine_arn,
        role_arn=role_arn,
        input=input,
        tokens=tokens or TaskTokens(),
        mocks=mocks,
    )
    return await run.execute(machine, abort)


async def _answer(mocked: MockedResponse) -> Any:
    if mocked.error is not None:
        raise StatesError(mocked.error, mocked.cause)
    return mocked.value


class _Run:
    def __init__(
        self,
        *,
        runner: TaskRunner,
        clock: Clock,
        rng: random.Random,
        recorder: Recorder,
        name: str,
        execution_arn: str,
        state_machine_arn: str,
        role_arn: str,
        input: Any,
        tokens: TaskTokens,
        mocks: MockedCalls | None = None,
    ) -> None:
        self.runner = runner
        self.mocks = mocks
        self.tokens = tokens
        self.clock = clock
        self.rng = rng
        self.recorder = recorder
        self.name = name
        self.execution_arn = execution_arn
        self.state_machine_arn = state_machine_arn
        self.role_arn = role_arn
        self.input = input
        self.start_time = clock.now()
        arn_parts = execution_arn.split(":")
        self.region = arn_parts[3] if len(arn_parts) > 3 else ""

    # -- the execution -------------------------------------------------------------------

    async def execute(
        self, machine: StateMachine, abort: asyncio.Event | None = None
    ) -> ExecutionResult:
        thread = Thread()
        self.recorder.emit(
            thread,
            "ExecutionStarted",
            input=to_json(self.input),
            inputDetails={"truncated": False},
            roleArn=self.role_arn or None,
        )
        main = asyncio.ensure_future(self.run_machine(machine, self.input, thread))
        waiters: set[asyncio.Future[Any]] = {main}
        timer = abort_wait = None
        if machine.timeout_seconds is not None:
            timer = asyncio.ensure_future(
                self.clock.sleep_until(self.start_time + machine.timeout_seconds)
            )
            waiters.add(timer)
        if abort is not None:
            abort_wait = asyncio.ensure_future(abort.wait())
            waiters.add(abort_wait)
        try:
            await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for waiter in waiters - {main}:
                waiter.cancel()
            if not main.done():
                main.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await main
        if not main.cancelled():
            exc = main.exception()
            if exc is None:
                output = main.result()
                self.recorder.emit(thread, "ExecutionSucceeded", output=to_json(output))
                return self._result(ExecutionStatus.SUCCEEDED, output=output)
            if not isinstance(exc, StatesError):
                raise exc
            error, cause = exc.error or None, exc.cause or None
            self.recorder.emit(thread, "ExecutionFailed", error=error, cause=cause)
            return self._result(ExecutionStatus.FAILED, error=error, cause=cause)
        if timer is not None and timer.done() and not timer.cancelled():
            cause = f"The execution exceeded its TimeoutSeconds of {machine.timeout_seconds:g}"
            self.recorder.emit(thread, "ExecutionTimedOut", error=TIMEOUT, cause=cause)
            return self._result(ExecutionStatus.TIMED_OUT, error=TIMEOUT, cause=cause)
        self.recorder.emit(thread, "ExecutionAborted")
        return self._result(ExecutionStatus.ABORTED)

    def _result(self, status: ExecutionStatus, **fields: Any) -> ExecutionResult:
        return ExecutionResult(
            status=status,
            start_time=self.start_time,
            stop_time=self.clock.now(),
            history=tuple(self.recorder.events),
            **fields,
        )

    async def run_machine(self, machine: StateMachine, data: Any, thread: Thread) -> Any:
        name: str | None = machine.start_at
        while name is not None:
            name, data = await self.run_state(machine.states[name], data, thread)
        return data

    def context(self, state: str, entered: float, retry_count: int = 0) -> dict[str, Any]:
        return {
            "Execution": {
                "Id": self.execution_arn,
                "Input": self.input,
                "Name": self.name,
                "RoleArn": self.role_arn,
                "StartTime": iso_timestamp(self.start_time),
                "RedriveCount": 0,
            },
            "State": {
                "Name": state,
                "EnteredTime": iso_timestamp(entered),
                "RetryCount": retry_count,
            },
            "StateMachine": {
                "Id": self.state_machine_arn,
                "Name": self.state_machine_arn.rsplit(":", 1)[-1],
            },
        }

    # -- one state -----------------------------------------------------------------------

    async def run_state(self, state: State, raw: Any, thread: Thread) -> tuple[str | None, Any]:
        kind = type(state).__name__.removesuffix("State")
        entered = self.clock.now()
        self.recorder.emit(thread, f"{kind}StateEntered", name=state.name, input=to_json(raw))
        match state:
            case TaskState() | ParallelState() | MapState():
                nxt, output, caught = await self._with_errors(state, raw, thread, entered)
                if not caught:
                    self._exited(thread, kind, state, output)
                return nxt, output
            case PassState():
                ctx = self.context(state.name, entered)
                effective = self._input(state, state.input_path, raw, ctx)
                if state.has_result:
                    result = state.result
                elif state.parameters is not None:
                    result = render(state.parameters, effective, ctx, self.rng)
                else:
                    result = effective
                merged = self._merge(state, raw, result, state.result_path)
                output = self._output(state, state.output_path, merged, ctx)
                self._exited(thread, kind, state, output)
                return state.next, output
            case ChoiceState():
                ctx = self.context(state.name, entered)
                effective = self._input(state, state.input_path, raw, ctx)
                target = next(
                    (c.next for c in state.choices if evaluate(c.rule, effective, ctx)),
                    state.default,
                )
                if target is None:
                    raise StatesError(
                        NO_CHOICE_MATCHED,
                        f"No Matches! (state {state.name!r} has no rule matching its input and "
                        "no Default)",
                    )
                output = self._output(state, state.output_path, effective, ctx)
                self._exited(thread, kind, state, output)
                return target, output
            case WaitState():
                ctx = self.context(state.name, entered)
                effective = self._input(state, state.input_path, raw, ctx)
                await self.clock.sleep_until(self._wake_time(state, effective, ctx))
                output = self._output(state, state.output_path, effective, ctx)
                self._exited(thread, kind, state, output)
                return state.next, output
            case SucceedState():
                ctx = self.context(state.name, entered)
                effective = self._input(state, state.input_path, raw, ctx)
                output = self._output(state, state.output_path, effective, ctx)
                self._exited(thread, kind, state, output)
                return None, output
            case FailState():
                ctx = self.context(state.name, entered)
                error = self._fail_field(state, state.error, state.error_path, raw, ctx, "Error")
                cause = self._fail_field(state, state.cause, state.cause_path, raw, ctx, "Cause")
                raise StatesError(error, cause)
            case _:
                assert_never(state)

    def _exited(self, thread: Thread, kind: str, state: State, output: Any) -> None:
        self.recorder.emit(thread, f"{kind}StateExited", name=state.name, output=to_json(output))

    def _wake_time(self, state: WaitState, effective: Any, ctx: Any) -> float:
        if state.seconds is not None:
            return self.clock.now() + state.seconds
        if state.timestamp is not None:
            moment = parse_timestamp(state.timestamp)
            assert moment is not None  # checked at load
            return moment.timestamp()
        if state.seconds_path is not None:
            seconds = self._resolve(state, "SecondsPath", state.seconds_path, effective, ctx)
            if isinstance(seconds, bool) or not isinstance(seconds, int | float) or seconds < 0:
                raise StatesError(
                    RUNTIME,
                    f"state {state.name!r}: SecondsPath {state.seconds_path.text!r} must name a "
                    f"non-negative number, got {to_json(seconds)}",
                )
            return self.clock.now() + seconds
        assert state.timestamp_path is not None
        value = self._resolve(state, "TimestampPath", state.timestamp_path, effective, ctx)
        moment = parse_timestamp(value)
        if moment is None:
            raise StatesError(
                RUNTIME,
                f"state {state.name!r}: TimestampPath {state.timestamp_path.text!r} must name an "
                f"RFC 3339 timestamp, got {to_json(value)}",
            )
        return moment.timestamp()

    def _fail_field(
        self, state: FailState, fixed: str | None, path: Path | None, raw: Any, ctx: Any, what: str
    ) -> str:
        if path is None:
            return fixed or ""
        value = self._resolve(state, f"{what}Path", path, raw, ctx)
        if not isinstance(value, str):
            raise StatesError(
                RUNTIME,
                f"state {state.name!r}: {what}Path must name a string, got {to_json(value)}",
            )
        return value

    # -- input and output processing -----------------------------------------------------

    def _resolve(self, state: State, field: str, path: Path, data: Any, ctx: Any) -> Any:
        try:
            return resolve(path, data, ctx)
        except PathNotFound:
            raise StatesError(
                RUNTIME,
                f"state {state.name!r}: Invalid path {path.text!r} in {field}: "
                f"no value in the input {_short(data)}",
            ) from None

    def _input(self, state: State, path: Path | None, raw: Any, ctx: Any) -> Any:
        return {} if path is None else self._resolve(state, "InputPath", path, raw, ctx)

    def _output(self, state: State, path: Path | None, data: Any, ctx: Any) -> Any:
        return {} if path is None else self._resolve(state, "OutputPath", path, data, ctx)

    def _merge(self, state: State, raw: Any, result: Any, target: Path | None) -> Any:
        """Apply a ResultPath: ``None`` (null) keeps the raw input, ``$`` replaces it."""
        if target is None:
            return raw
        try:
            return assign(raw, target, result)
        except PathMismatch as exc:
            raise StatesError(RESULT_PATH_MATCH_FAILURE, f"state {state.name!r}: {exc}") from None

    def _template(self, template: Template | None, data: Any, ctx: Any) -> Any:
        return data if template is None else render(template, data, ctx, self.rng)

    # -- Task, Parallel, Map: retry and catch ---------------------------------------------

    async def _with_errors(
        self, state: TaskState | ParallelState | MapState, raw: Any, thread: Thread, entered: float
    ) -> tuple[str | None, Any, bool]:
        """Run the state, retrying and catching; ``(next, output, caught)``."""
        attempts = [0] * len(state.retry)
        retries = 0
        while True:
            ctx = self.context(state.name, entered, retries)
            try:
                result = await self._attempt(state, raw, thread, ctx)
                merged = self._merge(state, raw, result, state.result_path)
                return state.next, self._output(state, state.output_path, merged, ctx), False
            except StatesError as err:
                if err.error in UNCATCHABLE:
                    raise
                retrier = _first(state.retry, err.error)
                if retrier is not None and attempts[retrier] < state.retry[retrier].max_attempts:
                    delay = state.retry[retrier].delay(attempts[retrier], self.rng)
                    attempts[retrier] += 1
                    retries += 1
                    await self.clock.sleep_until(self.clock.now() + delay)
                    continue
                index = _first(state.catch, err.error)
                if index is None:
                    raise
                catcher: Catcher = state.catch[index]
                details = {"Error": err.error, "Cause": err.cause}
                return catcher.next, self._merge(state, raw, details, catcher.result_path), True

    async def _attempt(
        self, state: TaskState | ParallelState | MapState, raw: Any, thread: Thread, ctx: Any
    ) -> Any:
        effective = self._input(state, state.input_path, raw, ctx)
        match state:
            case TaskState() if state.callback:
                token, waiting = self.tokens.issue()
                try:
                    ctx = {**ctx, "Task": {"Token": token}}
                    parameters = self._template(state.parameters, effective, ctx)
                    result = await self._task(state, parameters, effective, thread, ctx, waiting)
                finally:
                    self.tokens.forget(token)
            case TaskState():
                parameters = self._template(state.parameters, effective, ctx)
                result = await self._task(state, parameters, effective, thread, ctx)
            case ParallelState():
                parameters = self._template(state.parameters, effective, ctx)
                result = await self._parallel(state, parameters, thread)
            case MapState():
                result = await self._map(state, effective, thread, ctx)
            case _:
                assert_never(state)
        return self._template(state.result_selector, result, ctx)

    async def _task(
        self,
        state: TaskState,
        parameters: Any,
        effective: Any,
        thread: Thread,
        ctx: Any,
        waiting: Waiting | None = None,
    ) -> Any:
        timeout = state.timeout_seconds
        if state.timeout_seconds_path is not None:
            value = self._resolve(
                state, "TimeoutSecondsPath", state.timeout_seconds_path, effective, ctx
            )
            if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
                raise StatesError(
                    RUNTIME,
                    f"state {state.name!r}: TimeoutSecondsPath must name a positive integer",
                )
            timeout = float(value)
        resource_type, resource = history_resource(state.resource, state.kind)
        lambda_fn = state.kind == "lambda_function"
        prefix = "LambdaFunction" if lambda_fn else "Task"
        ids: dict[str, Any] = (
            {} if lambda_fn else {"resourceType": resource_type, "resource": resource}
        )
        if lambda_fn:
            self.recorder.emit(
                thread,
                "LambdaFunctionScheduled",
                resource=state.resource,
                input=to_json(parameters),
                timeoutInSeconds=None if timeout is None else int(timeout),
            )
            self.recorder.emit(thread, "LambdaFunctionStarted")
        else:
            self.recorder.emit(
                thread,
                "TaskScheduled",
                **ids,
                region=self.region,
                parameters=to_json(parameters),
                timeoutInSeconds=None if timeout is None else int(timeout),
            )
            self.recorder.emit(thread, "TaskStarted", **ids)
        deadline = None if timeout is None else self.clock.now() + timeout
        mocked = self.mocks.next(state.name) if self.mocks is not None else None
        if mocked is not None:  # the test case's answer: the integration is not called
            work = _answer(mocked)
        elif waiting is not None:
            heartbeat = self._heartbeat(state, effective, ctx)
            work = self._callback(state, parameters, timeout, thread, ids, waiting, heartbeat)
        else:
            work = self._call_runner(state.resource, parameters, timeout)
        try:
            result = await self._race(work, deadline)
        except StatesError as err:
            suffix = "TimedOut" if err.error in (TIMEOUT, HEARTBEAT_TIMEOUT) else "Failed"
            self.recorder.emit(thread, prefix + suffix, **ids, error=err.error, cause=err.cause)
            raise
        self.recorder.emit(thread, prefix + "Succeeded", **ids, output=to_json(result))
        return result

    def _heartbeat(self, state: TaskState, effective: Any, ctx: Any) -> float | None:
        if state.heartbeat_seconds_path is None:
            return state.heartbeat_seconds
        value = self._resolve(
            state, "HeartbeatSecondsPath", state.heartbeat_seconds_path, effective, ctx
        )
        if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
            raise StatesError(
                RUNTIME, f"state {state.name!r}: HeartbeatSecondsPath must name a positive integer"
            )
        return float(value)

    async def _callback(
        self,
        state: TaskState,
        parameters: Any,
        timeout: float | None,
        thread: Thread,
        ids: dict[str, Any],
        waiting: Waiting,
        heartbeat: float | None,
    ) -> Any:
        """A callback task: the integration called with the token in its parameters
        (``TaskSubmitted``), then its token awaited: the output ``SendTaskSuccess`` gives,
        the error ``SendTaskFailure`` gives, or ``States.HeartbeatTimeout`` when
        ``heartbeat`` seconds pass without ``SendTaskHeartbeat``."""
        submitted = await self._call_runner(integration(state.resource), parameters, timeout)
        self.recorder.emit(thread, "TaskSubmitted", **ids, output=to_json(submitted))
        while True:
            beat = asyncio.ensure_future(waiting.beat.wait())
            waiters: set[asyncio.Future[Any]] = {waiting.outcome, beat}
            timer = None
            if heartbeat is not None:
                timer = asyncio.ensure_future(self.clock.sleep_until(self.clock.now() + heartbeat))
                waiters.add(timer)
            try:
                await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
            finally:
                beat.cancel()
                if timer is not None:
                    timer.cancel()
            if waiting.outcome.done():
                ok, value = waiting.outcome.result()
                if ok:
                    return value
                error, cause = value
                raise StatesError(error or TASK_FAILED, cause or "")
            if waiting.beat.is_set():
                waiting.beat.clear()
                continue
            raise StatesError(
                HEARTBEAT_TIMEOUT,
                f"no SendTaskHeartbeat within the task's HeartbeatSeconds of {heartbeat:g}",
            )

    async def _call_runner(self, resource: str, parameters: Any, timeout: float | None) -> Any:
        try:
            return await self.runner.run(resource, parameters, timeout_s=timeout)
        except StatesError:
            raise
        except Exception as exc:  # a runner bug or an unexpected transport error
            raise StatesError(TASK_FAILED, f"{type(exc).__name__}: {exc}") from exc

    async def _race(self, work: Coroutine[Any, Any, Any], deadline: float | None) -> Any:
        if deadline is None:
            return await work
        task = asyncio.ensure_future(work)
        timer = asyncio.ensure_future(self.clock.sleep_until(deadline))
        try:
            await asyncio.wait({task, timer}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            timer.cancel()
            if not task.done():
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        if task.cancelled():
            raise StatesError(TIMEOUT, "The task did not finish within its TimeoutSeconds")
        return task.result()

    async def _parallel(self, state: ParallelState, parameters: Any, thread: Thread) -> list[Any]:
        self.recorder.emit(thread, "ParallelStateStarted")
        try:
            results = await _gather(
                [
                    functools.partial(self.run_machine, branch, parameters, thread.fork())
                    for branch in state.branches
                ],
                limit=0,
            )
        except StatesError as err:
            self.recorder.emit(thread, "ParallelStateFailed", error=err.error, cause=err.cause)
            raise
        self.recorder.emit(thread, "ParallelStateSucceeded")
        return results

    async def _map(self, state: MapState, effective: Any, thread: Thread, ctx: Any) -> list[Any]:
        if state.reader is not None:
            items = await self._read_items(state, state.reader, effective, ctx)
        else:
            items = self._resolve(state, "ItemsPath", state.items_path, effective, ctx)
        if not isinstance(items, list):
            raise StatesError(
                RUNTIME,
                f"state {state.name!r}: ItemsPath {state.items_path.text!r} must name an array, "
                f"got {_short(items)}",
            )
        self.recorder.emit(thread, "MapStateStarted", length=len(items))

        async def iteration(index: int, item: Any) -> Any:
            item_ctx = dict(ctx)
            item_ctx["Map"] = {"Item": {"Index": index, "Value": item}}
            iteration_input = (
                item
                if state.item_selector is None
                else render(state.item_selector, effective, item_ctx, self.rng)
            )
            branch = thread.fork()
            self.recorder.emit(branch, "MapIterationStarted", name=state.name, index=index)
            try:
                output = await self.run_machine(state.iterator, iteration_input, branch)
            except StatesError:
                self.recorder.emit(branch, "MapIterationFailed", name=state.name, index=index)
                raise
            self.recorder.emit(branch, "MapIterationSucceeded", name=state.name, index=index)
            return output

        try:
            results = await _gather(
                [functools.partial(iteration, i, item) for i, item in enumerate(items)],
                limit=state.max_concurrency,
            )
        except StatesError as err:
            self.recorder.emit(thread, "MapStateFailed", error=err.error, cause=err.cause)
            raise
        self.recorder.emit(thread, "MapStateSucceeded")
        return results

    async def _read_items(
        self, state: MapState, reader: ItemReader, effective: Any, ctx: Any
    ) -> list[Any]:
        """A Distributed Map's items, read from S3 through the runner's S3 SDK task:
        one object's CSV rows (objects keyed by the header), JSON array or JSON lines,
        or the objects a listing names; States.ItemReaderFailed when that fails."""
        params = (
            {} if reader.parameters is None else self._template(reader.parameters, effective, ctx)
        )
        params = dict(params) if isinstance(params, Mapping) else {}
        limit = reader.max_items
        try:
            if reader.action == "listObjectsV2":
                return await self._listed_objects(params, limit)
            answer = await self.runner.run(SDK_S3 + "getObject", params, timeout_s=None)
            body = answer.get("Body", "") if isinstance(answer, Mapping) else ""
            items = parse_items(str(body), reader)
        except StatesError as err:
            raise StatesError(
                ITEM_READER_FAILED, f"state {state.name!r}: {err.error}: {err.cause}"
            ) from err
        except ValueError as exc:
            raise StatesError(ITEM_READER_FAILED, f"state {state.name!r}: {exc}") from exc
        return items if limit is None else items[:limit]

    async def _listed_objects(self, params: dict[str, Any], limit: int | None) -> list[Any]:
        items: list[Any] = []
        while limit is None or len(items) < limit:
            page = await self.runner.run(SDK_S3 + "listObjectsV2", params, timeout_s=None)
            page = page if isinstance(page, Mapping) else {}
            items += list(page.get("Contents") or [])
            token = page.get("NextContinuationToken")
            if not page.get("IsTruncated") or not token:
                break
            params = {**params, "ContinuationToken": token}
        return items if limit is None else items[:limit]


def _first(handlers: Sequence[Retrier | Catcher], error: str) -> int | None:
    """The index of the first retrier / catcher whose ErrorEquals matches ``error``."""
    for index, handler in enumerate(handlers):
        for name in handler.error_equals:
            if name in (error, ALL):
                return index
            # States.TaskFailed matches any error except States.Timeout.
            if name == TASK_FAILED and error != TIMEOUT:
                return index
    return None


async def _gather(work: list[Callable[[], Awaitable[Any]]], *, limit: int) -> list[Any]:
    """Run ``work`` concurrently (at most ``limit`` at once; 0: all), results in order.

    The first failure cancels the rest and is raised."""
    if not work:
        return []
    semaphore = asyncio.Semaphore(limit or len(work))

    async def one(job: Callable[[], Awaitable[Any]]) -> Any:
        async with semaphore:
            return await job()

    tasks = [asyncio.ensure_future(one(job)) for job in work]
    try:
        done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_EXCEPTION)
    finally:
        for task in tasks:
            if not task.done():
                task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    for task in tasks:  # the first failure, in the order of the work
        if task in done and (failure := task.exception()) is not None:
            raise failure
    return [task.result() for task in tasks]


def _short(value: Any) -> str:
    text = to_json(value)
    return text if len(text) <= 500 else text[:500] + "..."


__all__ = ["TaskRunner", "execute"]
