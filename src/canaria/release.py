"""Carrying out a release: ``canaria up`` and ``canaria deploy`` end here.

``ReleaseExecutor.release(app)`` checks everything that can be refused before anything
changes (state machine definitions, artifacts, aliases held by a deployment in progress),
asks the planner (``canaria.controller.deployer.plan_release``) what the template change
means, and executes the plan one instruction at a time: tables, service resources, state
machines, functions and their routes, queue pollers, then versions (exactly the numbers
the plan shows), aliases and deployments, which it hands to the controller. A dry run
stops after planning, so it prints everything a real run would do.

Its collaborators are narrow: the controller's alias and deployment commands
(``Deployments``), where tables, service resources and pollers live (``Resources``), the
store, the gateway's routing and the state machines; a test drives it with real small
parts and no server.
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, assert_never

from canaria import nodejs, pythons
from canaria import template as templates
from canaria.analysis.api_metrics import ApiMetrics
from canaria.analysis.log_metrics import EMF_MARK, LogMetrics
from canaria.appsync.server import GraphQLApis
from canaria.auth import Keyring
from canaria.aws.states import StateMachines
from canaria.clock import Clock, ScaledClock
from canaria.controller.deployer import (
    Build,
    CreateServices,
    CreateTables,
    FireSchedules,
    LoadFunctions,
    LoadStateMachines,
    PointAlias,
    PollSources,
    Publish,
    ReleasePlan,
    StartDeployment,
    plan_release,
)
from canaria.controller.deployments import new_deployment
from canaria.durable import DurableExecutions
from canaria.errors import BuildError, Conflict
from canaria.files import FileAccess
from canaria.gateway import Routing
from canaria.gateway.load_balancers import LoadBalancers
from canaria.gateway.urls import FunctionUrls
from canaria.gateway.websockets import WebSocketHub
from canaria.log_groups import LogGroups
from canaria.logbook import LogBook, LogEntry
from canaria.models import (
    Alias,
    Application,
    DeploymentPreference,
    EventSource,
    FunctionSpec,
    FunctionUrlSpec,
    LayerSpec,
    PipeSpec,
    ServiceResource,
    TableSpec,
    WebSocketApiSpec,
)
from canaria.models.appsync import GraphQLApiSpec
from canaria.models.deployment import Deployment, RequestGate, SetWeight
from canaria.models.firehose import DeliveryStreamSpec
from canaria.models.load_balancers import ListenerSpec
from canaria.models.schedules import ScheduledInvocation
from canaria.npm import SetupError
from canaria.runtime import (
    FunctionRuntime,
    build_artifact,
    build_image,
    build_inline,
    build_layer,
)
from canaria.runtime.sdk import provide_sdk
from canaria.runtimes import installed_node
from canaria.services import ServicesEngine, provision
from canaria.services.firehose import DeliveryStreams
from canaria.services.log_subscriptions import LogSubscriptions
from canaria.services.pipes import Pipes
from canaria.services.pollers import QueuePollers
from canaria.services.schedules import Schedules
from canaria.services.streams import StreamPollers
from canaria.store import Store
from canaria.tables import DynamoEngine

__all__ = [
    "Deployments",
    "LocalResources",
    "ReleaseExecutor",
    "ReleaseResult",
    "Resources",
    "Rollout",
]

log = logging.getLogger("canaria")


@dataclass(frozen=True)
class ReleaseResult:
    plan: ReleasePlan
    deployments: tuple[Deployment, ...]
    warnings: tuple[str, ...]


@dataclass(frozen=True)
class Rollout:
    """How the deployments a release starts run (``canaria deploy`` options)."""

    ignore_alarms: bool = False
    config: str | None = None  # a deployment config instead of the template's
    judge: Mapping[str, Any] | None = None  # judge settings over the template's


class Deployments(Protocol):
    """The controller's commands a release gives: every alias and deployment write
    goes through it."""

    async def update_alias(self, alias: Alias) -> Alias: ...

    async def start(self, d: Deployment) -> Deployment: ...


class Resources(Protocol):
    """Where the template's tables, service resources, function URLs and queue pollers
    live."""

    async def create_tables(self, tables: Mapping[str, TableSpec]) -> None: ...

    async def create_services(self, resources: Mapping[str, ServiceResource]) -> None: ...

    async def serve_function_urls(self, urls: Mapping[str, FunctionUrlSpec]) -> None: ...

    def serve_websockets(self, apis: Mapping[str, WebSocketApiSpec]) -> None: ...

    async def serve_graphql(self, apis: Mapping[str, GraphQLApiSpec]) -> None: ...

    async def serve_load_balancers(self, listeners: Mapping[str, ListenerSpec]) -> None: ...

    def measure(self, app: Application) -> None:
        """Keep ``app``'s log groups (its functions' and the template's) and its
        metrics: EMF objects and its metric filters' matches in the
        functions' log lines, its APIs' AWS/ApiGateway metrics by their names and ids; and
        deliver its log subscriptions' matches to their functions."""
        ...

    def graphql_url(self, name: str) -> str: ...

    async def run_durable(
        self, functions: Mapping[str, FunctionSpec], names: Mapping[str, str]
    ) -> None: ...

    def poll_sources(
        self,
        sources: tuple[EventSource, ...],
        pipes: Mapping[str, PipeSpec],
        delivery_streams: Mapping[str, DeliveryStreamSpec],
    ) -> None: ...

    def fire_schedules(self, schedules: tuple[ScheduledInvocation, ...]) -> None: ...


class LocalResources:
    """The supervised local engines: DynamoDB for tables, the services engine (moto
    behind a relay) for S3, SQS, SNS, SSM, Secrets Manager, EventBridge, Kinesis and
    Cognito user pools, the readers that feed queue and stream batches to functions, the
    timers that fire schedules, the listeners of function URLs and load balancers, and the durable
    execution service."""

    def __init__(
        self,
        tables: DynamoEngine,
        services: ServicesEngine,
        pollers: QueuePollers,
        streams: StreamPollers,
        pipes: Pipes,
        firehose: DeliveryStreams,
        schedules: Schedules,
        function_urls: FunctionUrls,
        websockets: WebSocketHub,
        durable: DurableExecutions,
        graphql: GraphQLApis,
        load_balancers: LoadBalancers,
        logbook: LogBook,
        log_groups: LogGroups,
        log_metrics: LogMetrics,
        api_metrics: ApiMetrics,
        log_subscriptions: LogSubscriptions,
    ) -> None:
        self.tables = tables
        self.services = services
        self.pollers = pollers
        self.streams = streams
        self.pipes = pipes
        self.firehose = firehose
        self.schedules = schedules
        self.function_urls = function_urls
        self.websockets = websockets
        self.durable = durable
        self.graphql = graphql
        self.load_balancers = load_balancers
        self.logbook = logbook
        self.log_groups = log_groups
        self.log_metrics = log_metrics
        self.api_metrics = api_metrics
        self.log_subscriptions = log_subscriptions
        self._provisioned: Mapping[str, ServiceResource] = {}  # the last release's
        services.on_restart = self._restarted

    async def create_tables(self, tables: Mapping[str, TableSpec]) -> None:
        if not self.tables.running:
            await self.tables.start()
        await self.tables.ensure_tables(tables)

    async def create_services(self, resources: Mapping[str, ServiceResource]) -> None:
        if self.services.triggers is not None:
            self.services.triggers.configure(resources)  # the user pools' Lambda triggers
        self._provisioned = resources
        if resources:
            await self.services.ensure_running()
            await self._provision()

    async def serve_function_urls(self, urls: Mapping[str, FunctionUrlSpec]) -> None:
        await self.function_urls.serve(urls)

    def serve_websockets(self, apis: Mapping[str, WebSocketApiSpec]) -> None:
        self.websockets.configure(apis)

    async def serve_graphql(self, apis: Mapping[str, GraphQLApiSpec]) -> None:
        await self.graphql.serve(apis)

    def graphql_url(self, name: str) -> str:
        return self.graphql.url_for(name)

    async def serve_load_balancers(self, listeners: Mapping[str, ListenerSpec]) -> None:
        await self.load_balancers.serve(listeners)

    def measure(self, app: Application) -> None:
        self.log_groups.configure(app)
        self.log_metrics.configure(app.metric_filters)
        self.log_subscriptions.configure(app.log_subscriptions)
        read_metrics, deliver = self.log_metrics.read, self.log_subscriptions.read

        def read(entry: LogEntry) -> None:
            read_metrics(entry)
            deliver(entry)

        functions = self.log_metrics.functions | self.log_subscriptions.functions
        self.logbook.tap(read, functions, EMF_MARK)
        self.api_metrics.configure(app.api_labels)

    async def run_durable(
        self, functions: Mapping[str, FunctionSpec], names: Mapping[str, str]
    ) -> None:
        """The durable execution service, for an application with durable functions."""
        await self.durable.adopt(functions, names)

    def poll_sources(
        self,
        sources: tuple[EventSource, ...],
        pipes: Mapping[str, PipeSpec],
        delivery_streams: Mapping[str, DeliveryStreamSpec],
    ) -> None:
        self.pipes.apply(pipes)  # before the readers hand them batches
        self.firehose.apply(delivery_streams)
        self.pollers.apply(sources)
        self.streams.apply(sources)

    def fire_schedules(self, schedules: tuple[ScheduledInvocation, ...]) -> None:
        self.schedules.apply(schedules)

    async def _restarted(self) -> None:
        """moto started again, empty: create the resources again and read the streams
        again from their start."""
        await self._provision()
        self.streams.restarted()

    async def _provision(self) -> None:
        """Create the resources the engine does not hold (all of them again after it
        restarted: moto keeps them in memory)."""
        if self._provisioned:
            for line in await provision(self.services.engine_endpoint, self._provisioned):
                log.info("%s", line)


class ReleaseExecutor:
    """Plans and executes releases, one at a time; ``app`` is the application running."""

    def __init__(
        self,
        *,
        store: Store,
        clock: Clock,
        deployments: Deployments,
        routing: Routing,
        state_machines: StateMachines,
        resources: Resources,
        runtimes: dict[str, FunctionRuntime],
        new_runtime: Callable[[FunctionSpec], FunctionRuntime],
        keyring: Keyring,
        files: FileAccess,
        build_dir: str,
    ) -> None:
        self.store = store
        self.clock = clock
        self.deployments = deployments
        self.routing = routing
        self.state_machines = state_machines
        self.resources = resources
        self.runtimes = runtimes  # shared with the invocations: one runtime per function
        self.new_runtime = new_runtime
        self.keyring = keyring
        self.files = files
        self.build_dir = build_dir  # where artifacts are built (the state directory)
        self.app: Application | None = None
        self._lock = asyncio.Lock()
        # the Python lines whose packages could not be installed, and why: not tried again
        # for each function and layer of the line while this process runs
        self._python_refused: dict[str, str] = {}

    async def deploy(
        self,
        path: str,
        overrides: Mapping[str, str],
        config_env: str | None = None,
        *,
        rollout: Rollout = Rollout(),
        dry_run: bool = False,
        group: bool = False,
    ) -> ReleaseResult:
        """``canaria deploy``: load the template at ``path`` (one the server may read)
        and release it."""
        path = await asyncio.to_thread(self.files.check_template, path)
        app = await asyncio.to_thread(
            templates.load,
            path,
            dict(overrides),
            config_env=config_env,
            readable=self.files,
            api_key_value=self.keyring.api_key_value,  # generated API keys' values
            graphql_url=self.resources.graphql_url,  # where GraphQL APIs are served
        )
        return await self.release(app, rollout=rollout, dry_run=dry_run, group=group)

    async def release(
        self,
        app: Application,
        *,
        initial: bool = False,
        rollout: Rollout = Rollout(),
        dry_run: bool = False,
        group: bool = False,
    ) -> ReleaseResult:
        """Plan ``app`` against what is stored and running, then (unless ``dry_run``)
        execute the plan. ``initial`` (``canaria up``) brings only what is missing:
        changed code waits for ``canaria deploy``."""
        async with self._lock:
            machines = self.state_machines.parse(app.state_machines)
            plan = plan_release(
                app,
                await self._build(app),
                {name: self.store.latest_version(name) for name in app.functions},
                {(a.function, a.name): a for a in self.store.aliases()},
                group=group,
                running=self.app,
            )
            busy = self._busy_aliases()
            warnings = list(app.warnings)
            if initial:
                warnings += _waiting_changes(plan, busy)
                plan = _without_deployments(plan)
            else:
                _refuse_held(plan, busy)
            if dry_run:
                return ReleaseResult(plan, (), tuple(warnings))
            started = await self.execute(plan, app, machines, rollout)
            return ReleaseResult(plan, started, tuple(warnings))

    async def execute(
        self,
        plan: ReleasePlan,
        app: Application,
        machines: Mapping[str, Any],
        rollout: Rollout,
    ) -> tuple[Deployment, ...]:
        """Carry out ``plan`` (made from ``app``; ``machines`` are its parsed state
        machines); return the deployments it started."""
        started: list[Deployment] = []
        for i in plan.instructions:
            match i:
                case CreateTables(tables=tables):
                    await self.resources.create_tables(tables)
                case CreateServices(resources=resources):
                    await self.resources.create_services(resources)
                case LoadStateMachines(machines=specs):
                    self.state_machines.adopt(specs, machines)
                case LoadFunctions(app=running):
                    self._load_functions(running)
                    await self.resources.serve_function_urls(
                        {n: f.url for n, f in running.functions.items() if f.url is not None}
                    )
                    self.resources.serve_websockets(running.websockets)
                    await self.resources.serve_graphql(running.graphql_apis)
                    await self.resources.serve_load_balancers(running.listeners)
                    self.resources.measure(running)
                    await self.resources.run_durable(running.functions, running.function_names)
                case PollSources(sources=sources, pipes=pipes, delivery_streams=streams):
                    self.resources.poll_sources(sources, pipes, streams)
                case FireSchedules(schedules=schedules):
                    self.resources.fire_schedules(schedules)
                case Publish():
                    v, _ = self.store.publish(
                        i.function,
                        i.digest,
                        i.config,
                        i.artifact,
                        self.clock.now(),
                        number=i.number,
                    )
                    self.routing.set_latest(i.function, v.number)
                case PointAlias(alias=alias):
                    await self.deployments.update_alias(alias)
                case StartDeployment():
                    d = self._deployment(app, i, rollout)
                    await self._prepare(d)
                    started.append(await self.deployments.start(d))
                case _:
                    assert_never(i)
        return tuple(started)

    async def _prepare(self, d: Deployment) -> None:
        """Start environments of each new version before its deployment starts, as many
        as its first step's share of the environments the version it replaces has now
        (at least one, and at least the runtime's ``min_serving`` when the version it
        replaces serves with that many), so the canary's first requests are not held by
        cold starts: at 1,000 req/s a cold start of 100 ms would let a hundred canary
        requests through before their results were in."""
        first = d.steps[0] if d.steps else None
        jobs = []
        for t in d.targets:
            runtime = self.runtimes.get(t.function)
            if runtime is None:
                continue
            serving = runtime.environments().get(t.from_version or 0, 0)
            match first:
                case SetWeight(weight=weight):
                    # and the pool a queue grows it to (min_serving) when the stable
                    # version serves with that many: a shift to 100 % then starts none
                    floor = min(serving, runtime.min_serving)
                    count = max(1, floor, math.ceil(serving * weight))
                case RequestGate(count=requests):
                    count = max(1, min(serving, requests))
                case _:  # a manual gate: nothing is sent until someone opens it
                    count = 1
            jobs.append(self._prepare_one(runtime, t.function, t.to_version, count))
        await asyncio.gather(*jobs)

    async def _prepare_one(
        self, runtime: FunctionRuntime, function: str, number: int, count: int
    ) -> None:
        have = await runtime.prepare(self.store.version(function, number), count)
        if have == 0:
            log.warning(
                "%s version %d: no environment could be started before traffic (its init "
                "failed or timed out); its first requests will start one and show why",
                function,
                number,
            )

    async def _build(self, app: Application) -> dict[str, Build]:
        builds = {}
        layers_built: dict[LayerSpec, tuple[str, str]] = {}  # a layer shared: built once
        for spec in app.functions.values():
            try:
                if spec.inline is not None:
                    digest, artifact = await asyncio.to_thread(
                        build_inline, spec.inline, self.build_dir
                    )
                elif spec.image is not None:
                    await self._provide_python(spec.name, spec.config.runtime)
                    python = pythons.python_for(spec.config.runtime)
                    digest, artifact = await asyncio.to_thread(
                        build_image,
                        spec.image,
                        self.build_dir,
                        self.files.refusal,
                        python,
                        f"{spec.config.runtime}\0{python.version}",
                    )
                else:
                    await self._provide_python(spec.name, spec.config.runtime)
                    digest, artifact = await asyncio.to_thread(
                        build_artifact,
                        spec.config.code_uri,
                        self.build_dir,
                        spec.build,
                        self.files.refusal,
                        spec.config.runtime,
                    )
            except BuildError as exc:
                raise BuildError(f"{spec.name}: {exc.message}") from None
            await self._provide_node(spec)
            await self._provide_sdk(spec, artifact)
            for layer in spec.layers:
                if layer in layers_built:
                    continue
                if layer.build == "python":
                    await self._provide_python(f"layer {layer.name}", layer.build_method)
                try:
                    layers_built[layer] = await asyncio.to_thread(
                        build_layer, layer, self.build_dir, self.files.refusal
                    )
                except BuildError as exc:
                    raise BuildError(f"{spec.name}: layer {layer.name}: {exc.message}") from None
            layers = tuple(layers_built[layer] for layer in spec.layers)
            builds[spec.name] = Build(digest, artifact, layers)
        return builds

    async def _provide_python(self, name: str, runtime: str) -> None:
        """The packages canaria's worker needs, for this machine's Python of the version
        ``runtime`` names (once); when they cannot be installed, ``name`` (a function, or
        a layer built for that runtime) is run or built by canaria's own Python, and the
        warning says so."""
        line = pythons.wanted(runtime)
        if line is None or pythons.installed(line) is not None:
            return
        if line in self._python_refused:
            log.warning(
                "%s (%s): canaria's Python %s takes its place (%s)",
                name,
                runtime,
                pythons.RUNNING,
                self._python_refused[line],
            )
            return
        log.warning(
            "%s (%s): installing the packages Lambda's runtime provides (boto3, the durable "
            "execution SDK) for this machine's Python %s (once)",
            name,
            runtime,
            line,
        )
        try:
            await asyncio.to_thread(pythons.install, line)
        except SetupError as exc:
            self._python_refused[line] = exc.message
            log.warning(
                "%s (%s): canaria's Python %s takes its place: %s",
                name,
                runtime,
                pythons.RUNNING,
                exc.message,
            )

    async def _provide_node(self, spec: FunctionSpec) -> None:
        """Node.js of the release line the function's runtime names, installed from the npm
        registry the first time a template needs it; when it cannot be, the function runs
        on the ``node`` on PATH, and the warning says so."""
        major = nodejs.wanted(spec.config.runtime)
        if major is None or nodejs.installed(major) is not None:
            return
        # a notice, not a fault: about 50 MB to fetch, so the user sees why the build waits
        log.warning(
            "%s (%s): installing Node.js %d from the npm registry (once; "
            "`canaria setup --node %d` does it ahead)",
            spec.name,
            spec.config.runtime,
            major,
            major,
        )
        try:
            node = await asyncio.to_thread(nodejs.install, major)
        except SetupError as exc:
            machine = installed_node()
            log.warning(
                "%s (%s): Node.js %d could not be installed, so it runs on the installed "
                "Node.js %s: %s",
                spec.name,
                spec.config.runtime,
                major,
                machine.version if machine else "(none)",
                exc.message,
            )
            return
        log.info("Node.js %s installed in %s", node.version, nodejs.home(major))

    async def _provide_sdk(self, spec: FunctionSpec, artifact: str) -> None:
        """The AWS SDK packages Lambda provides that a Node.js function names beyond
        canaria's own, installed for it; when npm cannot, the function is published all
        the same, and its import fails at its first invocation, as it did before."""
        try:
            names = await asyncio.to_thread(
                provide_sdk, Path(artifact), self.build_dir, spec.config.runtime
            )
        except BuildError as exc:
            log.warning(
                "%s: the AWS SDK packages it imports beyond canaria's own could not be "
                "installed, so importing them will fail: %s",
                spec.name,
                exc.message,
            )
            return
        if names:
            log.info("%s: installed %s (Lambda provides them)", spec.name, ", ".join(names))

    def _busy_aliases(self) -> dict[tuple[str, str], str]:
        """(function, alias) → the id of the deployment in progress that holds it."""
        return {
            (t.function, t.alias): d.id
            for d in self.store.deployments(active_only=True)
            for t in d.targets
        }

    def _load_functions(self, app: Application) -> None:
        """Make ``app`` the running application: runtimes, routes, latest versions."""
        self.app = app
        self.keyring.add_functions(app.functions)
        for spec in app.functions.values():
            runtime = self.runtimes.get(spec.name)
            if runtime is None:
                self.runtimes[spec.name] = self.new_runtime(spec)
            else:
                runtime.set_reserved_concurrency(spec.config.reserved_concurrency)
            latest = self.store.latest_version(spec.name)
            if latest is not None:
                self.routing.set_latest(spec.name, latest.number)
        self.routing.set_routes(
            app.routes,
            {s.name: s.auto_publish_alias for s in app.functions.values() if s.auto_publish_alias},
            {a.logical_id: a.access_log for a in app.apis.values() if a.access_log is not None},
        )

    def _deployment(self, app: Application, i: StartDeployment, rollout: Rollout) -> Deployment:
        preference = app.functions[i.function].deployment_preference
        assert preference is not None  # the planner starts deployments only for these
        return new_deployment(
            application=Path(app.template_path).parent.name,
            targets=i.targets,
            preference=preference,
            custom_configs=app.deployment_configs,
            now=self.clock.now(),
            ignore_alarms=rollout.ignore_alarms,
            config_override=rollout.config,
            judge_override=rollout.judge,
            time_scale=self.clock.scale if isinstance(self.clock, ScaledClock) else 1.0,
            hook_versions=self._hook_versions(preference),
        )

    def _hook_versions(self, preference: DeploymentPreference) -> dict[str, int]:
        """The hooks' versions this release published (or kept): the hooks that belong
        to it, pinned in the deployment so that a restart runs these and no others."""
        found = {}
        for hook in (preference.pre_traffic_hook, preference.post_traffic_hook):
            latest = self.store.latest_version(hook) if hook else None
            if hook and latest is not None:
                found[hook] = latest.number
        return found


def _refuse_held(plan: ReleasePlan, busy: Mapping[tuple[str, str], str]) -> None:
    """``Conflict`` when the plan would deploy an alias a deployment in progress holds."""
    for i in plan.instructions:
        if isinstance(i, StartDeployment):
            for t in i.targets:
                held = busy.get((t.function, t.alias))
                if held is not None:
                    raise Conflict(
                        f"alias {t.function}:{t.alias} is already being deployed by "
                        f"{held}; wait for it, or run `canaria stop {held}`"
                    )


def _without_deployments(plan: ReleasePlan) -> ReleasePlan:
    return ReleasePlan(
        tuple(i for i in plan.instructions if not isinstance(i, StartDeployment)), plan.versions
    )


def _waiting_changes(plan: ReleasePlan, busy: Mapping[tuple[str, str], str]) -> list[str]:
    """What ``canaria up`` leaves for ``canaria deploy``: aliases whose template changed
    (not those a deployment in progress holds: the controller resumes those)."""
    return [
        f"{t.function}:{t.alias} runs version {t.from_version}; the template has "
        "changed since: run `canaria deploy` to ship it"
        for i in plan.instructions
        if isinstance(i, StartDeployment)
        for t in i.targets
        if (t.function, t.alias) not in busy
    ]
