"""The application's own metrics through a real `canaria up`: a business metric printed in
the embedded metric format rolls a canary back through the alarm the deployment watches
(the canary answers 200, so the judge has nothing to see); a metric filter on the
function's log group; PutMetricData from a function's boto3 and GetMetricData /
DescribeAlarms from the operator's."""

from __future__ import annotations

import json
import time
from pathlib import Path

from tests.functional.harness import Canaria, eventually, write_app

TEMPLATE = """\
AWSTemplateFormatVersion: '2010-09-09'
Transform: AWS::Serverless-2016-10-31
Resources:
  Orders:
    Type: AWS::Serverless::Function
    Properties:
      Handler: app.handler
      Runtime: python3.11
      CodeUri: orders
      AutoPublishAlias: live
      DeploymentPreference:
        Type: Canary10Percent5Minutes
        Alarms: [!Ref FailedOrders, !Ref ErrorRate]
      Events:
        Order: {Type: HttpApi, Properties: {Path: /order, Method: GET}}
  Publisher:
    Type: AWS::Serverless::Function
    Properties:
      Handler: app.handler
      Runtime: python3.11
      CodeUri: publisher
      Events:
        Publish: {Type: HttpApi, Properties: {Path: /publish, Method: GET}}
  FailedOrders:
    Type: AWS::CloudWatch::Alarm
    Properties:
      Namespace: Orders
      MetricName: OrderFailed
      Dimensions: [{Name: service, Value: orders}]
      Statistic: Sum
      Period: 10
      EvaluationPeriods: 1
      Threshold: 0
      ComparisonOperator: GreaterThanThreshold
      TreatMissingData: notBreaching
  ErrorRate:
    Type: AWS::CloudWatch::Alarm
    Properties:
      EvaluationPeriods: 1
      Threshold: 50
      ComparisonOperator: GreaterThanThreshold
      TreatMissingData: notBreaching
      Metrics:
        - Id: rate
          Expression: 100 * errors / invocations
        - Id: errors
          ReturnData: false
          MetricStat:
            Metric:
              Namespace: AWS/Lambda
              MetricName: Errors
              Dimensions: [{Name: FunctionName, Value: !Ref Orders}]
            Period: 10
            Stat: Sum
        - Id: invocations
          ReturnData: false
          MetricStat:
            Metric:
              Namespace: AWS/Lambda
              MetricName: Invocations
              Dimensions: [{Name: FunctionName, Value: !Ref Orders}]
            Period: 10
            Stat: Sum
  Latency:
    Type: AWS::Logs::MetricFilter
    Properties:
      LogGroupName: !Sub /aws/lambda/${Orders}
      FilterPattern: '{ $.level = "INFO" }'
      MetricTransformations:
        - {MetricNamespace: App, MetricName: Latency, MetricValue: $.latency}
"""

ORDERS = """\
import json
import time

RELEASE = "v1"


def handler(event, context):
    failed = 1 if RELEASE == "v2" else 0  # v2 loses orders and still answers 200
    print(json.dumps({
        "_aws": {
            "Timestamp": int(time.time() * 1000),
            "CloudWatchMetrics": [{
                "Namespace": "Orders",
                "Dimensions": [["service"]],
                "Metrics": [{"Name": "OrderFailed", "Unit": "Count"}],
            }],
        },
        "service": "orders",
        "OrderFailed": failed,
    }))
    print(json.dumps({"level": "INFO", "latency": 12, "release": RELEASE}))
    if event.get("queryStringParameters"):  # ?broken=1: an EMF object that is not valid
        print(json.dumps({"_aws": {"CloudWatchMetrics": []}, "OrderFailed": 1}))
    return {"statusCode": 200, "body": RELEASE}
"""

PUBLISHER = """\
import boto3

cloudwatch = boto3.client("cloudwatch")


def handler(event, context):
    cloudwatch.put_metric_data(
        Namespace="Shop",
        MetricData=[
            {"MetricName": "Basket", "Dimensions": [{"Name": "shop", "Value": "one"}],
             "Values": [3.0, 5.0], "Counts": [1, 2]},
        ],
    )
    try:
        cloudwatch.put_metric_data(
            Namespace="AWS/Lambda", MetricData=[{"MetricName": "x", "Value": 1}]
        )
    except cloudwatch.exceptions.ClientError as exc:
        return {"statusCode": 200, "body": exc.response["Error"]["Code"]}
    return {"statusCode": 500, "body": "AWS/Lambda was accepted"}
"""


def app(tmp_path: Path) -> Canaria:
    files = {
        "template.yaml": TEMPLATE,
        "orders/app.py": ORDERS,
        "publisher/app.py": PUBLISHER,
    }
    return Canaria(write_app(tmp_path / "app", files), tmp_path / "state")


def test_a_business_metric_in_the_logs_rolls_the_canary_back(tmp_path: Path) -> None:
    c = app(tmp_path).start()
    try:
        status, _, body = c.http("GET", "/order")
        assert (status, body) == (200, b"v1")
        code = c.template.parent / "orders" / "app.py"
        code.write_text(ORDERS.replace('RELEASE = "v1"', 'RELEASE = "v2"'))
        r = c.cli("deploy", "-t", str(c.template), "--json")
        assert r.returncode == 0, r.stderr
        (started,) = json.loads(r.stdout)["deployments"]
        d, failed = c.serve_canary(started["id"], lambda: c.http("GET", "/order")[0] != 200)
        assert failed == 0  # every request succeeded: only the business metric tells
        assert d["state"] == "Stopped" and d["rolled_back"], d
        assert d["stopped_by"] == "alarm:FailedOrders", d
        assert c.http("GET", "/order")[2] == b"v1"
        alarms = c.status()["alarms"]
        assert alarms["FailedOrders"]["state"] == "ALARM"
        assert "OrderFailed Sum per 10 s" in alarms["FailedOrders"]["reason"]
        assert alarms["ErrorRate"]["state"] != "ALARM"
    finally:
        c.stop()


def test_put_metric_data_metric_filters_and_reading_them_back(tmp_path: Path) -> None:
    c = app(tmp_path).start()
    try:
        status, _, body = c.http("GET", "/publish")
        assert (status, body) == (200, b"InvalidParameterValue")
        for _ in range(3):
            assert c.http("GET", "/order")[0] == 200
        cloudwatch = c.aws("cloudwatch")
        now = c.advance(0)

        def read(namespace: str, name: str, dims: dict[str, str], stat: str) -> list[float]:
            answer = cloudwatch.get_metric_data(
                MetricDataQueries=[
                    {
                        "Id": "m",
                        "MetricStat": {
                            "Metric": {
                                "Namespace": namespace,
                                "MetricName": name,
                                "Dimensions": [{"Name": k, "Value": v} for k, v in dims.items()],
                            },
                            "Period": 60,
                            "Stat": stat,
                        },
                    }
                ],
                StartTime=now - 600,
                EndTime=now + 60,
            )
            return list(answer["MetricDataResults"][0]["Values"])

        assert read("Shop", "Basket", {"shop": "one"}, "Sum") == [13.0]
        assert read("Shop", "Basket", {"shop": "one"}, "SampleCount") == [3.0]
        # the metric filter's values are read from the log lines, which arrive as they do
        eventually(lambda: read("App", "Latency", {}, "SampleCount") == [3.0], "3 matches")
        assert read("App", "Latency", {}, "Average") == [12.0]
        assert read("Orders", "OrderFailed", {"service": "orders"}, "Sum") == [0.0]
        assert c.http("GET", "/order?broken=1")[0] == 200
        published = eventually(
            lambda: c.status()["published_metrics"]["emf_rejected"], "the invalid EMF line"
        )
        assert published == {
            "Orders": {
                "lines": 1,
                "last_reason": "_aws.Timestamp (milliseconds since the epoch) is required",
            }
        }
        shown = c.cli("status")
        assert "Orders: 1 EMF line(s) published no metric" in shown.stdout, shown.stdout
        [described] = cloudwatch.describe_alarms(AlarmNames=["ErrorRate"])["MetricAlarms"]
        assert [m["Id"] for m in described["Metrics"]] == ["rate", "errors", "invocations"]
        assert described["Metrics"][0]["Expression"] == "100 * errors / invocations"
        assert "MetricName" not in described
        deadline = time.monotonic() + 30
        while c.status()["alarms"].get("ErrorRate", {}).get("state") != "OK":
            assert time.monotonic() < deadline, c.status()["alarms"]
            c.advance(5)
            time.sleep(0.1)
    finally:
        c.stop()


API_TEMPLATE = """\
AWSTemplateFormatVersion: '2010-09-09'
Transform: AWS::Serverless-2016-10-31
Resources:
  Checkout:
    Type: AWS::Serverless::Function
    Properties:
      Handler: app.handler
      Runtime: python3.11
      CodeUri: checkout
      AutoPublishAlias: live
      DeploymentPreference:
        Type: Canary10Percent5Minutes
        Alarms: [!Ref Api5xx]
      Events:
        Pay: {Type: Api, Properties: {Path: /pay, Method: GET}}
  Api5xx:
    Type: AWS::CloudWatch::Alarm
    Properties:
      Namespace: AWS/ApiGateway
      MetricName: 5XXError
      Dimensions:
        - {Name: ApiName, Value: !Ref AWS::StackName}
        - {Name: Stage, Value: Prod}
      Statistic: Sum
      Period: 10
      EvaluationPeriods: 1
      Threshold: 0
      ComparisonOperator: GreaterThanThreshold
      TreatMissingData: notBreaching
"""

CHECKOUT = """\
STATUS = 200


def handler(event, context):
    return {"statusCode": STATUS, "body": str(STATUS)}  # an answer, not a function error
"""


def test_an_api_s_5xx_alarm_rolls_back_a_canary_that_answers_500(tmp_path: Path) -> None:
    """The function does not fail (Lambda's Errors stay 0, the judge sees successes): it
    answers 500, which only API Gateway's 5XXError counts."""
    files = {"template.yaml": API_TEMPLATE, "checkout/app.py": CHECKOUT}
    c = Canaria(write_app(tmp_path / "app", files), tmp_path / "state").start()
    try:
        assert c.http("GET", "/pay")[0] == 200
        (c.template.parent / "checkout" / "app.py").write_text(CHECKOUT.replace("200", "500"))
        r = c.cli("deploy", "-t", str(c.template), "--json")
        assert r.returncode == 0, r.stderr
        (started,) = json.loads(r.stdout)["deployments"]
        d, failed = c.serve_canary(started["id"], lambda: c.http("GET", "/pay")[0] == 500)
        assert failed >= 1
        assert d["state"] == "Stopped" and d["rolled_back"], d
        assert d["stopped_by"] == "alarm:Api5xx", d
        assert c.http("GET", "/pay")[0] == 200
        now = c.advance(0)
        answer = c.aws("cloudwatch").get_metric_data(
            MetricDataQueries=[
                {
                    "Id": "e",
                    "MetricStat": {
                        "Metric": {
                            "Namespace": "AWS/ApiGateway",
                            "MetricName": "5XXError",
                            "Dimensions": [{"Name": "ApiName", "Value": "app"}],
                        },
                        "Period": 3600,
                        "Stat": "Sum",
                    },
                }
            ],
            StartTime=now - 7200,
            EndTime=now + 3600,
        )
        assert sum(answer["MetricDataResults"][0]["Values"]) == failed
    finally:
        c.stop()
