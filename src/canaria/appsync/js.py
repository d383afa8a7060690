"""AppSync resolver code (the ``APPSYNC_JS`` runtime) run by Node.js.

    JsRuntime.call(source, "request" | "response", ctx)  ->  JsOutcome
                                                           | raises ResolverCodeError

A resolver's or pipeline function's code is one ES module exporting ``request(ctx)`` and
``response(ctx)``. One ``node`` process, ``js/evaluator.mjs``, runs the code of every
resolver, several calls in flight at once: it gives the code canaria's own
``@aws-appsync/utils`` (``util``, ``runtime``, ``extensions``) and
``@aws-appsync/utils/dynamodb``, since AWS publishes only their types. Requests and answers
are JSON lines on the process's stdin and stdout, matched by id; what the code prints is
captured and returned in the outcome, never mixed into them.

The process starts with the first call and again after it ended (the code called
``process.exit``, ran out of memory). A handler running past ``timeout_s`` is interrupted in
Node.js; a process that does not answer a second after that is killed, and every call it had
in flight fails.

    CanariaError
    ├── ResolverCodeError   the code failed: it does not parse, imports what is not served,
    │                       lacks the handler, throws, runs too long, ends the process
    └── InvocationError     (canaria.errors) no Node.js to run it, or the runtime was closed
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import hashlib
import itertools
import os
import signal
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import orjson

from canaria.errors import CanariaError, InvocationError
from canaria.runtimes import installed_node

EVALUATOR = Path(__file__).with_name("js") / "evaluator.mjs"
FIRST_NODE = (20, 6)  # module.register, through which the code's imports are served
LINE_LIMIT = 64 * 1024 * 1024  # the largest answer a handler may give, as JSON
GRACE_S = 1.0  # past the handler's time limit, before the process is deemed stuck
HEAP_MB = 512

FailureKind = Literal["syntax", "import", "export", "thrown", "async", "result", "timeout", "exit"]


@dataclass(frozen=True)
class JsOutcome:
    """What one handler call gave: the code ran to its end, to ``util.error`` or to
    ``runtime.earlyReturn``."""

    value: Any  # the handler's return value (undefined: None), or runtime.earlyReturn's argument
    stash: dict[str, Any]  # ctx.stash after the call
    errors: list[dict[str, Any]]  # util.appendError: {"message", "errorType", "data", "errorInfo"}
    early: bool  # runtime.earlyReturn was called: the caller skips what AppSync skips
    error: dict[str, Any] | None  # util.error / util.unauthorized (same keys), else None
    logs: list[str]  # console output, for the API's logs
    # extensions.* calls, in order: {"method": "setSubscriptionFilter", "filter": ...},
    # {"method": "invalidateSubscriptions", "invalidation": ...}, {"method":
    # "setSubscriptionInvalidationFilter", "filter": ...}, {"method": "evictFromApiCache",
    # "typeName", "fieldName", "keyValuePair"}
    extensions: list[dict[str, Any]] = field(default_factory=list)
    # runtime.earlyReturn's returnOptions.skipTo: "END" (the rest of the pipeline) or "NEXT"
    # (the rest of this function); None when not given
    skip_to: Literal["END", "NEXT"] | None = None
    # util.http.addResponseHeader(s): the headers for the HTTP response
    response_headers: dict[str, Any] = field(default_factory=dict)


class ResolverCodeError(CanariaError):
    """The resolver's code failed. The message says what and where (the handler, the line
    and column in the code); the parts are attributes for callers that name the file.

    ``kind``: ``syntax`` (it does not parse), ``import`` (it imports what is not served),
    ``export`` (no such handler), ``thrown`` (the code threw, while loading or in the
    handler), ``async`` (the handler returned a Promise), ``result`` (its value cannot be sent
    as JSON), ``timeout``, ``exit`` (the Node.js process ended)."""

    code = "ResolverCodeError"

    def __init__(
        self,
        message: str,
        *,
        kind: FailureKind,
        handler: str,
        line: int | None = None,
        column: int | None = None,
        logs: list[str] | None = None,
    ) -> None:
        super().__init__(message)
        self.kind = kind
        self.handler = handler
        self.line = line
        self.column = column
        self.logs = logs or []


def _die_with_parent() -> None:
    """``preexec_fn``: the kernel kills the evaluator when canaria dies (Linux)."""
    if sys.platform.startswith("linux"):
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL, 0, 0, 0)  # PR_SET_PDEATHSIG


def _failure_message(handler: str, failure: dict[str, Any]) -> str:
    kind, message = failure["kind"], failure["message"]
    line, column, frame = failure.get("line"), failure.get("column"), failure.get("function")
    place = ""
    if line is not None:
        place = f"line {line}" + (f", column {column}" if column is not None else "")
    if kind == "syntax":
        return f"the resolver code does not parse ({place or 'place unknown'}): {message}"
    if kind == "import":
        return f"{message} ({place})" if place else message
    if kind == "thrown":
        where = f" at {place}" if place else ""
        if frame == "(module top level)":
            loading = f"the resolver code failed while loading for the {handler} handler"
            return f"{loading}{where}: {message}"
        inner = f" (in {frame})" if frame and frame != handler else ""
        return f"the {handler} handler failed{where}{inner}: {message}"
    return str(message)


class _Evaluator:
    """One ``node evaluator.mjs`` process and the calls in flight on it."""

    def __init__(self, proc: asyncio.subprocess.Process) -> None:
        self.proc = proc
        self.pending: dict[int, tuple[str, asyncio.Future[dict[str, Any]]]] = {}
        self.ended = False  # it takes no more calls: it ended, or is being stopped
        self.stderr_tail: collections.deque[str] = collections.deque(maxlen=20)
        self._write_lock = asyncio.Lock()
        self._sends: set[asyncio.Future[None]] = set()
        self._stderr = asyncio.ensure_future(self._drain_stderr())
        self._reader = asyncio.ensure_future(self._read())

    @classmethod
    async def start(cls, node: str, workdir: Path) -> _Evaluator:
        # NODE_OPTIONS set for functions (or the shell) would change how the evaluator runs
        env = {k: v for k, v in os.environ.items() if k != "NODE_OPTIONS"}
        try:
            proc = await asyncio.create_subprocess_exec(
                node,
                f"--max-old-space-size={HEAP_MB}",
                str(EVALUATOR),
                str(workdir),
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
                limit=LINE_LIMIT,
                env=env,
                start_new_session=True,
                preexec_fn=_die_with_parent,
            )
        except OSError as exc:
            raise InvocationError(
                f"cannot start Node.js ({node}) for AppSync JavaScript resolvers: {exc}"
            ) from exc
        return cls(proc)

    def submit(
        self, request_id: int, handler: str, message: dict[str, Any]
    ) -> asyncio.Future[dict[str, Any]]:
        """Register the call and send it; its answer, or its failure when the process ends
        first (at once when it already has)."""
        line = orjson.dumps(message) + b"\n"
        if self.ended:
            raise self._exit_error(handler)
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self.pending[request_id] = (handler, future)
        sending = asyncio.ensure_future(self._send(line))
        self._sends.add(sending)
        sending.add_done_callback(self._sends.discard)
        return future

    def forget(self, request_id: int) -> None:
        self.pending.pop(request_id, None)

    async def _send(self, line: bytes) -> None:
        stdin = self.proc.stdin
        assert stdin is not None
        async with self._write_lock:
            with contextlib.suppress(ConnectionError, RuntimeError):
                stdin.write(line)
                await stdin.drain()
            # a process that ended fails the call through _read

    async def _read(self) -> None:
        stdout = self.proc.stdout
        assert stdout is not None
        try:
            while line := await stdout.readline():
                try:
                    reply = orjson.loads(line)
                except orjson.JSONDecodeError:
                    self.stderr_tail.append(line.decode(errors="replace").rstrip())
                    continue
                entry = self.pending.pop(reply.get("id"), None)
                if entry is not None and not entry[1].done():
                    entry[1].set_result(reply)
        except ValueError:  # a line longer than LINE_LIMIT: the stream cannot go on
            self.ended = True
            self.fail_all(
                lambda handler: ResolverCodeError(
                    f"the {handler} handler's result (or another call's on the same Node.js "
                    f"process) is larger than {LINE_LIMIT // (1024 * 1024)} MiB as JSON",
                    kind="result",
                    handler=handler,
                )
            )
            with contextlib.suppress(ProcessLookupError):
                self.proc.kill()
        finally:
            await self.proc.wait()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.shield(self._stderr), 2)
            self.fail_all(self._exit_error)
            self.ended = True

    async def _drain_stderr(self) -> None:
        stderr = self.proc.stderr
        assert stderr is not None
        with contextlib.suppress(ValueError):
            while line := await stderr.readline():
                self.stderr_tail.append(line.decode(errors="replace").rstrip())

    def _exit_error(self, handler: str) -> ResolverCodeError:
        code = self.proc.returncode
        tail = "\n".join(line for line in self.stderr_tail if line)
        heap = "out of memory" in tail or "heap limit" in tail
        if code is not None and code < 0:
            how = f"was killed by signal {-code}"
            cause = "from outside canaria, or by the kernel for want of memory"
        else:
            how = f"exited with code {code}"
            cause = "the code may have called process.exit"
        if heap:
            cause = f"it ran out of memory ({HEAP_MB} MB)"
        detail = f"\n{tail[-2000:]}" if tail and not heap else ""
        return ResolverCodeError(
            f"the Node.js process running resolver code {how} while the {handler} handler "
            f"ran: {cause}{detail}",
            kind="exit",
            handler=handler,
        )

    def fail_all(self, error: Callable[[str], Exception]) -> None:
        """Fail every call in flight with ``error(handler)``."""
        pending, self.pending = self.pending, {}
        for handler, future in pending.values():
            if not future.done():
                future.set_exception(error(handler))

    async def stop(self, *, graceful: bool) -> None:
        """End the process (closing its stdin lets it finish; else SIGKILL) and wait."""
        if self.proc.returncode is None:
            if graceful and self.proc.stdin is not None:
                with contextlib.suppress(ConnectionError, RuntimeError):
                    self.proc.stdin.close()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self.proc.wait(), 2)
            if self.proc.returncode is None:
                with contextlib.suppress(ProcessLookupError):
                    self.proc.kill()
        await self.proc.wait()
        await asyncio.gather(self._reader, self._stderr, *self._sends, return_exceptions=True)


class JsRuntime:
    """Runs APPSYNC_JS resolver code; see the module docstring.

    ``workdir`` holds the code, each source once as ``<sha256>.mjs``: a redeployed resolver
    is a new module, never the one already imported. ``node`` defaults to the ``node`` on
    PATH (20.6 or later)."""

    def __init__(self, workdir: Path, *, node: str | None = None, timeout_s: float = 10.0) -> None:
        self.workdir = Path(workdir).resolve()  # Node.js imports modules by their real path
        self.timeout_s = timeout_s
        self._node = node
        self._evaluator: _Evaluator | None = None
        self._start_lock = asyncio.Lock()
        self._ids = itertools.count(1)
        self._written: set[str] = set()

    @property
    def pid(self) -> int | None:
        """The PID of the Node.js process while one runs, else None."""
        evaluator = self._evaluator
        if evaluator is None or evaluator.proc.returncode is not None:
            return None
        return evaluator.proc.pid

    async def call(
        self,
        source: str,
        function: str,
        ctx: dict[str, Any],
        *,
        now_ms: int | None = None,
        auth_type: str | None = None,
    ) -> JsOutcome:
        """Run ``function`` ("request" or "response") of ``source`` on ``ctx`` (AppSync's
        context: arguments, identity, source, result, error, prev, stash, request, info,
        env; any may be absent). ``now_ms`` is the time util.time and ``Date`` tell (default:
        the machine's). ``auth_type`` (API_KEY, AWS_IAM, AMAZON_COGNITO_USER_POOLS,
        OPENID_CONNECT, AWS_LAMBDA) is what util.authType() describes; without it, the
        identity's shape tells."""
        if function not in ("request", "response"):
            raise ValueError(f"function must be 'request' or 'response', not {function!r}")
        path = self._code_file(source)
        evaluator = await self._running()
        request_id = next(self._ids)
        answer = evaluator.submit(
            request_id,
            function,
            {
                "id": request_id,
                "file": str(path),
                "function": function,
                "ctx": ctx,
                "now": now_ms,
                "authType": auth_type,
                "timeoutMs": max(1, round(self.timeout_s * 1000)),
            },
        )
        try:
            reply = await asyncio.wait_for(answer, self.timeout_s + GRACE_S)
        except TimeoutError:
            await self._kill_stuck(evaluator, function)
            raise ResolverCodeError(
                f"the {function} handler did not finish within {self.timeout_s:g} s; canaria "
                "stopped the Node.js process running resolver code",
                kind="timeout",
                handler=function,
            ) from None
        finally:
            evaluator.forget(request_id)
        return self._outcome(function, reply)

    async def close(self) -> None:
        """Stop the Node.js process (calls in flight fail) and wait for it to end."""
        async with self._start_lock:
            evaluator, self._evaluator = self._evaluator, None
        if evaluator is not None:
            evaluator.fail_all(
                lambda handler: InvocationError(
                    f"the AppSync JavaScript runtime was closed while the {handler} handler ran"
                )
            )
            await evaluator.stop(graceful=True)

    # ---- internals -------------------------------------------------------------------

    def _code_file(self, source: str) -> Path:
        digest = hashlib.sha256(source.encode()).hexdigest()
        path = self.workdir / f"{digest}.mjs"
        if digest not in self._written:
            if not path.is_file():
                self.workdir.mkdir(parents=True, exist_ok=True)
                partial = path.with_name(f".{digest}.{os.getpid()}.tmp")
                partial.write_text(source, encoding="utf-8")
                os.replace(partial, path)
            self._written.add(digest)
        return path

    def _node_path(self) -> str:
        if self._node is not None:
            return self._node
        node = installed_node()
        if node is None:
            raise InvocationError(
                "AppSync JavaScript resolvers run on Node.js, and there is no `node` on PATH: "
                f"install Node.js {FIRST_NODE[0]}.{FIRST_NODE[1]} or later"
            )
        if node.release < FIRST_NODE:
            raise InvocationError(
                f"AppSync JavaScript resolvers need Node.js {FIRST_NODE[0]}.{FIRST_NODE[1]} or "
                f"later (module customization hooks); the `node` on PATH is {node.version}"
            )
        return node.path

    async def _running(self) -> _Evaluator:
        async with self._start_lock:
            current = self._evaluator
            if current is None or current.ended or current.proc.returncode is not None:
                if current is not None:
                    await current.stop(graceful=False)
                current = await _Evaluator.start(self._node_path(), self.workdir)
                self._evaluator = current
            return current

    async def _kill_stuck(self, evaluator: _Evaluator, handler: str) -> None:
        evaluator.ended = True  # no call goes to it any more
        evaluator.fail_all(
            lambda other: ResolverCodeError(
                f"the {other} handler did not finish: the Node.js process running resolver "
                f"code was stopped because a {handler} handler ran past its time limit "
                f"({self.timeout_s:g} s)",
                kind="timeout",
                handler=other,
            )
        )
        async with self._start_lock:
            if self._evaluator is evaluator:
                self._evaluator = None
        await evaluator.stop(graceful=False)

    @staticmethod
    def _outcome(function: str, reply: dict[str, Any]) -> JsOutcome:
        if not reply.get("ok"):
            failure = reply.get("failure") or {}
            if failure.get("kind") == "internal":
                raise InvocationError(str(failure.get("message")))
            raise ResolverCodeError(
                _failure_message(function, failure),
                kind=failure.get("kind", "thrown"),
                handler=function,
                line=failure.get("line"),
                column=failure.get("column"),
                logs=list(reply.get("logs") or []),
            )
        return JsOutcome(
            value=reply.get("value"),
            stash=reply.get("stash") or {},
            errors=list(reply.get("errors") or []),
            early=bool(reply.get("early")),
            error=reply.get("error"),
            logs=list(reply.get("logs") or []),
            extensions=list(reply.get("extensions") or []),
            skip_to=reply.get("skipTo"),
            response_headers=dict(reply.get("headers") or {}),
        )


__all__ = ["JsOutcome", "JsRuntime", "ResolverCodeError"]
