"""SAM's own rules: the template run through AWS's SAM translator, its errors placed.

canaria builds what it runs with its own loader (which knows lines and property paths);
whether a template is valid SAM is decided by the same code that decides it on AWS,
``aws-sam-translator``. ``sam_errors`` translates a plain copy of the document and turns
each of the translator's errors into a ``TemplateError`` at the line of the resource it
names, and of the property when the message names one that is written there; a message
about the document ("Structure of the SAM template is invalid. ...") at the OpenAPI path,
method or key it names.

The translator is run offline: ``AWS::Serverless::Application`` resources (which it would
look up in the Serverless Application Repository) are replaced by a placeholder, managed
policy names are not looked up, and the region is fixed. An unexpected failure of the
translator itself is a warning, never a crash.
"""

from __future__ import annotations

import copy
import functools
import logging
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any

from canaria.errors import TemplateError
from canaria.models.arns import ACCOUNT, REGION
from canaria.template.nodes import LineMap, Where, plain

APPLICATION = "AWS::Serverless::Application"
FUNCTION = "AWS::Serverless::Function"
WEBSOCKET_API = "AWS::Serverless::WebSocketApi"
_PROPERTY = re.compile(r"[Pp]roperty '?([A-Za-z0-9]+)(?:[.'\s]|$)")
_RESOURCE = re.compile(r"^Resource with id \[([^\]]*)\] is invalid\.\s*")
_EVENT = re.compile(r"Event with id \[([A-Za-z0-9]+)\]")


@dataclass(frozen=True)
class SamCheck:
    errors: list[TemplateError]
    # every resource of the translated template (SAM's generated ones included); None when
    # the translator refused the template or could not run
    resources: frozenset[str] | None = None
    # ``Fn.Version``-style references SAM left as written (the function has no
    # AutoPublishAlias, ...): CloudFormation refuses them
    unresolved: frozenset[str] = frozenset()


# a local file an ``AWS::Include`` names → its document (None when it cannot be read)
Include = Callable[[str], Any]


def sam_errors(
    doc: LineMap,
    top: Where,
    parameters: Mapping[str, str],
    warnings: list[str],
    include: Include | None = None,
) -> SamCheck:
    """SAM's errors for ``doc`` (none when the translator accepts it). ``include`` reads
    the local files an API's ``DefinitionBody`` includes: CloudFormation expands
    ``AWS::Include`` before the SAM transform runs, so SAM sees the definition itself."""
    from samtranslator.model.exceptions import (
        ExceptionWithMessage,
        InvalidDocumentException,
        InvalidEventException,
        InvalidResourceException,
    )

    template = _offline(doc, include)
    try:
        output = _translate(template, parameters)
    except InvalidDocumentException as exc:
        causes: list[ExceptionWithMessage] = list(exc.causes)
    except ExceptionWithMessage as exc:
        causes = [exc]
    except Exception as exc:  # the translator's own bug must not stop a template loading
        warnings.append(f"{top.file}: SAM's rules could not be checked ({type(exc).__name__})")
        return SamCheck([])
    else:
        resources = output.get("Resources") if isinstance(output, dict) else None
        if not isinstance(resources, dict):
            return SamCheck([])
        return SamCheck([], frozenset(resources), frozenset(_unresolved(output, template)))
    errors: list[TemplateError] = []
    for cause in causes:
        message = _clean(cause.message)
        resource = _RESOURCE.match(message)
        if isinstance(cause, InvalidResourceException) and resource:
            logical_id = resource.group(1).split(",")[0].strip(" '[]")
            message = message[resource.end() :] or message
            errors.append(_at_resource(doc, top, logical_id, message).error(message))
        elif isinstance(cause, InvalidEventException):
            errors.append(_at_event(doc, top, message).error(message))
        elif "'Globals'" in message and "Globals" in doc:
            errors.append(top.key(doc, "Globals").error(message))
        else:  # about the document: at what it names, else after the errors with a line
            errors.append(_at_named(doc, top, message).error(message))
    return SamCheck(errors)


_REFERABLE = ("Alias", "Version", "DeploymentGroup", "Stage", "Deployment", "DomainName")
_SUB_NAME = re.compile(r"\$\{([A-Za-z0-9]+)\.([A-Za-z]+)(?:\.[A-Za-z]+)?\}")


def _unresolved(output: Any, template: Mapping[str, Any]) -> set[str]:
    """``X.Alias``-style names (X a SAM resource of the template) that SAM's output still
    holds in a ``Ref``, a ``Fn::GetAtt`` or a ``${...}``: SAM resolves them only where it
    generated what they name, and CloudFormation has no resource of that name."""
    resources = template.get("Resources")
    own = {
        k
        for k, v in (resources.items() if isinstance(resources, dict) else ())
        if isinstance(v, dict) and str(v.get("Type", "")).startswith("AWS::Serverless::")
    }
    found: set[str] = set()

    def note(head: Any, tail: Any) -> None:
        if head in own and isinstance(tail, str) and tail.split(".")[0] in _REFERABLE:
            found.add(f"{head}.{tail.split('.')[0]}")

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if len(node) == 1:
                key, arg = next(iter(node.items()))
                if key == "Ref" and isinstance(arg, str):
                    note(*arg.partition(".")[::2])
                elif key == "Fn::GetAtt" and isinstance(arg, list) and len(arg) == 2:
                    head, dot, tail = str(arg[0]).partition(".")
                    note(head, tail if dot else arg[1])
                elif key == "Fn::Sub":
                    text = arg[0] if isinstance(arg, list) and arg else arg
                    for m in _SUB_NAME.finditer(text if isinstance(text, str) else ""):
                        note(m[1], m[2])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(output)
    return found


def _translate(template: dict[str, Any], parameters: Mapping[str, str]) -> Any:
    from samtranslator.parser.parser import Parser
    from samtranslator.translator.translator import Translator

    logging.getLogger("samtranslator").setLevel(logging.ERROR)
    values: dict[str, Any] = {"AWS::Region": REGION, "AWS::AccountId": ACCOUNT, **parameters}
    # the translator asks its session only for the region; a boto3 Session costs ~0.2 s
    session = SimpleNamespace(region_name=REGION)
    return Translator({}, Parser(), boto_session=session).translate(template, values)


def _offline(doc: LineMap, include: Include | None = None) -> dict[str, Any]:
    """A plain copy the translator may change, with nothing it would look up online (and
    the local files APIs include, read)."""
    template = plain(doc)
    assert isinstance(template, dict)
    template.setdefault("Transform", "AWS::Serverless-2016-10-31")
    globals_ = template.get("Globals")
    if isinstance(globals_, dict) and isinstance(globals_.get("Function"), dict):
        _package(globals_["Function"], "CodeUri")
    resources = template.get("Resources")
    if isinstance(resources, dict):
        for name, resource in list(resources.items()):
            if not isinstance(resource, dict):
                continue
            type_ = resource.get("Type")
            if type_ == APPLICATION:
                kept = {k: v for k, v in resource.items() if k in ("Condition", "DependsOn")}
                resources[name] = {"Type": "AWS::CloudFormation::WaitConditionHandle", **kept}
            elif isinstance(type_, str) and isinstance(resource.get("Properties"), dict):
                props = resource["Properties"]
                for key in _PACKAGED.get(type_, ()):
                    _package(props, key)
                if type_ == FUNCTION and props.get("PackageType") == "Image":
                    # `sam build` tags the image its Metadata builds and writes it here
                    props.setdefault("ImageUri", "canaria-local.dkr.ecr/function:latest")
                elif type_ == FUNCTION and not _code_in(props, globals_):
                    props["CodeUri"] = "s3://canaria-local/template-dir"  # the SAM CLI's "."
                if type_ in _APIS and include is not None:
                    _expand_include(props, include)
    return copy.deepcopy(template)


# what `sam package` uploads and names by an S3 URI before the transform runs; `sam validate`
# puts a placeholder there the same way
_INTRINSICS = ("Ref", "Fn::Sub", "Fn::If", "Fn::Join", "Fn::FindInMap", "Fn::Select")
_PACKAGED = {
    "AWS::Serverless::Function": ("CodeUri",),
    "AWS::Serverless::LayerVersion": ("ContentUri",),
    "AWS::Serverless::Api": ("DefinitionUri",),
    "AWS::Serverless::HttpApi": ("DefinitionUri",),
    "AWS::Serverless::StateMachine": ("DefinitionUri",),
    "AWS::Serverless::GraphQLApi": ("SchemaUri", "CodeUri"),
}


_APIS = ("AWS::Serverless::Api", "AWS::Serverless::HttpApi")


def _expand_include(props: dict[str, Any], include: Include) -> None:
    """``DefinitionBody: {Fn::Transform: {Name: AWS::Include, Parameters: {Location}}}`` →
    the document at ``Location`` when it is a local file ``include`` reads."""
    body = props.get("DefinitionBody")
    transform = body.get("Fn::Transform") if isinstance(body, dict) and len(body) == 1 else None
    if not isinstance(transform, dict) or transform.get("Name") != "AWS::Include":
        return
    parameters = transform.get("Parameters")
    location = parameters.get("Location") if isinstance(parameters, dict) else None
    if isinstance(location, str) and not location.startswith("s3://"):
        document = include(location)
        if isinstance(document, dict):
            props["DefinitionBody"] = plain(document)


def _code_in(props: dict[str, Any], globals_: Any) -> bool:
    if {"CodeUri", "InlineCode", "ImageUri"} & set(props):
        return True
    function = globals_.get("Function") if isinstance(globals_, dict) else None
    return isinstance(function, dict) and "CodeUri" in function


def _package(props: dict[str, Any], key: str) -> None:
    value = props.get(key)
    if isinstance(value, dict) and len(value) == 1 and next(iter(value)) in _INTRINSICS:
        props[key] = "s3://canaria-local/resolved-by-canaria"  # a local path canaria resolves
    elif isinstance(value, str) and not value.startswith("s3://"):
        props[key] = f"s3://canaria-local/{value.lstrip('./') or 'template-dir'}"


@functools.cache
def sam_types() -> tuple[str, ...]:
    """Every ``AWS::Serverless::*`` type the installed SAM translator knows."""
    from samtranslator.model import ResourceTypeResolver, sam_resources

    types = ResourceTypeResolver(sam_resources).resource_types
    return tuple(sorted(t for t in types if t.startswith("AWS::Serverless::")))


@functools.cache
def sam_properties(type_: str) -> frozenset[str]:
    """The properties SAM's translator knows for one of its resource types."""
    from samtranslator.model import ResourceTypeResolver, sam_resources

    cls = ResourceTypeResolver(sam_resources).resource_types.get(type_)
    return frozenset(getattr(cls, "property_types", {}))


@functools.cache
def sam_event_types() -> tuple[str, ...]:
    """The event source types SAM's translator knows for functions."""
    from samtranslator.model.sam_resources import SamFunction

    resolver = getattr(SamFunction, "event_resolver", None)
    types = getattr(resolver, "resource_types", {}) if resolver is not None else {}
    return tuple(sorted(t for t in types if isinstance(t, str)))


@functools.cache
def sam_globals() -> dict[str, frozenset[str]]:
    """The ``Globals`` sections and properties SAM's translator accepts."""
    from samtranslator.plugins.globals.globals import Globals

    supported = getattr(Globals, "supported_properties", {})
    return {k.removeprefix("AWS::Serverless::"): frozenset(v) for k, v in supported.items()}


def resource_of(error: TemplateError) -> str | None:
    """``Resources.<id>`` (or ``Globals``...) an error is about, None for the whole document."""
    if not error.prop:
        return None
    parts = error.prop.split(".")
    return ".".join(parts[:2]) if parts[0] == "Resources" else parts[0]


def merge(
    own: list[TemplateError],
    sam: list[TemplateError],
    references: Sequence[TemplateError] = (),
) -> list[TemplateError]:
    """canaria's errors (which name the property and what is allowed), SAM's about
    whatever resource canaria did not already report, and the references to nothing
    (each at its own property) that canaria did not report there: canaria's builders stop
    a resource at its first unresolved reference, the reference check finds them all."""
    flagged = {resource_of(e) for e in own}
    at = {(e.line, e.prop) for e in own}
    return [
        *own,
        *(e for e in sam if resource_of(e) is None or resource_of(e) not in flagged),
        *(e for e in references if (e.line, e.prop) not in at),
    ]


_LIST_REPR = re.compile(r"\[('[^'\]]*'(?:, '[^'\]]*')*)\]")
_DICT_REPR = re.compile(r"\{'[^{}]*\}")
_TYPE_NAME = re.compile(r"\bis a (dict|list|str|int|float|bool) not\b")
_TYPE_WORDS = {"dict": "mapping", "list": "list", "str": "string", "int": "integer"}


def _clean(message: str) -> str:
    """SAM's message on one line, its Python reprs (``['SQS', 'SNS']``, ``{'name': 'x'}``,
    ``is a dict``) as text."""
    text = " ".join(message.split())
    text = _LIST_REPR.sub(lambda m: m.group(1).replace("'", ""), text)
    text = _DICT_REPR.sub(lambda m: m.group(0).replace("'", ""), text)
    return _TYPE_NAME.sub(lambda m: f"is a {_TYPE_WORDS.get(m[1], m[1])}, not", text)


def _at_resource(doc: LineMap, top: Where, logical_id: str, message: str) -> Where:
    resources = doc.get("Resources")
    rat = top.key(doc, "Resources")
    if not isinstance(resources, LineMap):
        return top
    if logical_id not in resources:  # one SAM generates: named after the resource it is for
        owners = [r for r in resources if logical_id.startswith(r)]
        if not owners:
            return rat
        logical_id = max(owners, key=len)
    at = rat.key(resources, logical_id)
    node = resources[logical_id]
    props = node.get("Properties") if isinstance(node, Mapping) else None
    if not isinstance(props, Mapping):
        return at
    match = _PROPERTY.search(message)
    if match and match.group(1) in props:
        return at.key(node, "Properties").key(props, match.group(1))
    if node.get("Type") == WEBSOCKET_API:
        return _websocket_place(at.key(node, "Properties"), props, message) or at
    return at


def _no_function(key: str, route: Any) -> bool:
    return not isinstance(route, Mapping) or "FunctionArn" not in route


def _parameters_off_connect(key: str, route: Any) -> bool:
    return key != "$connect" and isinstance(route, Mapping) and bool(route.get("RequestParameters"))


# where SAM's messages about a WebSocket API belong, by how they start: the property, and
# for ``Routes`` the route the message names or the first one it fits
_WEBSOCKET_PLACES: tuple[tuple[re.Pattern[str], str, Callable[[str, Any], bool] | None], ...] = (
    (re.compile(r"^Route key '(?P<route>[^']*)'"), "Routes", None),
    (re.compile(r"^Route must have"), "Routes", _no_function),
    (re.compile(r"^Request parameters are only supported"), "Routes", _parameters_off_connect),
    (re.compile(r"^WebSocket API must have at least one route"), "Routes", None),
    (re.compile(r"^(?:Auth|No additional configurations supported for AuthType)"), "Auth", None),
    (re.compile(r"^Stages cannot be named"), "StageName", None),
    (re.compile(r"^IpAddressType "), "IpAddressType", None),
)


def _websocket_place(at: Where, props: Mapping[str, Any], message: str) -> Where | None:
    """The property (and route) of an ``AWS::Serverless::WebSocketApi`` SAM's message is
    about, when it is written there."""
    for pattern, key, fits in _WEBSOCKET_PLACES:
        found = pattern.match(message)
        if found is None or key not in props:
            continue
        place = at.key(props, key)
        routes = props[key]
        if not isinstance(routes, Mapping):
            return place
        route = found.groupdict().get("route")
        if fits is not None:
            route = next((k for k, v in routes.items() if fits(str(k), v)), None)
        return place.key(routes, route) if route is not None and route in routes else place
    return None


_TRANSFORMING = re.compile(r"^Transforming resource with id \[([A-Za-z0-9]+)\]")
_PATH_NAMED = re.compile(r"'(/[^']*)' path|path '?(/[^\s':]*)'?")
_METHOD_NAMED = re.compile(r"method '?([A-Za-z-]+)'?")
# keys SAM's document-level messages name, most specific first
_NAMED_KEYS = (
    "x-amazon-apigateway-endpoint-configuration",
    "securityDefinitions",
    "ResourcePolicy",
    "SourceVpcBlacklist",
    "SourceVpcWhitelist",
    "Fn::If",
    "Fn::Sub",
    "DefinitionBody",
)


def _at_named(doc: LineMap, top: Where, message: str) -> Where:
    """Where a message about the document belongs: the resource, the OpenAPI path (and
    method) or the key it names; the file alone when it names none of them."""
    transforming = _TRANSFORMING.match(message)
    if transforming:
        return _at_resource(doc, top, transforming[1], "")
    path = _PATH_NAMED.search(message)
    if path:
        found = _find_key(doc, top, path[1] or path[2], parent="paths")
        method = _METHOD_NAMED.search(message)
        if found is not None:
            at, node = found
            if method and isinstance(node, Mapping) and method[1] in node:
                return at.key(node, method[1])
            return at
    named: list[tuple[str, str | None]] = []
    if "Tags in OpenApi" in message:
        named.append(("tags", "DefinitionBody"))
    named += [(key, None) for key in _NAMED_KEYS if key in message]
    for key, parent in named:
        found = _find_key(doc, top, key, parent)
        if found is not None:
            return found[0]
    return Where(top.file)


def _find_key(
    node: Any, at: Where, key: str, parent: str | None = None
) -> tuple[Where, Any] | None:
    """The first ``key`` in the document (under a ``parent`` key when given), depth first:
    its place and its value."""
    if isinstance(node, Mapping):
        if key in node and (parent is None or at.path.rsplit(".", 1)[-1] == parent):
            return at.key(node, key), node[key]
        for k, value in node.items():
            found = _find_key(value, at.key(node, str(k)), key, parent)
            if found is not None:
                return found
    elif isinstance(node, list):
        for i, value in enumerate(node):
            found = _find_key(value, at.index(node, i), key, parent)
            if found is not None:
                return found
    return None


def _at_event(doc: LineMap, top: Where, message: str) -> Where:
    match = _EVENT.search(message)
    resources = doc.get("Resources")
    rat = top.key(doc, "Resources")
    if not match or not isinstance(resources, LineMap):
        return top
    for logical_id, node in resources.items():
        props = node.get("Properties") if isinstance(node, Mapping) else None
        events = props.get("Events") if isinstance(props, Mapping) else None
        if isinstance(events, Mapping) and match.group(1) in events:
            pat = rat.key(resources, logical_id).key(node, "Properties")
            return pat.key(props, "Events").key(events, match.group(1))
    return top
