"""What canaria installs once into its share directory (a Node.js release line, a Python
version's worker packages): one installer at a time across processes, and the result
complete or absent, whatever stops an install half-way."""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TypeVar

from canaria.npm import SetupError

T = TypeVar("T")


def install_once(target: Path, ready: Callable[[], T | None], fill: Callable[[Path], None]) -> T:
    """What ``ready`` finds at ``target``; when it finds nothing, ``fill`` an empty
    directory beside it first and rename that to ``target``. SetupError from ``fill``
    leaves ``target`` as it was."""
    target.parent.mkdir(parents=True, exist_ok=True)
    with _locked(target.parent / f".{target.name}.lock"):
        found = ready()
        if found is not None:
            return found
        work = Path(tempfile.mkdtemp(prefix=f".{target.name}-", dir=target.parent))
        try:
            fill(work)
            if target.exists():  # a broken earlier install: replaced whole
                shutil.rmtree(target)
            work.rename(target)
        finally:
            shutil.rmtree(work, ignore_errors=True)
        found = ready()
    if found is None:
        raise SetupError(f"{target} is not complete after its install")
    return found


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


__all__ = ["install_once"]
