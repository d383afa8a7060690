"""CloudWatch Logs (JSON 1.1, ``Logs_20140328``) over canaria's log groups.

``canaria.log_groups`` says what a group holds: the lines of the functions that write to
it (``/aws/lambda/<function>``, or the group a ``LoggingConfig`` names) and the lines
written to it (``PutLogEvents``, state machines' execution history, EventBridge rule
targets). Served:

- groups: ``CreateLogGroup``, ``DeleteLogGroup``, ``DescribeLogGroups`` (by prefix or
  pattern, paged), ``PutRetentionPolicy``, ``DeleteRetentionPolicy``;
- streams: ``CreateLogStream``, ``DescribeLogStreams`` (by prefix, by name or last event
  time, either order, paged);
- events: ``PutLogEvents`` (a batch in time order, at most 10,000 events and 1 MB, as
  CloudWatch Logs takes it), ``GetLogEvents`` (one stream, forward and backward tokens
  ``f/<n>`` and ``b/<n>``), ``FilterLogEvents`` (the whole filter pattern syntax, as
  ``canaria.analysis.filter_patterns`` implements it: terms, ``%regex%``, JSON and
  space-delimited; an empty pattern matches everything; one it refuses is answered
  ``InvalidParameterException`` with its message).

A group or stream named in a request may be given by name or, where CloudWatch Logs
allows it (``logGroupIdentifier``), by ARN. The edge serves what the log book holds in
memory (the last 5,000 lines per function or group).
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.responses import Response

from canaria.analysis.filter_patterns import FilterPatternError, parse
from canaria.aws.backend import EdgeBackend
from canaria.aws.responses import AMZ_JSON_11, json_error, json_response
from canaria.log_groups import GROUP_NAME, RETENTION_DAYS, GroupInfo, group_arn, name_of_arn
from canaria.logbook import LogEntry

Handler = Callable[[EdgeBackend, dict[str, Any]], Awaitable[Response]]

MAX_LIMIT = 10_000
MAX_GROUPS = 50
MAX_BATCH_EVENTS = 10_000
MAX_BATCH_BYTES = 1_048_576
EVENT_OVERHEAD = 26  # bytes CloudWatch Logs counts for each event besides its message
STREAM_NAME = re.compile(r"^[^:*]{1,512}$")


class _Invalid(Exception):
    """A request CloudWatch Logs answers ``InvalidParameterException``."""


class _Missing(Exception):
    """A group or stream that does not exist: ``ResourceNotFoundException``."""


# -- reading a request -------------------------------------------------------------------


def _int(body: dict[str, Any], key: str, lo: int = 0, hi: int | None = None) -> int | None:
    value = body.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < lo:
        raise _Invalid(f"{key} must be an integer of at least {lo}")
    if hi is not None and value > hi:
        raise _Invalid(f"{key} must be between {lo} and {hi}")
    return value


def _text(body: dict[str, Any], key: str, required: bool = True) -> str | None:
    value = body.get(key)
    if value is None and not required:
        return None
    if not isinstance(value, str) or not value:
        raise _Invalid(f"{key} is required" if value is None else f"{key} must be a string")
    return value


def _group_name(body: dict[str, Any], *, identifier: bool) -> str:
    """The group a request names: ``logGroupName``, or (where allowed)
    ``logGroupIdentifier``, a name or an ARN."""
    name, ident = body.get("logGroupName"), body.get("logGroupIdentifier") if identifier else None
    if name is not None and ident is not None:
        raise _Invalid("give logGroupName or logGroupIdentifier, not both")
    value = name if name is not None else ident
    if not isinstance(value, str) or not value:
        wanted = "logGroupName or logGroupIdentifier" if identifier else "logGroupName"
        raise _Invalid(f"{wanted} is required")
    named = name_of_arn(value) if ident is not None and value is ident else None
    if named is not None:
        return named
    if not GROUP_NAME.match(value):
        raise _Invalid(
            f"log group name {value!r} is not valid: 1 to 512 characters of letters, "
            "digits, '.', '-', '_', '/' and '#'"
        )
    return value


def _group(edge: EdgeBackend, body: dict[str, Any], *, identifier: bool = False) -> GroupInfo:
    info = edge.log_groups.get(_group_name(body, identifier=identifier))
    if info is None:
        raise _Missing("The specified log group does not exist.")
    return info


def _stream_name(body: dict[str, Any]) -> str:
    stream = _text(body, "logStreamName")
    assert stream is not None
    if not STREAM_NAME.match(stream):
        raise _Invalid(
            f"log stream name {stream!r} is not valid: 1 to 512 characters, no ':' or '*'"
        )
    return stream


def _page(body: dict[str, Any]) -> int:
    token = body.get("nextToken")
    if token is None:
        return 0
    if not isinstance(token, str) or not token.isdigit():
        raise _Invalid("The specified nextToken is invalid.")
    return int(token)


def _event(entry: LogEntry, stream: str | None = None) -> dict[str, Any]:
    ms = int(entry.time * 1000)
    out: dict[str, Any] = {"timestamp": ms, "message": entry.text, "ingestionTime": ms}
    if stream is not None:
        out = {"logStreamName": stream, **out, "eventId": f"{entry.seq:020d}"}
    return out


# -- groups ------------------------------------------------------------------------------


async def create_log_group(edge: EdgeBackend, body: dict[str, Any]) -> Response:
    name = _group_name(body, identifier=False)
    if edge.log_groups.get(name) is not None:
        return json_error(
            "ResourceAlreadyExistsException", "The specified log group already exists"
        )
    edge.log_groups.ensure(name)
    return _ok()


async def delete_log_group(edge: EdgeBackend, body: dict[str, Any]) -> Response:
    info = _group(edge, body)
    edge.log_groups.delete(info.name)
    return _ok()


async def describe_log_groups(edge: EdgeBackend, body: dict[str, Any]) -> Response:
    prefix = _text(body, "logGroupNamePrefix", required=False)
    pattern = _text(body, "logGroupNamePattern", required=False)
    if prefix is not None and pattern is not None:
        raise _Invalid("logGroupNamePrefix and logGroupNamePattern cannot both be given")
    limit = _int(body, "limit", 1, MAX_GROUPS) or MAX_GROUPS
    start = _page(body)
    names = [
        n
        for n in edge.log_groups.names()
        if (prefix is None or n.startswith(prefix))
        and (pattern is None or pattern.lower() in n.lower())
    ]
    page = names[start : start + limit]
    groups = []
    for name in page:
        info = edge.log_groups.get(name)
        assert info is not None
        arn = group_arn(name)
        group: dict[str, Any] = {
            "logGroupName": name,
            "creationTime": info.created_ms,
            "metricFilterCount": 0,
            "arn": f"{arn}:*",
            "storedBytes": 0,
            "logGroupClass": "STANDARD",
            "logGroupArn": arn,
        }
        if info.retention_days is not None:
            group["retentionInDays"] = info.retention_days
        groups.append(group)
    out: dict[str, Any] = {"logGroups": groups}
    if start + limit < len(names):
        out["nextToken"] = str(start + limit)
    return json_response(out, media_type=AMZ_JSON_11)


async def put_retention_policy(edge: EdgeBackend, body: dict[str, Any]) -> Response:
    info = _group(edge, body)
    days = _int(body, "retentionInDays", 1)
    if days not in RETENTION_DAYS:
        raise _Invalid(
            f"retentionInDays must be one of {', '.join(map(str, RETENTION_DAYS))}, got {days}"
        )
    info.retention_days = days
    return _ok()


async def delete_retention_policy(edge: EdgeBackend, body: dict[str, Any]) -> Response:
    _group(edge, body).retention_days = None
    return _ok()


# -- streams -----------------------------------------------------------------------------


async def create_log_stream(edge: EdgeBackend, body: dict[str, Any]) -> Response:
    info = _group(edge, body)
    stream = _stream_name(body)
    if stream in info.streams:
        return json_error(
            "ResourceAlreadyExistsException", "The specified log stream already exists"
        )
    info.streams[stream] = int(edge.clock.now() * 1000)
    return _ok()


async def describe_log_streams(edge: EdgeBackend, body: dict[str, Any]) -> Response:
    info = _group(edge, body, identifier=True)
    prefix = _text(body, "logStreamNamePrefix", required=False)
    order = body.get("orderBy", "LogStreamName")
    if order not in ("LogStreamName", "LastEventTime"):
        raise _Invalid("orderBy must be LogStreamName or LastEventTime")
    if order == "LastEventTime" and prefix is not None:
        raise _Invalid("Cannot order by LastEventTime with a logStreamNamePrefix.")
    descending = body.get("descending", False) is True
    limit = _int(body, "limit", 1, 50) or 50
    start = _page(body)
    streams = [
        s for s in edge.log_groups.streams(info) if prefix is None or s.name.startswith(prefix)
    ]
    if order == "LogStreamName":
        streams.sort(key=lambda s: s.name, reverse=descending)
    else:
        streams.sort(key=lambda s: s.last_ms or s.created_ms, reverse=descending)
    page = streams[start : start + limit]
    out: dict[str, Any] = {
        "logStreams": [
            {
                "logStreamName": s.name,
                "creationTime": s.created_ms,
                "arn": f"{group_arn(info.name)}:log-stream:{s.name}",
                "storedBytes": 0,
                **(
                    {
                        "firstEventTimestamp": s.first_ms,
                        "lastEventTimestamp": s.last_ms,
                        "lastIngestionTime": s.last_ms,
                    }
                    if s.first_ms is not None
                    else {}
                ),
            }
            for s in page
        ]
    }
    if start + limit < len(streams):
        out["nextToken"] = str(start + limit)
    return json_response(out, media_type=AMZ_JSON_11)


# -- events ------------------------------------------------------------------------------


async def put_log_events(edge: EdgeBackend, body: dict[str, Any]) -> Response:
    info = _group(edge, body)
    stream = _stream_name(body)
    if stream not in info.streams:
        raise _Missing("The specified log stream does not exist.")
    raw = body.get("logEvents")
    if not isinstance(raw, list) or not raw:
        raise _Invalid("logEvents must be a list of 1 to 10000 events")
    if len(raw) > MAX_BATCH_EVENTS:
        raise _Invalid(f"logEvents holds {len(raw)} events; at most {MAX_BATCH_EVENTS}")
    events: list[tuple[int, str]] = []
    size = 0
    for i, e in enumerate(raw):
        if not isinstance(e, dict):
            raise _Invalid(f"logEvents[{i}] must be an object with timestamp and message")
        ts, message = e.get("timestamp"), e.get("message")
        if isinstance(ts, bool) or not isinstance(ts, int) or ts < 0:
            raise _Invalid(f"logEvents[{i}].timestamp must be milliseconds since the epoch")
        if not isinstance(message, str) or not message:
            raise _Invalid(f"logEvents[{i}].message must be a non-empty string")
        if events and ts < events[-1][0]:
            raise _Invalid(
                "Log events in a single PutLogEvents request must be in chronological order."
            )
        size += len(message.encode("utf-8", "replace")) + EVENT_OVERHEAD
        events.append((ts, message))
    if size > MAX_BATCH_BYTES:
        raise _Invalid(f"the batch is {size} bytes; at most {MAX_BATCH_BYTES}")
    edge.log_groups.write(info.name, stream, events)
    return json_response({}, media_type=AMZ_JSON_11)


async def get_log_events(edge: EdgeBackend, body: dict[str, Any]) -> Response:
    info = _group(edge, body, identifier=True)
    stream = _stream_name(body)
    start, end = _int(body, "startTime"), _int(body, "endTime")
    limit = _int(body, "limit", 1, MAX_LIMIT) or MAX_LIMIT
    head = body.get("startFromHead", False) is True
    token = body.get("nextToken")
    in_stream = [e for e, s in edge.log_groups.lines(info) if s == stream]
    if not in_stream and stream not in info.streams:
        raise _Missing("The specified log stream does not exist.")
    lines = [
        e
        for e in in_stream
        if (start is None or e.time * 1000 >= start) and (end is None or e.time * 1000 < end)
    ]
    if token is not None:  # f/<seq>: the events after it; b/<seq>: the ones before it
        if not isinstance(token, str) or token[:2] not in ("f/", "b/") or not token[2:].isdigit():
            raise _Invalid("The specified nextToken is invalid.")
        seq = int(token[2:])
        forward = token.startswith("f/")
        chosen = (
            [e for e in lines if e.seq > seq][:limit]
            if forward
            else [e for e in lines if e.seq < seq][-limit:]
        )
    else:
        chosen = lines[:limit] if head else lines[-limit:]
    first = chosen[0].seq if chosen else (int(token[2:]) if token else 0)
    last = chosen[-1].seq if chosen else first
    return json_response(
        {
            "events": [_event(e) for e in chosen],
            "nextForwardToken": f"f/{last}",
            "nextBackwardToken": f"b/{first}",
        },
        media_type=AMZ_JSON_11,
    )


async def filter_log_events(edge: EdgeBackend, body: dict[str, Any]) -> Response:
    info = _group(edge, body, identifier=True)
    start, end = _int(body, "startTime"), _int(body, "endTime")
    limit = _int(body, "limit", 1, MAX_LIMIT) or MAX_LIMIT
    try:
        pattern = parse(str(body.get("filterPattern") or ""))
    except FilterPatternError as exc:
        raise _Invalid(str(exc)) from None
    names = body.get("logStreamNames")
    prefix = body.get("logStreamNamePrefix")
    if names is not None and prefix is not None:
        raise _Invalid("logStreamNames and logStreamNamePrefix cannot both be given")
    after = _page(body)
    events: list[dict[str, Any]] = []
    for e, stream in edge.log_groups.lines(info, after):
        ms = int(e.time * 1000)
        if (start is not None and ms < start) or (end is not None and ms > end):
            continue
        if names is not None and stream not in names:
            continue
        if isinstance(prefix, str) and not stream.startswith(prefix):
            continue
        if pattern.match(e.text) is None:
            continue
        events.append(_event(e, stream))
        if len(events) >= limit:
            break
    out: dict[str, Any] = {"events": events, "searchedLogStreams": []}
    if len(events) >= limit:
        out["nextToken"] = str(int(events[-1]["eventId"]))
    return json_response(out, media_type=AMZ_JSON_11)


def _ok() -> Response:
    return Response(b"", status_code=200, media_type=AMZ_JSON_11)


def _answering(handler: Handler) -> Handler:
    """``handler`` with its refusals answered as CloudWatch Logs answers them."""

    async def answer(edge: EdgeBackend, body: dict[str, Any]) -> Response:
        try:
            return await handler(edge, body)
        except _Invalid as exc:
            return json_error("InvalidParameterException", str(exc))
        except _Missing as exc:
            return json_error("ResourceNotFoundException", str(exc))

    return answer


OPERATIONS: dict[str, Handler] = {
    name: _answering(handler)
    for name, handler in {
        "CreateLogGroup": create_log_group,
        "DeleteLogGroup": delete_log_group,
        "DescribeLogGroups": describe_log_groups,
        "PutRetentionPolicy": put_retention_policy,
        "DeleteRetentionPolicy": delete_retention_policy,
        "CreateLogStream": create_log_stream,
        "DescribeLogStreams": describe_log_streams,
        "PutLogEvents": put_log_events,
        "GetLogEvents": get_log_events,
        "FilterLogEvents": filter_log_events,
    }.items()
}
