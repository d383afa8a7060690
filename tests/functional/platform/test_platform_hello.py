"""The hello application through real `canaria up` processes, the CLI and HTTP."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from tests.functional.harness import Canaria, copy_example


@pytest.fixture
def hello(tmp_path: Path) -> Iterator[Canaria]:
    app = copy_example("hello", tmp_path)
    c = Canaria(app / "template.yaml", tmp_path / "state").start()
    yield c
    c.stop()


def deploy(c: Canaria, version: str, *extra: str) -> tuple[int, list[dict[str, object]]]:
    r = c.cli(
        "deploy",
        "-t",
        str(c.template),
        "--parameter-overrides",
        f"AppVersion={version}",
        "--json",
        *extra,
    )
    assert r.returncode in (0, 1), r.stderr
    body = json.loads(r.stdout)
    return r.returncode, body["deployments"]


def test_up_serves_hello_with_and_without_stage(hello: Canaria) -> None:
    status, _headers, body = hello.http("GET", "/hello")
    assert status == 200, body
    assert json.loads(body) == {"message": "hello from v1"}
    assert hello.http("GET", "/nope")[0] == 404
    assert hello.alias("HelloFunction")["split"] == {"1": 1.0}


def test_good_release_shifts_all_traffic(hello: Canaria) -> None:
    code, deps = deploy(hello, "v2")
    assert code == 0 and len(deps) == 1
    d = hello.wait_deployment(str(deps[0]["id"]), step=30)
    assert d["state"] == "Succeeded", d
    assert [h["status"] for h in d["hook_executions"]] == ["Succeeded"]
    assert hello.alias("HelloFunction")["split"] == {"2": 1.0}
    status, _, body = hello.http("GET", "/hello?name=ada")
    assert status == 200 and json.loads(body)["message"] == "hello, ada, from v2"
    # the CLI reads the same state
    out = hello.cli("history", "HelloFunction", "--json")
    assert out.returncode == 0
    assert [v["number"] for v in json.loads(out.stdout)["versions"]] == [1, 2]


def environments(c: Canaria, function: str = "HelloFunction") -> dict[str, int]:
    return dict(c.status()["functions"][function]["environments"])


def until_environments(c: Canaria, wanted: dict[str, int]) -> dict[str, int]:
    """Retiring stops workers in the background: poll a little."""
    deadline = time.monotonic() + 10
    while (envs := environments(c)) != wanted and time.monotonic() < deadline:
        time.sleep(0.05)
    return envs


def test_versions_no_alias_routes_to_lose_their_environments(hello: Canaria) -> None:
    for _ in range(3):
        assert hello.http("GET", "/hello")[0] == 200
    assert environments(hello) == {"1": 1}
    _, deps = deploy(hello, "v2")
    d = hello.wait_deployment(str(deps[0]["id"]), step=30)
    assert d["state"] == "Succeeded", d
    # v1 is routed no more: its warm environment is gone; v2's (the hook's probe) stays
    assert until_environments(hello, {"2": 1}) == {"2": 1}
    _, deps = deploy(hello, "v3")
    dep = str(deps[0]["id"])
    while hello.api().get(f"/deployments/{dep}")["state"] != "AllowTraffic":
        hello.advance(1)
    assert hello.cli("stop", dep).returncode == 0  # rolled back to v2
    assert until_environments(hello, {"2": 1}) == {"2": 1}
    # a version can still be invoked by qualifier: a fresh environment starts for it
    r = hello.cli("invoke", "HelloFunction:1", "--json")
    assert r.returncode == 0 and json.loads(r.stdout)["payload"]["statusCode"] == 200
    assert environments(hello) == {"1": 1, "2": 1}


def test_unchanged_template_deploys_nothing(hello: Canaria) -> None:
    r = hello.cli("deploy", "-t", str(hello.template))
    assert r.returncode == 0 and "nothing to do" in r.stdout


def test_dry_run_prints_the_whole_plan_and_changes_nothing(hello: Canaria) -> None:
    before = hello.status()["functions"]
    r = hello.cli(
        "deploy", "-t", str(hello.template), "--parameter-overrides", "AppVersion=v2", "--dry-run"
    )
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert any(line.startswith("would load functions: HelloFunction") for line in lines), lines
    assert any(line.startswith("would publish HelloFunction version 2 ") for line in lines)
    assert (
        "would start deployment: HelloFunction:live 1 → 2 "
        "(the new versions' first environments started first)"
    ) in lines
    assert hello.status()["functions"] == before


def test_bad_template_exit_2_and_no_change(hello: Canaria, tmp_path: Path) -> None:
    bad = hello.template.parent / "bad.yaml"
    bad.write_text(hello.template.read_text().replace("Timeout: 5", "Timeout: 5000"))
    before = hello.status()
    r = hello.cli("deploy", "-t", str(bad))
    assert r.returncode == 2
    assert "bad.yaml" in r.stderr and "Timeout" in r.stderr
    assert hello.status()["functions"] == before["functions"]
    r = hello.cli("deploy", "-t", str(hello.template), "--parameter-overrides", "AppVersion=v9")
    assert r.returncode == 2 and "AppVersion" in r.stderr


def test_second_deployment_of_busy_alias_is_refused(hello: Canaria) -> None:
    code, deps = deploy(hello, "v2")
    assert code == 0
    r = hello.cli("deploy", "-t", str(hello.template), "--parameter-overrides", "AppVersion=v3")
    assert r.returncode == 2 and "already being deployed" in r.stderr
    hello.cli("stop", str(deps[0]["id"]))


def test_stop_and_promote_commands(hello: Canaria) -> None:
    _, deps = deploy(hello, "v2")
    dep_id = str(deps[0]["id"])
    # get past the PreTraffic hook to the 10 % step
    d = hello.api().get(f"/deployments/{dep_id}")
    while d["state"] != "AllowTraffic":
        hello.advance(1)
        d = hello.api().get(f"/deployments/{dep_id}")
    assert hello.alias("HelloFunction")["split"] == {"1": 0.9, "2": 0.1}
    r = hello.cli("promote", dep_id, "--full")
    assert r.returncode == 0, r.stderr
    d = hello.wait_deployment(dep_id)
    assert d["state"] == "Succeeded"
    _, deps = deploy(hello, "v1")
    r = hello.cli("stop", str(deps[0]["id"]))
    assert r.returncode == 0 and "Stopped" in r.stdout
    assert hello.alias("HelloFunction")["split"] == {"2": 1.0}
    r = hello.cli("stop", str(deps[0]["id"]))
    assert r.returncode == 2 and "already completed" in r.stderr


def test_invalid_control_api_bodies_are_4xx(hello: Canaria) -> None:
    from canaria.cli.client import ApiError

    api = hello.api()
    v2 = {"template": str(hello.template), "parameter_overrides": {"AppVersion": "v2"}}
    for path, body in [
        ("/deployments", {**v2, "judge": {"alpha": 2}}),
        ("/deployments", {**v2, "judge": {"alfa": 0.1}}),
        ("/deployments", {**v2, "judge": {"slow_tolerance_ms": "1"}}),
        ("/deployments", {**v2, "judge": [1]}),
        ("/deployments", {}),
        ("/deployments", {"template": 5}),
        ("/deployments", {"template": str(hello.template), "ignore_alarms": "yes"}),
        ("/functions/HelloFunction/invoke", {"qualifier": 3}),
        ("/functions/Nope/invoke", {}),
        ("/deployments/d-NOPE00000/stop", {}),
        ("/clock", {"advance": -1}),
    ]:
        with pytest.raises(ApiError) as err:
            api.post(path, body)
        assert 400 <= err.value.status < 500, (path, err.value.message)
    assert api.get("/deployments")["deployments"] == []  # nothing was started or published
    assert hello.alias("HelloFunction")["split"] == {"1": 1.0}
    unauth = type(api)(api.base, "wrong-token")
    with pytest.raises(ApiError) as err:
        unauth.get("/status")
    assert err.value.status == 401


def test_invoke_and_logs_from_the_cli(hello: Canaria, tmp_path: Path) -> None:
    r = hello.cli("invoke", "HelloFunction:live", "--json")
    assert r.returncode == 0, r.stderr
    data = json.loads(r.stdout)
    assert data["version"] == 1 and data["payload"]["statusCode"] == 200
    # the event from a file, as the AWS CLI takes it (file://) or curl (@)
    event = tmp_path / "event.json"
    event.write_text('{"rawPath": "/hello"}')
    for given in (f"file://{event}", f"@{event}"):
        r = hello.cli("invoke", "HelloFunction:live", "--payload", given, "--json")
        assert r.returncode == 0 and json.loads(r.stdout)["payload"]["statusCode"] == 200, r.stderr
    r = hello.cli("invoke", "HelloFunction", "--payload", f"file://{tmp_path}/missing.json")
    assert r.returncode != 0 and "cannot read the file" in r.stderr and "missing.json" in r.stderr
    event.write_text("{not json")
    r = hello.cli("invoke", "HelloFunction", "--payload", f"@{event}")
    assert r.returncode != 0 and f"--payload @{event} is not JSON" in r.stderr
    r = hello.cli("logs", "HelloFunction", "--json")
    assert r.returncode == 0
    assert any("START RequestId" in json.loads(line)["text"] for line in r.stdout.splitlines())


def test_a_canary_starts_with_the_environments_its_queue_would_grow_it_to(
    hello: Canaria,
) -> None:
    """v1 serving a queue runs two environments (the runtime's min_serving); the release
    starts as many of v2 before traffic moves, not the first step's 10 % share (one), so
    a shift to 100 % under the same load starts none."""
    with ThreadPoolExecutor(16) as pool:
        statuses = list(pool.map(lambda _: hello.http("GET", "/hello")[0], range(400)))
    assert set(statuses) == {200}
    assert hello.status()["functions"]["HelloFunction"]["environments"].get("1", 0) >= 2
    code, deps = deploy(hello, "v2")
    assert code == 0 and len(deps) == 1
    assert hello.status()["functions"]["HelloFunction"]["environments"].get("2", 0) >= 2
