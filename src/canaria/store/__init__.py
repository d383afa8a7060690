"""Control-plane state: SQLite (WAL) by default, PostgreSQL via CANARIA_DATABASE_URL."""

from canaria.store.store import (
    CompletionReport,
    CompletionStatus,
    GateRequest,
    Store,
    database_url,
    make_engine,
    migrate,
)

__all__ = [
    "CompletionReport",
    "CompletionStatus",
    "GateRequest",
    "Store",
    "database_url",
    "make_engine",
    "migrate",
]
