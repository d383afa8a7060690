"""canaria.workflows: an Amazon States Language interpreter.

Load a definition once (:func:`load_definition` refuses what canaria cannot run, naming
the state and the feature), then :func:`execute` it with an injected :class:`TaskRunner`
and :class:`~canaria.clock.Clock`. The interpreter does no I/O of its own.
"""

from canaria.workflows.callbacks import TaskTokens
from canaria.workflows.definition import load_definition, unserved_tasks
from canaria.workflows.errors import DefinitionError, StatesError, TaskFailed
from canaria.workflows.history import ExecutionResult, ExecutionStatus, HistoryEvent
from canaria.workflows.interpreter import TaskRunner, execute
from canaria.workflows.mocks import MockCase, MockConfigError, MockedCalls
from canaria.workflows.mocks import case_of as mock_case
from canaria.workflows.mocks import parse_config as parse_mock_config
from canaria.workflows.resources import ResourceKind, ServiceCall, resource_kind, service_call
from canaria.workflows.states import StateMachine

__all__ = [
    "DefinitionError",
    "ExecutionResult",
    "ExecutionStatus",
    "HistoryEvent",
    "MockCase",
    "MockConfigError",
    "MockedCalls",
    "ResourceKind",
    "ServiceCall",
    "StateMachine",
    "StatesError",
    "TaskFailed",
    "TaskRunner",
    "TaskTokens",
    "execute",
    "load_definition",
    "mock_case",
    "parse_mock_config",
    "resource_kind",
    "service_call",
    "unserved_tasks",
]
