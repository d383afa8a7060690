"""The parent's side of one execution environment: a worker process and its socket.

``WorkerProcess`` starts ``worker.py`` with one end of a ``socketpair`` (length-prefixed
orjson frames, see ``worker.py``), waits for it to import the handler, then carries one
invocation at a time. It knows nothing of pools or concurrency (``function.py`` does);
it turns whatever happens to the process into a ``Reply``:

    OK / ERROR / OOM   the worker answered (OOM: a MemoryError in the handler)
    TIMEOUT / OOM      the parent killed it (wall-clock timeout; RSS over MemorySize)
    EXITED             it died on its own (exit, signal); the exit status is in the reply
    CLOSED             the runtime was closed while the invocation ran

Besides Python-level ``print``/``logging`` (frames on the socket), the worker's file
descriptors 1 and 2 are pipes read here, so output written below Python (C extensions,
subprocesses, a segfault's report) reaches the log too.

An environment is the worker and every process it starts: the worker leads a session
of its own (killed as a group), and its environment carries a marker
(``ENVIRONMENT_MARKER``) that children inherit, so when the environment stops, a child
that left the group (``setsid``, a daemonizing library) is found by the marker in
``/proc/<pid>/environ`` and killed too, as Lambda destroys a whole environment.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import os
import select
import signal
import socket
import subprocess
import time
import uuid
from collections.abc import Callable
from typing import Any, NamedTuple

import orjson

from canaria import pythons
from canaria.models.runtime import Version
from canaria.models.streaming import ResponseSink
from canaria.runtime.environment import WORKER_SCRIPT, log_stream_name, worker_environment
from canaria.runtime.worker import HEADER, LOG, READY, RESULT, encode_frame, vm_hwm_kib

OnLine = Callable[[str, str, str], None]  # (request id, stream, text)
ENVIRONMENT_MARKER = "_CANARIA_ENVIRONMENT_ID"


_PAGE_KIB = os.sysconf("SC_PAGE_SIZE") // 1024


def kill_marked(marker: str) -> list[int]:
    """SIGKILL every process whose environment holds ``ENVIRONMENT_MARKER=marker``
    (ours only: other users' environ files are unreadable); the pids killed."""
    needle = f"{ENVIRONMENT_MARKER}={marker}".encode()
    killed: list[int] = []
    me = os.getpid()
    try:
        pids = [int(p) for p in os.listdir("/proc") if p.isdigit()]
    except OSError:
        return killed
    for pid in pids:
        if pid == me:
            continue
        try:
            with open(f"/proc/{pid}/environ", "rb") as f:
                environ = f.read()
        except OSError:
            continue
        if needle in environ.split(b"\0"):
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)
                killed.append(pid)
    return killed


class ReplyKind(enum.Enum):
    OK = "ok"
    ERROR = "error"
    OOM = "oom"
    TIMEOUT = "timeout"
    EXITED = "exited"
    CLOSED = "closed"


_WORKER_KINDS = {"ok": ReplyKind.OK, "error": ReplyKind.ERROR, "oom": ReplyKind.OOM}


class Reply(NamedTuple):
    kind: ReplyKind
    payload: bytes = b""
    duration_ms: float | None = None  # handler time measured in the worker
    max_memory_kib: int = 0
    returncode: int | None = None


class Invocation:
    """One request on one worker: its lines (before the handler ran, and during) and reply."""

    __slots__ = (
        "future",
        "init_lines",
        "initialised",
        "lines",
        "request_id",
        "sink",
        "start_logged",
        "start_text",
    )

    def __init__(
        self,
        request_id: str,
        future: asyncio.Future[Reply],
        start_text: str = "",
        sink: ResponseSink | None = None,
    ) -> None:
        self.request_id = request_id
        self.future = future
        self.sink = sink  # where a streamed response goes as it arrives (Runtime API only)
        self.start_text = start_text  # the START line
        self.init_lines: list[str] = []
        self.lines: list[str] = []
        self.initialised = False
        self.start_logged = False


class _Protocol(asyncio.Protocol):
    def __init__(self, worker: WorkerProcess) -> None:
        self._worker = worker
        self._buf = bytearray()
        self._need = 0

    def data_received(self, data: bytes) -> None:
        if self._buf:
            self._buf += data
            if len(self._buf) < self._need:
                return
            data = bytes(self._buf)
            self._buf.clear()
        pos, n = 0, len(data)
        while n - pos >= HEADER.size:
            hlen, blen = HEADER.unpack_from(data, pos)
            end = pos + HEADER.size + hlen + blen
            if end > n:
                self._need = end - pos
                break
            head = pos + HEADER.size
            self._worker.on_frame(orjson.loads(data[head : head + hlen]), data[head + hlen : end])
            pos = end
        if pos < n:
            self._buf += data[pos:]

    def connection_lost(self, exc: Exception | None) -> None:
        self._worker.on_eof()


class WorkerProcess:
    def __init__(
        self,
        function: str,
        version: Version,
        env_extra: dict[str, str],
        on_line: OnLine,
        now: float,
    ) -> None:
        self.function = function
        self.version = version
        self.memory_limit_kib = version.config.memory_mb * 1024
        python = pythons.python_for(version.config.runtime)  # its runtime's version
        self.python = python.path
        self.env = worker_environment(
            function,
            version,
            env_extra,
            log_stream=log_stream_name(version.number, now),
            python=python,
        )
        self.marker = uuid.uuid4().hex
        self.env[ENVIRONMENT_MARKER] = self.marker
        self._on_line = on_line
        self.proc: asyncio.subprocess.Process | None = None
        self._transport: asyncio.Transport | None = None
        self._ready: asyncio.Future[dict[str, Any] | None] | None = None
        self._pumps: list[asyncio.Task[None]] = []
        self._reaping: asyncio.Task[None] | None = None
        self.current: Invocation | None = None
        self.init_ms: float | None = None
        self.init_error: dict[str, Any] | None = None
        self.last_used = time.monotonic()
        self.deadline = float("inf")  # wall-clock (monotonic) end of the current request
        self.busy_since = float("inf")  # when the current request (or the init) was sent
        self._hangup_poller: select.poll | None = None  # the socket, registered once
        self._statm: int | None = None  # /proc/<pid>/statm, opened at the first look
        self._status: int | None = None  # /proc/<pid>/status, opened at the first peak read
        self.dead = False

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc else None

    # ---- lifecycle ------------------------------------------------------------------------

    async def start(self, timeout_s: float) -> Reply | None:
        """Spawn and import the handler; ``None`` when ready, else the reply for the request
        that caused the cold start (init error, init timeout, death during init)."""
        loop = asyncio.get_running_loop()
        parent, child = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        started = time.perf_counter()
        try:
            self.proc = await asyncio.create_subprocess_exec(
                self.python,
                WORKER_SCRIPT,
                str(child.fileno()),
                str(os.getpid()),
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                pass_fds=(child.fileno(),),
                cwd=self.version.artifact,
                env=self.env,
                start_new_session=True,
            )
        except BaseException:
            parent.close()
            raise
        finally:
            child.close()
        self._ready = loop.create_future()
        self._transport, _ = await loop.create_unix_connection(lambda: _Protocol(self), sock=parent)
        for stream, name in ((self.proc.stdout, "stdout"), (self.proc.stderr, "stderr")):
            if stream is not None:
                self._pumps.append(asyncio.ensure_future(self._pump(stream, name)))
        return await self._initialised(timeout_s, started)

    async def _initialised(self, timeout_s: float, started: float) -> Reply | None:
        """Wait (within ``timeout_s``) for the environment to say it is ready, or to die:
        None when ready, else the reply its first request gets (an init error, or the exit)."""
        self.busy_since = time.monotonic()
        self.deadline = self.busy_since + timeout_s
        assert self._ready is not None
        ready = await self._ready
        self.init_ms = (time.perf_counter() - started) * 1000.0
        inv = self.current
        if inv is not None:
            inv.initialised = True
        if ready is None:  # died or was killed during init
            if inv is None:  # started ahead of traffic: nobody waits for its answer
                return Reply(ReplyKind.EXITED, b"", duration_ms=0.0)
            return await inv.future
        if ready.get("error") is not None:
            self.init_error = dict(ready["error"])
            return Reply(ReplyKind.ERROR, orjson.dumps(self.init_error), duration_ms=0.0)
        return None

    async def stop(self, grace_s: float = 1.0) -> None:
        """EOF on the socket (the worker exits), SIGKILL if it has not after ``grace_s``."""
        self.dead = True
        if self._transport is not None:
            self._transport.close()
        if self.proc is not None:
            try:
                await asyncio.wait_for(self.proc.wait(), grace_s)
            except TimeoutError:
                self.kill()
                await self.proc.wait()
        if self.proc is not None:  # what left the group, found by the environment's marker
            await asyncio.to_thread(kill_marked, self.marker)
        for pump in self._pumps:
            with contextlib.suppress(TimeoutError, asyncio.CancelledError):
                await asyncio.wait_for(pump, grace_s)
        self._close_proc_files()

    def usable(self) -> bool:
        """Whether an idle worker can take a request: not known dead, and its end of the
        socket has not hung up (killed from outside while idle, before the event loop saw
        the EOF). One ``poll`` of the socket, no wait."""
        if self.dead or self._transport is None:
            return False
        if self.proc is None or self.proc.returncode is not None:
            return False
        poller = self._hangup_poller
        if poller is None:
            sock = self._transport.get_extra_info("socket")
            if sock is None:
                return False
            poller = self._hangup_poller = select.poll()
            poller.register(sock.fileno(), select.POLLRDHUP | select.POLLHUP | select.POLLERR)
        if poller.poll(0):
            self.dead = True
            return False
        return True

    def kill(self) -> None:
        """SIGKILL the worker's process group (it leads its own session)."""
        self.dead = True
        if self.proc is not None and self.proc.returncode is None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.proc.pid, signal.SIGKILL)

    def fail(self, kind: ReplyKind) -> None:
        """Kill the worker and answer the request it was serving with ``kind``."""
        self.kill()
        inv = self.current
        if inv is not None and not inv.future.done():
            inv.future.set_result(Reply(kind, max_memory_kib=self.rss_kib() or 0))
        if self._ready is not None and not self._ready.done():
            self._ready.set_result(None)

    def rss_kib(self) -> int | None:
        """The process's resident set in KiB: the second field of ``/proc/<pid>/statm`` (in
        pages), kept open, so each look is one ``pread`` of a short line where
        ``/proc/<pid>/status`` was opened, had some 50 fields formatted, and was closed. A
        descriptor outlives its process harmlessly: it reads nothing, never another
        process's figures."""
        if self.proc is None or self.proc.returncode is not None:
            return None
        try:
            fd = self._statm
            if fd is None:
                fd = self._statm = os.open(f"/proc/{self.proc.pid}/statm", os.O_RDONLY)
            return int(os.pread(fd, 128, 0).split()[1]) * _PAGE_KIB
        except (OSError, ValueError, IndexError):
            return None

    def peak_kib(self) -> int | None:
        """The process's peak resident set in KiB: VmHWM of ``/proc/<pid>/status`` (kept
        open as ``statm`` is). A process started with ``execve`` counts from nothing, so it
        is the runtime's own peak, never canaria's."""
        if self.proc is None or self.proc.returncode is not None:
            return None
        try:
            fd = self._status
            if fd is None:
                fd = self._status = os.open(f"/proc/{self.proc.pid}/status", os.O_RDONLY)
            return vm_hwm_kib(os.pread(fd, 8192, 0))
        except (OSError, ValueError):
            return None

    def _close_proc_files(self) -> None:
        """Close the kept-open ``/proc`` files (``statm``, ``status``)."""
        for fd in (self._statm, self._status):
            if fd is not None:
                with contextlib.suppress(OSError):
                    os.close(fd)
        self._statm = self._status = None

    # ---- invocation -----------------------------------------------------------------------

    def send(self, header: dict[str, Any], event: bytes, timeout_s: float) -> asyncio.Future[Reply]:
        """Send the event of the current invocation; its future gets the reply, or TIMEOUT
        once ``deadline`` passes (the runtime's watchdog calls ``fail`` then: one timer for
        all workers, not one per request). A plain call, not a coroutine: the caller awaits
        the future itself, one coroutine fewer to resume per reply."""
        inv = self.current
        assert inv is not None and self._transport is not None
        future = inv.future
        if self.dead:
            if not future.done():
                future.set_result(Reply(ReplyKind.EXITED))
            return future
        self.busy_since = time.monotonic()
        self.deadline = self.busy_since + timeout_s
        self._transport.write(encode_frame(header, event))
        return future

    # ---- what the worker says -------------------------------------------------------------

    def on_frame(self, header: dict[str, Any], body: bytes) -> None:
        kind = header.get("t")
        inv = self.current
        if kind == LOG:
            text = body.decode("utf-8", "replace")
            self._line(inv, header.get("s", "stdout"), text)
        elif kind == RESULT:
            if inv is not None and not inv.future.done():
                inv.future.set_result(
                    Reply(
                        _WORKER_KINDS.get(header.get("k", ""), ReplyKind.ERROR),
                        body,
                        duration_ms=header.get("ms"),
                        max_memory_kib=header.get("mem", 0),
                    )
                )
        elif kind == READY and self._ready is not None and not self._ready.done():
            self._ready.set_result(header)

    def _line(self, inv: Invocation | None, stream: str, text: str) -> None:
        if inv is not None:
            (inv.lines if inv.initialised else inv.init_lines).append(text)
        self._on_line(inv.request_id if inv else "", stream, text)

    def on_eof(self) -> None:
        self.dead = True
        if self._ready is not None and not self._ready.done():
            self._ready.set_result(None)
        inv = self.current
        if inv is not None and not inv.future.done():
            self._reaping = asyncio.ensure_future(self._reap(inv))

    async def _reap(self, inv: Invocation) -> None:
        """The worker hung up: answer with its exit status once the process is gone."""
        returncode: int | None = None
        if self.proc is not None:
            try:
                returncode = await asyncio.wait_for(self.proc.wait(), 5.0)
            except TimeoutError:
                self.kill()
        if self._pumps:  # what it wrote to fd 2 before dying belongs to this request
            await asyncio.wait(self._pumps, timeout=0.5)
        if not inv.future.done():
            inv.future.set_result(Reply(ReplyKind.EXITED, returncode=returncode))

    async def _pump(self, stream: asyncio.StreamReader, name: str) -> None:
        """fd-level output: split into lines and logged against the current request."""
        pending = b""
        while chunk := await stream.read(65536):
            *lines, pending = (pending + chunk).split(b"\n")
            for line in lines:
                self._line(self.current, name, line.decode("utf-8", "replace"))
        if pending:
            self._line(self.current, name, pending.decode("utf-8", "replace"))
