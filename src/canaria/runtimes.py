"""Which Lambda runtimes canaria runs, and what each needs on this machine.

    python3.x                     canaria's own worker (``runtime/worker.py``), the fast path
    nodejs<N>.x                   the installed ``node`` with canaria's Runtime API bootstrap
    provided, provided.al2,       the function's own ``bootstrap`` executable in CodeUri,
    provided.al2023               against the Lambda Runtime API

A pure catalogue (plus a cached look at the installed ``node``), below both the template
loader (which refuses what cannot run here) and the runtime layer (which starts it).
"""

from __future__ import annotations

import enum
import functools
import os
import re
import shutil
import subprocess
import sys
import zipfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath


class Family(enum.Enum):
    PYTHON = "python"
    NODEJS = "nodejs"
    PROVIDED = "provided"


PYTHON = re.compile(r"^python3\.\d+$")
NODEJS = re.compile(r"^nodejs(\d+)\.(?:x|\d+)$")  # nodejs20.x; older: nodejs8.10
PROVIDED = ("provided", "provided.al2", "provided.al2023")
RUNNING_PYTHON = f"python{sys.version_info.major}.{sys.version_info.minor}"
ALLOWED = (
    "python3.x, nodejs<N>.x (e.g. nodejs20.x; also older names like nodejs8.10), "
    "provided, provided.al2, provided.al2023"
)
# Lambda's Node.js runtimes up to nodejs16.x bundle the AWS SDK for JavaScript v2
# (``aws-sdk``); nodejs18.x and later bundle v3 (``@aws-sdk/*``) instead.
LAST_SDK_V2_NODE = 16


# Experimental features of upstream Node.js that Lambda switches off on some runtimes,
# unless NODE_OPTIONS asks for them back ("Building Lambda functions with Node.js"):
# (Lambda's flag, the flag that re-enables, its runtimes' majors, the first releases of
# each line that know the flag).
SWITCHED_OFF = (
    (
        "--no-experimental-require-module",
        "--experimental-require-module",
        (20, 22),
        ((20, 17), (22, 0)),
    ),
    ("--no-experimental-detect-module", "--experimental-detect-module", (22,), ((20, 10), (21, 1))),
)


def lambda_node_flags(runtime: str, release: tuple[int, int], node_options: str) -> list[str]:
    """The flags Lambda adds to NODE_OPTIONS for ``runtime``, as far as the Node.js that
    runs it (``release``: its (major, minor)) knows them; none that ``node_options`` (the
    function's own NODE_OPTIONS) switches back on."""
    major = node_major(runtime)
    flags = []
    for flag, enable, majors, since in SWITCHED_OFF:
        if major not in majors or enable in node_options.split():
            continue
        newest = max(line for line, _ in since)
        if release[0] > newest or any(release[0] == line and release[1] >= n for line, n in since):
            flags.append(flag)
    return flags


def module_outside(handler: str) -> bool:
    """Whether a handler's module path leaves the function's code (``../x.handler``,
    ``/abs/x.handler``): canaria runs a copy of the code, so it would load another file."""
    module = handler.rsplit(".", 1)[0] if "." in handler else handler
    return "\0" in handler or module.startswith("/") or ".." in PurePosixPath(module).parts


def family(runtime: str) -> Family | None:
    """The runtime's family, or None when canaria does not run it."""
    if PYTHON.match(runtime):
        return Family.PYTHON
    if NODEJS.match(runtime):
        return Family.NODEJS
    if runtime in PROVIDED:
        return Family.PROVIDED
    return None


def node_major(runtime: str) -> int | None:
    """``nodejs18.x`` → 18."""
    m = NODEJS.match(runtime)
    return int(m.group(1)) if m else None


# the newest release lines of each language whose Lambda runtime was deprecated over a year
# before this was written (2026-12): Lambda then blocks creating, later updating, functions
# on them (runtime deprecation policy). Younger deprecations are left out: their dates move.
RETIRED_NODE = 16  # nodejs16.x, deprecated 2024-06
RETIRED_PYTHON = 8  # python3.8, deprecated 2024-10


def retired(runtime: str) -> bool:
    """Whether Lambda no longer lets a function be created on ``runtime`` (a long
    deprecated line such as ``nodejs6.10`` or ``python3.7``)."""
    major = node_major(runtime)
    if major is not None:
        return major <= RETIRED_NODE
    m = PYTHON.match(runtime)
    return m is not None and int(runtime.split(".", 1)[1]) <= RETIRED_PYTHON


def bundles_sdk_v2(runtime: str) -> bool:
    major = node_major(runtime)
    return major is not None and major <= LAST_SDK_V2_NODE


@dataclass(frozen=True)
class NodeInstall:
    path: str  # absolute path of the ``node`` executable
    version: str  # "v20.11.1"

    @property
    def major(self) -> int:
        return int(self.version.lstrip("v").split(".")[0])

    @property
    def headers(self) -> Path | None:
        """The release's root when it ships its C headers (``include/node``), as the npm
        registry's builds do: what node-gyp needs to build an addon for it offline."""
        root = Path(self.path).parent.parent
        return root if (root / "include" / "node" / "node.h").is_file() else None

    @property
    def release(self) -> tuple[int, int]:
        """(major, minor): ``v20.19.2`` → (20, 19)."""
        major, minor = self.version.lstrip("v").split(".")[:2]
        return int(major), int(minor)


@functools.cache
def installed_node() -> NodeInstall | None:
    """The ``node`` on PATH and its version (asked once per process), or None."""
    path = shutil.which("node")
    if path is None:
        return None
    try:
        done = subprocess.run(
            [path, "--version"], capture_output=True, text=True, timeout=30, check=False
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    version = done.stdout.strip()
    if done.returncode != 0 or not re.match(r"^v\d+\.", version):
        return None
    return NodeInstall(str(Path(path).resolve()), version)


def bootstrap_problem(code_uri: str) -> str | None:
    """Why ``<code_uri>/bootstrap`` (a member of ``code_uri`` when it is a zip file) cannot
    start a ``provided`` function, or None."""
    if Path(code_uri).is_file():
        return _zipped_bootstrap_problem(Path(code_uri))
    path = Path(code_uri) / "bootstrap"
    if not path.exists():
        return f"there is no 'bootstrap' file in CodeUri ({path})"
    if not path.is_file():
        return f"'bootstrap' in CodeUri is not a file ({path})"
    if not os.access(path, os.X_OK):
        return f"'bootstrap' in CodeUri is not executable ({path}): run `chmod +x` on it"
    return None


def _zipped_bootstrap_problem(archive_path: Path) -> str | None:
    try:
        with zipfile.ZipFile(archive_path) as archive:
            info = archive.getinfo("bootstrap")
    except KeyError:
        return f"there is no 'bootstrap' file at the top of {archive_path}"
    except (OSError, zipfile.BadZipFile):
        return f"{archive_path} is not a zip file"
    if info.is_dir():
        return f"'bootstrap' in {archive_path} is not a file"
    mode = (info.external_attr >> 16) & 0o777
    if mode and not mode & 0o111:
        return f"'bootstrap' in {archive_path} is not executable: zip it with `chmod +x` set"
    return None


__all__ = [
    "ALLOWED",
    "RUNNING_PYTHON",
    "Family",
    "NodeInstall",
    "bootstrap_problem",
    "bundles_sdk_v2",
    "family",
    "installed_node",
    "lambda_node_flags",
    "module_outside",
    "node_major",
    "retired",
]
