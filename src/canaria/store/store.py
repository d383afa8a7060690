"""The control-plane store: versions, aliases, deployments, hooks, alarm states.

SQLAlchemy Core on SQLite (WAL, ``BEGIN IMMEDIATE`` for every write transaction) by
default, PostgreSQL through ``CANARIA_DATABASE_URL``; the SQL is the same on both.
Every multi-row change is one transaction: a deployment's status and the alias it moves
are written together, so a crash never leaves an alias half-shifted.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import (
    Connection,
    Engine,
    and_,
    create_engine,
    delete,
    event,
    func,
    insert,
    select,
    update,
)
from sqlalchemy.exc import IntegrityError

from canaria.errors import Conflict, NotFound
from canaria.models import Alias, FunctionConfig, Version
from canaria.models.deployment import (
    Deployment,
    DeploymentEvent,
    HookExecution,
    HookStatus,
)
from canaria.store import codec, rows, schema
from canaria.store.rows import CompletionReport, GateRequest

MIGRATIONS = str(Path(__file__).parent / "migrations")


def database_url(state_dir: str) -> str:
    return os.environ.get("CANARIA_DATABASE_URL") or f"sqlite:///{Path(state_dir) / 'canaria.db'}"


def make_engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})

        @event.listens_for(engine, "connect")
        def _on_connect(dbapi_conn: Any, _record: Any) -> None:
            dbapi_conn.isolation_level = None  # we issue BEGIN ourselves
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.close()

        @event.listens_for(engine, "begin")
        def _on_begin(conn: Connection) -> None:
            conn.exec_driver_sql("BEGIN IMMEDIATE")

        return engine
    return create_engine(url, pool_pre_ping=True)


def migrate(engine: Engine) -> None:
    cfg = Config()
    cfg.set_main_option("script_location", MIGRATIONS)
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "head")


class Store:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    @classmethod
    def open(cls, state_dir: str, url: str | None = None) -> Store:
        Path(state_dir).mkdir(parents=True, exist_ok=True)
        engine = make_engine(url or database_url(state_dir))
        migrate(engine)
        return cls(engine)

    def close(self) -> None:
        self.engine.dispose()

    @contextmanager
    def tx(self) -> Iterator[Connection]:
        with self.engine.begin() as conn:
            yield conn

    # ---- settings --------------------------------------------------------------------

    def get_setting(self, key: str) -> str | None:
        with self.engine.connect() as conn:
            row = conn.execute(
                select(schema.settings.c.value).where(schema.settings.c.key == key)
            ).first()
        return None if row is None else str(row[0])

    def put_setting(self, key: str, value: str) -> None:
        with self.tx() as conn:
            conn.execute(delete(schema.settings).where(schema.settings.c.key == key))
            conn.execute(insert(schema.settings).values(key=key, value=value))

    # ---- versions --------------------------------------------------------------------

    def versions(self, function: str | None = None) -> list[Version]:
        q = select(schema.versions).order_by(schema.versions.c.function, schema.versions.c.number)
        if function is not None:
            q = q.where(schema.versions.c.function == function)
        with self.engine.connect() as conn:
            return [rows.version(r._mapping) for r in conn.execute(q)]

    def version(self, function: str, number: int) -> Version:
        with self.engine.connect() as conn:
            row = conn.execute(
                select(schema.versions).where(
                    schema.versions.c.function == function, schema.versions.c.number == number
                )
            ).first()
        if row is None:
            raise NotFound(f"Function not found: {function}:{number}")
        return rows.version(row._mapping)

    def latest_version(self, function: str) -> Version | None:
        found = self.versions(function)
        return found[-1] if found else None

    def publish(
        self,
        function: str,
        digest: str,
        config: FunctionConfig,
        artifact: str,
        now: float,
        *,
        number: int | None = None,
    ) -> tuple[Version, bool]:
        """The version with this digest, publishing it as the next number if new.

        With ``number`` (what a release plan promised), the version is exactly that one
        or nothing is written: ``Conflict`` when another writer published meanwhile."""
        with self.tx() as conn:
            found = conn.execute(
                select(schema.versions)
                .where(schema.versions.c.function == function)
                .order_by(schema.versions.c.number.desc())
            ).all()
            latest = rows.version(found[0]._mapping) if found else None
            if latest is not None and latest.digest == digest:
                if number in (None, latest.number):
                    return latest, False
                raise _replanned(
                    function,
                    number,
                    f"version {latest.number} has this code and configuration already",
                )
            next_number = latest.number + 1 if latest is not None else 1
            if number is not None and number != next_number:
                raise _replanned(function, number, f"next version is {next_number}")
            number = next_number
            conn.execute(
                insert(schema.versions).values(
                    function=function,
                    number=number,
                    digest=digest,
                    config=codec.config_to_json(config),
                    artifact=artifact,
                    created_at=now,
                )
            )
        return Version(function, number, digest, config, artifact, now), True

    # ---- aliases ---------------------------------------------------------------------

    def aliases(self, function: str | None = None) -> list[Alias]:
        q = select(schema.aliases).order_by(schema.aliases.c.function, schema.aliases.c.name)
        if function is not None:
            q = q.where(schema.aliases.c.function == function)
        with self.engine.connect() as conn:
            return [rows.alias(r._mapping) for r in conn.execute(q)]

    def alias(self, function: str, name: str) -> Alias | None:
        with self.engine.connect() as conn:
            return rows.get_alias(conn, function, name)

    def put_alias(self, alias: Alias, now: float, conn: Connection | None = None) -> None:
        if conn is None:
            with self.tx() as c:
                self._put_alias(c, alias, now)
        else:
            self._put_alias(conn, alias, now)

    def _put_alias(self, conn: Connection, alias: Alias, now: float) -> None:
        t = schema.aliases
        values = {
            "version": alias.version,
            "additional_version": alias.additional_version,
            "additional_weight": alias.additional_weight,
            "updated_at": now,
        }
        done = conn.execute(
            update(t)
            .where(t.c.function == alias.function, t.c.name == alias.name)
            .values(revision=t.c.revision + 1, **values)
        )
        if done.rowcount == 0:
            conn.execute(
                insert(t).values(function=alias.function, name=alias.name, revision=1, **values)
            )

    # ---- deployments -----------------------------------------------------------------
    #
    # Only the controller calls the writers below. Every write of a deployment row names
    # the revision it read (``Deployment.revision``) and stores the next one: a writer
    # that read an older row gets ``StaleDeployment`` and nothing changes.

    def create_deployment(
        self, d: Deployment, events: Sequence[DeploymentEvent] = ()
    ) -> Deployment:
        """Insert a deployment and lock its aliases; Conflict if one is already deploying.
        Returns it at revision 1."""
        try:
            with self.tx() as conn:
                for t in d.targets:
                    held = rows.alias_holder(conn, t.function, t.alias)
                    if held is not None:
                        raise Conflict(
                            f"alias {t.function}:{t.alias} is already being deployed by "
                            f"{held}; wait for it, or run `canaria stop {held}`"
                        )
                    conn.execute(
                        insert(schema.alias_locks).values(
                            function=t.function, alias=t.alias, deployment_id=d.id
                        )
                    )
                stored = replace(d, revision=1)
                conn.execute(insert(schema.deployments).values(**rows.deployment_row(stored)))
                rows.insert_events(conn, events)
        except IntegrityError as exc:  # a concurrent creator won the race
            raise Conflict(f"an alias of {d.id} is already being deployed") from exc
        return stored

    def save_deployment(
        self,
        d: Deployment,
        *,
        aliases: Sequence[Alias] = (),
        events: Sequence[DeploymentEvent] = (),
        hooks: Sequence[HookExecution] = (),
    ) -> Deployment:
        """Write a deployment read at ``d.revision``, the aliases it moves, its events and
        hooks, in one transaction; returns it at its new revision. StaleDeployment if the
        row changed since it was read, Conflict if an alias is held by another deployment
        or a hook already reported."""
        with self.tx() as conn:
            stored = replace(d, revision=d.revision + 1)
            t = schema.deployments
            done = conn.execute(
                update(t)
                .where(t.c.id == d.id, t.c.revision == d.revision)
                .values(**rows.deployment_row(stored))
            )
            if done.rowcount != 1:
                row = conn.execute(select(t.c.revision).where(t.c.id == d.id)).first()
                if row is None:
                    raise NotFound(f"Deployment {d.id} does not exist")
                raise rows.StaleDeployment(
                    f"deployment {d.id} was written by another writer (read at revision "
                    f"{d.revision}, stored revision {row[0]}); read it again"
                )
            for alias in aliases:
                held = rows.alias_holder(conn, alias.function, alias.name)
                if held is not None and held != d.id:
                    raise Conflict(
                        f"alias {alias.function}:{alias.name} is held by deployment {held}, "
                        f"not {d.id}"
                    )
                self._put_alias(conn, alias, d.updated_at)
            for h in hooks:
                try:
                    self._put_hook(conn, h, only_if_open=True)
                except Conflict as exc:  # reported since it was read: plan again
                    raise rows.StaleDeployment(f"deployment {d.id}: {exc.message}") from exc
            rows.insert_events(conn, events)
            if d.state.completed:
                conn.execute(
                    delete(schema.alias_locks).where(schema.alias_locks.c.deployment_id == d.id)
                )
        return stored

    def append_events(self, events: Sequence[DeploymentEvent]) -> None:
        """Add events to deployments' histories (events are appended, never rewritten)."""
        with self.tx() as conn:
            rows.insert_events(conn, events)

    def put_alias_unless_held(self, alias: Alias, now: float) -> None:
        """Write an alias no deployment holds (UpdateAlias, first publish): Conflict naming
        the deployment that holds it, in the same transaction as the write."""
        with self.tx() as conn:
            held = rows.alias_holder(conn, alias.function, alias.name)
            if held is not None:
                raise Conflict(
                    f"Alias {alias.function}:{alias.name} is being moved by deployment "
                    f"{held}; stop it first (StopDeployment, or `canaria stop {held}`)"
                )
            self._put_alias(conn, alias, now)

    def alias_holder(self, function: str, alias: str) -> str | None:
        """The id of the deployment that holds ``function:alias``, if one does."""
        with self.engine.connect() as conn:
            return rows.alias_holder(conn, function, alias)

    def due_deployments(self, now: float, limit: int = 1000) -> list[Deployment]:
        """Active deployments whose wake-up time has come (or was never set)."""
        t = schema.deployments
        q = (
            select(t.c.body, t.c.revision)
            .where(
                t.c.state.not_in(rows.COMPLETED),
                (t.c.next_wake_at.is_(None)) | (t.c.next_wake_at <= now),
            )
            .order_by(t.c.next_wake_at, t.c.created_at)
            .limit(limit)
        )
        with self.engine.connect() as conn:
            return [rows.deployment(r) for r in conn.execute(q)]

    def next_wake_at(self) -> float | None:
        """The earliest wake-up time of the active deployments."""
        t = schema.deployments
        q = select(func.min(t.c.next_wake_at)).where(t.c.state.not_in(rows.COMPLETED))
        with self.engine.connect() as conn:
            value = conn.execute(q).scalar()
        return None if value is None else float(value)

    def deployment(self, deployment_id: str) -> Deployment:
        with self.engine.connect() as conn:
            t = schema.deployments
            row = conn.execute(
                select(t.c.body, t.c.revision).where(t.c.id == deployment_id)
            ).first()
        if row is None:
            raise NotFound(f"Deployment {deployment_id} does not exist")
        return rows.deployment(row)

    def deployments(self, *, active_only: bool = False, limit: int = 100) -> list[Deployment]:
        t = schema.deployments
        q = select(t.c.body, t.c.revision).order_by(t.c.created_at.desc())
        if active_only:
            q = q.where(t.c.state.not_in(rows.COMPLETED))
        q = q.limit(limit)
        with self.engine.connect() as conn:
            return [rows.deployment(r) for r in conn.execute(q)]

    def events(self, deployment_id: str, after_id: int = 0) -> list[DeploymentEvent]:
        t = schema.deployment_events
        q = select(t).where(t.c.deployment_id == deployment_id, t.c.id > after_id).order_by(t.c.id)
        with self.engine.connect() as conn:
            return [
                DeploymentEvent(
                    deployment_id=r.deployment_id,
                    time=r.time,
                    kind=r.kind,
                    message=r.message,
                    data=codec.loads(r.data),
                    id=r.id,
                )
                for r in conn.execute(q)
            ]

    # ---- hooks -----------------------------------------------------------------------

    def _put_hook(self, conn: Connection, h: HookExecution, *, only_if_open: bool = False) -> None:
        """Insert or update a hook execution; ``only_if_open``: an update only changes one
        that has not reported (Conflict otherwise), so a report is never overwritten."""
        t = schema.hook_executions
        values = {
            "deployment_id": h.deployment_id,
            "phase": h.phase,
            "function": h.function,
            "status": h.status.value,
            "started_at": h.started_at,
            "deadline": h.deadline,
            "invoked": h.invoked,
            "finished_at": h.finished_at,
            "message": h.message,
        }
        where = [t.c.execution_id == h.execution_id]
        if only_if_open:
            where.append(t.c.status.in_(rows.OPEN_HOOK))
        done = conn.execute(update(t).where(*where).values(**values))
        if done.rowcount == 0:
            exists = conn.execute(
                select(t.c.status).where(t.c.execution_id == h.execution_id)
            ).first()
            if exists is not None:
                raise Conflict(
                    f"Lifecycle event hook execution {h.execution_id} already reported {exists[0]}"
                )
            conn.execute(insert(t).values(execution_id=h.execution_id, **values))

    def save_hook(self, h: HookExecution) -> None:
        """Write a hook execution that has not reported yet (Conflict once it has)."""
        with self.tx() as conn:
            self._put_hook(conn, h, only_if_open=True)

    def hooks(self, deployment_id: str) -> list[HookExecution]:
        t = schema.hook_executions
        with self.engine.connect() as conn:
            result = conn.execute(
                select(t).where(t.c.deployment_id == deployment_id).order_by(t.c.started_at)
            )
            return [rows.hook(r._mapping) for r in result]

    def hook(self, execution_id: str) -> HookExecution:
        t = schema.hook_executions
        with self.engine.connect() as conn:
            row = conn.execute(select(t).where(t.c.execution_id == execution_id)).first()
        if row is None:
            raise NotFound(f"Lifecycle event hook execution {execution_id} does not exist")
        return rows.hook(row._mapping)

    def report_hook(
        self, deployment_id: str, execution_id: str, status: HookStatus, now: float
    ) -> HookExecution:
        """Record a hook's reported status (PutLifecycleEventHookExecutionStatus): one
        conditional update, so a second report (or a timeout written first) wins nothing."""
        with self.tx() as conn:
            t = schema.hook_executions
            row = conn.execute(select(t).where(t.c.execution_id == execution_id)).first()
            if row is None or row._mapping["deployment_id"] != deployment_id:
                raise NotFound(
                    f"Lifecycle event hook execution {execution_id} does not exist for "
                    f"deployment {deployment_id}"
                )
            hook = replace(
                rows.hook(row._mapping),
                status=status,
                finished_at=now,
                message="reported by the hook",
            )
            self._put_hook(conn, hook, only_if_open=True)
        return hook

    # ---- completion reports and request gates ------------------------------------------

    def report_completion(self, report: CompletionReport) -> tuple[CompletionReport, bool]:
        """Keep a completion report; True if it is new. The first report of a request id
        stands: the same status again returns it (a retried POST); another is a Conflict."""
        t = schema.completion_reports
        where = (t.c.function == report.function, t.c.request_id == report.request_id)
        try:
            with self.tx() as conn:
                row = conn.execute(select(t).where(*where)).first()
                if row is None:
                    conn.execute(insert(t).values(**rows.report_row(report)))
                    return report, True
        except IntegrityError as exc:  # a concurrent report of the same id won
            raise Conflict(
                f"request {report.request_id} of {report.function} was reported concurrently"
            ) from exc
        first = rows.report(row._mapping)
        if first.status != report.status:
            which = f"request {report.request_id} of {report.function}"
            raise Conflict(f"{which} already reported {first.status}")
        return first, False

    def completion_report(self, function: str, request_id: str) -> CompletionReport | None:
        t = schema.completion_reports
        with self.engine.connect() as conn:
            row = conn.execute(
                select(t).where(t.c.function == function, t.c.request_id == request_id)
            ).first()
        return None if row is None else rows.report(row._mapping)

    def note_gate_request(
        self,
        deployment_id: str,
        step_index: int,
        function: str,
        version: int,
        request_id: str,
        started_at: float,
    ) -> None:
        """Remember that a request gate of ``deployment_id`` sent ``request_id`` to the new
        version (noting it twice keeps one row)."""
        t = schema.gate_requests
        key = {
            "deployment_id": deployment_id,
            "step_index": step_index,
            "function": function,
            "request_id": request_id,
        }
        with self.tx() as conn:
            held = conn.execute(
                select(t.c.version).where(*(t.c[k] == v for k, v in key.items()))
            ).first()
            if held is None:
                conn.execute(insert(t).values(**key, version=version, started_at=started_at))

    def gate_requests(self, deployment_id: str, step_index: int) -> list[GateRequest]:
        """The requests a gate sent to the new version, each with its report if any."""
        g, r = schema.gate_requests, schema.completion_reports
        q = (
            select(g, r.c.status, r.c.reason, r.c.reported_at)
            .select_from(
                g.outerjoin(r, and_(r.c.function == g.c.function, r.c.request_id == g.c.request_id))
            )
            .where(g.c.deployment_id == deployment_id, g.c.step_index == step_index)
            .order_by(g.c.started_at, g.c.request_id)
        )
        with self.engine.connect() as conn:
            return [
                GateRequest(
                    function=m["function"],
                    request_id=m["request_id"],
                    version=m["version"],
                    started_at=m["started_at"],
                    report=None if m["status"] is None else rows.report(m),
                )
                for m in (row._mapping for row in conn.execute(q))
            ]

    # ---- alarms ----------------------------------------------------------------------

    def alarm_states(self) -> dict[str, tuple[str, str, float]]:
        with self.engine.connect() as conn:
            return {
                r.name: (r.state, r.reason, r.updated_at)
                for r in conn.execute(select(schema.alarm_states))
            }

    def put_alarm_state(self, name: str, state: str, reason: str, now: float) -> None:
        with self.tx() as conn:
            conn.execute(delete(schema.alarm_states).where(schema.alarm_states.c.name == name))
            conn.execute(
                insert(schema.alarm_states).values(
                    name=name, state=state, reason=reason, updated_at=now
                )
            )


def _replanned(function: str, planned: int, found: str) -> Conflict:
    """A release plan's version number that another writer's publish made wrong."""
    return Conflict(
        f"{function}: the plan publishes version {planned}, but the store's {found} "
        "(another release published meanwhile); run `canaria deploy` again"
    )
