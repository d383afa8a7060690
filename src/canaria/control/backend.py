"""What the control API needs from the platform, as a protocol (the platform is one).

Each member is something a route reads or a command it forwards: the state it shows
(store, signals, runtimes, the running template), the releases and operator commands it
starts, the invocations and completion reports it passes on. A test can serve the routes
from any object with these members.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

from canaria.auth import Keyring
from canaria.clock import Clock
from canaria.controller.plan import Command
from canaria.controller.signals import LocalSignals
from canaria.log_groups import LogGroups
from canaria.logbook import LogBook
from canaria.models import Application, FunctionSpec, InvokeResult
from canaria.models.deployment import Deployment
from canaria.release import ReleaseResult, Rollout
from canaria.runtime import FunctionRuntime
from canaria.store import CompletionReport, CompletionStatus, Store

__all__ = ["Commands", "ControlSource", "Releases", "Wakeable"]


class Releases(Protocol):
    async def deploy(
        self,
        path: str,
        overrides: Mapping[str, str],
        config_env: str | None = None,
        *,
        rollout: Rollout = ...,
        dry_run: bool = False,
        group: bool = False,
    ) -> ReleaseResult: ...


class Commands(Protocol):
    async def command(self, deployment_id: str, command: Command) -> Deployment: ...

    async def rollback_function(self, function: str) -> Deployment: ...


class Wakeable(Protocol):
    def poke(self) -> None:
        """Reconcile now: the manual clock moved."""
        ...


class ControlSource(Protocol):
    @property
    def token(self) -> str: ...
    @property
    def keyring(self) -> Keyring: ...
    @property
    def clock(self) -> Clock: ...
    @property
    def store(self) -> Store: ...
    @property
    def signals(self) -> LocalSignals: ...
    @property
    def logbook(self) -> LogBook: ...

    @property
    def log_groups(self) -> LogGroups: ...
    @property
    def app(self) -> Application | None: ...
    @property
    def runtimes(self) -> Mapping[str, FunctionRuntime]: ...
    @property
    def gateway_url(self) -> str: ...
    @property
    def releases(self) -> Releases: ...
    @property
    def commands(self) -> Commands: ...
    @property
    def controller(self) -> Wakeable: ...

    def endpoints(self) -> dict[str, str]: ...

    def function_urls(self) -> dict[str, str]: ...

    def websocket_apis(self) -> dict[str, dict[str, Any]]: ...

    def graphql_apis(self) -> dict[str, dict[str, Any]]: ...

    def load_balancer_listeners(self) -> dict[str, dict[str, Any]]: ...

    def published_metrics(self) -> dict[str, Any]: ...

    def function_spec(self, name: str) -> FunctionSpec: ...

    async def invoke_qualified(
        self, function: str, qualifier: str | None, payload: bytes
    ) -> InvokeResult: ...

    async def report_completion(
        self, function: str, request_id: str, status: CompletionStatus, reason: str
    ) -> tuple[CompletionReport, bool]: ...
