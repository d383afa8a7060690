"""What the guard knows and decides, as plain data (no I/O).

- ``Observed``: one CodeDeploy deployment of a Lambda function as AWS reports it.
- ``Invocation``: one finished invocation read from the function's logs.
- ``Action``: the closed set of calls the guard may make to act on a verdict.
- ``GuardRecord``: what the guard keeps per deployment in the store, so a restarted guard
  resumes with the same evidence and never acts twice.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any, Literal

__all__ = [
    "ACTIVE_STATUSES",
    "ROLLBACK_CREATORS",
    "Action",
    "ActionStatus",
    "AwsStatus",
    "GuardEvent",
    "GuardRecord",
    "Invocation",
    "LambdaTarget",
    "Mode",
    "Observed",
    "SetAlarmState",
    "Source",
    "StopDeployment",
]


class AwsStatus(enum.StrEnum):
    """CodeDeploy's deployment statuses."""

    CREATED = "Created"
    QUEUED = "Queued"
    IN_PROGRESS = "InProgress"
    BAKING = "Baking"
    READY = "Ready"
    SUCCEEDED = "Succeeded"
    FAILED = "Failed"
    STOPPED = "Stopped"

    @property
    def active(self) -> bool:
        return self not in (AwsStatus.SUCCEEDED, AwsStatus.FAILED, AwsStatus.STOPPED)


ACTIVE_STATUSES = tuple(s.value for s in AwsStatus if s.active)
ROLLBACK_CREATORS = frozenset({"codeDeployRollback", "CloudFormationRollback"})


class Mode(enum.StrEnum):
    """How the guard acts on a rollback verdict."""

    DRY_RUN = "dry-run"  # decide and report, touch nothing
    STOP = "stop"  # StopDeployment(autoRollbackEnabled=True)
    ALARM = "alarm"  # SetAlarmState(ALARM) on an alarm the deployment group watches


class Source(enum.StrEnum):
    """Where the guard reads per-version signals."""

    LOGS = "logs"  # CloudWatch Logs FilterLogEvents: seconds
    METRICS = "metrics"  # AWS/Lambda metrics by ExecutedVersion, GetMetricData: minutes


@dataclass(frozen=True)
class LambdaTarget:
    """The alias a Lambda deployment moves (``GetDeploymentTarget``'s lambdaFunctionInfo,
    or the deployment's AppSpec)."""

    function: str
    alias: str
    current_version: str
    target_version: str
    weight: float | None = None  # the target version's weight, when AWS reports it


@dataclass(frozen=True)
class Observed:
    deployment_id: str
    application: str
    group: str
    status: AwsStatus
    target: LambdaTarget | None  # None: not a Lambda deployment, or not readable yet
    create_time: float
    config_name: str = ""
    creator: str = ""  # CodeDeploy's creator: user, CloudFormation, codeDeployRollback, ...

    @property
    def is_rollback(self) -> bool:
        """CodeDeploy's (or CloudFormation's) own rollback: stopping it would leave the
        alias on the version being rolled back, so the guard never acts on one."""
        return self.creator in ROLLBACK_CREATORS


@dataclass(frozen=True)
class Invocation:
    """One finished invocation of a version, read from its log stream."""

    version: str
    request_id: str
    time: float  # epoch seconds of its REPORT line
    duration_ms: float
    error: bool  # the function failed (timeouts included)
    timeout: bool
    cold: bool  # the REPORT carried an Init Duration


# ---- actions: a closed set ------------------------------------------------------------


@dataclass(frozen=True)
class StopDeployment:
    deployment_id: str
    auto_rollback: bool = True
    kind: Literal["StopDeployment"] = "StopDeployment"

    def describe(self) -> str:
        return (
            f"codedeploy StopDeployment(deploymentId={self.deployment_id}, "
            f"autoRollbackEnabled={self.auto_rollback})"
        )


@dataclass(frozen=True)
class SetAlarmState:
    alarm_name: str
    reason: str
    state: str = "ALARM"
    kind: Literal["SetAlarmState"] = "SetAlarmState"

    def describe(self) -> str:
        return f"cloudwatch SetAlarmState(AlarmName={self.alarm_name}, StateValue={self.state})"


Action = StopDeployment | SetAlarmState


class ActionStatus(enum.StrEnum):
    NONE = "none"
    WOULD = "would"  # dry run: decided, reported, nothing called
    REQUESTED = "requested"  # written before the call: a restart never calls again
    DONE = "done"  # AWS answered
    REFUSED = "refused"  # AWS answered with an error (the answer says which)


@dataclass(frozen=True)
class GuardEvent:
    deployment_id: str
    time: float
    kind: str  # "watch", "judge", "action", "aws", "signals"
    message: str


@dataclass(frozen=True)
class GuardRecord:
    deployment_id: str
    application: str
    group: str
    function: str
    alias: str
    current_version: str
    target_version: str
    status: AwsStatus
    mode: Mode
    judge: dict[str, Any] = field(default_factory=dict)  # judge state JSON + evidence
    verdict: str | None = None  # "ROLLBACK" | "PROMOTE" once latched
    action: str | None = None  # Action.describe() of what was (or would be) called
    action_status: ActionStatus = ActionStatus.NONE
    answer: str | None = None  # AWS's answer to the action, as text
    canary_invocations: int = 0
    stable_invocations: int = 0
    canary_errors: int = 0
    stable_errors: int = 0
    first_canary_at: float | None = None  # time of the first canary invocation seen
    weight: float | None = None  # the target version's share, as CodeDeploy last said
    # newest log line fed to the judge (ms): a restarted guard reads only later lines, so
    # no invocation is counted twice
    log_cursor_ms: int = 0
    # --act alarm: the alarm was set back to OK once CodeDeploy finished (else it would
    # fail the group's next deployment as "already in ALARM")
    alarm_reset: bool = False
    created_at: float = 0.0
    updated_at: float = 0.0
