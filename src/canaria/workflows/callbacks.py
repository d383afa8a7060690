"""Task tokens: how a callback task (``.waitForTaskToken``) waits for whoever holds its
token to call ``SendTaskSuccess``, ``SendTaskFailure`` or ``SendTaskHeartbeat``.

The interpreter issues a token when such a task starts (``$$.Task.Token`` in its
``Parameters``), hands the parameters to the integration, and then waits for the token's
outcome, or for its ``HeartbeatSeconds`` to pass without a heartbeat, or for its
``TimeoutSeconds``. A token is forgotten once its task ends, however it ends: a call with it
afterwards is ``TaskTimedOut``, as Step Functions answers for a task no longer waiting.
Tokens live in memory: an execution running when canaria stops is aborted, and its tokens
with it.
"""

from __future__ import annotations

import asyncio
import base64
import secrets
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

from canaria.errors import CanariaError

MAX_OUTPUT = 256 * 1024  # SendTaskSuccess takes at most 256 KiB of output
_REMEMBERED = 10_000  # ended tokens remembered, to answer TaskTimedOut rather than InvalidToken


class InvalidToken(CanariaError):
    http_status = 400
    code = "InvalidToken"


class TaskTimedOut(CanariaError):
    http_status = 400
    code = "TaskTimedOut"


@dataclass
class Waiting:
    """A callback task's wait: its outcome, set once, and its last heartbeat."""

    outcome: asyncio.Future[tuple[bool, Any]] = field(
        default_factory=lambda: asyncio.get_running_loop().create_future()
    )
    beat: asyncio.Event = field(default_factory=asyncio.Event)


class TaskTokens:
    """The tokens of the callback tasks waiting now."""

    def __init__(self) -> None:
        self._waiting: dict[str, Waiting] = {}
        self._ended: OrderedDict[str, None] = OrderedDict()  # the latest tokens that ended

    def issue(self) -> tuple[str, Waiting]:
        """A new token and its wait (in the running event loop)."""
        token = base64.urlsafe_b64encode(secrets.token_bytes(48)).decode()
        waiting = Waiting()
        self._waiting[token] = waiting
        return token, waiting

    def forget(self, token: str) -> None:
        if self._waiting.pop(token, None) is not None:
            self._ended[token] = None
            while len(self._ended) > _REMEMBERED:
                self._ended.popitem(last=False)

    def succeed(self, token: str, output: Any) -> None:
        self._settle(token, (True, output))

    def fail(self, token: str, error: str | None, cause: str | None) -> None:
        self._settle(token, (False, (error, cause)))

    def heartbeat(self, token: str) -> None:
        self._get(token).beat.set()

    def _settle(self, token: str, outcome: tuple[bool, Any]) -> None:
        waiting = self._get(token)
        if not waiting.outcome.done():
            waiting.outcome.set_result(outcome)
        self.forget(token)

    def _get(self, token: str) -> Waiting:
        waiting = self._waiting.get(token)
        if waiting is not None:
            return waiting
        if token in self._ended:
            raise TaskTimedOut("the task of this token is no longer waiting for it")
        raise InvalidToken("Invalid token")


__all__ = ["MAX_OUTPUT", "InvalidToken", "TaskTimedOut", "TaskTokens", "Waiting"]
