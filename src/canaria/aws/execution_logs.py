"""A state machine's execution history, written to its log group as Step Functions
writes it (``LoggingConfiguration``).

Each history event the level admits becomes one log event whose message is a JSON object:
``id``, ``type``, ``details``, ``previous_event_id``, ``event_timestamp`` (milliseconds),
``execution_arn`` and ``redrive_count``, the numbers written as strings. ``ALL`` writes
every event; ``ERROR`` the failures, timeouts and aborts of tasks, states, iterations
and the execution, and ``FailStateEntered``; ``FATAL`` only the execution's end when it
failed, timed out or was aborted (Step Functions' table of log levels). Without
``IncludeExecutionData`` the events' input, output and task parameters are left out.

An execution writes to one stream of its own, named
``states/<state machine>/<YYYY-MM-DD-HH-MM of its start>/<8 hex digits>``: canaria's
naming, shaped like AWS's, whose exact rule is not documented.
"""

from __future__ import annotations

import hashlib
import time
from typing import Any

import orjson

from canaria.log_groups import LogGroups
from canaria.models import ExecutionLogging
from canaria.workflows import HistoryEvent

__all__ = ["ExecutionLog", "admits"]

FATAL = frozenset({"ExecutionAborted", "ExecutionFailed", "ExecutionTimedOut"})
ERROR = FATAL | {
    "FailStateEntered",
    "LambdaFunctionFailed",
    "LambdaFunctionScheduleFailed",
    "LambdaFunctionStartFailed",
    "LambdaFunctionTimedOut",
    "MapIterationAborted",
    "MapIterationFailed",
    "MapRunAborted",
    "MapRunFailed",
    "MapStateAborted",
    "MapStateFailed",
    "ParallelStateAborted",
    "ParallelStateFailed",
    "TaskFailed",
    "TaskStartFailed",
    "TaskStateAborted",
    "TaskSubmitFailed",
    "TaskTimedOut",
    "WaitStateAborted",
}
DATA = frozenset({"input", "inputDetails", "output", "outputDetails", "parameters"})


def admits(level: str, event_type: str) -> bool:
    if level == "ALL":
        return True
    return event_type in (ERROR if level == "ERROR" else FATAL)


class ExecutionLog:
    """What one execution writes to its machine's log group."""

    def __init__(
        self,
        groups: LogGroups,
        logging: ExecutionLogging,
        machine: str,
        execution_arn: str,
        started: float,
    ) -> None:
        self._groups = groups
        self._logging = logging
        self._arn = execution_arn
        minute = time.strftime("%Y-%m-%d-%H-%M", time.gmtime(started))
        tail = hashlib.md5(execution_arn.encode(), usedforsecurity=False).hexdigest()[:8]
        self.stream = f"states/{machine}/{minute}/{tail}"

    def write(self, event: HistoryEvent) -> None:
        if not admits(self._logging.level, event.type):
            return
        details: dict[str, Any] = dict(event.details)
        if not self._logging.include_data:
            details = {k: v for k, v in details.items() if k not in DATA}
        ms = int(event.timestamp * 1000)
        record = {
            "id": str(event.id),
            "type": event.type,
            "details": details,
            "previous_event_id": str(event.previous_event_id),
            "event_timestamp": str(ms),
            "execution_arn": self._arn,
            "redrive_count": "0",
        }
        self._groups.write(self._logging.group, self.stream, [(ms, orjson.dumps(record).decode())])
