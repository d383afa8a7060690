"""`canaria deploy`: decide what a template change means, then do it.

``plan_release(app, builds, observed)`` is pure (chalice's planner): from the template,
the built artifacts, the versions and aliases already stored and the application running
now, it returns the list of instructions that ``canaria deploy --dry-run`` prints and
``canaria.release.ReleaseExecutor`` carries out, in this order: create the tables and
the service resources, load the state machines and the functions (runtimes, routes),
poll the queues, publish versions, point aliases, start deployments.

A version is published only when its digest changed: the digest covers the code
(``AutoPublishCodeSha256`` when set, else the artifact's content hash) and the
configuration (handler, runtime, environment, timeout, memory, concurrency).
``!Ref Fn.Version`` placeholders in environments resolve to the version this release
gives ``Fn``, so a hook that names the version under test changes with it, as on AWS.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from typing import assert_never

from canaria.errors import InvalidRequest
from canaria.models import (
    Alias,
    Application,
    EventSource,
    FunctionConfig,
    FunctionSpec,
    PipeSpec,
    QueueEventSource,
    ServiceResource,
    StateMachineSpec,
    TableSpec,
    Version,
)
from canaria.models.deployment import Target
from canaria.models.firehose import DeliveryStreamSpec
from canaria.models.schedules import ScheduledInvocation
from canaria.store.codec import dumps
from canaria.template.versions import with_versions

PLACEHOLDER = re.compile(r"\{\{canaria:version:([^}]+)\}\}")


@dataclass(frozen=True)
class Build:
    code_digest: str
    artifact: str
    layers: tuple[tuple[str, str], ...] = ()  # (digest, directory) of each of its layers


@dataclass(frozen=True)
class CreateTables:
    """Create the tables the local DynamoDB engine lacks (existing ones keep their data)."""

    tables: Mapping[str, TableSpec]


@dataclass(frozen=True)
class CreateServices:
    """Create the S3, SQS, SNS, SSM, Secrets Manager, EventBridge, Kinesis and Cognito
    resources the services engine lacks."""

    resources: Mapping[str, ServiceResource]


@dataclass(frozen=True)
class LoadStateMachines:
    """Serve these state machines (new definitions replace the running ones)."""

    machines: Mapping[str, StateMachineSpec]


@dataclass(frozen=True)
class LoadFunctions:
    """Make ``app`` the running application: a runtime per function, its routes; its
    alarms name the versions this release runs (``Fn.Version.Version``)."""

    app: Application


@dataclass(frozen=True)
class PollSources:
    """Read exactly these queues and streams for their functions, pipes and delivery
    streams (none: stop the readers running); ``pipes`` and ``delivery_streams`` carry
    what their sources read."""

    sources: tuple[EventSource, ...]
    pipes: Mapping[str, PipeSpec] = field(default_factory=dict)
    delivery_streams: Mapping[str, DeliveryStreamSpec] = field(default_factory=dict)


@dataclass(frozen=True)
class FireSchedules:
    """Fire exactly these enabled schedules (none: stop the timers running)."""

    schedules: tuple[ScheduledInvocation, ...]


@dataclass(frozen=True)
class Publish:
    function: str
    number: int
    digest: str
    config: FunctionConfig
    artifact: str


@dataclass(frozen=True)
class PointAlias:
    alias: Alias
    why: str


@dataclass(frozen=True)
class StartDeployment:
    targets: tuple[Target, ...]
    function: str  # whose DeploymentPreference drives it


Setup = (
    CreateTables | CreateServices | LoadStateMachines | LoadFunctions | PollSources | FireSchedules
)
Change = Publish | PointAlias | StartDeployment
Instruction = Setup | Change


@dataclass(frozen=True)
class ReleasePlan:
    instructions: tuple[Instruction, ...]
    versions: Mapping[str, int]  # function -> version this release runs

    @property
    def changes(self) -> tuple[Change, ...]:
        """What moves versions, aliases and traffic (the rest sets the application up)."""
        return tuple(i for i in self.instructions if isinstance(i, Change))

    def describe(self) -> list[str]:
        out = [describe(i) for i in self.instructions]
        if not self.changes:
            out.append("nothing to do: every function is up to date")
        return out


def describe(i: Instruction) -> str:
    """One line a person reads in ``canaria up`` and ``canaria deploy --dry-run``."""
    match i:
        case CreateTables(tables=tables):
            return (
                f"create tables that do not exist: {_names(t.table_name for t in tables.values())}"
            )
        case CreateServices(resources=resources):
            return f"create service resources that do not exist: {_names(resources)}"
        case LoadStateMachines(machines=machines):
            return f"load state machines: {_names(m.name for m in machines.values())}"
        case LoadFunctions(app=app):
            routes = len(app.routes)
            sockets = sum(len(api.routes) for api in app.websockets.values())
            extra = f", {sockets} WebSocket route{'' if sockets == 1 else 's'}" if sockets else ""
            return (
                f"load functions: {_names(app.functions)} "
                f"({routes} route{'' if routes == 1 else 's'}{extra})"
            )
        case PollSources(sources=sources, delivery_streams=streams):
            if not sources and not streams:
                return "stop reading queues and streams"
            read = ", ".join(
                f"{s.queue_name if isinstance(s, QueueEventSource) else s.stream_name} → "
                f"{s.function}"
                for s in sources
            )
            if streams:
                names = _names(s.name for s in streams.values())
                read = (
                    f"{read}; delivery streams: {names}" if read else f"delivery streams: {names}"
                )
            return f"read queues and streams: {read}" if sources else f"run {read}"
        case FireSchedules(schedules=schedules):
            if not schedules:
                return "stop firing schedules"
            return "fire schedules: " + ", ".join(
                f"{s.expression} → {s.target_type.value} {s.target}" for s in schedules
            )
        case Publish(function=f, number=n, digest=dg):
            return f"publish {f} version {n} (digest {dg[:12]})"
        case PointAlias(alias=a, why=why):
            return f"point {a.function}:{a.name} at version {a.version} ({why})"
        case StartDeployment(targets=ts):
            moves = ", ".join(
                f"{t.function}:{t.alias} {t.from_version} → {t.to_version}" for t in ts
            )
            return f"start deployment: {moves} (the new versions' first environments started first)"
        case _:
            assert_never(i)


def _names(names: Iterable[str]) -> str:
    return ", ".join(names) or "none"


def version_digest(spec: FunctionSpec, config: FunctionConfig, build: Build) -> str:
    code = spec.code_sha256 or build.code_digest
    body = asdict(config)
    body.pop("code_uri")  # where the code lies is not part of it
    body.pop("layers")  # nor where its layers lie; what they hold is
    if build.layers:  # (a function without layers keeps the digest it always had)
        code += "\nlayers " + " ".join(digest for digest, _ in build.layers)
    return hashlib.sha256(f"{code}\n{dumps(body)}".encode()).hexdigest()


def plan_release(
    app: Application,
    builds: Mapping[str, Build],
    latest: Mapping[str, Version | None],
    aliases: Mapping[tuple[str, str], Alias],
    *,
    group: bool = False,
    running: Application | None = None,
) -> ReleasePlan:
    """``running`` is the application served now: the pollers of queues it has and
    ``app`` has not are stopped."""
    numbers: dict[str, int] = {}
    instructions: list[Instruction] = []
    for spec in _publish_order(app):
        build = builds[spec.name]
        config = _resolve_placeholders(spec, numbers)
        if build.layers:
            config = replace(config, layers=tuple(directory for _, directory in build.layers))
        digest = version_digest(spec, config, build)
        current = latest.get(spec.name)
        if current is not None and current.digest == digest:
            numbers[spec.name] = current.number
            continue
        number = 1 if current is None else current.number + 1
        numbers[spec.name] = number
        instructions.append(Publish(spec.name, number, digest, config, build.artifact))
    deployments: list[StartDeployment] = []
    for spec in app.functions.values():
        name = spec.auto_publish_alias
        if name is None:
            continue
        target = numbers[spec.name]
        alias = aliases.get((spec.name, name))
        pref = spec.deployment_preference
        if alias is None:
            instructions.append(PointAlias(Alias(spec.name, name, target), "new alias"))
        elif alias.version == target and alias.additional_version is None:
            continue
        elif pref is None or not pref.enabled:
            instructions.append(
                PointAlias(Alias(spec.name, name, target), "no deployment preference")
            )
        else:
            deployments.append(
                StartDeployment((Target(spec.name, name, alias.version, target),), spec.name)
            )
    if group and len(deployments) > 1:
        deployments = [_merge(app, deployments)]
    instructions.extend(deployments)
    setup = _setup(with_versions(app, numbers), running)
    return ReleasePlan((*setup, *instructions), numbers)


def _setup(app: Application, running: Application | None) -> list[Setup]:
    """The application's resources, in the order they may need each other: tables and
    service resources before the functions that use them, functions (and state machines)
    before the queues and schedules that invoke them."""
    setup: list[Setup] = []
    if app.tables:
        setup.append(CreateTables(app.tables))
    if app.services or (running is not None and running.services):
        setup.append(CreateServices(app.services))  # none: the last release's triggers end
    if app.state_machines:
        setup.append(LoadStateMachines(app.state_machines))
    setup.append(LoadFunctions(app))
    reads = app.event_sources or app.delivery_streams
    if reads or (running is not None and (running.event_sources or running.delivery_streams)):
        setup.append(PollSources(app.event_sources, app.pipes, app.delivery_streams))
    schedules = tuple(s for s in app.schedules if s.enabled)
    if schedules or (running is not None and any(s.enabled for s in running.schedules)):
        setup.append(FireSchedules(schedules))
    return setup


def _merge(app: Application, parts: Sequence[StartDeployment]) -> StartDeployment:
    types = {app.functions[p.function].deployment_preference.type for p in parts}  # type: ignore[union-attr]
    if len(types) > 1:
        raise InvalidRequest(
            "an atomic group needs one deployment configuration; the functions use "
            + ", ".join(sorted(types))
        )
    return StartDeployment(tuple(t for p in parts for t in p.targets), parts[0].function)


def _references(spec: FunctionSpec) -> set[str]:
    return {m for v in spec.config.environment.values() for m in PLACEHOLDER.findall(v)}


def _publish_order(app: Application) -> list[FunctionSpec]:
    """Functions whose environment names another's version come after it."""
    done: list[FunctionSpec] = []
    placed: set[str] = set()
    pending = list(app.functions.values())
    while pending:
        known = set(app.functions)
        ready = [s for s in pending if (_references(s) & known) - {s.name} <= placed]
        if not ready:
            names = ", ".join(s.name for s in pending)
            raise InvalidRequest(f"functions refer to each other's versions in a cycle: {names}")
        for s in ready:
            done.append(s)
            placed.add(s.name)
            pending.remove(s)
    return done


def _resolve_placeholders(spec: FunctionSpec, numbers: Mapping[str, int]) -> FunctionConfig:
    env = spec.config.environment
    if not any(PLACEHOLDER.search(v) for v in env.values()):
        return spec.config

    def sub(m: re.Match[str]) -> str:
        name = m.group(1)
        if name not in numbers:
            raise InvalidRequest(f"{spec.name}: environment refers to unknown function {name}")
        return str(numbers[name])

    return replace(spec.config, environment={k: PLACEHOLDER.sub(sub, v) for k, v in env.items()})
