"""The stack's status follows the deployments of its last release, as a CloudFormation
stack update follows the CodeDeploy deployment its alias's update policy starts."""

from __future__ import annotations

from canaria.aws.cloudformation_api import stack_status
from canaria.models.deployment import Deployment, State


def deployment(id_: str, state: State, created_at: float, message: str | None = None) -> Deployment:
    return Deployment(
        id=id_,
        application="app",
        targets=(),
        config_name="CodeDeployDefault.LambdaAllAtOnce",
        steps=(),
        state=state,
        created_at=created_at,
        error_message=message,
    )


def test_before_any_deployment_the_stack_is_created_or_updated() -> None:
    assert stack_status([], updated=False) == ("CREATE_COMPLETE", None)
    assert stack_status([], updated=True) == ("UPDATE_COMPLETE", None)


def test_the_last_release_decides() -> None:
    done = deployment("d-1", State.SUCCEEDED, 100.0)
    assert stack_status([done], updated=True) == ("UPDATE_COMPLETE", None)
    shifting = deployment("d-2", State.ALLOW_TRAFFIC, 200.0)
    assert stack_status([shifting, done], updated=True) == ("UPDATE_IN_PROGRESS", None)
    # one deployment of the release failed: the whole update rolls back
    failed = deployment("d-3", State.STOPPED, 201.0, "the judge stopped it")
    status, reason = stack_status([failed, shifting, done], updated=True)
    assert status == "UPDATE_ROLLBACK_IN_PROGRESS" and reason is None
    sibling = deployment("d-2", State.STOPPED, 200.0)
    status, reason = stack_status([failed, sibling, done], updated=True)
    assert status == "UPDATE_ROLLBACK_COMPLETE"
    assert reason == "CodeDeploy deployment d-3: the judge stopped it"
    # a later release that succeeds: the earlier failure no longer counts
    later = deployment("d-4", State.SUCCEEDED, 900.0)
    assert stack_status([later, failed, sibling], updated=True) == ("UPDATE_COMPLETE", None)
