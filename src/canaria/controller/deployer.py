"""`canaria deploy`: decide what a template change means, then do it.

``plan_release(app, builds, observed)`` is pure (chalice's planner): from the template,
the built artifacts and the versions and aliases already stored, it returns the list of
instructions — publish a version, point an alias, start a deployment — that
``canaria deploy --dry-run`` prints and ``execute_release`` carries out.

A version is published only when its digest changed: the digest covers the code
(``AutoPublishCodeSha256`` when set, else the artifact's content hash) and the
configuration (handler, runtime, environment, timeout, memory, concurrency).
``!Ref Fn.Version`` placeholders in environments resolve to the version this release
gives ``Fn``, so a hook that names the version under test changes with it, as on AWS.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, replace

from canaria.errors import InvalidRequest
from canaria.models import Alias, Application, FunctionConfig, FunctionSpec, Version
from canaria.models.deployment import Target
from canaria.store.codec import dumps

PLACEHOLDER = re.compile(r"\{\{canaria:version:([^}]+)\}\}")


@dataclass(frozen=True)
class Build:
    code_digest: str
    artifact: str


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


Instruction = Publish | PointAlias | StartDeployment


@dataclass(frozen=True)
class ReleasePlan:
    instructions: tuple[Instruction, ...]
    versions: Mapping[str, int]  # function -> version this release runs

    def describe(self) -> list[str]:
        out = []
        for i in self.instructions:
            match i:
                case Publish(function=f, number=n, digest=dg):
                    out.append(f"publish {f} version {n} (digest {dg[:12]})")
                case PointAlias(alias=a, why=why):
                    out.append(f"point {a.function}:{a.name} at version {a.version} ({why})")
                case StartDeployment(targets=ts):
                    moves = ", ".join(
                        f"{t.function}:{t.alias} {t.from_version} → {t.to_version}" for t in ts
                    )
                    out.append(f"start deployment: {moves}")
        return out or ["nothing to do: every function is up to date"]


def version_digest(spec: FunctionSpec, config: FunctionConfig, build: Build) -> str:
    code = spec.code_sha256 or build.code_digest
    body = asdict(config)
    body.pop("code_uri")  # where the code lies is not part of it
    return hashlib.sha256(f"{code}\n{dumps(body)}".encode()).hexdigest()


def plan_release(
    app: Application,
    builds: Mapping[str, Build],
    latest: Mapping[str, Version | None],
    aliases: Mapping[tuple[str, str], Alias],
    *,
    group: bool = False,
) -> ReleasePlan:
    numbers: dict[str, int] = {}
    instructions: list[Instruction] = []
    for spec in _publish_order(app):
        config = _resolve_placeholders(spec, numbers)
        digest = version_digest(spec, config, builds[spec.name])
        current = latest.get(spec.name)
        if current is not None and current.digest == digest:
            numbers[spec.name] = current.number
            continue
        number = 1 if current is None else current.number + 1
        numbers[spec.name] = number
        instructions.append(Publish(spec.name, number, digest, config, builds[spec.name].artifact))
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
    return ReleasePlan(tuple(instructions), numbers)


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
