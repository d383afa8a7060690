"""Real worker processes: handlers written into tmp_path, run through FunctionRuntime."""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import subprocess
import sys
import textwrap
import time
import zipfile
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import orjson
import pytest

from canaria.clock import RealClock
from canaria.errors import BuildError, InvocationError, Throttled
from canaria.models import FunctionConfig, InvokeResult, Version
from canaria.runtime import FunctionRuntime, LogLine, build_artifact, code_digest
from tests.functional.harness import alive, lift_own_peak_rss, report_max_memory_mb

HANDLERS = textwrap.dedent(
    """
    import logging, os, sys, time
    print("imported app")
    log = logging.getLogger()

    def pid(event, context):
        return os.getpid()

    def echo(event, context):
        return event

    def describe(event, context):
        import boto3  # available to handlers, as in Lambda's Python runtime
        keys = ["AWS_REGION", "TZ", "LAMBDA_TASK_ROOT", "AWS_ENDPOINT_URL", "TABLE",
                "_X_AMZN_TRACE_ID", "AWS_LAMBDA_FUNCTION_VERSION", "AWS_EXECUTION_ENV",
                "CANARIA_PRIVATE_TEST_VAR"]
        return {
            "request_id": context.aws_request_id,
            "function_name": context.function_name,
            "function_version": context.function_version,
            "arn": context.invoked_function_arn,
            "memory": context.memory_limit_in_mb,
            "remaining": context.get_remaining_time_in_millis(),
            "group": context.log_group_name,
            "stream": context.log_stream_name,
            "identity": [context.identity.cognito_identity_id,
                         context.identity.cognito_identity_pool_id],
            "client_context": context.client_context,
            "env": {k: os.environ.get(k) for k in keys},
            "cwd": os.getcwd(),
            "path0": sys.path[0],
            "boto3": bool(boto3.__version__),
        }

    def traces(event, context):
        import subprocess
        child = subprocess.run(["sh", "-c", "echo $_X_AMZN_TRACE_ID"], capture_output=True,
                               text=True, check=True).stdout.strip()
        return [os.environ["_X_AMZN_TRACE_ID"], os.getenv("_X_AMZN_TRACE_ID"), child]

    def chatty(event, context):
        for i in range(5):
            print(f"{event['tag']} out {i}")
            sys.stderr.write(f"{event['tag']} err {i}\\n")
            log.warning("%s log %d", event["tag"], i)
            time.sleep(0.01)
        return event["tag"]

    def boom(event, context):
        raise ValueError("boom")

    def unmarshallable(event, context):
        return {"x": object()}

    def sleep(event, context):
        time.sleep(event["s"])
        return os.getpid()

    def hog(event, context):
        block = b"x" * (300 * 1024 * 1024)
        time.sleep(event.get("hold", 0))
        return len(block)

    LEAKED = []

    def leak(event, context):
        LEAKED.append(b"x" * (event["kib"] * 1024))
        return len(LEAKED)

    def no_memory(event, context):
        raise MemoryError()

    def exit3(event, context):
        os._exit(3)

    def sys_exit(event, context):
        sys.exit(2)

    def segfault(event, context):
        import signal
        os.kill(os.getpid(), signal.SIGSEGV)
    """
)


class Env:
    def __init__(self, tmp_path: Path, runtime: FunctionRuntime, lines: list[LogLine]) -> None:
        self.tmp_path = tmp_path
        self.runtime = runtime
        self.lines = lines
        self._n = 0
        code = tmp_path / "code"
        code.mkdir()
        (code / "app.py").write_text(HANDLERS)
        self.digest, self.artifact = build_artifact(str(code), str(tmp_path / "state"))
        self.code = code

    def version(self, handler: str, **config: Any) -> Version:
        self._n += 1
        cfg = FunctionConfig(
            handler=f"app.{handler}", runtime="python3.11", code_uri=str(self.code), **config
        )
        return Version("Fn", self._n, self.digest, cfg, self.artifact, 0.0)

    async def call(self, version: Version, event: Any = None, **kw: Any) -> InvokeResult:
        body = event if isinstance(event, bytes) else orjson.dumps(event or {})
        return await self.runtime.invoke(version, body, qualifier=kw.get("qualifier"))


@pytest.fixture
async def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Env]:
    monkeypatch.setenv("CANARIA_PRIVATE_TEST_VAR", "leaked")
    lines: list[LogLine] = []
    runtime = FunctionRuntime(
        "Fn",
        reserved_concurrency=None,
        env_extra={"AWS_ENDPOINT_URL": "http://127.0.0.1:9", "TABLE": "from-canaria"},
        clock=RealClock(),
        on_log=lines.append,
    )
    e = Env(tmp_path, runtime, lines)
    try:
        yield e
    finally:
        pids = runtime.worker_pids()
        await runtime.close()
        assert not [p for p in pids if alive(p)]


def quiet_runtime(**limits: Any) -> FunctionRuntime:
    """A runtime of function Fn with no extra environment and no log sink."""
    return FunctionRuntime(
        "Fn",
        reserved_concurrency=None,
        env_extra={},
        clock=RealClock(),
        on_log=lambda _: None,
        **limits,
    )


def payload(result: InvokeResult) -> Any:
    return orjson.loads(result.payload)


async def test_warm_worker_is_reused(env: Env) -> None:
    v = env.version("pid")
    waits: list[int] = []
    first = await env.runtime.invoke(v, b"{}", qualifier=None, on_wait=lambda: waits.append(1))
    second = await env.runtime.invoke(v, b"{}", qualifier=None, on_wait=lambda: waits.append(2))
    assert waits == [1] and first.waited and not second.waited
    assert first.ok and first.cold_start and not second.cold_start
    assert payload(first) == payload(second)
    assert env.runtime.cold_starts() == 1
    assert "Init Duration" in first.logs and "Init Duration" not in second.logs
    assert first.duration_ms >= 0 and first.version == v.number


async def test_context_and_environment(env: Env) -> None:
    v = env.version("describe", environment={"TABLE": "from-template"}, memory_mb=256)
    a = await env.call(v, qualifier="live")
    b = await env.call(v)
    da, db = payload(a), payload(b)
    assert da["request_id"] == a.request_id != b.request_id
    assert da["function_name"] == "Fn" and da["function_version"] == str(v.number)
    assert da["arn"] == "arn:aws:lambda:us-east-1:123456789012:function:Fn:live"
    assert db["arn"] == "arn:aws:lambda:us-east-1:123456789012:function:Fn"
    assert da["memory"] == 256
    assert 0 < da["remaining"] <= 3000
    assert da["group"] == "/aws/lambda/Fn"
    assert re.fullmatch(r"\d{4}/\d\d/\d\d/\[\d+\][0-9a-f]{32}", da["stream"])
    assert da["identity"] == [None, None] and da["client_context"] is None
    assert da["cwd"] == env.artifact and da["path0"] == env.artifact and da["boto3"]
    e = da["env"]
    assert e["AWS_REGION"] == "us-east-1" and e["TZ"] == ":UTC"
    assert e["LAMBDA_TASK_ROOT"] == env.artifact
    assert e["AWS_ENDPOINT_URL"] == "http://127.0.0.1:9"
    assert e["TABLE"] == "from-template"
    assert e["CANARIA_PRIVATE_TEST_VAR"] is None
    assert e["AWS_EXECUTION_ENV"] == "AWS_Lambda_python3.11"
    trace = r"Root=1-[0-9a-f]{8}-[0-9a-f]{24};Parent=[0-9a-f]{16};Sampled=0"
    assert re.fullmatch(trace, e["_X_AMZN_TRACE_ID"])
    assert e["_X_AMZN_TRACE_ID"] != db["env"]["_X_AMZN_TRACE_ID"]


async def test_the_trace_id_reaches_python_and_child_processes_alike(env: Env) -> None:
    v = env.version("traces")
    first, second = [payload(await env.call(v)) for _ in range(2)]
    for seen in (first, second):
        assert len(set(seen)) == 1, seen  # os.environ, os.getenv and a child process agree
    assert first[0] != second[0]  # a new one per invocation


async def test_logs_are_captured_per_request(env: Env) -> None:
    v = env.version("chatty")
    a, b = await asyncio.gather(env.call(v, {"tag": "AAA"}), env.call(v, {"tag": "BBB"}))
    for result, mine, other in ((a, "AAA", "BBB"), (b, "BBB", "AAA")):
        assert payload(result) == mine
        assert other not in result.logs
        assert result.logs.count(f"{mine} out") == 5 and result.logs.count(f"{mine} err") == 5
        assert (
            "[WARNING]\t" in result.logs and f"\t{result.request_id}\t{mine} log 4" in result.logs
        )
        assert f"START RequestId: {result.request_id} Version: {v.number}" in result.logs
        assert f"END RequestId: {result.request_id}" in result.logs
        assert f"REPORT RequestId: {result.request_id}\tDuration: " in result.logs
        assert "imported app" in result.logs  # both were cold starts: import output is theirs
        assert result.logs.index("imported app") < result.logs.index("START")
        by_stream = {(ln.stream, ln.text) for ln in env.lines if ln.request_id == result.request_id}
        assert ("stdout", f"{mine} out 0") in by_stream
        assert ("stderr", f"{mine} err 4") in by_stream
        platform = [
            ln.text.split(" ")[0]
            for ln in env.lines
            if ln.request_id == result.request_id and ln.stream == "platform"
        ]
        assert platform == ["START", "END", "REPORT"]
        assert all(other not in t for _, t in by_stream)


async def test_handler_exception_has_lambdas_shape(env: Env) -> None:
    v = env.version("boom")
    result = await env.call(v)
    err = payload(result)
    assert result.function_error == "Unhandled" and result.error_type == "ValueError"
    assert err["errorMessage"] == "boom" and err["errorType"] == "ValueError"
    assert err["requestId"] == result.request_id
    assert any('raise ValueError("boom")' in line for line in err["stackTrace"])
    assert "[ERROR] ValueError: boom" in result.logs
    again = await env.call(v)
    assert not again.cold_start  # the worker stays warm


async def test_init_errors_and_marshalling(env: Env) -> None:
    (env.code / "broken.py").write_text("import canaria_no_such_module\n")
    digest, artifact = build_artifact(str(env.code), str(env.tmp_path / "state"))
    cfg = FunctionConfig(handler="broken.handler", runtime="python3.11", code_uri=str(env.code))
    broken = await env.call(Version("Fn", 90, digest, cfg, artifact, 0.0))
    assert broken.function_error == "Unhandled"
    assert broken.error_type == "Runtime.ImportModuleError"
    assert payload(broken)["errorMessage"] == (
        "Unable to import module 'broken': No module named 'canaria_no_such_module'"
    )
    assert "[ERROR] Runtime.ImportModuleError: Unable to import module 'broken'" in broken.logs
    # a module that raises while it imports: its error and its own frames in the log
    (env.code / "raising.py").write_text("import os\n\nTABLE = os.environ['NO_SUCH_VAR']\n")
    digest, artifact = build_artifact(str(env.code), str(env.tmp_path / "state"))
    cfg = FunctionConfig(handler="raising.handler", runtime="python3.11", code_uri=str(env.code))
    raising = await env.call(Version("Fn", 91, digest, cfg, artifact, 0.0))
    assert raising.error_type == "KeyError"
    assert "[ERROR] KeyError: 'NO_SUCH_VAR'" in raising.logs
    assert 'raising.py", line 3, in <module>' in raising.logs
    assert "importlib" not in raising.logs and "worker.py" not in raising.logs
    missing = await env.call(env.version("nothing_here"))
    assert missing.error_type == "Runtime.HandlerNotFound"
    assert payload(missing)["errorMessage"] == "Handler 'nothing_here' missing on module 'app'"
    marshal = await env.call(env.version("unmarshallable"))
    assert marshal.error_type == "Runtime.MarshalError"
    assert payload(marshal)["errorMessage"].startswith("Unable to marshal response:")
    echo = env.version("echo")
    assert payload(await env.call(echo, b"not json")) == "not json"
    assert payload(await env.call(echo, {"a": [1, 2]})) == {"a": [1, 2]}


async def test_timeout_replaces_the_environment(env: Env) -> None:
    v = env.version("sleep", timeout_s=0.5)
    first_pid = payload(await env.call(v, {"s": 0}))
    started = time.monotonic()
    result = await env.call(v, {"s": 30})
    assert time.monotonic() - started < 10
    err = payload(result)
    assert result.function_error == "Unhandled" and result.error_type == "Sandbox.Timedout"
    assert err["errorType"] == "Sandbox.Timedout"
    assert re.fullmatch(
        rf"\d{{4}}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{{3}}Z {result.request_id} "
        r"Task timed out after 0\.50 seconds",
        err["errorMessage"],
    )
    assert "Status: timeout" in result.logs
    for _ in range(100):
        if not alive(first_pid):
            break
        await asyncio.sleep(0.05)
    assert not alive(first_pid)
    after = await env.call(v, {"s": 0})
    assert after.ok and after.cold_start and payload(after) != first_pid


async def test_memory_limit(env: Env) -> None:
    v = env.version("hog", memory_mb=128)
    for hold in (0, 2):  # a short spike (peak RSS), then a handler that stays over (RSS poll)
        result = await env.call(v, {"hold": hold})
        assert result.function_error == "Unhandled"
        assert result.error_type == "Runtime.OutOfMemory"
        assert payload(result)["errorType"] == "Runtime.OutOfMemory"
    roomy = await env.call(env.version("hog", memory_mb=1024))
    assert roomy.ok and payload(roomy) == 300 * 1024 * 1024
    oom = await env.call(env.version("no_memory"))
    assert oom.error_type == "Runtime.OutOfMemory"
    ordinary = await env.call(env.version("describe", memory_mb=128))  # boto3 fits in 128 MB
    assert ordinary.ok


async def test_a_leak_of_quick_invocations_runs_out_of_memory_at_the_limit(env: Env) -> None:
    """Quick handlers skip reading the peak while it is far below the limit, but a leak
    of 256 KiB per invocation still runs out at the limit: within 16 MB of leak past it,
    and the next request gets a fresh environment."""
    v = env.version("leak", memory_mb=128)
    calls = 0
    while calls < 128 * 4 + 64:  # 128 MB of leak, and 16 MB more
        result = await env.call(v, {"kib": 256})
        calls += 1
        if not result.ok:
            break
        assert payload(result) == calls
    assert result.error_type == "Runtime.OutOfMemory" and calls > 64  # the worker's own MBs
    fresh = await env.call(v, {"kib": 256})
    assert fresh.ok and fresh.cold_start and payload(fresh) == 1


@pytest.mark.parametrize(
    ("handler", "reason"),
    [
        ("exit3", "exit status 3"),
        ("sys_exit", "exit status 2"),
        ("segfault", "signal: segmentation fault"),
    ],
)
async def test_crash_is_an_exit_error(env: Env, handler: str, reason: str) -> None:
    v = env.version(handler)
    result = await env.call(v)
    assert result.function_error == "Unhandled" and result.error_type == "Runtime.ExitError"
    assert payload(result) == {
        "errorMessage": f"RequestId: {result.request_id} Error: Runtime exited with error: "
        + reason,
        "errorType": "Runtime.ExitError",
    }
    assert (await env.call(v)).cold_start


async def test_throttling_at_reserved_concurrency(env: Env) -> None:
    env.runtime.set_reserved_concurrency(1)
    v = env.version("sleep")
    outcomes = await asyncio.gather(
        env.call(v, {"s": 0.5}), env.call(v, {"s": 0.5}), return_exceptions=True
    )
    assert sum(isinstance(o, InvokeResult) and o.ok for o in outcomes) == 1
    throttled = [o for o in outcomes if isinstance(o, Throttled)]
    assert len(throttled) == 1 and throttled[0].message == "Rate Exceeded."
    assert env.runtime.concurrent_executions() == 0
    env.runtime.set_reserved_concurrency(0)
    with pytest.raises(Throttled):
        await env.call(v, {"s": 0})
    env.runtime.set_reserved_concurrency(None)
    assert (await env.call(v, {"s": 0})).ok


async def test_retire_and_close_leave_no_process(env: Env) -> None:
    v1, v2 = env.version("pid"), env.version("sleep")
    pids = [payload(r) for r in await asyncio.gather(*(env.call(v1) for _ in range(3)))]
    assert len(set(pids)) == 3
    await env.runtime.retire(v1.number)
    assert not [p for p in pids if alive(p)]
    busy = asyncio.ensure_future(env.call(v2, {"s": 30}))
    while env.runtime.concurrent_executions() == 0 or not env.runtime.worker_pids():
        await asyncio.sleep(0.01)
    running = env.runtime.worker_pids()
    await env.runtime.close()
    with pytest.raises(InvocationError):
        await busy
    assert not [p for p in running if alive(p)]
    with pytest.raises(InvocationError):
        await env.call(v1)


def _wheel(dest: Path) -> Path:
    """A tiny pure-Python wheel, so the install needs no network."""
    path = dest / "canaria_tiny-0.1-py3-none-any.whl"
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("canaria_tiny/__init__.py", "ANSWER = 42\n")
        z.writestr(
            "canaria_tiny-0.1.dist-info/METADATA",
            "Metadata-Version: 2.1\nName: canaria-tiny\nVersion: 0.1\n",
        )
        z.writestr(
            "canaria_tiny-0.1.dist-info/WHEEL",
            "Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
        )
        z.writestr("canaria_tiny-0.1.dist-info/RECORD", "")
    return path


async def test_requirements_are_installed_into_the_artifact(env: Env, tmp_path: Path) -> None:
    code = tmp_path / "with_deps"
    code.mkdir()
    (code / "app.py").write_text(
        "import canaria_tiny\ndef handler(e, c):\n    return canaria_tiny.ANSWER\n"
    )
    (code / "requirements.txt").write_text(f"{_wheel(tmp_path)}\n")
    digest, artifact = await asyncio.to_thread(build_artifact, str(code), str(tmp_path / "s"))
    assert (Path(artifact) / "canaria_tiny" / "__init__.py").exists()
    cfg = FunctionConfig(handler="app.handler", runtime="python3.11", code_uri=str(code))
    result = await env.runtime.invoke(
        Version("Fn", 50, digest, cfg, artifact, 0.0), b"{}", qualifier=None
    )
    assert result.ok and payload(result) == 42


async def test_zip_code_uri_runs_with_its_requirements(env: Env, tmp_path: Path) -> None:
    """``CodeUri: handler.zip`` as the SAM CLI takes it: the same digest as the folder it
    was made from, extracted into the artifact, its requirements installed."""
    code = tmp_path / "folder"
    code.mkdir()
    (code / "app.py").write_text(
        "import canaria_tiny\ndef handler(e, c):\n    return canaria_tiny.ANSWER + 1\n"
    )
    (code / "requirements.txt").write_text(f"{_wheel(tmp_path)}\n")
    archive = tmp_path / "handler.zip"
    with zipfile.ZipFile(archive, "w") as z:
        for name in ("requirements.txt", "app.py"):
            z.write(code / name, name)
    digest, artifact = await asyncio.to_thread(build_artifact, str(archive), str(tmp_path / "s"))
    assert digest == code_digest(str(code))
    assert (Path(artifact) / "app.py").is_file()
    cfg = FunctionConfig(handler="app.handler", runtime="python3.11", code_uri=str(archive))
    result = await env.runtime.invoke(
        Version("Fn", 51, digest, cfg, artifact, 0.0), b"{}", qualifier=None
    )
    assert result.ok and payload(result) == 43


def test_zip_member_outside_the_code_is_refused(tmp_path: Path) -> None:
    archive = tmp_path / "evil.zip"
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr("../outside.py", "x = 1\n")
    with pytest.raises(BuildError, match="points outside the code"):
        build_artifact(str(archive), str(tmp_path / "state"))
    assert not (tmp_path / "outside.py").exists()


def test_failed_install_leaves_nothing_behind(tmp_path: Path) -> None:
    code = tmp_path / "bad_deps"
    code.mkdir()
    (code / "app.py").write_text("def handler(e, c):\n    return 1\n")
    (code / "requirements.txt").write_text("--no-index\ncanaria-no-such-package-xyz==1.0\n")
    with pytest.raises(BuildError) as info:
        build_artifact(str(code), str(tmp_path / "state"))
    assert str(code / "requirements.txt") in info.value.message
    assert "canaria-no-such-package-xyz" in info.value.message
    assert list((tmp_path / "state" / "artifacts").iterdir()) == []


WORKER_ORPHAN = textwrap.dedent(
    """
    import asyncio, os, sys
    from canaria.clock import RealClock
    from canaria.models import FunctionConfig, Version
    from canaria.runtime import FunctionRuntime, build_artifact

    async def main():
        code = sys.argv[1]
        digest, artifact = build_artifact(code, sys.argv[2])
        cfg = FunctionConfig(handler="app.pid", runtime="python3.11", code_uri=code)
        rt = FunctionRuntime("Fn", reserved_concurrency=None, env_extra={},
                             clock=RealClock(), on_log=lambda line: None)
        result = await rt.invoke(Version("Fn", 1, digest, cfg, artifact, 0.0), b"{}",
                                 qualifier=None)
        print(result.payload.decode(), flush=True)
        os._exit(0)  # canaria dies without closing anything

    asyncio.run(main())
    """
)


def test_workers_die_with_canaria(tmp_path: Path) -> None:
    code = tmp_path / "code"
    code.mkdir()
    (code / "app.py").write_text(HANDLERS)
    done = subprocess.run(
        [sys.executable, "-c", WORKER_ORPHAN, str(code), str(tmp_path / "state")],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    pid = int(done.stdout.strip())
    deadline = time.monotonic() + 10
    while alive(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not alive(pid)


async def test_at_most_two_workers_of_a_version_start_at_once(env: Env) -> None:
    v = env.version("sleep")
    calls = [asyncio.ensure_future(env.call(v, {"s": 0.5})) for _ in range(6)]
    most_starting = 0
    while not all(c.done() for c in calls):
        running = sum(ln.text.startswith("START RequestId") for ln in env.lines)
        most_starting = max(most_starting, len(env.runtime.worker_pids()) - running)
        await asyncio.sleep(0.005)
    results = [c.result() for c in calls]
    assert all(r.ok for r in results)
    assert 1 <= most_starting <= 2
    assert env.runtime.cold_starts() == sum(r.cold_start for r in results)


async def test_a_version_prepared_ahead_of_traffic_serves_its_first_request_warm(
    env: Env,
) -> None:
    v = env.version("pid")
    assert await env.runtime.prepare(v) == 1
    [pid] = env.runtime.worker_pids()
    assert [ln.text for ln in env.lines if ln.request_id == ""] == ["imported app"]
    first = await env.call(v)
    assert first.ok and not first.cold_start and payload(first) == pid
    assert env.runtime.cold_starts() == 0
    assert "Init Duration" not in first.logs
    # a version that has an environment already gets no second one
    assert await env.runtime.prepare(v) == 1
    assert env.runtime.worker_pids() == [pid]
    # asked for three, it starts two more (at most two at a time), all warm
    assert await env.runtime.prepare(v, 3) == 3
    assert len(env.runtime.worker_pids()) == 3
    results = await asyncio.gather(*(env.call(v) for _ in range(3)))
    assert not any(r.cold_start or r.waited for r in results)
    assert env.runtime.cold_starts() == 0


async def test_a_retired_version_deployed_again_is_prepared_warm(env: Env) -> None:
    # a rollback retires the version; deploying the same code again reuses it
    v = env.version("pid")
    assert (await env.call(v)).ok
    await env.runtime.retire(v.number)
    assert env.runtime.worker_pids() == []
    assert await env.runtime.prepare(v) == 1
    [pid] = env.runtime.worker_pids()
    first = await env.call(v)
    assert first.ok and not first.cold_start and payload(first) == pid


async def test_a_version_whose_init_fails_is_not_prepared_and_fails_its_first_request(
    env: Env, tmp_path: Path
) -> None:
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "app.py").write_text("raise RuntimeError('no config')\n")
    digest, artifact = build_artifact(str(bad), str(tmp_path / "state"))
    cfg = FunctionConfig(handler="app.handler", runtime="python3.11", code_uri=str(bad))
    v = Version("Fn", 9, digest, cfg, artifact, 0.0)
    assert await env.runtime.prepare(v) == 0
    deadline = time.monotonic() + 5
    while env.runtime.worker_pids() and time.monotonic() < deadline:
        await asyncio.sleep(0.01)
    assert env.runtime.worker_pids() == []
    first = await env.call(v)
    assert first.cold_start and not first.ok
    assert payload(first)["errorMessage"] == "no config"


async def test_a_request_waits_a_grace_for_a_busy_environment_before_a_cold_start(
    tmp_path: Path,
) -> None:
    async def two_at_once(handler: str, event: Any, grace_s: float) -> list[InvokeResult]:
        runtime = quiet_runtime(handover_grace_s=grace_s)
        env = Env(tmp_path / f"{handler}-{grace_s}", runtime, [])
        try:
            v = env.version(handler)
            assert await runtime.prepare(v) == 1
            first = asyncio.ensure_future(env.call(v, event))
            await asyncio.sleep(0)  # it takes the idle environment
            results = [await env.call(v, event), await first]
            assert runtime.cold_starts() == sum(r.cold_start for r in results)
            return results
        finally:
            await runtime.close()

    (tmp_path / "pid-1.0").mkdir(parents=True)
    quick = await two_at_once("pid", {}, grace_s=1.0)  # the first frees up well within it
    assert not any(r.cold_start for r in quick) and payload(quick[0]) == payload(quick[1])
    assert quick[0].waited and not quick[1].waited
    (tmp_path / "sleep-0.05").mkdir(parents=True)
    slow = await two_at_once("sleep", {"s": 1.0}, grace_s=0.05)  # it does not: a cold start
    assert slow[0].cold_start and slow[0].waited and not slow[1].cold_start
    assert payload(slow[0]) != payload(slow[1])


async def test_processes_and_concurrency_are_capped_apart(tmp_path: Path) -> None:
    """More requests in flight than processes may run wait for a worker instead of being
    throttled; the concurrency cap (the account's) throttles, as on Lambda."""
    runtime = quiet_runtime(max_workers=2, max_concurrency=8)
    env = Env(tmp_path, runtime, [])
    try:
        v = env.version("sleep")
        results = await asyncio.gather(*(env.call(v, {"s": 0.2}) for _ in range(6)))
        assert all(r.ok for r in results)
        assert len(runtime.worker_pids()) <= 2
        assert sum(r.cold_start for r in results) <= 2
        outcomes = await asyncio.gather(
            *(env.call(v, {"s": 0.2}) for _ in range(10)), return_exceptions=True
        )
        throttled = [o for o in outcomes if isinstance(o, Throttled)]
        assert len(throttled) == 2 and all(o.message == "Rate Exceeded." for o in throttled)
        assert sum(isinstance(o, InvokeResult) and o.ok for o in outcomes) == 8
    finally:
        await runtime.close()


def slow_init_version(tmp_path: Path) -> Version:
    """A handler of 10 ms whose module takes 1 s to import (a cold start of over 1 s)."""
    code = tmp_path / "slow-init"
    code.mkdir()
    (code / "app.py").write_text(
        "import os, time\ntime.sleep(1.0)\n"
        "def handler(event, context):\n    time.sleep(0.01)\n    return os.getpid()\n"
    )
    digest, artifact = build_artifact(str(code), str(tmp_path / "state"))
    cfg = FunctionConfig(handler="app.handler", runtime="python3.11", code_uri=str(code))
    return Version("Fn", 1, digest, cfg, artifact, 0.0)


async def test_a_queue_of_short_requests_waits_for_the_warm_environment(tmp_path: Path) -> None:
    """With the handler's time known and a cold start that takes longer than the queue
    ahead, a burst waits for the environment it has instead of starting one per request
    (the grace alone would have started several)."""
    runtime = quiet_runtime(min_serving=1)
    v = slow_init_version(tmp_path)
    try:
        assert await runtime.prepare(v) == 1
        await runtime.invoke(v, b"{}", qualifier=None)  # the handler's time is now known
        results = await asyncio.gather(
            *(runtime.invoke(v, b"{}", qualifier=None) for _ in range(20))
        )
        assert all(r.ok for r in results)
        assert runtime.cold_starts() == 0 and len({payload(r) for r in results}) == 1
        assert sum(r.waited for r in results) == 19
    finally:
        await runtime.close()


async def test_a_queue_grows_the_pool_to_min_serving_then_waits(tmp_path: Path) -> None:
    """One environment serving a queue alone makes the gateway wake for every reply: the
    burst starts a second one (min_serving, 2 by default), and no more."""
    runtime = quiet_runtime()
    v = slow_init_version(tmp_path)
    try:
        assert await runtime.prepare(v) == 1
        await runtime.invoke(v, b"{}", qualifier=None)
        results = await asyncio.gather(
            *(runtime.invoke(v, b"{}", qualifier=None) for _ in range(20))
        )
        assert all(r.ok for r in results)
        assert runtime.cold_starts() == 1 and len({payload(r) for r in results}) == 2
    finally:
        await runtime.close()


async def test_the_memory_watch_keeps_no_descriptor_past_its_environment(tmp_path: Path) -> None:
    """The watchdog reads a busy worker's RSS through ``/proc/<pid>/statm``, kept open
    while the worker lives: a handler that stays over its memory is stopped, and once the
    runtime is closed no such descriptor is left open."""

    def statm_fds() -> list[str]:
        fds = []
        for fd in os.listdir("/proc/self/fd"):
            with contextlib.suppress(OSError):
                if os.readlink(f"/proc/self/fd/{fd}").endswith("/statm"):
                    fds.append(fd)
        return fds

    before = statm_fds()
    runtime = quiet_runtime()
    env = Env(tmp_path, runtime, [])
    try:
        over = await env.call(env.version("hog", memory_mb=128), {"hold": 2})
        assert over.error_type == "Runtime.OutOfMemory"
        assert (await env.call(env.version("sleep"), {"s": 0.1})).ok  # watched, not over
    finally:
        await runtime.close()
    assert statm_fds() == before


async def test_max_memory_used_is_the_workers_own_peak_at_once(env: Env) -> None:
    """REPORT's Max Memory Used is the worker's own peak, not the one it inherits from
    canaria, and a handler that grows by 80 MB shows it in its own REPORT (it ran too long
    for the last peak to stand), with canaria's own peak above the worker's."""
    lift_own_peak_rss()
    v = env.version("leak", memory_mb=1024)
    quiet = await env.call(v, {"kib": 0})
    assert (
        quiet.ok and report_max_memory_mb(quiet) < 200
    )  # a bare worker: ~15 MB, not canaria's 300
    loud = await env.call(v, {"kib": 80 * 1024})
    assert loud.ok and report_max_memory_mb(loud) >= report_max_memory_mb(quiet) + 80


async def test_two_versions_at_the_process_cap_keep_their_environments(tmp_path: Path) -> None:
    """At the process cap, a canary's two versions share the environments there are: a
    version that has one waits for it instead of stopping the other version's idle one to
    start its second (they used to take each other's in turn: 32 cold starts in 3 s at a
    cap of 2, serving an eighth as many requests). An environment idle for a second is
    still taken for another version (the test below)."""
    runtime = quiet_runtime(max_workers=2)
    env = Env(tmp_path, runtime, [])
    stable, canary = env.version("pid"), env.version("pid")
    try:

        async def traffic(requests: int) -> list[InvokeResult]:
            async def client(n: int) -> list[InvokeResult]:
                out = []
                for i in range(requests):
                    out.append(await env.call(canary if (n + i) % 10 == 0 else stable))
                return out

            batches = await asyncio.gather(*(client(n) for n in range(32)))
            return [r for batch in batches for r in batch]

        results = await traffic(40)
        assert all(r.ok for r in results) and len(results) == 32 * 40
        assert {r.version for r in results} == {stable.number, canary.number}
        assert runtime.cold_starts() == 2  # one environment for each version, kept
        assert len(runtime.worker_pids()) == 2
    finally:
        await runtime.close()


async def test_at_the_process_cap_another_versions_idle_environment_makes_room(
    tmp_path: Path,
) -> None:
    """As traffic shifts to a new version, the old one's environments make room for it:
    at the process cap, a version with none of its own takes another's idle environment at
    once, and one with its own takes another's once it has been idle for a second."""
    runtime = quiet_runtime(max_workers=2)
    env = Env(tmp_path, runtime, [])
    old, new = env.version("sleep"), env.version("sleep")
    try:
        await asyncio.gather(env.call(old, {"s": 0.2}), env.call(old, {"s": 0.2}))
        assert runtime.environments() == {old.number: 2}
        first = await env.call(new, {"s": 0.01})
        assert first.cold_start and runtime.environments() == {old.number: 1, new.number: 1}
        await asyncio.sleep(1.2)  # the old version's environment idles past a second
        shifted = await asyncio.gather(env.call(new, {"s": 0.2}), env.call(new, {"s": 0.2}))
        assert all(r.ok for r in shifted) and sum(r.cold_start for r in shifted) == 1
        assert runtime.environments() == {new.number: 2}
    finally:
        await runtime.close()
