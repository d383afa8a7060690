"""Control-plane state: SQLite (WAL) by default, PostgreSQL via CANARIA_DATABASE_URL."""

from canaria.store.executions import ABANDONED_CAUSE, ExecutionRecord, Executions
from canaria.store.store import (
    CompletionReport,
    CompletionStatus,
    GateRequest,
    StaleDeployment,
    Store,
    database_url,
    make_engine,
    migrate,
)

__all__ = [
    "ABANDONED_CAUSE",
    "CompletionReport",
    "CompletionStatus",
    "ExecutionRecord",
    "Executions",
    "GateRequest",
    "StaleDeployment",
    "Store",
    "database_url",
    "make_engine",
    "migrate",
]
