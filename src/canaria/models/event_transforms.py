"""What an EventBridge rule hands one of its targets: the event, or what the target's
``Input``, ``InputPath`` or ``InputTransformer`` makes of it.

- ``Input``: that text, whatever the event was.
- ``InputPath``: the part of the event the path names, as JSON (a string arrives quoted).
- ``InputTransformer``: each ``InputPathsMap`` variable is the event's value at its path;
  each ``<name>`` in ``InputTemplate`` is filled in. Besides the map's names, the reserved
  ``aws.events.rule-arn``, ``aws.events.rule-name``, ``aws.events.event.ingestion-time``,
  ``aws.events.event`` (the event without ``detail``, ``detail-type`` written
  ``detailType``) and ``aws.events.event.json`` (the whole event).

How a value is written depends on where its placeholder stands, as EventBridge writes it:

- outside a JSON string of a JSON template, as JSON (a string is quoted), and ``""`` for
  a path that names nothing;
- inside a JSON string, as text, unescaped: a string as it is, a number or a boolean as
  JSON, nothing for a path that names nothing; an object or a list as JSON, with its quotes
  taken out when the template is a string (``"Payload <p>"`` → ``"Payload {id:1}"``) and
  left in when it is a JSON object (which then is not JSON: the target gets nothing).

A template that starts with ``{`` or ``[`` must be JSON once filled: the target gets it
minified, or nothing at all when it is not. Any other template is text: each value is
written as inside a string, and the target gets the text it fills to, quotes included
(``"<name> started"`` arrives as ``"web started"``, ``<name> started`` as ``web started``).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

RESERVED = (
    "aws.events.rule-arn",
    "aws.events.rule-name",
    "aws.events.event.ingestion-time",
    "aws.events.event",
    "aws.events.event.json",
)
PLACEHOLDER = re.compile(r"<([A-Za-z0-9_.\-]+)>")
VARIABLE = re.compile(r"^[A-Za-z0-9_\-]{1,256}$")
MAX_VARIABLES = 100
MAX_TEMPLATE = 8192
_PATH = re.compile(r"^\$(?:(?:\.[^.\[\]]+)|(?:\[(?:\d+|\*)\]))*$")
_PART = re.compile(r"\.([^.\[\]]+)|\[(\d+|\*)\]")
MISSING = object()  # what ``lookup`` gives for a path that names nothing


@dataclass(frozen=True)
class EventTransform:
    """One target's ``Input``, ``InputPath`` or ``InputTransformer`` (one of the three)."""

    input: str | None = None
    input_path: str | None = None
    paths: tuple[tuple[str, str], ...] = ()  # InputPathsMap, in the template's order
    template: str | None = None  # InputTemplate


def check_path(path: str) -> str | None:
    """Why ``path`` is not a JSON path EventBridge evaluates (dot notation, array indices,
    ``*``), or None."""
    if not _PATH.match(path):
        return f"{path!r} is not a JSON path EventBridge reads ($.detail.name, $.resources[0])"
    return None


def check_transformer(paths: Mapping[str, str], template: str) -> str | None:
    """Why an ``InputTransformer`` is refused, as ``PutTargets`` refuses it; None when
    it is not."""
    if len(paths) > MAX_VARIABLES:
        return f"InputPathsMap has {len(paths)} variables; EventBridge takes at most 100"
    for name, path in paths.items():
        if name.lower().startswith("aws."):
            return f"variable name {name!r} starts with 'AWS.', which EventBridge reserves"
        if not VARIABLE.match(name):
            return f"variable name {name!r} is not letters, digits, _ and - (1 to 256)"
        if problem := check_path(path):
            return f"InputPathsMap.{name}: {problem}"
    if not 1 <= len(template) <= MAX_TEMPLATE:
        return "InputTemplate must be 1 to 8,192 characters"
    for name in PLACEHOLDER.findall(template):
        if name not in paths and name not in RESERVED:
            return (
                f"InputTemplate uses <{name}>, which is neither a variable of InputPathsMap nor "
                "one of EventBridge's reserved aws.events.* variables"
            )
    return None


def lookup(event: Any, path: str) -> Any:
    """The value at ``path`` in ``event`` (``$.detail.items[0].id``; ``*`` gives every
    value of a list or object); ``MISSING`` when the path names nothing."""
    values = [event]
    wild = False
    for name, index in _PART.findall(path[1:]):
        key = name or index
        found: list[Any] = []
        for value in values:
            if key == "*":
                wild = True
                if isinstance(value, list):
                    found.extend(value)
                elif isinstance(value, dict):
                    found.extend(value.values())
            elif isinstance(value, dict) and key in value:
                found.append(value[key])
            elif isinstance(value, list) and key.isdigit() and int(key) < len(value):
                found.append(value[int(key)])
        values = found
    if wild:
        return values
    return values[0] if values else MISSING


def reserved(event: Mapping[str, Any], rule_arn: str, rule_name: str) -> dict[str, Any]:
    """The ``aws.events.*`` variables for ``event`` delivered by the rule."""
    without_detail = {
        ("detailType" if k == "detail-type" else k): v for k, v in event.items() if k != "detail"
    }
    return {
        "aws.events.rule-arn": rule_arn,
        "aws.events.rule-name": rule_name,
        "aws.events.event.ingestion-time": event.get("time", ""),
        "aws.events.event": without_detail,
        "aws.events.event.json": dict(event),
    }


def _minified(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def _in_string(value: Any, json_template: bool) -> str:
    if value is MISSING:
        return ""
    if isinstance(value, str):
        return value
    text = _minified(value)
    if isinstance(value, (dict, list)) and not json_template:
        return text.replace('"', "")
    return text


def substitute(template: str, pattern: re.Pattern[str], write: Callable[[str, bool], str]) -> str:
    """``template`` with each match of ``pattern`` replaced by ``write(name, in_string)``:
    its first group, and whether it stands inside a JSON string (a ``\\"`` in a string
    does not end it). EventBridge's input templates and Pipes' share this reading."""
    out: list[str] = []
    in_string = False
    i = 0
    while i < len(template):
        ch = template[i]
        if ch == "\\" and in_string:
            out.append(template[i : i + 2])
            i += 2
            continue
        if ch == '"':
            in_string = not in_string
        elif ch == "<":
            m = pattern.match(template, i)
            if m is not None:
                out.append(write(m.group(1), in_string))
                i = m.end()
                continue
        out.append(ch)
        i += 1
    return "".join(out)


def fill(template: str, values: Mapping[str, Any]) -> str | None:
    """``template`` with its placeholders filled from ``values``; None when a template that
    starts as JSON does not end as JSON (EventBridge then delivers nothing)."""
    json_template = template.lstrip()[:1] in ("{", "[")

    def write(name: str, in_string: bool) -> str:
        value = values.get(name, MISSING)
        if in_string or not json_template:
            return _in_string(value, json_template)
        return '""' if value is MISSING else _minified(value)

    filled = substitute(template, PLACEHOLDER, write)
    if not json_template:
        return filled
    try:
        return _minified(json.loads(filled))
    except ValueError:
        return None


def apply(
    transform: EventTransform | None, event: Mapping[str, Any], rule_arn: str, rule_name: str
) -> str | None:
    """What the target gets for ``event``: a text (JSON, or the template's text), or None
    when EventBridge would deliver nothing."""
    if transform is None:
        return _minified(event)
    if transform.input is not None:
        return transform.input
    if transform.input_path is not None:
        value = lookup(event, transform.input_path)
        return None if value is MISSING else _minified(value)
    if transform.template is None:
        return _minified(event)
    values: dict[str, Any] = {}
    for name, path in transform.paths:
        values[name] = lookup(event, path)
    values.update(reserved(event, rule_arn, rule_name))
    return fill(transform.template, values)


__all__ = [
    "MISSING",
    "RESERVED",
    "EventTransform",
    "apply",
    "check_path",
    "check_transformer",
    "fill",
    "lookup",
    "reserved",
    "substitute",
]
