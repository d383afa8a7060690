"""Schedules that invoke functions and start state machines: their ``Schedule`` (an
EventBridge rule) and ``ScheduleV2`` (EventBridge Scheduler) events, and
``AWS::Events::Rule`` resources with a ``ScheduleExpression`` that target a function.

Expressions are checked here as EventBridge checks them: ``rate(value unit)``,
``cron(minutes hours day-of-month month day-of-week year)`` (AWS's six fields, checked by
``aws-cron-expression-validator``) and, for Scheduler only, a one-time
``at(yyyy-mm-ddThh:mm:ss)``.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from aws_cron_expression_validator.validator import AWSCronExpressionValidator

from canaria.models.event_transforms import EventTransform

__all__ = [
    "RATE_UNITS",
    "ScheduleKind",
    "ScheduleTarget",
    "ScheduledInvocation",
    "check_expression",
    "check_timezone",
    "rate_seconds",
]

RATE_UNITS = {"minute": 60, "hour": 3600, "day": 86400}
_RATE = re.compile(r"^rate\(\s*(\d+)\s+([a-z]+)\s*\)$")
_CRON = re.compile(r"^cron\((.*)\)$")
_AT = re.compile(r"^at\((\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})\)$")


class ScheduleKind(enum.Enum):
    RULE = "Schedule"  # EventBridge: the "Scheduled Event" envelope, or the target's Input
    SCHEDULER = "ScheduleV2"  # EventBridge Scheduler: the Input, or {}


class ScheduleTarget(enum.Enum):
    FUNCTION = "function"  # invoked through its AutoPublishAlias, asynchronously
    STATE_MACHINE = "state machine"  # an execution started
    # a queue: the event sent to it. A Scheduler schedule's SQS target; a scheduled rule's
    # target canaria carries on (a queue, a topic, a log group, an API destination, a
    # GraphQL API) through its relay queue, whose reader transforms and delivers the event
    # as it does a matched one
    QUEUE = "queue"


@dataclass(frozen=True)
class ScheduledInvocation:
    """``target`` (a function's logical id, a state machine's name, or a rule target's
    relay queue) is invoked, started or sent the event each time ``expression`` comes due
    on canaria's clock, so ``--time-scale`` compresses it too."""

    target: str
    name: str  # the event's name under Events, or "<rule>.<target id>"
    expression: str
    kind: ScheduleKind
    rule_arn: str  # the event's "resources"
    input: str | None = None  # the JSON the function gets instead of the default event
    timezone: str = "UTC"  # ScheduleExpressionTimezone (Scheduler); rules run in UTC
    enabled: bool = True
    target_type: ScheduleTarget = ScheduleTarget.FUNCTION
    # a scheduled rule's target: its InputPath or InputTransformer (its Input is ``input``)
    transform: EventTransform | None = None


def check_expression(expression: str, kind: ScheduleKind) -> str | None:
    """What is wrong with ``expression`` for ``kind``, or None when EventBridge takes it."""
    if m := _RATE.match(expression):
        value, unit = int(m.group(1)), m.group(2)
        if value < 1:
            return f"rate {value} must be a positive whole number"
        if unit.rstrip("s") not in RATE_UNITS:
            return f"unknown rate unit {unit!r} (minute(s), hour(s) or day(s))"
        # EventBridge rules want the unit to agree with the value; for the Scheduler this
        # is not documented, and an AWS sample (serverless-patterns'
        # eventbridge-schedule-to-lambda) writes rate(5 minute): not refused
        if kind is ScheduleKind.RULE and (value == 1) != (unit in RATE_UNITS):
            want = unit.rstrip("s") if value == 1 else unit.rstrip("s") + "s"
            return f"rate({value} {unit}) must be written rate({value} {want})"
        return None
    if m := _CRON.match(expression):
        try:
            AWSCronExpressionValidator.validate(m.group(1).strip())
        except ValueError as exc:
            return " ".join(str(exc).split())
        return None
    if m := _AT.match(expression):
        if kind is not ScheduleKind.SCHEDULER:
            return "a one-time at(...) expression is for ScheduleV2 (EventBridge Scheduler) only"
        try:
            datetime.fromisoformat(m.group(1))
        except ValueError as exc:
            return f"at(...): {exc}"
        return None
    allowed = "rate(...), cron(...)" + (", at(...)" if kind is ScheduleKind.SCHEDULER else "")
    return f"{expression!r} is not a schedule expression ({allowed})"


def check_timezone(name: str) -> str | None:
    """What is wrong with an IANA time zone name, or None."""
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return f"unknown time zone {name!r} (an IANA name, e.g. Europe/Paris)"
    return None


def rate_seconds(expression: str) -> float | None:
    """The period of a ``rate(...)`` expression in seconds; None for other expressions."""
    m = _RATE.match(expression)
    return int(m.group(1)) * RATE_UNITS[m.group(2).rstrip("s")] if m else None
