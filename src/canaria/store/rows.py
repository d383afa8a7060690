"""Rows of the store's tables and the models they hold: one mapping each way, and the
small records (completion reports, gate requests) that are rows and nothing more."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any, Literal

from sqlalchemy import Connection, insert, select

from canaria.errors import Conflict
from canaria.models import Alias, Version
from canaria.models.deployment import (
    Deployment,
    DeploymentEvent,
    HookExecution,
    HookStatus,
    State,
)
from canaria.store import codec, schema

CompletionStatus = Literal["Succeeded", "Failed"]


@dataclass(frozen=True)
class CompletionReport:
    """The final status the work started by one invocation reported for it."""

    function: str
    request_id: str  # the invocation's ``context.aws_request_id``
    status: CompletionStatus
    reason: str
    reported_at: float


@dataclass(frozen=True)
class GateRequest:
    """A request a ``completion: reported`` gate sent to the new version, and its report."""

    function: str
    request_id: str
    version: int
    started_at: float
    report: CompletionReport | None


COMPLETED = [State.SUCCEEDED.value, State.FAILED.value, State.STOPPED.value]
OPEN_HOOK = [HookStatus.PENDING.value, HookStatus.IN_PROGRESS.value, HookStatus.UNKNOWN.value]


class StaleDeployment(Conflict):
    """A deployment row was written by someone else since it was read."""


def deployment(row: Any) -> Deployment:
    return replace(codec.deployment_from_json(row[0]), revision=int(row[1]))


def alias_holder(conn: Connection, function: str, alias: str) -> str | None:
    t = schema.alias_locks
    row = conn.execute(
        select(t.c.deployment_id).where(t.c.function == function, t.c.alias == alias)
    ).first()
    return None if row is None else str(row[0])


def insert_events(conn: Connection, events: Sequence[DeploymentEvent]) -> None:
    for e in events:
        conn.execute(
            insert(schema.deployment_events).values(
                deployment_id=e.deployment_id,
                time=e.time,
                kind=e.kind,
                message=e.message,
                data=codec.dumps(e.data),
            )
        )


def deployment_row(d: Deployment) -> dict[str, Any]:
    return {
        "id": d.id,
        "application": d.application,
        "state": d.state.value,
        "body": codec.deployment_to_json(d),
        "created_at": d.created_at,
        "updated_at": d.updated_at,
        "next_wake_at": d.next_wake_at,
        "revision": d.revision,
    }


def version(m: Any) -> Version:
    return Version(
        function=m["function"],
        number=m["number"],
        digest=m["digest"],
        config=codec.config_from_json(m["config"]),
        artifact=m["artifact"],
        created_at=m["created_at"],
    )


def alias(m: Any) -> Alias:
    return Alias(
        function=m["function"],
        name=m["name"],
        version=m["version"],
        additional_version=m["additional_version"],
        additional_weight=m["additional_weight"],
    )


def get_alias(conn: Connection, function: str, name: str) -> Alias | None:
    t = schema.aliases
    row = conn.execute(select(t).where(t.c.function == function, t.c.name == name)).first()
    return None if row is None else alias(row._mapping)


def hook(m: Any) -> HookExecution:
    return HookExecution(
        execution_id=m["execution_id"],
        deployment_id=m["deployment_id"],
        phase=m["phase"],
        function=m["function"],
        status=HookStatus(m["status"]),
        started_at=m["started_at"],
        deadline=m["deadline"],
        invoked=bool(m["invoked"]),
        finished_at=m["finished_at"],
        message=m["message"],
    )


def report_row(r: CompletionReport) -> dict[str, Any]:
    return {
        "function": r.function,
        "request_id": r.request_id,
        "status": r.status,
        "reason": r.reason,
        "reported_at": r.reported_at,
    }


def report(m: Any) -> CompletionReport:
    status = m["status"]
    assert status in ("Succeeded", "Failed"), status
    return CompletionReport(
        function=m["function"],
        request_id=m["request_id"],
        status=status,
        reason=m["reason"],
        reported_at=m["reported_at"],
    )
