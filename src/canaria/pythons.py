"""Python for each ``python3.<N>`` runtime: the version Lambda runs it on, when this machine
has it.

Lambda runs ``python3.12`` on Python 3.12 and ``python3.13`` on 3.13; code that works on
one can fail on another (3.12 removed ``distutils`` and ``imp``, 3.13 ``cgi`` and
``telnetlib``; each version adds syntax the older ones refuse), and a compiled dependency
is built for one version only. So canaria runs a function on Python ``3.N``:

1. the Python canaria runs on, when it is ``3.N`` (its worker's packages are canaria's own);
2. else a ``python3.N`` this machine has: on PATH, under pyenv (``$PYENV_ROOT/versions``),
   or one uv manages (``uv python find``), with the packages its worker needs (orjson;
   boto3 and the durable execution SDK, as Lambda's runtime provides them) installed once
   with that Python's pip into ``<share>/canaria/python/3.N``; its ``requirements.txt``
   dependencies are installed by that Python too;
3. else the Python canaria runs on, with a warning that says so.

canaria does not download interpreters: it uses the ones the machine has.
"""

from __future__ import annotations

import contextlib
import functools
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

from canaria.installs import install_once
from canaria.npm import SetupError, node_modules

RUNNING = f"{sys.version_info.major}.{sys.version_info.minor}"
PYTHON = re.compile(r"^python(3\.\d+)$")


# what the worker imports beyond the standard library, and what Lambda's Python runtimes
# provide to every function: boto3, and the durable execution SDK at the version canaria's
# durable execution service speaks
def _pinned(dist: str) -> str:
    """``dist`` at the version canaria runs with, for the Pythons it supports: its
    ``Requires-Python`` as an environment marker, so pip installs it where it runs and
    skips it elsewhere (the durable execution SDK needs 3.11, and durable functions run on
    Lambda's newest Pythons only: a ``python3.9`` function must not lose Python 3.9 for
    it)."""
    meta = metadata.metadata(dist)
    requires = ",".join(meta.get_all("Requires-Python") or [])
    clauses = [c.strip() for c in requires.split(",") if c.strip()]
    marker = " and ".join(
        f'python_full_version {m.group(1)} "{m.group(2)}"'
        for c in clauses
        if (m := re.fullmatch(r"(>=|<=|==|!=|>|<|~=)\s*([0-9][0-9.*]*)", c))
    )
    pin = f"{dist}=={meta['Version']}"
    return f"{pin}; {marker}" if marker else pin


WORKER_PACKAGES = ("orjson", "boto3", _pinned("aws-durable-execution-sdk-python"))
INSTALL_TIMEOUT_S = 600.0


@dataclass(frozen=True)
class PythonInstall:
    path: str  # the interpreter
    version: str  # "3.13.0"
    site: str | None  # the worker's packages for it; None: canaria's own environment

    @property
    def line(self) -> str:
        return ".".join(self.version.split(".")[:2])


def line_of(runtime: str) -> str | None:
    """``python3.13`` → ``"3.13"``; None for another runtime."""
    m = PYTHON.match(runtime)
    return m.group(1) if m else None


def running() -> PythonInstall:
    version = ".".join(map(str, sys.version_info[:3]))
    return PythonInstall(sys.executable, version, None)


@functools.cache
def find(line: str) -> PythonInstall | None:
    """A ``python<line>`` interpreter on this machine (asked once per process), or None."""
    for candidate in _candidates(line):
        version = _version_of(candidate)
        if version is not None and ".".join(version.split(".")[:2]) == line:
            return PythonInstall(candidate, version, None)
    return None


def _candidates(line: str) -> Iterator[str]:
    if found := shutil.which(f"python{line}"):
        yield found
    root = Path(os.environ.get("PYENV_ROOT") or os.path.expanduser("~/.pyenv")) / "versions"
    with contextlib.suppress(OSError):
        versions = [p for p in root.iterdir() if re.fullmatch(rf"{re.escape(line)}\.\d+", p.name)]
        for p in sorted(versions, key=lambda p: int(p.name.split(".")[2]), reverse=True):
            yield str(p / "bin" / f"python{line}")
    if uv := shutil.which("uv"):
        with contextlib.suppress(OSError, subprocess.TimeoutExpired):
            done = subprocess.run(
                [uv, "python", "find", "--no-python-downloads", line],
                capture_output=True,
                text=True,
                timeout=30,
                check=False,
            )
            if done.returncode == 0 and done.stdout.strip():
                yield done.stdout.strip()


def _version_of(exe: str) -> str | None:
    if not os.access(exe, os.X_OK):
        return None
    try:
        done = subprocess.run(
            [exe, "-c", "import sys; print('.'.join(map(str, sys.version_info[:3])))"],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    version = done.stdout.strip()
    return version if done.returncode == 0 and re.fullmatch(r"3\.\d+\.\d+", version) else None


def home(line: str) -> Path:
    """Where the worker's packages for Python ``line`` go: ``<share>/canaria/python/<line>``."""
    return node_modules().parent / "python" / line


def installed(line: str) -> PythonInstall | None:
    """Python ``line`` with its worker's packages, as ``install`` left them, or None."""
    python = find(line)
    site = home(line) / "site"
    if python is None or not (site / ".complete").is_file():
        return None
    return PythonInstall(python.path, python.version, str(site))


def install(line: str) -> PythonInstall:
    """Install the worker's packages for this machine's Python ``line`` with its pip (once);
    SetupError saying why it could not."""
    python = find(line)
    if python is None:
        raise SetupError(f"this machine has no python{line} (on PATH, under pyenv or uv)")

    def fill(work: Path) -> None:
        _pip(python.path, work, line)
        (work / ".complete").write_text(python.version + "\n")

    return install_once(home(line) / "site", lambda: installed(line), fill)


def _pip(exe: str, target: Path, line: str) -> None:
    command = [
        exe,
        "-m",
        "pip",
        "install",
        "--target",
        str(target),
        *WORKER_PACKAGES,
        "--disable-pip-version-check",
        "--no-input",
        "--progress-bar",
        "off",
    ]
    try:
        done = subprocess.run(
            command, capture_output=True, text=True, timeout=INSTALL_TIMEOUT_S, check=False
        )
    except subprocess.TimeoutExpired:
        raise SetupError(
            f"pip took more than {INSTALL_TIMEOUT_S:.0f} s for Python {line}"
        ) from None
    if done.returncode != 0:
        raise SetupError(
            f"Python {line}'s pip could not install {', '.join(WORKER_PACKAGES)}: "
            + _pip_reason(done.stdout + done.stderr)
        )


def _pip_reason(output: str) -> str:
    """What pip's output says went wrong, in a few short lines: its ``ERROR:`` lines but
    the one listing every version it ignored (hundreds of them for boto3)."""
    lines = [ln.strip() for ln in output.strip().splitlines() if ln.strip()]
    errors = [ln for ln in lines if ln.startswith("ERROR:") and "Ignored the following" not in ln]
    shown = (errors or lines)[-3:]
    return "; ".join(ln if len(ln) <= 300 else ln[:297] + "..." for ln in shown)


def python_for(runtime: str) -> PythonInstall:
    """The Python a ``python3.N`` function runs on: canaria's own when it is ``3.N``, else
    this machine's ``python3.N`` once ``install`` has given it the worker's packages, else
    canaria's own."""
    line = line_of(runtime)
    if line is None or line == RUNNING:
        return running()
    return installed(line) or running()


def wanted(runtime: str) -> str | None:
    """The Python version ``install`` should prepare for ``runtime``: None when canaria's
    own is that version, or this machine has no such Python."""
    line = line_of(runtime)
    if line is None or line == RUNNING or find(line) is None:
        return None
    return line


__all__ = [
    "RUNNING",
    "PythonInstall",
    "find",
    "home",
    "install",
    "installed",
    "line_of",
    "python_for",
    "running",
    "wanted",
]
