"""Which files a caller of the control API may make canaria read, and how they are read.

``canaria deploy`` sends a template *path*; the server reads it, and then the files the
template names: a function's ``CodeUri`` directory (digested and copied into an artifact)
and a state machine's ``DefinitionUri``. Without limits, the token would be a key to every
file the server can read, a FIFO would block the server, and ``/dev/zero`` would fill its
memory. So a template path must be:

- under one of the allowed directories (after resolving symbolic links): the directory
  ``canaria up`` was started in, the directory of the template it was started with, and
  any listed in ``CANARIA_ALLOWED_DIRS`` (separated by ``:``);
- a regular file (not a FIFO, device or directory), opened without blocking;
- at most ``MAX_TEMPLATE_BYTES`` (1 MB, CloudFormation's own limit for a template).

The paths a template names must resolve under the same directories (``refusal``, which
the template loader asks for each ``CodeUri`` and ``DefinitionUri``, and the artifact
build for each symbolic link inside a ``CodeUri``); a template's errors name the resource,
the property and the path.

The check runs off the event loop (``asyncio.to_thread``) and its errors name the path
and the rule, never anything read from the file.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Sequence
from pathlib import Path

from canaria.errors import InvalidRequest

MAX_TEMPLATE_BYTES = 1_000_000
ALLOWED_DIRS_ENV = "CANARIA_ALLOWED_DIRS"


class FileAccess:
    def __init__(self, roots: Sequence[str | Path]) -> None:
        self.roots = tuple(dict.fromkeys(Path(r).resolve() for r in roots if str(r)))

    @classmethod
    def for_server(cls, template: str, cwd: str | None = None) -> FileAccess:
        """The directories ``canaria up`` was started for, and the allow-list."""
        extra = [d for d in os.environ.get(ALLOWED_DIRS_ENV, "").split(os.pathsep) if d]
        return cls([cwd or os.getcwd(), Path(template).resolve().parent, *extra])

    def allows(self, path: Path) -> bool:
        return any(path == root or path.is_relative_to(root) for root in self.roots)

    def refusal(self, path: Path) -> str | None:
        """Why canaria may not read ``path`` (resolved), or ``None`` when it may."""
        if self.allows(path):
            return None
        return (
            f"is outside the directories canaria may read "
            f"({', '.join(str(r) for r in self.roots)}): start `canaria up` from the "
            f"project's directory, or add the directory to {ALLOWED_DIRS_ENV}"
        )

    def check_template(self, given: str) -> str:
        """The resolved path of a template a caller named, or ``InvalidRequest`` saying
        why it may not be read."""
        if "\0" in given:
            raise InvalidRequest("template path contains a NUL character")
        try:
            path = Path(given).resolve()
        except (OSError, RuntimeError, ValueError) as exc:
            raise InvalidRequest(f"template path {given!r} cannot be resolved: {exc}") from None
        refusal = self.refusal(path)
        if refusal is not None:
            raise InvalidRequest(f"template {given} {refusal}")
        try:
            fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY)
        except FileNotFoundError:
            raise InvalidRequest(f"template {given} does not exist") from None
        except OSError as exc:
            raise InvalidRequest(f"template {given} cannot be opened: {exc.strerror}") from None
        try:
            info = os.fstat(fd)
        finally:
            os.close(fd)
        if not stat.S_ISREG(info.st_mode):
            raise InvalidRequest(f"template {given} is not a regular file")
        if info.st_size > MAX_TEMPLATE_BYTES:
            raise InvalidRequest(
                f"template {given} is {info.st_size} bytes (at most {MAX_TEMPLATE_BYTES})"
            )
        return str(path)


__all__ = ["ALLOWED_DIRS_ENV", "MAX_TEMPLATE_BYTES", "FileAccess"]
