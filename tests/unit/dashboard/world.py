"""A small real world for the dashboard: SQLite store, manual clock, real metrics, real
signals (alarms and judge) and the real controller, with an in-memory traffic backend
and hook runner. It has every attribute the page and ``/metrics`` read."""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from canaria.analysis import Metrics
from canaria.analysis.prom import PromMetrics
from canaria.clock import ManualClock
from canaria.controller.deployments import new_deployment
from canaria.controller.service import Controller
from canaria.controller.signals import LocalSignals
from canaria.dashboard.prom import metrics_routes
from canaria.dashboard.web import dashboard_routes
from canaria.models import (
    AlarmSpec,
    Alias,
    Application,
    DeploymentPreference,
    FunctionConfig,
    FunctionSpec,
    InvokeResult,
    JudgeSettings,
    RouteSpec,
)
from canaria.models.deployment import Deployment, Target
from canaria.store import Store
from tests.unit import loopback

TOKEN = "test-token-0123456789"


@dataclass
class Backend:
    applied: list[Alias] = field(default_factory=list)

    def apply(self, alias: Alias) -> None:
        self.applied.append(alias)


@dataclass
class Hooks:
    async def run_hook(
        self, function: str, payload: Mapping[str, str], version: int | None = None
    ) -> str | None:
        return None


@dataclass
class Runtime:
    busy: int = 0

    def concurrent_executions(self) -> int:
        return self.busy


class World:
    token = TOKEN

    def __init__(self, tmp: Path) -> None:
        self.clock = ManualClock(start=1_700_000_000.0)
        self.store = Store.open(str(tmp / "state"))
        self.metrics = Metrics()
        self.prom = PromMetrics()
        self.signals = LocalSignals(self.metrics, self.store, self.clock)
        self.backend = Backend()
        self.runtimes: dict[str, Runtime] = {"Hello": Runtime(busy=1)}

        async def notify(d: Deployment, event: str) -> None:
            return None

        self.controller = Controller(
            self.store, self.clock, self.backend, Hooks(), self.signals, notify
        )
        config = FunctionConfig(handler="app.handler", runtime="python3.11", code_uri=str(tmp))
        route = RouteSpec("GET", "/hello", "http", "ServerlessHttpApi", "$default", "Hello")
        self.app: Application | None = Application(
            template_path=str(tmp / "hello" / "template.yaml"),
            functions={"Hello": FunctionSpec("Hello", config, "live", routes=(route,))},
            alarms={
                "HelloErrors": AlarmSpec(
                    name="HelloErrors",
                    metric_name="Errors",
                    dimensions={"FunctionName": "Hello", "Resource": "Hello:live"},
                    period_s=60,
                    evaluation_periods=1,
                    threshold=5,
                    comparison_operator="GreaterThanThreshold",
                    statistic="Sum",
                    treat_missing_data="notBreaching",
                )
            },
        )
        for n, digest in ((1, "a" * 64), (2, "b" * 64)):
            self.store.publish("Hello", digest, config, str(tmp / f"v{n}"), self.clock.now())
        self.store.put_alias(Alias("Hello", "live", 1), self.clock.now())

    def close(self) -> None:
        self.store.close()

    def deployment(self, config: str = "Canary10Percent5Minutes") -> Deployment:
        pref = DeploymentPreference(
            type=config, alarms=("HelloErrors",), judge=JudgeSettings(enabled=True)
        )
        return new_deployment(
            application="hello",
            targets=[Target("Hello", "live", 1, 2)],
            preference=pref,
            custom_configs={},
            now=self.clock.now(),
        )

    def traffic(self, seconds: int, per_second: int, failing_new: float) -> None:
        """Requests at the alias's split for ``seconds``: the new version fails
        ``failing_new`` of its requests, the old one none. The clock moves on."""
        for _ in range(seconds):
            alias = self.store.alias("Hello", "live")
            assert alias is not None
            new_share = alias.additional_weight if alias.additional_version else 0.0
            new_n = round(per_second * new_share)
            now = self.clock.now()
            for i in range(per_second):
                is_new = i < new_n
                fails = is_new and i < round(new_n * failing_new)
                version = 2 if is_new else alias.version
                self.metrics.record(now, "Hello", version, "live", duration_ms=5.0, error=fails)
                result = InvokeResult(
                    b"{}", version, f"r{i}", 5.0, "Unhandled" if fails else None, None, i == 0
                )
                self.prom.observe("Hello", "live", version, result, throttled=False)
            self.clock.advance(1.0)

    async def settle(self, d: Deployment) -> Deployment:
        """Let the controller take every step that is due now."""
        for _ in range(20):
            d = await self.controller.step(d.id)
            if d.state.completed or (d.next_wake_at or 0) > self.clock.now():
                break
        await self.controller.drain()
        return self.store.deployment(d.id)


def serve(world: World) -> contextlib.AbstractAsyncContextManager[str]:
    """The dashboard's and /metrics' routes on a real uvicorn on loopback."""
    return loopback.serve([*metrics_routes(world), *dashboard_routes(world)])
