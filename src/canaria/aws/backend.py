"""What the edge needs from the platform, as a protocol (the platform implements it)."""

from __future__ import annotations

from typing import Protocol

from canaria.analysis import Metrics
from canaria.analysis.api_metrics import ApiMetrics
from canaria.analysis.published import PublishedMetrics
from canaria.auth import Keyring
from canaria.aws.states import StateMachines
from canaria.clock import Clock
from canaria.durable import DurableExecutions
from canaria.gateway.websockets import WebSocketHub
from canaria.log_groups import LogGroups
from canaria.logbook import LogBook
from canaria.models import Alias, Application, FunctionSpec, InvokeResult, Version
from canaria.models.deployment import Deployment, HookStatus
from canaria.models.streaming import ResponseSink
from canaria.services.firehose import DeliveryStreams
from canaria.store import Store


class EdgeBackend(Protocol):
    store: Store
    clock: Clock
    keyring: Keyring
    state_machines: StateMachines
    logbook: LogBook  # the functions' log lines
    log_groups: LogGroups  # CloudWatch Logs' groups over them (the Logs API)
    metrics: Metrics  # per-version metrics (CloudWatch GetMetricData)
    published: PublishedMetrics  # the application's own metrics (PutMetricData, EMF)
    api_metrics: ApiMetrics  # its APIs' AWS/ApiGateway metrics
    websockets: WebSocketHub  # WebSocket APIs' connections (the Management API)
    durable: DurableExecutions  # the durable execution service (durable functions)
    firehose: DeliveryStreams  # the template's Firehose delivery streams

    @property
    def app(self) -> Application | None:
        """The loaded template (CodeDeploy groups, alarms, stack)."""
        ...

    def localize(self, text: str) -> str:
        """``text`` with the URLs of the template's APIs and function URLs on AWS replaced
        by where canaria serves them (``services.local_urls.localized``)."""
        ...

    def function_spec(self, name: str) -> FunctionSpec: ...

    def function_named(self, name: str) -> str:
        """The logical id of the function ``name`` names (a logical id, or a declared
        ``FunctionName``); ``name`` itself when it names none."""
        ...

    async def invoke_qualified(
        self,
        function: str,
        qualifier: str | None,
        payload: bytes,
        *,
        client_context: str | None = None,
        handler_invocation: bool = False,
        stream: ResponseSink | None = None,
    ) -> InvokeResult: ...

    def resolve(self, function: str, qualifier: str | None) -> tuple[int, str | None]:
        """The version and alias an invocation of ``function:qualifier`` runs (an alias
        splits by its weights: each call is one invocation's choice)."""
        ...

    async def invoke_resolved(
        self,
        function: str,
        version: int,
        alias: str | None,
        payload: bytes,
        *,
        client_context: str | None = None,
        stream: ResponseSink | None = None,
    ) -> InvokeResult:
        """``invoke_qualified`` of what ``resolve`` chose, recorded the same way."""
        ...

    async def start_durable(
        self, function: str, qualifier: str | None, payload: bytes, name: str | None
    ) -> tuple[str, int]:
        """An asynchronous Invoke of a durable function: its new execution's ARN and the
        version it is pinned to."""
        ...

    async def run_durable(
        self, function: str, qualifier: str | None, payload: bytes, name: str | None
    ) -> InvokeResult:
        """A synchronous Invoke of a durable function: its execution's outcome."""
        ...

    async def publish_version(self, function: str) -> Version: ...

    async def update_alias(self, alias: Alias) -> Alias: ...

    async def report_hook(
        self, deployment_id: str, execution_id: str, status: HookStatus
    ) -> None: ...

    async def stop_deployment(self, deployment_id: str, rollback: bool) -> Deployment: ...

    async def set_alarm_state(self, name: str, state: str, reason: str) -> None: ...
