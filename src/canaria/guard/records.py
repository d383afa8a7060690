"""Guarded AWS deployments in canaria's store (tables ``guarded_deployments`` and
``guard_events``): what ``canaria status``, the control API and the dashboard show beside
local deployments, and what a restarted guard resumes from."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict
from typing import Any

import orjson
from sqlalchemy import insert, select, update

from canaria.guard.model import ActionStatus, AwsStatus, GuardEvent, GuardRecord, Mode
from canaria.store import Store, schema

__all__ = ["GuardRecords", "record_from_json", "record_to_json"]


def record_to_json(r: GuardRecord) -> dict[str, Any]:
    out = asdict(r)
    out["status"] = r.status.value
    out["mode"] = r.mode.value
    out["action_status"] = r.action_status.value
    return out


def record_from_json(raw: dict[str, Any]) -> GuardRecord:
    fields = dict(raw)
    fields["status"] = AwsStatus(fields["status"])
    fields["mode"] = Mode(fields["mode"])
    fields["action_status"] = ActionStatus(fields["action_status"])
    return GuardRecord(**fields)


class GuardRecords:
    def __init__(self, store: Store) -> None:
        self.store = store

    def get(self, deployment_id: str) -> GuardRecord | None:
        t = schema.guarded_deployments
        with self.store.tx() as conn:
            row = conn.execute(select(t.c.body).where(t.c.deployment_id == deployment_id)).first()
        return None if row is None else record_from_json(orjson.loads(row[0]))

    def save(self, record: GuardRecord, events: Sequence[GuardEvent] = ()) -> None:
        """Write the record and append its events in one transaction."""
        t = schema.guarded_deployments
        values = {
            "application": record.application,
            "status": record.status.value,
            "body": orjson.dumps(record_to_json(record)).decode(),
            "updated_at": record.updated_at,
        }
        with self.store.tx() as conn:
            exists = conn.execute(
                select(t.c.deployment_id).where(t.c.deployment_id == record.deployment_id)
            ).first()
            if exists:
                conn.execute(
                    update(t).where(t.c.deployment_id == record.deployment_id).values(**values)
                )
            else:
                conn.execute(
                    insert(t).values(
                        deployment_id=record.deployment_id, created_at=record.created_at, **values
                    )
                )
            if events:
                conn.execute(
                    insert(schema.guard_events),
                    [
                        {
                            "deployment_id": e.deployment_id,
                            "time": e.time,
                            "kind": e.kind,
                            "message": e.message,
                        }
                        for e in events
                    ],
                )

    def recent(self, limit: int = 50) -> list[GuardRecord]:
        t = schema.guarded_deployments
        with self.store.tx() as conn:
            rows = conn.execute(select(t.c.body).order_by(t.c.updated_at.desc()).limit(limit))
            return [record_from_json(orjson.loads(r[0])) for r in rows]

    def events(self, deployment_id: str) -> list[GuardEvent]:
        t = schema.guard_events
        with self.store.tx() as conn:
            rows = conn.execute(
                select(t.c.deployment_id, t.c.time, t.c.kind, t.c.message)
                .where(t.c.deployment_id == deployment_id)
                .order_by(t.c.id)
            )
            return [GuardEvent(r[0], r[1], r[2], r[3]) for r in rows]
