"""A small real world for the release executor: a template written to disk, artifacts
built, a SQLite store, a controller, the gateway's routing, the state machines and
function runtimes (never started: no request is sent). Only the local engines (DynamoDB,
moto, queue pollers) are replaced, by an in-memory ``Resources`` that records what it was
asked to create."""

from __future__ import annotations

import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from canaria import template as templates
from canaria.auth import Keyring
from canaria.aws.states import StateMachines
from canaria.clock import ManualClock
from canaria.controller.service import Controller
from canaria.files import FileAccess
from canaria.gateway import Routing
from canaria.models import (
    Application,
    DurableSpec,
    EventSource,
    FunctionSpec,
    FunctionUrlSpec,
    MetricFilterSpec,
    PipeSpec,
    ServiceResource,
    TableSpec,
    WebSocketApiSpec,
)
from canaria.models.appsync import GraphQLApiSpec
from canaria.models.firehose import DeliveryStreamSpec
from canaria.models.load_balancers import ListenerSpec
from canaria.models.schedules import ScheduledInvocation
from canaria.platform import RoutingBackend
from canaria.release import ReleaseExecutor
from canaria.runtime import FunctionRuntime
from canaria.store import Store
from tests.unit.controller.fakes import ScriptedHooks, SettableSignals

PY = f"python{sys.version_info.major}.{sys.version_info.minor}"

TEMPLATE = """\
Transform: AWS::Serverless-2016-10-31
Resources:
  Api:
    Type: AWS::Serverless::Function
    Properties:
      Handler: app.handler
      Runtime: {py}
      CodeUri: src
      AutoPublishAlias: live
      Environment:
        Variables:
          GREETING: {greeting}
      DeploymentPreference:
        Type: {config}
      Events:
        Get:
          Type: HttpApi
          Properties:
            Path: /hello
            Method: GET
{work}  Jobs:
    Type: AWS::SQS::Queue
  Items:
    Type: AWS::Serverless::SimpleTable
"""

WORK = """\
        Work:
          Type: SQS
          Properties:
            Queue: !GetAtt Jobs.Arn
        Nightly:
          Type: Schedule
          Properties:
            Schedule: rate(1 day)
"""

MACHINE = """\
  Check:
    Type: AWS::Serverless::StateMachine
    Properties:
      Definition:
        StartAt: Done
        States:
          Done:
            Type: Succeed
"""


@dataclass
class RecordingResources:
    """An in-memory ``Resources``: what the engines would have been asked to hold."""

    tables: dict[str, TableSpec] = field(default_factory=dict)
    services: dict[str, ServiceResource] = field(default_factory=dict)
    polled: tuple[EventSource, ...] = ()
    fired: tuple[ScheduledInvocation, ...] = ()
    urls: dict[str, FunctionUrlSpec] = field(default_factory=dict)
    websockets: dict[str, WebSocketApiSpec] = field(default_factory=dict)
    graphql: dict[str, GraphQLApiSpec] = field(default_factory=dict)
    durable: dict[str, DurableSpec] = field(default_factory=dict)
    listeners: dict[str, ListenerSpec] = field(default_factory=dict)
    metric_filters: tuple[MetricFilterSpec, ...] = ()

    async def create_tables(self, tables: Mapping[str, TableSpec]) -> None:
        self.tables.update(tables)

    async def create_services(self, resources: Mapping[str, ServiceResource]) -> None:
        self.services.update(resources)

    async def serve_function_urls(self, urls: Mapping[str, FunctionUrlSpec]) -> None:
        self.urls = dict(urls)

    def serve_websockets(self, apis: Mapping[str, WebSocketApiSpec]) -> None:
        self.websockets = dict(apis)

    async def serve_graphql(self, apis: Mapping[str, GraphQLApiSpec]) -> None:
        self.graphql = dict(apis)

    def graphql_url(self, name: str) -> str:
        return f"http://127.0.0.1:1/{name}/graphql"

    async def serve_load_balancers(self, listeners: Mapping[str, ListenerSpec]) -> None:
        self.listeners = dict(listeners)

    def measure(self, app: Application) -> None:
        self.metric_filters = app.metric_filters

    async def run_durable(
        self, functions: Mapping[str, FunctionSpec], names: Mapping[str, str]
    ) -> None:
        self.durable = {n: f.durable for n, f in functions.items() if f.durable is not None}

    def poll_sources(
        self,
        sources: tuple[EventSource, ...],
        pipes: Mapping[str, PipeSpec],
        delivery_streams: Mapping[str, DeliveryStreamSpec],
    ) -> None:
        self.polled = sources
        self.delivery_streams = delivery_streams

    def fire_schedules(self, schedules: tuple[ScheduledInvocation, ...]) -> None:
        self.fired = schedules


class NoTasks:
    """State machine tasks: none of these tests starts an execution."""

    async def run(self, resource: str, parameters: object, *, timeout_s: float | None) -> object:
        raise AssertionError(f"no task runs in these tests ({resource})")


class World:
    def __init__(self, tmp: Path) -> None:
        self.dir = tmp / "app"
        (self.dir / "src").mkdir(parents=True)
        (self.dir / "src" / "app.py").write_text("def handler(event, context):\n    return 1\n")
        self.clock = ManualClock(start=1000.0)
        self.store = Store.open(str(tmp / "state"))
        self.routing = Routing()
        self.backend = RoutingBackend(self.routing)
        self.controller = Controller(
            self.store, self.clock, self.backend, ScriptedHooks(), SettableSignals()
        )
        self.state_machines = StateMachines(self.clock, NoTasks(), self.store)
        self.resources = RecordingResources()
        self.runtimes: dict[str, FunctionRuntime] = {}
        self.releases = ReleaseExecutor(
            store=self.store,
            clock=self.clock,
            deployments=self.controller,
            routing=self.routing,
            state_machines=self.state_machines,
            resources=self.resources,
            runtimes=self.runtimes,
            new_runtime=self.runtime,
            keyring=Keyring("t" * 32),
            files=FileAccess([self.dir]),
            build_dir=str(tmp / "state"),
        )

    def runtime(self, spec: FunctionSpec) -> FunctionRuntime:
        return FunctionRuntime(
            spec.name,
            reserved_concurrency=None,
            env_extra={},
            clock=self.clock,
            on_log=lambda line: None,
        )

    def app(
        self, greeting: str = "hi", config: str = "AllAtOnce", *, queue: bool = True
    ) -> Application:
        work = WORK if queue else ""
        body = TEMPLATE.format(py=PY, greeting=greeting, config=config, work=work)
        path = self.dir / "template.yaml"
        path.write_text(body + MACHINE)
        return templates.load(str(path), {})

    async def close(self) -> None:
        for runtime in self.runtimes.values():
            await runtime.close()
        await self.state_machines.close()
        self.store.close()
