"""REST request validators: a method with one refuses a request before its integration
runs, as API Gateway does, with its own answers:

- a required parameter (``header.<name>``, ``querystring.<name>``, ``path.<name>``) missing
  or empty: 400 ``{"message": "Missing required request parameters: [a, b]"}``
  (``BAD_REQUEST_PARAMETERS``);
- a body that is not JSON or does not match the model of its content type (JSON schema
  draft 4; ``application/json`` when the request names none): 400 ``{"message": "Invalid
  request body"}`` (``BAD_REQUEST_BODY``).

A ``GatewayResponses`` template's ``$context.error.validationErrorString`` says what failed:
the missing parameters' message, or the schema's complaints in brackets. These are the
``jsonschema`` library's words (``[2009 is less than the minimum of 2010]``); API
Gateway's Java validator words them its own way (``[numeric instance is lower than the
required minimum (minimum: 2010, found: 2009)]``).

Parameters are checked first, as on AWS. ``GatewayResponses`` may change either answer.
A model's validator is compiled once per schema.
"""

from __future__ import annotations

from dataclasses import replace
from functools import lru_cache
from typing import Any
from urllib.parse import parse_qsl

import orjson
from jsonschema import Draft4Validator

from canaria.models import RequestValidation

from .responses import HttpResponse, json_answer
from .routes import RouteMatch
from .types import Request

INVALID_BODY = json_answer(
    400, {"message": "Invalid request body"}, "BadRequestException", "BAD_REQUEST_BODY"
)


def _invalid_body(problems: list[str]) -> HttpResponse:
    return replace(INVALID_BODY, validation_error=f"[{', '.join(problems)}]")


@lru_cache(maxsize=256)
def _validator(schema: str) -> Any:
    return Draft4Validator(orjson.loads(schema))


def _missing(validation: RequestValidation, req: Request, match: RouteMatch) -> list[str]:
    query: dict[str, str] | None = None
    missing = []
    for parameter in validation.parameters:
        where, _, name = parameter.partition(".")
        if where == "header":
            value = req.header(name.lower())
        elif where == "path":
            value = match.params.get(name)
        else:
            if query is None:
                query = dict(parse_qsl(req.query, keep_blank_values=True))
            value = query.get(name)
        if not value:
            missing.append(name)
    return missing


def refusal(validation: RequestValidation, req: Request, match: RouteMatch) -> HttpResponse | None:
    """None when ``req`` passes the method's validator, else API Gateway's 400."""
    missing = _missing(validation, req, match)
    if missing:
        message = f"Missing required request parameters: [{', '.join(missing)}]"
        refused = json_answer(
            400, {"message": message}, "BadRequestException", "BAD_REQUEST_PARAMETERS"
        )
        return replace(refused, validation_error=message)
    if not validation.body:
        return None
    content_type = (req.header("content-type") or "application/json").split(";")[0].strip()
    schemas = dict(validation.body)
    schema = schemas.get(content_type.lower(), schemas.get("$default"))
    if schema is None:
        return None  # no model for this content type: nothing to check it against
    try:
        body = orjson.loads(req.body) if req.body else None
    except orjson.JSONDecodeError as exc:
        return _invalid_body([f"the body is not JSON: {exc}"])
    problems = [e.message for e in _validator(schema).iter_errors(body)]
    return _invalid_body(problems) if problems else None
