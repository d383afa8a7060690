"""Log groups through a real `canaria up` and boto3's CloudWatch Logs client: the
template's groups exist with their retention, a function writes to the group its
LoggingConfig names (streams named with the function), a state machine writes its
execution history to its group at its level, and code writes its own events with
CreateLogStream / PutLogEvents and reads them back."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.functional.harness import Canaria, eventually, write_app

TEMPLATE = """\
Transform: AWS::Serverless-2016-10-31
Resources:
  Greeter:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: src/
      Handler: app.handler
      Runtime: python3.11
      LoggingConfig:
        LogGroup: !Ref AppLogs
  Quiet:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: src/
      Handler: app.handler
      Runtime: python3.11
  QuietLogs:
    Type: AWS::Logs::LogGroup
    Properties:
      LogGroupName: /aws/lambda/Quiet
      RetentionInDays: 14
  AppLogs:
    Type: AWS::Logs::LogGroup
    Properties:
      LogGroupName: shop-app
      RetentionInDays: 7
  Audit:
    Type: AWS::Logs::LogGroup
  AuditStream:
    Type: AWS::Logs::LogStream
    Properties:
      LogGroupName: !Ref Audit
      LogStreamName: declared
  MachineLogs:
    Type: AWS::Logs::LogGroup
    Properties:
      LogGroupName: /aws/vendedlogs/states/greeting
  ErrorLogs:
    Type: AWS::Logs::LogGroup
    Properties:
      LogGroupName: /aws/vendedlogs/states/errors
  Failures:
    Type: AWS::Logs::MetricFilter
    Properties:
      LogGroupName: !Ref ErrorLogs
      FilterPattern: '{ $.type = "ExecutionFailed" }'
      MetricTransformations:
        - {MetricNamespace: Shop, MetricName: Failures, MetricValue: "1"}
  Reader:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: src/
      Handler: app.read
      Runtime: python3.11
  ToReader:
    Type: AWS::Logs::SubscriptionFilter
    Properties:
      LogGroupName: !Ref Audit
      FilterPattern: alarm
      DestinationArn: !GetAtt Reader.Arn
  Greeting:
    Type: AWS::Serverless::StateMachine
    Properties:
      Name: greeting
      Logging:
        Level: ALL
        IncludeExecutionData: true
        Destinations:
          - CloudWatchLogsLogGroup: {LogGroupArn: !GetAtt MachineLogs.Arn}
      Definition:
        StartAt: Greet
        States:
          Greet: {Type: Task, Resource: !GetAtt Greeter.Arn, End: true}
  Failing:
    Type: AWS::StepFunctions::StateMachine
    Properties:
      StateMachineName: failing
      LoggingConfiguration:
        Level: ERROR
        Destinations:
          - CloudWatchLogsLogGroup: {LogGroupArn: !GetAtt ErrorLogs.Arn}
      Definition:
        StartAt: Tidy
        States:
          Tidy: {Type: Pass, Next: Stop}
          Stop: {Type: Fail, Error: Broken, Cause: on purpose}
"""

HANDLER = """\
import base64, gzip, json


def handler(event, context):
    print("greeting", event.get("name"))
    return {"hello": event.get("name")}


def read(event, context):
    data = json.loads(gzip.decompress(base64.b64decode(event["awslogs"]["data"])))
    for e in data["logEvents"]:
        print("subscribed", data["logGroup"], data["logStream"], e["message"])
"""


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Canaria]:
    root = tmp_path_factory.mktemp("log-groups")
    files = {"template.yaml": TEMPLATE, "src/app.py": HANDLER}
    c = Canaria(write_app(root / "app", files), root / "state")
    c.start()
    yield c
    c.stop()


def code(e: pytest.ExceptionInfo[ClientError]) -> str:
    return str(e.value.response["Error"]["Code"])


def run(app: Canaria, machine: str, payload: dict[str, Any]) -> dict[str, Any]:
    sfn = app.aws("stepfunctions")
    arn = f"arn:aws:states:us-east-1:123456789012:stateMachine:{machine}"
    started = sfn.start_execution(stateMachineArn=arn, input=json.dumps(payload))
    deadline = time.monotonic() + 60
    while True:
        described = sfn.describe_execution(executionArn=started["executionArn"])
        if described["status"] != "RUNNING" or time.monotonic() > deadline:
            return described
        time.sleep(0.1)


def test_the_templates_groups_exist_with_their_retention(app: Canaria) -> None:
    logs = app.aws("logs")
    groups = {g["logGroupName"]: g for g in logs.describe_log_groups()["logGroups"]}
    assert {"shop-app", "/aws/lambda/Quiet", "/aws/vendedlogs/states/greeting"} <= set(groups)
    assert groups["shop-app"]["retentionInDays"] == 7
    assert groups["/aws/lambda/Quiet"]["retentionInDays"] == 14
    assert groups["shop-app"]["arn"].endswith(":log-group:shop-app:*")
    audit = [n for n in groups if n.endswith("-Audit")]
    assert len(audit) == 1  # <stack>-<logical id>: its Ref
    streams = logs.describe_log_streams(logGroupName=audit[0])["logStreams"]
    assert [s["logStreamName"] for s in streams] == ["declared"]
    prefixed = logs.describe_log_groups(logGroupNamePrefix="/aws/vendedlogs/")["logGroups"]
    assert [g["logGroupName"] for g in prefixed] == [
        "/aws/vendedlogs/states/errors",
        "/aws/vendedlogs/states/greeting",
    ]
    page = logs.describe_log_groups(limit=2)
    assert len(page["logGroups"]) == 2 and page["nextToken"]


def test_a_function_writes_to_its_logging_configs_group(app: Canaria) -> None:
    lam = app.aws("lambda")
    lam.invoke(FunctionName="Greeter", Payload=json.dumps({"name": "ada"}))
    logs = app.aws("logs")
    events = logs.filter_log_events(logGroupName="shop-app", filterPattern="greeting")["events"]
    assert [e["message"].strip() for e in events] == ["greeting ada"]
    stream = events[0]["logStreamName"]
    assert "/Greeter[" in stream  # YYYY/MM/DD/<function>[<version>]<id> in a custom group
    got = logs.get_log_events(logGroupName="shop-app", logStreamName=stream, startFromHead=True)
    messages = [e["message"] for e in got["events"]]
    assert messages[0].startswith("START RequestId:") and messages[-1].startswith("REPORT")
    later = logs.get_log_events(  # a window with nothing in it: an empty page, not an error
        logGroupName="shop-app", logStreamName=stream, startTime=events[0]["timestamp"] + 60_000
    )
    assert later["events"] == []
    with pytest.raises(ClientError) as e:  # its lines are not in the default group
        logs.filter_log_events(logGroupName="/aws/lambda/Greeter")
    assert code(e) == "ResourceNotFoundException"


def test_a_state_machine_writes_its_history_at_its_level(app: Canaria) -> None:
    assert run(app, "greeting", {"name": "grace"})["status"] == "SUCCEEDED"
    logs = app.aws("logs")
    events = logs.filter_log_events(logGroupName="/aws/vendedlogs/states/greeting")["events"]
    records = [json.loads(e["message"]) for e in events]
    types = [r["type"] for r in records]
    assert types[0] == "ExecutionStarted" and types[-1] == "ExecutionSucceeded"
    assert "TaskStateEntered" in types and "LambdaFunctionSucceeded" in types
    first = records[0]
    assert first["id"] == "1" and first["previous_event_id"] == "0"
    assert json.loads(first["details"]["input"]) == {"name": "grace"}  # IncludeExecutionData
    assert first["execution_arn"].startswith(
        "arn:aws:states:us-east-1:123456789012:execution:greeting:"
    )
    assert int(first["event_timestamp"]) == events[0]["timestamp"]
    assert json.loads(records[-1]["details"]["output"]) == {"hello": "grace"}
    assert {e["logStreamName"] for e in events} == {events[0]["logStreamName"]}
    assert events[0]["logStreamName"].startswith("states/greeting/")

    assert run(app, "failing", {"secret": "s"})["status"] == "FAILED"
    errors = logs.filter_log_events(logGroupName="/aws/vendedlogs/states/errors")["events"]
    records = [json.loads(e["message"]) for e in errors]
    assert [r["type"] for r in records] == ["FailStateEntered", "ExecutionFailed"]
    assert records[1]["details"] == {"error": "Broken", "cause": "on purpose"}
    assert "input" not in records[0]["details"]  # no IncludeExecutionData
    # the group's metric filter counted the failure
    cloudwatch = app.aws("cloudwatch")
    now = app.advance(0)

    def failures() -> float:
        answer = cloudwatch.get_metric_data(
            MetricDataQueries=[
                {
                    "Id": "m",
                    "MetricStat": {
                        "Metric": {"Namespace": "Shop", "MetricName": "Failures"},
                        "Period": 60,
                        "Stat": "Sum",
                    },
                }
            ],
            StartTime=now - 600,
            EndTime=now + 60,
        )
        return float(sum(answer["MetricDataResults"][0]["Values"]))

    assert eventually(failures, "the Failures metric") == 1.0


def test_code_writes_and_reads_its_own_streams(app: Canaria) -> None:
    logs = app.aws("logs")
    logs.create_log_group(logGroupName="/custom/jobs")
    with pytest.raises(ClientError) as e:
        logs.create_log_group(logGroupName="/custom/jobs")
    assert code(e) == "ResourceAlreadyExistsException"
    with pytest.raises(ClientError) as e:
        logs.put_log_events(
            logGroupName="/custom/jobs",
            logStreamName="run-1",
            logEvents=[{"timestamp": 1, "message": "x"}],
        )
    assert code(e) == "ResourceNotFoundException"
    logs.create_log_stream(logGroupName="/custom/jobs", logStreamName="run-1")
    now = int(time.time() * 1000)
    with pytest.raises(ClientError) as e:
        logs.put_log_events(
            logGroupName="/custom/jobs",
            logStreamName="run-1",
            logEvents=[{"timestamp": now, "message": "b"}, {"timestamp": now - 5, "message": "a"}],
        )
    assert code(e) == "InvalidParameterException"
    batch = [{"timestamp": now + i, "message": f"step {i}"} for i in range(5)]
    logs.put_log_events(logGroupName="/custom/jobs", logStreamName="run-1", logEvents=batch)
    first = logs.get_log_events(
        logGroupName="/custom/jobs", logStreamName="run-1", startFromHead=True, limit=2
    )
    assert [e["message"] for e in first["events"]] == ["step 0", "step 1"]
    more = logs.get_log_events(
        logGroupName="/custom/jobs",
        logStreamName="run-1",
        nextToken=first["nextForwardToken"],
        startFromHead=True,
    )
    assert [e["message"] for e in more["events"]] == ["step 2", "step 3", "step 4"]
    matched = logs.filter_log_events(logGroupName="/custom/jobs", filterPattern='"step 3"')
    assert [e["message"] for e in matched["events"]] == ["step 3"]
    (stream,) = logs.describe_log_streams(logGroupName="/custom/jobs")["logStreams"]
    assert (stream["firstEventTimestamp"], stream["lastEventTimestamp"]) == (now, now + 4)
    audit = next(
        g["logGroupName"]
        for g in logs.describe_log_groups()["logGroups"]
        if g["logGroupName"].endswith("-Audit")
    )
    events = [{"timestamp": now, "message": "fine"}, {"timestamp": now, "message": "alarm: hot"}]
    logs.put_log_events(logGroupName=audit, logStreamName="declared", logEvents=events)

    def subscribed() -> list[str]:
        got = logs.filter_log_events(logGroupName="/aws/lambda/Reader", filterPattern="subscribed")
        return [e["message"].strip() for e in got["events"]]

    delivered = eventually(subscribed, "the subscription's delivery")
    assert delivered == [f"subscribed {audit} declared alarm: hot"]
    logs.put_retention_policy(logGroupName="/custom/jobs", retentionInDays=1)
    with pytest.raises(ClientError) as e:
        logs.put_retention_policy(logGroupName="/custom/jobs", retentionInDays=2)
    assert code(e) == "InvalidParameterException"
    logs.delete_log_group(logGroupName="/custom/jobs")
    with pytest.raises(ClientError) as e:
        logs.describe_log_streams(logGroupName="/custom/jobs")
    assert code(e) == "ResourceNotFoundException"


def test_canaria_logs_prints_a_groups_lines(app: Canaria) -> None:
    assert run(app, "greeting", {"name": "linus"})["status"] == "SUCCEEDED"
    out = app.cli("logs", "/aws/vendedlogs/states/greeting")
    assert out.returncode == 0, out.stderr
    assert " states/greeting/" in out.stdout and '"type":"ExecutionSucceeded"' in out.stdout
    shop = app.cli("logs", "shop-app", "--json")  # a name without a slash: not a function
    assert shop.returncode == 0, shop.stderr
    lines = [json.loads(line) for line in shop.stdout.splitlines()]
    assert any("greeting linus" in line["text"] for line in lines)
    assert all("/Greeter[" in line["stream"] for line in lines)
    missing = app.cli("logs", "/nowhere")
    assert missing.returncode != 0 and "no log group '/nowhere'" in missing.stderr


def test_a_machine_created_through_the_api_logs_as_configured(app: Canaria) -> None:
    sfn, logs = app.aws("stepfunctions"), app.aws("logs")
    definition = json.dumps({"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}})
    arn = "arn:aws:logs:us-east-1:123456789012:log-group:/made/by/api:*"
    with pytest.raises(ClientError) as e:
        sfn.create_state_machine(
            name="made",
            definition=definition,
            roleArn="arn:aws:iam::123456789012:role/r",
            loggingConfiguration={"level": "ALL"},
        )
    assert code(e) == "InvalidLoggingConfiguration"
    created = sfn.create_state_machine(
        name="made",
        definition=definition,
        roleArn="arn:aws:iam::123456789012:role/r",
        loggingConfiguration={
            "level": "FATAL",
            "destinations": [{"cloudWatchLogsLogGroup": {"logGroupArn": arn}}],
        },
    )
    described = sfn.describe_state_machine(stateMachineArn=created["stateMachineArn"])
    assert described["loggingConfiguration"]["level"] == "FATAL"
    assert run(app, "made", {})["status"] == "SUCCEEDED"
    # FATAL writes only a failed end: nothing here, and the group was not made for nothing
    names = [g["logGroupName"] for g in logs.describe_log_groups()["logGroups"]]
    assert "/made/by/api" not in names
    history = sfn.get_execution_history(
        executionArn=sfn.list_executions(stateMachineArn=created["stateMachineArn"])["executions"][
            0
        ]["executionArn"]
    )["events"]
    assert history[0]["executionStartedEventDetails"]["roleArn"] == described["roleArn"]
