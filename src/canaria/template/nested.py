"""Nested applications: a child template's resources loaded into its parent's.

An ``AWS::Serverless::Application`` whose ``Location`` is a local file, or an
``AWS::CloudFormation::Stack`` whose ``TemplateURL`` is one, is a child stack the SAM CLI
builds and runs locally (``sam build`` and ``sam local`` run a nested application's
functions). canaria reads it into one application with its parent, as one stack would be:

- each of the child's resources is named ``<Application><LogicalId>`` (``AuthApp`` holding
  ``Authorizer`` serves a function ``AuthAppAuthorizer``), as are the names SAM generates
  for them (``AuthAppAuthorizerRole``) and its conditions and mappings;
- the child's ``Ref`` of a parameter is the value the parent gives in ``Parameters``,
  written as the parent writes it (``!GetAtt Table.Arn`` names the parent's table), else the
  parameter's ``Default``; a list parameter given a string is split at commas, as
  CloudFormation passes it;
- the parent's ``!GetAtt App.Outputs.Name`` is the child's output value; ``!Ref App`` is
  the nested stack's id;
- the child's ``Globals`` apply to its own resources only, its implicit APIs are its own
  (``AuthAppServerlessRestApi``), ``AWS::StackName`` in it names the nested stack
  (``<stack>-<Application>``), and its local paths are relative to its own file;
- an ``Application`` with a ``Condition`` puts its resources under that condition.

A child loaded by reference (an ``ApplicationId`` in the Serverless Application Repository,
an ``https://`` or ``s3://`` URL) is not fetched: such resources stay skipped, as before.
Errors in a child name the child's file, its line and the property as the child writes it.
"""

from __future__ import annotations

import copy
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from canaria.errors import TemplateError
from canaria.models.arns import stack_arn
from canaria.template import language_extensions, sam_globals
from canaria.template.nodes import (
    LineList,
    LineMap,
    Where,
    as_map,
    as_str,
    check_keys,
    depends_without,
    get_att_parts,
)
from canaria.template.parameters import Parameter, check_parameter
from canaria.template.yamlload import Repeated, load_document

APPLICATION = "AWS::Serverless::Application"
STACK = "AWS::CloudFormation::Stack"
SERVERLESS_TRANSFORM = "AWS::Serverless-2016-10-31"
LOCATION = {APPLICATION: "Location", STACK: "TemplateURL"}
PROPERTIES = {
    APPLICATION: ("Location", "Parameters", "NotificationARNs", "Tags", "TimeoutInMinutes"),
    STACK: ("TemplateURL", "Parameters", "NotificationARNs", "Tags", "TimeoutInMinutes"),
}
# an implicit API a child's events make: the explicit API it stands for in the child
_IMPLICIT_APIS = {
    "Api": ("RestApiId", "ServerlessRestApi", "AWS::Serverless::Api", {"StageName": "Prod"}),
    "HttpApi": ("ApiId", "ServerlessHttpApi", "AWS::Serverless::HttpApi", {}),
}
_SUB = re.compile(r"\$\{([^}]*)\}")
_LIST_TYPE = re.compile(r"^(CommaDelimitedList|List<.+>)$")
_REMOTE = ("https://", "http://", "s3://")


def is_local(node: Any) -> bool:
    """Whether ``node`` (a resource) is a nested stack canaria reads: a local template."""
    type_ = node.get("Type") if isinstance(node, Mapping) else None
    if not isinstance(type_, str) or type_ not in LOCATION:
        return False
    props = node.get("Properties")
    location = props.get(LOCATION[node["Type"]]) if isinstance(props, Mapping) else None
    return isinstance(location, str) and not location.startswith(_REMOTE)


@dataclass
class Nesting:
    """What flattening found: each child file's directory, for its relative paths."""

    directories: dict[str, Path] = field(default_factory=dict)


def flatten(
    doc: LineMap,
    top: Where,
    directory: Path,
    *,
    stack: str,
    refusal: Callable[[Path], str | None] | None = None,
    warnings: list[str] | None = None,
    nesting: Nesting | None = None,
    within: tuple[Path, ...] = (),
) -> Nesting:
    """Read every local nested stack of ``doc`` into it, in place (see the module's text).

    ``refusal`` says why a path may not be read (the server's ``FileAccess``); ``stack``
    is the stack name ``AWS::StackName`` gives; ``warnings`` gets the nested templates'
    keys written twice; ``within`` holds this template's file and those it is nested in
    (a template nested in itself is refused)."""
    nesting = nesting or Nesting()
    warnings = warnings if warnings is not None else []
    resources = doc.get("Resources")
    if not isinstance(resources, LineMap):
        return nesting
    rat = top.key(doc, "Resources")
    children: dict[str, _Child] = {}
    for name in [n for n, node in resources.items() if is_local(node)]:
        at = rat.key(resources, name)
        children[name] = _read_child(
            name, resources[name], at, directory, stack, refusal, warnings, nesting, within
        )
    if not children:
        return nesting
    for name, child in children.items():
        _merge(doc, top, name, child)
    _rewrite_parent(doc, top, children, stack)
    return nesting


@dataclass
class _Child:
    doc: LineMap  # the child, renamed, its parameters bound
    top: Where
    node: LineMap  # the Application resource in the parent
    outputs: dict[str, Any]


def _expand_loops(child: LineMap, top: Where, props: Mapping[str, Any], stack: str) -> None:
    """The nested template's ``Fn::ForEach`` loops, expanded before it is renamed: over
    literal collections, and parameters the parent passes as text or that have a
    ``Default`` (a parameter bound to an expression of the parent is not known yet)."""
    given = props.get("Parameters")
    given = given if isinstance(given, Mapping) else {}
    declared = child.get("Parameters")
    values: dict[str, Parameter] = {}
    for name, spec in declared.items() if isinstance(declared, Mapping) else ():
        if not isinstance(spec, Mapping):
            continue
        value = given.get(name, spec.get("Default"))
        if isinstance(value, list) and all(isinstance(v, str) for v in value):
            value = ",".join(value)
        if isinstance(value, str | int | float) and not isinstance(value, bool):
            values[name] = Parameter(name, str(spec.get("Type", "String")), str(value))
    language_extensions.expand(
        child, top, language_extensions.collections(child, top, values, stack)
    )


def _read_child(
    name: str,
    node: LineMap,
    at: Where,
    directory: Path,
    stack: str,
    refusal: Callable[[Path], str | None] | None,
    warnings: list[str],
    nesting: Nesting,
    within: tuple[Path, ...],
) -> _Child:
    type_ = node["Type"]
    pat = at.key(node, "Properties")
    props = as_map(node["Properties"], pat)
    check_keys(props, pat, PROPERTIES[type_], required=(LOCATION[type_],))
    key = LOCATION[type_]
    lat = pat.key(props, key)
    location = as_str(props[key], lat)
    if "\0" in location:
        raise lat.error(f"{key} contains a NUL character")
    path = (directory / location).resolve()
    why = refusal(path) if refusal is not None else None
    if why is not None:
        raise lat.error(f"{key} {location!r} ({path}) {why}")
    if path in within:
        raise lat.error(
            f"{key} {location!r} is a template this one is nested in: it would nest itself "
            "without end",
            allowed="a template that does not include its parent",
        )
    if not path.is_file():
        raise lat.error(
            f"{key} {location!r} is not a file ({path})",
            allowed="a template file relative to this template, or an https:// or s3:// URL "
            "(not fetched by canaria)",
        )
    display = os.path.normpath(os.path.join(os.path.dirname(at.file), location))
    repeated: Repeated = []
    try:
        child = load_document(path, display, repeated)
    except TemplateError as exc:
        raise lat.error(f"the nested template cannot be read: {exc}") from None
    warnings.extend(
        f"{display}:{line}: key {key!r} is written again (first on line {first}): the "
        "later value is used, as CloudFormation and SAM use it"
        for key, first, line in repeated
    )
    child_top = Where(display, "", child.line)
    nesting.directories[display] = path.parent
    child_stack = f"{stack}-{name}"[:128]
    _expand_loops(child, child_top, props, child_stack)
    flatten(
        child,
        child_top,
        path.parent,
        stack=child_stack,
        refusal=refusal,
        warnings=warnings,
        nesting=nesting,
        within=(*within, path),
    )
    bindings = _bindings(name, child, child_top, props, pat)
    _materialize_implicit_apis(child)
    _apply_globals(child, child_top)
    renamer = _Renamer(name, bindings, child_stack)
    renamed = renamer.document(child)
    outputs: dict[str, Any] = {}
    raw_outputs = child.get("Outputs")
    if isinstance(raw_outputs, Mapping):
        for key_, output in raw_outputs.items():
            if isinstance(output, Mapping) and "Value" in output:
                outputs[key_] = renamer.value(output["Value"])
    return _Child(renamed, child_top, node, outputs)


# ---- the child's parameters --------------------------------------------------------------


def _bindings(name: str, child: LineMap, top: Where, props: LineMap, pat: Where) -> dict[str, Any]:
    """What each of the child's parameters is: the parent's value, else its Default."""
    declared = child.get("Parameters")
    dat = top.key(child, "Parameters")
    declared = as_map(declared, dat) if declared is not None else LineMap()
    given = props.get("Parameters")
    gat = pat.key(props, "Parameters")
    given = as_map(given, gat) if given is not None else LineMap()
    for key in given:
        if key not in declared:
            raise gat.key(given, key).error(
                f"{name} gives parameter {key!r}, which its template does not declare "
                "(CloudFormation refuses it)",
                allowed=", ".join(sorted(declared)) or "no parameters: the template declares none",
            )
    out: dict[str, Any] = {}
    for key, spec in declared.items():
        kat = dat.key(declared, key)
        spec = as_map(spec, kat)
        type_ = as_str(spec.get("Type", "String"), kat.key(spec, "Type"))
        if key in given:
            value, vat = given[key], gat.key(given, key)
            source = f"{name}.Properties.Parameters"
        elif "Default" in spec:
            value, vat, source = spec["Default"], kat.key(spec, "Default"), "Default"
        else:
            raise gat.error(
                f"nested application {name} needs a value for parameter {key}, which its "
                f"template ({top.file}) declares without a Default",
                allowed=f"Parameters: {{{key}: <value>}} on {name}",
            )
        listed = bool(_LIST_TYPE.match(type_))
        if isinstance(value, bool | int | float):
            value = str(value).lower() if isinstance(value, bool) else str(value)
        if isinstance(value, str) or (listed and isinstance(value, list)):
            text = value if isinstance(value, str) else ",".join(str(v) for v in value)
            check_parameter(Parameter(key, type_, text, source), spec, kat, vat)
            if listed:
                items = [] if text == "" else [part.strip() for part in text.split(",")]
                out[key] = LineList(items, line=vat.line)
            else:
                out[key] = text
        elif listed and _is_string_valued(value):
            out[key] = LineMap({"Fn::Split": [",", value]}, line=vat.line)
        else:
            out[key] = value
    return out


def _is_string_valued(value: Any) -> bool:
    """Whether an intrinsic gives a string (a list parameter given one is split)."""
    if not isinstance(value, Mapping) or len(value) != 1:
        return False
    key = next(iter(value))
    return key in ("Fn::Join", "Fn::Sub", "Fn::Select", "Fn::ImportValue") or (
        key == "Ref" and isinstance(value[key], str)
    )


# ---- what the child's SAM resources take from it -----------------------------------------


def _materialize_implicit_apis(child: LineMap) -> None:
    """The child's events without an API name the child's own implicit API, made explicit
    (merged into the parent, they would otherwise join the parent's)."""
    resources = child.get("Resources")
    if not isinstance(resources, LineMap):
        return
    needed: dict[str, tuple[str, dict[str, str]]] = {}
    for node in resources.values():
        if not isinstance(node, Mapping) or node.get("Type") != "AWS::Serverless::Function":
            continue
        props = node.get("Properties")
        events = props.get("Events") if isinstance(props, Mapping) else None
        if not isinstance(events, Mapping):
            continue
        for event in events.values():
            if not isinstance(event, LineMap) or event.get("Type") not in _IMPLICIT_APIS:
                continue
            key, api, type_, props_ = _IMPLICIT_APIS[event["Type"]]
            event_props = event.get("Properties")
            if not isinstance(event_props, LineMap):
                event_props = LineMap(line=event.line)
                event["Properties"] = event_props
            if key in event_props:
                continue
            event_props[key] = LineMap({"Ref": api}, line=event_props.line)
            event_props.lines[key] = event_props.line or event.line or 0
            needed[api] = (type_, props_)
    for api, (type_, props_) in needed.items():
        if api not in resources:  # one the child declares itself is the child's to check
            resources[api] = LineMap(
                {"Type": type_, "Properties": LineMap(props_)}, line=resources.line
            )


def _apply_globals(child: LineMap, top: Where) -> None:
    """The child's ``Globals`` merged into its SAM resources, which then ignore the
    parent's (``IgnoreGlobals: '*'``): each stack's globals are its own."""
    raw = child.pop("Globals", None)
    globals_ = sam_globals.read_globals(raw, top.key(child, "Globals")) if raw is not None else {}
    resources = child.get("Resources")
    if not isinstance(resources, Mapping):
        return
    for node in resources.values():
        if not isinstance(node, LineMap):
            continue
        type_ = node.get("Type")
        if not isinstance(type_, str) or not type_.startswith("AWS::Serverless::"):
            continue
        ignore = node.get("IgnoreGlobals")
        used = globals_
        if ignore == "*":
            used = {}
        elif ignore is not None:
            names = set(ignore) if isinstance(ignore, list) else {ignore}
            used = {
                k: v.like((p, x) for p, x in v.items() if p not in names) for k, v in used.items()
            }
        props = node.get("Properties")
        props = props if isinstance(props, LineMap) else LineMap(line=node.line)
        merged = sam_globals.apply(used, type_.removeprefix("AWS::Serverless::"), props)
        if merged is not props or "Properties" in node:
            node["Properties"] = merged
        node["IgnoreGlobals"] = "*"


# ---- renaming ----------------------------------------------------------------------------


class _Renamer:
    """The child's names in the parent's namespace: ``<prefix><name>``."""

    def __init__(self, prefix: str, bindings: Mapping[str, Any], stack: str) -> None:
        self.prefix = prefix
        self.bindings = bindings
        self.stack = stack

    def name(self, name: str) -> str:
        return f"{self.prefix}{name}"

    def document(self, child: LineMap) -> LineMap:
        out = child.like(child.items())
        for section in ("Resources", "Conditions", "Mappings"):
            value = child.get(section)
            if not isinstance(value, LineMap):
                continue
            renamed = LineMap(line=value.line)
            for key, body in value.items():
                new = self.name(key)
                if section == "Resources" and isinstance(body, LineMap):
                    renamed[new] = self.resource(body)
                elif section == "Mappings":
                    renamed[new] = body
                else:
                    renamed[new] = self.value(body)
                line = value.lines.get(key)
                if line is not None:
                    renamed.lines[new] = line
                # a grandchild's resource keeps the place its own template gave it
                renamed.paths[new] = value.paths.get(key, (f"{section}.{key}", line, None))
            out[section] = renamed
        return out

    def resource(self, node: LineMap) -> LineMap:
        out = node.like(node.items())
        for key, value in node.items():
            if key == "Condition" and isinstance(value, str):
                out[key] = self.name(value)
            elif key == "DependsOn":
                items = value if isinstance(value, list) else [value]
                named = [self.name(v) if isinstance(v, str) else v for v in items]
                out[key] = named if isinstance(value, list) else named[0]
            elif key == "Connectors" and isinstance(value, Mapping):
                out[key] = self._connectors(value)
            elif key == "Properties" and node.get("Type") == "AWS::Serverless::Connector":
                out[key] = self._connector_props(self.value(value))
            else:
                out[key] = self.value(value)
        return out

    def _connectors(self, connectors: Mapping[str, Any]) -> Any:
        out = dict(connectors)
        for key, body in connectors.items():
            if isinstance(body, Mapping) and isinstance(body.get("Properties"), Mapping):
                inner = dict(body)
                inner["Properties"] = self._connector_props(self.value(body["Properties"]))
                out[key] = inner
        return out

    def _connector_props(self, props: Any) -> Any:
        if not isinstance(props, Mapping):
            return props
        for end in ("Source", "Destination"):
            targets = props.get(end)
            for target in targets if isinstance(targets, list) else [targets]:
                if isinstance(target, dict) and isinstance(target.get("Id"), str):
                    target["Id"] = self.name(target["Id"])
        return props

    def value(self, node: Any) -> Any:
        """``node`` with every name the child gives renamed and its parameters bound."""
        if isinstance(node, Mapping):
            if len(node) == 1:
                key, arg = next(iter(node.items()))
                special = self._intrinsic(key, arg)
                if special is not None:
                    return special
            out = node.like(node.items()) if isinstance(node, LineMap) else dict(node)
            for key, value in node.items():
                out[key] = self.value(value)
            return out
        if isinstance(node, list):
            items = [self.value(v) for v in node]
            if isinstance(node, LineList):
                kept = LineList(items, line=node.line)
                kept.lines = list(node.lines)
                return kept
            return items
        return node

    def _intrinsic(self, key: str, arg: Any) -> Any:
        if key == "Ref" and isinstance(arg, str):
            return self._ref(arg)
        if key == "Fn::GetAtt":
            if isinstance(arg, str) and "." in arg:
                head, _, attr = arg.partition(".")
                return LineMap({"Fn::GetAtt": [self.name(head), attr]})
            if isinstance(arg, list) and arg and isinstance(arg[0], str):
                return LineMap(
                    {"Fn::GetAtt": [self.name(arg[0]), *(self.value(a) for a in arg[1:])]}
                )
        if key == "Fn::Sub":
            return self._sub(arg)
        if key == "Fn::FindInMap" and isinstance(arg, list) and arg:
            head = self.name(arg[0]) if isinstance(arg[0], str) else self.value(arg[0])
            return LineMap({"Fn::FindInMap": [head, *(self.value(a) for a in arg[1:])]})
        if key == "Condition" and isinstance(arg, str):
            return LineMap({"Condition": self.name(arg)})
        if key == "Fn::If" and isinstance(arg, list) and arg and isinstance(arg[0], str):
            return LineMap({"Fn::If": [self.name(arg[0]), *(self.value(a) for a in arg[1:])]})
        return None

    def _ref(self, name: str) -> Any:
        if name in self.bindings:
            return copy.deepcopy(self.bindings[name])
        if name == "AWS::StackName":
            return self.stack
        if name.startswith("AWS::"):
            return LineMap({"Ref": name})
        return LineMap({"Ref": self.name(name)})

    def _sub(self, arg: Any) -> Any:
        text, variables = arg, None
        if isinstance(arg, list) and len(arg) == 2 and isinstance(arg[1], Mapping):
            text, variables = arg[0], arg[1]
        if not isinstance(text, str):
            return LineMap({"Fn::Sub": self.value(arg)})
        local = dict(variables or {})
        bound: dict[str, Any] = {k: self.value(v) for k, v in local.items()}

        def replace(match: re.Match[str]) -> str:
            inner = match.group(1)
            stripped = inner.strip()
            if stripped.startswith("!") or stripped in local:
                return match.group(0)
            if stripped in self.bindings:
                bound[stripped] = copy.deepcopy(self.bindings[stripped])
                return match.group(0)
            if stripped == "AWS::StackName":
                return self.stack
            if stripped.startswith("AWS::"):
                return match.group(0)
            return "${" + self.name(stripped) + "}"

        new_text = _SUB.sub(replace, text)
        if bound:
            return LineMap({"Fn::Sub": [new_text, LineMap(bound)]})
        return LineMap({"Fn::Sub": new_text})


# ---- into the parent ---------------------------------------------------------------------


def _merge(doc: LineMap, top: Where, name: str, child: _Child) -> None:
    """The child's resources, conditions and mappings into the parent's sections, in the
    Application's place; a name already in the parent is refused."""
    resources: LineMap = doc["Resources"]
    rat = top.key(doc, "Resources")
    condition = child.node.get("Condition")
    if condition is not None and not isinstance(condition, str):
        condition = None  # the parent's own check refuses it
    if child.doc.get("Transform") is not None and doc.get("Transform") is None:
        doc["Transform"] = child.doc["Transform"]
    for section in ("Conditions", "Mappings"):
        values = child.doc.get(section)
        if not isinstance(values, LineMap) or not values:
            continue
        target = doc.get(section)
        if not isinstance(target, LineMap):
            target = LineMap(line=values.line)
            doc[section] = target
        for key, body in values.items():
            _refuse_taken(target, key, top.key(doc, section), child, section)
            if section == "Conditions" and condition is not None:
                body = LineMap({"Fn::And": [LineMap({"Condition": condition}), body]})
            target[key] = body
            _mark(target, values, key, child.top.file)
    where = rat.key(resources, name)
    kept = LineMap(line=resources.line)
    kept.lines, kept.paths = dict(resources.lines), dict(resources.paths)
    for key, body in resources.items():
        if key != name:
            kept[key] = body
            continue
        for new, node in (child.doc.get("Resources") or {}).items():
            if new in resources or new in kept:
                raise where.error(
                    f"nested application {name} would add a resource {new!r} (its "
                    f"{new.removeprefix(name)!r}), but this template has one of that name",
                    allowed=f"another logical id for this template's {new}",
                )
            if condition is not None and isinstance(node, LineMap) and "Condition" not in node:
                node["Condition"] = condition
            kept[new] = node
            _mark(kept, child.doc["Resources"], new, child.top.file)
    kept.lines.pop(name, None)
    kept.paths.pop(name, None)
    doc["Resources"] = kept


def _mark(target: LineMap, source: LineMap, key: str, file: str) -> None:
    path, line, own = source.paths.get(key, (key, source.lines.get(key), None))
    if line is not None:
        target.lines[key] = line
    target.paths[key] = (path, line, own or file)  # a grandchild's names its own file


def _refuse_taken(target: LineMap, key: str, at: Where, child: _Child, section: str) -> None:
    if key in target:
        raise at.key(target, key).error(
            f"a nested template ({child.top.file}) adds {section[:-1].lower()} {key!r}, "
            "which this template declares too",
            allowed=f"another name for this template's {key}",
        )


def _rewrite_parent(doc: LineMap, top: Where, children: Mapping[str, _Child], stack: str) -> None:
    """The parent's references to its nested stacks: ``!GetAtt App.Outputs.X`` is the
    child's output value, ``!Ref App`` the nested stack's id; ``DependsOn: App`` goes. An
    output the child does not declare, or another attribute, is refused where it is
    written, as CloudFormation refuses it."""

    def output(app: str, attr: Any, at: Where) -> Any:
        outputs = children[app].outputs
        declared = ", ".join(sorted(outputs)) or "none: it declares no Outputs"
        if not isinstance(attr, str) or not attr.startswith("Outputs."):
            raise at.error(
                f"{app} is a nested stack, whose only attributes are its outputs, not {attr!r}",
                allowed=f"Outputs.<name> of {declared}",
            )
        key = attr.removeprefix("Outputs.")
        if key not in outputs:
            raise at.error(
                f"{app}'s template ({children[app].top.file}) has no output {key!r}",
                allowed=declared,
            )
        return copy.deepcopy(outputs[key])

    def stack_id(app: str) -> str:
        return stack_arn(f"{stack}-{app}")

    def walk(node: Any, at: Where) -> Any:
        if isinstance(node, dict):
            if len(node) == 1:
                key, arg = next(iter(node.items()))
                if key == "Ref" and arg in children:
                    return stack_id(arg)
                if key == "Fn::GetAtt":
                    app, attr = get_att_parts(arg)
                    if isinstance(app, str) and app in children:
                        return output(app, attr, at.key(node, key))
                if key == "Fn::Sub":
                    return sub(arg, at.key(node, key))
            for key, value in list(node.items()):
                if key != "DependsOn":
                    node[key] = walk(value, at.key(node, key))
                elif (rest := depends_without(value, children)) is None:
                    del node[key]
                else:
                    node[key] = rest
            return node
        if isinstance(node, list):
            for i, value in enumerate(node):
                node[i] = walk(value, at.index(node, i))
        return node

    def sub(arg: Any, at: Where) -> Any:
        text, variables = arg, None
        if isinstance(arg, list) and len(arg) == 2 and isinstance(arg[1], Mapping):
            text, variables = arg[0], arg[1]
        if not isinstance(text, str):
            return LineMap({"Fn::Sub": walk(arg, at)})
        bound: dict[str, Any] = {k: walk(v, at) for k, v in (variables or {}).items()}

        def replace(match: re.Match[str]) -> str:
            inner = match.group(1).strip()
            app, _, attr = inner.partition(".")
            if inner in bound or app not in children:
                return match.group(0)
            if not attr:
                return stack_id(app)
            var = f"{app}Outputs{attr.removeprefix('Outputs.')}"
            bound[var] = output(app, attr, at)
            return "${" + var + "}"

        new_text = _SUB.sub(replace, text)
        return LineMap({"Fn::Sub": [new_text, LineMap(bound)] if bound else new_text})

    for section in ("Resources", "Outputs", "Conditions", "Globals"):
        if isinstance(doc.get(section), Mapping):
            walk(doc[section], top.key(doc, section))
