"""`canaria guard` end to end against a running `canaria up`: its edge stands in for AWS
(CloudFormation, CodeDeploy, CloudWatch Logs), the local controller's own judge is off,
and the guard is the one that must see the bad canary and stop it."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest

from canaria.auth import access_key_id, secret_access_key
from canaria.clock import ManualClock
from canaria.guard import (
    ActionStatus,
    AwsGuardClient,
    Guard,
    GuardOptions,
    GuardRecords,
    Mode,
)
from canaria.store import Store
from tests.functional.guard.standins import Loopback, Quiet
from tests.functional.harness import Canaria, copy_example


@pytest.fixture
def hello(tmp_path: Path) -> Iterator[Canaria]:
    app = copy_example("hello", tmp_path)
    template = app / "template.yaml"  # the alarm must not be what stops v3 here
    template.write_text(template.read_text().replace("Threshold: 5", "Threshold: 100000"))
    c = Canaria(template, tmp_path / "state").start()
    yield c
    c.stop()


def edge_client(c: Canaria) -> AwsGuardClient:
    session = boto3.session.Session(
        aws_access_key_id=access_key_id(c.token()),
        aws_secret_access_key=secret_access_key(c.token()),
        region_name="us-east-1",
    )
    return AwsGuardClient(session=session, endpoint_url=f"http://127.0.0.1:{c.control_port}")


def start_bad_canary(c: Canaria) -> str:
    r = c.cli(
        "deploy",
        "-t",
        str(c.template),
        "--parameter-overrides",
        "AppVersion=v3",
        "--no-judge",
        "--json",
    )
    assert r.returncode == 0, r.stderr
    dep: str = json.loads(r.stdout)["deployments"][0]["id"]
    deadline = time.monotonic() + 120  # the PreTraffic hook runs (wall time: a cold start)
    while time.monotonic() < deadline:
        if c.api().get(f"/deployments/{dep}")["state"] == "AllowTraffic":
            return dep
        c.advance(1)
        time.sleep(0.05)
    raise AssertionError(c.api().get(f"/deployments/{dep}"))


def drive(c: Canaria, guard: Guard, dep: str, done: Any, rounds: int = 200) -> int:
    """Traffic (20 requests a virtual second), then one guard poll, until ``done()``;
    returns how many requests failed."""
    failed = 0
    for _ in range(rounds):
        if done():
            return failed
        for _ in range(20):
            failed += c.http("GET", "/hello")[0] >= 500
        c.advance(1)
        guard.poll()
    raise AssertionError(f"not done after {rounds} rounds: {guard.records.get(dep)}")


def test_guard_stops_a_bad_canary_through_the_edge(hello: Canaria, tmp_path: Path) -> None:
    dep = start_bad_canary(hello)
    store = Store.open(str(tmp_path / "guard-state"))
    records = GuardRecords(store)
    hook = Hooked()
    options = GuardOptions(stack="hello", mode=Mode.STOP, webhooks=(hook.url,))
    guard = Guard(edge_client(hello), records, options, ManualClock(0.0))

    def acted() -> bool:
        r = records.get(dep)
        return r is not None and r.action_status is ActionStatus.DONE

    failed = drive(hello, guard, dep, acted)
    # the webhook hears of the stop with AWS's answer, as for a local deployment's stop
    assert [(b["eventType"], b["deploymentId"]) for b in hook.bodies] == [("DeploymentStop", dep)]
    assert hook.bodies[0]["canaria"]["actionStatus"] == "done"
    assert hook.bodies[0]["canaria"]["action"].startswith("codedeploy StopDeployment")
    hook.close()
    d = hello.api().get(f"/deployments/{dep}")
    assert d["state"] == "Stopped" and d["rolled_back"], d
    assert hello.alias("HelloFunction")["split"] == {"1": 1.0}
    assert failed <= 15, failed  # a handful, not a minute's worth
    record = records.get(dep)
    assert record is not None and record.verdict == "ROLLBACK"
    assert record.function == "HelloFunction" and record.target_version == "2"
    assert record.weight == 0.1  # GetDeploymentTarget's targetVersionWeight
    assert guard.client.calls["codedeploy:stop_deployment"] == 1
    kinds = [e.kind for e in records.events(dep)]
    assert kinds[0] == "watch" and "judge" in kinds and kinds[-1] == "action"

    # A guard restarted on the same store sees CodeDeploy's Stopped and never stops again.
    again = Guard(edge_client(hello), records, options, ManualClock(0.0))
    for _ in range(3):
        hello.advance(1)
        again.poll()
    assert again.client.calls["codedeploy:stop_deployment"] == 0
    store.close()


class Hooked:
    """A webhook receiver on loopback: the JSON bodies POSTed to it."""

    def __init__(self) -> None:
        self.bodies: list[dict[str, Any]] = []
        outer = self

        class Handler(Quiet):
            def do_POST(self) -> None:
                n = int(self.headers.get("Content-Length", "0"))
                outer.bodies.append(json.loads(self.rfile.read(n)))
                self.send_response(204)
                self.end_headers()

        self.http = Loopback(Handler)
        self.url = self.http.url + "/hook"

    def close(self) -> None:
        self.http.close()


def test_dry_run_decides_and_touches_nothing(hello: Canaria, tmp_path: Path) -> None:
    dep = start_bad_canary(hello)
    store = Store.open(str(tmp_path / "guard-state"))
    records = GuardRecords(store)
    hook = Hooked()
    guard = Guard(
        edge_client(hello),
        records,
        GuardOptions(
            application="hello",
            groups=("HelloFunction",),
            mode=Mode.DRY_RUN,
            webhooks=(hook.url,),
        ),
        ManualClock(0.0),
    )

    def decided() -> bool:
        r = records.get(dep)
        return r is not None and r.action_status is ActionStatus.WOULD

    drive(hello, guard, dep, decided)
    assert hello.api().get(f"/deployments/{dep}")["state"] == "AllowTraffic"
    record = records.get(dep)
    assert record is not None and record.action is not None
    assert record.action.startswith("codedeploy StopDeployment")
    assert not any(k.startswith(("codedeploy:stop", "cloudwatch:")) for k in guard.client.calls)
    for _ in range(3):  # the verdict is told once, however often the guard polls after
        hello.advance(1)
        guard.poll()
    assert [(b["eventType"], b["deploymentId"]) for b in hook.bodies] == [("CanariaVerdict", dep)]
    assert hook.bodies[0]["canaria"]["verdict"] == "ROLLBACK"
    assert hook.bodies[0]["canaria"]["actionStatus"] == "would"
    hook.close()
    store.close()


# The documented pattern's alarm, as canaria's template loader accepts it (AWS/Lambda
# metrics only): a metric that never has data (no version 999 ever runs) and
# TreatMissingData: ignore, so only SetAlarmState moves it and its state holds.
JUDGE_ALARM = """
  CanariaJudgeAlarm:
    Type: AWS::CloudWatch::Alarm
    Properties:
      AlarmName: canaria-judge
      Namespace: AWS/Lambda
      MetricName: Errors
      Dimensions:
        - Name: FunctionName
          Value: !Ref HelloFunction
        - Name: Resource
          Value: !Sub "${HelloFunction}:live"
        - Name: ExecutedVersion
          Value: "999"
      Statistic: Maximum
      Period: 60
      EvaluationPeriods: 1
      Threshold: 1
      ComparisonOperator: GreaterThanOrEqualToThreshold
      TreatMissingData: ignore
"""


@pytest.fixture
def hello_judge_alarm(tmp_path: Path) -> Iterator[Canaria]:
    app = copy_example("hello", tmp_path)
    template = app / "template.yaml"
    text = template.read_text().replace("Threshold: 5", "Threshold: 100000")
    text = text.replace(
        "          - !Ref HelloErrorsAlarm\n",
        "          - !Ref HelloErrorsAlarm\n          - !Ref CanariaJudgeAlarm\n",
    )
    text = text.replace("\nOutputs:", JUDGE_ALARM + "\nOutputs:")
    template.write_text(text)
    c = Canaria(template, tmp_path / "state").start()
    yield c
    c.stop()


def test_alarm_mode_leaves_the_stop_to_the_deployment_s_alarm(
    hello_judge_alarm: Canaria, tmp_path: Path
) -> None:
    """--act alarm: the guard sets an alarm the deployment watches; the local controller,
    as CodeDeploy would, stops the deployment on it."""
    hello = hello_judge_alarm
    dep = start_bad_canary(hello)
    store = Store.open(str(tmp_path / "guard-state"))
    records = GuardRecords(store)
    options = GuardOptions(stack="hello", mode=Mode.ALARM, alarm_name="canaria-judge")
    guard = Guard(edge_client(hello), records, options, ManualClock(0.0))

    def acted() -> bool:
        r = records.get(dep)
        return r is not None and r.action_status is ActionStatus.DONE

    drive(hello, guard, dep, acted)
    deadline = time.monotonic() + 60  # the controller looks at alarms on its next tick
    while not hello.api().get(f"/deployments/{dep}")["completed"]:
        assert time.monotonic() < deadline, "the deployment did not stop on the alarm"
        hello.advance(1)
        time.sleep(0.05)
    d = hello.api().get(f"/deployments/{dep}")
    assert d["state"] == "Stopped" and d["stopped_by"] == "alarm:canaria-judge", d
    assert guard.client.calls["cloudwatch:set_alarm_state"] == 1
    guard.poll()  # CodeDeploy finished: the guard sets its alarm back to OK
    assert guard.client.calls["cloudwatch:set_alarm_state"] == 2
    store.close()
