"""CloudFormation's ``AWS::LanguageExtensions`` transform: ``Fn::ForEach`` loops expanded
before anything else reads the template, as CloudFormation (and ``sam build``) expand them
before the SAM transform runs.

``Fn::ForEach::<Loop>: [Identifier, Collection, {OutputKey: OutputValue}]`` in
``Conditions``, ``Resources`` (resource properties included) and ``Outputs`` becomes one
``OutputKey: OutputValue`` per item of the collection (a list, or what a ``Ref`` to a
``CommaDelimitedList`` parameter, ``Fn::Split``, ``Fn::FindInMap`` ... give), with
``${Identifier}`` replaced by the item, ``&{Identifier}`` by the item without its
non-alphanumeric characters, and ``Ref: Identifier`` by the item, in keys and values.
Loops nest. The expanded keys keep the lines of what they were copied from, so an error
in a generated resource names the line of the loop's fragment.

The transform's functions that are values, ``Fn::Length``, ``Fn::ToJsonString`` and
``Fn::FindInMap``'s ``DefaultValue``, are resolved with the others
(``canaria.template.intrinsics``) when a template declares the transform.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from canaria.template.nodes import LineList, LineMap, Where, as_str, type_name

TRANSFORM = "AWS::LanguageExtensions"
FOR_EACH = "Fn::ForEach::"
SECTIONS = ("Conditions", "Resources", "Outputs")
_NOT_ALPHANUMERIC = re.compile(r"[^A-Za-z0-9]")

Resolve = Callable[[Any, Where], Any]  # a collection's intrinsic functions, resolved


def declared(doc: LineMap) -> bool:
    """Whether the template names the transform."""
    raw = doc.get("Transform")
    return raw == TRANSFORM or (isinstance(raw, list) and TRANSFORM in raw)


def expand(doc: LineMap, top: Where, resolve: Resolve) -> None:
    """Expand every ``Fn::ForEach`` of ``doc`` in place (``resolve`` gives a collection's
    value). A loop elsewhere, or in a template without the transform, is refused."""
    if not declared(doc):
        _refuse_loops(doc, top)
        return
    for section in SECTIONS:
        node = doc.get(section)
        if isinstance(node, LineMap):
            doc[section] = _expand_map(node, top.key(doc, section), resolve)
    for section, node in doc.items():
        if section not in SECTIONS:
            _refuse_loops(node, top.key(doc, section), within=section)


def _refuse_loops(node: Any, at: Where, within: str | None = None) -> None:
    """A loop where CloudFormation does not expand one is an error, at its line."""
    if isinstance(node, LineMap):
        for key, value in node.items():
            if isinstance(key, str) and key.startswith(FOR_EACH):
                where = at.key(node, key)
                if within is None:
                    raise where.error(
                        "Fn::ForEach needs the AWS::LanguageExtensions transform",
                        allowed=f"Transform: [{TRANSFORM}, AWS::Serverless-2016-10-31]",
                    )
                raise where.error(
                    f"Fn::ForEach is not expanded in {within}", allowed=", ".join(SECTIONS)
                )
            _refuse_loops(value, at.key(node, key), within)
    elif isinstance(node, list):
        for i, value in enumerate(node):
            _refuse_loops(value, at.index(node, i), within)


def _expand_map(node: LineMap, at: Where, resolve: Resolve) -> LineMap:
    out = LineMap(line=node.line)
    for key, value in node.items():
        kat = at.key(node, key)
        if isinstance(key, str) and key.startswith(FOR_EACH):
            for new_key, (new_value, line) in _loop(key, value, kat, resolve).items():
                if new_key in out or new_key in node:
                    raise kat.error(f"the loop makes {new_key!r}, which is already there")
                out[new_key] = new_value
                if line is not None:
                    out.lines[new_key] = line
            continue
        out[key] = _expand_value(value, kat, resolve)
        if key in node.lines:
            out.lines[key] = node.lines[key]
        if key in node.paths:
            out.paths[key] = node.paths[key]
    return out


def _expand_value(value: Any, at: Where, resolve: Resolve) -> Any:
    if isinstance(value, LineMap):
        return _expand_map(value, at, resolve)
    if isinstance(value, list):
        out = LineList(line=getattr(value, "line", at.line))
        for i, item in enumerate(value):
            out.append(_expand_value(item, at.index(value, i), resolve))
            out.lines.append(at.index(value, i).line)
        return out
    return value


def _loop(key: str, value: Any, at: Where, resolve: Resolve) -> dict[str, tuple[Any, int | None]]:
    """What one loop expands to: each output key with its value and its line."""
    name = key[len(FOR_EACH) :]
    if not name or not name.isalnum():
        raise at.error(f"{key!r}: a loop's name is letters and digits", allowed="Fn::ForEach::Name")
    if not isinstance(value, list) or len(value) != 3:
        raise at.error(
            f"{key} takes [Identifier, Collection, {{OutputKey: OutputValue}}], "
            f"got {type_name(value)}" + (f" of {len(value)}" if isinstance(value, list) else "")
        )
    identifier_at, collection_at, fragment_at = (at.index(value, i) for i in range(3))
    identifier = as_str(value[0], identifier_at)
    if not identifier.isalnum():
        raise identifier_at.error(f"identifier {identifier!r} is not letters and digits")
    collection = resolve(value[1], collection_at)
    if not isinstance(collection, list):
        raise collection_at.error(
            f"a loop's collection is a list, got {type_name(collection)}",
            allowed="a list, or !Ref of a CommaDelimitedList parameter",
        )
    items = [as_str(item, collection_at.index(collection, i)) for i, item in enumerate(collection)]
    fragment = value[2]
    if not isinstance(fragment, LineMap) or not fragment:
        raise fragment_at.error(f"a loop's fragment is a mapping, got {type_name(fragment)}")
    markers = ("${" + identifier + "}", "&{" + identifier + "}")
    for output_key in fragment:
        if not output_key.startswith(FOR_EACH) and not any(m in output_key for m in markers):
            raise fragment_at.key(fragment, output_key).error(
                f"the output key {output_key!r} holds neither {markers[0]} nor {markers[1]}: "
                "every item of the collection would make the same key"
            )
    out: dict[str, tuple[Any, int | None]] = {}
    for item in items:
        expanded = _expand_map(_substitute(fragment, identifier, item), fragment_at, resolve)
        for output_key, output_value in expanded.items():
            if output_key in out:
                raise fragment_at.error(f"the loop makes {output_key!r} twice")
            out[output_key] = (output_value, expanded.lines.get(output_key))
    return out


def _substitute(value: Any, identifier: str, item: str) -> Any:
    """``value`` with the loop's identifier replaced by ``item``: in strings (``${...}``,
    ``&{...}``), keys, and ``Ref: Identifier``."""
    if isinstance(value, str):
        bare = _NOT_ALPHANUMERIC.sub("", item)
        return value.replace("${" + identifier + "}", item).replace("&{" + identifier + "}", bare)
    if isinstance(value, LineMap):
        if len(value) == 1 and value.get("Ref") == identifier:
            return item
        out = LineMap(line=value.line)
        for key, inner in value.items():
            new_key = _substitute(key, identifier, item) if isinstance(key, str) else key
            out[new_key] = _substitute(inner, identifier, item)
            if key in value.lines:
                out.lines[new_key] = value.lines[key]
        return out
    if isinstance(value, list):
        out_list = LineList(
            (_substitute(v, identifier, item) for v in value), line=getattr(value, "line", None)
        )
        out_list.lines = list(getattr(value, "lines", []))
        return out_list
    return value
