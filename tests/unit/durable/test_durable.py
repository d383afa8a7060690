"""The pieces of ``canaria.durable`` that need no service running: which durable API
operation a request names, when a handler's output ends its execution FAILED, what
``context.invoke`` may call, and the service's clock on canaria's time scale."""

from __future__ import annotations

import datetime

import pytest

from canaria.aws.durable_api import operation
from canaria.durable import ended_failed, function_configs
from canaria.durable.runner import ScaledClock
from canaria.models import DurableSpec, FunctionConfig, FunctionSpec, InvokeResult

ARN = "arn%3Aaws%3Alambda%3Aus-east-1%3A123456789012%3Afunction%3AOrders%3A1%2Fx%2Fy"


@pytest.mark.parametrize(
    ("method", "path", "expected"),
    [
        ("GET", f"/2025-12-01/durable-executions/{ARN}", "GetDurableExecution"),
        ("POST", f"/2025-12-01/durable-executions/{ARN}/checkpoint", "CheckpointDurableExecution"),
        ("GET", f"/2025-12-01/durable-executions/{ARN}/state", "GetDurableExecutionState"),
        ("GET", f"/2025-12-01/durable-executions/{ARN}/history", "GetDurableExecutionHistory"),
        ("POST", f"/2025-12-01/durable-executions/{ARN}/stop", "StopDurableExecution"),
        (
            "GET",
            "/2025-12-01/functions/Orders/durable-executions",
            "ListDurableExecutionsByFunction",
        ),
        (
            "POST",
            "/2025-12-01/durable-execution-callbacks/cb-1/succeed",
            "SendDurableExecutionCallbackSuccess",
        ),
        (
            "POST",
            "/2025-12-01/durable-execution-callbacks/cb-1/fail",
            "SendDurableExecutionCallbackFailure",
        ),
        (
            "POST",
            "/2025-12-01/durable-execution-callbacks/cb-1/heartbeat",
            "SendDurableExecutionCallbackHeartbeat",
        ),
        # not operations: the wrong method, an unknown suffix, too short
        ("POST", f"/2025-12-01/durable-executions/{ARN}", None),
        ("GET", f"/2025-12-01/durable-executions/{ARN}/checkpoint", None),
        ("POST", f"/2025-12-01/durable-executions/{ARN}/rewind", None),
        ("GET", "/2025-12-01/durable-executions", None),
    ],
)
def test_a_request_names_its_operation_by_method_and_path(
    method: str, path: str, expected: str | None
) -> None:
    found = operation(method, path)
    assert (found[0] if found else None) == expected


def test_the_identifier_stays_encoded_for_the_service() -> None:
    found = operation("GET", f"/2025-12-01/durable-executions/{ARN}/state")
    assert found is not None and found[1] == ["durable-executions", ARN, "state"]


def result(payload: bytes) -> InvokeResult:
    return InvokeResult(payload, 1, "r-1", 1.0)


def test_only_an_output_that_says_failed_ends_the_execution_failed() -> None:
    assert ended_failed(result(b'{"Status": "FAILED", "Error": {"ErrorMessage": "no"}}'))
    assert not ended_failed(result(b'{"Status": "SUCCEEDED", "Result": "\\"FAILED\\""}'))
    assert not ended_failed(result(b'{"Status": "PENDING"}'))
    assert not ended_failed(result(b'"FAILED"'))  # a plain function's answer
    assert not ended_failed(result(b"FAILED not json"))


def spec(name: str, durable: DurableSpec | None = None) -> FunctionSpec:
    return FunctionSpec(name, FunctionConfig("app.handler", "python3.11", "."), durable=durable)


def test_context_invoke_may_call_every_function_by_each_of_its_names() -> None:
    functions = {"Orders": spec("Orders", DurableSpec(900, 7)), "Pricer": spec("Pricer")}
    configs = function_configs(functions, {"orders-fn": "Orders", "pricer": "Pricer", "x": "Gone"})
    durable = {"DurableConfig": {"ExecutionTimeout": 900, "RetentionPeriodInDays": 7}}
    assert configs == {"Orders": durable, "orders-fn": durable, "Pricer": {}, "pricer": {}}


def test_the_service_clock_runs_on_canarias_time_scale() -> None:
    clock = ScaledClock(60.0, virtual_now=1_800_000_000.0)
    now = clock.now()
    assert abs(now.timestamp() - 1_800_000_000.0) < 60  # virtual, not the wall's
    wake = now + datetime.timedelta(minutes=2)
    assert 1.9 < clock.arm(wake) <= 2.0  # two virtual minutes are two wall seconds
    assert clock.arm(now - datetime.timedelta(seconds=5)) == 0.0
    stamps = [clock.now() for _ in range(100)]
    assert stamps == sorted(stamps) and len(set(stamps)) == 100  # ordered, never equal
