"""A request gate on a real `canaria up` (manual clock) whose requests complete when the
batch job each one started reports: three requests reach the new version, the alias goes
back to the old one, and the deployment moves on only once the three jobs report
``Succeeded`` through the control API; one ``Failed`` report rolls it back."""

from __future__ import annotations

import http.client
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from canaria.cli.client import ApiError
from tests.functional.harness import Canaria

TEMPLATE = """\
AWSTemplateFormatVersion: "2010-09-09"
Transform: AWS::Serverless-2016-10-31
Parameters:
  Release:
    Type: String
    Default: r1
Metadata:
  canaria:
    deployment_configs:
      FirstThreeJobs:
        steps:
          - {requests: 3, completion: reported, timeout: 6h}
          - {weight: 100}
Resources:
  BatchFunction:
    Type: AWS::Serverless::Function
    Properties:
      Handler: app.handler
      Runtime: python3.11
      CodeUri: src
      Timeout: 5
      AutoPublishAlias: live
      Environment:
        Variables:
          RELEASE: !Ref Release
      DeploymentPreference:
        Type: FirstThreeJobs
      Events:
        Start:
          Type: HttpApi
          Properties:
            Path: /jobs
            Method: POST
"""

HANDLER = """\
import json
import os
import urllib.request


def handler(event, context):
    # A batch job would start here and report its final status later, naming this id.
    body = {"request_id": context.aws_request_id, "release": os.environ["RELEASE"]}
    status = json.loads(event.get("body") or "{}").get("report")
    if status:  # a job that ends at once reports itself, with what its environment holds
        report = urllib.request.Request(
            os.environ["CANARIA_ENDPOINT"]
            + f"/canaria/v1/functions/{context.function_name}/completions",
            data=json.dumps({"request_id": context.aws_request_id, "status": status}).encode(),
            headers={"Authorization": "Bearer " + os.environ["CANARIA_TOKEN"]},
            method="POST",
        )
        body["reported"] = urllib.request.urlopen(report, timeout=10).status
    return {"statusCode": 202, "body": json.dumps(body)}
"""

FN = "BatchFunction"


@pytest.fixture
def batch(tmp_path: Path) -> Iterator[Canaria]:
    app = tmp_path / "batch"
    (app / "src").mkdir(parents=True)
    (app / "template.yaml").write_text(TEMPLATE)
    (app / "src" / "app.py").write_text(HANDLER)
    c = Canaria(app / "template.yaml", tmp_path / "state").start()
    yield c
    c.stop()


def deploy(c: Canaria, release: str) -> str:
    r = c.cli(
        "deploy", "-t", str(c.template), "--parameter-overrides", f"Release={release}", "--json"
    )
    assert r.returncode == 0, r.stdout + r.stderr
    return str(json.loads(r.stdout)["deployments"][0]["id"])


def start_job(c: Canaria) -> dict[str, Any]:
    status, _, body = c.http("POST", "/jobs", b"{}")
    assert status == 202, body
    answer: dict[str, Any] = json.loads(body)
    return answer


def report(c: Canaria, request_id: str, status: str, reason: str = "") -> tuple[int, Any]:
    """POST a completion report; the HTTP status and the JSON answer."""
    conn = http.client.HTTPConnection("127.0.0.1", c.control_port, timeout=30)
    try:
        conn.request(
            "POST",
            f"/canaria/v1/functions/{FN}/completions",
            body=json.dumps({"request_id": request_id, "status": status, "reason": reason}),
            headers={"Authorization": f"Bearer {c.token()}", "Content-Type": "application/json"},
        )
        resp = conn.getresponse()
        return resp.status, json.loads(resp.read())
    finally:
        conn.close()


def in_gate(c: Canaria, dep: str) -> dict[str, Any]:
    """Wait (without moving the clock) for the controller to open the gate."""
    for _ in range(300):
        d: dict[str, Any] = c.api().get(f"/deployments/{dep}")
        if d["state"] == "AllowTraffic" and d["step_index"] == 0:
            return d
        time.sleep(0.05)
    raise AssertionError(f"{dep} never entered its request gate")


def send_three(c: Canaria, dep: str, release: str, stable: tuple[str, str]) -> list[str]:
    """Three jobs reach the new version; then the gate sends it no more. ``stable``: the
    old version's number and release."""
    d = in_gate(c, dep)
    assert d["steps"][0] == "first 3 requests, completion reported, within 21600s"
    jobs = [start_job(c) for _ in range(3)]
    assert {j["release"] for j in jobs} == {release}
    c.advance(1)
    for _ in range(300):  # the controller closes the gate on its next look
        if c.alias(FN)["split"] == {stable[0]: 1.0}:
            assert start_job(c)["release"] == stable[1]
            break
        time.sleep(0.05)
    else:
        raise AssertionError(f"the gate never closed: {c.alias(FN)}")
    return [str(j["request_id"]) for j in jobs]


def test_reported_completions_pass_the_gate_and_a_failed_one_rolls_back(
    batch: Canaria,
) -> None:
    dep = deploy(batch, "r2")
    ids = send_three(batch, dep, "r2", ("1", "r1"))
    # the jobs take an hour: the deployment waits, the old version serves
    batch.advance(3600)
    d = batch.api().get(f"/deployments/{dep}")
    assert d["state"] == "AllowTraffic" and d["step_index"] == 0, d
    assert start_job(batch)["release"] == "r1"
    assert report(batch, ids[0], "Succeeded") == (
        201,
        {
            "function": FN,
            "request_id": ids[0],
            "status": "Succeeded",
            "reason": "",
            "reported_at": pytest.approx(batch.api().get("/clock")["now"]),
        },
    )
    assert report(batch, ids[0], "Succeeded")[0] == 200  # a retried report
    assert report(batch, ids[0], "Failed")[0] == 409  # the first report stands
    for rid in ids[1:]:
        assert report(batch, rid, "Succeeded")[0] == 201
    d = batch.wait_deployment(dep, step=1)
    assert d["state"] == "Succeeded" and not d["rolled_back"], d
    assert any("the first 3 requests reported Succeeded" in e["message"] for e in d["events"])
    assert batch.alias(FN)["split"] == {"2": 1.0}

    dep = deploy(batch, "r3")
    ids = send_three(batch, dep, "r3", ("2", "r2"))
    assert report(batch, ids[0], "Succeeded")[0] == 201
    assert report(batch, ids[1], "Failed", "batch exited with code 3")[0] == 201
    d = batch.wait_deployment(dep, step=1)
    assert d["state"] == "Failed" and d["rolled_back"], d
    assert d["error_code"] == "REQUEST_GATE_FAILURE"
    assert f"request {ids[1]} reported Failed: batch exited with code 3" in d["error_message"]
    assert batch.alias(FN)["split"] == {"2": 1.0}
    assert start_job(batch)["release"] == "r2"


@pytest.mark.parametrize(
    "path,body,status,message",
    [
        (f"/functions/{FN}/completions", {"status": "Succeeded"}, 400, "request_id is required"),
        (
            f"/functions/{FN}/completions",
            {"request_id": "r", "status": "Done"},
            400,
            "status 'Done' (allowed: Succeeded, Failed)",
        ),
        (
            f"/functions/{FN}/completions",
            {"request_id": "r", "status": "Failed", "reason": 3},
            400,
            "reason must be a string",
        ),
        (
            f"/functions/{FN}/completions",
            {"request_id": "r", "status": "Failed", "why": "x"},
            400,
            "unknown field(s) why (allowed: request_id, status, reason)",
        ),
        (
            "/functions/NoSuchFunction/completions",
            {"request_id": "r", "status": "Failed"},
            404,
            "NoSuchFunction",
        ),
    ],
)
def test_bad_completion_reports_are_refused(
    batch: Canaria, path: str, body: dict[str, Any], status: int, message: str
) -> None:
    with pytest.raises(ApiError) as err:
        batch.api().post(path, body)
    assert err.value.status == status and message in err.value.message


def test_a_completion_report_needs_the_token(batch: Canaria) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", batch.control_port, timeout=30)
    try:
        conn.request("POST", f"/canaria/v1/functions/{FN}/completions", body=b"{}")
        assert conn.getresponse().status == 401
    finally:
        conn.close()


def test_a_function_reports_its_own_completion(batch: Canaria) -> None:
    dep = deploy(batch, "r2")
    in_gate(batch, dep)
    for _ in range(3):
        status, _, body = batch.http("POST", "/jobs", b'{"report": "Succeeded"}')
        assert status == 202 and json.loads(body) == {
            "request_id": json.loads(body)["request_id"],
            "release": "r2",
            "reported": 201,
        }
    d = batch.wait_deployment(dep, step=1)
    assert d["state"] == "Succeeded", d
