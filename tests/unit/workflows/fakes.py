"""Real implementations of the TaskRunner protocol, and a driver for the manual clock."""

from __future__ import annotations

import asyncio
import inspect
import itertools
import random
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

from canaria.clock import ManualClock
from canaria.workflows import (
    ExecutionResult,
    HistoryEvent,
    MockedCalls,
    TaskFailed,
    execute,
    load_definition,
)

T = TypeVar("T")

ARN = "arn:aws:states:us-east-1:123456789012"
MACHINE_ARN = f"{ARN}:stateMachine:Test"
EXECUTION_ARN = f"{ARN}:execution:Test:run-1"


class FunctionRunner:
    """Runs each resource with a Python callable (sync or async); records every call."""

    def __init__(
        self, handlers: dict[str, Callable[[Any], Any]], clock: ManualClock | None = None
    ) -> None:
        self.handlers = handlers
        self.clock = clock
        self.calls: list[tuple[str, Any, float | None]] = []
        self.call_times: list[float] = []

    async def run(self, resource: str, parameters: Any, *, timeout_s: float | None) -> Any:
        self.calls.append((resource, parameters, timeout_s))
        if self.clock is not None:
            self.call_times.append(self.clock.now())
        result = self.handlers[resource](parameters)
        if inspect.isawaitable(result):
            result = await result
        return result


class CompanyApi:
    """``arn:aws:states:::apigateway:invoke`` against a tiny company registry in a dict.

    POST/PUT /company -> 201/200 {company_id, ...}; GET /company/{id} -> 200 or 204;
    DELETE /company/{id} -> 204. ``forgetful_delete`` simulates a bug: DELETE answers 204
    but keeps the record."""

    def __init__(self, *, forgetful_delete: bool = False) -> None:
        self.companies: dict[str, dict[str, Any]] = {}
        self.requests: list[tuple[str, str]] = []
        self.forgetful_delete = forgetful_delete
        self._ids = itertools.count(1)

    async def run(self, resource: str, parameters: Any, *, timeout_s: float | None) -> Any:
        if resource != "arn:aws:states:::apigateway:invoke":
            raise TaskFailed("States.Permissions", f"no such resource {resource}")
        method, path = parameters["Method"], parameters["Path"]
        assert parameters["ApiEndpoint"].endswith(".execute-api.us-east-1.amazonaws.com")
        self.requests.append((method, path))
        body = parameters.get("RequestBody")
        parts = path.strip("/").split("/")
        if parts[0] != "company":
            return _response(404, {"message": "Not Found"})
        if method in ("POST", "PUT") and len(parts) == 1:
            if not isinstance(body, dict) or not isinstance(body.get("name"), str):
                return _response(400, {"message": "name is required"})
            company_id = body.get("company_id") or f"c-{next(self._ids)}"
            existed = company_id in self.companies
            self.companies[company_id] = {**body, "company_id": company_id}
            return _response(200 if existed else 201, self.companies[company_id])
        if len(parts) == 2 and method == "GET":
            company = self.companies.get(parts[1])
            return _response(204, None) if company is None else _response(200, company)
        if len(parts) == 2 and method == "DELETE":
            if not self.forgetful_delete:
                self.companies.pop(parts[1], None)
            return _response(204, None)
        return _response(405, {"message": "Method Not Allowed"})


def _response(status: int, body: Any) -> dict[str, Any]:
    texts = {200: "OK", 201: "Created", 204: "No Content", 400: "Bad Request", 404: "Not Found"}
    return {
        "ResponseBody": body if body is not None else "",
        "StatusCode": status,
        "StatusText": texts.get(status, "Error"),
        "Headers": {"content-type": ["application/json"]},
    }


async def settle(rounds: int = 50) -> None:
    for _ in range(rounds):
        await asyncio.sleep(0)


async def drive(clock: ManualClock, work: Coroutine[Any, Any, T], step: float = 1.0) -> T:
    """Run ``work``, advancing the manual clock by ``step`` whenever everything is idle."""
    task = asyncio.ensure_future(work)
    for _ in range(100_000):
        await settle()
        if task.done():
            return task.result()
        clock.advance(step)
    task.cancel()
    raise AssertionError("the execution did not finish")


FN = "arn:aws:lambda:us-east-1:123456789012:function:work"
START = 1_700_000_000.0


async def run(
    definition: dict[str, Any],
    data: Any,
    handlers: dict[str, Any] | None = None,
    *,
    clock: ManualClock | None = None,
    events: list[HistoryEvent] | None = None,
    mocks: MockedCalls | None = None,
) -> tuple[ExecutionResult, FunctionRunner]:
    clock = clock or ManualClock(START)
    runner = FunctionRunner(handlers or {}, clock)
    result = await drive(
        clock,
        execute(
            load_definition(definition),
            data,
            runner=runner,
            clock=clock,
            name="run-1",
            execution_arn=EXECUTION_ARN,
            state_machine_arn=MACHINE_ARN,
            on_event=None if events is None else events.append,
            rng=random.Random(1),
            mocks=mocks,
        ),
    )
    return result, runner


def one_task(**fields: Any) -> dict[str, Any]:
    return {
        "StartAt": "T",
        "States": {"T": {"Type": "Task", "Resource": FN, "End": True, **fields}},
    }


class Flaky:
    """Fails with the given errors in order, then returns "ok"."""

    def __init__(self, *errors: str) -> None:
        self.errors = list(errors)

    def __call__(self, params: Any) -> Any:
        if self.errors:
            raise TaskFailed(self.errors.pop(0), "flaky")
        return "ok"
