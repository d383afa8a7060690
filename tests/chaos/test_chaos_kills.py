"""The chaos suite: kill canaria, its workers and dynalite at random points of hello and
company deployments, on SQLite and on PostgreSQL, and check what must hold whatever the
kill interrupted:

- every deployment ends Succeeded, Failed or Stopped, and an alias with no deployment
  in progress points at one version (no half-shifted split);
- a release that fails (hello v3 under traffic; company v5, which its PreTraffic hook
  refuses, and v4, which its integration test fails) never ends on the new version;
- every write the company API acknowledged (201) is readable afterwards;
- canaria serves again after each restart (the restart times are printed).

Bounded: a fixed number of kills per test (seeded, so a failure replays), each on the
manual clock: 10 per store for hello, 10 during company writes, 6 during company
releases. ``pytest -m chaos`` runs it alone.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text

from tests.conftest import PG, PG_ADMIN_URL
from tests.functional.harness import Canaria, copy_example

pytestmark = [pytest.mark.chaos, pytest.mark.slow]

KILLS = 10  # per test; two stores → 20 per suite for hello, 10 more for the company app
TERMINAL = {"Succeeded", "Failed", "Stopped"}


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database(request: pytest.FixtureRequest) -> Iterator[str | None]:
    if request.param == "sqlite":
        yield None
        return
    if not PG:
        if os.environ.get("CI_REQUIRE_POSTGRES"):
            pytest.fail(f"PostgreSQL is required in CI but unreachable at {PG_ADMIN_URL}")
        pytest.skip(f"PostgreSQL unreachable at {PG_ADMIN_URL}")
    name = f"canaria_chaos_{uuid.uuid4().hex[:12]}"
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE "{name}" WITH (FORCE)'))
        admin.dispose()


def start(c: Canaria, restarts: list[float]) -> None:
    began = time.monotonic()
    c.start()
    restarts.append(time.monotonic() - began)


def children(pid: int, pattern: str) -> list[int]:
    out = subprocess.run(["pgrep", "-P", str(pid), "-f", pattern], capture_output=True, text=True)
    return [int(p) for p in out.stdout.split()]


def kill_something(c: Canaria, rng: random.Random, restarts: list[float]) -> str:
    """One kill: the server (and with it everything), a worker, or dynalite."""
    assert c.proc is not None
    target = rng.choice(["server", "server", "worker", "dynalite"])
    if target == "worker":
        workers = children(c.proc.pid, "worker.py")
        if workers:
            os.kill(rng.choice(workers), signal.SIGKILL)
            return "worker"
    if target == "dynalite":
        engines = children(c.proc.pid, "dynalite")
        if engines:
            os.kill(engines[0], signal.SIGKILL)
            return "dynalite"
    c.kill()
    start(c, restarts)
    return "server"


def one_side(c: Canaria, fn: str, alias: str) -> None:
    split = c.alias(fn, alias)["split"]
    assert list(split.values()) == [1.0], f"{fn}:{alias} left split: {split}"


def finish(c: Canaria, dep: str, traffic: int = 0) -> dict[str, Any]:
    for _ in range(400):
        d: dict[str, Any] = c.api().get(f"/deployments/{dep}")
        if d["completed"]:
            return d
        for _ in range(traffic):
            c.http("GET", "/hello")
        c.advance(15)
        time.sleep(0.02)
    raise AssertionError(f"{dep} never completed: {json.dumps(d)[:1500]}")


def test_chaos_hello_deployments(tmp_path: Path, database: str | None) -> None:
    rng = random.Random(1234)
    app = copy_example("hello", tmp_path)
    c = Canaria(app / "template.yaml", tmp_path / "state")
    if database:
        c.env["CANARIA_DATABASE_URL"] = database
    restarts: list[float] = []
    start(c, restarts)
    try:
        seen: list[tuple[str, str]] = []
        for i in range(KILLS):
            version = rng.choice(["v2", "v3"])
            r = c.cli(
                "deploy",
                "-t",
                str(c.template),
                "--parameter-overrides",
                f"AppVersion={version}",
                "--json",
            )
            assert r.returncode == 0, r.stdout + r.stderr
            started = json.loads(r.stdout)["deployments"]
            if not started:
                continue  # the alias already runs this code
            dep = started[0]["id"]
            seen.append((dep, version))
            for _ in range(rng.randrange(0, 12)):  # somewhere in the deployment's life
                for _ in range(30):
                    c.http("GET", "/hello")
                c.advance(rng.choice([1, 5, 15, 30]))
            what = kill_something(c, rng, restarts)
            d = finish(c, dep, traffic=40)
            assert d["state"] in TERMINAL, (i, what, d["state"])
            one_side(c, "HelloFunction", "live")
            if version == "v3":
                assert d["state"] != "Succeeded", f"bad release {dep} reached 100 % ({what})"
        store = "postgresql" if database else "sqlite"
        print(f"hello chaos on {store}: restarts (s) {[round(t, 2) for t in restarts]}")
        for dep, _ in seen:
            assert c.api().get(f"/deployments/{dep}")["state"] in TERMINAL
    finally:
        if c.proc is not None and c.proc.poll() is None:
            c.stop()


class Registry:
    def __init__(self, c: Canaria) -> None:
        self.c = c
        self.acknowledged: dict[str, int] = {}

    def write(self, n: int) -> None:
        employees = 10 + n % 50
        try:
            status, _, body = self.c.http(
                "POST", "/company", json.dumps({"name": f"C{n}", "employees": employees}).encode()
            )
        except OSError:
            return  # the server was down: nothing acknowledged
        if status == 201:
            self.acknowledged[json.loads(body)["company_id"]] = employees


def test_chaos_company_writes_survive_kills(tmp_path: Path) -> None:
    rng = random.Random(99)
    app = copy_example("company", tmp_path)
    c = Canaria(app / "template.yaml", tmp_path / "state")
    restarts: list[float] = []
    start(c, restarts)
    reg = Registry(c)
    try:
        n = 0
        for _ in range(KILLS):
            for _ in range(rng.randrange(5, 25)):
                reg.write(n)
                n += 1
            kill_something(c, rng, restarts)
            for _ in range(5):  # and right after the kill
                reg.write(n)
                n += 1
        assert len(reg.acknowledged) > KILLS * 5
        deadline = time.monotonic() + 60
        lost = []
        for company_id, employees in reg.acknowledged.items():
            while True:
                status, _, body = c.http("GET", f"/company/{company_id}")
                if status != 503 or time.monotonic() > deadline:
                    break
                time.sleep(0.1)  # dynalite restarting after its kill
            if status != 200 or json.loads(body)["employees"] != employees:
                lost.append((company_id, status))
        assert lost == [], f"{len(lost)} acknowledged writes lost: {lost[:5]}"
        print(
            f"company chaos: {len(reg.acknowledged)} writes kept; restarts (s) "
            f"{[round(t, 2) for t in restarts]}"
        )
    finally:
        if c.proc is not None and c.proc.poll() is None:
            c.stop()


COMPANY = (
    "SaveCompanyFunction",
    "GetCompanyFunction",
    "ListCompaniesFunction",
    "DeleteCompanyFunction",
)
COMPANY_KILLS = 6


def company_release(c: Canaria, reg: Registry, n: int, deps: list[str]) -> dict[str, Any]:
    """Advance with writes until every deployment of a release has ended (while a hook —
    a Node.js process, a state machine — has not reported, virtual time waits for it)."""
    done: dict[str, Any] = {}
    give_up = time.monotonic() + 300
    while len(done) < len(deps):
        hooks_running = False
        for dep in deps:
            if dep not in done:
                view = c.api().get(f"/deployments/{dep}")
                if view["completed"]:
                    done[dep] = view
                hooks_running |= any(
                    h["status"] in ("Pending", "InProgress") for h in view["hook_executions"]
                )
        assert time.monotonic() < give_up, f"the release never ended: {sorted(done)}"
        if hooks_running:
            time.sleep(0.05)
            continue
        for _ in range(3):
            reg.write(n)
            n += 1
        c.advance(20)
    return {v["targets"][0]["function"]: v for v in done.values()}


def test_chaos_company_deployments(tmp_path: Path) -> None:
    """Kills during company releases: v2 (good), v4 (the integration test fails Get), v5
    (the PreTraffic contract breaks: no traffic may move), with writes throughout."""
    rng = random.Random(7)
    app = copy_example("company", tmp_path)
    c = Canaria(app / "template.yaml", tmp_path / "state")
    restarts: list[float] = []
    start(c, restarts)
    reg = Registry(c)
    current, n = "v1", 0
    try:
        for i in range(COMPANY_KILLS):
            release = rng.choice([r for r in ("v2", "v4", "v5") if r != current])
            before = {fn: c.alias(fn, "prd")["split"] for fn in COMPANY}
            r = c.cli(
                "deploy", "-t", str(c.template), "--parameter-overrides", f"Release={release}",
                "--json",
            )  # fmt: skip
            assert r.returncode == 0, r.stdout + r.stderr
            deps = [d["id"] for d in json.loads(r.stdout)["deployments"]]
            for _ in range(rng.randrange(0, 20)):  # somewhere in the release's life
                reg.write(n)
                n += 1
                c.advance(rng.choice([1, 5, 20]))
                time.sleep(rng.choice([0, 0.05, 0.2]))
            what = kill_something(c, rng, restarts)
            results = company_release(c, reg, n + 1000, deps)
            for fn, d in results.items():
                assert d["state"] in TERMINAL, (i, what, fn, d["state"])
                one_side(c, fn, "prd")
            if release == "v5":  # refused before traffic: every alias where it was
                assert all(d["state"] == "Failed" for d in results.values()), (what, results)
                assert {fn: c.alias(fn, "prd")["split"] for fn in COMPANY} == before, what
            if release == "v4":  # the integration test fails it (or a kill failed a hook)
                get = results["GetCompanyFunction"]
                assert get["state"] != "Succeeded", (what, get)
                bad = str(get["targets"][0]["to_version"])
                assert bad not in c.alias("GetCompanyFunction", "prd")["split"], (what, get)
            if all(d["state"] == "Succeeded" for d in results.values()):
                current = release
        lost = [
            (cid, status)
            for cid, employees in reg.acknowledged.items()
            for status, _, body in [c.http("GET", f"/company/{cid}")]
            if status != 200 or json.loads(body)["employees"] != employees
        ]
        assert lost == [], f"{len(lost)} acknowledged writes lost: {lost[:5]}"
        print(
            f"company release chaos: {len(reg.acknowledged)} writes kept; restarts (s) "
            f"{[round(t, 2) for t in restarts]}"
        )
    finally:
        if c.proc is not None and c.proc.poll() is None:
            c.stop()
