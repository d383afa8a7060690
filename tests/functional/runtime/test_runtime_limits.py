"""Limits of an execution environment, with real worker processes: a response over
Lambda's 6 MB is ``Function.ResponseSizeTooLarge`` (before, 10 MB went back to the
caller), and processes a handler starts die with its environment even when they leave
its process group with ``setsid`` (before, they outlived canaria)."""

from __future__ import annotations

import os
import textwrap
import time
from collections.abc import AsyncIterator
from pathlib import Path

import orjson
import pytest

from canaria.clock import RealClock
from canaria.models import FunctionConfig, Version
from canaria.runtime import FunctionRuntime, LogLine, build_artifact
from tests.functional.harness import alive

CODE = textwrap.dedent(
    """
    import os, subprocess, sys

    def big(event, context):
        return "x" * (7 * 1024 * 1024)

    def fits(event, context):
        return "x" * (5 * 1024 * 1024)

    def escape(event, context):
        # a grandchild in a session of its own, as a daemonizing library would make
        child = subprocess.Popen(
            [sys.executable, "-c", "import time; time.sleep(600)"], start_new_session=True
        )
        return child.pid
    """
)


class Fn:
    def __init__(self, tmp_path: Path) -> None:
        code = tmp_path / "code"
        code.mkdir()
        (code / "app.py").write_text(CODE)
        self.code = code
        self.digest, self.artifact = build_artifact(str(code), str(tmp_path / "state"))
        self.lines: list[LogLine] = []
        self.runtime = FunctionRuntime(
            "Fn",
            reserved_concurrency=None,
            env_extra={},
            clock=RealClock(),
            on_log=self.lines.append,
        )
        self.n = 0

    def version(self, handler: str) -> Version:
        self.n += 1
        cfg = FunctionConfig(
            handler=f"app.{handler}", runtime="python3.11", code_uri=str(self.code)
        )
        return Version("Fn", self.n, self.digest, cfg, self.artifact, 0.0)


@pytest.fixture
async def fn(tmp_path: Path) -> AsyncIterator[Fn]:
    f = Fn(tmp_path)
    yield f
    await f.runtime.close()


async def test_a_response_over_six_megabytes_is_refused(fn: Fn) -> None:
    v = fn.version("big")
    result = await fn.runtime.invoke(v, b"{}", qualifier=None)
    assert result.function_error == "Unhandled"
    assert result.error_type == "Function.ResponseSizeTooLarge"
    assert orjson.loads(result.payload)["errorType"] == "Function.ResponseSizeTooLarge"
    assert len(result.payload) < 1000
    ok = await fn.runtime.invoke(fn.version("fits"), b"{}", qualifier=None)
    assert ok.function_error is None and len(ok.payload) > 5 * 1024 * 1024


async def test_a_setsid_child_dies_with_its_environment(fn: Fn) -> None:
    v = fn.version("escape")
    result = await fn.runtime.invoke(v, b"{}", qualifier=None)
    child = int(orjson.loads(result.payload))
    assert alive(child)
    assert os.getsid(child) != os.getsid(fn.runtime.worker_pids()[0])  # it left the group
    await fn.runtime.retire(v.number)
    deadline = time.monotonic() + 30
    while alive(child) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not alive(child), "a handler's child outlived its environment"
