"""Running a deployment's lifecycle hooks: the controller's ``HookRunner``.

A hook is a function invoked with ``{DeploymentId, LifecycleEventHookExecutionId}``, at
the version the deployment recorded when it began: the hook of the release it ships, as
CodeDeploy runs the stack update's hook. (After a restart canaria runs the template it
was started with; that template's hook would check other versions.) A deployment stored
without one invokes the hook through its alias. The hook reports ``Succeeded`` or
``Failed`` itself, through CodeDeploy's ``PutLifecycleEventHookExecutionStatus``. What
this module returns is only whether the invocation ran: the error a person reads when it
did not (a missing function, a throttle, an unhandled exception in the hook), which fails
the hook at once instead of at its time limit.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol

import orjson

from canaria.errors import CanariaError
from canaria.models import FunctionSpec, InvokeResult

__all__ = ["FunctionInvoker", "Hooks", "invocation_error"]


class FunctionInvoker(Protocol):
    """What running a hook needs: the running template's functions, Lambda Invoke."""

    def function_spec(self, name: str) -> FunctionSpec: ...

    async def invoke_qualified(
        self, function: str, qualifier: str | None, payload: bytes
    ) -> InvokeResult: ...


class Hooks:
    """Invokes hook functions at the deployment's version of them, else through their
    ``AutoPublishAlias``."""

    def __init__(self, invoker: FunctionInvoker) -> None:
        self.invoker = invoker

    async def run_hook(
        self, function: str, payload: Mapping[str, str], version: int | None = None
    ) -> str | None:
        """Invoke ``function`` with ``payload``; the reason it failed to run, or ``None``."""
        try:
            spec = self.invoker.function_spec(function)
            qualifier = str(version) if version is not None else spec.auto_publish_alias
            result = await self.invoker.invoke_qualified(
                function, qualifier, orjson.dumps(dict(payload))
            )
        except CanariaError as exc:
            return exc.message
        return invocation_error(result)


def invocation_error(result: InvokeResult) -> str | None:
    """``errorType: errorMessage`` of a function error (the raw payload when it is not
    Lambda's error shape); ``None`` when the function returned."""
    if not result.function_error:
        return None
    try:
        err = orjson.loads(result.payload)
        return f"{err.get('errorType')}: {err.get('errorMessage')}"
    except (orjson.JSONDecodeError, AttributeError):
        return result.payload.decode(errors="replace")
