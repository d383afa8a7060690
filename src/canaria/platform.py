"""The composition root of ``canaria up``: one process serving the gateway, the edge,
the control API, the controller and the dashboard, on one clock and one store.

A request: gateway (routes → alias → version) → ``Invocations.invoke`` → the function's
``FunctionRuntime`` → a warm worker → result → ``Invocations.record`` (metrics).

A release: ``canaria.release.ReleaseExecutor`` loads the template, builds artifacts,
plans (tables, services, state machines, functions, queues; publish / point alias / start
deployment), executes; the controller then moves each deployment.

The platform builds the parts and hands each the narrow protocol it needs: the control
API's ``ControlSource``, the edge's ``EdgeBackend``, the controller's ``HookRunner``
(``canaria.hooks``), operator commands (``canaria.commands``).
"""

from __future__ import annotations

import asyncio
import logging
import sys
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from canaria import template as templates
from canaria.analysis import Metrics
from canaria.analysis.api_metrics import ApiMetrics
from canaria.analysis.log_metrics import LogMetrics
from canaria.analysis.prom import PromMetrics
from canaria.analysis.published import PublishedMetrics
from canaria.appsync.server import GraphQLApis
from canaria.auth import Keyring, access_key_id, ensure_token, secret_access_key
from canaria.aws.state_services import ServiceTasks
from canaria.aws.states import PlatformTasks, StateMachines
from canaria.clock import Clock
from canaria.commands import OperatorCommands
from canaria.controller.notify import send_notifications
from canaria.controller.service import Controller
from canaria.controller.signals import LocalSignals
from canaria.durable import DurableExecutions, invocation_id
from canaria.errors import NotFound
from canaria.files import FileAccess
from canaria.gateway import GatewayServer, Routing
from canaria.gateway.authorizers import TokenKeys
from canaria.gateway.load_balancers import LoadBalancers
from canaria.gateway.urls import FunctionUrls
from canaria.hooks import Hooks
from canaria.invocations import Invocations
from canaria.log_groups import LogGroups
from canaria.logbook import LogBook
from canaria.models import Alias, Application, FunctionSpec, InvokeResult, Version
from canaria.models.arns import function_arn
from canaria.models.deployment import Deployment, DeploymentEvent, HookStatus
from canaria.models.streaming import ResponseSink
from canaria.release import LocalResources, ReleaseExecutor, ReleaseResult
from canaria.runtime import FunctionRuntime
from canaria.services import ServicesEngine
from canaria.services.engine import SERVED
from canaria.services.firehose import DeliveryStreams
from canaria.services.local_urls import localized
from canaria.services.log_subscriptions import LogSubscriptions
from canaria.services.outbound import SignedBackends
from canaria.services.outbox import Outbox
from canaria.services.pipes import Pipes
from canaria.services.pollers import QueuePollers
from canaria.services.provision import Provisioner
from canaria.services.schedules import Schedules
from canaria.services.streams import StreamPollers
from canaria.services.user_pool_keys import engine_token_keys
from canaria.services.user_pool_triggers import UserPoolTriggers
from canaria.store import CompletionReport, CompletionStatus, Store
from canaria.tables import DynamoEngine
from canaria.template.index import api_id

log = logging.getLogger("canaria")


@dataclass
class Options:
    state_dir: str = ".canaria"
    template: str = "template.yaml"
    parameter_overrides: Mapping[str, str] = field(default_factory=dict)
    config_env: str | None = None
    host: str = "127.0.0.1"
    port: int = 3000
    control_port: int = 3001
    split_mode: str = "deterministic"
    seed: int | None = None
    database_url: str | None = None
    # Step Functions Local's mock configuration: executions started as "<ARN>#<test case>"
    sfn_mock_config: str | None = None


class RoutingBackend:
    """The local traffic backend: alias writes take effect in the gateway's routing."""

    def __init__(self, routing: Routing) -> None:
        self.routing = routing

    def apply(self, alias: Alias) -> None:
        self.routing.set_alias(alias)


class Platform:
    def __init__(self, options: Options, clock: Clock) -> None:
        self.options = options
        self.clock = clock
        self.control_url = f"http://{options.host}:{options.control_port}"
        self.state_dir = str(Path(options.state_dir).resolve())
        self.store = Store.open(self.state_dir, options.database_url)
        self.token = ensure_token(self.state_dir)
        self.access_key = access_key_id(self.token)
        self.secret_key = secret_access_key(self.token)
        self.keyring = Keyring(self.token)  # the operator's keys, and each function's
        self.metrics = Metrics()
        self.published = PublishedMetrics()  # the application's own (EMF, PutMetricData)
        self.log_metrics = LogMetrics(self.published)
        self.api_metrics = ApiMetrics()  # AWS/ApiGateway, counted by the gateway
        self.prom = PromMetrics()
        self.routing = Routing()
        self.logbook = LogBook(str(Path(self.state_dir) / "logs"))
        self.log_groups = LogGroups(self.logbook, clock.now)  # CloudWatch Logs' groups
        # which template paths the deploy API may read (canaria.files)
        self.files = FileAccess.for_server(options.template)
        self.signals = LocalSignals(
            self.metrics, self.store, clock, published=self.published, apis=self.api_metrics
        )
        self.invocations = Invocations(
            self.store,
            self.routing,
            self.metrics,
            self.prom,
            self.signals,
            clock,
            self.function_spec,
        )
        self.runtimes = self.invocations.runtimes
        self.controller = Controller(
            self.store, clock, RoutingBackend(self.routing), Hooks(self), self.signals, self._notify
        )
        self.commands = OperatorCommands(self.store, self.controller, self)
        # request gates with completion: reported note the request ids they send
        self.controller.listeners.append(self.signals.follow)
        # API methods that call AWS services (or HTTP URLs) instead of a function
        self.backends = SignedBackends(self._service_endpoint, self.access_key, self.secret_key)
        self.gateway = GatewayServer(
            self.routing,
            self.invocations,
            self.invocations,
            clock,
            host=options.host,
            port=options.port,
            split_mode=options.split_mode,  # type: ignore[arg-type]
            seed=options.seed,
            backends=self.backends,
            keyring=self.keyring,
            token_keys=TokenKeys(engine_token_keys),  # read at the first token to check
            api_meter=self.api_metrics,
        )
        self.gateway.handler.write_log = self.log_groups.write  # stages' access logs
        # WebSocket APIs: upgrades on the gateway's port; the edge's Management API
        self.websockets = self.gateway.websockets
        # FunctionUrlConfig: a port of its own per function, through the same routing
        self.function_urls_served = FunctionUrls(
            self.routing,
            self.invocations,
            self.invocations,
            clock,
            host=options.host,
            ports_file=Path(self.state_dir) / "function-urls.json",
            keyring=self.keyring,
        )
        # Application Load Balancers: a port of its own per listener, through the same routing
        self.load_balancers = LoadBalancers(
            self.routing,
            self.invocations,
            self.invocations,
            clock,
            host=options.host,
            ports_file=Path(self.state_dir) / "load-balancers.json",
        )
        # The DynamoDB front's port is fixed now, so every function's environment can name
        # it even before the first template with a table starts dynalite.
        self.tables = DynamoEngine(self.state_dir, self.access_key, self.secret_key)
        # S3, SQS, SNS, SSM, Secrets Manager, EventBridge, Kinesis, Cognito: a relay on a fixed
        # port in front of moto, started when a template declares such resources or a function
        # calls one
        self.services = ServicesEngine(log_path=str(Path(self.state_dir) / "logs" / "services.log"))
        self.services.triggers = UserPoolTriggers(self._invoke_through_alias)
        # functions' SQS events: queues polled, batches invoked through the alias
        self.pollers = QueuePollers(
            self.services.endpoint,
            self._invoke_from_queue,
            self._start_on_schedule,
            self._invoke_event,
            Outbox(self.state_dir),
            lambda api, query, variables: self.graphql.run_as_service(api, query, variables),
            self.log_groups.write,
        )
        # functions' Kinesis and DynamoDB events: shards read in order, batches invoked
        # through the alias
        self.streams = StreamPollers(
            self.services.endpoint, self._invoke_from_queue, self.tables.streams
        )
        # EventBridge pipes: the readers above hand their batches over, each carried
        # through its enrichment to its target
        self.pipes = Pipes(
            self.services.endpoint,
            self.invoke_qualified,
            self._start_on_schedule,
            self._run_machine,
        )
        self.pipes.write_log = self.log_groups.write
        # Firehose delivery streams: records buffered, processed by their Lambda
        # processor, written to their bucket or HTTP endpoint
        self.firehose = DeliveryStreams(
            clock,
            self.services.endpoint,
            self.invoke_qualified,
            spool_dir=Path(self.state_dir) / "firehose",  # taken, not yet written: kept
        )
        self.firehose.write_log = self.log_groups.write
        self.pollers.firehose = self.firehose.put  # topics' and rules' records
        # Schedule / ScheduleV2 events and scheduled rules: fired on the platform's clock
        self.schedules = Schedules(clock, self._invoke_event, self._start_on_schedule)
        self.schedules.relay = self.pollers.send  # scheduled rules' relayed targets
        # CloudWatch Logs subscription filters: a log group's matching lines, delivered
        self.log_subscriptions = LogSubscriptions(
            clock, self._invoke_event, stream_of=self.log_groups.stream_of
        )
        self.log_subscriptions.firehose = self.firehose.put
        self.pipes.firehose = self.firehose.put
        self._state_tasks = PlatformTasks(
            self,
            options.host,
            options.port,
            # a state machine's tasks reach the engine serving each service, as the
            # gateway's integrations do (DynamoDB: dynalite; Firehose: the edge); a service
            # canaria does not serve: the edge, which answers NotServedByCanaria
            ServiceTasks(
                lambda service: self._service_endpoint(service) or self.control_url,
                self.access_key,
                self.secret_key,
            ),
            self.websockets,
        )
        self.state_machines = StateMachines(clock, self._state_tasks, self.store)
        self.state_machines.log_groups = self.log_groups
        if options.sfn_mock_config:
            self.state_machines.mock_config = Path(options.sfn_mock_config).resolve()
        # durable functions: their executions kept and replayed by AWS's local durable
        # execution service, which invokes their handlers through the edge
        self.durable = DurableExecutions(
            self.state_dir,
            clock,
            edge=lambda: self.control_url,
            credentials=(self.access_key, self.secret_key),
            log_path=str(Path(self.state_dir) / "logs" / "durable-executions.log"),
        )
        self.invocations.durable = self.durable
        # GraphQL APIs (AppSync): a port of their own each; Lambda data sources invoked as
        # their ARNs name them, tables through the DynamoDB front
        self.graphql = GraphQLApis(
            self.invoke_qualified,
            self.tables.client,
            clock,
            host=options.host,
            workdir=Path(self.state_dir) / "appsync",
            keyring=self.keyring,
            token_keys=TokenKeys(engine_token_keys),  # the template's user pools'
            send=self.backends.send,  # HTTP data sources, to this machine's engines
        )
        self.releases = ReleaseExecutor(
            store=self.store,
            clock=clock,
            deployments=self.controller,
            routing=self.routing,
            state_machines=self.state_machines,
            resources=LocalResources(
                self.tables,
                self.services,
                self.pollers,
                self.streams,
                self.pipes,
                self.firehose,
                self.schedules,
                self.function_urls_served,
                self.websockets,
                self.durable,
                self.graphql,
                self.load_balancers,
                self.logbook,
                self.log_groups,
                self.log_metrics,
                self.api_metrics,
                self.log_subscriptions,
            ),
            runtimes=self.runtimes,
            new_runtime=self._new_runtime,
            keyring=self.keyring,
            files=self.files,
            build_dir=self.state_dir,
        )
        self._tasks: list[asyncio.Task[Any]] = []
        self._retiring: set[asyncio.Task[None]] = set()
        self.routing.alias_listeners.append(self._retire_unrouted)

    # ---- start / stop ------------------------------------------------------------------

    async def start(self) -> ReleaseResult:
        """Load the template; publish and point aliases that do not exist yet; serve."""
        app = templates.load(
            self.options.template,
            dict(self.options.parameter_overrides),
            config_env=self.options.config_env,
            readable=self.files,  # the same rule as for `canaria deploy`
            api_key_value=self.keyring.api_key_value,  # generated API keys' values
            graphql_url=self.graphql.url_for,  # where its GraphQL APIs are served
        )
        self.controller.recover()
        # The gateway binds first (with --port 0 the OS picks the port), so state machines'
        # API Gateway tasks know where it is.
        await self.gateway.start()
        self._state_tasks.gateway = (self.options.host, self.gateway.port)
        # execute-api URLs of Firehose's HTTP endpoints and API destinations
        self.firehose.gateway = (self.options.host, self.gateway.port)
        self.pollers.gateway = self.firehose.gateway
        self.pipes.destinations.gateway = self.firehose.gateway
        # the relay's and the DynamoDB front's ports are in every function's environment
        await self.services.listen()
        await self.tables.listen()
        result = await self.releases.release(app, initial=True)
        self.state_machines.load()
        self._tasks.append(asyncio.ensure_future(self.controller.run()))
        self._tasks.append(asyncio.ensure_future(self.signals.watch_alarms(self._alarm_specs)))
        return result

    async def stop(self) -> None:
        await self.controller.stop()
        self.signals.stop()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self.gateway.stop()
        self.backends.close()
        await self.function_urls_served.stop()
        await self.load_balancers.stop()
        await self.graphql.stop()
        await self.state_machines.close()
        await self.pollers.stop()
        await self.streams.stop()
        await self.pipes.stop()
        await self.schedules.stop()
        await self.log_subscriptions.stop()
        await self.firehose.stop()  # its buffers written, through its processor
        await asyncio.gather(*self._retiring, return_exceptions=True)
        await asyncio.gather(*(rt.close() for rt in self.runtimes.values()))
        await self.durable.stop()
        await self.tables.stop()
        await self.services.stop()
        self.logbook.close()
        self.store.close()

    def _retire_unrouted(self, function: str) -> None:
        """After an alias of ``function`` moved: stop the idle environments of versions no
        alias routes to any more (the old version after a shift, the new one after a
        rollback), as Lambda reclaims them, instead of at the idle timeout. A later
        invocation of such a version by qualifier starts a fresh environment."""
        runtime = self.runtimes.get(function)
        if runtime is None:
            return
        keep = self.routing.routed_versions(function)
        for version in runtime.environments():
            if version not in keep:
                task = asyncio.ensure_future(runtime.retire(version))
                self._retiring.add(task)
                task.add_done_callback(self._retiring.discard)

    async def _invoke_from_queue(self, function: str, event: bytes) -> InvokeResult:
        """A reader's batch: to its function (through its alias), to its pipe or to its
        delivery stream."""
        if function in self.pipes:
            return await self.pipes.deliver(function, event)
        if function in self.firehose:
            return await self.firehose.deliver(function, event)
        return await self.invoke_qualified(
            function, self.function_spec(function).auto_publish_alias, event
        )

    async def _invoke_event(self, function: str, event: bytes) -> InvokeResult:
        """An asynchronous source's event (a schedule, a topic, a rule, a bucket), through
        the function's alias. A durable function's execution is started, not waited for,
        as Lambda's asynchronous Invoke starts it."""
        if (
            function in self.pipes
            or function in self.firehose
            or self.function_spec(function).durable is None
        ):
            return await self._invoke_from_queue(function, event)
        alias = self.function_spec(function).auto_publish_alias
        arn, version = await self.invocations.start_durable(function, alias, event, None)
        return InvokeResult(b"null", version, invocation_id(arn), 0.0, durable_execution=arn)

    async def _invoke_through_alias(self, function: str, event: bytes) -> InvokeResult:
        """A user pool's trigger: its function, through its alias."""
        return await self.invoke_qualified(
            function, self.function_spec(function).auto_publish_alias, event
        )

    async def _start_on_schedule(self, machine: str, input_text: str) -> None:
        self.state_machines.start(machine, None, input_text)

    async def _run_machine(self, machine: str, input_text: str) -> tuple[str, Any]:
        execution = await self.state_machines.start_sync(machine, None, input_text)
        return execution.status, execution.output

    def _alarm_specs(self) -> Mapping[str, Any]:
        return self.app.alarms if self.app else {}

    # ---- the running application -------------------------------------------------------

    @property
    def app(self) -> Application | None:
        """The application running (the template of the last release)."""
        return self.releases.app

    def localize(self, text: str) -> str:
        app = self.app
        if app is None:
            return text
        apis = {api_id(n) for n in (*app.apis, *app.websockets)}
        gateway = (self.options.host, self.gateway.port)
        balancers: dict[str, dict[int, int]] = {}
        for spec in app.listeners.values():
            port = self.load_balancers.local_port(spec.load_balancer, spec.port)
            if spec.dns_name and port is not None:
                balancers.setdefault(spec.dns_name, {})[spec.port] = port
        return localized(text, gateway, apis, self.function_urls(), balancers)

    @property
    def gateway_url(self) -> str:
        return f"http://{self.options.host}:{self.gateway.port}"

    def _new_runtime(self, spec: FunctionSpec) -> FunctionRuntime:
        env = self.function_environment(spec.name)
        if spec.log_group is not None:  # its LoggingConfig's (when the runtime is made)
            env["AWS_LAMBDA_LOG_GROUP_NAME"] = spec.log_group
        return FunctionRuntime(
            spec.name,
            reserved_concurrency=spec.config.reserved_concurrency,
            env_extra=env,
            clock=self.clock,
            on_log=self.logbook.add_line,
            localize=self.localize,
        )

    def function_urls(self) -> dict[str, str]:
        """Each function URL canaria serves (``FunctionUrlConfig``), by function."""
        return self.function_urls_served.endpoints()

    def load_balancer_listeners(self) -> dict[str, dict[str, Any]]:
        """Each Application Load Balancer listener served, by logical id: its URL here, its
        load balancer, the protocol and port it declares."""
        return self.load_balancers.endpoints()

    def published_metrics(self) -> dict[str, Any]:
        """What the application publishes itself: how many metrics are kept, how many
        samples were dropped past the limit, and per function the EMF lines that were
        not valid (CloudWatch drops their metrics too) with the last reason."""
        return {
            "metrics": len(self.published.metrics()),
            "dropped": self.published.dropped,
            "emf_rejected": {
                fn: {"lines": n, "last_reason": why}
                for fn, (n, why) in sorted(self.log_metrics.rejected.items())
            },
        }

    def graphql_apis(self) -> dict[str, dict[str, Any]]:
        """Each GraphQL API served, by logical id: its URL and its API keys' values."""
        keys = self.graphql.api_keys()
        return {
            name: {"url": url, "api_keys": keys.get(name, [])}
            for name, url in self.graphql.endpoints().items()
        }

    def websocket_apis(self) -> dict[str, dict[str, Any]]:
        """Each WebSocket API served, by logical id: its URL, the Management API's
        endpoint for it and its open connections."""
        out: dict[str, dict[str, Any]] = {}
        for name, api in self.websockets.apis.items():
            stage = api.spec.stage
            out[name] = {
                "url": f"ws://{self.options.host}:{self.gateway.port}/{stage}",
                "management_endpoint": f"{self.control_url}/{stage}",
                "api_id": api.id,
                "connections": sum(
                    1 for s in self.websockets.connections.values() if s.api.spec.logical_id == name
                ),
            }
        return out

    def _service_endpoint(self, service: str) -> str | None:
        """The URL that serves ``service`` (as an API Gateway integration URI names it)."""
        if service == "dynamodb":
            return self.tables.endpoint
        if service in ("states", "stepfunctions", "lambda", "firehose", "logs", "monitoring"):
            return self.control_url
        if service == "execute-api":  # an API of the template (an AppSync HTTP data source)
            return f"http://{self.options.host}:{self.gateway.port}"
        if service in SERVED.values():
            return self.services.endpoint
        return None

    def endpoints(self) -> dict[str, str]:
        """``AWS_ENDPOINT_URL`` (the edge) and ``AWS_ENDPOINT_URL_<SERVICE>`` for the
        services served elsewhere: what functions get and ``canaria env`` exports."""
        return {
            "AWS_ENDPOINT_URL": self.control_url,
            "AWS_ENDPOINT_URL_DYNAMODB": self.tables.endpoint,
            "AWS_ENDPOINT_URL_DYNAMODB_STREAMS": self.tables.endpoint,
            **self.services.environment(),
        }

    def function_environment(self, function: str) -> dict[str, str]:
        """What ``function``'s environment gets so unmodified boto3 reaches canaria: the
        endpoints, and credentials of its own (never the operator's token or keys; what
        they allow is ``canaria.aws.policy``)."""
        access_key, secret_key = self.keyring.function_keys(function)
        return {
            **self.endpoints(),
            "AWS_ACCESS_KEY_ID": access_key,
            "AWS_SECRET_ACCESS_KEY": secret_key,
            "AWS_SESSION_TOKEN": "",
            # botocore puts "sync-" before the host for StartSyncExecution; locally that
            # name does not resolve.
            "AWS_DISABLE_HOST_PREFIX_INJECTION": "true",
            "CANARIA_ENDPOINT": self.control_url,
            # a long-running job reports its final status for request-count gates
            # (POST /canaria/v1/functions/{fn}/completions): a token good for that only
            "CANARIA_TOKEN": self.keyring.function_token(function),
        }

    # ---- invocation (gateway Invoker, edge, hooks) -------------------------------------

    def version(self, function: str, number: int) -> Version:
        return self.invocations.version(function, number)

    async def invoke(
        self,
        function: str,
        version: int,
        event: bytes,
        *,
        alias: str | None,
        started: float,
        stream: ResponseSink | None = None,
    ) -> InvokeResult:
        """The gateway's Invoker: run ``event`` on ``function`` at ``version``."""
        return await self.invocations.invoke(
            function, version, event, alias=alias, started=started, stream=stream
        )

    def record(
        self,
        function: str,
        alias: str | None,
        version: int,
        result: InvokeResult | None,
        *,
        throttled: bool,
        started: float,
        finished: float,
    ) -> None:
        """The gateway's Recorder (see ``Invocations.record``)."""
        self.invocations.record(
            function,
            alias,
            version,
            result,
            throttled=throttled,
            started=started,
            finished=finished,
        )

    def function_spec(self, name: str) -> FunctionSpec:
        if self.app is None or name not in self.app.functions:
            raise NotFound(f"Function not found: {function_arn(name)}")
        return self.app.functions[name]

    def function_named(self, name: str) -> str:
        app = self.app
        return name if app is None else app.function_named(name)

    def resolve(self, function: str, qualifier: str | None) -> tuple[int, str | None]:
        """Version and alias a qualifier names; an alias splits by its weights."""
        return self.invocations.resolve(function, qualifier)

    async def invoke_qualified(
        self,
        function: str,
        qualifier: str | None,
        payload: bytes,
        *,
        client_context: str | None = None,
        handler_invocation: bool = False,
        stream: ResponseSink | None = None,
    ) -> InvokeResult:
        """Lambda Invoke semantics (edge, CLI, hooks, state machines), with metrics."""
        return await self.invocations.invoke_qualified(
            self.function_named(function),
            qualifier,
            payload,
            client_context=client_context,
            handler_invocation=handler_invocation,
            stream=stream,
        )

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
        """``invoke_qualified`` of what ``resolve`` chose."""
        return await self.invocations.invoke_resolved(
            function, version, alias, payload, client_context=client_context, stream=stream
        )

    async def start_durable(
        self, function: str, qualifier: str | None, payload: bytes, name: str | None
    ) -> tuple[str, int]:
        return await self.invocations.start_durable(
            self.function_named(function), qualifier, payload, name
        )

    async def run_durable(
        self, function: str, qualifier: str | None, payload: bytes, name: str | None
    ) -> InvokeResult:
        return await self.invocations.run_durable(
            self.function_named(function), qualifier, payload, name
        )

    # ---- EdgeBackend ---------------------------------------------------------------------

    async def publish_version(self, function: str) -> Version:
        latest = self.store.latest_version(function)
        if latest is None:
            raise NotFound(f"Function not found: {function_arn(function)}")
        return latest  # $LATEST is always published: canaria publishes on every change

    async def update_alias(self, alias: Alias) -> Alias:
        """UpdateAlias: a command to the controller (refused while a deployment holds it)."""
        return await self.controller.update_alias(alias)

    async def report_hook(self, deployment_id: str, execution_id: str, status: HookStatus) -> None:
        await self.controller.report_hook(deployment_id, execution_id, status)

    async def report_completion(
        self, function: str, request_id: str, status: CompletionStatus, reason: str
    ) -> tuple[CompletionReport, bool]:
        """The final status of the work an invocation started (request gates with
        ``completion: reported``); see ``canaria.controller.signals``."""
        self.function_spec(function)
        kept = self.store.report_completion(
            CompletionReport(function, request_id, status, reason, self.clock.now())
        )
        self.controller.poke()
        return kept

    async def stop_deployment(self, deployment_id: str, rollback: bool) -> Deployment:
        return await self.commands.stop_deployment(deployment_id, rollback)

    async def set_alarm_state(self, name: str, state: str, reason: str) -> None:
        if self.app is None or name not in self.app.alarms:
            raise NotFound(f"Alarm {name} does not exist")
        self.signals.set_alarm_state(name, state, reason, self.clock.now())
        self.controller.poke()

    # ---- logs and notifications ----------------------------------------------------------

    async def _notify(self, d: Deployment, event: str) -> None:
        problems = await send_notifications(d, event, self._publish_sns)
        if problems:
            now = self.clock.now()
            await self.controller.append_events(
                tuple(DeploymentEvent(d.id, now, "notification", p) for p in problems)
            )

    async def _publish_sns(self, topic_arn: str, subject: str, message: str) -> None:
        """Publish to a topic in the services engine (a deployment trigger's message)."""
        await self.services.ensure_running()
        clients = Provisioner(self.services.engine_endpoint)
        await asyncio.to_thread(
            clients.client("sns").publish, TopicArn=topic_arn, Subject=subject, Message=message
        )


def new_request_id() -> str:
    return str(uuid.uuid4())


def python_minor() -> str:
    return f"python{sys.version_info.major}.{sys.version_info.minor}"
