"""The composition root of ``canaria up``: one process serving the gateway, the edge,
the control API, the controller and the dashboard, on one clock and one store.

A request: gateway (routes → alias → version) → ``Invocations.invoke`` → the function's
``FunctionRuntime`` → a warm worker → result → ``Invocations.record`` (metrics).

A release: ``Platform.release`` loads the template, builds artifacts, plans (publish /
point alias / start deployment), executes; the controller then moves each deployment.
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
from canaria.analysis.prom import PromMetrics
from canaria.auth import Keyring, access_key_id, ensure_token, secret_access_key
from canaria.aws.states import PlatformTasks, StateMachines
from canaria.clock import Clock, ScaledClock
from canaria.controller.deployer import (
    Build,
    PointAlias,
    Publish,
    ReleasePlan,
    StartDeployment,
    plan_release,
)
from canaria.controller.deployments import new_deployment
from canaria.controller.notify import send_webhooks
from canaria.controller.plan import Command
from canaria.controller.service import Controller
from canaria.controller.signals import LocalSignals
from canaria.errors import CanariaError, Conflict, InvalidRequest, NotFound
from canaria.files import FileAccess
from canaria.gateway import GatewayServer, Routing
from canaria.invocations import Invocations
from canaria.logbook import LogBook
from canaria.models import Alias, Application, FunctionSpec, InvokeResult, Version
from canaria.models.arns import function_arn
from canaria.models.deployment import Deployment, DeploymentEvent, HookStatus
from canaria.runtime import FunctionRuntime, LogLine, build_artifact
from canaria.services import ServicesEngine, provision
from canaria.services.pollers import QueuePollers
from canaria.store import CompletionReport, CompletionStatus, Store
from canaria.tables import DynamoEngine
from canaria.template.versions import with_versions

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


@dataclass(frozen=True)
class ReleaseResult:
    plan: ReleasePlan
    deployments: tuple[Deployment, ...]
    warnings: tuple[str, ...]


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
        self.state_dir = str(Path(options.state_dir).resolve())
        self.store = Store.open(self.state_dir, options.database_url)
        self.token = ensure_token(self.state_dir)
        self.access_key = access_key_id(self.token)
        self.secret_key = secret_access_key(self.token)
        self.keyring = Keyring(self.token)  # the operator's keys, and each function's
        self.metrics = Metrics()
        self.prom = PromMetrics()
        self.routing = Routing()
        self.logbook = LogBook(str(Path(self.state_dir) / "logs"))
        # which template paths the deploy API may read (canaria.files)
        self.files = FileAccess.for_server(options.template)
        self.app: Application | None = None
        self.signals = LocalSignals(self.metrics, self.store, clock)
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
            self.store, clock, RoutingBackend(self.routing), self, self.signals, self._notify
        )
        # request gates with completion: reported note the request ids they send
        self.controller.listeners.append(self.signals.follow)
        self.gateway = GatewayServer(
            self.routing,
            self.invocations,
            self.invocations,
            clock,
            host=options.host,
            port=options.port,
            split_mode=options.split_mode,  # type: ignore[arg-type]
            seed=options.seed,
        )
        # The DynamoDB engine's port is fixed now, so every function's environment can name
        # it even before the first template with a table starts it.
        self.tables = DynamoEngine(self.state_dir, self.access_key, self.secret_key)
        # S3, SQS, SNS, SSM, Secrets Manager, EventBridge: a relay on a fixed port in front
        # of moto, started when a template declares such resources or a function calls one
        self.services = ServicesEngine(log_path=str(Path(self.state_dir) / "logs" / "services.log"))
        self.services.on_restart = self._provision_services
        # functions' SQS events: queues polled, batches invoked through the alias
        self.pollers = QueuePollers(self.services.endpoint, self._invoke_from_queue)
        self._state_tasks = PlatformTasks(self, options.host, options.port)
        self.state_machines = StateMachines(clock, self._state_tasks, self.store)
        self._tasks: list[asyncio.Task[Any]] = []
        self._retiring: set[asyncio.Task[None]] = set()
        self.routing.alias_listeners.append(self._retire_unrouted)
        self._release_lock = asyncio.Lock()
        self.control_url = f"http://{options.host}:{options.control_port}"

    # ---- start / stop ------------------------------------------------------------------

    async def start(self) -> ReleaseResult:
        """Load the template; publish and point aliases that do not exist yet; serve."""
        app = self._load(
            self.options.template, self.options.parameter_overrides, self.options.config_env
        )
        self.controller.recover()
        # The gateway binds first (with --port 0 the OS picks the port), so state machines'
        # API Gateway tasks know where it is.
        await self.gateway.start()
        self._state_tasks.gateway = (self.options.host, self.gateway.port)
        result = await self._release(app, initial=True)
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
        await self.state_machines.close()
        await self.pollers.stop()
        await asyncio.gather(*self._retiring, return_exceptions=True)
        await asyncio.gather(*(rt.close() for rt in self.runtimes.values()))
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

    async def _provision_services(self, app: Application | None = None) -> None:
        """Create the template's S3, SQS, SNS, SSM, Secrets Manager and EventBridge
        resources that the engine does not hold (all of them again after it restarted)."""
        app = app or self.app
        if app is not None and app.services:
            for line in await provision(self.services.engine_endpoint, app.services):
                log.info("%s", line)

    async def _invoke_from_queue(self, function: str, event: bytes) -> InvokeResult:
        return await self.invoke_qualified(
            function, self.function_spec(function).auto_publish_alias, event
        )

    def _alarm_specs(self) -> Mapping[str, Any]:
        return self.app.alarms if self.app else {}

    # ---- templates and releases ------------------------------------------------------

    def _load(self, path: str, overrides: Mapping[str, str], config_env: str | None) -> Application:
        return templates.load(path, dict(overrides), config_env=config_env)

    async def deploy(
        self,
        path: str,
        overrides: Mapping[str, str],
        config_env: str | None = None,
        *,
        ignore_alarms: bool = False,
        dry_run: bool = False,
        group: bool = False,
        config: str | None = None,
        judge: Mapping[str, Any] | None = None,
    ) -> ReleaseResult:
        path = await asyncio.to_thread(self.files.check_template, path)
        app = await asyncio.to_thread(self._load, path, overrides, config_env)
        return await self._release(
            app,
            ignore_alarms=ignore_alarms,
            dry_run=dry_run,
            group=group,
            config=config,
            judge=judge,
        )

    async def _release(
        self,
        app: Application,
        *,
        initial: bool = False,
        ignore_alarms: bool = False,
        dry_run: bool = False,
        group: bool = False,
        config: str | None = None,
        judge: Mapping[str, Any] | None = None,
    ) -> ReleaseResult:
        async with self._release_lock:
            # Everything that can be refused is checked before anything changes.
            machines = self.state_machines.parse(app.state_machines)
            builds = {}
            for spec in app.functions.values():
                digest, artifact = await asyncio.to_thread(
                    build_artifact, spec.config.code_uri, self.state_dir
                )
                builds[spec.name] = Build(digest, artifact)
            latest = {name: self.store.latest_version(name) for name in app.functions}
            aliases = {(a.function, a.name): a for a in self.store.aliases()}
            busy = {
                (d_t.function, d_t.alias): d.id
                for d in self.store.deployments(active_only=True)
                for d_t in d.targets
            }
            plan = plan_release(app, builds, latest, aliases, group=group)
            for i in plan.instructions:
                if isinstance(i, StartDeployment) and not initial:
                    for t in i.targets:
                        if (t.function, t.alias) in busy:
                            held = busy[(t.function, t.alias)]
                            raise Conflict(
                                f"alias {t.function}:{t.alias} is already being deployed by "
                                f"{held}; wait for it, or run `canaria stop {held}`"
                            )
            if initial:
                # `up` only brings what is missing; changed code waits for `canaria deploy`.
                pending = [i for i in plan.instructions if isinstance(i, StartDeployment)]
                plan = ReleasePlan(
                    tuple(i for i in plan.instructions if not isinstance(i, StartDeployment)),
                    plan.versions,
                )
                warnings = list(app.warnings) + [
                    f"{t.function}:{t.alias} runs version {t.from_version}; the template has "
                    "changed since: run `canaria deploy` to ship it"
                    for i in pending
                    for t in i.targets
                    if (t.function, t.alias) not in busy  # the controller resumes those
                ]
            else:
                warnings = list(app.warnings)
            if dry_run:
                return ReleaseResult(plan, (), tuple(warnings))
            if app.tables:
                if not self.tables.running:
                    await self.tables.start()
                await self.tables.ensure_tables(app.tables)
            await self.services.listen()
            if app.services:
                await self.services.ensure_running()
                await self._provision_services(app)
            self.state_machines.adopt(app.state_machines, machines)
            app = with_versions(app, plan.versions)  # alarms on Fn.Version.Version
            self._adopt(app)
            self.pollers.apply(app.event_sources)
            started: list[Deployment] = []
            for i in plan.instructions:
                match i:
                    case Publish():
                        v, _ = self.store.publish(
                            i.function, i.digest, i.config, i.artifact, self.clock.now()
                        )
                        self.routing.set_latest(i.function, v.number)
                    case PointAlias(alias=alias):
                        await self.controller.update_alias(alias)
                    case StartDeployment():
                        spec = app.functions[i.function]
                        assert spec.deployment_preference is not None
                        d = new_deployment(
                            application=Path(app.template_path).parent.name,
                            targets=i.targets,
                            preference=spec.deployment_preference,
                            custom_configs=app.deployment_configs,
                            now=self.clock.now(),
                            ignore_alarms=ignore_alarms,
                            config_override=config,
                            judge_override=judge,
                            time_scale=(
                                self.clock.scale if isinstance(self.clock, ScaledClock) else 1.0
                            ),
                        )
                        started.append(await self.controller.start(d))
            return ReleaseResult(plan, tuple(started), tuple(warnings))

    def _adopt(self, app: Application) -> None:
        """Make ``app`` the running application: runtimes, routes, latest versions."""
        self.app = app
        self.keyring.add_functions(app.functions)
        for spec in app.functions.values():
            if spec.name not in self.runtimes:
                self.runtimes[spec.name] = FunctionRuntime(
                    spec.name,
                    reserved_concurrency=spec.config.reserved_concurrency,
                    env_extra=self.function_environment(spec.name),
                    clock=self.clock,
                    on_log=self._on_log,
                )
            else:
                self.runtimes[spec.name].set_reserved_concurrency(spec.config.reserved_concurrency)
            latest = self.store.latest_version(spec.name)
            if latest is not None:
                self.routing.set_latest(spec.name, latest.number)
        self.routing.set_routes(
            app.routes,
            {s.name: s.auto_publish_alias for s in app.functions.values() if s.auto_publish_alias},
        )

    def endpoints(self) -> dict[str, str]:
        """``AWS_ENDPOINT_URL`` (the edge) and ``AWS_ENDPOINT_URL_<SERVICE>`` for the
        services served elsewhere: what functions get and ``canaria env`` exports."""
        return {
            "AWS_ENDPOINT_URL": self.control_url,
            "AWS_ENDPOINT_URL_DYNAMODB": self.tables.endpoint,
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
        self, function: str, version: int, event: bytes, *, alias: str | None
    ) -> InvokeResult:
        """The gateway's Invoker: run ``event`` on ``function`` at ``version``."""
        return await self.invocations.invoke(function, version, event, alias=alias)

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

    def resolve(self, function: str, qualifier: str | None) -> tuple[int, str | None]:
        """Version and alias a qualifier names; an alias splits by its weights."""
        return self.invocations.resolve(function, qualifier)

    async def invoke_qualified(
        self, function: str, qualifier: str | None, payload: bytes
    ) -> InvokeResult:
        """Lambda Invoke semantics (edge, CLI, hooks, state machines), with metrics."""
        return await self.invocations.invoke_qualified(function, qualifier, payload)

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
        return await self.command(
            deployment_id, Command.STOP if rollback else Command.STOP_NO_ROLLBACK
        )

    async def set_alarm_state(self, name: str, state: str, reason: str) -> None:
        if self.app is None or name not in self.app.alarms:
            raise NotFound(f"Alarm {name} does not exist")
        self.signals.set_alarm_state(name, state, reason, self.clock.now())
        self.controller.poke()

    # ---- HookRunner ----------------------------------------------------------------------

    async def run_hook(self, function: str, payload: Mapping[str, str]) -> str | None:
        import orjson

        spec = self.function_spec(function)
        try:
            result = await self.invoke_qualified(
                function, spec.auto_publish_alias, orjson.dumps(dict(payload))
            )
        except CanariaError as exc:
            return exc.message
        if result.function_error:
            try:
                err = orjson.loads(result.payload)
                return f"{err.get('errorType')}: {err.get('errorMessage')}"
            except Exception:
                return result.payload.decode(errors="replace")
        return None

    # ---- operator commands ---------------------------------------------------------------

    async def command(self, deployment_id: str, command: Command) -> Deployment:
        """An operator command; the controller refuses one on a completed deployment."""
        return await self.controller.command(deployment_id, command)

    async def rollback_function(self, function: str) -> Deployment:
        """Roll back the deployment in progress, or the last one that succeeded (by a
        rollback deployment of its own)."""
        spec = self.function_spec(function)
        for d in self.store.deployments(active_only=True):
            if function in d.functions:
                return await self.controller.command(d.id, Command.ROLLBACK)
        alias_name = spec.auto_publish_alias
        if alias_name is None:
            raise InvalidRequest(f"{function} has no alias to roll back (no AutoPublishAlias)")
        current = self.store.alias(function, alias_name)
        for d in self.store.deployments(limit=1000):
            target = next((t for t in d.targets if t.function == function), None)
            if target is None or d.state.value != "Succeeded" or d.rolled_back or d.rollback_of:
                continue
            if current is None or current.version != target.to_version:
                break
            return await self.controller.rollback_finished(d, function)
        raise InvalidRequest(f"{function}: no deployment to roll back")

    # ---- logs and notifications ----------------------------------------------------------

    def _on_log(self, line: LogLine) -> None:
        self.logbook.add(
            line.function, line.version, line.request_id, line.time, line.stream, line.text
        )

    async def _notify(self, d: Deployment, event: str) -> None:
        problems = await send_webhooks(d, event)
        if problems:
            now = self.clock.now()
            await self.controller.append_events(
                tuple(DeploymentEvent(d.id, now, "notification", p) for p in problems)
            )


def new_request_id() -> str:
    return str(uuid.uuid4())


def python_minor() -> str:
    return f"python{sys.version_info.major}.{sys.version_info.minor}"
