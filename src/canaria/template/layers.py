"""``AWS::Serverless::LayerVersion`` resources and the functions' ``Layers``.

A layer of the template is its ``ContentUri`` (a directory or a .zip file), built when it
has ``Metadata: {BuildMethod: python3.x | nodejsN.x}`` as ``sam build`` builds it (the
content and its dependencies under ``python/`` or ``nodejs/``), else taken as it is. A
function's ``Layers`` name them with ``!Ref`` (Lambda's layer version ARN) in the order
Lambda extracts them into ``/opt``. A layer ARN from outside the template is code canaria
cannot fetch: a warning, and the function runs without it, except AWS's public Powertools
layers, which canaria builds from their packages (``public_layers``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from canaria.models import LayerSpec
from canaria.template.context import Context
from canaria.template.index import Entry
from canaria.template.intrinsics import NO_VALUE
from canaria.template.nodes import as_list, as_str
from canaria.template.public_layers import described, public_layer

LAYER = "AWS::Serverless::LayerVersion"
ALLOWED_CONTENT = "a directory relative to the template, or a .zip file of the layer"


def build_layer(ctx: Context, entry: Entry) -> LayerSpec | None:
    """The layer, or None when its content is in S3 (a warning: the functions that use
    it run without it, as with a layer from an account)."""
    at = ctx.at(entry, "ContentUri")
    value = ctx.get(entry, "ContentUri")
    if value is NO_VALUE:
        raise at.error("a layer needs ContentUri", allowed=ALLOWED_CONTENT)
    if isinstance(value, Mapping) or (isinstance(value, str) and value.startswith("s3://")):
        ctx.warn(
            entry,
            "ContentUri is in S3: canaria reads local files, so the functions that use this "
            "layer run without it (give it a local ContentUri)",
        )
        return None
    text, path = ctx.local_path(value, at, allowed=ALLOWED_CONTENT)
    if not path.exists():
        raise at.error(f"ContentUri {text!r} does not exist ({path})", allowed=ALLOWED_CONTENT)
    family, method = _build_method(ctx, entry)
    return LayerSpec(entry.logical_id, str(path), family, method if family else "")


def _build_method(ctx: Context, entry: Entry) -> tuple[Any, str]:
    """(the family canaria builds it as, or None; the BuildMethod as written)."""
    metadata = entry.node.get("Metadata")
    if not isinstance(metadata, Mapping) or "BuildMethod" not in metadata:
        return None, ""
    bat = entry.where.key(entry.node, "Metadata").key(metadata, "BuildMethod")
    method = as_str(metadata["BuildMethod"], bat)
    for family in ("python", "nodejs"):
        if method.startswith(family):
            return family, method
    ctx.warn(
        entry,
        f"Metadata.BuildMethod {method}: canaria builds python3.x and nodejsN.x layers; this "
        "one is taken as it is (build it first and run the built template)",
    )
    return None, method


def function_layers(
    ctx: Context, entry: Entry, layers: Mapping[str, LayerSpec | None]
) -> tuple[LayerSpec, ...]:
    """The function's ``Layers`` that are layers of the template (``layers``: by ARN;
    None for a layer of the template canaria cannot read, already warned about)."""
    raw = ctx.get(entry, "Layers")
    if raw is NO_VALUE:
        return ()
    at = ctx.at(entry, "Layers")
    found: list[LayerSpec] = []
    for i, item in enumerate(as_list(raw, at)):
        arn = as_str(item, at.index(raw, i))
        if arn in layers and layers[arn] is None:
            continue
        layer = layers.get(arn)
        if layer is None:
            runtime = ctx.get(entry, "Runtime")
            layer = public_layer(arn, runtime if isinstance(runtime, str) else "")
            if layer is not None:
                ctx.warn(
                    entry,
                    f"layer {arn} is AWS's public Powertools layer: canaria builds it from "
                    f"{described(layer)} (the newest of its major version, which may not be "
                    "the one this layer version holds)",
                )
        if layer is None:
            ctx.warn(
                entry,
                f"layer {arn} is not a layer of this template: canaria cannot fetch its "
                "code, so the function runs without it (vendor what it needs, or declare "
                "the layer as an AWS::Serverless::LayerVersion with a local ContentUri)",
            )
        elif layer not in found:
            found.append(layer)
    if len(found) > 5:
        raise at.error(f"{len(found)} layers: Lambda takes at most 5 per function")
    return tuple(found)
