"""Lambda's event filtering (an event source's ``FilterCriteria``): EventBridge pattern
syntax over the record Lambda would hand the function, matched with moto's EventBridge
pattern engine (the one that also matches the template's rules, so both read a pattern
the same way). Loaded lazily: only templates with filters pay for the import."""

from __future__ import annotations

import base64
import functools
import json
from collections.abc import Mapping
from typing import Any

__all__ = ["MAX_FILTERS", "check_pattern", "kinesis_filter_view", "matches_any", "sqs_filter_view"]

MAX_FILTERS = 5  # Lambda's default quota of filters per event source mapping


def check_pattern(text: str) -> str | None:
    """What is wrong with a filter ``Pattern``, or None."""
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        return f"the pattern is not JSON: {exc.msg}"
    if not isinstance(value, dict) or not value:
        return "a pattern is a non-empty JSON object"
    try:
        _load(text)
    except Exception as exc:  # moto's InvalidEventPatternException, or its parser failing
        message = getattr(exc, "message", None) or str(exc)
        return f"the pattern is not valid: {message}"
    return None


def matches_any(patterns: tuple[str, ...], view: Mapping[str, Any]) -> bool:
    """Whether ``view`` matches one of ``patterns`` (Lambda ORs an event source's filters)."""
    return any(_load(p).matches_event(view) for p in patterns)


def sqs_filter_view(record: Mapping[str, Any]) -> dict[str, Any]:
    """An SQS record as Lambda filters it: a body that is a JSON object is matched by its
    fields, any other body as the plain string."""
    body = record.get("body", "")
    try:
        parsed = json.loads(body)
    except (TypeError, ValueError):
        parsed = None
    return {**record, "body": parsed if isinstance(parsed, dict) else body}


def kinesis_filter_view(record: dict[str, Any]) -> dict[str, Any]:
    """A record as Lambda filters a Kinesis record: only its ``data``, matched by its
    fields when it is a JSON object."""
    raw = record["Data"]
    try:
        parsed = json.loads(raw)
    except (TypeError, ValueError):
        parsed = None
    if isinstance(parsed, dict):
        return {"data": parsed}
    try:
        return {"data": raw.decode()}
    except UnicodeDecodeError:
        return {"data": base64.b64encode(raw).decode()}


@functools.lru_cache(maxsize=256)
def _load(text: str) -> Any:
    from moto.events.models import EventPattern

    return EventPattern.load(text)
