"""``canaria guard``: the judge on CodeDeploy deployments of Lambda functions on AWS.

It finds a stack's (or an application's) deployments in progress, reads per-version
signals from the functions' CloudWatch Logs within seconds, feeds the same judge the local
controller uses, and acts the AWS way: ``StopDeployment(autoRollbackEnabled=True)``, or
``SetAlarmState`` on an alarm the deployment group watches; ``--dry-run`` decides and
reports only. Decisions are pure (``plan``); every AWS call goes through one client
(``AwsGuardClient``); state lives in canaria's store (``GuardRecords``).
"""

from canaria.guard.aws import AwsGuardClient, GuardError
from canaria.guard.model import (
    ActionStatus,
    AwsStatus,
    GuardEvent,
    GuardRecord,
    LambdaTarget,
    Mode,
    Observed,
)
from canaria.guard.plan import GuardPlan, plan
from canaria.guard.records import GuardRecords
from canaria.guard.runner import Guard, GuardOptions

__all__ = [
    "ActionStatus",
    "AwsGuardClient",
    "AwsStatus",
    "Guard",
    "GuardError",
    "GuardEvent",
    "GuardOptions",
    "GuardPlan",
    "GuardRecord",
    "GuardRecords",
    "LambdaTarget",
    "Mode",
    "Observed",
    "plan",
]
