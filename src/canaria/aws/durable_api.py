"""Lambda's durable execution API (2025-12-01), forwarded to the durable execution
service (``canaria.durable``): what the durable SDKs call from inside a function
(``CheckpointDurableExecution``, ``GetDurableExecutionState``) and what an operator or
another function calls (``GetDurableExecution``, its history, ``StopDurableExecution``,
the callbacks, ``ListDurableExecutionsByFunction``)."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import parse_qsl, quote, unquote, urlencode

from starlette.requests import Request
from starlette.responses import Response

from canaria.aws.backend import EdgeBackend
from canaria.aws.responses import rest_error, rest_error_from
from canaria.errors import CanariaError

PREFIX = "/2025-12-01/"

# (method, the path's shape after the prefix, a "*" per identifier) -> operation
OPERATIONS: dict[tuple[str, tuple[str, ...]], str] = {
    ("GET", ("durable-executions", "*")): "GetDurableExecution",
    ("POST", ("durable-executions", "*", "checkpoint")): "CheckpointDurableExecution",
    ("GET", ("durable-executions", "*", "state")): "GetDurableExecutionState",
    ("GET", ("durable-executions", "*", "history")): "GetDurableExecutionHistory",
    ("POST", ("durable-executions", "*", "stop")): "StopDurableExecution",
    ("GET", ("functions", "*", "durable-executions")): "ListDurableExecutionsByFunction",
    (
        "POST",
        ("durable-execution-callbacks", "*", "succeed"),
    ): "SendDurableExecutionCallbackSuccess",
    ("POST", ("durable-execution-callbacks", "*", "fail")): "SendDurableExecutionCallbackFailure",
    ("POST", ("durable-execution-callbacks", "*", "heartbeat")): (
        "SendDurableExecutionCallbackHeartbeat"
    ),
}


def operation(method: str, raw_path: str) -> tuple[str, list[str]] | None:
    """The operation a request names, and its path's segments (still URL-encoded)."""
    segments = raw_path[len(PREFIX) :].split("/")
    if len(segments) < 2:
        return None
    shape = (segments[0], "*", *segments[2:])
    found = OPERATIONS.get((method, shape))
    return None if found is None else (found, segments)


async def forward(edge: EdgeBackend, request: Request, segments: list[str]) -> Response:
    """Send the request on to the service as it came, a function named by its declared
    ``FunctionName`` turned into the name canaria serves it by. The service does not
    apply ``ListDurableExecutionsByFunction``'s ``Statuses`` (it reads another name and
    compares a list with a string), so canaria keeps them back and filters (``_listed``)."""
    statuses: set[str] = set()
    if segments[0] == "functions":
        segments = list(segments)
        name = edge.function_named(unquote(segments[1]))
        try:
            edge.function_spec(name)
        except CanariaError as exc:
            return rest_error_from(exc)
        segments[1] = quote(name, safe="")
    path = PREFIX + "/".join(segments)
    pairs = parse_qsl(request.scope.get("query_string", b"").decode(), keep_blank_values=True)
    if segments[0] == "functions":
        statuses = {value for key, value in pairs if key == "Statuses"}
        pairs = [(key, value) for key, value in pairs if key != "Statuses"]
    if statuses and request.method == "GET":
        try:
            return await _listed(edge, path, pairs, statuses)
        except CanariaError as exc:
            return rest_error_from(exc)
    if pairs:
        path = f"{path}?{urlencode(pairs)}"
    try:
        status, headers, body = await edge.durable.request(
            request.method, path, await request.body()
        )
    except CanariaError as exc:
        return rest_error_from(exc)
    kept = {k: v for k, v in headers.items() if k.lower() in ("content-type", "x-amzn-errortype")}
    if status >= 400 and not any(k.lower() == "x-amzn-errortype" for k in kept):
        body, code = _lambda_error(body)
        if code is not None:
            kept["X-Amzn-ErrorType"] = code
    return Response(body, status_code=status, headers=kept)


def _lambda_error(body: bytes) -> tuple[bytes, str | None]:
    """The service's error (``{"Type": "<exception>", "message": ...}``) as Lambda
    answers one: the exception's name in ``X-Amzn-ErrorType``, where the SDKs read it,
    and ``{"Type": "User", "message": ...}``."""
    try:
        error = json.loads(body)
        code, message = error["Type"], error.get("message") or error.get("Message") or ""
    except (ValueError, KeyError, TypeError):
        return body, None
    if not isinstance(code, str) or code in ("User", "Service"):
        return body, None
    return json.dumps({"Type": "User", "message": message}).encode(), code


PAGE = 50  # the service's own page size, when MaxItems is not given
_MARKER = "canaria-"


async def _listed(
    edge: EdgeBackend, path: str, pairs: list[tuple[str, str]], statuses: set[str]
) -> Response:
    """``ListDurableExecutionsByFunction`` with ``Statuses``: the service's pages read
    through and filtered, then paged (``MaxItems``, a ``Marker`` of canaria's), as Lambda
    filters before it pages. Filtering each of the service's pages instead would answer an
    empty page while matches wait on the next."""
    given = dict(pairs)
    offset = given.get("Marker", "").removeprefix(_MARKER)
    start = int(offset) if offset.isdigit() else 0
    size = int(given["MaxItems"]) if given.get("MaxItems", "").isdigit() else PAGE
    rest = [(k, v) for k, v in pairs if k not in ("Marker", "MaxItems")]
    found: list[Any] = []
    following: str | None = None
    while True:
        query = rest + ([("Marker", following)] if following else [])
        status, headers, body = await edge.durable.request(
            "GET", f"{path}?{urlencode(query)}" if query else path, b""
        )
        if status != 200:
            kept = {k: v for k, v in headers.items() if k.lower() == "content-type"}
            return Response(body, status_code=status, headers=kept)
        page = json.loads(body)
        found += [e for e in page.get("DurableExecutions", ()) if e.get("Status") in statuses]
        following = page.get("NextMarker")
        if not following:
            break
    chosen = found[start : start + max(size, 1)]
    answer: dict[str, Any] = {"DurableExecutions": chosen}
    if start + len(chosen) < len(found):
        answer["NextMarker"] = f"{_MARKER}{start + len(chosen)}"
    return Response(json.dumps(answer), media_type="application/json")


def unknown(method: str, path: str) -> Response:
    return rest_error(
        404,
        "UnknownOperationException",
        f"{method} {path} is not an operation of Lambda's durable execution API",
    )
