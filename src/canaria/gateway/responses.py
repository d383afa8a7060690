"""From a Lambda result to the HTTP answer, as API Gateway maps it; and API Gateway's own
answers when there is no result to map.

Payload 1.0 (REST): the function must return an object with an integer ``statusCode`` and
optional ``headers`` (name -> value), ``multiValueHeaders`` (name -> list), ``body``
(string) and ``isBase64Encoded``; anything else is a "Malformed Lambda proxy response".

Payload 2.0 (HTTP API): an object with ``statusCode`` is read as in 1.0 plus ``cookies``
(each one a ``Set-Cookie`` header); any other valid JSON is the body of a 200
``application/json`` answer.

API Gateway's own answers (checked against AWS's documentation and troubleshooting
guides; REST and HTTP APIs differ):

===================  =================================  ====================================
case                 REST (``Api``)                     HTTP API (``HttpApi``)
===================  =================================  ====================================
no route             403 Missing Authentication Token   404 Not Found
function error,      502 Internal server error          500 Internal Server Error
malformed response
invocation refused   500 Internal server error          500 Internal Server Error
integration timeout  504 Endpoint request timed out     503 Service Unavailable
function throttled   429 Too Many Requests              429 Too Many Requests
body over 10 MB      413 Request Too Long               413 Request Too Long
===================  =================================  ====================================

Throttling is canaria's choice: AWS answers a Lambda throttle with its generic 500, which
hides the cause; canaria answers 429 (the body API Gateway uses for its own throttling)
so clients back off and the throttle is visible.
"""

from __future__ import annotations

import base64
import binascii
import enum
import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import orjson

from canaria.models import GatewayResponseSpec
from canaria.models.app import ApiKind

log = logging.getLogger("canaria.gateway")

JSON = "application/json"
_TOKEN = re.compile(r"^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$")
_DROP = frozenset({"content-length", "transfer-encoding", "connection", "keep-alive"})


@dataclass(frozen=True, slots=True)
class HttpResponse:
    status: int
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes = b""
    # API Gateway's own answer: its response type (``GatewayResponses`` may change it)
    kind: str | None = None
    # a request validator's refusal: what ``$context.error.validationErrorString`` says
    validation_error: str | None = None


class Failure(enum.Enum):
    NOT_FOUND = "not_found"
    INTEGRATION_ERROR = "integration_error"  # function error, or a malformed response
    INVOKE_REFUSED = "invoke_refused"  # the runtime could not run the invocation
    TIMEOUT = "timeout"  # API Gateway's integration timeout passed
    THROTTLED = "throttled"
    TOO_LARGE = "too_large"


_ANSWERS: dict[tuple[ApiKind, Failure], tuple[int, str, str | None]] = {
    ("rest", Failure.NOT_FOUND): (
        403,
        "Missing Authentication Token",
        "MissingAuthenticationTokenException",
    ),
    ("http", Failure.NOT_FOUND): (404, "Not Found", None),
    ("rest", Failure.INTEGRATION_ERROR): (
        502,
        "Internal server error",
        "InternalServerErrorException",
    ),
    ("http", Failure.INTEGRATION_ERROR): (500, "Internal Server Error", None),
    ("rest", Failure.INVOKE_REFUSED): (
        500,
        "Internal server error",
        "InternalServerErrorException",
    ),
    ("http", Failure.INVOKE_REFUSED): (500, "Internal Server Error", None),
    ("rest", Failure.TIMEOUT): (504, "Endpoint request timed out", None),
    ("http", Failure.TIMEOUT): (503, "Service Unavailable", None),
    ("rest", Failure.THROTTLED): (429, "Too Many Requests", None),
    ("http", Failure.THROTTLED): (429, "Too Many Requests", None),
    ("rest", Failure.TOO_LARGE): (413, "Request Too Long", None),
    ("http", Failure.TOO_LARGE): (413, "Request Too Long", None),
}


# a REST API's response type for each of API Gateway's own answers (HTTP APIs have none)
_TYPES = {
    Failure.NOT_FOUND: "MISSING_AUTHENTICATION_TOKEN",
    Failure.INTEGRATION_ERROR: "DEFAULT_5XX",
    Failure.INVOKE_REFUSED: "DEFAULT_5XX",
    Failure.TIMEOUT: "INTEGRATION_TIMEOUT",
    Failure.THROTTLED: "THROTTLED",
    Failure.TOO_LARGE: "REQUEST_TOO_LARGE",
}


def json_answer(
    status: int, body: Any, error_type: str | None = None, kind: str | None = None
) -> HttpResponse:
    """One of API Gateway's own JSON answers (``kind``: its REST response type)."""
    headers = [("Content-Type", JSON)]
    if error_type is not None:
        headers.append(("x-amzn-ErrorType", error_type))
    return HttpResponse(status, headers, orjson.dumps(body), kind)


_CACHE = {
    (api, failure): json_answer(
        status, {"message": message}, error_type, _TYPES[failure] if api == "rest" else None
    )
    for (api, failure), (status, message, error_type) in _ANSWERS.items()
}


def gateway_answer(kind: ApiKind, failure: Failure) -> HttpResponse:
    """API Gateway's own answer for ``failure`` on an API of ``kind``."""
    return _CACHE[(kind, failure)]


def client_error(message: str, status: int = 400) -> HttpResponse:
    """A 4xx of canaria's own (a bad routing pin, a request that does not parse)."""
    return json_answer(status, {"message": message})


# ---- mapping a function's result ---------------------------------------------------------


class Malformed(ValueError):
    """The function's result is not a valid proxy response (API Gateway logs the same)."""


def map_result(kind: ApiKind, payload: bytes, *, v1: bool = False) -> HttpResponse:
    """The answer for a successful invocation's payload; Malformed when it cannot be one.
    ``v1``: an HTTP API route taking payload format 1.0, whose answer is read as a REST
    API's."""
    try:
        data = orjson.loads(payload)
    except orjson.JSONDecodeError as exc:
        raise Malformed(f"not JSON: {exc}") from None
    if kind == "http" and not v1:
        if not isinstance(data, dict) or "statusCode" not in data:
            return HttpResponse(200, [("Content-Type", JSON)], payload)
        return _proxy_response(data, v2=True)
    if not isinstance(data, dict):
        raise Malformed(f"expected an object, got {type(data).__name__}")
    return _proxy_response(data, v2=False)


def _proxy_response(data: dict[str, Any], *, v2: bool) -> HttpResponse:
    status = _status(data.get("statusCode"))
    headers: list[tuple[str, str]] = []
    typed = False  # a Content-Type among them
    single = data.get("headers")
    multi = None if v2 else data.get("multiValueHeaders")
    if single is not None and not isinstance(single, dict):
        raise Malformed("headers must be an object")
    if multi is not None:
        if not isinstance(multi, dict):
            raise Malformed("multiValueHeaders must be an object")
        for name, values in multi.items():
            if not isinstance(values, list):
                raise Malformed(f"multiValueHeaders[{name!r}] must be a list")
            lower = _header_name(name)
            if lower in _DROP:
                continue
            typed = typed or (lower == "content-type" and bool(values))
            headers.extend((name, _header_value(name, v)) for v in values)
    if single:
        for name, value in single.items():
            lower = _header_name(name)
            if lower in _DROP:
                continue
            text = _header_value(name, value)
            if multi and name in multi and text in (_header_value(name, v) for v in multi[name]):
                continue
            typed = typed or lower == "content-type"
            headers.append((name, text))
    if v2:
        cookies = data.get("cookies")
        if cookies is not None:
            if not isinstance(cookies, list) or not all(isinstance(c, str) for c in cookies):
                raise Malformed("cookies must be a list of strings")
            headers.extend(("Set-Cookie", _header_value("Set-Cookie", c)) for c in cookies)
    if not typed:
        headers.append(("Content-Type", JSON))
    return HttpResponse(status, headers, _body(data))


def streamed_head(metadata: dict[str, Any], default_type: str) -> HttpResponse:
    """The status and headers (no body) of a streamed response's HTTP metadata prelude,
    checked as a proxy response's are; ``default_type`` when it sets no Content-Type."""
    fields: dict[str, Any] = {k: metadata[k] for k in ("headers", "cookies") if k in metadata}
    fields["statusCode"] = metadata.get("statusCode", 200)
    head = _proxy_response(fields, v2=True)
    headers = head.headers
    if headers and headers[-1] == ("Content-Type", JSON) and not _typed(metadata):
        headers = [*headers[:-1], ("Content-Type", default_type)]
    return HttpResponse(head.status, headers, b"")


def _typed(metadata: dict[str, Any]) -> bool:
    headers = metadata.get("headers") or {}
    return any(isinstance(name, str) and name.lower() == "content-type" for name in headers)


def map_alb_result(payload: bytes, *, multi_value: bool) -> HttpResponse:
    """The answer an Application Load Balancer sends for a Lambda target's payload:
    ``statusCode``, ``headers`` (or, with ``multi_value`` headers enabled on the target
    group, only ``multiValueHeaders``), ``body`` and ``isBase64Encoded``; ALB adds no
    ``Content-Type`` of its own. Malformed when the payload is not such an object."""
    try:
        data = orjson.loads(payload)
    except orjson.JSONDecodeError as exc:
        raise Malformed(f"not JSON: {exc}") from None
    if not isinstance(data, dict):
        raise Malformed(f"expected an object, got {type(data).__name__}")
    if "statusCode" not in data:
        raise Malformed("statusCode is missing")
    status = _status(data["statusCode"])
    headers: list[tuple[str, str]] = []
    key = "multiValueHeaders" if multi_value else "headers"
    written = data.get(key)
    if written is not None and not isinstance(written, dict):
        raise Malformed(f"{key} must be an object")
    for name, value in (written or {}).items():
        lower = _header_name(name)
        values = value if multi_value else [value]
        if not isinstance(values, list):
            raise Malformed(f"multiValueHeaders[{name!r}] must be a list")
        if lower not in _DROP:
            headers.extend((name, _header_value(name, v)) for v in values)
    return HttpResponse(status, headers, _body(data))


_NAMES: dict[str, str] = {}  # valid header names seen, lowercased (checked once each)
_MAX_NAMES = 4096  # then the memory starts over
_MAX_NAME_CHARS = 64  # longer names are checked every time, not remembered


def _header_name(name: object) -> str:
    """``name`` in lower case; Malformed when it is not a header name (a token)."""
    lower = _NAMES.get(name) if isinstance(name, str) else None
    if lower is None:
        if not isinstance(name, str) or _TOKEN.match(name) is None:
            raise Malformed(f"invalid header name {name!r}")
        lower = name.lower()
        if len(name) <= _MAX_NAME_CHARS:
            if len(_NAMES) >= _MAX_NAMES:
                _NAMES.clear()
            _NAMES[name] = lower
    return lower


def _status(value: object) -> int:
    if isinstance(value, bool):
        raise Malformed("statusCode must be an integer")
    if isinstance(value, str) and value.isdigit():
        value = int(value)
    if not isinstance(value, int) or not 200 <= value <= 599:
        raise Malformed(f"statusCode must be an integer from 200 to 599, got {value!r}")
    return value


def _header_value(name: str, value: object) -> str:
    """The text of a header the function set (its name is checked by ``_header_name``)."""
    if isinstance(value, str):
        if "\r" in value or "\n" in value:
            raise Malformed(f"header {name!r} holds a line break")
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    raise Malformed(f"header {name!r} must be a string, got {type(value).__name__}")


def _body(data: dict[str, Any]) -> bytes:
    body = data.get("body")
    if body is None:
        return b""
    if not isinstance(body, str):
        # API Gateway reads the body as a string and takes a number or a boolean as its
        # text (AWS's own safe-deployments sample answers ``body: allBuckets.length``); an
        # object or a list is a malformed response
        if isinstance(body, bool):
            body = "true" if body else "false"
        elif isinstance(body, int | float):
            body = str(body)
        else:
            raise Malformed(f"body must be a string, got {type(body).__name__}")
    encoded = data.get("isBase64Encoded", False)
    if encoded is None or encoded is False:
        return body.encode("utf-8")
    if encoded is not True:
        raise Malformed("isBase64Encoded must be a boolean")
    try:
        return base64.b64decode(body, validate=True)
    except (binascii.Error, ValueError):
        raise Malformed("body is not valid base64") from None


# ---- GatewayResponses --------------------------------------------------------------------


def customized(
    response: HttpResponse, responses: Mapping[str, GatewayResponseSpec]
) -> HttpResponse:
    """API Gateway's own answer as a REST API's ``GatewayResponses`` change it: the entry
    for its type, else ``DEFAULT_4XX`` / ``DEFAULT_5XX``; any other answer as it is."""
    kind = response.kind
    if kind is None:
        return response
    spec = responses.get(kind) or responses.get(
        "DEFAULT_4XX" if response.status < 500 else "DEFAULT_5XX"
    )
    if spec is None:
        return response
    replaced = {name.lower() for name, _ in spec.headers}
    headers = [(k, v) for k, v in response.headers if k.lower() not in replaced]
    headers += spec.headers
    body = response.body
    if spec.template is not None:
        message = _message(body)
        text = spec.template.replace("$context.error.messageString", _quoted(message))
        text = text.replace("$context.error.validationErrorString", response.validation_error or "")
        text = text.replace("$context.error.message", "" if message is None else message)
        body = text.replace("$context.error.responseType", kind).encode()
    return HttpResponse(
        spec.status or response.status, headers, body, kind, response.validation_error
    )


def _message(body: bytes) -> str | None:
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError:
        return None
    message = data.get("message", data.get("Message")) if isinstance(data, dict) else None
    return message if isinstance(message, str) else None


def _quoted(message: str | None) -> str:
    return "null" if message is None else orjson.dumps(message).decode()
