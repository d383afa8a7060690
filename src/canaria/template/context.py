"""What every resource builder shares while one template loads."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from canaria.template.index import Entry, ResourceIndex
from canaria.template.intrinsics import NO_VALUE, Resolver
from canaria.template.nodes import Where, as_str


class ReadablePaths(Protocol):
    """Which local files a template may make canaria read (the server's ``FileAccess``)."""

    def refusal(self, path: Path) -> str | None:
        """Why ``path`` (resolved) may not be read, or ``None`` when it may."""
        ...


@dataclass
class Context:
    file: str  # the template as the user named it, for messages
    directory: Path  # the template's directory (absolute)
    resolver: Resolver
    index: ResourceIndex
    warnings: list[str] = field(default_factory=list)
    readable: ReadablePaths | None = None  # None: any path (a template on the command line)
    # the value of an API key the template gives none, from its logical id (the server's
    # ``Keyring.api_key_value``); None: such a key has no value (``template.api_keys``)
    api_key_value: Callable[[str], str] | None = None
    # the directory of each nested template, by its file as messages name it: a path a
    # nested template writes is relative to it (``template.nested``)
    directories: Mapping[str, Path] = field(default_factory=dict)

    def get(self, entry: Entry, key: str) -> Any:
        """Property ``key`` of ``entry`` resolved, or ``NO_VALUE``."""
        return self.resolver.get(entry.props, key, entry.props_at)

    def at(self, entry: Entry, key: str) -> Where:
        return entry.props_at.key(entry.props, key)

    def has(self, entry: Entry, key: str) -> bool:
        return self.get(entry, key) is not NO_VALUE

    def local_path(self, value: Any, at: Where, allowed: str) -> tuple[str, Path]:
        """A path the template names (``CodeUri``, ``DefinitionUri``): as written, and
        resolved against the directory of the template that writes it (a nested one's
        own). canaria reads local files only, so an S3 location is refused here, with
        ``allowed`` saying what to write instead; so is a path outside what ``readable``
        allows (checked before anything is looked at, so the error does not even say
        whether the path exists)."""
        what = at.path.rsplit(".", 1)[-1]
        if isinstance(value, Mapping):
            raise at.error(f"{what} names an S3 object; canaria reads local files", allowed=allowed)
        text = as_str(value, at)
        if text.startswith("s3://"):
            raise at.error(f"{what} {text!r} is in S3; canaria reads local files", allowed=allowed)
        if "\0" in text:
            raise at.error(f"{what} contains a NUL character", allowed=allowed)
        path = (self.directories.get(at.file, self.directory) / text).resolve()
        refusal = self.readable.refusal(path) if self.readable is not None else None
        if refusal is not None:
            raise at.error(f"{what} {text!r} ({path}) {refusal}")
        return text, path

    def warn(self, entry: Entry, message: str) -> None:
        line = f":{entry.where.line}" if entry.where.line is not None else ""
        self.warnings.append(f"{entry.where.file}{line}: {entry.where.path}: {message}")
