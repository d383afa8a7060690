"""Supervise dynalite and create the template's tables in it.

Why dynalite: it is a maintained, complete implementation of DynamoDB's wire API on
LevelDB (durable on disk, no JVM), installed from npm with a prebuilt native module for
linux-x64. The alternatives — DynamoDB Local (needs a JVM and a download from AWS),
moto (in-memory, not durable), LocalStack (a server of its own) — fit worse.

Functions reach it through ``AWS_ENDPOINT_URL_DYNAMODB``, which names canaria's front
(``canaria.tables.front``: streams, and a port that stays) on a loopback port bound when
canaria starts; dynalite listens on a port of its own behind it, started by the first
table or the first request. If the child dies, the supervisor starts it again on the
same data directory.

dynalite must never outlive canaria: a survivor keeps LevelDB's lock on the data
directory and the next ``canaria up`` cannot open the tables. Two guards, because each
covers what the other cannot:

- the child is started with ``PR_SET_PDEATHSIG`` = SIGKILL, so the kernel kills it the
  moment canaria dies, even by SIGKILL (Linux; nothing to clean up afterwards);
- its pid is written to ``dynamodb/engine.pid``; a start finds a process left there by
  an earlier run (a platform without the death signal, a parent thread that exited) and
  kills it before starting its own, if that process is dynalite on this data directory.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import shutil
import signal
import socket
import sys
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from canaria.errors import CanariaError, TemplateError
from canaria.models import TableSpec
from canaria.npm import node_package
from canaria.ports import free_port, reserve_port
from canaria.tables.front import TablesFront
from canaria.tables.streams import TableStreams

log = logging.getLogger("canaria.tables")


class EngineError(CanariaError):
    http_status = 503
    code = "ServiceUnavailable"


def dynalite_script() -> Path | None:
    env = os.environ.get("CANARIA_DYNALITE")
    candidates = [Path(env)] if env else []
    candidates.append(node_package("dynalite") / "cli.js")
    return next((c for c in candidates if c.is_file()), None)


_PR_SET_PDEATHSIG = 1
_SPAWN_ATTEMPTS = 3  # ports tried when another process takes dynalite's before it binds


def _die_with_parent() -> None:
    """``preexec_fn`` of the dynalite child: SIGKILL when canaria dies (Linux)."""
    if sys.platform.startswith("linux"):
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)


def reap_stale_engine(pidfile: Path, data_dir: Path, wait_s: float = 10.0) -> int | None:
    """Kill a dynalite an earlier run left on ``data_dir`` (found through ``pidfile``);
    return its pid, or ``None`` when there was none. A pid now used by some other
    process is left alone: only a process whose command line names dynalite and this
    data directory is killed."""
    try:
        pid = int(pidfile.read_text().strip())
    except (OSError, ValueError):
        return None
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            argv = f.read().split(b"\0")
    except OSError:
        pidfile.unlink(missing_ok=True)
        return None
    if not any(b"dynalite" in a for a in argv) or os.fsencode(str(data_dir)) not in argv:
        pidfile.unlink(missing_ok=True)
        return None
    log.warning("dynalite %d from an earlier run still holds %s; stopping it", pid, data_dir)
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + wait_s
    while _alive(pid) and time.monotonic() < deadline:
        time.sleep(0.02)
    pidfile.unlink(missing_ok=True)
    return pid


def _alive(pid: int) -> bool:
    """True while ``pid`` exists and is not a zombie (a zombie holds no locks)."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            return f.read().rsplit(b") ", 1)[1][:1] != b"Z"
    except (OSError, IndexError):
        return False


class DynamoEngine:
    """dynalite as a supervised child, behind ``TablesFront`` on a fixed loopback port."""

    def __init__(self, state_dir: str, access_key: str, secret_key: str) -> None:
        self.data_dir = Path(state_dir) / "dynamodb"
        self.pidfile = self.data_dir / "engine.pid"
        # the front's port is in every function's environment, so it stays the same for
        # canaria's life: bound now, listened on from ``listen``
        self._reserved: socket.socket | None = reserve_port()
        self.port = int(self._reserved.getsockname()[1])
        self.engine_port: int | None = None  # dynalite's own, picked at each start
        self.access_key = access_key
        self.secret_key = secret_key
        self.streams = TableStreams(self.data_dir / "streams")
        self.front = TablesFront(self.streams, self._running_port)
        self._proc: asyncio.subprocess.Process | None = None
        self._supervisor: asyncio.Task[None] | None = None
        self._lock = asyncio.Lock()
        self._stopping = False
        self.restarts = 0

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.returncode is None

    @property
    def endpoint(self) -> str:
        """What functions (and canaria's own clients) are given: the front."""
        return f"http://127.0.0.1:{self.port}"

    async def listen(self) -> None:
        """Serve the front (cheap; dynalite itself starts when first needed)."""
        if self._reserved is not None:
            sock, self._reserved = self._reserved, None
            self.streams.load()
            await self.front.listen(sock)

    async def start(self) -> None:
        await self.listen()
        async with self._lock:
            if self.running:
                return
            if self._stopping:
                raise EngineError("canaria is stopping")
            await self._spawn()
            if self._supervisor is None or self._supervisor.done():
                self._supervisor = asyncio.ensure_future(self._supervise())

    async def _running_port(self) -> int:
        """dynalite's port, starting it first when it is not running (the front's first
        request without tables in the template, or a restart under way)."""
        if not self.running:
            await self.start()
        assert self.engine_port is not None
        return self.engine_port

    async def _spawn(self) -> None:
        script = dynalite_script()
        node = shutil.which("node")
        if script is None or node is None:
            raise EngineError(
                "DynamoDB is served by dynalite, which is not installed: run "
                "`make setup` (it runs `npm ci`), or set CANARIA_DYNALITE to dynalite's cli.js"
            )
        self.data_dir.mkdir(parents=True, exist_ok=True)
        await asyncio.to_thread(reap_stale_engine, self.pidfile, self.data_dir)
        for _attempt in range(_SPAWN_ATTEMPTS):
            port = free_port()
            self._proc = await asyncio.create_subprocess_exec(
                node,
                str(script),
                "--port",
                str(port),
                "--host",
                "127.0.0.1",
                "--path",
                str(self.data_dir),
                stdout=asyncio.subprocess.DEVNULL,
                stderr=asyncio.subprocess.PIPE,
                preexec_fn=_die_with_parent,
            )
            self.pidfile.write_text(f"{self._proc.pid}\n")
            for _ in range(200):
                try:
                    _, writer = await asyncio.open_connection("127.0.0.1", port)
                    writer.close()
                    await writer.wait_closed()
                    self.engine_port = port
                    return
                except OSError as exc:
                    if self._proc.returncode is not None:
                        err = b""
                        if self._proc.stderr is not None:
                            err = await self._proc.stderr.read()
                        if b"EADDRINUSE" in err:
                            break  # another process took the port first: another one
                        raise EngineError(
                            f"dynalite exited at start: {err.decode()[-500:]}"
                        ) from exc
                    await asyncio.sleep(0.05)
            else:
                self._proc.kill()
                raise EngineError(f"dynalite did not listen on port {port} within 10 s")
        raise EngineError(f"dynalite found its port taken {_SPAWN_ATTEMPTS} times in a row")

    async def _supervise(self) -> None:
        while not self._stopping:
            proc = self._proc
            assert proc is not None
            await proc.wait()
            if self._stopping:
                return
            self.restarts += 1
            log.warning("dynalite exited (%s); restarting", proc.returncode)
            await asyncio.sleep(min(5.0, 0.2 * self.restarts))
            with contextlib.suppress(EngineError):
                async with self._lock:
                    if not self.running and not self._stopping:
                        await self._spawn()

    async def stop(self) -> None:
        self._stopping = True
        if self._reserved is not None:
            self._reserved.close()
            self._reserved = None
        await self.front.stop()
        if self._supervisor is not None:
            self._supervisor.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._supervisor
        if self._proc is not None and self._proc.returncode is None:
            self._proc.terminate()
            try:
                await asyncio.wait_for(self._proc.wait(), 10)
            except TimeoutError:
                self._proc.kill()
                await self._proc.wait()
        self.pidfile.unlink(missing_ok=True)

    # ---- tables ------------------------------------------------------------------------

    def client(self) -> Any:
        import boto3

        return boto3.client(
            "dynamodb",
            endpoint_url=self.endpoint,
            region_name="us-east-1",
            aws_access_key_id=self.access_key,
            aws_secret_access_key=self.secret_key,
        )

    async def ensure_tables(self, tables: Mapping[str, TableSpec]) -> list[str]:
        """Create missing tables (existing ones keep their data) and give each the stream
        its ``StreamSpecification`` asks for; return the tables created."""
        created = await asyncio.to_thread(self._ensure_tables, tables)
        for spec in tables.values():
            stream = spec.definition.get("StreamSpecification") or {}
            enabled = stream.get("StreamEnabled", True) and stream.get("StreamViewType")
            self.streams.configure(
                spec.table_name,
                str(stream["StreamViewType"]) if enabled else None,
                [(k["AttributeName"], k["KeyType"]) for k in spec.definition.get("KeySchema", [])],
            )
        return created

    def _ensure_tables(self, tables: Mapping[str, TableSpec]) -> list[str]:
        from botocore.exceptions import ClientError

        client = self.client()
        existing = set(client.list_tables().get("TableNames", []))
        created = []
        for spec in tables.values():
            if spec.table_name in existing:
                continue
            try:
                client.create_table(**_create_request(spec))
            except ClientError as exc:
                err = exc.response.get("Error", {})
                raise TemplateError(
                    f"table {spec.table_name}: {err.get('Code')}: {err.get('Message')}",
                    prop=f"Resources.{spec.logical_id}",
                ) from None
            client.get_waiter("table_exists").wait(
                TableName=spec.table_name, WaiterConfig={"Delay": 0.2, "MaxAttempts": 100}
            )
            created.append(spec.table_name)
        return created


def _create_request(spec: TableSpec) -> dict[str, Any]:
    body = dict(spec.definition)
    body["TableName"] = spec.table_name
    if "BillingMode" not in body and "ProvisionedThroughput" not in body:
        body["BillingMode"] = "PAY_PER_REQUEST"
    return body
