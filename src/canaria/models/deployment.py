"""Deployments: one move of one alias (or an atomic group of aliases) to a target version.

The lifecycle, as CodeDeploy's for Lambda::

    Created → BeforeAllowTraffic → AllowTraffic(step 1..n) → AfterAllowTraffic → Succeeded
                  │ hook failed/timeout    │ alarm / judge / stop     │ hook failed/timeout
                  ▼                        ▼                          ▼
                Failed                Stopped + rollback          Failed + rollback

Only ``canaria.controller.transitions.transition`` produces a new ``Deployment`` with a
different ``state``; everything here is plain data.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from canaria.models.app import JudgeSettings


class State(enum.StrEnum):
    CREATED = "Created"
    BEFORE_ALLOW_TRAFFIC = "BeforeAllowTraffic"
    ALLOW_TRAFFIC = "AllowTraffic"
    AFTER_ALLOW_TRAFFIC = "AfterAllowTraffic"
    SUCCEEDED = "Succeeded"
    FAILED = "Failed"
    STOPPED = "Stopped"

    @property
    def completed(self) -> bool:
        return self in (State.SUCCEEDED, State.FAILED, State.STOPPED)

    @property
    def codedeploy_status(self) -> str:
        """The status GetDeployment reports."""
        if self is State.CREATED:
            return "Created"
        if self.completed:
            return self.value
        return "InProgress"


# ---- steps: a closed set ------------------------------------------------------------


@dataclass(frozen=True)
class SetWeight:
    """Send ``weight`` of the traffic to the target version, then wait ``duration_s``."""

    weight: float  # in (0, 1]; 1.0 is the final shift
    duration_s: float = 0.0
    # the step's own detectable-rate requirement (overrides the judge's ``min_detectable``)
    min_detectable: float | None = None
    kind: Literal["set_weight"] = "set_weight"


@dataclass(frozen=True)
class ManualGate:
    """Hold the current weight until an operator runs ``canaria promote``."""

    kind: Literal["manual_gate"] = "manual_gate"


@dataclass(frozen=True)
class RequestGate:
    """Send the next ``count`` requests to the target, then none until all have finished.

    The step passes when ``count`` invocations of the target version have completed
    without error; one failure rolls the deployment back.
    """

    count: int
    # "response": an invocation succeeds when it returns without error; "reported": when
    # the work it started reports Succeeded (POST /canaria/v1/functions/{fn}/completions)
    completion: Literal["response", "reported"] = "response"
    # the step fails (and rolls back) if it has not passed this long after it began; None:
    # no limit. Step lists default it to an hour for "reported" gates (as a hook's limit),
    # so a job that never reports cannot hold a deployment forever.
    timeout_s: float | None = None
    kind: Literal["request_gate"] = "request_gate"


Step = SetWeight | ManualGate | RequestGate


@dataclass(frozen=True)
class Target:
    """One alias moved by a deployment."""

    function: str
    alias: str
    from_version: int | None  # None: first deployment, the alias is created at the target
    to_version: int


class ErrorCode(enum.StrEnum):
    """Why a deployment failed or stopped (GetDeployment's ``errorInformation.code``)."""

    HOOK_EXECUTION_FAILURE = "HOOK_EXECUTION_FAILURE"
    TIMEOUT = "TIMEOUT"
    ALARM_ACTIVE = "ALARM_ACTIVE"
    DEPLOYMENT_STOPPED = "DEPLOYMENT_STOPPED"
    JUDGE_ROLLBACK = "JUDGE_ROLLBACK"  # canaria's own: the judge rolled the canary back
    # canaria's own: the canary served too little for the judge to detect the required rate
    JUDGE_INCONCLUSIVE = "JUDGE_INCONCLUSIVE"
    REQUEST_GATE_FAILURE = "REQUEST_GATE_FAILURE"  # canaria's own: a request gate failed


class NotificationEvent(enum.StrEnum):
    """The CodeDeploy trigger events a deployment notifies."""

    START = "DeploymentStart"
    SUCCESS = "DeploymentSuccess"
    FAILURE = "DeploymentFailure"
    STOP = "DeploymentStop"
    ROLLBACK = "DeploymentRollback"


class HookStatus(enum.StrEnum):
    PENDING = "Pending"
    IN_PROGRESS = "InProgress"
    SUCCEEDED = "Succeeded"
    FAILED = "Failed"
    UNKNOWN = "Unknown"


@dataclass(frozen=True)
class HookExecution:
    execution_id: str
    deployment_id: str
    phase: Literal["BeforeAllowTraffic", "AfterAllowTraffic"]
    function: str  # hook function name (invoked at the deployment's version of it)
    status: HookStatus
    started_at: float
    deadline: float
    invoked: bool = False
    finished_at: float | None = None
    message: str = ""


@dataclass(frozen=True)
class JudgeProgress:
    """What the judge has established so far, persisted with the deployment."""

    # per target function: its e-processes' state (``canaria.analysis.judge`` encodes it)
    states: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    # per target function: the end of the last interval it has looked at (virtual seconds)
    since: Mapping[str, float] = field(default_factory=dict)
    # per metric (errors, timeouts, slow): the largest e-value over the targets
    evidence: Mapping[str, float] = field(default_factory=dict)
    threshold: float | None = None  # evidence at which the judge rolls back (M / alpha)
    # the smallest canary failure rate the judge would have caught so far (the worst over
    # the targets; None: not even 100 %), and the canary requests it has judged
    detectable: float | None = None
    canary_requests: int = 0


@dataclass(frozen=True)
class DeploymentJudge:
    """The judge of one deployment: its settings and its progress."""

    settings: JudgeSettings = field(default_factory=JudgeSettings)
    progress: JudgeProgress = field(default_factory=JudgeProgress)


@dataclass(frozen=True)
class Deployment:
    id: str
    application: str
    targets: tuple[Target, ...]
    config_name: str
    steps: tuple[Step, ...]
    state: State = State.CREATED
    step_index: int = -1  # index into steps of the step in force, -1 before any
    step_started_at: float | None = None
    gate_started_count: int = 0  # RequestGate: target invocations seen when the gate began
    rolled_back: bool = False
    ignore_alarms: bool = False
    alarms: tuple[str, ...] = ()
    # started with ignore_alarms while these were in ALARM (a bad release's alarm still
    # firing when its fix goes out): not watched until each leaves ALARM, then watched
    muted_alarms: tuple[str, ...] = ()
    pre_traffic_hook: str | None = None
    post_traffic_hook: str | None = None
    # the hook functions' versions when the deployment began: the hooks of the release
    # it ships (on AWS, the stack update's), whatever canaria loads after a restart
    pre_traffic_hook_version: int | None = None
    post_traffic_hook_version: int | None = None
    hook_timeout_s: float = 3600.0
    judge: DeploymentJudge = field(default_factory=DeploymentJudge)
    creator: str = "user"  # "user" | "codeDeployRollback" | "autoscaling"...
    error_code: ErrorCode | None = None
    error_message: str | None = None
    stopped_by: str | None = None  # "alarm:<name>", "judge:<metric>", "user", "hook:<phase>"
    triggers: tuple[dict[str, Any], ...] = ()
    created_at: float = 0.0
    updated_at: float = 0.0
    completed_at: float | None = None
    next_wake_at: float | None = None
    # the deployment this one rolls back (an operator rollback after it finished is a
    # deployment of its own, as CodeDeploy records a rollback)
    rollback_of: str | None = None
    # the stored row's revision this value was read at (0: not stored yet); the store
    # writes it compare-and-set, so two writers cannot lose each other's updates
    revision: int = 0

    @property
    def current_step(self) -> Step | None:
        if 0 <= self.step_index < len(self.steps):
            return self.steps[self.step_index]
        return None

    @property
    def current_weight(self) -> float:
        """The weight of the target version in force now."""
        if self.state is State.SUCCEEDED:
            return 0.0 if self.rolled_back else 1.0
        if self.rolled_back:
            return 0.0
        for step in reversed(self.steps[: self.step_index + 1]):
            if isinstance(step, SetWeight):
                return step.weight
        return 0.0

    @property
    def functions(self) -> tuple[str, ...]:
        return tuple(t.function for t in self.targets)


@dataclass(frozen=True)
class DeploymentEvent:
    deployment_id: str
    time: float
    kind: str  # "transition", "step", "hook", "alarm", "judge", "operator", "notification"
    message: str
    data: dict[str, Any] = field(default_factory=dict)
    id: int | None = None
