"""The one writer of deployment status.

``transition`` is the only function that returns a ``Deployment`` with a different
``state``; it refuses every change the lifecycle does not allow. Tests cover every pair.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from canaria.errors import IllegalTransition
from canaria.models.deployment import Deployment, DeploymentEvent, ErrorCode, State

ALLOWED: dict[State, frozenset[State]] = {
    State.CREATED: frozenset({State.BEFORE_ALLOW_TRAFFIC, State.FAILED, State.STOPPED}),
    State.BEFORE_ALLOW_TRAFFIC: frozenset({State.ALLOW_TRAFFIC, State.FAILED, State.STOPPED}),
    State.ALLOW_TRAFFIC: frozenset({State.AFTER_ALLOW_TRAFFIC, State.FAILED, State.STOPPED}),
    State.AFTER_ALLOW_TRAFFIC: frozenset({State.SUCCEEDED, State.FAILED, State.STOPPED}),
    State.SUCCEEDED: frozenset(),
    State.FAILED: frozenset(),
    State.STOPPED: frozenset(),
}


def transition(
    d: Deployment,
    to: State,
    now: float,
    *,
    reason: str,
    error_code: ErrorCode | None = None,
    stopped_by: str | None = None,
    rolled_back: bool = False,
    **changes: Any,
) -> tuple[Deployment, DeploymentEvent]:
    """Move ``d`` to ``to`` (with other field ``changes``), or raise IllegalTransition."""
    if to not in ALLOWED[d.state]:
        raise IllegalTransition(
            f"deployment {d.id} cannot go from {d.state.value} to {to.value}"
            + (" (it has completed)" if d.state.completed else "")
        )
    if "state" in changes:
        raise TypeError("pass the new state as `to`")
    updated = replace(
        d,
        state=to,
        updated_at=now,
        completed_at=now if to.completed else None,
        error_code=error_code if error_code is not None else d.error_code,
        error_message=reason if to in (State.FAILED, State.STOPPED) else d.error_message,
        stopped_by=stopped_by if stopped_by is not None else d.stopped_by,
        rolled_back=d.rolled_back or rolled_back,
        **changes,
    )
    event = DeploymentEvent(
        deployment_id=d.id,
        time=now,
        kind="transition",
        message=f"{d.state.value} → {to.value}: {reason}",
        data={
            "from": d.state.value,
            "to": to.value,
            "error_code": error_code,
            "stopped_by": stopped_by,
            "rolled_back": updated.rolled_back,
        },
    )
    return updated, event
