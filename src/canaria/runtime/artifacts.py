"""Build a version's artifact the way ``sam build`` does, content-addressed.

``build_artifact(code_uri, state_dir)`` digests the code (sorted relative paths and
contents; ``__pycache__``, ``*.pyc``, ``.git``, ``.canaria`` and ``.aws-sam`` left out), and makes
``<state_dir>/artifacts/<digest>/``: a copy of the code plus, when it has a
``requirements.txt`` or a ``package.json``, links to its installed dependencies, which are
shared by every version with the same manifest (``deps.py``). A Node.js function with
``Metadata: {BuildMethod: esbuild}`` is then bundled as ``sam build`` bundles it: esbuild
(the one its ``package.json`` installs, else one on ``PATH``) writes each entry point's
bundle (``app.ts`` → ``app.js``) into the artifact; the build options are part of the
digest. The build happens in a temporary directory renamed into place, so an artifact
directory is either complete or absent; a present one is reused.

``build_inline`` makes the artifact of a function's ``InlineCode``: a directory holding
the one file Lambda writes it to.

``build_layer`` makes a layer's directory the same way, content-addressed: what Lambda
would extract into ``/opt`` (the content as it is, or, with a ``BuildMethod``, the content
and its dependencies under ``python/`` or ``nodejs/``).

``code_uri`` is a directory or, as the SAM CLI also takes it, a ``.zip`` file: its members
are digested the same way (a zip and the folder it was made from give one digest) and
extracted into the artifact with their permission bits (a ``provided`` function's
``bootstrap`` stays executable).

Only regular files are code: a FIFO, socket or device in the directory is left out (a
zip cannot hold one, and reading a FIFO would block). A symbolic link to a file is
followed, as ``sam build`` follows it; when ``confine`` is given (the server's rule for
which files it may read), a link that resolves where it may not read, or to nothing, is a
``BuildError`` naming the link and its target, raised before any file is read.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import stat
import tempfile
import zipfile
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path, PurePosixPath

from canaria import nodejs, pythons, runtimes
from canaria.errors import BuildError
from canaria.models import EsbuildOptions, InlineCode, LayerSpec
from canaria.pythons import PythonInstall
from canaria.runtime.deps import bundle, link_dependencies
from canaria.runtimes import NodeInstall

# ``.canaria`` (canaria's state) and ``.aws-sam`` (``sam build``'s output) sit next to the
# template: with the default ``CodeUri: .`` they would otherwise be copied into every
# artifact and change its digest at every build.
SKIP_DIRS = frozenset({"__pycache__", ".git", ".canaria", ".aws-sam"})
SKIP_SUFFIXES = (".pyc",)

# Why canaria may not read a (resolved) path, or None when it may: ``FileAccess.refusal``.
Confine = Callable[[Path], str | None]


def is_zip(code_uri: str) -> bool:
    """Whether ``code_uri`` is a zip file (rather than a directory)."""
    path = Path(code_uri)
    return path.is_file() and zipfile.is_zipfile(path)


def is_single_file(code_uri: str) -> bool:
    """Whether ``code_uri`` is one file of code that is not a zip (``CodeUri: src/app.py``):
    the code is that file alone, at the top, as ``sam package`` zips it."""
    return Path(code_uri).is_file() and not is_zip(code_uri)


def _root(code_uri: str) -> Path:
    """The directory the code's relative paths start from."""
    path = Path(code_uri)
    return path.parent if is_single_file(code_uri) else path


def _skipped(rel: str) -> bool:
    parts = PurePosixPath(rel).parts
    return any(p in SKIP_DIRS for p in parts[:-1]) or rel.endswith(SKIP_SUFFIXES)


def _members(archive: zipfile.ZipFile) -> dict[str, zipfile.ZipInfo]:
    """Relative path → member of the archive's files; BuildError for a path outside it."""
    found: dict[str, zipfile.ZipInfo] = {}
    for info in archive.infolist():
        if info.is_dir():
            continue
        rel = PurePosixPath(info.filename)
        if rel.is_absolute() or ".." in rel.parts or not rel.parts:
            raise BuildError(f"zip member {info.filename!r} points outside the code")
        if not _skipped(rel.as_posix()):
            found[rel.as_posix()] = info
    return found


def code_files(
    code_uri: str, state_dir: str | None = None, confine: Confine | None = None
) -> list[str]:
    """Relative POSIX paths of the files that make up the code, sorted (never the state
    directory, wherever it is; in a directory only regular files, links to them followed)."""
    if is_zip(code_uri):
        with zipfile.ZipFile(code_uri) as archive:
            return sorted(_members(archive))
    if is_single_file(code_uri):
        return [Path(code_uri).name]
    root = Path(code_uri)
    state = Path(state_dir).resolve() if state_dir else None
    found: list[str] = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = [
            d
            for d in dirnames
            if d not in SKIP_DIRS and (state is None or Path(dirpath, d).resolve() != state)
        ]
        for name in filenames:
            if name.endswith(SKIP_SUFFIXES):
                continue
            path = Path(dirpath, name)
            if confine is not None and path.is_symlink():
                _check_link(code_uri, path, confine)
            try:
                mode = path.stat().st_mode  # follows a link
            except OSError:
                continue  # a dangling link (only without ``confine``) or a file just removed
            if stat.S_ISREG(mode):
                found.append(path.relative_to(root).as_posix())
    return sorted(found)


def _check_link(code_uri: str, link: Path, confine: Confine) -> None:
    try:
        target = link.resolve(strict=True)
    except (OSError, RuntimeError):
        raise BuildError(
            f"CodeUri {code_uri}: {link.name} is a symbolic link to nothing ({os.readlink(link)})"
        ) from None
    refusal = confine(target)
    if refusal is not None:
        raise BuildError(f"CodeUri {code_uri}: {link} links to {target}, which {refusal}")


def code_digest(
    code_uri: str,
    state_dir: str | None = None,
    confine: Confine | None = None,
    keep: Callable[[str], bool] | None = None,
) -> str:
    """sha256 over each file's relative path and contents, in path order; ``keep``, when
    given, says which files (by relative path) count."""
    h = hashlib.sha256()

    def add(rel: str, data: bytes) -> None:
        h.update(rel.encode("utf-8"))
        h.update(b"\0")
        h.update(len(data).to_bytes(8, "big"))
        h.update(data)

    if is_zip(code_uri):
        with zipfile.ZipFile(code_uri) as archive:
            members = _members(archive)
            for rel in sorted(members):
                add(rel, archive.read(members[rel]))
        return h.hexdigest()
    root = _root(code_uri)
    for rel in code_files(code_uri, state_dir, confine):
        if keep is None or keep(rel):
            add(rel, (root / rel).read_bytes())
    return h.hexdigest()


def build_artifact(
    code_uri: str,
    state_dir: str,
    esbuild: EsbuildOptions | None = None,
    confine: Confine | None = None,
    runtime: str = "",
) -> tuple[str, str]:
    """``(digest, artifact directory)`` for the code at ``code_uri`` (bundled by ``esbuild``
    when given); BuildError if it fails. ``confine``: where the code's files (links
    followed) may come from. ``runtime``: a ``python3.N`` function's dependencies are
    installed by the Python it runs on; another version than canaria's own gives
    another artifact."""
    _check_code(code_uri, confine, "CodeUri")
    digest = code_digest(code_uri, state_dir, confine)
    if esbuild is not None:
        options = "\0".join(("esbuild", *esbuild.entry_points, "", *esbuild.flags))
        digest = hashlib.sha256(f"{digest}\0{options}".encode()).hexdigest()
    python = pythons.python_for(runtime) if pythons.line_of(runtime) else None
    if python is not None and python.site is not None:
        digest = hashlib.sha256(f"{digest}\0python{python.line}".encode()).hexdigest()
    node = nodejs.node_for(runtime) if runtimes.node_major(runtime) else None
    if node is not None and node != runtimes.installed_node():
        digest = hashlib.sha256(f"{digest}\0node{node.major}".encode()).hexdigest()
    return digest, _materialise(
        code_uri, state_dir, digest, "", True, esbuild, confine, python, node
    )


def build_inline(inline: InlineCode, state_dir: str) -> tuple[str, str]:
    """``(digest, artifact directory)`` for a function's ``InlineCode``: the artifact of a
    directory holding its one file (so the digest is that directory's)."""
    Path(state_dir).mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=state_dir, prefix=".inline-") as code:
        (Path(code) / inline.file).write_text(inline.text, encoding="utf-8")
        return build_artifact(code, state_dir)


def build_layer(
    layer: LayerSpec, state_dir: str, confine: Confine | None = None
) -> tuple[str, str]:
    """``(digest, directory)`` of a layer as Lambda extracts it into ``/opt``: its content
    as it is, or, built (``layer.build``), the content and its dependencies under
    ``python/`` or ``nodejs/``, as ``sam build`` lays them out; a public layer built from
    its packages (``layer.packages``) from a manifest canaria writes."""
    if layer.packages:
        layer = replace(layer, content_uri=_public_manifest(layer, state_dir))
        confine = None  # canaria's own file, under its state directory
    _check_code(layer.content_uri, confine, "ContentUri")
    digest = code_digest(layer.content_uri, state_dir, confine)
    digest = hashlib.sha256(f"layer\0{layer.build or ''}\0{digest}".encode()).hexdigest()
    place = layer.build or ""
    # BuildMethod python3.N: its dependencies installed by that Python, as sam build's image
    python = pythons.python_for(layer.build_method) if layer.build == "python" else None
    if python is not None and python.site is not None:
        digest = hashlib.sha256(f"{digest}\0python{python.line}".encode()).hexdigest()
    return digest, _materialise(
        layer.content_uri, state_dir, digest, place, bool(layer.build), None, confine, python
    )


def _public_manifest(layer: LayerSpec, state_dir: str) -> str:
    """The directory of the manifest of a public layer's packages: a ``requirements.txt``
    or a ``package.json`` under ``<state_dir>/public-layers``, written once."""
    key = hashlib.sha256("\0".join((layer.build or "", *layer.packages)).encode()).hexdigest()
    directory = Path(state_dir).resolve() / "public-layers" / f"{layer.name}-{key[:16]}"
    if layer.build == "python":
        name, text = "requirements.txt", "".join(f"{p}\n" for p in layer.packages)
    else:
        wanted = dict(p.rsplit("@", 1) for p in layer.packages)
        name = "package.json"
        text = json.dumps({"name": layer.name.lower(), "private": True, "dependencies": wanted})
    manifest = directory / name
    if not manifest.is_file() or manifest.read_text() != text:
        directory.mkdir(parents=True, exist_ok=True)
        partial = directory / f".{name}.tmp"
        partial.write_text(text)
        partial.replace(manifest)
    return str(directory)


def _check_code(code_uri: str, confine: Confine | None, what: str) -> None:
    code = Path(code_uri)
    if confine is not None and (refusal := confine(code.resolve())) is not None:
        raise BuildError(f"{what} {code_uri} {refusal}")
    if not code.is_dir() and not code.is_file():
        found = "is neither a directory nor a file" if code.exists() else "does not exist"
        raise BuildError(f"{what} {code_uri} {found}")


def _materialise(
    code_uri: str,
    state_dir: str,
    digest: str,
    place: str,
    install: bool,
    esbuild: EsbuildOptions | None,
    confine: Confine | None,
    python: PythonInstall | None = None,
    node: NodeInstall | None = None,
) -> str:
    """``<state_dir>/artifacts/<digest>``, made once: the code under ``place`` (a
    subdirectory, or "" for the top), with its dependencies linked in when ``install``."""
    code = Path(code_uri)
    zipped = is_zip(code_uri)
    artifacts = Path(state_dir).resolve() / "artifacts"
    final = artifacts / digest
    if final.is_dir():
        return str(final)
    artifacts.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".build-{digest[:12]}-", dir=artifacts))
    try:
        tmp.chmod(0o755)
        dest = tmp / place if place else tmp
        dest.mkdir(parents=True, exist_ok=True)
        if zipped:
            _extract(code, dest)
        else:
            _copy_code(code_uri, dest, state_dir, confine)
        if install:  # a zip's or a lone file's manifests are the copy's (a file has none)
            source = code if code.is_dir() else dest
            link_dependencies(source, dest, state_dir, python, node)
        if esbuild is not None:
            bundle(dest, esbuild, code_uri)
        try:
            tmp.rename(final)
        except OSError:
            if not final.is_dir():  # someone else built it meanwhile: theirs is as good
                raise
            shutil.rmtree(tmp, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return str(final)


def _copy_code(code_uri: str, dest: Path, state_dir: str, confine: Confine | None) -> None:
    root = _root(code_uri)
    for rel in code_files(code_uri, state_dir, confine):
        target = dest / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(root / rel, target)


def _extract(archive_path: Path, dest: Path) -> None:
    with zipfile.ZipFile(archive_path) as archive:
        for rel, info in _members(archive).items():
            target = dest / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(archive.read(info))
            mode = (info.external_attr >> 16) & 0o777
            target.chmod(mode | 0o444 if mode else 0o644)
