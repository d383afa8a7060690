"""One execution environment: a process that imports a handler once and serves invocations.

Started by ``canaria.runtime.process`` as ``python <this file> <socket fd> <parent pid>``
(run by path, not with ``-m``, so that importing it does not import canaria: a worker
loads only the standard library, orjson and its own ``boto_hooks.py`` (what the function's
botocore is given, once it imports it) and starts in ~50 ms). It speaks frames over the
inherited Unix socket, one invocation at a time::

    frame  = !II (header length, body length) + header (orjson object) + body (bytes)

    worker → parent  {"t": "ready", "ms": init ms, "error": {...} | null}     once
    parent → worker  {"id", "arn", "trace", "deadline" (epoch ms),
                      "client_context" (JSON text, when the Invoke had one)} + event bytes
    worker → parent  {"t": "l", "s": "stdout" | "stderr"} + one log line      any time
    worker → parent  {"t": "r", "k": "ok" | "error" | "oom", "ms": handler ms,
                      "mem": peak RSS in KiB} + result or error JSON

Lambda's Python runtime (``awslambdaric``) is the model for what a handler sees: the
context object, the error shapes (``Runtime.ImportModuleError``, ``Runtime.HandlerNotFound``,
``Runtime.UserCodeSyntaxError``, ``Runtime.MarshalError``), the root logging handler
format, ``_X_AMZN_TRACE_ID`` per invocation. ``SystemExit`` and signals end the process;
the parent reports them as ``Runtime.ExitError``. EOF on the socket, or the parent's death
(``PR_SET_PDEATHSIG``), ends the worker.
"""

from __future__ import annotations

import io
import logging
import math
import os
import resource
import socket
import struct
import sys
import threading
import time
import traceback
from collections.abc import Callable
from typing import Any

import orjson

HEADER = struct.Struct("!II")
READY = "ready"
# the layers' Python paths (``environment.worker_environment``): on ``sys.path`` after the
# task root once the worker's own modules are imported (on PYTHONPATH, a layer's orjson
# built for another Python would be the worker's), and out of the handler's environment
LAYERS_VARIABLE = "CANARIA_LAYER_PATHS"
BOTO_HOOKS = "boto_hooks"  # ``boto_hooks.py``: what the function's botocore is given
LOG = "l"
RESULT = "r"
_PR_SET_PDEATHSIG = 1


def encode_frame(header: dict[str, Any], body: bytes = b"") -> bytes:
    head = orjson.dumps(header)
    return HEADER.pack(len(head), len(body)) + head + body


class Channel:
    """The worker's end of the socket: blocking reads, locked writes (handler threads log)."""

    def __init__(self, sock: socket.socket) -> None:
        self._sock = sock
        self._rfile = sock.makefile("rb")
        self._lock = threading.Lock()

    def send(self, header: dict[str, Any], body: bytes = b"") -> None:
        frame = encode_frame(header, body)
        with self._lock:
            self._sock.sendall(frame)

    def recv(self) -> tuple[dict[str, Any], bytes] | None:
        prefix = self._rfile.read(HEADER.size)
        if len(prefix) < HEADER.size:
            return None
        hlen, blen = HEADER.unpack(prefix)
        head = self._rfile.read(hlen)
        body = self._rfile.read(blen)
        if len(head) < hlen or len(body) < blen:
            return None
        header: dict[str, Any] = orjson.loads(head)
        return header, body


class LogStream(io.TextIOBase):
    """``sys.stdout`` / ``sys.stderr``: every complete line becomes one log frame."""

    def __init__(self, channel: Channel, stream: str, fd: int) -> None:
        self._channel = channel
        self._stream = stream
        self._fd = fd
        self._buffer = ""
        self._lock = threading.Lock()

    @property
    def encoding(self) -> str:  # type: ignore[override]
        return "utf-8"

    def writable(self) -> bool:
        return True

    def isatty(self) -> bool:
        return False

    def fileno(self) -> int:
        return self._fd  # fd-level writes reach the parent through the process's pipes

    def write(self, s: str) -> int:
        with self._lock:
            self._buffer += s
            if "\n" not in self._buffer:
                return len(s)
            *lines, self._buffer = self._buffer.split("\n")
        for line in lines:
            self._channel.send({"t": LOG, "s": self._stream}, line.encode("utf-8", "replace"))
        return len(s)

    def flush(self) -> None:
        if not self._buffer:
            return
        with self._lock:
            rest, self._buffer = self._buffer, ""
        if rest:
            self._channel.send({"t": LOG, "s": self._stream}, rest.encode("utf-8", "replace"))


class Current:
    """The request being served, for log records written outside the handler's frame."""

    request_id = ""


class LambdaLogHandler(logging.Handler):
    """Lambda's root handler: ``[LEVEL]\\t<UTC time>\\t<request id>\\t<message>``."""

    def __init__(self, channel: Channel) -> None:
        super().__init__()
        self._channel = channel
        formatter = logging.Formatter(
            "[%(levelname)s]\t%(asctime)s.%(msecs)03dZ\t%(aws_request_id)s\t%(message)s",
            "%Y-%m-%dT%H:%M:%S",
        )
        formatter.converter = time.gmtime
        self.setFormatter(formatter)

    def emit(self, record: logging.LogRecord) -> None:
        try:
            record.aws_request_id = Current.request_id
            text = self.format(record)
            self._channel.send({"t": LOG, "s": "stderr"}, text.encode("utf-8", "replace"))
        except Exception:
            self.handleError(record)


class LambdaContext:
    """The context object of Lambda's Python runtime."""

    __slots__ = (
        "_deadline_ms",
        "aws_request_id",
        "client_context",
        "function_name",
        "function_version",
        "identity",
        "invoked_function_arn",
        "log_group_name",
        "log_stream_name",
        "memory_limit_in_mb",
    )

    def __init__(self, request_id: str, invoked_arn: str, deadline_ms: int) -> None:
        self.aws_request_id = request_id
        self.invoked_function_arn = invoked_arn
        self._deadline_ms = deadline_ms
        self.function_name = _STATIC.function_name
        self.function_version = _STATIC.function_version
        self.memory_limit_in_mb = _STATIC.memory_limit_in_mb
        self.log_group_name = _STATIC.log_group_name
        self.log_stream_name = _STATIC.log_stream_name
        self.identity = CognitoIdentity()  # as awslambdaric: an object, its fields None
        self.client_context: ClientContext | None = None

    def get_remaining_time_in_millis(self) -> int:
        return max(0, self._deadline_ms - int(time.time() * 1000))

    def __repr__(self) -> str:
        return (
            f"LambdaContext([aws_request_id={self.aws_request_id},"
            f"function_name={self.function_name},function_version={self.function_version},"
            f"invoked_function_arn={self.invoked_function_arn}])"
        )


class CognitoIdentity:
    """``context.identity``: the Amazon Cognito identity that invoked, which awslambdaric
    gives every invocation (both fields None when the caller had none, as here)."""

    __slots__ = ("cognito_identity_id", "cognito_identity_pool_id")

    def __init__(self, identity_id: str | None = None, pool_id: str | None = None) -> None:
        self.cognito_identity_id = identity_id
        self.cognito_identity_pool_id = pool_id

    def __repr__(self) -> str:
        return (
            f"CognitoIdentity([cognito_identity_id={self.cognito_identity_id},"
            f"cognito_identity_pool_id={self.cognito_identity_pool_id}])"
        )


class Client:
    """``context.client_context.client``: the mobile client that invoked (awslambdaric's)."""

    __slots__ = (
        "app_package_name",
        "app_title",
        "app_version_code",
        "app_version_name",
        "installation_id",
    )

    def __init__(self, fields: dict[str, Any]) -> None:
        for name in self.__slots__:
            setattr(self, name, fields.get(name))


class ClientContext:
    """``context.client_context``: an Invoke's ``ClientContext`` (awslambdaric's shape:
    ``custom`` and ``env`` as sent, ``client`` an object, each None when absent)."""

    __slots__ = ("client", "custom", "env")

    def __init__(self, fields: dict[str, Any]) -> None:
        self.custom = fields.get("custom")
        self.env = fields.get("env")
        client = fields.get("client")
        self.client = Client(client) if isinstance(client, dict) else None

    def __repr__(self) -> str:
        return f"ClientContext([custom={self.custom},env={self.env},client={self.client}])"


def client_context_of(text: str | None) -> ClientContext | None:
    if not text:
        return None
    fields = orjson.loads(text)
    return ClientContext(fields) if isinstance(fields, dict) else None


class _Static:
    """What every context shares, read from the environment once."""

    def __init__(self) -> None:
        self.function_name = os.environ.get("AWS_LAMBDA_FUNCTION_NAME", "")
        self.function_version = os.environ.get("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        self.memory_limit_in_mb = int(os.environ.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128"))
        self.log_group_name = os.environ.get("AWS_LAMBDA_LOG_GROUP_NAME", "")
        self.log_stream_name = os.environ.get("AWS_LAMBDA_LOG_STREAM_NAME", "")


_STATIC = _Static()


Handler = Callable[[Any, LambdaContext], Any]


def error_shape(
    message: str, error_type: str, request_id: str, stack: list[str] | None
) -> dict[str, Any]:
    return {
        "errorMessage": message,
        "errorType": error_type,
        "requestId": request_id,
        "stackTrace": stack or [],
    }


def stack_of(exc: BaseException, skip: int = 1) -> list[str]:
    """The handler's frames, as Lambda lists them (the worker's own frames left out)."""
    tb = exc.__traceback__
    for _ in range(skip):
        if tb is not None:
            tb = tb.tb_next
    return traceback.format_list(traceback.extract_tb(tb))


def load_handler(spec: str) -> tuple[Handler | None, dict[str, Any] | None]:
    """Import ``module.attr`` (``pkg/mod.attr`` too); Lambda's error shape on failure."""
    try:
        modname, attr = spec.rsplit(".", 1)
    except ValueError as exc:
        return None, error_shape(
            f"Bad handler '{spec}': {exc}", "Runtime.MalformedHandlerName", "", None
        )
    modname = modname.replace("/", ".")
    if modname.split(".")[0] in sys.builtin_module_names:
        return None, error_shape(
            f"Cannot use built-in module {modname} as a handler module",
            "Runtime.BuiltInModuleConflict",
            "",
            None,
        )
    import importlib

    try:
        module = importlib.import_module(modname)
    except ImportError as exc:
        return None, error_shape(
            f"Unable to import module '{modname}': {exc}", "Runtime.ImportModuleError", "", None
        )
    except SyntaxError as exc:
        trace = [f'  File "{exc.filename}" Line {exc.lineno}\n    {exc.text}']
        return None, error_shape(
            f"Syntax error in module '{modname}': {exc}", "Runtime.UserCodeSyntaxError", "", trace
        )
    except MemoryError:
        return None, error_shape("", "Runtime.OutOfMemory", "", None)
    except Exception as exc:
        # the module's own frames: not this loader's nor importlib's
        frames = [
            f
            for f in traceback.extract_tb(exc.__traceback__)
            if f.filename != __file__
            and not f.filename.startswith("<frozen importlib")
            and "importlib" not in f.filename.rsplit(os.sep, 2)[-2:-1]
        ]
        stack = traceback.format_list(frames)
        return None, error_shape(str(exc), type(exc).__name__, "", stack)
    handler = getattr(module, attr, None)
    if handler is None:
        return None, error_shape(
            f"Handler '{attr}' missing on module '{modname}'", "Runtime.HandlerNotFound", "", None
        )
    return handler, None


def _json_default(obj: Any) -> Any:
    import decimal

    if isinstance(obj, decimal.Decimal):
        return float(obj)
    raise TypeError(f"Object of type {type(obj).__name__} is not JSON serializable")


_ORJSON_OPTS = (
    orjson.OPT_NON_STR_KEYS | orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_DATACLASS
)


def to_json(result: Any) -> bytes:
    """What ``json.dumps`` (Lambda's serialiser) accepts, fast: orjson first, json if need be."""
    try:
        return orjson.dumps(result, default=_json_default, option=_ORJSON_OPTS)
    except TypeError:
        import json

        return json.dumps(result, default=_json_default).encode()


QUICK_S = 0.001  # handler time within which a process cannot grow by QUICK_GROWTH_KIB
QUICK_GROWTH_KIB = 64 * 1024
STALE_S = 0.1  # the longest a skipped read lets the reported peak age


class PeakSampler:
    """A process's peak RSS in KiB, read seldom: ``read`` gives it exactly, at a cost
    (a system call or a ``/proc`` read) as large as the rest of a short invocation's
    bookkeeping.

    After an invocation the last peak stands while three things hold: the handlers since
    the last read ran under ``QUICK_S`` (1 ms) in all, the last peak is over
    ``QUICK_GROWTH_KIB`` (64 MB) below the limit, and the last read is under ``STALE_S``
    (0.1 s) old. A process cannot grow by 64 MB in 1 ms (first-touch page faults fill
    memory at a few GB/s, huge pages at tens), so a breach is still seen: by the
    invocation that made it, or, when that one was quick, by one at most 1 ms of handler
    time or 0.1 s later. The figure REPORT shows lags by as little.
    """

    def __init__(self, limit_kib: int, read: Callable[[], int], first: int = 0) -> None:
        self._limit = limit_kib
        self._read = read
        self._last = first  # the peak the last read found
        self._read_at = -math.inf
        self._unread_s = 0.0  # handler time since the last read

    def after(self, handler_s: float) -> int:
        """The peak after an invocation whose handler ran ``handler_s`` seconds."""
        unread = self._unread_s + handler_s
        now = time.monotonic()
        if (
            unread < QUICK_S
            and now - self._read_at < STALE_S
            and self._last + QUICK_GROWTH_KIB < self._limit
        ):
            self._unread_s = unread
            return self._last
        self._unread_s = 0.0
        self._read_at = now
        self._last = self._read()
        return self._last


class PeakRss(PeakSampler):
    """The worker's own peak RSS, sampled as ``PeakSampler`` says.

    ``ru_maxrss`` (1.5 µs, a ``getrusage``) alone is wrong at first: Linux keeps it across
    ``fork`` and ``execve``, so a fresh worker starts with the parent's peak (canaria's own
    size). Once it exceeds that inherited ``floor`` it is the worker's own peak; below it,
    the real peak is VmHWM in /proc/self/status (a ~10 µs ``pread``).
    """

    def __init__(self, limit_kib: int) -> None:
        self._floor = self._maxrss()
        try:
            self._fd: int | None = os.open("/proc/self/status", os.O_RDONLY)
        except OSError:
            self._fd = None
        super().__init__(limit_kib, self.kib, self._floor)

    @staticmethod
    def _maxrss() -> int:
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss

    def kib(self) -> int:
        """The peak now."""
        maxrss = self._maxrss()
        if maxrss > self._floor or self._fd is None:
            return maxrss
        return vm_hwm_kib(os.pread(self._fd, 8192, 0)) or maxrss


def vm_hwm_kib(status: bytes) -> int | None:
    """VmHWM (the peak resident set, in KiB) from the text of a /proc/<pid>/status."""
    at = status.find(b"VmHWM:")
    if at < 0:
        return None
    return int(status[at + 6 : status.index(b"kB", at)])


TRACE_VARIABLE = "_X_AMZN_TRACE_ID"
_TRACE_KEY = TRACE_VARIABLE.encode()
_TRACE_ENTRY = _TRACE_KEY + b"="


class TraceVariable:
    """Sets ``_X_AMZN_TRACE_ID`` for each invocation, for Python (``os.environ``) and for C
    (``getenv``, a child process) alike, without leaking.

    ``os.environ[...] = value`` calls glibc's ``setenv``, which keeps every value it was
    ever given (so that old pointers stay valid): a new trace id per request grew a worker
    by 42 MB per 300,000 requests, each ``setenv`` searching a tree of all of them. Here the
    C environment points at one buffer of ours (``putenv`` keeps the pointer, copies
    nothing) whose text is overwritten in place, and ``os.environ``'s mapping is updated
    without a ``putenv`` of its own. ``putenv`` is called again only when the handler set
    or removed the variable itself since (``os.environ`` then holds another value). Without
    ``ctypes`` or glibc: ``os.environ``.
    """

    SIZE = 512

    def __init__(self) -> None:
        self._putenv: Any = None
        data = getattr(os.environ, "_data", None)
        self._data: dict[bytes, bytes] | None = data if isinstance(data, dict) else None
        self._ours: object = object()  # os.environ's value while the C entry is our buffer
        try:
            import ctypes

            self._putenv = ctypes.CDLL(None).putenv
            self._buffer = ctypes.create_string_buffer(self.SIZE)
            self._text = memoryview(self._buffer).cast("B")  # written without a ctypes call
        except (ImportError, OSError, AttributeError, TypeError):
            self._putenv = None

    def set(self, value: str) -> None:
        encoded = value.encode()
        text = _TRACE_ENTRY + encoded + b"\0"
        data = self._data
        if self._putenv is None or data is None or len(text) > self.SIZE:
            os.environ[TRACE_VARIABLE] = value
            return
        self._text[: len(text)] = text
        if data.get(_TRACE_KEY) is not self._ours:  # first time, or the handler's own value
            self._putenv(self._buffer)  # the environment's entry is our buffer (again)
        data[_TRACE_KEY] = self._ours = encoded


class Worker:
    def __init__(self, channel: Channel, handler: Handler) -> None:
        self.channel = channel
        self.handler = handler
        self.peak = PeakRss(_STATIC.memory_limit_in_mb * 1024)
        self.trace = TraceVariable()

    def serve(self) -> None:
        while True:
            message = self.channel.recv()
            if message is None:
                return
            header, body = message
            self.channel.send(*self.invoke(header, body))

    def invoke(self, header: dict[str, Any], body: bytes) -> tuple[dict[str, Any], bytes]:
        request_id: str = header["id"]
        Current.request_id = request_id
        self.trace.set(header["trace"])
        context = LambdaContext(request_id, header["arn"], header["deadline"])
        context.client_context = client_context_of(header.get("client_context"))
        try:
            event: Any = orjson.loads(body)
        except orjson.JSONDecodeError:
            event = body.decode("utf-8", "replace")
        kind, payload = "ok", b""
        started = time.perf_counter()
        try:
            result = self.handler(event, context)
        except MemoryError:
            kind = "oom"
        except SystemExit:
            _flush_streams()
            raise
        except Exception as exc:
            kind, payload = (
                "error",
                self._error(error_shape(str(exc), type(exc).__name__, request_id, stack_of(exc))),
            )
        elapsed = time.perf_counter() - started
        if kind == "ok":
            try:
                payload = to_json(result)
            except MemoryError:
                kind = "oom"
            except (TypeError, ValueError, OverflowError) as exc:
                kind, payload = (
                    "error",
                    self._error(
                        error_shape(
                            f"Unable to marshal response: {exc}",
                            "Runtime.MarshalError",
                            request_id,
                            [],
                        )
                    ),
                )
        _flush_streams()
        peak = self.peak.after(elapsed)
        return {"t": RESULT, "k": kind, "ms": elapsed * 1000.0, "mem": peak}, payload

    def _error(self, shape: dict[str, Any]) -> bytes:
        """Log the error as Lambda does; its JSON."""
        log_error(self.channel, shape)
        return orjson.dumps(shape)


def log_error(channel: Channel, shape: dict[str, Any]) -> None:
    """An error in the function's log as Lambda writes it: ``[ERROR] Type: message`` and
    the traceback (a failed init's too, so a module that does not import says why)."""
    text = f"[ERROR] {shape['errorType']}: {shape['errorMessage']}"
    if shape["stackTrace"]:
        text += "\nTraceback (most recent call last):\n" + "".join(shape["stackTrace"])
    channel.send({"t": LOG, "s": "stderr"}, text.rstrip("\n").encode("utf-8", "replace"))


def _flush_streams() -> None:
    for stream in (sys.stdout, sys.stderr):
        try:  # noqa: SIM105 - contextlib.suppress costs a context manager per request
            stream.flush()
        except Exception:  # a handler's own stream: its trouble is not the invocation's
            pass


def _die_with_parent(parent_pid: int) -> None:
    """Backstop to EOF on the socket: the kernel kills us when canaria dies (Linux)."""
    if sys.platform.startswith("linux"):
        try:
            import ctypes
            import signal

            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        except Exception:
            pass
    if os.getppid() != parent_pid:
        os._exit(1)


def _install_boto_hooks(here: str) -> None:
    """``boto_hooks.py``, next to this file, installed: imported from this directory (the
    worker's own module, as this file is: not ``canaria.runtime.boto_hooks``, which would
    import canaria), then its name forgotten, so that a handler's own module of that name
    is the handler's."""
    import importlib

    sys.path.insert(0, here)
    try:
        importlib.import_module(BOTO_HOOKS).install()
    finally:
        sys.path.remove(here)
        sys.modules.pop(BOTO_HOOKS, None)


def main(argv: list[str]) -> None:
    here = os.path.dirname(os.path.abspath(__file__))
    sys.path[:] = [p for p in sys.path if os.path.abspath(p or ".") != here]
    _install_boto_hooks(here)
    fd, parent_pid = int(argv[1]), int(argv[2])
    _die_with_parent(parent_pid)
    task_root = os.environ.get("LAMBDA_TASK_ROOT") or os.getcwd()
    layers = os.environ.pop(LAYERS_VARIABLE, "")
    sys.path[0:0] = [task_root, *(p for p in layers.split(os.pathsep) if p)]
    channel = Channel(socket.socket(fileno=fd))
    sys.stdout = LogStream(channel, "stdout", 1)
    sys.stderr = LogStream(channel, "stderr", 2)
    root = logging.getLogger()
    root.handlers[:] = [LambdaLogHandler(channel)]
    started = time.perf_counter()
    handler, init_error = load_handler(os.environ.get("_HANDLER", ""))
    _flush_streams()
    if init_error is not None:
        log_error(channel, init_error)
    channel.send({"t": READY, "ms": (time.perf_counter() - started) * 1000.0, "error": init_error})
    if handler is None:
        channel.recv()  # the parent stops this environment; wait for it
        return
    Worker(channel, handler).serve()


if __name__ == "__main__":
    main(sys.argv)
