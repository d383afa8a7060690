"""A version's third-party dependencies, installed once per manifest and shared.

``sam build`` installs a function's dependencies into every build; canaria keys them by
what decides them instead — the manifest's content (and the interpreter that installs
them) — so a code change with unchanged ``requirements.txt`` / ``package.json`` reuses the
installed packages and the new version is servable at once:

    <state>/deps/pip-<sha256>/   ``pip install --target`` of requirements.txt
    <state>/deps/npm-<sha256>/   package.json (+ package-lock.json) and its node_modules,
                                 by ``npm ci`` when there is a lockfile, else ``npm install``
                                 (``--omit=dev``, as ``sam build`` leaves devDependencies out;
                                 the package's own ``scripts`` left out of the copy)
    <state>/deps/aws-sdk-<sha256>/  the AWS SDK packages Lambda provides that a Node.js
                                 function names beyond canaria's own (``sdk.py``)

The key covers the manifest bytes, the lockfile, and Python's or Node's version and the
platform. An artifact links them in: each top-level entry of a pip install as a symlink
next to the code (the code wins on a clash), ``node_modules`` as one symlink. A
dependencies directory is built in a temporary directory and renamed into place, so it is
either complete or absent. A failed install raises ``BuildError`` with the tool's last
lines, before anything changes.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

from canaria import pythons, runtimes
from canaria.errors import BuildError
from canaria.models import EsbuildOptions
from canaria.pythons import PythonInstall
from canaria.runtimes import NodeInstall

INSTALL_TIMEOUT_S = 900.0
_TAIL_LINES = 15


def pip_key(requirements: Path, python: PythonInstall | None = None) -> str:
    h = hashlib.sha256(b"pip\0")
    h.update(f"{(python or pythons.running()).line}\0".encode())
    h.update(f"{platform.machine()}-{sys.platform}\0".encode())
    h.update(requirements.read_bytes())
    return h.hexdigest()


def npm_key(manifest: Path, node: NodeInstall | None = None) -> str:
    h = hashlib.sha256(b"npm\0")
    node = node or runtimes.installed_node()
    h.update(f"{node.major if node else 0}-{platform.machine()}-{sys.platform}\0".encode())
    h.update(manifest.read_bytes())
    lock = manifest.parent / "package-lock.json"
    h.update(b"\0lock\0" + (lock.read_bytes() if lock.is_file() else b""))
    return h.hexdigest()


def link_dependencies(
    code: Path,
    artifact: Path,
    state_dir: str,
    python: PythonInstall | None = None,
    node: NodeInstall | None = None,
) -> None:
    """Install (or reuse) the code's dependencies and link them into ``artifact``; a
    ``requirements.txt`` with ``python``'s pip (canaria's own Python when None), a
    ``package.json`` with npm on ``node`` (the ``node`` on PATH when None)."""
    requirements = code / "requirements.txt"
    if requirements.is_file():
        interpreter = (python or pythons.running()).path
        deps = _ensure(
            state_dir,
            "pip",
            pip_key(requirements, python),
            requirements,
            lambda manifest, target: _pip_install(manifest, target, interpreter),
        )
        for entry in sorted(deps.iterdir()):
            target = artifact / entry.name
            if not target.exists() and not target.is_symlink():
                target.symlink_to(entry)
    manifest = code / "package.json"
    if manifest.is_file() and not (code / "node_modules").exists():
        deps = _ensure(
            state_dir,
            "npm",
            npm_key(manifest, node),
            manifest,
            lambda manifest, target: _npm_install(manifest, target, node),
        )
        modules = deps / "node_modules"
        if modules.is_dir():
            (artifact / "node_modules").symlink_to(modules, target_is_directory=True)


def _ensure(
    state_dir: str,
    kind: str,
    key: str,
    manifest: Path,
    install: Callable[[Path, Path], None],
) -> Path:
    return ensure_installed(state_dir, kind, key, lambda target: install(manifest, target))


def ensure_installed(state_dir: str, kind: str, key: str, install: Callable[[Path], None]) -> Path:
    """``<state>/deps/<kind>-<key>``, made once by ``install`` (given an empty directory,
    renamed into place when it returns: complete or absent)."""
    root = Path(state_dir).resolve() / "deps"
    final = root / f"{kind}-{key}"
    if final.is_dir():
        return final
    root.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{kind}-{key[:12]}-", dir=root))
    try:
        tmp.chmod(0o755)
        install(tmp)
        try:
            tmp.rename(final)
        except OSError:
            if not final.is_dir():
                raise
            shutil.rmtree(tmp, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return final


def run_tool(
    command: list[str],
    cwd: Path,
    what: str,
    tool: str,
    verb: str = "install",
    env: dict[str, str] | None = None,
) -> None:
    """Run an installer (in canaria's environment unless ``env``); BuildError with its last
    lines when it fails."""
    try:
        done = subprocess.run(
            command,
            cwd=cwd,
            env=env,
            capture_output=True,
            text=True,
            timeout=INSTALL_TIMEOUT_S,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        raise BuildError(
            f"{tool} ({verb} {what}) took longer than {INSTALL_TIMEOUT_S:.0f} s"
        ) from exc
    except OSError as exc:
        raise BuildError(f"could not run {tool} to {verb} {what}: {exc}") from exc
    if done.returncode != 0:
        lines = (done.stdout + done.stderr).strip().splitlines()
        tail = "\n".join("  " + line for line in lines[-_TAIL_LINES:])
        raise BuildError(f"{tool} could not {verb} {what} (exit status {done.returncode}):\n{tail}")


def bundle(artifact: Path, esbuild: EsbuildOptions, code_uri: str) -> None:
    """Bundle the entry points into ``artifact`` as ``sam build`` does (``--bundle
    --platform=node`` and the function's options), with the esbuild the function's
    dependencies install, else the one on PATH."""
    local = artifact / "node_modules" / ".bin" / "esbuild"
    binary = str(local) if local.exists() else shutil.which("esbuild")
    if binary is None:
        raise BuildError(
            f"{code_uri}: BuildMethod esbuild needs esbuild: list it in package.json's "
            "dependencies (as `sam build` wants it) or put `esbuild` on PATH"
        )
    out = Path(tempfile.mkdtemp(prefix=".esbuild-", dir=artifact))
    try:
        command = [
            binary,
            *esbuild.entry_points,
            "--bundle",
            "--platform=node",
            f"--outdir={out}",
            *esbuild.flags,
        ]
        run_tool(command, artifact, f"{code_uri} (esbuild)", "esbuild", verb="bundle")
        for path in sorted(out.rglob("*")):
            if path.is_file():
                target = artifact / path.relative_to(out)
                target.parent.mkdir(parents=True, exist_ok=True)
                path.replace(target)
    finally:
        shutil.rmtree(out, ignore_errors=True)


def _pip_install(requirements: Path, target: Path, python: str) -> None:
    """``pip install --target`` as ``sam build`` does; relative paths resolve in the code."""
    command = [
        python,
        "-m",
        "pip",
        "install",
        "--target",
        str(target),
        "-r",
        str(requirements),
        "--disable-pip-version-check",
        "--no-input",
        "--progress-bar",
        "off",
    ]
    run_tool(command, requirements.parent, str(requirements), "pip")


def _copy_manifest(manifest: Path, dest: Path) -> None:
    """``package.json`` without the package's own ``scripts``: they build or test the
    project (``prepare: tsc``), and npm would run them here, in a folder holding nothing
    but the manifest. Its dependencies' install scripts still run."""
    try:
        data = json.loads(manifest.read_bytes())
    except ValueError:
        data = None
    if isinstance(data, dict) and "scripts" in data:
        del data["scripts"]
        dest.write_text(json.dumps(data, indent=2) + "\n")
    else:
        shutil.copy2(manifest, dest)


def _npm_install(manifest: Path, target: Path, node: NodeInstall | None = None) -> None:
    """``npm ci`` with a lockfile, else ``npm install``, production dependencies only; on
    ``node`` when it is not the ``node`` on PATH (npm, and the install scripts it runs, such
    as node-gyp, on the release that will load what they build)."""
    npm = shutil.which("npm")
    if npm is None:
        raise BuildError(
            f"{manifest} lists dependencies but there is no `npm` on PATH: install Node.js "
            "with npm, or put node_modules in CodeUri"
        )
    _copy_manifest(manifest, target / "package.json")
    lock = manifest.parent / "package-lock.json"
    verb = "install"
    if lock.is_file():
        shutil.copy2(lock, target / "package-lock.json")
        verb = "ci"
    command = [npm, verb, "--omit=dev", "--no-audit", "--no-fund"]
    env = None
    machine = runtimes.installed_node()
    if node is not None and (machine is None or node.path != machine.path):
        command = [node.path, str(Path(npm).resolve()), *command[1:]]
        env = dict(os.environ, PATH=os.pathsep.join([str(Path(node.path).parent), _path()]))
        if node.headers is not None:  # node-gyp builds against them, without a download
            env["npm_config_nodedir"] = str(node.headers)
    run_tool(command, target, f"{manifest} (npm {verb})", "npm", env=env)


def _path() -> str:
    return os.environ.get("PATH", os.defpath)
