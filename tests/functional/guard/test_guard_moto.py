"""`canaria guard` against moto's server, an implementation of the AWS APIs canaria did
not write: CodeDeploy (applications, groups, deployments with an AppSpec revision),
CloudWatch Logs (FilterLogEvents over Lambda-named streams) and CloudWatch alarms.

moto does not serve ListDeploymentTargets / GetDeploymentTarget or StopDeployment; the
guard reads the target from the deployment's AppSpec then, and records StopDeployment's
refusal instead of retrying it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from typing import Any

import boto3
import pytest

from canaria.clock import ManualClock
from canaria.guard import (
    ActionStatus,
    AwsGuardClient,
    Guard,
    GuardError,
    GuardOptions,
    GuardRecords,
    Mode,
)
from canaria.guard.logsignals import LogParser
from canaria.guard.metricsignals import SETTLE_S
from canaria.guard.model import Source
from canaria.store import Store
from tests.functional.harness import copy_example

REGION = "eu-west-1"
FUNCTION = "my-app-HelloFunction-AbCdEf"


def session() -> boto3.session.Session:
    return boto3.session.Session(
        aws_access_key_id="testing", aws_secret_access_key="testing", region_name=REGION
    )


def client(url: str, service: str) -> Any:
    return session().client(service, endpoint_url=url)


def make_deployment(url: str) -> str:
    cd = client(url, "codedeploy")
    cd.create_application(applicationName="my-app", computePlatform="Lambda")
    cd.create_deployment_group(
        applicationName="my-app",
        deploymentGroupName="HelloGroup",
        serviceRoleArn="arn:aws:iam::123456789012:role/CodeDeploy",
        deploymentConfigName="CodeDeployDefault.LambdaCanary10Percent5Minutes",
    )
    appspec = {
        "version": 0.0,
        "Resources": [
            {
                "HelloFunction": {
                    "Type": "AWS::Lambda::Function",
                    "Properties": {
                        "Name": FUNCTION,
                        "Alias": "live",
                        "CurrentVersion": "1",
                        "TargetVersion": "2",
                    },
                }
            }
        ],
    }
    dep: str = cd.create_deployment(
        applicationName="my-app",
        deploymentGroupName="HelloGroup",
        revision={
            "revisionType": "AppSpecContent",
            "appSpecContent": {"content": json.dumps(appspec)},
        },
    )["deploymentId"]
    return dep


class Lambda:
    """Writes log lines as Lambda does: one stream per environment, the version in its
    name; version 2 fails every request it serves."""

    def __init__(self, url: str, group: str = f"/aws/lambda/{FUNCTION}") -> None:
        self.logs = client(url, "logs")
        self.group = group
        self.logs.create_log_group(logGroupName=self.group)
        self.streams = {"1": "2026/11/30/[1]aaaaaaaaaaaa", "2": "2026/11/30/[2]bbbbbbbbbbbb"}
        for s in self.streams.values():
            self.logs.create_log_stream(logGroupName=self.group, logStreamName=s)
        self.n = 0

    def serve(self, version: str) -> None:
        self.n += 1
        rid = f"00000000-0000-4000-8000-{self.n:012d}"
        now = int(time.time() * 1000)
        lines = [f"START RequestId: {rid} Version: {version}"]
        if version == "2":
            lines.append("[ERROR] RuntimeError: v2 lost its greeting\nTraceback (most recent")
        lines += [
            f"END RequestId: {rid}",
            f"REPORT RequestId: {rid}\tDuration: 2.00 ms\tBilled Duration: 2 ms\t"
            "Memory Size: 128 MB\tMax Memory Used: 40 MB",
        ]
        self.logs.put_log_events(
            logGroupName=self.group,
            logStreamName=self.streams[version],
            logEvents=[{"timestamp": now, "message": m} for m in lines],
        )


def guard_for(url: str, store: Store, mode: Mode) -> Guard:
    options = GuardOptions(
        application="my-app", mode=mode, alarm_name="canaria-judge", lookback_s=3600
    )
    return Guard(
        AwsGuardClient(session=session(), endpoint_url=url),
        GuardRecords(store),
        options,
        ManualClock(0.0),
    )


def status_of(guard: Guard, dep: str) -> ActionStatus | None:
    record = guard.records.get(dep)
    return None if record is None else record.action_status


def run_traffic(fn: Lambda, guard: Guard, done: Any) -> None:
    for _ in range(50):
        for _ in range(9):
            fn.serve("1")
        fn.serve("2")
        guard.poll()
        if done():
            return
    raise AssertionError("the guard did not decide")


def test_guard_drives_the_judge_alarm_on_moto(moto: str, tmp_path: Any) -> None:
    dep = make_deployment(moto)
    client(moto, "cloudwatch").put_metric_alarm(
        AlarmName="canaria-judge",
        Namespace="canaria",
        MetricName="JudgeVerdict",
        Statistic="Maximum",
        Period=60,
        EvaluationPeriods=1,
        Threshold=1,
        ComparisonOperator="GreaterThanOrEqualToThreshold",
        TreatMissingData="ignore",
    )
    fn = Lambda(moto)
    store = Store.open(str(tmp_path / "state"))
    guard = guard_for(moto, store, Mode.ALARM)
    run_traffic(fn, guard, lambda: status_of(guard, dep) is ActionStatus.DONE)
    record = guard.records.get(dep)
    assert record is not None and record.verdict == "ROLLBACK"
    assert (record.function, record.alias, record.current_version, record.target_version) == (
        FUNCTION,
        "live",
        "1",
        "2",
    )
    alarm = client(moto, "cloudwatch").describe_alarms(AlarmNames=["canaria-judge"])
    assert alarm["MetricAlarms"][0]["StateValue"] == "ALARM"
    assert "canaria judge" in alarm["MetricAlarms"][0]["StateReason"]
    assert record.canary_errors <= 6  # a handful of failed canary requests
    store.close()


def test_a_refused_stop_is_recorded_and_not_retried(moto: str, tmp_path: Any) -> None:
    dep = make_deployment(moto)
    fn = Lambda(moto)
    store = Store.open(str(tmp_path / "state"))
    guard = guard_for(moto, store, Mode.STOP)
    run_traffic(fn, guard, lambda: status_of(guard, dep) is ActionStatus.REFUSED)
    for _ in range(3):
        fn.serve("2")
        guard.poll()
    record = guard.records.get(dep)
    assert record is not None and record.verdict == "ROLLBACK"
    assert record.action_status is ActionStatus.REFUSED
    assert record.answer is not None and "codedeploy stop_deployment" in record.answer
    assert guard.client.calls["codedeploy:stop_deployment"] == 1
    store.close()


def test_a_restarted_guard_counts_no_invocation_twice(moto: str, tmp_path: Any) -> None:
    dep = make_deployment(moto)
    fn = Lambda(moto)
    store = Store.open(str(tmp_path / "state"))
    first = guard_for(moto, store, Mode.STOP)
    for _ in range(3):
        for _ in range(5):
            fn.serve("1")
        first.poll()
    seen = first.records.get(dep)
    assert seen is not None and seen.stable_invocations == 15
    assert first.client.observe(dep).creator == "user"  # not a rollback: may be stopped
    restarted = guard_for(moto, store, Mode.STOP)  # same store, nothing in memory
    restarted.poll()
    again = restarted.records.get(dep)
    assert again is not None and again.stable_invocations == 15
    fn.serve("1")
    restarted.poll()
    latest = restarted.records.get(dep)
    assert latest is not None and latest.stable_invocations == 16
    store.close()


def test_the_metrics_source_reads_executed_version_minutes(moto: str, tmp_path: Any) -> None:
    """--signals metrics: AWS/Lambda Invocations and Errors by ExecutedVersion, read with
    GetMetricData once each minute has settled."""
    dep = make_deployment(moto)
    created = (
        client(moto, "codedeploy")
        .get_deployment(deploymentId=dep)["deploymentInfo"]["createTime"]
        .timestamp()
    )
    cw = client(moto, "cloudwatch")
    start = created - created % 60

    def put(version: str, metric: str, value: float, minute: int) -> None:
        cw.put_metric_data(
            Namespace="AWS/Lambda",
            MetricData=[
                {
                    "MetricName": metric,
                    "Dimensions": [
                        {"Name": "FunctionName", "Value": FUNCTION},
                        {"Name": "Resource", "Value": f"{FUNCTION}:live"},
                        {"Name": "ExecutedVersion", "Value": version},
                    ],
                    "Timestamp": start + 60 * minute + 30,
                    "Value": value,
                    "Unit": "Count",
                }
            ],
        )

    for minute in range(3):
        put("1", "Invocations", 900, minute)
        put("1", "Errors", 1, minute)
        put("2", "Invocations", 100, minute)
        put("2", "Errors", 30, minute)
    store = Store.open(str(tmp_path / "state"))
    guard = Guard(
        AwsGuardClient(session=session(), endpoint_url=moto),
        GuardRecords(store),
        GuardOptions(application="my-app", mode=Mode.DRY_RUN, source=Source.METRICS),
        ManualClock(start + 60 * 3 + SETTLE_S),  # three whole minutes have settled
    )
    guard.poll()
    record = guard.records.get(dep)
    assert record is not None
    assert (record.canary_invocations, record.canary_errors) == (300, 90)
    assert (record.stable_invocations, record.stable_errors) == (2700, 3)
    assert record.verdict == "ROLLBACK" and record.action_status is ActionStatus.WOULD
    guard.poll()  # nothing new has settled: nothing is counted twice
    again = guard.records.get(dep)
    assert again is not None and again.canary_invocations == 300
    assert guard.client.calls["cloudwatch:get_metric_data"] == 1
    store.close()


def test_a_deployment_that_ended_while_the_guard_was_down_is_recorded(
    moto: str, tmp_path: Any
) -> None:
    """A restarted guard reads again the deployments it left in progress, even those that
    CodeDeploy no longer lists as active."""
    from dataclasses import replace

    from canaria.guard.model import AwsStatus

    dep = make_deployment(moto)
    store = Store.open(str(tmp_path / "state"))
    first = guard_for(moto, store, Mode.STOP)
    first.poll()
    record = first.records.get(dep)
    assert record is not None and record.status is AwsStatus.CREATED
    # As if it had been InProgress when the guard stopped (moto's never leave Created),
    # and the group's name were another: the deployment is not among those listed now.
    first.records.save(replace(record, status=AwsStatus.IN_PROGRESS))
    restarted = guard_for(moto, store, Mode.STOP)
    restarted.poll()
    again = restarted.records.get(dep)
    assert again is not None and again.status is AwsStatus.CREATED  # read from AWS again
    assert any("CodeDeploy reports Created" in e.message for e in restarted.records.events(dep))
    store.close()


def stack_of_a_function_without_deployments(url: str) -> None:
    """A stack as moto's CloudFormation creates it: a function's log group and an alarm,
    no CodeDeploy application (a function without DeploymentPreference)."""
    template = {
        "Resources": {
            "HelloLogs": {
                "Type": "AWS::Logs::LogGroup",
                "Properties": {"LogGroupName": f"/aws/lambda/{FUNCTION}"},
            },
        }
    }
    client(url, "cloudformation").create_stack(
        StackName="plain-app", TemplateBody=json.dumps(template)
    )


def test_a_stack_without_lambda_deployment_groups_is_refused(moto: str) -> None:
    stack_of_a_function_without_deployments(moto)
    guard = AwsGuardClient(session=session(), endpoint_url=moto)
    with pytest.raises(GuardError, match="stack 'plain-app' has no CodeDeploy application"):
        guard.stack_groups("plain-app")
    assert guard.calls["cloudformation:list_stack_resources"] == 1


def test_the_wrong_region_is_named(moto: str) -> None:
    """The stack and the application live in eu-west-1; a guard asked to look in
    us-east-1 says where it looked."""
    stack_of_a_function_without_deployments(moto)
    make_deployment(moto)
    elsewhere = boto3.session.Session(
        aws_access_key_id="testing", aws_secret_access_key="testing", region_name="us-east-1"
    )
    guard = AwsGuardClient(session=elsewhere, endpoint_url=moto)
    with pytest.raises(GuardError) as stack_error:
        guard.stack_groups("plain-app")
    assert "Stack with id plain-app does not exist" in stack_error.value.message
    assert "in region us-east-1" in stack_error.value.message
    with pytest.raises(GuardError, match="'my-app' has no deployment groups in region us-east-1"):
        guard.application_groups("my-app")
    assert AwsGuardClient(session=session(), endpoint_url=moto).application_groups("my-app") == [
        ("my-app", "HelloGroup")
    ]


def cli(url: str, tmp_path: Any, *args: str) -> subprocess.CompletedProcess[str]:
    """`canaria guard` as a user runs it on an account: credentials and region from the
    environment (the standard chain), the endpoint from AWS_ENDPOINT_URL."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("AWS_") and k not in ("CANARIA_STATE", "CANARIA_ENDPOINT")
    }
    env.update(
        AWS_ACCESS_KEY_ID="testing",
        AWS_SECRET_ACCESS_KEY="testing",
        AWS_REGION=REGION,
        AWS_ENDPOINT_URL=url,
        AWS_CONFIG_FILE=str(tmp_path / "none"),
        AWS_SHARED_CREDENTIALS_FILE=str(tmp_path / "none"),
        AWS_EC2_METADATA_DISABLED="true",
        CANARIA_STATE=str(tmp_path / "state"),
    )
    return subprocess.run(
        [sys.executable, "-m", "canaria.cli.main", "guard", *args],
        env=env,
        text=True,
        capture_output=True,
        timeout=120,
    )


def test_the_command_decides_a_dry_run_on_moto(moto: str, tmp_path: Any) -> None:
    """The command itself, not only its parts: each `--once` run resumes from the store the
    previous one left, and the dry run calls nothing that acts."""
    dep = make_deployment(moto)
    fn = Lambda(moto)
    lines: list[dict[str, Any]] = []
    for _ in range(30):
        for _ in range(9):
            fn.serve("1")
        fn.serve("2")
        r = cli(moto, tmp_path, "--application", "my-app", "--dry-run", "--once", "--json")
        assert r.returncode == 0, r.stderr
        lines += [json.loads(line) for line in r.stdout.splitlines()]
        if any(e["message"].startswith("dry run: would call") for e in lines):
            break
    else:
        raise AssertionError(lines)
    assert "logs:filter_log_events" in r.stderr and "stop_deployment" not in r.stderr
    assert [e["kind"] for e in lines if e["deployment_id"] == dep][:2] == ["watch", "judge"]
    store = Store.open(str(tmp_path / "state"))
    record = GuardRecords(store).get(dep)
    assert record is not None and record.action_status is ActionStatus.WOULD
    assert record.canary_errors <= 6
    store.close()
    r = cli(moto, tmp_path, "--stack", "my-app", "--dry-run", "--once")
    assert r.returncode == 2 and "Stack with id my-app does not exist in region" in r.stderr


def test_the_template_s_judge_settings_apply_to_its_functions(moto: str, tmp_path: Any) -> None:
    """`-t template.yaml`: the judge of `my-app-HelloFunction-AbCdEf` (SAM's physical name
    for HelloFunction) takes HelloFunction's `Metadata: canaria: judge` settings."""
    app = copy_example("hello", tmp_path)
    template = app / "template.yaml"
    declared = "  HelloFunction:\n    Type: AWS::Serverless::Function\n"
    text = template.read_text()
    assert declared in text
    template.write_text(
        text.replace(
            declared,
            declared + "    Metadata:\n      canaria:\n        judge:\n          alpha: 0.3\n",
        )
    )
    dep = make_deployment(moto)
    fn = Lambda(moto)
    for args, threshold in ((("-t", str(template)), "≥ 10;"), ((), "≥ 300;")):
        state = tmp_path / f"run{len(args)}"
        state.mkdir()
        judged: list[str] = []
        for _ in range(40):
            for _ in range(9):
                fn.serve("1")
            fn.serve("2")
            r = cli(moto, state, "--application", "my-app", "--dry-run", "--once", "--json", *args)
            assert r.returncode == 0, r.stderr
            judged += [
                e["message"]
                for e in map(json.loads, r.stdout.splitlines())
                if e["kind"] == "judge" and e["deployment_id"] == dep
            ]
            if judged:
                break
        assert judged and threshold in judged[0], (threshold, judged)


def test_the_guard_reads_every_page_of_filter_log_events(moto: str) -> None:
    """More lines than one FilterLogEvents page holds (10,000 events): the guard follows
    nextToken and reads them all, once."""
    fn = Lambda(moto)
    start = int(time.time() * 1000)
    n = 10_500
    for chunk in range(0, n, 3_500):
        fn.logs.put_log_events(
            logGroupName=fn.group,
            logStreamName=fn.streams["1"],
            logEvents=[
                {
                    "timestamp": start + i,
                    "message": f"REPORT RequestId: 00000000-0000-4000-8000-{i:012d}\t"
                    "Duration: 2.00 ms\tBilled Duration: 2 ms",
                }
                for i in range(chunk, min(n, chunk + 3_500))
            ],
        )
    guard = AwsGuardClient(session=session(), endpoint_url=moto)
    events = list(guard.log_events(FUNCTION, start))
    assert len(events) == n and len({e.event_id for e in events}) == n
    assert guard.calls["logs:filter_log_events"] == 2
    invocations = LogParser().feed(events)
    assert len(invocations) == n and {i.version for i in invocations} == {"1"}
