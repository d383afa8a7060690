"""The control API served from a ``ControlSource`` that is not the platform: the release
executor's world (``tests.unit.release_world``) with real operator commands, signals and
log book, on a real uvicorn on loopback. No server process, no workers."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import orjson
import pytest

from canaria.analysis import Metrics
from canaria.auth import Keyring
from canaria.commands import OperatorCommands
from canaria.control.routes import control_routes
from canaria.controller.signals import LocalSignals
from canaria.errors import InvalidRequest, NotFound
from canaria.logbook import LogBook
from canaria.models import Application, FunctionSpec, InvokeResult
from canaria.store import CompletionReport, CompletionStatus
from tests.unit.loopback import call, serve
from tests.unit.release_world import World

TOKEN = "control-token-0123456789"


class Source:
    """Every member ``control_routes`` reads, from real small parts."""

    token = TOKEN
    gateway_url = "http://127.0.0.1:9"

    def __init__(self, world: World) -> None:
        self.world = world
        self.clock = world.clock
        self.store = world.store
        self.keyring = Keyring(TOKEN)
        self.signals = LocalSignals(Metrics(), world.store, world.clock)
        self.logbook = LogBook(None)
        self.runtimes = world.runtimes
        self.releases = world.releases
        self.controller = world.controller
        self.commands = OperatorCommands(world.store, world.controller, self)

    @property
    def app(self) -> Application | None:
        return self.releases.app

    def endpoints(self) -> dict[str, str]:
        return {"AWS_ENDPOINT_URL": "http://127.0.0.1:9"}

    def function_urls(self) -> dict[str, str]:
        return {}

    def websocket_apis(self) -> dict[str, dict[str, Any]]:
        return {}

    def graphql_apis(self) -> dict[str, dict[str, Any]]:
        return {}

    def load_balancer_listeners(self) -> dict[str, dict[str, Any]]:
        return {}

    def published_metrics(self) -> dict[str, Any]:
        return {"metrics": 0, "dropped": 0, "emf_rejected": {}}

    def function_spec(self, name: str) -> FunctionSpec:
        if self.app is None or name not in self.app.functions:
            raise NotFound(f"Function not found: {name}")
        return self.app.functions[name]

    async def invoke_qualified(
        self, function: str, qualifier: str | None, payload: bytes
    ) -> InvokeResult:
        raise InvalidRequest("this world runs no functions")

    async def report_completion(
        self, function: str, request_id: str, status: CompletionStatus, reason: str
    ) -> tuple[CompletionReport, bool]:
        report = CompletionReport(function, request_id, status, reason, self.clock.now())
        return self.store.report_completion(report)


@pytest.fixture
async def base(tmp_path: Path) -> AsyncIterator[tuple[str, World]]:
    world = World(tmp_path)
    world.app()  # writes the template
    async with serve(control_routes(Source(world))) as url:
        yield url, world
    await world.close()


async def api(base: str, method: str, path: str, body: Any = None) -> tuple[int, Any]:
    status, _, raw = await call(
        base,
        method,
        "/canaria/v1" + path,
        None if body is None else orjson.dumps(body),
        authorization=f"Bearer {TOKEN}",
        content_type="application/json",
    )
    return status, orjson.loads(raw)


async def test_a_dry_run_returns_the_whole_plan_and_changes_nothing(
    base: tuple[str, World],
) -> None:
    url, world = base
    template = str(world.dir / "template.yaml")
    status, body = await api(url, "POST", "/deployments", {"template": template, "dry_run": True})
    assert status == 200 and body["dry_run"] is True, body
    assert "load functions: Api (1 route)" in body["plan"]
    assert "point Api:live at version 1 (new alias)" in body["plan"]
    assert body["versions"] == {"Api": 1} and body["deployments"] == []
    assert world.store.versions("Api") == []


async def test_a_deploy_then_a_change_starts_a_deployment_the_status_shows(
    base: tuple[str, World],
) -> None:
    url, world = base
    template = str(world.dir / "template.yaml")
    status, body = await api(url, "POST", "/deployments", {"template": template})
    assert status == 200 and body["deployments"] == [], body
    world.app(greeting="changed")
    status, body = await api(
        url, "POST", "/deployments", {"template": template, "config": "Canary10Percent5Minutes"}
    )
    assert status == 201, body
    (d,) = body["deployments"]
    status, shown = await api(url, "GET", "/status")
    assert status == 200 and shown["gateway"] == "http://127.0.0.1:9"
    assert [v["number"] for v in shown["functions"]["Api"]["versions"]] == [1, 2]
    assert [x["id"] for x in shown["deployments"]] == [d["id"]]


async def test_operator_commands_reach_the_controller(base: tuple[str, World]) -> None:
    url, world = base
    template = str(world.dir / "template.yaml")
    await api(url, "POST", "/deployments", {"template": template})
    status, body = await api(url, "POST", "/functions/Api/rollback")
    assert status == 400 and "Api: no deployment to roll back" in body["error"]["message"]
    world.app(greeting="changed")
    config = "Linear10PercentEvery1Minute"
    _, started = await api(url, "POST", "/deployments", {"template": template, "config": config})
    (d,) = started["deployments"]
    status, body = await api(url, "POST", f"/deployments/{d['id']}/stop", {"rollback": False})
    assert status == 200 and body["state"] == "Stopped" and body["rolled_back"] is False
    assert (await api(url, "POST", "/functions/Nope/rollback"))[0] == 404


async def test_the_manual_clock_advances_through_the_api(base: tuple[str, World]) -> None:
    url, world = base
    before = world.clock.now()
    status, body = await api(url, "POST", "/clock", {"advance": 90})
    assert status == 200 and body["now"] == before + 90 and body["kind"] == "ManualClock"
