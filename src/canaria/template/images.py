"""A container image function (``PackageType: Image``), read as ``sam build`` reads it:
``Metadata: {Dockerfile, DockerContext, DockerBuildArgs, DockerBuildTarget}`` and
``ImageConfig: {Command, WorkingDirectory}``.

The Dockerfile (``canaria.dockerfiles``) gives the function's runtime (its Lambda base
image), its handler (``CMD``, or ``ImageConfig.Command``) and the environment its ``ENV``
lines set, under the template's ``Environment``. An ``ImageUri`` without that
``Metadata`` names an image in a registry, which canaria cannot pull: refused, as is an
``ImageConfig.EntryPoint`` (the base image's runtime starts the function).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from canaria import dockerfiles, runtimes
from canaria.files import MAX_TEMPLATE_BYTES
from canaria.models import ImageBuild
from canaria.template.context import Context
from canaria.template.index import Entry
from canaria.template.intrinsics import NO_VALUE
from canaria.template.nodes import Where, as_list, as_map, as_str, check_keys

IMAGE_CONFIG_KEYS = ("Command", "EntryPoint", "WorkingDirectory")
ALLOWED = "Metadata: {Dockerfile: Dockerfile, DockerContext: ./src} on a PackageType Image function"
# what Lambda sets itself in a function's environment: an image's ENV does not reach it
RESERVED = frozenset(
    {
        "_HANDLER",
        "AWS_EXECUTION_ENV",
        "AWS_LAMBDA_RUNTIME_API",
        "LAMBDA_RUNTIME_DIR",
        "LAMBDA_TASK_ROOT",
        "LANG",
        "LD_LIBRARY_PATH",
        "PATH",
        "TZ",
    }
)


@dataclass(frozen=True)
class ImageFunction:
    build: ImageBuild
    runtime: str
    handler: str
    environment: Mapping[str, str]  # the image's ENV, for the template's to override


def is_image(ctx: Context, entry: Entry) -> bool:
    """Whether the function's code is a container image (``PackageType: Image``)."""
    return ctx.get(entry, "PackageType") == "Image" or "ImageUri" in entry.props


def image_function(ctx: Context, entry: Entry) -> ImageFunction | None:
    """The function's image build when it is a container image function, else None."""
    props = entry.props
    package = ctx.get(entry, "PackageType")
    if package is NO_VALUE and "ImageUri" not in props:
        return None
    at = ctx.at(entry, "PackageType" if "PackageType" in props else "ImageUri")
    if package is not NO_VALUE and as_str(package, at) == "Zip":
        return None
    if package is not NO_VALUE and as_str(package, at) != "Image":
        raise at.error(f"PackageType {package!r} is not Lambda's", allowed="Zip or Image")
    metadata = entry.node.get("Metadata")
    mat = entry.where.key(entry.node, "Metadata")
    if not isinstance(metadata, Mapping) or "DockerContext" not in metadata:
        uri = props.get("ImageUri")
        named = f" ImageUri {uri!r} names" if isinstance(uri, str) else " It names"
        raise at.error(
            "a container image function is built from its Dockerfile, as `sam build` builds "
            f"it.{named} an image in a registry, which canaria does not pull",
            allowed=ALLOWED,
        )
    cat = mat.key(metadata, "DockerContext")
    _, context = ctx.local_path(metadata["DockerContext"], cat, allowed=ALLOWED)
    if not context.is_dir():
        raise cat.error(f"DockerContext {context} is not a directory", allowed=ALLOWED)
    dat = mat.key(metadata, "Dockerfile")
    name = as_str(metadata.get("Dockerfile", "Dockerfile"), dat)
    path = (context / name).resolve()
    refusal = ctx.readable.refusal(path) if ctx.readable is not None else None
    if refusal is not None:
        raise dat.error(f"Dockerfile {name!r} ({path}) {refusal}")
    if not path.is_file():
        raise dat.error(f"Dockerfile {name!r} is not a file in DockerContext ({path})")
    if path.stat().st_size > MAX_TEMPLATE_BYTES:
        raise dat.error(f"Dockerfile {path} is over {MAX_TEMPLATE_BYTES} bytes")
    text = path.read_text(encoding="utf-8", errors="replace")
    build_args = _build_args(metadata, mat)
    target = None
    if "DockerBuildTarget" in metadata:
        target = as_str(metadata["DockerBuildTarget"], mat.key(metadata, "DockerBuildTarget"))
    try:
        image = dockerfiles.read(text, dict(build_args), target)
    except dockerfiles.DockerfileError as exc:
        where = f"{path}:{exc.line}" if exc.line else str(path)
        raise dat.error(f"{where}: {exc.message}") from None
    command, workdir = _image_config(ctx, entry)
    handler_words = command if command is not None else image.cmd
    if not handler_words:
        raise dat.error(
            f"{path}: no CMD names the handler, and no ImageConfig.Command does",
            allowed='CMD ["app.handler"] in the Dockerfile',
        )
    handler = handler_words[0]
    if runtimes.module_outside(handler):
        raise dat.error(f"the handler {handler!r} names a module outside the image's code")
    environment = {k: v for k, v in image.target.env.items() if k not in RESERVED}
    build = ImageBuild(
        context=str(context),
        dockerfile=str(path),
        text=text,
        build_args=build_args,
        target=target,
        workdir=workdir,
    )
    return ImageFunction(build, image.runtime, handler, environment)


def _build_args(metadata: Mapping[str, object], mat: Where) -> tuple[tuple[str, str], ...]:
    if "DockerBuildArgs" not in metadata:
        return ()
    bat = mat.key(metadata, "DockerBuildArgs")
    raw = as_map(metadata["DockerBuildArgs"], bat)
    return tuple(
        (str(k), v if isinstance(v, str) else as_str(str(v), bat.key(raw, k)))
        for k, v in raw.items()
    )


def _image_config(ctx: Context, entry: Entry) -> tuple[tuple[str, ...] | None, str | None]:
    """``ImageConfig``'s ``Command`` and ``WorkingDirectory``; its ``EntryPoint`` refused."""
    raw = ctx.get(entry, "ImageConfig")
    if raw is NO_VALUE:
        return None, None
    at = ctx.at(entry, "ImageConfig")
    config = as_map(raw, at)
    check_keys(config, at, IMAGE_CONFIG_KEYS)
    if "EntryPoint" in config:
        raise at.key(config, "EntryPoint").error(
            "ImageConfig.EntryPoint: canaria starts the base image's runtime itself",
            allowed="Command (the handler) and WorkingDirectory",
        )
    command = None
    if "Command" in config:
        cat = at.key(config, "Command")
        words = as_list(config["Command"], cat)
        command = tuple(as_str(w, cat.index(words, i)) for i, w in enumerate(words))
    workdir = None
    if "WorkingDirectory" in config:
        wat = at.key(config, "WorkingDirectory")
        workdir = as_str(config["WorkingDirectory"], wat)
        if not workdir.startswith("/"):
            raise wat.error(f"WorkingDirectory {workdir!r} is not an absolute path")
    return command, workdir


__all__ = ["ImageFunction", "image_function", "is_image"]
