"""What reconcile decides, as data: the executor carries it out (chalice's planner style)."""

from __future__ import annotations

import enum
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field

from canaria.models import Alias
from canaria.models.deployment import (
    Deployment,
    DeploymentEvent,
    HookExecution,
    HookStatus,
    NotificationEvent,
)


def new_hook_execution_id() -> str:
    """Random, shaped like CodeDeploy's opaque ids. Stored with the execution, so it is
    the same after a restart."""
    return str(uuid.uuid4())


class Command(enum.StrEnum):
    """Operator commands, applied by the next reconcile."""

    STOP = "stop"  # stop and roll back (CodeDeploy StopDeployment, autoRollbackEnabled)
    STOP_NO_ROLLBACK = "stop_no_rollback"  # stop where it is: the alias may stay split
    ROLLBACK = "rollback"  # same effect, reported as a rollback request
    PROMOTE = "promote"  # end the current step now
    PROMOTE_FULL = "promote_full"  # shift everything now, skipping waits


class Verdict(enum.StrEnum):
    CONTINUE = "continue"
    ROLLBACK = "rollback"
    PROMOTE = "promote"


@dataclass(frozen=True)
class GateProgress:
    """Target-version invocations since a RequestGate began, and whether the alias still
    sends the target version traffic (``open``); ``reason`` says what failed, if known."""

    routed: int = 0
    succeeded: int = 0
    failed: int = 0
    open: bool = True
    reason: str = ""


@dataclass(frozen=True)
class Observation:
    now: float
    hooks: Mapping[str, HookExecution] = field(default_factory=dict)
    alarms_in_alarm: tuple[str, ...] = ()
    verdict: Verdict = Verdict.CONTINUE
    verdict_reason: str = ""
    gate: GateProgress = field(default_factory=GateProgress)
    command: Command | None = None
    # the id a hook execution started by this pass gets: random, so knowing a deployment's
    # id does not tell anyone its hook executions' ids (only the hook is told, in its
    # event); chosen here, by whoever observes, so that ``reconcile`` stays pure
    hook_execution_id: str = field(default_factory=lambda: new_hook_execution_id())


@dataclass(frozen=True)
class InvokeHook:
    execution: HookExecution
    payload: Mapping[str, str]
    version: int | None = None  # the hook function's version the deployment began with


@dataclass(frozen=True)
class Notify:
    event: NotificationEvent


Action = InvokeHook | Notify


@dataclass(frozen=True)
class Plan:
    deployment: Deployment
    aliases: tuple[Alias, ...] = ()
    events: tuple[DeploymentEvent, ...] = ()
    hooks: tuple[HookExecution, ...] = ()
    actions: tuple[Action, ...] = ()

    @property
    def changed(self) -> bool:
        return bool(self.aliases or self.events or self.hooks or self.actions)


def hook_done(h: HookExecution | None) -> bool:
    return h is not None and h.status in (HookStatus.SUCCEEDED, HookStatus.FAILED)
