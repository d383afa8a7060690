"""Guarded AWS deployments as the control API, ``canaria status`` and the dashboard show
them: evidence, decision, the API call made (or that a dry run would make) and AWS's
answer, with the latest events."""

from __future__ import annotations

from typing import Any

from canaria.guard.records import GuardRecords, record_to_json
from canaria.store import Store

__all__ = ["guarded_detail", "guarded_view"]


def guarded_view(store: Store, limit: int = 20, events: int = 5) -> list[dict[str, Any]]:
    records = GuardRecords(store)
    out: list[dict[str, Any]] = []
    for r in records.recent(limit):
        view = record_to_json(r)
        view["evidence"] = r.judge.get("evidence", {})
        view.pop("judge", None)
        view["events"] = [
            {"time": e.time, "kind": e.kind, "message": e.message}
            for e in records.events(r.deployment_id)[-events:]
        ]
        out.append(view)
    return out


def guarded_detail(store: Store, deployment_id: str) -> dict[str, Any] | None:
    """One guarded deployment with every event, or None if the guard never saw it."""
    records = GuardRecords(store)
    r = records.get(deployment_id)
    if r is None:
        return None
    view = record_to_json(r)
    view["evidence"] = r.judge.get("evidence", {})
    view.pop("judge", None)
    view["events"] = [
        {"time": e.time, "kind": e.kind, "message": e.message}
        for e in records.events(deployment_id)
    ]
    return view
