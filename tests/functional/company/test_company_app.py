"""The company application end to end on a real `canaria up`: DynamoDB through boto3 in
the handlers, CodeDeploy hooks in Node.js (AWS SDK v3), the Step Functions integration test, and a
faulty release caught by each safety net. Time moves on the manual clock."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.functional.harness import Canaria, copy_example

pytestmark = pytest.mark.slow


class Registry:
    """The test's own record of what the API acknowledged."""

    def __init__(self, c: Canaria) -> None:
        self.c = c
        self.written: dict[str, dict[str, Any]] = {}
        self.failed = 0

    def create(self, name: str, employees: int) -> int:
        status, _, body = self.c.http(
            "POST",
            "/company",
            json.dumps({"name": name, "employees": employees}).encode(),
            {"content-type": "application/json"},
        )
        if status == 201:
            item = json.loads(body)
            self.written[item["company_id"]] = item
        else:
            self.failed += 1
        return status

    def get(self, company_id: str) -> tuple[int, Any]:
        status, _, body = self.c.http("GET", f"/company/{company_id}")
        return status, json.loads(body) if body else None


@pytest.fixture
def company(tmp_path: Path) -> Iterator[Canaria]:
    app = copy_example("company", tmp_path)
    c = Canaria(app / "template.yaml", tmp_path / "state").start(timeout=120)
    yield c
    c.stop()


def deploy(c: Canaria, release: str) -> list[dict[str, Any]]:
    r = c.cli(
        "deploy", "-t", str(c.template), "--parameter-overrides", f"Release={release}", "--json"
    )
    assert r.returncode == 0, r.stdout + r.stderr
    deployments: list[dict[str, Any]] = json.loads(r.stdout)["deployments"]
    assert {d["targets"][0]["function"] for d in deployments} == {
        "SaveCompanyFunction",
        "GetCompanyFunction",
        "ListCompaniesFunction",
        "DeleteCompanyFunction",
    }
    return deployments


def run(
    c: Canaria,
    registry: Registry,
    deployments: list[dict[str, Any]],
    *,
    employees: int = 10,
    per_step: int = 4,
) -> dict[str, dict[str, Any]]:
    """Advance time with traffic until every deployment has completed. A hook runs in
    wall time (a Node.js process, SDK calls, a state machine): while one has not
    reported, virtual time waits for it, so a slow machine cannot make a hook look late."""
    done: dict[str, dict[str, Any]] = {}
    steps = 0
    give_up = time.monotonic() + 300.0
    while steps < 200:
        running: list[str] = []
        for d in deployments:
            if d["id"] not in done:
                view = c.api().get(f"/deployments/{d['id']}")
                if view["completed"]:
                    done[d["id"]] = view
                running += [
                    f"{d['id']} {h['function']}"
                    for h in view.get("hook_executions", [])
                    if h["status"] in ("Pending", "InProgress")
                ]
        if len(done) == len(deployments):
            return {v["targets"][0]["function"]: v for v in done.values()}
        if running:
            assert time.monotonic() < give_up, f"hooks never reported: {running}"
            time.sleep(0.05)
            continue
        for i in range(per_step):
            registry.create(f"Company {steps}-{i}", employees)
        c.advance(10)
        steps += 1
    raise AssertionError(f"deployments did not complete: {list(done)}")


def split(c: Canaria, fn: str) -> dict[str, float]:
    return c.alias(fn, "prd")["split"]  # type: ignore[no-any-return]


def test_company_crud_releases_and_safety_nets(company: Canaria, tmp_path: Path) -> None:
    c = company
    reg = Registry(c)

    # ---- CRUD through the API, DynamoDB behind it ------------------------------------
    assert reg.create("Acme", 40) == 201
    acme = next(iter(reg.written))
    assert reg.get(acme) == (200, {"company_id": acme, "name": "Acme", "employees": 40})
    status, _, body = c.http(
        "PUT",
        "/company",
        json.dumps({"company_id": acme, "name": "Acme", "employees": 41}).encode(),
    )
    assert status == 200 and json.loads(body)["employees"] == 41
    status, _, body = c.http("POST", "/company", b'{"employees": "many"}')
    assert status == 400
    assert json.loads(body)["problems"] == [
        "name is required and must be a non-empty string",
        "employees must be an integer",
    ]
    assert reg.create("Doomed", 1) == 201
    doomed = next(k for k, v in reg.written.items() if v["name"] == "Doomed")
    assert c.http("DELETE", f"/company/{doomed}")[0] == 204
    del reg.written[doomed]
    assert reg.get(doomed)[0] == 204
    status, _, body = c.http("GET", "/company")
    assert status == 200 and [x["name"] for x in json.loads(body)["companies"]] == ["Acme"]

    # ---- v2: good; traffic reaches 100 % and the integration test passes ---------------
    results = run(c, reg, deploy(c, "v2"))
    for fn, d in results.items():
        assert d["state"] == "Succeeded", (fn, d)
        assert [h["status"] for h in d["hook_executions"]] == ["Succeeded", "Succeeded"], d
        assert list(split(c, fn).values()) == [1.0]
    v2 = {fn: int(d["targets"][0]["to_version"]) for fn, d in results.items()}
    assert reg.create("Globex", 7) == 201
    globex = next(k for k, v in reg.written.items() if v["name"] == "Globex")
    assert "registered_at" in reg.get(globex)[1]

    # ---- v3: save crashes on large companies; the alarm or the judge stops it --------
    results = run(c, reg, deploy(c, "v3"), employees=5000, per_step=12)
    save = results["SaveCompanyFunction"]
    assert save["state"] == "Stopped" and save["rolled_back"], save
    assert save["stopped_by"].split(":")[0] in ("alarm", "judge"), save
    assert split(c, "SaveCompanyFunction") == {str(v2["SaveCompanyFunction"]): 1.0}
    assert reg.failed > 0

    # ---- v4: get answers 200 for a missing company; only the integration test sees it -
    get_before = split(c, "GetCompanyFunction")
    results = run(c, reg, deploy(c, "v4"))
    get = results["GetCompanyFunction"]
    assert get["state"] == "Failed" and get["rolled_back"], get
    assert get["hook_executions"][-1]["status"] == "Failed", get
    assert split(c, "GetCompanyFunction") == get_before

    # ---- v5: the PreTraffic contract breaks; no traffic moves ---------------------------
    before = {fn: split(c, fn) for fn in results}
    results = run(c, reg, deploy(c, "v5"))
    for fn, d in results.items():
        assert d["state"] == "Failed", (fn, d)
        assert [h["status"] for h in d["hook_executions"]] == ["Failed"], d
        assert split(c, fn) == before[fn]

    # ---- every acknowledged write is still there, also after a restart ---------------
    assert len(reg.written) > 20
    for company_id, item in reg.written.items():
        status, got = reg.get(company_id)
        assert status == 200 and got["name"] == item["name"], (company_id, status, got)
    c.stop()
    c.start(timeout=120)
    for company_id in list(reg.written)[:: max(1, len(reg.written) // 10)]:
        assert reg.get(company_id)[0] == 200

    # ---- the Step Functions API, through boto3 --------------------------------------
    sfn = c.aws("stepfunctions")
    machines = sfn.list_state_machines()["stateMachines"]
    assert [m["name"] for m in machines] == ["IntegrationTest"]
    run_ = sfn.start_sync_execution(stateMachineArn=machines[0]["stateMachineArn"], input="{}")
    assert run_["status"] == "SUCCEEDED", run_
    history = sfn.get_execution_history(executionArn=run_["executionArn"])["events"]
    assert history[0]["type"] == "ExecutionStarted"
    assert history[-1]["type"] == "ExecutionSucceeded"


@pytest.mark.parametrize(
    ("broken", "expect"),
    [
        (
            "      KeySchema:\n        - AttributeName: company_id",
            "      KeySchema:\n        - AttributeName: no_such_attribute",
        ),
        (
            "DefinitionUri: statemachine/integration.asl.json",
            "DefinitionUri: statemachine/broken.asl.json",
        ),
    ],
    ids=["table", "state-machine"],
)
def test_faulty_table_or_machine_is_refused_and_changes_nothing(
    company: Canaria, broken: str, expect: str
) -> None:
    app = company.template.parent
    asl = json.loads((app / "statemachine" / "integration.asl.json").read_text())
    asl["States"]["VerifyGone"]["Choices"][0] = {
        "Variable": "$.gone.status",
        "NumericEqualz": 204,
        "Next": "Passed",
    }
    (app / "statemachine" / "broken.asl.json").write_text(json.dumps(asl))
    bad = app / "bad.yaml"
    text = company.template.read_text()
    assert broken in text
    bad.write_text(text.replace(broken, expect).replace("Default: v1", "Default: v2"))
    before = company.status()["functions"]
    r = company.cli("deploy", "-t", str(bad))
    assert r.returncode == 2, r.stdout + r.stderr
    assert ("no_such_attribute" in r.stderr) or ("VerifyGone" in r.stderr), r.stderr
    assert company.status()["functions"] == before
