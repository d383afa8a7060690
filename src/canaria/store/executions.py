"""Step Functions executions in the store, so they outlive the ``canaria up`` that ran them.

A row is written when an execution starts (RUNNING) and rewritten when it ends, with its
output, error, cause and whole history. ``load`` is what a starting canaria reads: a row
still RUNNING belonged to a canaria that stopped mid-execution, so it becomes ABORTED;
then the oldest finished rows beyond ``keep`` go, and the newest ``keep`` come back.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import orjson
from sqlalchemy import Connection, RowMapping, delete, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from canaria.errors import Conflict
from canaria.store import schema
from canaria.store.store import Store
from canaria.workflows import ExecutionStatus, HistoryEvent

ABANDONED_CAUSE = "canaria stopped while the execution was running"


@dataclass(frozen=True)
class ExecutionRecord:
    """One execution as the store keeps it; ``input`` and ``output`` are decoded JSON."""

    arn: str
    name: str
    machine_arn: str
    machine_name: str
    machine_type: str
    input: Any
    started: float
    status: ExecutionStatus = ExecutionStatus.RUNNING
    stopped: float | None = None
    output: Any = None
    error: str | None = None
    cause: str | None = None
    history: tuple[HistoryEvent, ...] = ()


class Executions:
    """The executions table of ``store``, holding at most about ``keep`` rows."""

    def __init__(self, store: Store, keep: int) -> None:
        self.store = store
        self.keep = keep

    def start(self, record: ExecutionRecord) -> None:
        """Write a new execution's row; Conflict if its arn was used before (the oldest
        finished rows beyond ``keep`` make room, as ``load`` would)."""
        t = schema.executions
        try:
            with self.store.tx() as conn:
                if conn.execute(select(t.c.arn).where(t.c.arn == record.arn)).first():
                    raise Conflict(f"Execution Already Exists: '{record.arn}'")
                _insert(conn, record)
                _trim(conn, self.keep)
        except IntegrityError as exc:  # a concurrent start of the same name won
            raise Conflict(f"Execution Already Exists: '{record.arn}'") from exc

    def finish(self, record: ExecutionRecord) -> None:
        """Rewrite an execution's row with how it ended (written anew if it is gone)."""
        t = schema.executions
        with self.store.tx() as conn:
            done = conn.execute(update(t).where(t.c.arn == record.arn).values(**_outcome(record)))
            if done.rowcount == 0:
                _insert(conn, record)

    def get(self, arn: str) -> ExecutionRecord | None:
        t = schema.executions
        with self.store.engine.connect() as conn:
            row = conn.execute(select(t).where(t.c.arn == arn)).first()
        return None if row is None else _record(row._mapping)

    def load(self, now: float) -> list[ExecutionRecord]:
        """The newest ``keep`` executions, oldest first, after aborting those left RUNNING
        (stopped at ``now``) and deleting the oldest finished ones beyond ``keep``."""
        t = schema.executions
        with self.store.tx() as conn:
            conn.execute(
                update(t)
                .where(t.c.status == "RUNNING")
                .values(status="ABORTED", stopped_at=now, error=None, cause=ABANDONED_CAUSE)
            )
            _trim(conn, self.keep)
            rows = conn.execute(select(t).order_by(t.c.seq.desc()).limit(self.keep)).all()
        return [_record(r._mapping) for r in reversed(rows)]


def _insert(conn: Connection, r: ExecutionRecord) -> None:
    t = schema.executions
    seq = conn.execute(select(func.coalesce(func.max(t.c.seq), 0))).scalar_one()
    conn.execute(
        insert(t).values(
            arn=r.arn,
            seq=int(seq) + 1,
            name=r.name,
            machine_arn=r.machine_arn,
            machine_name=r.machine_name,
            machine_type=r.machine_type,
            input=_dumps(r.input),
            started_at=r.started,
            **_outcome(r),
        )
    )


def _trim(conn: Connection, keep: int) -> None:
    """Delete the oldest finished rows beyond ``keep`` (running ones stay)."""
    t = schema.executions
    excess = int(conn.execute(select(func.count()).select_from(t)).scalar_one()) - keep
    if excess <= 0:
        return
    old = conn.execute(
        select(t.c.arn).where(t.c.status != "RUNNING").order_by(t.c.seq).limit(excess)
    ).all()
    if old:
        conn.execute(delete(t).where(t.c.arn.in_([r[0] for r in old])))


def _outcome(r: ExecutionRecord) -> dict[str, Any]:
    return {
        "status": r.status.value,
        "stopped_at": r.stopped,
        "output": None if r.output is None else _dumps(r.output),
        "error": r.error,
        "cause": r.cause,
        "history": _dumps([_event(e) for e in r.history]),
    }


def _record(m: RowMapping) -> ExecutionRecord:
    return ExecutionRecord(
        arn=m["arn"],
        name=m["name"],
        machine_arn=m["machine_arn"],
        machine_name=m["machine_name"],
        machine_type=m["machine_type"],
        input=orjson.loads(m["input"]),
        started=m["started_at"],
        status=ExecutionStatus(m["status"]),
        stopped=m["stopped_at"],
        output=None if m["output"] is None else orjson.loads(m["output"]),
        error=m["error"],
        cause=m["cause"],
        history=_history(orjson.loads(m["history"])),
    )


def _event(e: HistoryEvent) -> dict[str, Any]:
    return {
        "id": e.id,
        "previous_event_id": e.previous_event_id,
        "timestamp": e.timestamp,
        "type": e.type,
        "details": dict(e.details),
    }


def _history(raw: Sequence[Mapping[str, Any]]) -> tuple[HistoryEvent, ...]:
    return tuple(
        HistoryEvent(
            id=int(e["id"]),
            previous_event_id=int(e["previous_event_id"]),
            timestamp=float(e["timestamp"]),
            type=str(e["type"]),
            details=e["details"],
        )
        for e in raw
    )


def _dumps(value: Any) -> str:
    # key order kept: DescribeExecution answers with the input and output as they were
    return orjson.dumps(value).decode()
