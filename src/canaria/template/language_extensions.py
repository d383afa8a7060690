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
(``canaria.template.intrinsics``) when a template declares the transform; a ``Fn::Sub``
whose text names no variable (once the loops replaced their identifiers) is its text
at once, as the transform leaves it for the SAM transform.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

from canaria.template.intrinsics import Resolver, pseudo_parameters
from canaria.template.nodes import LineList, LineMap, Where, as_str, type_name
from canaria.template.parameters import Parameter

TRANSFORM = "AWS::LanguageExtensions"
FOR_EACH = "Fn::ForEach::"
SECTIONS = ("Conditions", "Resources", "Outputs")
MAX_DEPTH = 5  # loops in loops, as CloudFormation allows
_NOT_ALPHANUMERIC = re.compile(r"[^A-Za-z0-9]")

Resolve = Callable[[Any, Where], Any]  # a collection's intrinsic functions, resolved


def declared(doc: LineMap) -> bool:
    """Whether the template names the transform."""
    raw = doc.get("Transform")
    return raw == TRANSFORM or (isinstance(raw, list) and TRANSFORM in raw)


def collections(doc: LineMap, top: Where, params: Mapping[str, Parameter], stack: str) -> Resolve:
    """What resolves a loop's collection: parameters, pseudo parameters, mappings and the
    functions over them (no resource exists yet)."""

    def resolve(value: Any, where: Where) -> Any:
        mappings = doc.get("Mappings")
        resolver = Resolver(
            params,
            pseudo_parameters(stack),
            mappings if isinstance(mappings, LineMap) else LineMap(),
            LineMap(),
            top.key(doc, "Conditions"),
        )
        resolver.extensions = True
        return resolver.resolve(value, where)

    return resolve


def expand(doc: LineMap, top: Where, resolve: Resolve) -> None:
    """Expand every ``Fn::ForEach`` of ``doc`` in place (``resolve`` gives a collection's
    value). A loop elsewhere, or in a template without the transform, is refused, and so
    are the loops the transform refuses (a loop name used twice or also naming an
    identifier, a parameter or a resource; an identifier naming a parameter or an outer
    loop's identifier; keys that are not logical ids; a key made twice)."""
    if not declared(doc):
        _refuse_loops(doc, top)
        return
    for section, node in doc.items():
        if section not in SECTIONS:
            _refuse_loops(node, top.key(doc, section), within=section)
    params = doc.get("Parameters")
    expansion = _Expansion(resolve, set(params) if isinstance(params, LineMap) else set())
    for section in SECTIONS:
        node = doc.get(section)
        if isinstance(node, LineMap):
            expansion.names(node, top.key(doc, section), set(node))
    expansion.check_names()
    for section in SECTIONS:
        node = doc.get(section)
        if isinstance(node, LineMap):
            expanded = expansion.map(node, top.key(doc, section), (), logical=True)
            doc[section] = _literal_subs(expanded)


def _literal_subs(value: Any) -> Any:
    """``value`` with each ``Fn::Sub`` whose text names no variable read as that text, as
    the transform resolves it (``Path: !Sub /${Name}`` in a loop is ``Path: /users``, which
    SAM requires to be a string)."""
    if isinstance(value, LineMap):
        text = value.get("Fn::Sub") if len(value) == 1 else None
        if isinstance(text, str) and "${" not in text.replace("${!", ""):
            return text.replace("${!", "${")
        for key, inner in value.items():
            value[key] = _literal_subs(inner)
    elif isinstance(value, list):
        for i, inner in enumerate(value):
            value[i] = _literal_subs(inner)
    return value


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


class _Expansion:
    """One template's loops: their names and identifiers, checked once, then expanded."""

    def __init__(self, resolve: Resolve, parameters: set[str]) -> None:
        self.resolve = resolve
        self.parameters = parameters
        self.loops: dict[str, Where] = {}
        self.identifiers: set[str] = set()

    def names(self, node: Any, at: Where, keys: set[str]) -> None:
        """Check every loop's name and identifier under ``node`` (``keys``: the logical ids
        of its section, which a loop may not be named)."""
        if isinstance(node, LineMap):
            for key, value in node.items():
                kat = at.key(node, key)
                if isinstance(key, str) and key.startswith(FOR_EACH):
                    name = key[len(FOR_EACH) :]
                    if not name.isalnum():
                        raise kat.error(
                            f"{key!r}: a loop's name is letters and digits",
                            allowed="Fn::ForEach::Name",
                        )
                    clash = (
                        "another loop's"
                        if name in self.loops
                        else "a parameter's"
                        if name in self.parameters
                        else "a logical id's"
                        if name in keys
                        else None
                    )
                    if clash is not None:
                        raise kat.error(f"the loop name {name!r} is {clash}: loop names are unique")
                    self.loops[name] = kat
                    if isinstance(value, list) and value and isinstance(value[0], str):
                        self.identifiers.add(value[0])
                self.names(value, kat, keys)
        elif isinstance(node, list):
            for i, value in enumerate(node):
                self.names(value, at.index(node, i), keys)

    def check_names(self) -> None:
        """Once every loop is known: no loop name is also a loop's identifier."""
        clashes = sorted(set(self.loops) & self.identifiers)
        if clashes:
            where = self.loops[clashes[0]]
            raise where.error(f"the loop name {clashes[0]!r} is also a loop's identifier")

    def map(self, node: LineMap, at: Where, outer: tuple[str, ...], *, logical: bool) -> LineMap:
        """``node`` with its loops expanded (``outer``: the identifiers of the loops it is in;
        ``logical``: its keys are logical ids, letters and digits only)."""
        out = LineMap(line=node.line)
        for key, value in node.items():
            kat = at.key(node, key)
            if isinstance(key, str) and key.startswith(FOR_EACH):
                for new_key, (new_value, line) in self.loop(key, value, kat, outer).items():
                    if logical and not new_key.isalnum():
                        raise kat.error(
                            f"the loop makes the key {new_key!r}, which is not a logical id",
                            allowed="letters and digits (&{Identifier} drops the others)",
                        )
                    if new_key in out or new_key in node:
                        raise kat.error(f"the loop makes {new_key!r}, which is already there")
                    if logical and not isinstance(new_value, LineMap):
                        raise kat.error(
                            f"the loop makes {new_key!r} a {type_name(new_value)[2:]}: a "
                            "loop's fragment here maps each key to a mapping (a resource, "
                            "a condition or an output)"
                        )
                    out[new_key] = new_value
                    if line is not None:
                        out.lines[new_key] = line
                continue
            out[key] = self.value(value, kat, outer)
            if key in node.lines:
                out.lines[key] = node.lines[key]
            if key in node.paths:
                out.paths[key] = node.paths[key]
        return out

    def value(self, value: Any, at: Where, outer: tuple[str, ...]) -> Any:
        if isinstance(value, LineMap):
            return self.map(value, at, outer, logical=False)
        if isinstance(value, list):
            out = LineList(line=getattr(value, "line", at.line))
            for i, item in enumerate(value):
                out.append(self.value(item, at.index(value, i), outer))
                out.lines.append(at.index(value, i).line)
            return out
        return value

    def loop(
        self, key: str, value: Any, at: Where, outer: tuple[str, ...]
    ) -> dict[str, tuple[Any, int | None]]:
        """What one loop expands to: each output key with its value and its line."""
        if not isinstance(value, list) or len(value) != 3:
            raise at.error(
                f"{key} takes [Identifier, Collection, {{OutputKey: OutputValue}}], got "
                + type_name(value)
                + (f" of {len(value)}" if isinstance(value, list) else "")
            )
        if len(outer) >= MAX_DEPTH:
            raise at.error(f"Fn::ForEach nests at most {MAX_DEPTH} loops deep")
        identifier_at, collection_at, fragment_at = (at.index(value, i) for i in range(3))
        identifier = value[0]
        if not isinstance(identifier, str) or not identifier.isalnum():
            raise identifier_at.error(
                f"a loop's identifier is a name of letters and digits, got {identifier!r}"
            )
        if identifier in self.parameters or identifier in outer:
            what = "a parameter" if identifier in self.parameters else "an outer loop's identifier"
            raise identifier_at.error(f"the identifier {identifier!r} is {what}")
        collection = self.resolve(value[1], collection_at)
        if not isinstance(collection, list):
            raise collection_at.error(
                f"a loop's collection is a list, got {type_name(collection)}",
                allowed="a list, or !Ref of a CommaDelimitedList parameter",
            )
        items = []
        for i, item in enumerate(collection):
            if not isinstance(item, str | int | float | bool):
                raise collection_at.index(collection, i).error(
                    f"a collection's items are strings, numbers or booleans, got {type_name(item)}"
                )
            items.append(as_str(item, collection_at))
        fragment = value[2]
        if not isinstance(fragment, LineMap) or not fragment:
            raise fragment_at.error(f"a loop's fragment is a mapping, got {type_name(fragment)}")
        markers = ("${" + identifier + "}", "&{" + identifier + "}")
        for output_key in fragment:
            single = len(set(items)) <= 1 or output_key.startswith(FOR_EACH)
            if not single and not any(m in output_key for m in markers):
                raise fragment_at.key(fragment, output_key).error(
                    f"the output key {output_key!r} holds neither {markers[0]} nor "
                    f"{markers[1]}: every item of the collection would make the same key"
                )
        out: dict[str, tuple[Any, int | None]] = {}
        scope = (*outer, identifier)
        for item in items:
            substituted = _substitute(fragment, identifier, item)
            expanded = self.map(substituted, fragment_at, scope, logical=False)
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
