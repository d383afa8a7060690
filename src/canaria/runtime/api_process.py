"""An execution environment that speaks the Lambda Runtime API: Node.js and ``provided``.

``ApiProcess`` is a ``WorkerProcess`` to the function's pool (``function.py``): the same
``start`` / ``invoke`` / ``fail`` / ``kill`` / ``stop``, the same ``Reply`` kinds, the same
watchdog for timeouts and memory, so pools, logs, metrics, the judge, hooks and reclaiming
are shared with Python's workers. What differs is how the process is reached:

- it gets its own Runtime API listener (``runtime_api.py``) and ``AWS_LAMBDA_RUNTIME_API``;
- it is ready when it first asks for ``next`` (init done), or fails the request that
  started it when it posts ``/runtime/init/error`` or exits first;
- its stdout and stderr are pipes read here; before a response or error is accepted they
  are drained, so everything the handler wrote before answering belongs to its request;
- a timeout, like an exit, ends the whole process group (the runtime and anything it
  started) and the next request gets a fresh environment;
- a streamed response (``runtime_api``'s ``on_stream``) goes to the invocation's
  ``ResponseSink`` as it arrives when its caller streams, up to 200 MB; otherwise it is
  buffered, held to the 6 MB of a synchronous response, and answered as
  ``models.streaming.buffered_payload`` says.

The command is ``node <canaria's bootstrap.js>`` for ``nodejs*.x`` (see ``node.py``) and
``<CodeUri>/bootstrap`` for ``provided*``.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import os
import select
import subprocess
import time
from collections.abc import Mapping, Sequence
from typing import Any

import orjson

from canaria.models.runtime import Version
from canaria.models.streaming import (
    MAX_STREAMED_BYTES,
    Flow,
    PreludeError,
    ResponseSink,
    buffered_payload,
)
from canaria.runtime.process import OnLine, Reply, ReplyKind, WorkerProcess
from canaria.runtime.runtime_api import (
    MAX_RESPONSE_BYTES,
    NO_REPORT,
    Event,
    Report,
    RuntimeApi,
    StreamWriter,
)
from canaria.runtime.worker import PeakSampler

_READ = 65536


RUNTIME_SOCKET_VARIABLE = "_CANARIA_RUNTIME_SOCKET"  # read (and removed) by bootstrap.js


class ApiProcess(WorkerProcess):
    def __init__(
        self,
        function: str,
        version: Version,
        env: Mapping[str, str],
        command: Sequence[str],
        on_line: OnLine,
        now: float,
        *,
        unix_socket: bool = False,
    ) -> None:
        """``unix_socket``: the runtime is canaria's own Node.js bootstrap, which reads
        ``RUNTIME_SOCKET_VARIABLE`` and talks to the API over that Unix socket."""
        super().__init__(function, version, {}, on_line, now)
        self.env = dict(env)
        self.command = list(command)
        self.api = RuntimeApi(self, unix_socket=unix_socket)
        self._fds: dict[int, tuple[str, bytearray]] = {}
        self._pending_output = select.poll()  # the pipes, asked at once before an answer
        self._waiter: asyncio.Task[None] | None = None
        self._sent_at = 0.0
        self._streamed: _Streamed | None = None  # the current invocation's streamed response
        # the peak of a runtime that reports none (a provided one), read as seldom as the
        # Python worker reads its own
        self._peak = PeakSampler(version.config.memory_mb * 1024, self._read_peak)

    # ---- lifecycle ------------------------------------------------------------------------

    async def start(self, timeout_s: float) -> Reply | None:
        loop = asyncio.get_running_loop()
        started = time.perf_counter()
        self.env["AWS_LAMBDA_RUNTIME_API"] = await self.api.start()
        if self.api.socket_path is not None:
            self.env[RUNTIME_SOCKET_VARIABLE] = self.api.socket_path
        out_r, out_w = os.pipe()
        err_r, err_w = os.pipe()
        try:
            self.proc = await asyncio.create_subprocess_exec(
                *self.command,
                stdin=subprocess.DEVNULL,
                stdout=out_w,
                stderr=err_w,
                cwd=self.version.artifact,
                env=self.env,
                start_new_session=True,
            )
        except OSError as exc:
            for fd in (out_r, err_r):
                os.close(fd)
            self.api.close()
            self.dead = True
            self.init_error = {
                "errorMessage": f"could not start {self.command[0]}: {exc.strerror or exc}",
                "errorType": "Runtime.InvalidEntrypoint",
            }
            return Reply(ReplyKind.ERROR, orjson.dumps(self.init_error), duration_ms=0.0)
        finally:
            os.close(out_w)
            os.close(err_w)
        self._ready = loop.create_future()
        for fd, stream in ((out_r, "stdout"), (err_r, "stderr")):
            os.set_blocking(fd, False)
            self._fds[fd] = (stream, bytearray())
            self._pending_output.register(fd, select.POLLIN)
            loop.add_reader(fd, self._readable, fd)
        self._waiter = asyncio.ensure_future(self._wait_exit())
        return await self._initialised(timeout_s, started)

    def usable(self) -> bool:
        """Whether an idle environment can take a request: its process has not exited
        (a runtime killed from outside while idle is seen by ``_wait_exit``, and also by a
        return code the event loop has not reported yet)."""
        return not self.dead and self.proc is not None and self.proc.returncode is None

    async def stop(self, grace_s: float = 1.0) -> None:
        """Close the API and kill the process group (a runtime has nothing to flush)."""
        self.dead = True
        self.api.close()
        self.kill()
        if self.proc is not None:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.proc.wait(), grace_s + 5.0)
        if self._waiter is not None:
            with contextlib.suppress(asyncio.CancelledError, TimeoutError):
                await asyncio.wait_for(self._waiter, grace_s)
        self._close_pipes()
        self._close_proc_files()

    async def _wait_exit(self) -> None:
        assert self.proc is not None
        returncode = await self.proc.wait()
        self._drain()
        self.dead = True
        self.api.close()
        if self._ready is not None and not self._ready.done():
            self._ready.set_result(None)
        inv = self.current
        if inv is not None and not inv.future.done():
            inv.future.set_result(Reply(ReplyKind.EXITED, returncode=returncode))

    # ---- invocation -----------------------------------------------------------------------

    def send(self, header: dict[str, Any], event: bytes, timeout_s: float) -> asyncio.Future[Reply]:
        inv = self.current
        assert inv is not None
        future = inv.future
        if self.dead:
            if not future.done():
                future.set_result(Reply(ReplyKind.EXITED))
            return future
        self.deadline = time.monotonic() + timeout_s
        self._sent_at = time.perf_counter()
        self._streamed = None
        self.api.deliver(
            Event(
                request_id=header["id"],
                deadline_ms=header["deadline"],
                function_arn=header["arn"],
                trace_id=header["trace"],
                body=event,
                client_context=header.get("client_context"),
                cognito_identity=header.get("cognito_identity"),
            )
        )
        return future

    # ---- what the runtime says (runtime_api.Listener) -------------------------------------

    def on_next(self) -> None:
        if self._ready is not None and not self._ready.done():
            self._ready.set_result({"error": None})

    def on_response(self, request_id: str, body: bytes, report: Report) -> bool:
        streamed = self._streamed
        if streamed is not None and self._is_current(request_id):
            body = streamed.payload()
        return self._answer(request_id, ReplyKind.OK, body, report)

    def on_stream(
        self, request_id: str, content_type: str | None, flow: Flow
    ) -> StreamWriter | None:
        if not self._is_current(request_id):
            return None
        inv = self.current
        assert inv is not None
        self._drain()  # what the handler logged before its first byte is its request's
        self._streamed = streamed = _Streamed(content_type, inv.sink, flow)
        return streamed.write

    def on_error(
        self, request_id: str, body: bytes, error_type: str | None, report: Report, *, exiting: bool
    ) -> bool:
        if exiting:  # an uncaught exception: the runtime exits, never reuse it
            self.dead = True
        return self._answer(request_id, ReplyKind.ERROR, _error_payload(body, error_type), report)

    def on_too_large(self, request_id: str, size: int) -> bool:
        streamed = self._streamed
        limit = MAX_RESPONSE_BYTES if streamed is None else streamed.limit
        shape = {
            "errorMessage": f"Response payload size ({size} bytes) exceeded maximum allowed "
            f"payload size ({limit} bytes).",
            "errorType": "Function.ResponseSizeTooLarge",
        }
        return self._answer(request_id, ReplyKind.ERROR, orjson.dumps(shape), NO_REPORT)

    def on_init_error(self, body: bytes, error_type: str | None) -> None:
        self._drain()
        if self._ready is not None and not self._ready.done():
            self._ready.set_result({"error": orjson.loads(_error_payload(body, error_type))})

    def _answer(self, request_id: str, kind: ReplyKind, payload: bytes, report: Report) -> bool:
        """The current invocation's answer. Its duration and peak memory are what the
        runtime reported (canaria's bootstrap does), else the time since the event was
        delivered and the process's peak resident set (VmHWM), sampled by ``PeakSampler``:
        a spike freed before the answer still counts, as it does against Lambda's limit."""
        if not self._is_current(request_id):
            return False
        inv = self.current
        assert inv is not None
        self._streamed = None
        self._drain()
        duration_ms, memory_kib = report
        if duration_ms is None:
            duration_ms = (time.perf_counter() - self._sent_at) * 1000.0
        if memory_kib is None:
            memory_kib = self._peak.after(duration_ms / 1000.0)
        inv.future.set_result(
            Reply(kind, payload, duration_ms=duration_ms, max_memory_kib=memory_kib)
        )
        return True

    def _is_current(self, request_id: str) -> bool:
        inv = self.current
        return inv is not None and inv.request_id == request_id and not inv.future.done()

    def _read_peak(self) -> int:
        return self.peak_kib() or self.rss_kib() or 0

    # ---- output ---------------------------------------------------------------------------

    def _readable(self, fd: int) -> None:
        self._read(fd)

    def _read(self, fd: int) -> None:
        """Read what is in the pipe now; log each complete line against the current request."""
        entry = self._fds.get(fd)
        if entry is None:
            return
        stream, pending = entry
        while True:
            try:
                chunk = os.read(fd, _READ)
            except BlockingIOError:
                return
            except OSError as exc:
                if exc.errno == errno.EINTR:
                    continue
                chunk = b""
            if not chunk:
                if pending:
                    self._line(self.current, stream, pending.decode("utf-8", "replace"))
                    pending.clear()
                self._close_fd(fd)
                return
            pending += chunk
            if b"\n" in chunk:
                *lines, rest = bytes(pending).split(b"\n")
                pending[:] = rest
                for line in lines:
                    self._line(self.current, stream, line.decode("utf-8", "replace"))
            if len(chunk) < _READ:
                return  # the pipe is empty (a short read): no second read to learn it

    def _drain(self) -> None:
        """Read what the runtime wrote before it answered: one ``poll`` says which pipe
        holds anything (usually neither), instead of a failing read of each."""
        for fd, _ in self._pending_output.poll(0):
            self._read(fd)

    def _close_fd(self, fd: int) -> None:
        self._fds.pop(fd, None)
        with contextlib.suppress(KeyError):
            self._pending_output.unregister(fd)
        with contextlib.suppress(Exception):
            asyncio.get_running_loop().remove_reader(fd)
        with contextlib.suppress(OSError):
            os.close(fd)

    def _close_pipes(self) -> None:
        for fd in list(self._fds):
            self._close_fd(fd)


class _Streamed:
    """One streamed response: passed to the caller's sink as it arrives, or buffered for a
    caller that does not stream."""

    __slots__ = ("chunks", "content_type", "limit", "sink", "size")

    def __init__(self, content_type: str | None, sink: ResponseSink | None, flow: Flow) -> None:
        self.content_type = content_type
        self.sink = sink
        self.chunks: list[bytes] = []
        self.size = 0
        self.limit = MAX_STREAMED_BYTES if sink is not None else MAX_RESPONSE_BYTES
        if sink is not None:
            sink.begin(content_type, flow)

    def write(self, data: bytes) -> bool:
        """Pass on or keep ``data``; False once the response is over its limit."""
        self.size += len(data)
        if self.size > self.limit:
            self.chunks.clear()
            return False
        if self.sink is not None:
            self.sink.write(data)
        else:
            self.chunks.append(data)
        return True

    def payload(self) -> bytes:
        """The invocation's payload: nothing when it was streamed (its caller has every
        byte), else what a buffered caller gets."""
        if self.sink is not None:
            return b""
        body = b"".join(self.chunks)
        try:
            return buffered_payload(self.content_type, body)
        except PreludeError:
            return body  # no proxy response: an API route says it is malformed


def _error_payload(body: bytes, error_type: str | None) -> bytes:
    """Lambda's error shape from what the runtime posted (JSON object, else text)."""
    try:
        shape = orjson.loads(body) if body else None
    except orjson.JSONDecodeError:
        shape = None
    if isinstance(shape, dict):
        if "errorType" not in shape and error_type:
            shape["errorType"] = error_type
        return orjson.dumps(shape)
    return orjson.dumps(
        {
            "errorMessage": body.decode("utf-8", "replace"),
            "errorType": error_type or "Runtime.Unknown",
        }
    )
