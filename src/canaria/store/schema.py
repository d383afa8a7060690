"""Table definitions used by queries. DDL lives in the migrations (``migrations/versions``)
and must stay in lockstep with this file; ``tests/unit/store`` checks that a migrated
database matches these tables on SQLite and PostgreSQL."""

from __future__ import annotations

from sqlalchemy import (
    Boolean,
    Column,
    Float,
    Integer,
    MetaData,
    String,
    Table,
    Text,
)

metadata = MetaData()

versions = Table(
    "versions",
    metadata,
    Column("function", String(140), primary_key=True),
    Column("number", Integer, primary_key=True),
    Column("digest", String(64), nullable=False),
    Column("config", Text, nullable=False),  # FunctionConfig as JSON
    Column("artifact", Text, nullable=False),
    Column("created_at", Float, nullable=False),
)

aliases = Table(
    "aliases",
    metadata,
    Column("function", String(140), primary_key=True),
    Column("name", String(128), primary_key=True),
    Column("version", Integer, nullable=False),
    Column("additional_version", Integer, nullable=True),
    Column("additional_weight", Float, nullable=False),
    Column("revision", Integer, nullable=False),
    Column("updated_at", Float, nullable=False),
)

deployments = Table(
    "deployments",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("application", String(256), nullable=False),
    Column("state", String(32), nullable=False, index=True),
    Column("body", Text, nullable=False),  # the whole Deployment as JSON
    Column("created_at", Float, nullable=False, index=True),
    Column("updated_at", Float, nullable=False),
    Column("next_wake_at", Float, nullable=True, index=True),
    # compare-and-set: every write names the revision it read and stores the next one
    Column("revision", Integer, nullable=False, server_default="1"),
)

# One row per alias under deployment: the primary key refuses a second deployment.
alias_locks = Table(
    "alias_locks",
    metadata,
    Column("function", String(140), primary_key=True),
    Column("alias", String(128), primary_key=True),
    Column("deployment_id", String(32), nullable=False),
)

deployment_events = Table(
    "deployment_events",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("deployment_id", String(32), nullable=False, index=True),
    Column("time", Float, nullable=False),
    Column("kind", String(32), nullable=False),
    Column("message", Text, nullable=False),
    Column("data", Text, nullable=False),
)

hook_executions = Table(
    "hook_executions",
    metadata,
    Column("execution_id", String(64), primary_key=True),
    Column("deployment_id", String(32), nullable=False, index=True),
    Column("phase", String(32), nullable=False),
    Column("function", String(140), nullable=False),
    Column("status", String(16), nullable=False),
    Column("started_at", Float, nullable=False),
    Column("deadline", Float, nullable=False),
    Column("invoked", Boolean, nullable=False),
    Column("finished_at", Float, nullable=True),
    Column("message", Text, nullable=False),
)

alarm_states = Table(
    "alarm_states",
    metadata,
    Column("name", String(255), primary_key=True),
    Column("state", String(32), nullable=False),
    Column("reason", Text, nullable=False),
    Column("updated_at", Float, nullable=False),
)

settings = Table(
    "settings",
    metadata,
    Column("key", String(64), primary_key=True),
    Column("value", Text, nullable=False),
)

# Final statuses that a function's work reported for its invocations (request gates with
# ``completion: reported``), one per request id; kept whether or not a gate counts them.
completion_reports = Table(
    "completion_reports",
    metadata,
    Column("function", String(140), primary_key=True),
    Column("request_id", String(128), primary_key=True),
    Column("status", String(16), nullable=False),
    Column("reason", Text, nullable=False),
    Column("reported_at", Float, nullable=False),
)

# Request ids the target version served while a ``completion: reported`` gate was the
# step in force: the requests whose reports that gate counts (about N rows per gate).
gate_requests = Table(
    "gate_requests",
    metadata,
    Column("deployment_id", String(32), primary_key=True),
    Column("step_index", Integer, primary_key=True),
    Column("function", String(140), primary_key=True),
    Column("request_id", String(128), primary_key=True),
    Column("version", Integer, nullable=False),
    Column("started_at", Float, nullable=False),
)

# Step Functions executions, as STANDARD executions outlive the service that ran them: the
# machine's arn, name and type are kept so a machine no longer declared still answers.
# ``seq`` orders executions by start (times can tie on a manual clock).
executions = Table(
    "executions",
    metadata,
    Column("arn", String(256), primary_key=True),
    Column("seq", Integer, nullable=False, index=True),
    Column("name", String(80), nullable=False),
    Column("machine_arn", String(256), nullable=False),
    Column("machine_name", String(80), nullable=False),
    Column("machine_type", String(16), nullable=False),
    Column("status", String(16), nullable=False, index=True),
    Column("input", Text, nullable=False),  # JSON
    Column("output", Text, nullable=True),  # JSON
    Column("error", Text, nullable=True),
    Column("cause", Text, nullable=True),
    Column("history", Text, nullable=False),  # JSON list of history events
    Column("started_at", Float, nullable=False),
    Column("stopped_at", Float, nullable=True),
)
