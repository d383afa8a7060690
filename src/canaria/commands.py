"""Operator commands on deployments: stop, promote, roll back, whoever sends them (the
CLI and dashboard through the control API, CodeDeploy's ``StopDeployment`` at the edge).

Each is a command to the controller, which refuses one that does not apply (a command on
a completed deployment, a second deployment of a held alias); this module only finds
which deployment a command by function name means.
"""

from __future__ import annotations

from typing import Protocol

from canaria.controller.plan import Command
from canaria.errors import InvalidRequest
from canaria.models import FunctionSpec
from canaria.models.deployment import Deployment, State
from canaria.store import Store

__all__ = ["DeploymentCommands", "FunctionLookup", "OperatorCommands"]

HISTORY = 1000  # past deployments searched for the one a rollback undoes


class DeploymentCommands(Protocol):
    """The controller's operator commands."""

    async def command(self, deployment_id: str, command: Command) -> Deployment: ...

    async def rollback_finished(self, d: Deployment, function: str) -> Deployment: ...


class FunctionLookup(Protocol):
    """The running template's functions (``NotFound`` for one it does not declare)."""

    def function_spec(self, name: str) -> FunctionSpec: ...


class OperatorCommands:
    def __init__(
        self, store: Store, controller: DeploymentCommands, functions: FunctionLookup
    ) -> None:
        self.store = store
        self.controller = controller
        self.functions = functions

    async def command(self, deployment_id: str, command: Command) -> Deployment:
        """An operator command; the controller refuses one on a completed deployment."""
        return await self.controller.command(deployment_id, command)

    async def stop_deployment(self, deployment_id: str, rollback: bool) -> Deployment:
        """CodeDeploy's ``StopDeployment`` (``autoRollbackEnabled`` decides ``rollback``)."""
        return await self.command(
            deployment_id, Command.STOP if rollback else Command.STOP_NO_ROLLBACK
        )

    async def rollback_function(self, function: str) -> Deployment:
        """Roll back the deployment in progress, or the last one that succeeded (by a
        rollback deployment of its own) while its alias still runs what it shipped."""
        spec = self.functions.function_spec(function)
        for d in self.store.deployments(active_only=True):
            if function in d.functions:
                return await self.controller.command(d.id, Command.ROLLBACK)
        alias_name = spec.auto_publish_alias
        if alias_name is None:
            raise InvalidRequest(f"{function} has no alias to roll back (no AutoPublishAlias)")
        current = self.store.alias(function, alias_name)
        for d in self.store.deployments(limit=HISTORY):
            target = next((t for t in d.targets if t.function == function), None)
            if target is None or d.state is not State.SUCCEEDED or d.rolled_back or d.rollback_of:
                continue
            if current is None or current.version != target.to_version:
                break
            return await self.controller.rollback_finished(d, function)
        raise InvalidRequest(f"{function}: no deployment to roll back")
