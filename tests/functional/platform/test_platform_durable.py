"""Durable functions through a real `canaria up`, written as AWS's own SDKs expect and
invoked with boto3 as on AWS: an ``Invoke`` starts an execution; the handler's steps are
checkpointed, its wait runs on canaria's clock (``--time-scale 60``: two minutes in two
seconds) and it is replayed, on the version it started on, until it ends.

Python's SDK comes with canaria (as Lambda's Python runtime provides it), Node.js's SDK
with canaria's Node packages (as Lambda's Node.js runtime provides it): neither function
lists it."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.functional.harness import Canaria, copy_example, eventually, write_app

PY = f"python{sys.version_info.major}.{sys.version_info.minor}"

TEMPLATE = f"""\
Transform: AWS::Serverless-2016-10-31
Resources:
  Orders:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: orders
      Handler: app.handler
      Runtime: {PY}
      Timeout: 30
      AutoPublishAlias: live
      DurableConfig: {{ExecutionTimeout: 900, RetentionPeriodInDays: 7}}
      Environment:
        Variables:
          PRICER: !GetAtt Pricer.Arn
  Long:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: orders
      Handler: app.handler
      Runtime: {PY}
      AutoPublishAlias: live
      DurableConfig: {{ExecutionTimeout: 86400}}
      Environment:
        Variables:
          PRICER: !GetAtt Pricer.Arn
  Pricer:
    Type: AWS::Serverless::Function
    Properties: {{CodeUri: pricer, Handler: app.handler, Runtime: {PY}}}
  Shop:
    Type: AWS::Serverless::Api
    Properties:
      StageName: prod
      DefinitionBody:
        openapi: 3.0.1
        paths:
          /orders:
            post:
              x-amazon-apigateway-integration:
                type: aws
                httpMethod: POST
                uri: !Sub "arn:aws:apigateway:${{AWS::Region}}:lambda:path/2015-03-31/\\
                  functions/${{Long.Arn}}:live/invocations"
                requestParameters:
                  integration.request.header.X-Amz-Invocation-Type: "'Event'"
                requestTemplates:
                  application/json: |
                    {{"order": "$input.path('$.order')", "items": 1, "wait": 60}}
                responses:
                  default:
                    statusCode: '202'
                    responseTemplates:
                      application/json: '{{"accepted": true}}'
                passthroughBehavior: never
          /quotes:
            post:
              x-amazon-apigateway-integration:
                type: aws
                httpMethod: POST
                uri: !Sub "arn:aws:apigateway:${{AWS::Region}}:lambda:path/2015-03-31/\\
                  functions/${{Pricer.Arn}}/invocations"
                requestParameters:
                  integration.request.header.X-Amz-Invocation-Type: "'Event'"
                responses:
                  default:
                    statusCode: '202'
                    responseTemplates:
                      application/json: '{{"queued": true}}'
  Shipping:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: shipping
      Handler: index.handler
      Runtime: nodejs20.x
      AutoPublishAlias: live
      DurableConfig: {{ExecutionTimeout: 300}}
"""

ORDERS = """\
import os

from aws_durable_execution_sdk_python import DurableContext, durable_execution
from aws_durable_execution_sdk_python.config import Duration

RELEASE = "one"


@durable_execution
def handler(event, context: DurableContext):
    def reserve(_):
        print("RESERVED " + event["order"])  # once per execution, however often replayed
        return {"order": event["order"], "reserved": True}

    reserved = context.step(reserve, name="reserve")
    context.wait(Duration.from_seconds(event.get("wait", 120)), name="cool-off")
    price = context.invoke(os.environ["PRICER"], {"items": event["items"]}, name="price")
    if event.get("fail"):
        raise ValueError("card declined for " + event["order"])
    return {
        **reserved,
        "price": price,
        "release": RELEASE,
        "version": os.environ["AWS_LAMBDA_FUNCTION_VERSION"],
    }
"""

PRICER = """\
def handler(event, context):
    print(f"PRICED {event['items']}")
    return 3 * event["items"]
"""

SHIPPING = """\
const { withDurableExecution } = require("@aws/durable-execution-sdk-js");

exports.handler = withDurableExecution(async (event, context) => {
  const label = await context.step("label", async () => {
    console.log("LABELLED " + event.parcel);
    return "label-" + event.parcel;
  });
  await context.wait("pickup", { minutes: 2 });
  return { label, shipped: true };
});
"""


@pytest.fixture
def app(tmp_path: Path) -> Iterator[Canaria]:
    root = write_app(
        tmp_path / "app",
        {
            "template.yaml": TEMPLATE,
            "orders/app.py": ORDERS,
            "pricer/app.py": PRICER,
            "shipping/index.js": SHIPPING,
        },
    )
    c = Canaria(root, tmp_path / "state", clock="real", time_scale=60).start()
    yield c
    c.stop()


def invoke(app: Canaria, name: str, event: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
    r = app.aws("lambda").invoke(FunctionName=name, Payload=json.dumps(event), **kwargs)
    r["Body"] = r["Payload"].read()
    return r  # type: ignore[no-any-return]


def logged(app: Canaria, function: str, prefix: str) -> list[str]:
    lines = app.api().get(f"/functions/{function}/logs")["lines"]
    # Python prints the line as is; Node.js's console.log puts time, id and level first
    texts = (x["text"].rsplit("\t", 1)[-1] for x in lines)
    return [text for text in texts if text.startswith(prefix)]


def test_an_invoke_runs_the_execution_to_its_end_on_canarias_clock(app: Canaria) -> None:
    lam = app.aws("lambda")
    began = time.monotonic()
    r = invoke(app, "Orders:live", {"order": "o-1", "items": 4})
    took = time.monotonic() - began
    assert r["StatusCode"] == 200 and "FunctionError" not in r, r["Body"]
    assert json.loads(r["Body"]) == {
        "order": "o-1",
        "reserved": True,
        "price": 12,
        "release": "one",
        "version": "1",
    }
    assert r["ExecutedVersion"] == "1"
    arn = r["DurableExecutionArn"]
    # not a speed check: on the wall's clock the two-minute wait alone would take 120 s
    assert took < 120, took
    # replayed after its wait and after the invoke, the step ran once
    assert logged(app, "Orders", "RESERVED") == ["RESERVED o-1"]

    execution = lam.get_durable_execution(DurableExecutionArn=arn)
    assert execution["Status"] == "SUCCEEDED"
    assert json.loads(execution["Result"])["price"] == 12
    history = lam.get_durable_execution_history(DurableExecutionArn=arn)["Events"]
    events = [e["EventType"] for e in history]
    for kind in ("ExecutionStarted", "StepSucceeded", "WaitStarted", "WaitSucceeded"):
        assert kind in events, events
    assert events[-1] == "ExecutionSucceeded"
    started = next(e for e in history if e["EventType"] == "WaitStarted")
    assert started["WaitStartedDetails"]["Duration"] == 120
    functions = app.status()["functions"]
    assert functions["Orders"]["durable"] == {"execution_timeout_s": 900, "retention_days": 7}
    assert functions["Pricer"]["durable"] is None
    listed = lam.list_durable_executions_by_function(FunctionName="Orders")["DurableExecutions"]
    assert [e["DurableExecutionArn"] for e in listed] == [arn]


def test_a_failed_execution_answers_its_error_and_counts_against_its_version(
    app: Canaria,
) -> None:
    r = invoke(app, "Orders:live", {"order": "o-2", "items": 1, "wait": 1, "fail": True})
    assert r["FunctionError"] == "Unhandled"
    error = json.loads(r["Body"])
    assert error["errorType"] == "ValueError"
    assert error["errorMessage"] == "card declined for o-2"
    status = app.aws("lambda").get_durable_execution(DurableExecutionArn=r["DurableExecutionArn"])
    assert status["Status"] == "FAILED"
    # the invocation that ended the execution FAILED is an error of version 1: what the
    # judge and the alarms count
    now = app.api().get("/clock")["now"]
    answer = app.aws("cloudwatch").get_metric_data(
        MetricDataQueries=[
            {
                "Id": "errors",
                "MetricStat": {
                    "Metric": {
                        "Namespace": "AWS/Lambda",
                        "MetricName": "Errors",
                        "Dimensions": [
                            {"Name": "FunctionName", "Value": "Orders"},
                            {"Name": "ExecutedVersion", "Value": "1"},
                        ],
                    },
                    "Period": 60,
                    "Stat": "Sum",
                },
            }
        ],
        StartTime=now - 3600,
        EndTime=now + 60,
    )
    assert sum(answer["MetricDataResults"][0]["Values"]) == 1, answer


def test_an_event_invoke_starts_the_execution_and_answers_at_once(app: Canaria) -> None:
    lam = app.aws("lambda")
    r = invoke(
        app,
        "Long",
        {"order": "o-3", "items": 2, "wait": 180},
        InvocationType="Event",
        DurableExecutionName="order-o-3",
    )
    assert r["StatusCode"] == 202
    arn = r["DurableExecutionArn"]
    assert lam.get_durable_execution(DurableExecutionArn=arn)["DurableExecutionName"] == "order-o-3"
    done = eventually(
        lambda: lam.get_durable_execution(DurableExecutionArn=arn)["Status"] == "SUCCEEDED",
        "the execution ends after its wait",
    )
    assert done
    with pytest.raises(lam.exceptions.InvalidParameterValueException) as refused:
        invoke(app, "Long", {}, InvocationType="Event", DurableExecutionName="no spaces")
    assert "DurableExecutionName" in str(refused.value)
    # an execution longer than Lambda lets a caller wait for: an Event invoke only
    with pytest.raises(lam.exceptions.InvalidParameterValueException) as refused:
        lam.invoke(FunctionName="Long", Payload=b"{}")
    assert "ExecutionTimeout" in str(refused.value)


def test_an_api_gateway_event_integration_starts_an_execution(app: Canaria) -> None:
    """API Gateway's ``aws`` integration with ``X-Amz-Invocation-Type: 'Event'``: the
    method answers at once, and the execution runs on without it."""
    status, _, body = app.http(
        "POST", "/prod/orders", b'{"order": "o-7"}', {"Content-Type": "application/json"}
    )
    assert (status, json.loads(body)) == (202, {"accepted": True})
    lam = app.aws("lambda")

    def ended() -> list[dict[str, Any]]:
        found = lam.list_durable_executions_by_function(FunctionName="Long")
        return [e for e in found["DurableExecutions"] if e["Status"] == "SUCCEEDED"]

    (execution,) = eventually(ended, "the execution the method started ends")
    result = lam.get_durable_execution(DurableExecutionArn=execution["DurableExecutionArn"])
    assert json.loads(result["Result"])["order"] == "o-7"
    # a plain function invoked the same way: answered at once, run in the background
    status, _, body = app.http(
        "POST", "/prod/quotes", b'{"items": 7}', {"Content-Type": "application/json"}
    )
    assert (status, json.loads(body)) == (202, {"queued": True})
    eventually(lambda: logged(app, "Pricer", "PRICED 7"), "the function ran")


def test_an_execution_is_stopped_and_errors_are_lambdas(app: Canaria) -> None:
    lam = app.aws("lambda")
    r = invoke(app, "Long", {"order": "o-8", "items": 1, "wait": 86000}, InvocationType="Event")
    arn = r["DurableExecutionArn"]
    eventually(lambda: logged(app, "Long", "RESERVED o-8"), "the first step ran")
    lam.stop_durable_execution(DurableExecutionArn=arn)
    assert lam.get_durable_execution(DurableExecutionArn=arn)["Status"] == "STOPPED"
    with pytest.raises(lam.exceptions.ResourceNotFoundException):
        lam.get_durable_execution(DurableExecutionArn="no-such/execution")
    with pytest.raises(lam.exceptions.InvalidParameterValueException):
        lam.get_durable_execution_state(DurableExecutionArn=arn, CheckpointToken="forged")


def test_an_execution_replays_on_the_version_it_started_on(app: Canaria) -> None:
    """A deployment moves the alias while an execution waits: the execution finishes on
    its own version's code, a new one starts on the new version's."""
    lam = app.aws("lambda")
    first = invoke(
        app, "Orders:live", {"order": "o-4", "items": 1, "wait": 600}, InvocationType="Event"
    )
    arn = first["DurableExecutionArn"]
    eventually(lambda: logged(app, "Orders", "RESERVED o-4"), "the first step ran")
    code = app.template.parent / "orders" / "app.py"
    code.write_text(code.read_text().replace('RELEASE = "one"', 'RELEASE = "two"'))
    r = app.cli("deploy", "-t", str(app.template), "--json")
    assert r.returncode == 0, r.stdout + r.stderr
    assert app.alias("Orders")["split"] == {"2": 1.0}  # no DeploymentPreference: at once
    newer = invoke(app, "Orders:live", {"order": "o-5", "items": 1, "wait": 1})
    assert json.loads(newer["Body"])["release"] == "two"
    eventually(
        lambda: lam.get_durable_execution(DurableExecutionArn=arn)["Status"] == "SUCCEEDED",
        "the waiting execution ends",
    )
    result = json.loads(lam.get_durable_execution(DurableExecutionArn=arn)["Result"])
    assert (result["release"], result["version"]) == ("one", "1")


def test_a_nodejs_durable_function_runs_with_the_sdk_lambda_provides(app: Canaria) -> None:
    r = invoke(app, "Shipping:live", {"parcel": "p-9"})
    assert "FunctionError" not in r, r["Body"]
    assert json.loads(r["Body"]) == {"label": "label-p-9", "shipped": True}
    assert logged(app, "Shipping", "LABELLED") == ["LABELLED p-9"]


def test_an_open_execution_carries_on_after_canaria_restarts(app: Canaria) -> None:
    lam = app.aws("lambda")
    r = invoke(app, "Long", {"order": "o-6", "items": 5, "wait": 300}, InvocationType="Event")
    arn = r["DurableExecutionArn"]
    eventually(lambda: logged(app, "Long", "RESERVED o-6"), "the first step ran")
    app.stop()  # while the execution waits out its five minutes
    app.start()
    lam = app.aws("lambda")
    eventually(
        lambda: lam.get_durable_execution(DurableExecutionArn=arn)["Status"] == "SUCCEEDED",
        "the execution ends after the restart",
    )
    result = json.loads(lam.get_durable_execution(DurableExecutionArn=arn)["Result"])
    assert (result["order"], result["price"]) == ("o-6", 15)


@pytest.fixture
def checkout(tmp_path: Path) -> Iterator[Canaria]:
    app = copy_example("checkout", tmp_path)
    c = Canaria(app / "template.yaml", tmp_path / "state", clock="real", time_scale=60).start()
    yield c
    c.stop()


def test_the_checkout_walkthrough(checkout: Canaria) -> None:
    """The README's checkout walkthrough: a large order waits for its approval (sent as
    the function's log line says), and a v2 whose executions fail is rolled back by the
    judge while clients keep checking out."""
    lam = checkout.aws("lambda")
    status, _, body = checkout.http("POST", "/checkout", b'{"items": 8}')
    assert status == 202, body
    arn = json.loads(body)["execution"]
    asked = eventually(lambda: logged(checkout, "CheckoutFunction", "APPROVE"), "approval asked")
    callback = asked[0].split("--callback-id ")[1].split()[0]
    assert lam.get_durable_execution(DurableExecutionArn=arn)["Status"] == "RUNNING"
    lam.send_durable_execution_callback_success(CallbackId=callback, Result=b'"approved"')
    eventually(
        lambda: lam.get_durable_execution(DurableExecutionArn=arn)["Status"] == "SUCCEEDED",
        "the approved order ships after its hold",
    )
    shipped = json.loads(lam.get_durable_execution(DurableExecutionArn=arn)["Result"])
    assert shipped["payment"] == {"charged": 200, "currency": "EUR"}

    stop = threading.Event()

    def client() -> None:
        while not stop.is_set():
            checkout.http("POST", "/checkout", b'{"items": 1}')
            time.sleep(0.02)

    thread = threading.Thread(target=client, daemon=True)
    thread.start()
    try:
        deployed = checkout.cli(
            "deploy",
            "-t",
            str(checkout.template),
            "--parameter-overrides",
            "AppVersion=v2",
            "--wait",
        )
    finally:
        stop.set()
        thread.join(timeout=30)
    output = deployed.stdout + deployed.stderr
    assert "rolled back" in output and "the judge" in output, output
    assert checkout.alias("CheckoutFunction")["version"] == 1
    failed = lam.list_durable_executions_by_function(
        FunctionName="CheckoutFunction", Statuses=["FAILED"]
    )["DurableExecutions"]
    assert failed and all(e["Status"] == "FAILED" for e in failed)
    assert all(e["FunctionArn"].endswith(":2") for e in failed)


def test_an_open_execution_carries_on_when_the_service_dies(app: Canaria) -> None:
    """The durable execution service killed from outside while an execution waits: canaria
    starts it again, and the execution ends as if nothing had happened."""
    lam = app.aws("lambda")
    r = invoke(app, "Long", {"order": "o-10", "items": 2, "wait": 300}, InvocationType="Event")
    arn = r["DurableExecutionArn"]

    def waiting() -> bool:
        history = lam.get_durable_execution_history(DurableExecutionArn=arn)["Events"]
        return any(e["EventType"] == "WaitStarted" for e in history)

    eventually(waiting, "the execution waits")  # nothing will call the service for a while
    time.sleep(0.5)  # the handler's invocation has returned PENDING
    store = str(app.state / "durable" / "executions.sqlite")

    def service() -> list[str]:
        return subprocess.run(
            ["pgrep", "-f", f"canaria.durable.runner .*--store {store}"],
            capture_output=True,
            text=True,
        ).stdout.split()

    (killed,) = service()
    os.kill(int(killed), signal.SIGKILL)
    # started again by canaria itself, before anything asks the service for anything
    eventually(lambda: service() and service() != [killed], "the service started again")
    eventually(
        lambda: lam.get_durable_execution(DurableExecutionArn=arn)["Status"] == "SUCCEEDED",
        "the execution ends after the service's restart",
    )
    assert logged(app, "Long", "RESERVED o-10") == ["RESERVED o-10"]  # its step ran once
