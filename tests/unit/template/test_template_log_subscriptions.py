"""CloudWatch Logs subscription filters to functions: ``AWS::Logs::SubscriptionFilter``
and SAM's ``CloudWatchLogs`` event, read into ``LogSubscriptionSpec``."""

from __future__ import annotations

from pathlib import Path

import pytest

from canaria.models import LogSubscriptionSpec
from canaria.template import load
from tests.unit.template.template_helpers import fails, function, line_of, resources, write

SOURCE = function("Source", "FunctionName: orders\n")


def subscription(
    destination: str = "!GetAtt Sink.Arn",
    group: str = "!Sub /aws/lambda/${Source}",
    pattern: str = "ERROR",
    extra: str = "",
) -> str:
    return (
        "  Sub:\n    Type: AWS::Logs::SubscriptionFilter\n    Properties:\n"
        f"      LogGroupName: {group}\n      FilterPattern: '{pattern}'\n"
        f"      DestinationArn: {destination}\n{extra}"
    )


@pytest.mark.parametrize("group", ["!Sub /aws/lambda/${Source}", "/aws/lambda/orders"])
@pytest.mark.parametrize(
    "destination",
    [
        "!GetAtt Sink.Arn",
        "!Ref Sink.Alias",
        "arn:aws:lambda:us-east-1:123456789012:function:sink-fn",
        "arn:aws:lambda:us-east-1:123456789012:function:sink-fn:live",
    ],
)
def test_a_subscription_filter_to_a_function(tmp_path: Path, group: str, destination: str) -> None:
    sink = function("Sink", "FunctionName: sink-fn\nAutoPublishAlias: live\n")
    app = load(write(tmp_path, resources(SOURCE, sink, subscription(destination, group, extra=""))))
    # canaria's !Ref of a function is its logical id, so the !Sub names /aws/lambda/Source
    named = "/aws/lambda/Source" if group.startswith("!Sub") else group
    assert app.log_subscriptions == (LogSubscriptionSpec("Sub", named, "Source", "ERROR", "Sink"),)


def test_a_custom_group_is_the_only_one_its_functions_write(tmp_path: Path) -> None:
    """With a LoggingConfig group, Lambda writes there and not to /aws/lambda/<name>: a
    filter on the default name never delivers on AWS, so it does not here either; one on
    a group several functions share delivers each one's lines."""
    custom = "LoggingConfig: {LogGroup: /custom/orders}\n"
    source = function("Source", "FunctionName: orders\n" + custom)
    other = function("Other", custom)
    sink = function("Sink")
    shared = subscription("!GetAtt Sink.Arn", "/custom/orders")
    app = load(write(tmp_path, resources(source, other, sink, shared)))
    assert {s.source for s in app.log_subscriptions} == {"Source", "Other"}
    default = subscription("!GetAtt Sink.Arn", "/aws/lambda/orders")
    app = load(write(tmp_path, resources(source, sink, default)))
    assert app.log_subscriptions == ()
    assert any("'/aws/lambda/orders' is not delivered" in w for w in app.warnings)


def test_filter_name_names_it(tmp_path: Path) -> None:
    sink = function("Sink")
    text = subscription(extra="      FilterName: errors-to-sink\n")
    app = load(write(tmp_path, resources(SOURCE, sink, text)))
    assert [s.name for s in app.log_subscriptions] == ["errors-to-sink"]


def test_a_cloudwatch_logs_event_subscribes_its_function(tmp_path: Path) -> None:
    event = (
        "Events:\n  Errors:\n    Type: CloudWatchLogs\n    Properties:\n"
        "      LogGroupName: /custom/orders\n      FilterPattern: '[ip, user, status=5*]'\n"
    )
    source = function("Source", "LoggingConfig: {LogGroup: /custom/orders}\n")
    app = load(write(tmp_path, resources(source, function("Sink", event))))
    assert app.log_subscriptions == (
        LogSubscriptionSpec(
            "SinkErrors", "/custom/orders", "Source", "[ip, user, status=5*]", "Sink"
        ),
    )
    assert not [w for w in app.warnings if "CloudWatchLogs" in w]


def test_a_pattern_that_does_not_parse_is_refused_at_its_line(tmp_path: Path) -> None:
    path = write(tmp_path, resources(SOURCE, function("Sink"), subscription(pattern="{ $.a = }")))
    err = fails(path)
    assert f":{line_of(path, 'FilterPattern')}:" in str(err)
    event = (
        "Events:\n  Bad:\n    Type: CloudWatchLogs\n    Properties:\n"
        "      LogGroupName: /custom/orders\n      FilterPattern: '[a, b'\n"
    )
    path = write(tmp_path, resources(SOURCE, function("Sink", event)))
    assert f":{line_of(path, 'FilterPattern')}:" in str(fails(path))


@pytest.mark.parametrize(
    ("text", "warning"),
    [
        (
            subscription(group="/aws/apigateway/access"),
            "on log group '/aws/apigateway/access' is not delivered",
        ),
        (
            subscription("arn:aws:kinesis:us-east-1:123456789012:stream/logs"),
            "delivers a log group's events to the template's functions and delivery streams only",
        ),
        (subscription("!GetAtt Source.Arn"), "to the function that writes it"),
    ],
)
def test_what_canaria_cannot_deliver_is_a_warning(tmp_path: Path, text: str, warning: str) -> None:
    app = load(write(tmp_path, resources(SOURCE, function("Sink"), text)))
    assert app.log_subscriptions == ()
    assert any(warning in w for w in app.warnings), app.warnings
