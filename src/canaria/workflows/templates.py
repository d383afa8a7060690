"""Payload templates: ``Parameters``, ``ResultSelector``, ``ItemSelector``.

Fields whose name ends in ``.$`` take a path (``$.a``, ``$$.Map.Item.Value``) or an
intrinsic function call; the suffix is dropped from the output name. Objects nested in
objects and arrays are templates too. Parsed at load, rendered per state entry.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from typing import Any

from canaria.workflows.errors import RUNTIME, DefinitionError, StatesError
from canaria.workflows.intrinsics import (
    Call,
    IntrinsicSyntaxError,
    evaluate_intrinsic,
    is_intrinsic,
    parse_intrinsic,
)
from canaria.workflows.paths import Path, PathNotFound, PathSyntaxError, parse_path, resolve


@dataclass(frozen=True)
class Static:
    value: Any


@dataclass(frozen=True)
class FromPath:
    field: str
    path: Path


@dataclass(frozen=True)
class FromIntrinsic:
    field: str
    call: Call


@dataclass(frozen=True)
class ObjectTemplate:
    fields: tuple[tuple[str, Template], ...]


@dataclass(frozen=True)
class ArrayTemplate:
    items: tuple[Template, ...]


Template = Static | FromPath | FromIntrinsic | ObjectTemplate | ArrayTemplate


def parse_template(value: Any, *, state: str, field: str) -> Template:
    """Parse the payload template in ``field`` (e.g. ``Parameters``) of ``state``."""
    if isinstance(value, dict):
        fields: list[tuple[str, Template]] = []
        for key, item in value.items():
            if key.endswith(".$"):
                name = key[:-2]
                fields.append((name, _dynamic(key, item, state=state, field=field)))
            else:
                fields.append((key, parse_template(item, state=state, field=field)))
        names = [name for name, _ in fields]
        if len(set(names)) != len(names):
            raise DefinitionError(f"{field} names a field twice (with and without .$)", state=state)
        return ObjectTemplate(tuple(fields))
    if isinstance(value, list):
        items = tuple(parse_template(item, state=state, field=field) for item in value)
        if all(isinstance(item, Static) for item in items):
            return Static(value)
        return ArrayTemplate(items)
    return Static(value)


def _dynamic(key: str, value: Any, *, state: str, field: str) -> Template:
    where = f"{field}.{key}"
    if not isinstance(value, str):
        raise DefinitionError(f"{where} must be a path or an intrinsic function", state=state)
    try:
        if is_intrinsic(value):
            return FromIntrinsic(key, parse_intrinsic(value))
        path = parse_path(value)
    except IntrinsicSyntaxError as exc:
        raise DefinitionError(f"{where}: {exc}", state=state) from None
    except PathSyntaxError as exc:
        raise DefinitionError(f"{where}: {exc}", state=state) from None
    return FromPath(key, path)


def render(template: Template, data: Any, context: Any, rng: random.Random) -> Any:
    """The payload ``template`` produces from the effective input ``data``."""
    match template:
        case Static(value):
            return value
        case FromPath(field, path):
            try:
                return resolve(path, data, context)
            except PathNotFound:
                where = "the context object" if path.context else f"the input {_dumps(data)}"
                raise StatesError(
                    RUNTIME,
                    f"The JSONPath {path.text!r} specified for the field {field!r} "
                    f"could not be found in {where}",
                ) from None
        case FromIntrinsic(_, call):
            return evaluate_intrinsic(call, data, context, rng)
        case ObjectTemplate(fields):
            return {name: render(item, data, context, rng) for name, item in fields}
        case ArrayTemplate(items):
            return [render(item, data, context, rng) for item in items]


def _dumps(value: Any) -> str:
    text = json.dumps(value, separators=(",", ":"), ensure_ascii=False)
    return text if len(text) <= 500 else text[:500] + "..."


__all__ = [
    "ArrayTemplate",
    "FromIntrinsic",
    "FromPath",
    "ObjectTemplate",
    "Static",
    "Template",
    "parse_template",
    "render",
]
