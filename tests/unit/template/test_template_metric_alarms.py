"""Alarms on metric math and on the application's own metrics, and metric filters on a
function's log group: what is read, refused at its line, or skipped with a warning."""

from __future__ import annotations

from pathlib import Path

import pytest

from canaria.models import MetricQuerySpec, MetricStatSpec, MetricTransformationSpec
from canaria.template import load
from tests.unit.template.template_helpers import fails, function, line_of, resources, write

PREFERENCE = (
    "AutoPublishAlias: live\n"
    "DeploymentPreference: {Type: Canary10Percent5Minutes, Alarms: [!Ref Alarm]}\n"
)

ERROR_RATE = """\
  Alarm:
    Type: AWS::CloudWatch::Alarm
    Properties:
      EvaluationPeriods: 1
      Threshold: 5
      ComparisonOperator: GreaterThanThreshold
      TreatMissingData: notBreaching
      Metrics:
        - Id: rate
          Label: Error rate
          Expression: 100 * FILL(errors, 0) / invocations
        - Id: errors
          ReturnData: false
          MetricStat:
            Metric:
              Namespace: AWS/Lambda
              MetricName: Errors
              Dimensions:
                - {Name: FunctionName, Value: !Ref Fn}
                - {Name: Resource, Value: !Sub "${Fn}:live"}
            Period: 60
            Stat: Sum
        - Id: invocations
          ReturnData: false
          MetricStat:
            Metric:
              Namespace: AWS/Lambda
              MetricName: Invocations
              Dimensions:
                - {Name: FunctionName, Value: physical}
                - {Name: Resource, Value: "physical:live"}
            Period: 60
            Stat: Sum
"""


def test_an_error_rate_alarm_is_read(tmp_path: Path) -> None:
    fn = function(extra="FunctionName: physical\n" + PREFERENCE)
    app = load(write(tmp_path, resources(fn, ERROR_RATE)))
    spec = app.alarms["Alarm"]
    lam = {"FunctionName": "Fn", "Resource": "Fn:live"}  # the FunctionName → the logical id
    assert spec.queries == (
        MetricQuerySpec(
            "rate", expression="100 * FILL(errors, 0) / invocations", label="Error rate"
        ),
        MetricQuerySpec(
            "errors", MetricStatSpec("AWS/Lambda", "Errors", lam, 60, "Sum"), return_data=False
        ),
        MetricQuerySpec(
            "invocations",
            MetricStatSpec("AWS/Lambda", "Invocations", lam, 60, "Sum"),
            return_data=False,
        ),
    )
    assert spec.period_s == 60 and spec.metric_name == ""
    preference = app.functions["Fn"].deployment_preference
    assert preference is not None and preference.alarms == ("Alarm",)


def test_an_alarm_on_a_custom_namespace_is_read(tmp_path: Path) -> None:
    alarm = """\
  Alarm:
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
"""
    app = load(write(tmp_path, resources(function(extra=PREFERENCE), alarm)))
    spec = app.alarms["Alarm"]
    assert (spec.namespace, spec.metric_name, dict(spec.dimensions)) == (
        "Orders",
        "OrderFailed",
        {"service": "orders"},
    )
    assert not any("Alarm" in w for w in app.warnings)


def _swap(text: str, old: str, new: str) -> str:
    assert old in text
    return text.replace(old, new, 1)


@pytest.mark.parametrize(
    ("old", "new", "words", "needle"),
    [
        (
            "Expression: 100 * FILL(errors, 0) / invocations",
            "Expression: 100 * (errors",
            "expected ')'",
            "Expression:",
        ),
        (
            "Expression: 100 * FILL(errors, 0) / invocations",
            "Expression: errors / invokes",
            "no entry of Metrics has the Id 'invokes'",
            "Expression:",
        ),
        (
            "Expression: 100 * FILL(errors, 0) / invocations",
            "Expression: SUM(errors)",
            "gives a scalar, not one time series",
            "Metrics:",
        ),
        (
            "Expression: 100 * FILL(errors, 0) / invocations",
            "Expression: rate + 1",
            "reads itself",
            "Expression:",
        ),
        (
            "- Id: errors\n          ReturnData: false",
            "- Id: errors\n          ReturnData: true",
            "2 entries of Metrics return data",
            "Metrics:",
        ),
        ("- Id: invocations", "- Id: errors  # again", "the Id 'errors' is used twice", "# again"),
        ("- Id: rate", "- Id: Rate", "Id 'Rate' is not valid", "- Id: Rate"),
        (
            "      EvaluationPeriods: 1\n",
            "      EvaluationPeriods: 1\n      Period: 60\n",
            "an alarm with Metrics has no Period",
            "Period: 60",
        ),
        (
            "            Period: 60\n            Stat: Sum\n        - Id: invocations",
            "            Period: 45\n            Stat: Sum\n        - Id: invocations",
            "period 45 is not valid",
            "Period: 45",
        ),
    ],
)
def test_what_cloudwatch_refuses_is_refused_at_its_line(
    tmp_path: Path, old: str, new: str, words: str, needle: str
) -> None:
    path = write(tmp_path, resources(function(extra=PREFERENCE), _swap(ERROR_RATE, old, new)))
    err = fails(path)
    assert words in err.message
    assert err.line == line_of(path, needle)


@pytest.mark.parametrize(
    ("old", "new", "words"),
    [
        (
            "Expression: 100 * FILL(errors, 0) / invocations",
            "Expression: SEARCH('{AWS/Lambda} Errors', 'Sum', 60)",
            "canaria does not evaluate SEARCH",
        ),
        (
            "Namespace: AWS/Lambda\n              MetricName: Errors",
            "Namespace: AWS/SQS\n              MetricName: ApproximateAgeOfOldestMessage",
            "canaria publishes no AWS/SQS metrics",
        ),
        (
            "Stat: Sum\n        - Id: invocations",
            "Stat: TM(10%:90%)\n        - Id: invocations",
            "not 'TM(10%:90%)'",
        ),
        ("MetricName: Errors", "MetricName: Error", "no metric 'Error'"),
    ],
)
def test_what_canaria_cannot_evaluate_is_skipped_with_a_warning(
    tmp_path: Path, old: str, new: str, words: str
) -> None:
    app = load(write(tmp_path, resources(function(extra=PREFERENCE), _swap(ERROR_RATE, old, new))))
    assert app.alarms == {}
    [warning] = [w for w in app.warnings if "Resources.Alarm" in w]
    assert "alarm is skipped" in warning and words in warning


def test_a_skipped_entry_does_not_hide_errors_in_the_others(tmp_path: Path) -> None:
    text = _swap(
        ERROR_RATE,
        "Namespace: AWS/Lambda\n              MetricName: Errors",
        "Namespace: AWS/SQS\n              MetricName: Age",
    )
    text = _swap(text, "- Id: invocations", "- Id: Invocations")
    assert (
        "Id 'Invocations' is not valid"
        in fails(write(tmp_path, resources(function(extra=PREFERENCE), text))).message
    )


def test_anomaly_detection_is_skipped(tmp_path: Path) -> None:
    text = _swap(
        ERROR_RATE,
        "      EvaluationPeriods: 1\n",
        "      EvaluationPeriods: 1\n      ThresholdMetricId: band\n",
    )
    app = load(write(tmp_path, resources(function(extra=PREFERENCE), text)))
    assert app.alarms == {} and any("anomaly detection" in w for w in app.warnings)


FILTER = """\
  Filter:
    Type: AWS::Logs::MetricFilter
    Properties:
      LogGroupName: {group}
      FilterPattern: '{pattern}'
      MetricTransformations:
        - MetricNamespace: App
          MetricName: Failures
          MetricValue: "{value}"
{extra}"""


def _filter(
    group: str = "!Sub /aws/lambda/${Fn}",
    pattern: str = '{ $.level = "ERROR" }',
    value: str = "1",
    extra: str = "",
) -> str:
    return FILTER.format(group=group, pattern=pattern, value=value, extra=extra)


@pytest.mark.parametrize(
    "group",
    [
        "!Sub /aws/lambda/${Fn}",
        "/aws/lambda/physical",
        "!Ref Group",
        "/custom/orders",
    ],
)
def test_a_metric_filter_on_a_functions_log_group(tmp_path: Path, group: str) -> None:
    # a LoggingConfig group is the only one the function writes to (as on AWS)
    custom = "LoggingConfig: {LogGroup: /custom/orders}\n" if group == "/custom/orders" else ""
    fn = function(extra="FunctionName: physical\n" + custom)
    log_group = (
        "  Group:\n    Type: AWS::Logs::LogGroup\n"
        "    Properties: {LogGroupName: !Sub '/aws/lambda/${Fn}'}\n"
    )
    app = load(write(tmp_path, resources(fn, log_group, _filter(group=group))))
    [spec] = app.metric_filters
    assert (spec.logical_id, spec.function, spec.pattern) == (
        "Filter",
        "Fn",
        '{ $.level = "ERROR" }',
    )
    assert spec.transformations == (MetricTransformationSpec("App", "Failures", "1"),)


def test_a_filter_on_another_log_group_is_skipped(tmp_path: Path) -> None:
    app = load(write(tmp_path, resources(function(), _filter(group="/aws/apigateway/access"))))
    assert app.metric_filters == ()
    [warning] = [w for w in app.warnings if "Resources.Filter" in w]
    assert "'/aws/apigateway/access' is skipped" in warning and "/aws/lambda/Fn" in warning


@pytest.mark.parametrize(
    ("pattern", "value", "extra", "words", "needle"),
    [
        ('{ $.level = "ERROR" ', "1", "", "filter pattern", "FilterPattern"),
        ('{ $.level = "ERROR" }', "one", "", "neither a number nor a field", "MetricValue"),
        ('{ $.level = "ERROR" }', "$.a[", "", "expected an array index", "MetricValue"),
        (
            "ERROR",
            "1",
            "          Dimensions: [{Key: op, Value: $.op}]\n",
            "dimensions need a JSON or space-delimited pattern",
            "Dimensions",
        ),
        (
            '{ $.level = "ERROR" }',
            "1",
            "          DefaultValue: 0\n          Dimensions: [{Key: op, Value: $.op}]\n",
            "Dimensions or DefaultValue, not both",
            "Dimensions",
        ),
        (
            '{ $.level = "ERROR" }',
            "1",
            "          Dimensions: [{Key: op, Value: op}]\n",
            "is not a field of the event",
            "Value: op}",
        ),
        (
            '{ $.level = "ERROR" }',
            "1",
            "          Dimensions: [{Key: a, Value: $.a}, {Key: b, Value: $.b},"
            " {Key: c, Value: $.c}, {Key: d, Value: $.d}]\n",
            "at most 3 dimensions",
            "Dimensions",
        ),
    ],
)
def test_bad_metric_filters(
    tmp_path: Path, pattern: str, value: str, extra: str, words: str, needle: str
) -> None:
    path = write(
        tmp_path, resources(function(), _filter(pattern=pattern, value=value, extra=extra))
    )
    err = fails(path)
    assert words in err.message
    assert err.line == line_of(path, needle)


def test_filter_values_and_dimensions(tmp_path: Path) -> None:
    extra = "          Dimensions: [{Key: op, Value: $.op}]\n"
    app = load(
        write(
            tmp_path,
            resources(
                function(), _filter(pattern="{ $.latency > 0 }", value="$.latency", extra=extra)
            ),
        )
    )
    [spec] = app.metric_filters
    assert spec.transformations == (
        MetricTransformationSpec("App", "Failures", "$.latency", None, {"op": "$.op"}),
    )


def test_another_namespace_is_skipped_before_its_statistic_is_checked(tmp_path: Path) -> None:
    """SAM's own translator tests declare an alarm on AWS/EC2 without a statistic."""
    alarm = """\
  Alarm:
    Type: AWS::CloudWatch::Alarm
    Properties:
      ComparisonOperator: GreaterThanThreshold
      EvaluationPeriods: 1
      MetricName: MyMetric
      Namespace: AWS/EC2
      Period: 300
      Threshold: 10
"""
    app = load(write(tmp_path, resources(function(), alarm)))
    assert app.alarms == {}
    assert any("canaria publishes no AWS/EC2 metrics" in w for w in app.warnings)


API_FUNCTION = """\
  Fn:
    Type: AWS::Serverless::Function
    Properties:
      Handler: app.handler
      Runtime: {py}
      CodeUri: src
      AutoPublishAlias: live
      DeploymentPreference: {Type: AllAtOnce, Alarms: [!Ref Alarm]}
      Events:
        Rest: {Type: Api, Properties: {Path: /r, Method: get}}
        Named: {Type: Api, Properties: {Path: /n, Method: get, RestApiId: !Ref Named}}
        Http: {Type: HttpApi, Properties: {Path: /h, Method: get, ApiId: !Ref Http}}
  Named:
    Type: AWS::Serverless::Api
    Properties: {StageName: live, Name: shop-api}
  Http:
    Type: AWS::Serverless::HttpApi
"""


def api_alarm(metric: str, dims: str) -> str:
    return f"""\
  Alarm:
    Type: AWS::CloudWatch::Alarm
    Properties:
      Namespace: AWS/ApiGateway
      MetricName: {metric}
      Dimensions: {dims}
      Statistic: Sum
      Period: 60
      EvaluationPeriods: 1
      Threshold: 0
      ComparisonOperator: GreaterThanThreshold
"""


@pytest.mark.parametrize(
    ("metric", "dims", "expected"),
    [
        (
            "5XXError",
            '[{Name: ApiName, Value: !Ref "AWS::StackName"}, {Name: Stage, Value: Prod}]',
            {"ApiName": "app", "Stage": "Prod"},
        ),
        ("Latency", "[{Name: ApiName, Value: shop-api}]", {"ApiName": "shop-api"}),
        ("5xx", "[{Name: ApiId, Value: !Ref Http}]", {"ApiId": "http"}),
    ],
)
def test_alarms_on_the_template_s_apis(
    tmp_path: Path, metric: str, dims: str, expected: dict[str, str]
) -> None:
    app = load(write(tmp_path, "Resources:\n" + API_FUNCTION + api_alarm(metric, dims)))
    spec = app.alarms["Alarm"]
    assert (spec.namespace, spec.metric_name, dict(spec.dimensions)) == (
        "AWS/ApiGateway",
        metric,
        expected,
    )
    assert app.api_labels == {
        "ServerlessRestApi": ("rest", "app"),
        "Named": ("rest", "shop-api"),
        "Http": ("http", "http"),
    }


@pytest.mark.parametrize(
    ("metric", "dims", "words"),
    [
        ("5XXError", "[{Name: ApiName, Value: !Ref Http}]", "is the id of the HTTP API Http"),
        ("5XXError", "[{Name: ApiId, Value: !Ref Http}]", "an HTTP API publishes no '5XXError'"),
        ("5xx", "[{Name: ApiName, Value: shop-api}]", "a REST API publishes no '5xx'"),
        ("5XXError", "[{Name: ApiName, Value: Named}]", "no REST API of the template is named"),
        ("Count", "[{Name: ApiName, Value: shop-api}, {Name: Method, Value: GET}]", "detailed"),
        ("CacheHitCount", "[{Name: ApiName, Value: shop-api}]", "a REST API publishes no"),
    ],
)
def test_alarms_on_what_api_gateway_does_not_publish_are_skipped(
    tmp_path: Path, metric: str, dims: str, words: str
) -> None:
    """As public templates write them: an HTTP API's id as ApiName, the logical id as a
    REST API's name. They never fire on AWS either."""
    app = load(write(tmp_path, "Resources:\n" + API_FUNCTION + api_alarm(metric, dims)))
    assert app.alarms == {}
    [warning] = [w for w in app.warnings if "Resources.Alarm" in w]
    assert words in warning
