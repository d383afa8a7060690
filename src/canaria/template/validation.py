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
    return RequestValidation(parameters, body)


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
