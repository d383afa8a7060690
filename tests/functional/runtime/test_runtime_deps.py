"""Dependencies installed once per manifest and shared by the versions that have it."""

from __future__ import annotations

import asyncio
import io
import json
import shutil
import subprocess
import tarfile
from collections.abc import AsyncIterator
from pathlib import Path

import orjson
import pytest

from canaria.clock import RealClock
from canaria.errors import BuildError
from canaria.models import FunctionConfig, LayerSpec, Version
from canaria.runtime import FunctionRuntime, build_artifact, build_layer
from tests.functional.runtime.test_runtime_workers import _wheel

needs_npm = pytest.mark.skipif(
    shutil.which("node") is None or shutil.which("npm") is None, reason="needs node and npm"
)


@pytest.fixture
async def runtime() -> AsyncIterator[FunctionRuntime]:
    rt = FunctionRuntime(
        "Fn", reserved_concurrency=None, env_extra={}, clock=RealClock(), on_log=lambda _: None
    )
    yield rt
    await rt.close()


async def invoke(
    rt: FunctionRuntime, n: int, code: Path, artifact: tuple[str, str], rt_name: str, handler: str
) -> object:
    digest, path = artifact
    cfg = FunctionConfig(handler=handler, runtime=rt_name, code_uri=str(code))
    result = await rt.invoke(Version("Fn", n, digest, cfg, path, 0.0), b"{}", qualifier=None)
    assert result.ok, result.payload
    return orjson.loads(result.payload)


def deps_dirs(state: Path) -> list[str]:
    return sorted(p.name.split("-")[0] for p in (state / "deps").iterdir())


async def test_unchanged_requirements_are_reused_by_a_new_version(
    tmp_path: Path, runtime: FunctionRuntime
) -> None:
    code, state = tmp_path / "code", tmp_path / "state"
    code.mkdir()
    (code / "requirements.txt").write_text(f"{_wheel(tmp_path)}\n")
    (code / "app.py").write_text("import canaria_tiny\ndef handler(e, c):\n    return 1\n")
    first = await asyncio.to_thread(build_artifact, str(code), str(state))
    installed = next((state / "deps").iterdir())
    marker = installed / "canaria_tiny" / "__init__.py"
    stamp = marker.stat().st_mtime_ns
    (code / "app.py").write_text(
        "import canaria_tiny\ndef handler(e, c):\n    return canaria_tiny.ANSWER + 1\n"
    )
    second = await asyncio.to_thread(build_artifact, str(code), str(state))
    assert first[0] != second[0] and first[1] != second[1]
    assert deps_dirs(state) == ["pip"] and marker.stat().st_mtime_ns == stamp  # not reinstalled
    assert (Path(second[1]) / "canaria_tiny").resolve() == (installed / "canaria_tiny")
    assert await invoke(runtime, 1, code, first, "python3.11", "app.handler") == 1
    assert await invoke(runtime, 2, code, second, "python3.11", "app.handler") == 43
    # a changed manifest is a new install
    (code / "requirements.txt").write_text(f"{_wheel(tmp_path)}\n# pinned again\n")
    await asyncio.to_thread(build_artifact, str(code), str(state))
    assert deps_dirs(state) == ["pip", "pip"]


def _tarball(dest: Path, name: str, version: str, source: str) -> Path:
    """A local npm package tarball, so the install needs no network."""
    path = dest / f"{name}-{version}.tgz"
    with tarfile.open(path, "w:gz") as tar:
        for rel, text in (
            ("package/package.json", json.dumps({"name": name, "version": version})),
            ("package/index.js", source),
        ):
            data = text.encode()
            info = tarfile.TarInfo(rel)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return path


@needs_npm
@pytest.mark.parametrize("lockfile", [False, True], ids=["npm-install", "npm-ci"])
async def test_package_json_dependencies_are_installed_once_per_manifest(
    tmp_path: Path, runtime: FunctionRuntime, lockfile: bool
) -> None:
    code, state = tmp_path / "code", tmp_path / "state"
    code.mkdir()
    tiny = _tarball(tmp_path, "canaria-tiny", "1.0.0", "exports.answer = 42;\n")
    manifest = {"name": "fn", "version": "1.0.0", "dependencies": {"canaria-tiny": f"file:{tiny}"}}
    (code / "package.json").write_text(json.dumps(manifest))
    if lockfile:
        subprocess.run(
            ["npm", "install", "--package-lock-only", "--no-audit", "--no-fund"],
            cwd=code,
            check=True,
            capture_output=True,
        )
        assert (code / "package-lock.json").is_file()
    (code / "app.js").write_text("exports.handler = async () => require('canaria-tiny').answer;\n")
    first = await asyncio.to_thread(build_artifact, str(code), str(state))
    (code / "app.js").write_text(
        "exports.handler = async () => require('canaria-tiny').answer + 1;\n"
    )
    second = await asyncio.to_thread(build_artifact, str(code), str(state))
    assert deps_dirs(state) == ["npm"]
    assert (Path(second[1]) / "node_modules").resolve() == next((state / "deps").iterdir()) / (
        "node_modules"
    )
    assert not (code / "node_modules").exists()  # the user's directory is left alone
    assert await invoke(runtime, 1, code, first, "nodejs20.x", "app.handler") == 42
    assert await invoke(runtime, 2, code, second, "nodejs20.x", "app.handler") == 43


@needs_npm
async def test_the_packages_own_scripts_are_not_run_by_the_install(
    tmp_path: Path, runtime: FunctionRuntime
) -> None:
    """``prepare: tsc -p .`` builds the project; in the dependencies' folder there is
    nothing to build (and no tsc): the install must not run it."""
    code, state = tmp_path / "code", tmp_path / "state"
    code.mkdir()
    tiny = _tarball(tmp_path, "canaria-tiny", "1.0.0", "exports.answer = 42;\n")
    manifest = {
        "name": "fn",
        "version": "1.0.0",
        "scripts": {"prepare": "tsc -p . && exit 3", "postinstall": "exit 4"},
        "dependencies": {"canaria-tiny": f"file:{tiny}"},
    }
    (code / "package.json").write_text(json.dumps(manifest))
    (code / "app.js").write_text("exports.handler = async () => require('canaria-tiny').answer;\n")
    built = await asyncio.to_thread(build_artifact, str(code), str(state))
    assert await invoke(runtime, 1, code, built, "nodejs20.x", "app.handler") == 42
    assert json.loads((code / "package.json").read_text()) == manifest  # left as it was


@needs_npm
def test_a_failing_npm_ci_refuses_the_build_with_npms_message(tmp_path: Path) -> None:
    code, state = tmp_path / "code", tmp_path / "state"
    code.mkdir()
    tiny = _tarball(tmp_path, "canaria-tiny", "1.0.0", "exports.answer = 42;\n")
    (code / "package.json").write_text(
        json.dumps(
            {"name": "fn", "version": "1.0.0", "dependencies": {"canaria-tiny": f"file:{tiny}"}}
        )
    )
    # a lockfile that does not match package.json: npm ci refuses it
    (code / "package-lock.json").write_text(
        json.dumps({"name": "fn", "version": "1.0.0", "lockfileVersion": 3, "packages": {}})
    )
    (code / "app.js").write_text("exports.handler = async () => 1;\n")
    with pytest.raises(BuildError) as info:
        build_artifact(str(code), str(state))
    message = info.value.message
    assert message.startswith(f"npm could not install {code / 'package.json'} (npm ci)")
    assert "npm error" in message or "npm ERR" in message
    assert list((state / "artifacts").iterdir()) == []
    assert list((state / "deps").iterdir()) == []


def test_the_state_directory_inside_codeuri_is_not_code(tmp_path: Path) -> None:
    """``CodeUri: .`` (SAM's default) holds the template, ``.aws-sam`` and canaria's state."""
    app = tmp_path / "app"
    (app / ".aws-sam" / "build").mkdir(parents=True)
    (app / ".aws-sam" / "build" / "x.js").write_text("old build\n")
    (app / "index.js").write_text("exports.handler = async () => 1;\n")
    for state in (app / ".canaria", app / "elsewhere-state"):
        first = build_artifact(str(app), str(state))
        (state / "noise").write_text("the store changes all the time\n")
        second = build_artifact(str(app), str(state))
        assert first == second
        copied = sorted(p.name for p in Path(second[1]).iterdir())
        assert copied == ["index.js"]


TYPESCRIPT = """\
interface Greeting { message: string; n: number }
const answer = (n: number): Greeting => ({ message: "hello from TypeScript", n });
export const lambdaHandler = async (event: { n: number }): Promise<Greeting> => answer(event.n);
"""

ESBUILD_TEMPLATE = """\
Transform: AWS::Serverless-2016-10-31
Resources:
  Fn:
    Type: AWS::Serverless::Function
    Properties:
      Handler: app.lambdaHandler
      Runtime: nodejs20.x
      CodeUri: code
    Metadata:
      BuildMethod: esbuild
      BuildProperties:
        Minify: true
        Target: es2020
        Sourcemap: true
        EntryPoints: [app.ts]
"""


@needs_npm
async def test_a_typescript_function_is_bundled_with_esbuild_as_sam_build_does(
    tmp_path: Path, runtime: FunctionRuntime
) -> None:
    """SAM's TypeScript template as written: esbuild from the function's own package.json
    (npm's registry), ``app.ts`` bundled to ``app.js`` in the artifact, the code left as
    it was; a code change reuses the installed esbuild."""
    from canaria.template import load

    code, state = tmp_path / "code", tmp_path / "state"
    code.mkdir()
    (code / "app.ts").write_text(TYPESCRIPT)
    manifest = {"name": "fn", "version": "1.0.0", "dependencies": {"esbuild": "0.14.54"}}
    (code / "package.json").write_text(json.dumps(manifest))
    (tmp_path / "template.yaml").write_text(ESBUILD_TEMPLATE)
    spec = load(str(tmp_path / "template.yaml")).functions["Fn"]
    first = await asyncio.to_thread(build_artifact, str(code), str(state), spec.build)
    built = Path(first[1])
    assert (built / "app.js").is_file() and (built / "app.js.map").is_file()
    assert not (code / "app.js").exists() and not (code / "node_modules").exists()
    assert "interface" not in (built / "app.js").read_text()  # TypeScript compiled away
    out = await invoke(runtime, 1, code, first, "nodejs20.x", "app.lambdaHandler")
    assert out == {"message": "hello from TypeScript"}  # n: undefined, left out
    # the same code without the build options is another artifact
    plain = await asyncio.to_thread(build_artifact, str(code), str(state))
    assert plain[0] != first[0] and not (Path(plain[1]) / "app.js").exists()
    # a code change: bundled again, esbuild not reinstalled
    (code / "app.ts").write_text(TYPESCRIPT.replace("hello from", "hi from"))
    second = await asyncio.to_thread(build_artifact, str(code), str(state), spec.build)
    assert deps_dirs(state) == ["npm"] and second[0] != first[0]
    out = await invoke(runtime, 2, code, second, "nodejs20.x", "app.lambdaHandler")
    assert out == {"message": "hi from TypeScript"}


@needs_npm
def test_an_esbuild_error_refuses_the_build_with_its_message(tmp_path: Path) -> None:
    from canaria.template import load

    code, state = tmp_path / "code", tmp_path / "state"
    code.mkdir()
    (code / "app.ts").write_text("export const lambdaHandler = async ( => 1;\n")
    manifest = {"name": "fn", "version": "1.0.0", "dependencies": {"esbuild": "0.14.54"}}
    (code / "package.json").write_text(json.dumps(manifest))
    (tmp_path / "template.yaml").write_text(ESBUILD_TEMPLATE)
    spec = load(str(tmp_path / "template.yaml")).functions["Fn"]
    with pytest.raises(BuildError) as info:
        build_artifact(str(code), str(state), spec.build)
    assert "esbuild could not bundle" in info.value.message and "app.ts" in info.value.message
    assert not (state / "artifacts").exists() or not any(
        p for p in (state / "artifacts").iterdir() if not p.name.startswith(".")
    )


async def test_a_built_python_layer_holds_its_requirements_under_python(
    tmp_path: Path, runtime: FunctionRuntime
) -> None:
    """``BuildMethod: python3.x``: the layer's content and its requirements under python/,
    as ``sam build`` lays them out; a function with that layer imports both, and a layer
    that is taken as it is gets no install."""
    content, state, code = tmp_path / "layer", tmp_path / "state", tmp_path / "code"
    content.mkdir()
    code.mkdir()
    (content / "requirements.txt").write_text(f"{_wheel(tmp_path)}\n")
    (content / "shared.py").write_text("def double(n):\n    return 2 * n\n")
    (code / "app.py").write_text(
        "import canaria_tiny, shared\n"
        "def handler(e, c):\n    return shared.double(canaria_tiny.ANSWER)\n"
    )
    built = LayerSpec("Deps", str(content), "python")
    digest, layer = await asyncio.to_thread(build_layer, built, str(state))
    assert (Path(layer) / "python" / "shared.py").is_file()
    assert (Path(layer) / "python" / "canaria_tiny" / "__init__.py").is_file()
    as_is = await asyncio.to_thread(build_layer, LayerSpec("Raw", str(content)), str(state))
    assert as_is[0] != digest and sorted(p.name for p in Path(as_is[1]).iterdir()) == [
        "requirements.txt",
        "shared.py",
    ]
    fn_digest, artifact = await asyncio.to_thread(build_artifact, str(code), str(state))
    cfg = FunctionConfig("app.handler", "python3.11", str(code), layers=(layer,))
    result = await runtime.invoke(
        Version("Fn", 1, fn_digest, cfg, artifact, 0.0), b"{}", qualifier=None
    )
    assert result.ok and orjson.loads(result.payload) == 84, result.payload
