"""CloudWatch Logs' FilterLogEvents (JSON 1.1, ``Logs_20140328``) over the functions' logs.

Each function's lines are the log group ``/aws/lambda/<function>``; a line's stream is
named as Lambda names it, ``YYYY/MM/DD/[VERSION]<id>``, so its version is in the name.
Lambda gives each execution environment a stream and an environment serves one request
at a time; canaria's lines carry their request id, so the id is derived from it and each
request reads as its own short stream (the same sequence a reader of a real stream
sees: the request's lines, END, REPORT). The edge serves what the log book holds in
memory (the last 5,000 lines per function).

Filter patterns: CloudWatch Logs' whole syntax — terms, ``%regex%``, JSON (``{ $.level =
"ERROR" }``) and space-delimited (``[ip, ..., status = 5*]``), as
``canaria.analysis.filter_patterns`` implements it (its docstring says what is supported and
what is refused); an empty pattern matches everything. A pattern it refuses is answered
``InvalidParameterException`` with its message (the column, what is wrong, what is allowed).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from starlette.responses import Response

from canaria.analysis.filter_patterns import FilterPatternError, parse
from canaria.aws.backend import EdgeBackend
from canaria.aws.responses import AMZ_JSON_11, json_error, json_response
from canaria.logbook import stream_name

Handler = Callable[[EdgeBackend, dict[str, Any]], Awaitable[Response]]

GROUP_PREFIX = "/aws/lambda/"
MAX_LIMIT = 10_000


def _int(body: dict[str, Any], key: str) -> int | str | None:
    value = body.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        return f"{key} must be a non-negative integer (milliseconds since the epoch)"
    return value


async def filter_log_events(edge: EdgeBackend, body: dict[str, Any]) -> Response:
    if body.get("logGroupName") and body.get("logGroupIdentifier"):
        return _invalid("give logGroupName or logGroupIdentifier, not both")
    group = body.get("logGroupName") or body.get("logGroupIdentifier")
    if not isinstance(group, str) or not group:
        return _invalid("logGroupName or logGroupIdentifier is required")
    function = group.removeprefix(GROUP_PREFIX)
    if edge.app is None or not group.startswith(GROUP_PREFIX) or function not in edge.app.functions:
        return json_error("ResourceNotFoundException", "The specified log group does not exist.")
    bounds = [_int(body, k) for k in ("startTime", "endTime", "limit")]
    for b in bounds:
        if isinstance(b, str):
            return _invalid(b)
    start, end, limit = (b if isinstance(b, int) else None for b in bounds)
    if limit is not None and not 1 <= limit <= MAX_LIMIT:
        return _invalid(f"limit must be between 1 and {MAX_LIMIT}")
    try:
        pattern = parse(str(body.get("filterPattern") or ""))
    except FilterPatternError as exc:
        return _invalid(str(exc))
    names = body.get("logStreamNames")
    prefix = body.get("logStreamNamePrefix")
    if names is not None and prefix is not None:
        return _invalid("logStreamNames and logStreamNamePrefix cannot both be given")
    token = body.get("nextToken")
    after = 0
    if token is not None:
        if not isinstance(token, str) or not token.isdigit():
            return _invalid("The specified nextToken is invalid.")
        after = int(token)
    limit = limit or MAX_LIMIT
    events: list[dict[str, Any]] = []
    last = after
    for e in edge.logbook.since(function, after, limit=1_000_000):
        last = e.seq
        ms = int(e.time * 1000)
        if (start is not None and ms < start) or (end is not None and ms > end):
            continue
        stream = stream_name(e)
        if names is not None and stream not in names:
            continue
        if isinstance(prefix, str) and not stream.startswith(prefix):
            continue
        if pattern.match(e.text) is None:
            continue
        events.append(
            {
                "logStreamName": stream,
                "timestamp": ms,
                "message": e.text,
                "ingestionTime": ms,
                "eventId": f"{e.seq:020d}",
            }
        )
        if len(events) >= limit:
            break
    out: dict[str, Any] = {"events": events, "searchedLogStreams": []}
    if len(events) >= limit:
        out["nextToken"] = str(last)
    return json_response(out, media_type=AMZ_JSON_11)


def _invalid(message: str) -> Response:
    return json_error("InvalidParameterException", message)


OPERATIONS: dict[str, Handler] = {"FilterLogEvents": filter_log_events}
