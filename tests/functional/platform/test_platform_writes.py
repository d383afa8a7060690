"""Every alias and deployment write goes through the controller: what boto3 and the CLI
get when they try to move an alias a deployment holds, and a rollback after the fact."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.functional.harness import Canaria, copy_example


@pytest.fixture
def hello(tmp_path: Path) -> Iterator[Canaria]:
    app = copy_example("hello", tmp_path)
    c = Canaria(app / "template.yaml", tmp_path / "state").start()
    yield c
    c.stop()


def deploy(c: Canaria, version: str) -> str:
    r = c.cli(
        "deploy", "-t", str(c.template), "--parameter-overrides", f"AppVersion={version}", "--json"
    )
    assert r.returncode == 0, r.stderr
    (d,) = json.loads(r.stdout)["deployments"]
    return str(d["id"])


def alias_config(lam: Any) -> tuple[str, Any]:
    got = lam.get_alias(FunctionName="HelloFunction", Name="live")
    return got["FunctionVersion"], got.get("RoutingConfig")


def test_update_alias_during_a_deployment_is_a_conflict_naming_it(hello: Canaria) -> None:
    lam, codedeploy = hello.aws("lambda"), hello.aws("codedeploy")
    deployment_id = deploy(hello, "v2")
    before = alias_config(lam)

    with pytest.raises(ClientError) as refused:
        lam.update_alias(FunctionName="HelloFunction", Name="live", FunctionVersion="2")
    error = refused.value.response
    assert error["Error"]["Code"] == "ResourceConflictException"
    assert error["ResponseMetadata"]["HTTPStatusCode"] == 409
    assert deployment_id in error["Error"]["Message"]
    assert alias_config(lam) == before

    # the documented way: stop the deployment (here without rollback), then move the alias
    codedeploy.stop_deployment(deploymentId=deployment_id, autoRollbackEnabled=False)
    got = codedeploy.get_deployment(deploymentId=deployment_id)["deploymentInfo"]
    assert got["status"] == "Stopped"
    moved = lam.update_alias(FunctionName="HelloFunction", Name="live", FunctionVersion="2")
    assert moved["FunctionVersion"] == "2" and "RoutingConfig" not in moved
    assert hello.alias("HelloFunction")["split"] == {"2": 1.0}
    status, _, body = hello.http("GET", "/hello")
    assert status == 200 and json.loads(body)["message"].endswith("from v2")


def test_a_rollback_after_the_deployment_finished_is_a_deployment(hello: Canaria) -> None:
    shipped = deploy(hello, "v2")
    assert hello.wait_deployment(shipped, step=30)["state"] == "Succeeded"
    assert hello.alias("HelloFunction")["split"] == {"2": 1.0}

    r = hello.cli("rollback", "HelloFunction")
    assert r.returncode == 0, r.stderr
    assert f"back to version 1 (rolls back {shipped})" in r.stdout
    back = hello.api().get("/deployments")["deployments"][0]
    assert back["rollback_of"] == shipped and back["id"] != shipped
    assert back["targets"] == [
        {"function": "HelloFunction", "alias": "live", "from_version": 2, "to_version": 1}
    ]
    done = hello.wait_deployment(back["id"], step=1)
    assert done["state"] == "Succeeded", done
    assert hello.alias("HelloFunction")["split"] == {"1": 1.0}
    original = hello.api().get(f"/deployments/{shipped}")
    assert original["state"] == "Succeeded"
    assert any(
        f"rolled back by deployment {back['id']}" in e["message"] for e in original["events"]
    )
    # the CodeDeploy view of both
    cd = hello.aws("codedeploy")
    assert cd.get_deployment(deploymentId=back["id"])["deploymentInfo"]["status"] == "Succeeded"
