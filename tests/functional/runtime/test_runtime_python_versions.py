"""``python3.N`` functions on this machine's Python 3.N, as Lambda runs each on its own
version: real worker processes, real pip."""

from __future__ import annotations

import textwrap
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from canaria import pythons
from tests.functional.runtime.versions import Env, body, running_env

# another version than canaria's own, that this machine has
OTHER = next(
    (line for line in ("3.12", "3.13", "3.10") if line != pythons.RUNNING and pythons.find(line)),
    None,
)
pytestmark = pytest.mark.skipif(OTHER is None, reason="needs a second Python 3 on this machine")

APP = textwrap.dedent(
    """
    import sys

    def version(event, context):
        return ".".join(map(str, sys.version_info[:3]))

    def boto(event, context):
        import boto3
        return boto3.client("s3", region_name="us-east-1").meta.region_name

    def compiled(event, context):
        import markupsafe._speedups as speedups
        return speedups.__file__.rsplit("/", 1)[-1]
    """
)


@pytest.fixture(scope="module")
def other() -> pythons.PythonInstall:
    assert OTHER is not None
    return pythons.install(OTHER)


@pytest.fixture
async def env(tmp_path: Path, other: pythons.PythonInstall) -> AsyncIterator[Env]:
    async for e in running_env(tmp_path):
        yield e


async def test_each_python_runtime_runs_on_its_own_version(
    env: Env, other: pythons.PythonInstall
) -> None:
    code = env.code({"app.py": APP})
    mine = await env.call(code, "app.version", f"python{pythons.RUNNING}")
    assert mine.ok and body(mine) == pythons.running().version
    theirs = await env.call(code, "app.version", f"python{other.line}")
    assert theirs.ok, theirs.payload
    assert body(theirs) == other.version
    # boto3, as Lambda's runtime gives it, for that version
    region = await env.call(code, "app.boto", f"python{other.line}")
    assert region.ok and body(region) == "us-east-1", region.payload


async def test_requirements_are_installed_by_the_functions_python(
    env: Env, other: pythons.PythonInstall
) -> None:
    code = env.code({"app.py": APP, "requirements.txt": "markupsafe==3.0.3\n"})
    for line in (pythons.RUNNING, other.line):
        r = await env.call(code, "app.compiled", f"python{line}")
        assert r.ok, r.payload
        assert f"cpython-{line.replace('.', '')}" in body(r)  # built for that version


async def test_a_module_the_version_removed_fails_as_on_lambda(
    env: Env, other: pythons.PythonInstall
) -> None:
    if other.line < "3.12":
        pytest.skip("distutils is in Python 3.11 and earlier")
    code = env.code({"old.py": "import distutils\n\ndef handler(event, context):\n    return 1\n"})
    r = await env.call(code, "old.handler", f"python{other.line}")
    assert r.error_type == "Runtime.ImportModuleError", r.payload
    assert "distutils" in body(r)["errorMessage"]
