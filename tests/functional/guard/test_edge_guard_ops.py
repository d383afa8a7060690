"""The edge answers the calls `canaria guard` makes as AWS does, through boto3: shapes,
paging and error codes (checked against botocore's service models by boto3 itself)."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator

import pytest
from botocore.exceptions import ClientError

from tests.functional.harness import Canaria, copy_example


@pytest.fixture(scope="module")
def hello(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Canaria]:
    tmp = tmp_path_factory.mktemp("edge")
    app = copy_example("hello", tmp)
    c = Canaria(app / "template.yaml", tmp / "state").start()
    r = c.cli("deploy", "-t", str(c.template), "--parameter-overrides", "AppVersion=v2", "--json")
    assert r.returncode == 0, r.stderr
    dep = json.loads(r.stdout)["deployments"][0]["id"]
    c.deployment = dep  # type: ignore[attr-defined]
    deadline = time.monotonic() + 120  # let the PreTraffic hook (it invokes v2) finish first
    while c.api().get(f"/deployments/{dep}")["state"] != "AllowTraffic":
        assert time.monotonic() < deadline, c.api().get(f"/deployments/{dep}")
        c.advance(1)
        time.sleep(0.05)
    yield c
    c.stop()


def code(exc: pytest.ExceptionInfo[ClientError]) -> str:
    return str(exc.value.response["Error"]["Code"])


def test_codedeploy_finds_the_deployment_and_its_lambda_target(hello: Canaria) -> None:
    cd = hello.aws("codedeploy")
    dep = hello.deployment  # type: ignore[attr-defined]
    assert cd.list_applications()["applications"] == ["hello"]
    assert cd.list_deployment_groups(applicationName="hello")["deploymentGroups"] == [
        "HelloFunction"
    ]
    listed = cd.list_deployments(
        applicationName="hello",
        deploymentGroupName="HelloFunction",
        includeOnlyStatuses=["Created", "InProgress"],
    )["deployments"]
    assert listed == [dep]
    ids = cd.list_deployment_targets(deploymentId=dep)["targetIds"]
    assert ids == ["HelloFunction:live"]
    target = cd.get_deployment_target(deploymentId=dep, targetId=ids[0])["deploymentTarget"]
    info = target["lambdaTarget"]["lambdaFunctionInfo"]
    assert target["deploymentTargetType"] == "LambdaTarget"
    assert (info["functionName"], info["functionAlias"]) == ("HelloFunction", "live")
    assert (info["currentVersion"], info["targetVersion"]) == ("1", "2")


def test_codedeploy_errors(hello: Canaria) -> None:
    cd = hello.aws("codedeploy")
    with pytest.raises(ClientError) as e:
        cd.list_deployment_groups(applicationName="other")
    assert code(e) == "ApplicationDoesNotExistException"
    with pytest.raises(ClientError) as e:
        cd.list_deployments(applicationName="hello", deploymentGroupName="Nope")
    assert code(e) == "DeploymentGroupDoesNotExistException"
    with pytest.raises(ClientError) as e:
        cd.list_deployments(applicationName="hello", includeOnlyStatuses=["Running"])
    assert code(e) == "InvalidDeploymentStatusException"
    with pytest.raises(ClientError) as e:
        cd.get_deployment_target(deploymentId=hello.deployment, targetId="Other:live")  # type: ignore[attr-defined]
    assert code(e) == "DeploymentTargetDoesNotExistException"
    with pytest.raises(ClientError) as e:
        cd.list_deployment_targets(deploymentId="d-NOTTHERE")
    assert code(e) == "DeploymentDoesNotExistException"


def test_filter_log_events_reads_lambda_named_streams(hello: Canaria) -> None:
    assert hello.http("GET", "/hello")[0] == 200
    logs = hello.aws("logs")
    page = logs.filter_log_events(
        logGroupName="/aws/lambda/HelloFunction", filterPattern='?REPORT ?"Task timed out"'
    )
    assert page["events"], page
    for e in page["events"]:
        assert e["message"].startswith("REPORT RequestId:")
        assert "/[1]" in e["logStreamName"] or "/[2]" in e["logStreamName"]
    everything = logs.filter_log_events(logGroupName="/aws/lambda/HelloFunction")["events"]
    assert any(e["message"].startswith("START RequestId:") for e in everything)
    paged = logs.filter_log_events(logGroupName="/aws/lambda/HelloFunction", limit=1)
    assert len(paged["events"]) == 1 and paged["nextToken"]
    rest = logs.filter_log_events(
        logGroupName="/aws/lambda/HelloFunction", nextToken=paged["nextToken"]
    )["events"]
    # the next page starts right after the first (lines written since may follow)
    assert [e["eventId"] for e in rest][: len(everything) - 1] == [
        e["eventId"] for e in everything[1:]
    ]
    later = logs.filter_log_events(
        logGroupName="/aws/lambda/HelloFunction", startTime=everything[-1]["timestamp"] + 1
    )
    assert later["events"] == []


def test_filter_log_events_errors(hello: Canaria) -> None:
    logs = hello.aws("logs")
    with pytest.raises(ClientError) as e:
        logs.filter_log_events(logGroupName="/aws/lambda/Nope")
    assert code(e) == "ResourceNotFoundException"
    with pytest.raises(ClientError) as e:
        logs.filter_log_events(
            logGroupName="/aws/lambda/HelloFunction", filterPattern='{ $.level = "ERROR" '
        )
    assert code(e) == "InvalidParameterException" and "column 21" in str(e.value)


def test_set_alarm_state_holds_until_the_next_evaluation(hello: Canaria) -> None:
    cw = hello.aws("cloudwatch")
    cw.set_alarm_state(
        AlarmName="HelloErrorsAlarm", StateValue="ALARM", StateReason="set by a test"
    )
    alarm = cw.describe_alarms(AlarmNames=["HelloErrorsAlarm"])["MetricAlarms"][0]
    assert (alarm["StateValue"], alarm["StateReason"]) == ("ALARM", "set by a test")
    assert alarm["MetricName"] == "Errors" and alarm["Threshold"] == 5
    assert hello.status()["alarms"]["HelloErrorsAlarm"]["state"] == "ALARM"
    hello.advance(2)  # evaluated again: no errors, notBreaching → OK
    deadline = time.monotonic() + 30
    while (
        cw.describe_alarms(AlarmNames=["HelloErrorsAlarm"])["MetricAlarms"][0]["StateValue"] != "OK"
    ):
        assert time.monotonic() < deadline, "the alarm was not evaluated again"
        time.sleep(0.05)
    with pytest.raises(ClientError) as e:
        cw.set_alarm_state(AlarmName="Nope", StateValue="ALARM", StateReason="x")
    assert code(e) == "ResourceNotFound"


def test_list_stack_resources_names_the_deployment_groups(hello: Canaria) -> None:
    cfn = hello.aws("cloudformation")
    resources = cfn.list_stack_resources(StackName="hello")["StackResourceSummaries"]
    kinds = {(r["ResourceType"], r["PhysicalResourceId"]) for r in resources}
    assert ("AWS::CodeDeploy::Application", "hello") in kinds
    assert ("AWS::CodeDeploy::DeploymentGroup", "HelloFunction") in kinds
    with pytest.raises(ClientError) as e:
        cfn.list_stack_resources(StackName="other")
    assert code(e) == "ValidationError" and "does not exist" in str(e.value)


def test_get_metric_data_by_executed_version(hello: Canaria) -> None:
    for _ in range(3):
        assert hello.http("GET", "/hello")[0] == 200
    now = hello.api().get("/clock")["now"]
    cw = hello.aws("cloudwatch")

    def query(metric: str, version: str, stat: str = "Sum") -> dict[str, object]:
        return {
            "Id": f"{metric.lower()}_{version}",
            "MetricStat": {
                "Metric": {
                    "Namespace": "AWS/Lambda",
                    "MetricName": metric,
                    "Dimensions": [
                        {"Name": "FunctionName", "Value": "HelloFunction"},
                        {"Name": "Resource", "Value": "HelloFunction:live"},
                        {"Name": "ExecutedVersion", "Value": version},
                    ],
                },
                "Period": 60,
                "Stat": stat,
            },
        }

    answer = cw.get_metric_data(
        MetricDataQueries=[query("Invocations", "1"), query("Errors", "1")],
        StartTime=now - 3600,
        EndTime=now + 60,
    )
    results = {r["Id"]: r for r in answer["MetricDataResults"]}
    assert sum(results["invocations_1"]["Values"]) >= 3
    assert sum(results["errors_1"]["Values"]) == 0
    assert results["invocations_1"]["StatusCode"] == "Complete"
    with pytest.raises(ClientError) as e:
        cw.get_metric_data(
            MetricDataQueries=[query("Duration", "1", "Average")],
            StartTime=now - 60,
            EndTime=now,
        )
    assert code(e) == "ValidationError" and "Sum of AWS/Lambda" in str(e.value)


def test_get_function_configuration_names_the_log_group(hello: Canaria) -> None:
    aws = hello.aws("lambda")
    config = aws.get_function_configuration(FunctionName="HelloFunction")
    assert config["LoggingConfig"] == {"LogFormat": "Text", "LogGroup": "/aws/lambda/HelloFunction"}
    # as Lambda: unqualified asked, unqualified ARN; a qualifier is in the ARN
    arn = "arn:aws:lambda:us-east-1:123456789012:function:HelloFunction"
    assert config["FunctionArn"] == arn and config["Version"] == "$LATEST"
    live = aws.get_function_configuration(FunctionName="HelloFunction", Qualifier="live")
    assert live["FunctionArn"] == f"{arn}:live"
    assert aws.get_function(FunctionName="HelloFunction")["Configuration"]["FunctionArn"] == arn
    listed = aws.list_functions()["Functions"]
    assert [f["FunctionArn"] for f in listed if f["FunctionName"] == "HelloFunction"] == [arn]
    with pytest.raises(ClientError) as e:
        hello.aws("lambda").get_function_configuration(FunctionName="Nope")
    assert code(e) == "ResourceNotFoundException"
