"""Where canaria finds the npm packages it runs or serves (dynalite, uPlot, the AWS SDKs
that Node.js functions get as Lambda provides them), and how they get there.

One place answers, so that every package asks the same question the same way:
``CANARIA_NODE_MODULES`` when set, else ``<environment>/share/canaria/node_modules``, where
``<environment>`` is the Python environment canaria is installed in (a venv's root, e.g.
``.venv/share/canaria/node_modules``). ``canaria setup`` (``make setup`` runs it) fills
that directory with ``npm ci`` from the ``package.json`` and ``package-lock.json`` shipped
inside the package, for a checkout and an installed wheel alike.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sysconfig
from importlib import resources
from pathlib import Path

from canaria.errors import CanariaError


class SetupError(CanariaError):
    code = "SetupError"


def node_modules() -> Path:
    """The ``node_modules`` directory canaria's npm packages are installed in."""
    env = os.environ.get("CANARIA_NODE_MODULES")
    if env:
        return Path(env)
    return Path(sysconfig.get_path("data")) / "share" / "canaria" / "node_modules"


def node_package(name: str) -> Path:
    """The directory of one installed npm package (it may not exist: callers check)."""
    return node_modules() / name


def manifest_files() -> dict[str, bytes]:
    """``package.json`` and ``package-lock.json`` as shipped with canaria."""
    shipped = resources.files("canaria") / "npmdeps"
    return {name: (shipped / name).read_bytes() for name in ("package.json", "package-lock.json")}


def install(npm: str | None = None) -> Path:
    """``npm ci`` canaria's npm packages into ``node_modules()``; returns that directory.
    SetupError (saying what to do) without npm or when npm fails."""
    target = node_modules()
    exe = npm or shutil.which("npm")
    if exe is None:
        raise SetupError("npm is not on PATH: install Node.js 18 or newer (with npm) first")
    if target.name != "node_modules":  # npm installs into <home>/node_modules
        raise SetupError(f"CANARIA_NODE_MODULES must name a node_modules directory: {target}")
    home = target.parent
    home.mkdir(parents=True, exist_ok=True)
    for name, content in manifest_files().items():
        (home / name).write_bytes(content)
    done = subprocess.run(
        [exe, "ci", "--no-audit", "--no-fund", "--loglevel=error"],
        cwd=home,
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        raise SetupError(f"npm ci in {home} failed ({done.returncode}):\n{done.stderr.strip()}")
    return target


__all__ = ["SetupError", "install", "manifest_files", "node_modules", "node_package"]
