"""What a Lambda execution environment looks like from inside and in its log: pure functions.

- ``worker_environment``: the process environment, built from scratch as Lambda does (never
  canaria's own ``os.environ``), then ``env_extra`` (endpoint, credentials), then the
  template's variables, which win.
- ``trace_id``: ``_X_AMZN_TRACE_ID`` for one invocation.
- ``start_line`` / ``end_line`` / ``report_line``: the platform lines around every
  invocation in the log.
- ``exit_message`` / ``timeout_message``: Lambda's words for a runtime that died.
"""

from __future__ import annotations

import itertools
import os
import secrets
import signal
import site
import sys
import time
import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import NamedTuple

from canaria import pythons
from canaria.models.arns import REGION
from canaria.models.runtime import Version
from canaria.runtime.worker import LAYERS_VARIABLE

RUNTIME_DIR = str(Path(__file__).resolve().parent)
WORKER_SCRIPT = str(Path(__file__).resolve().parent / "worker.py")
_SRC_ROOT = str(Path(__file__).resolve().parents[2])  # the directory holding ``canaria``


class LogLine(NamedTuple):
    """One line of a function's log, as ``on_log`` receives it (a named tuple: several
    are made per request)."""

    function: str
    version: int
    request_id: str
    time: float
    stream: str  # "stdout" | "stderr" | "platform"
    text: str


def execution_env(runtime: str) -> str:
    """``AWS_EXECUTION_ENV``: the template's Python runtime, else the interpreter's."""
    if runtime.startswith("python"):
        return f"AWS_Lambda_{runtime}"
    return f"AWS_Lambda_python{sys.version_info.major}.{sys.version_info.minor}"


def log_stream_name(version: int, now: float) -> str:
    """``2024/05/01/[3]0123…``: one stream per execution environment, as Lambda names them."""
    day = time.strftime("%Y/%m/%d", time.gmtime(now))
    return f"{day}/[{version}]{secrets.token_hex(16)}"


def python_path() -> str:
    """Where the worker finds orjson and the venv's packages (boto3), and canaria itself.

    The runtime directory itself is not on it: the worker runs by path and drops its own
    directory from ``sys.path``, so a handler module named ``worker`` is the handler's.
    """
    paths = [_SRC_ROOT, *site.getsitepackages()]
    return os.pathsep.join(dict.fromkeys(paths))


def worker_environment(
    function: str,
    version: Version,
    env_extra: Mapping[str, str],
    *,
    log_stream: str,
    python: pythons.PythonInstall | None = None,
) -> dict[str, str]:
    """Lambda's environment for ``version``'s execution environment; ``python``: the
    Python it runs on (the one its runtime names, when not given)."""
    config = version.config
    python = python or pythons.python_for(config.runtime)
    env = {
        "PATH": os.pathsep.join(
            [str(Path(python.path).parent), "/usr/local/bin", "/usr/bin", "/bin"]
        ),
        "LANG": "en_US.UTF-8",
        "TZ": ":UTC",
        "LAMBDA_TASK_ROOT": version.artifact,
        "LAMBDA_RUNTIME_DIR": RUNTIME_DIR,
        "_HANDLER": config.handler,
        "AWS_LAMBDA_FUNCTION_NAME": function,
        "AWS_LAMBDA_FUNCTION_VERSION": str(version.number),
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(config.memory_mb),
        "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{function}",
        "AWS_LAMBDA_LOG_STREAM_NAME": log_stream,
        "AWS_REGION": REGION,
        "AWS_DEFAULT_REGION": REGION,
        "AWS_EXECUTION_ENV": execution_env(config.runtime),
        "AWS_LAMBDA_INITIALIZATION_TYPE": "on-demand",
        # another Python's worker finds its own packages (compiled for it) and nothing else
        "PYTHONPATH": python.site or python_path(),
    }
    if config.layers:  # where Lambda looks in /opt, which holds them one over the other
        # (an empty entry would mean the working directory: only layers that have one)
        if bins := in_layers(config.layers, "bin"):
            env["PATH"] += os.pathsep + bins
        if libs := in_layers(config.layers, "lib"):
            env["LD_LIBRARY_PATH"] = libs
        if config.runtime.startswith("python"):
            named = config.runtime if config.runtime[6:7].isdigit() else _RUNNING_PYTHON
            env[LAYERS_VARIABLE] = in_layers(
                config.layers, f"python/lib/{named}/site-packages", "python"
            )
    env.update(env_extra)
    env.update(config.environment)
    return env


_RUNNING_PYTHON = f"python{sys.version_info.major}.{sys.version_info.minor}"


def in_layers(layers: tuple[str, ...], *places: str) -> str:
    """The search path for ``places`` in ``/opt`` with the layers extracted there in
    order: each place in turn, the last layer first (its files replace the earlier
    layers' ones), only where a layer has it."""
    found = [
        str(Path(layer, place))
        for place in places
        for layer in reversed(layers)
        if Path(layer, place).is_dir()
    ]
    return os.pathsep.join(found)


_ID_PREFIX = str(uuid.uuid4())[:24]  # random per process, in the shape of a UUID4
_TRACE_PREFIX = os.urandom(6).hex()
_PARENT_PREFIX = os.urandom(2).hex()
_id_counter = itertools.count(int.from_bytes(os.urandom(4), "big"))


def request_ids(now: float) -> tuple[str, str]:
    """A request id shaped like a UUID4 and ``_X_AMZN_TRACE_ID`` (``Root=1-<epoch
    hex>-<96 bits>;Parent=<64 bits>;Sampled=0``): random prefixes drawn once per process,
    then a counter (0.4 µs, against 1.3 µs for slicing fresh random bytes for each)."""
    n = next(_id_counter) & 0xFFFFFFFFFFFF
    return (
        f"{_ID_PREFIX}{n:012x}",
        f"Root=1-{int(now):08x}-{_TRACE_PREFIX}{n:012x};Parent={_PARENT_PREFIX}{n:012x};Sampled=0",
    )


def iso_timestamp(now: float) -> str:
    """``2024-05-01T12:00:00.123Z``."""
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(now)) + f".{int(now * 1000) % 1000:03d}Z"


def start_line(request_id: str, version: int) -> str:
    return f"START RequestId: {request_id} Version: {version}"


def end_line(request_id: str) -> str:
    return f"END RequestId: {request_id}"


def report_line(
    request_id: str,
    *,
    duration_ms: float,
    memory_mb: int,
    max_memory_mb: int,
    init_ms: float | None,
    status: str | None = None,
    error_type: str | None = None,
) -> str:
    """Lambda's REPORT line; billed duration rounds up to the millisecond."""
    billed = max(1, int(-(-duration_ms // 1)))
    line = (
        f"REPORT RequestId: {request_id}\tDuration: {duration_ms:.2f} ms\t"
        f"Billed Duration: {billed} ms\tMemory Size: {memory_mb} MB\t"
        f"Max Memory Used: {max_memory_mb} MB"
    )
    if init_ms is not None:
        line += f"\tInit Duration: {init_ms:.2f} ms"
    if status is not None:
        line += f"\tStatus: {status}"
    if error_type is not None:
        line += f"\tError Type: {error_type}"
    return line


def exit_reason(returncode: int | None) -> str:
    """Go's wording, as Lambda prints it: ``exit status 3``, ``signal: killed``."""
    if returncode is None:
        return "signal: killed"
    if returncode == 0:
        return "exit status 0"
    if returncode > 0:
        return f"exit status {returncode}"
    names = {
        signal.SIGKILL: "killed",
        signal.SIGSEGV: "segmentation fault",
        signal.SIGABRT: "aborted",
        signal.SIGTERM: "terminated",
        signal.SIGBUS: "bus error",
        signal.SIGFPE: "floating point exception",
        signal.SIGILL: "illegal instruction",
    }
    try:
        sig = signal.Signals(-returncode)
    except ValueError:
        return f"signal: {-returncode}"
    return f"signal: {names.get(sig, sig.name.removeprefix('SIG').lower())}"


def exit_message(request_id: str, returncode: int | None) -> str:
    if returncode == 0:
        return f"RequestId: {request_id} Error: Runtime exited without providing a reason"
    return f"RequestId: {request_id} Error: Runtime exited with error: {exit_reason(returncode)}"


def timeout_message(request_id: str, now: float, timeout_s: float) -> str:
    return f"{iso_timestamp(now)} {request_id} Task timed out after {timeout_s:.2f} seconds"
