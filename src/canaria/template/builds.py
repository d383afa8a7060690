"""A function's ``Metadata: {BuildMethod: esbuild, BuildProperties: {...}}``: how
``sam build`` bundles a Node.js function (TypeScript among others) before it runs.

The properties become esbuild's command line as ``sam build`` writes it (after its own
``--bundle --platform=node``): ``Minify`` and ``Sourcemap`` flags, ``Target``, ``Format``,
``MainFields`` and ``SourcesContent`` values, ``External``, ``Loader``, ``OutExtension``
and ``Banner`` lists, and ``--target=es2020``, ``--format=cjs``, ``--minify`` unless they
say otherwise. ``EntryPoints`` are files in CodeUri (``app`` finds ``app.ts``, then
``app.js``, as ``sam build`` does). A template ``sam build`` wrote keeps the Metadata but
points CodeUri at the bundle: when no entry point is there and the handler's module is,
the code is taken as built. Another ``BuildMethod`` gets a warning: canaria runs CodeUri
as it is.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from canaria import runtimes
from canaria.models import EsbuildOptions
from canaria.template.context import Context
from canaria.template.index import Entry
from canaria.template.nodes import Where, as_bool, as_list, as_map, as_str

_BOOLEAN = {"Minify": "minify", "Sourcemap": "sourcemap"}
_SINGLE = {
    "Target": "target",
    "Format": "format",
    "MainFields": "main-fields",
    "SourcesContent": "sources-content",
}
_MULTI = {
    "External": "external",
    "Loader": "loader",
    "OutExtension": "out-extension",
    "Banner": "banner",
}
_DEFAULTS = (("Target", "--target=es2020"), ("Format", "--format=cjs"), ("Minify", "--minify"))
KEYS = ("EntryPoints", *_BOOLEAN, *_SINGLE, *_MULTI)


def esbuild_options(
    ctx: Context, entry: Entry, runtime: str, code_uri: str, handler: str
) -> EsbuildOptions | None:
    """The function's esbuild build, checked; None when it names none."""
    metadata = entry.node.get("Metadata")
    if not isinstance(metadata, Mapping) or "BuildMethod" not in metadata:
        return None
    mat = entry.where.key(entry.node, "Metadata")
    bat = mat.key(metadata, "BuildMethod")
    method = as_str(metadata["BuildMethod"], bat)
    if method != "esbuild":
        ctx.warn(
            entry,
            f"Metadata.BuildMethod {method}: canaria does not run this build; it runs CodeUri "
            "as it is (build first and run the built template, e.g. .aws-sam/build/template.yaml)",
        )
        return None
    if runtimes.family(runtime) is not runtimes.Family.NODEJS:
        raise bat.error(
            f"BuildMethod esbuild bundles Node.js functions, not {runtime}",
            allowed="a nodejs runtime with BuildMethod esbuild",
        )
    pat = mat.key(metadata, "BuildProperties")
    props = as_map(metadata.get("BuildProperties", {}), pat)
    for key in props:
        if key not in KEYS:
            ctx.warn(entry, f"Metadata.BuildProperties.{key}: canaria does not pass it to esbuild")
    if "EntryPoints" not in props:
        raise pat.error("EntryPoints is required with BuildMethod esbuild (e.g. [app.ts])")
    eat = pat.key(props, "EntryPoints")
    points = as_list(props["EntryPoints"], eat)
    if not points:
        raise eat.error("EntryPoints must name at least one file (e.g. [app.ts])")
    if _built(code_uri, handler) and not any(
        _find(str(p), code_uri) for p in points if isinstance(p, str)
    ):
        return None  # sam build's output: the bundle is the code
    entries = tuple(
        _entry_point(as_str(p, eat.index(points, i)), code_uri, eat.index(points, i))
        for i, p in enumerate(points)
    )
    flags = [default for key, default in _DEFAULTS if key not in props]
    for key, flag in _BOOLEAN.items():
        if key in props and as_bool(props[key], pat.key(props, key)):
            flags.append(f"--{flag}")
    for key, flag in _SINGLE.items():
        if key in props:
            flags.append(f"--{flag}={_scalar(props[key], pat.key(props, key))}")
    for key, flag in _MULTI.items():
        if key in props:
            kat = pat.key(props, key)
            values = as_list(props[key], kat)
            flags += [f"--{flag}:{_scalar(v, kat.index(values, i))}" for i, v in enumerate(values)]
    return EsbuildOptions(entries, tuple(flags))


def _find(name: str, code_uri: str) -> str | None:
    """The entry point's file in CodeUri (``app`` → ``app.ts``, then ``app.js``)."""
    candidates = [name] if Path(name).suffix else [name + ".ts", name + ".js"]
    for candidate in candidates:
        if code_uri and (Path(code_uri) / candidate).is_file():
            return candidate
    return None


def _built(code_uri: str, handler: str) -> bool:
    """Whether CodeUri has the handler's JavaScript module (a bundle ``sam build`` wrote)."""
    module = handler.rpartition(".")[0]
    return bool(code_uri and module) and any(
        (Path(code_uri) / f"{module}{ext}").is_file() for ext in (".js", ".mjs", ".cjs")
    )


def _entry_point(name: str, code_uri: str, where: Where) -> str:
    found = _find(name, code_uri)
    if found is not None:
        return found
    raise where.error(
        f"entry point {name!r} is not a file in CodeUri {code_uri}",
        allowed="a .ts or .js file in CodeUri",
    )


def _scalar(value: Any, where: Where) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    return as_str(value, where)
