"""One function runtime that runs code on any Lambda runtime name: for the tests of which
Python and which Node.js run each version."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import orjson

from canaria.clock import RealClock
from canaria.models import FunctionConfig, InvokeResult, Version
from canaria.runtime import FunctionRuntime, build_artifact
from tests.functional.harness import alive


class Env:
    def __init__(self, tmp_path: Path, runtime: FunctionRuntime) -> None:
        self.tmp_path = tmp_path
        self.runtime = runtime
        self._n = 0

    def code(self, files: dict[str, str]) -> str:
        self._n += 1
        root = self.tmp_path / f"code{self._n}"
        for rel, text in files.items():
            (root / rel).parent.mkdir(parents=True, exist_ok=True)
            (root / rel).write_text(text)
        return str(root)

    async def call(self, code: str, handler: str, runtime: str, **cfg: Any) -> InvokeResult:
        """Build ``code`` for ``runtime`` as a release builds it, and invoke it once."""
        digest, artifact = build_artifact(code, str(self.tmp_path / "state"), runtime=runtime)
        self._n += 1
        config = FunctionConfig(handler=handler, runtime=runtime, code_uri=code, **cfg)
        version = Version("Fn", self._n, digest, config, artifact, 0.0)
        return await self.runtime.invoke(version, b"{}", qualifier=None, client_context=None)


async def running_env(tmp_path: Path) -> AsyncIterator[Env]:
    """An Env whose environments are all gone when it ends."""
    runtime = FunctionRuntime(
        "Fn", reserved_concurrency=None, env_extra={}, clock=RealClock(), on_log=lambda _: None
    )
    try:
        yield Env(tmp_path, runtime)
    finally:
        pids = runtime.worker_pids()
        await runtime.close()
        assert not [p for p in pids if alive(p)]


def body(result: InvokeResult) -> Any:
    return orjson.loads(result.payload)
