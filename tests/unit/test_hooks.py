"""Running hooks: what the controller learns from an invocation of a hook function."""

from __future__ import annotations

from dataclasses import dataclass, field

import orjson
import pytest

from canaria.errors import CanariaError, NotFound, Throttled
from canaria.hooks import Hooks
from canaria.models import FunctionConfig, FunctionSpec, InvokeResult

PAYLOAD = {"DeploymentId": "d-ABCDEFGHI", "LifecycleEventHookExecutionId": "h-1"}


@dataclass
class Functions:
    """An in-memory ``FunctionInvoker``: the template's functions, and what each
    invocation answers (a result, or an error the invocation raises)."""

    specs: dict[str, FunctionSpec]
    answer: InvokeResult | CanariaError
    calls: list[tuple[str, str | None, dict[str, str]]] = field(default_factory=list)

    def function_spec(self, name: str) -> FunctionSpec:
        if name not in self.specs:
            raise NotFound(f"Function not found: {name}")
        return self.specs[name]

    async def invoke_qualified(
        self, function: str, qualifier: str | None, payload: bytes
    ) -> InvokeResult:
        self.calls.append((function, qualifier, orjson.loads(payload)))
        if isinstance(self.answer, CanariaError):
            raise self.answer
        return self.answer


def functions(answer: InvokeResult | CanariaError, alias: str | None = "live") -> Functions:
    config = FunctionConfig("hook.handler", "python3.11", "/code/hook", {})
    return Functions({"Hook": FunctionSpec("Hook", config, auto_publish_alias=alias)}, answer)


def result(payload: bytes, error: str | None = None) -> InvokeResult:
    return InvokeResult(payload, 1, "req-1", 3.0, function_error=error)


async def test_a_hook_that_returns_ran_through_its_alias_with_the_payload() -> None:
    fns = functions(result(b"null"))
    assert await Hooks(fns).run_hook("Hook", PAYLOAD) is None
    assert fns.calls == [("Hook", "live", PAYLOAD)]


async def test_a_hook_without_an_alias_runs_latest() -> None:
    fns = functions(result(b"null"), alias=None)
    assert await Hooks(fns).run_hook("Hook", PAYLOAD) is None
    assert fns.calls[0][1] is None


async def test_an_unhandled_error_is_named_by_its_type_and_message() -> None:
    body = orjson.dumps({"errorType": "KeyError", "errorMessage": "'id'", "stackTrace": []})
    error = await Hooks(functions(result(body, "Unhandled"))).run_hook("Hook", PAYLOAD)
    assert error == "KeyError: 'id'"


@pytest.mark.parametrize("payload", [b"Segmentation fault", b"[1, 2]"])
async def test_an_error_payload_not_in_lambdas_shape_is_given_as_is(payload: bytes) -> None:
    error = await Hooks(functions(result(payload, "Unhandled"))).run_hook("Hook", PAYLOAD)
    assert error == payload.decode()


async def test_an_invocation_refused_fails_the_hook_with_the_reason() -> None:
    refused = Throttled("Rate Exceeded: reserved concurrency 1 is in use")
    error = await Hooks(functions(refused)).run_hook("Hook", PAYLOAD)
    assert error == "Rate Exceeded: reserved concurrency 1 is in use"


async def test_a_hook_the_template_does_not_declare_fails_with_not_found() -> None:
    fns = functions(result(b"null"))
    error = await Hooks(fns).run_hook("Gone", PAYLOAD)
    assert error == "Function not found: Gone" and fns.calls == []
