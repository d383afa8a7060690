"""Guard records survive in the store (SQLite and PostgreSQL) with their events."""

from __future__ import annotations

from dataclasses import replace

from canaria.guard.model import ActionStatus, AwsStatus, GuardEvent, GuardRecord, Mode
from canaria.guard.records import GuardRecords
from canaria.store import Store


def test_a_record_and_its_events_round_trip(any_store: Store) -> None:
    records = GuardRecords(any_store)
    r = GuardRecord(
        "d-1",
        "app",
        "grp",
        "fn",
        "live",
        "1",
        "2",
        AwsStatus.IN_PROGRESS,
        Mode.STOP,
        judge={"evidence": {"errors": 3.5}},
        created_at=1.0,
        updated_at=1.0,
    )
    records.save(r, [GuardEvent("d-1", 1.0, "watch", "watching")])
    assert records.get("d-1") == r
    done = replace(
        r,
        verdict="ROLLBACK",
        action="StopDeployment",
        action_status=ActionStatus.DONE,
        updated_at=2.0,
    )
    records.save(done, [GuardEvent("d-1", 2.0, "action", "stopped")])
    assert records.get("d-1") == done
    assert records.get("d-2") is None
    assert [e.message for e in records.events("d-1")] == ["watching", "stopped"]
    assert records.recent() == [done]
