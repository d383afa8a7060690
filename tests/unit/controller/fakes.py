"""In-memory implementations of the controller's protocols (real fakes, not mocks)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from canaria.controller.plan import GateProgress, Verdict
from canaria.models import Alias
from canaria.models.deployment import Deployment, JudgeProgress


@dataclass
class RecordingBackend:
    applied: list[Alias] = field(default_factory=list)
    current: dict[tuple[str, str], Alias] = field(default_factory=dict)

    def apply(self, alias: Alias) -> None:
        self.applied.append(alias)
        self.current[(alias.function, alias.name)] = alias


@dataclass
class ScriptedHooks:
    """Hook runner: records invocations; optionally fails the invocation itself."""

    calls: list[tuple[str, dict[str, str]]] = field(default_factory=list)
    fail_with: str | None = None

    async def run_hook(
        self, function: str, payload: Mapping[str, str], version: int | None = None
    ) -> str | None:
        self.calls.append((function, dict(payload)))
        return self.fail_with


@dataclass
class SettableSignals:
    alarms: tuple[str, ...] = ()
    verdict: Verdict = Verdict.CONTINUE
    progress: GateProgress = field(default_factory=GateProgress)

    def alarms_in_alarm(self, now: float) -> tuple[str, ...]:
        return self.alarms

    def judge(self, d: Deployment, now: float) -> tuple[JudgeProgress, Verdict, str]:
        return d.judge.progress, self.verdict, "scripted verdict"

    def gate(self, d: Deployment, now: float) -> GateProgress:
        return self.progress

    def on_rollback(self, callback: Callable[[Deployment], None]) -> None:
        """The scripted verdict is read at each step; nothing decides between steps."""
