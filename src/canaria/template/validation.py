"""Request validation of REST methods, as SAM writes it: an API's ``Models`` (JSON schemas,
draft 4, as API Gateway's models are) and an ``Api`` event's ``RequestModel: {Model,
Required, ValidateBody, ValidateParameters}`` and ``RequestParameters`` (names
``method.request.header|querystring|path.<name>``, each a string or ``{Required,
Caching}``).

As SAM translates it, a method gets a request validator only when its ``RequestModel``
writes ``ValidateBody`` or ``ValidateParameters`` (one written, the other false): then
its body must match the model (``application/json``), and its required parameters must
be present. Without a validator the model and the parameters document the method and
check nothing, on AWS as here. A schema is checked at load (``jsonschema``'s draft 4
meta-schema), so a model API Gateway would refuse is an error naming it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

from jsonschema import Draft4Validator
from jsonschema.exceptions import SchemaError

from canaria.models import ApiSpec, RequestValidation
from canaria.template.context import Context
from canaria.template.index import Entry
from canaria.template.intrinsics import NO_VALUE
from canaria.template.nodes import Where, as_bool, as_list, as_map, as_str, check_keys, choices

JSON = "application/json"
_ORDER = {"header": 0, "querystring": 1, "path": 2}  # the order API Gateway names them in


def validation(parameters: list[str], body: list[tuple[str, str]]) -> RequestValidation:
    """A validator of these required parameters (in the order API Gateway lists missing
    ones: headers, then query strings, then path parameters) and body models."""
    ordered = sorted(parameters, key=lambda p: _ORDER[p.partition(".")[0]])
    return RequestValidation(tuple(ordered), tuple(body))


REQUEST_PARAMETER = re.compile(r"^method\.request\.(header|querystring|path)\.(.+)$")


def api_models(ctx: Context, entry: Entry) -> tuple[tuple[str, str], ...]:
    """A SAM REST API's ``Models``: (name, its schema as JSON text), each schema checked."""
    raw = ctx.get(entry, "Models")
    if raw is NO_VALUE:
        return ()
    at = ctx.at(entry, "Models")
    out = []
    models = as_map(raw, at)
    for name, schema in models.items():
        mat = at.key(models, name)
        out.append((str(name), schema_text(as_map(schema, mat), mat)))
    return tuple(out)


def schema_text(schema: Mapping[str, Any], at: Where) -> str:
    """A model's schema as JSON text, refused when it is not a draft 4 JSON schema."""
    try:
        Draft4Validator.check_schema(schema)
    except SchemaError as exc:
        where = "/".join(str(p) for p in exc.path) or "the schema"
        raise at.error(
            f"not a JSON schema (draft 4) API Gateway accepts: {where}: {exc.message}"
        ) from None
    return json.dumps(schema, sort_keys=True)


def event_validation(props: Mapping[str, Any], at: Where, api: ApiSpec) -> RequestValidation | None:
    """The validator an ``Api`` event's ``RequestModel`` gives its method (None: none)."""
    model = props.get("RequestModel")
    if model is None:
        return None
    mat = at.key(props, "RequestModel")
    model = as_map(model, mat)
    check_keys(model, mat, ("Model", "Required", "ValidateBody", "ValidateParameters"))
    flags = {}
    for key in ("Required", "ValidateBody", "ValidateParameters"):
        flags[key] = as_bool(model[key], mat.key(model, key)) if key in model else None
    name = as_str(model.get("Model", ""), mat.key(model, "Model"))
    schemas = dict(api.models)
    if name not in schemas:
        raise mat.key(model, "Model").error(
            f"model {name!r} is not one of the API's Models",
            allowed=choices(list(schemas), near=name) or "none: the API declares no Models",
        )
    if flags["ValidateBody"] is None and flags["ValidateParameters"] is None:
        return None  # documented, not validated: SAM gives the method no validator
    body = ((JSON, schemas[name]),) if flags["ValidateBody"] else ()
    parameters = _required(props, at) if flags["ValidateParameters"] else ()
    return validation(list(parameters), list(body))


def _required(props: Mapping[str, Any], at: Where) -> tuple[str, ...]:
    """The event's ``RequestParameters`` marked ``Required: true``, as "header.<name>"."""
    raw = props.get("RequestParameters")
    if raw is None:
        return ()
    pat = at.key(props, "RequestParameters")
    out = []
    items = as_list(raw, pat)
    for i, item in enumerate(items):
        iat = pat.index(items, i)
        required = False
        if isinstance(item, Mapping):
            node = as_map(item, iat)
            (name, settings), *_ = node.items()
            sat = iat.key(node, name)
            settings = as_map(settings, sat)
            check_keys(settings, sat, ("Required", "Caching"))
            if "Required" in settings:
                required = as_bool(settings["Required"], sat.key(settings, "Required"))
        else:
            name = as_str(item, iat)
        m = REQUEST_PARAMETER.match(str(name))
        if m is None:
            raise iat.error(
                f"{name!r} is not a request parameter",
                allowed="method.request.header.<name>, method.request.querystring.<name>, "
                "method.request.path.<name>",
            )
        if required:
            out.append(f"{m.group(1)}.{m.group(2)}")
    return tuple(out)


_IN = {"header": "header", "query": "querystring", "path": "path"}


def openapi_validation(
    document: Mapping[str, Any],
    operations: Mapping[str, Any],
    operation: Mapping[str, Any],
    at: Where,
) -> RequestValidation | None:
    """The validator an OpenAPI operation names (``x-amazon-apigateway-request-validator``,
    the document's when it names none) among ``x-amazon-apigateway-request-validators``:
    its required ``parameters`` (the path's and the operation's) and its body's schema
    (Swagger 2's ``in: body`` parameter, OpenAPI 3's ``requestBody``), ``$ref``s into
    ``definitions`` / ``components.schemas`` resolved. None without a validator."""
    name = operation.get(
        "x-amazon-apigateway-request-validator",
        document.get("x-amazon-apigateway-request-validator"),
    )
    validators = document.get("x-amazon-apigateway-request-validators")
    if not isinstance(name, str) or not isinstance(validators, Mapping):
        return None
    flags = validators.get(name)
    if not isinstance(flags, Mapping):
        raise at.error(
            f"x-amazon-apigateway-request-validator {name!r} is not one of the definition's "
            "x-amazon-apigateway-request-validators",
            allowed=choices([str(v) for v in validators], near=name),
        )
    required: list[str] = []
    body: list[tuple[str, str]] = []
    parameters = [*_listed(operations.get("parameters")), *_listed(operation.get("parameters"))]
    for parameter in parameters:
        parameter = _followed(document, parameter, at)
        where = _IN.get(str(parameter.get("in")))
        if flags.get("validateRequestParameters") is True and where is not None:
            name = parameter.get("name")
            if not isinstance(name, str) or not name:
                raise at.error(f"a {parameter.get('in')} parameter of the definition has no name")
            if parameter.get("required") is True or where == "path":
                required.append(f"{where}.{name}")
        elif flags.get("validateRequestBody") is True and parameter.get("in") == "body":
            schema = _resolved(document, parameter.get("schema"), at)
            if schema is not None:
                body.append((JSON, schema))
    request_body = operation.get("requestBody")
    if flags.get("validateRequestBody") is True and isinstance(request_body, Mapping):
        content = request_body.get("content")
        for media, spec in (content or {}).items() if isinstance(content, Mapping) else ():
            schema = _resolved(
                document, spec.get("schema") if isinstance(spec, Mapping) else None, at
            )
            if schema is not None:
                body.append((str(media).lower(), schema))
    return validation(required, body)


def _listed(value: Any) -> list[Mapping[str, Any]]:
    return [p for p in value if isinstance(p, Mapping)] if isinstance(value, list) else []


def _followed(document: Mapping[str, Any], node: Mapping[str, Any], at: Where) -> Mapping[str, Any]:
    """``node``, or what its ``$ref`` (``#/...``, into the document) names."""
    ref = node.get("$ref")
    if not isinstance(ref, str) or not ref.startswith("#/"):
        return node
    target: Any = document
    for part in ref[2:].split("/"):
        target = target.get(part) if isinstance(target, Mapping) else None
    if not isinstance(target, Mapping):
        raise at.error(f"$ref {ref!r} names nothing in the definition")
    return target


def _resolved(document: Mapping[str, Any], schema: Any, at: Where) -> str | None:
    """A body's schema as JSON text: a top-level ``$ref`` followed, and the document's
    ``definitions`` / ``components`` carried along for the refs inside it."""
    if not isinstance(schema, Mapping):
        return None
    schema = _followed(document, schema, at)
    carried = dict(schema)
    for key in ("definitions", "components"):
        if isinstance(document.get(key), Mapping) and key not in carried:
            carried[key] = document[key]
    return schema_text(carried, at)
