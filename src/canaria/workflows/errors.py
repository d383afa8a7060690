"""Errors of the States Language interpreter.

    CanariaError (canaria.errors)
    └── DefinitionError      a definition is malformed or uses an unsupported feature (at load)

    Exception
    └── StatesError          a runtime error with an ASL error name and a cause
        └── TaskFailed       raised by a TaskRunner: the task's own error name and cause

``StatesError`` never leaves :func:`canaria.workflows.execute`: it becomes a FAILED
execution (or is retried / caught by the state machine). Error names are the ASL ones
(``States.TaskFailed``, ``States.Runtime``, ...) or the task's own (``ZeroDivisionError``).
"""

from __future__ import annotations

from typing import Final

from canaria.errors import CanariaError

ALL: Final = "States.ALL"
TASK_FAILED: Final = "States.TaskFailed"
TIMEOUT: Final = "States.Timeout"
RUNTIME: Final = "States.Runtime"
PERMISSIONS: Final = "States.Permissions"
RESULT_PATH_MATCH_FAILURE: Final = "States.ResultPathMatchFailure"
PARAMETER_PATH_FAILURE: Final = "States.ParameterPathFailure"
BRANCH_FAILED: Final = "States.BranchFailed"
NO_CHOICE_MATCHED: Final = "States.NoChoiceMatched"
INTRINSIC_FAILURE: Final = "States.IntrinsicFailure"
HEARTBEAT_TIMEOUT: Final = "States.HeartbeatTimeout"
ITEM_READER_FAILED: Final = "States.ItemReaderFailed"

#: Every ``States.*`` name a Retry or Catch may list.
KNOWN_ERROR_NAMES: Final = frozenset(
    {
        ALL,
        TASK_FAILED,
        TIMEOUT,
        RUNTIME,
        PERMISSIONS,
        RESULT_PATH_MATCH_FAILURE,
        PARAMETER_PATH_FAILURE,
        BRANCH_FAILED,
        NO_CHOICE_MATCHED,
        INTRINSIC_FAILURE,
        HEARTBEAT_TIMEOUT,
        "States.DataLimitExceeded",
        "States.ExceedToleratedFailureThreshold",
        ITEM_READER_FAILED,
        "States.ResultWriterFailed",
        "States.QueryEvaluationError",
    }
)

#: Errors that neither ``States.ALL`` nor any other name catches or retries: the
#: execution fails (AWS: "A retry or catch on States.ALL won't catch States.Runtime").
UNCATCHABLE: Final = frozenset({RUNTIME, "States.DataLimitExceeded"})


class DefinitionError(CanariaError):
    """A state machine definition is malformed or uses something canaria does not run."""

    http_status = 400
    code = "InvalidDefinition"

    def __init__(self, message: str, *, state: str | None = None) -> None:
        self.state = state
        super().__init__(f'state "{state}": {message}' if state is not None else message)


class StatesError(Exception):
    """A runtime error inside an execution, named the way ASL names errors."""

    def __init__(self, error: str, cause: str = "") -> None:
        super().__init__(f"{error}: {cause}" if cause else error)
        self.error = error
        self.cause = cause


class TaskFailed(StatesError):
    """Raised by a TaskRunner when the task itself failed.

    ``error`` becomes the ASL error name a Retry or Catch matches (for a Lambda function,
    its error type: ``"ZeroDivisionError"``, ``"Sandbox.Timedout"``, ...)."""


__all__ = [
    "ALL",
    "BRANCH_FAILED",
    "HEARTBEAT_TIMEOUT",
    "INTRINSIC_FAILURE",
    "KNOWN_ERROR_NAMES",
    "NO_CHOICE_MATCHED",
    "PARAMETER_PATH_FAILURE",
    "PERMISSIONS",
    "RESULT_PATH_MATCH_FAILURE",
    "RUNTIME",
    "TASK_FAILED",
    "TIMEOUT",
    "UNCATCHABLE",
    "DefinitionError",
    "StatesError",
    "TaskFailed",
]
