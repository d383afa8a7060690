"""The clock application (Node.js, SDK v2 and v3 hooks) through a real `canaria up`."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.functional.harness import Canaria, copy_example

pytestmark = pytest.mark.skipif(shutil.which("node") is None, reason="needs node on PATH")


@pytest.fixture
def clock(tmp_path: Path) -> Iterator[Canaria]:
    app = copy_example("clock", tmp_path)
    c = Canaria(app / "template.yaml", tmp_path / "state").start()
    yield c
    c.stop()


def deploy(c: Canaria, version: str) -> str:
    r = c.cli(
        "deploy", "-t", str(c.template), "--parameter-overrides", f"AppVersion={version}", "--json"
    )
    assert r.returncode in (0, 1), r.stderr
    deployments = json.loads(r.stdout)["deployments"]
    assert len(deployments) == 1, deployments
    return str(deployments[0]["id"])


def hook_logs(c: Canaria, function: str) -> str:
    r = c.cli("logs", function)
    assert r.returncode == 0, r.stderr
    return r.stdout


def test_node_function_is_canary_deployed_and_sdk_v2_and_v3_hooks_decide(clock: Canaria) -> None:
    status, _, body = clock.http("GET", "/time")
    assert status == 200, body
    assert json.loads(body)["version"] == "v1"

    # v2: the v2 (callback) PreTraffic hook invokes the new version and reports Succeeded,
    # traffic shifts, the v3 (async, ES module) PostTraffic hook reports Succeeded.
    d = clock.wait_deployment(deploy(clock, "v2"), step=60)
    assert d["state"] == "Succeeded", d
    assert [h["status"] for h in d["hook_executions"]] == ["Succeeded", "Succeeded"]
    assert clock.alias("ClockFunction")["split"] == {"2": 1.0}
    status, _, body = clock.http("GET", "/time?option=date")
    assert status == 200 and json.loads(body)["version"] == "v2" and "date" in json.loads(body)
    before = hook_logs(clock, "BeforeAllowTraffic")
    assert "Testing new function version: " in before and "ClockFunction:2" in before
    assert "CodeDeploy status updated successfully: Succeeded" in before
    assert '\\"version\\":\\"v2\\",\\"date\\"' in hook_logs(clock, "AfterAllowTraffic")
    # the hook by its FunctionName, as its log group and the stack's resources name it
    assert hook_logs(clock, "CodeDeployHook_beforeAllowTraffic") == before

    # v3 answers 400: the v2 hook reports Failed, no traffic ever reaches it.
    d = clock.wait_deployment(deploy(clock, "v3"), step=60)
    assert d["state"] == "Failed", d
    assert [h["status"] for h in d["hook_executions"]] == ["Failed"]
    assert clock.alias("ClockFunction")["split"] == {"2": 1.0}
    assert "CodeDeploy status updated successfully: Failed" in hook_logs(
        clock, "BeforeAllowTraffic"
    )


def test_a_hook_with_a_syntax_error_fails_the_deployment(clock: Canaria) -> None:
    hook = clock.template.parent / "hooks" / "beforeAllowTraffic.js"
    hook.write_text(hook.read_text() + "\nexports.broken = () => {{;\n")
    d = clock.wait_deployment(deploy(clock, "v2"), step=60)
    assert d["state"] == "Failed", d
    assert "Runtime.UserCodeSyntaxError" in json.dumps(d)
    assert clock.alias("ClockFunction")["split"] == {"1": 1.0}


@pytest.mark.skipif(shutil.which("npm") is None, reason="needs npm")
def test_a_failing_npm_ci_refuses_the_deployment_before_anything_changes(clock: Canaria) -> None:
    code = clock.template.parent / "src" / "v2"
    (code / "package.json").write_text(
        json.dumps({"name": "clock", "version": "1.0.0", "dependencies": {"left-pad": "1.3.0"}})
    )
    (code / "package-lock.json").write_text(  # out of step with package.json: npm ci refuses
        json.dumps({"name": "clock", "version": "1.0.0", "lockfileVersion": 3, "packages": {}})
    )
    r = clock.cli(
        "deploy", "-t", str(clock.template), "--parameter-overrides", "AppVersion=v2", "--json"
    )
    assert r.returncode == 2, (r.stdout, r.stderr)
    assert "npm could not install" in r.stderr + r.stdout and "(npm ci)" in r.stderr + r.stdout
    history = json.loads(clock.cli("history", "ClockFunction", "--json").stdout)
    assert [v["number"] for v in history["versions"]] == [1]
    assert clock.alias("ClockFunction")["split"] == {"1": 1.0}
