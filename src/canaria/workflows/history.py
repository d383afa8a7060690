"""Execution history and results, shaped the way Step Functions reports them.

Each :class:`HistoryEvent` has an id, the id of the event before it on the same thread of
execution (a Parallel branch or Map iteration has its own chain), a timestamp, a type
(``TaskStateEntered``, ``TaskScheduled``, ...) and details; ``to_api()`` gives the
``GetExecutionHistory`` shape (``stateEnteredEventDetails``, ``taskFailedEventDetails``, ...).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any


class ExecutionStatus(StrEnum):
    RUNNING = "RUNNING"
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"
    TIMED_OUT = "TIMED_OUT"
    ABORTED = "ABORTED"


@dataclass(frozen=True)
class HistoryEvent:
    id: int
    previous_event_id: int
    timestamp: float  # virtual seconds since the epoch (the execution's clock)
    type: str
    details: Mapping[str, Any] = field(default_factory=dict)

    @property
    def details_key(self) -> str:
        """The name Step Functions gives this event's details field."""
        if self.type.endswith("StateEntered"):
            return "stateEnteredEventDetails"
        if self.type.endswith("StateExited"):
            return "stateExitedEventDetails"
        return self.type[0].lower() + self.type[1:] + "EventDetails"

    def to_api(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "id": self.id,
            "previousEventId": self.previous_event_id,
            "timestamp": self.timestamp,
            "type": self.type,
        }
        if self.details:
            out[self.details_key] = dict(self.details)
        return out


@dataclass(frozen=True)
class ExecutionResult:
    status: ExecutionStatus
    output: Any = None  # the decoded JSON output, when SUCCEEDED
    error: str | None = None
    cause: str | None = None
    start_time: float = 0.0
    stop_time: float = 0.0
    history: tuple[HistoryEvent, ...] = ()

    @property
    def output_json(self) -> str | None:
        return None if self.status is not ExecutionStatus.SUCCEEDED else to_json(self.output)


def to_json(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def iso_timestamp(seconds: float) -> str:
    """``2019-03-26T20:14:13.192Z``: how the context object writes times."""
    moment = datetime.fromtimestamp(seconds, UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


class Recorder:
    """Appends events with increasing ids and hands each to ``on_event``."""

    def __init__(self, now: Callable[[], float], on_event: Callable[[HistoryEvent], None] | None):
        self._now = now
        self._on_event = on_event
        self.events: list[HistoryEvent] = []

    def emit(self, thread: Thread, type_: str, **details: Any) -> HistoryEvent:
        event = HistoryEvent(
            id=len(self.events) + 1,
            previous_event_id=thread.last_event_id,
            timestamp=self._now(),
            type=type_,
            details={k: v for k, v in details.items() if v is not None},
        )
        self.events.append(event)
        thread.last_event_id = event.id
        if self._on_event is not None:
            self._on_event(event)
        return event


@dataclass
class Thread:
    """One chain of events: the execution, a Parallel branch or a Map iteration."""

    last_event_id: int = 0

    def fork(self) -> Thread:
        return Thread(self.last_event_id)


__all__ = [
    "ExecutionResult",
    "ExecutionStatus",
    "HistoryEvent",
    "Recorder",
    "Thread",
    "iso_timestamp",
    "to_json",
]
