"""DeploymentPreference, hooks, alarms, triggers, custom configs and the judge settings."""

from __future__ import annotations

from pathlib import Path

import pytest

from canaria.models import DeploymentConfigSpec, JudgeSettings, TriggerConfig
from canaria.template import load
from tests.unit.template.template_helpers import fails, function, line_of, resources, write

ALARMS = """\
  ErrorsAlarm:
    Type: AWS::CloudWatch::Alarm
    Properties:
      AlarmName: fn-errors
      Namespace: AWS/Lambda
      MetricName: Errors
      Dimensions:
        - {Name: FunctionName, Value: !Ref Fn}
        - {Name: Resource, Value: !Sub "${Fn}:live"}
      Statistic: Sum
      Period: 60
      EvaluationPeriods: 2
      Threshold: 0
      ComparisonOperator: GreaterThanThreshold
  LatencyAlarm:
    Condition: WithLatency
    Type: AWS::CloudWatch::Alarm
    Properties:
      Namespace: AWS/Lambda
      MetricName: Duration
      Dimensions: [{Name: FunctionName, Value: !Ref Fn}]
      ExtendedStatistic: p99
      Period: 60
      EvaluationPeriods: 3
      DatapointsToAlarm: 2
      Threshold: 500
      ComparisonOperator: GreaterThanOrEqualToThreshold
      TreatMissingData: notBreaching
"""
HEAD = """\
Parameters:
  Latency: {Type: String, Default: "no", AllowedValues: ["yes", "no"]}
Conditions:
  WithLatency: !Equals [!Ref Latency, "yes"]
"""
HOOKS = function("PreHook") + function("PostHook")


def preference(body: str, alias: bool = True, metadata: str = "") -> str:
    extra = (
        ("AutoPublishAlias: live\n" if alias else "")
        + "DeploymentPreference:\n"
        + "".join(f"  {line}\n" for line in body.strip("\n").splitlines())
    )
    fn = function(extra=extra)
    if metadata:
        fn = fn.replace(
            "    Type: AWS::Serverless::Function",
            metadata + "    Type: AWS::Serverless::Function",
            1,
        )
    return fn


FULL = """\
Type: Linear10PercentEvery1Minute
Alarms:
  - !Ref ErrorsAlarm
  - !If [WithLatency, !Ref LatencyAlarm, !Ref AWS::NoValue]
Hooks:
  PreTraffic: !Ref PreHook
  PostTraffic: !Ref PostHook
TriggerConfigurations:
  - TriggerName: hook
    TriggerEvents: [DeploymentSuccess, DeploymentFailure]
    TriggerTargetArn: https://example.test/hook
  - TriggerName: topic
    TriggerEvents: [DeploymentStart]
    TriggerTargetArn: !Ref Topic
Role: !GetAtt DeployRole.Arn
PassthroughCondition: true
"""
OTHERS = "  Topic:\n    Type: AWS::SNS::Topic\n  DeployRole:\n    Type: AWS::IAM::Role\n"


def test_full_preference(tmp_path: Path) -> None:
    path = write(tmp_path, HEAD + resources(preference(FULL), HOOKS, ALARMS, OTHERS))
    app = load(path)
    p = app.functions["Fn"].deployment_preference
    assert p is not None
    assert p.type == "Linear10PercentEvery1Minute" and p.enabled
    assert p.alarms == ("fn-errors",)
    assert (p.pre_traffic_hook, p.post_traffic_hook) == ("PreHook", "PostHook")
    assert p.triggers == (
        TriggerConfig(
            "hook", ("DeploymentSuccess", "DeploymentFailure"), "https://example.test/hook"
        ),
        TriggerConfig(
            "topic", ("DeploymentStart",), "arn:aws:sns:us-east-1:123456789012:app-Topic"
        ),
    )
    assert not any("SNS" in w for w in app.warnings)
    assert p.judge == JudgeSettings()
    assert set(app.alarms) == {"fn-errors"}
    alarm = app.alarms["fn-errors"]
    assert alarm.dimensions == {"FunctionName": "Fn", "Resource": "Fn:live"}
    assert (alarm.period_s, alarm.evaluation_periods, alarm.threshold) == (60, 2, 0.0)
    # the condition brings the second alarm in
    p2 = load(path, {"Latency": "yes"}).functions["Fn"].deployment_preference
    assert p2 is not None and p2.alarms == ("fn-errors", "LatencyAlarm")
    latency = load(path, {"Latency": "yes"}).alarms["LatencyAlarm"]
    assert latency.extended_statistic == "p99" and latency.statistic is None
    assert latency.datapoints_to_alarm == 2 and latency.treat_missing_data == "notBreaching"


def test_preference_needs_auto_publish_alias(tmp_path: Path) -> None:
    path = write(tmp_path, resources(preference("Type: AllAtOnce", alias=False)))
    err = fails(path)
    assert "AutoPublishAlias" in err.message
    assert err.prop == "Resources.Fn.Properties.DeploymentPreference"
    assert err.line == line_of(path, "DeploymentPreference:")


def test_disabled_preference_needs_no_type(tmp_path: Path) -> None:
    app = load(write(tmp_path, resources(preference("Enabled: false"))))
    p = app.functions["Fn"].deployment_preference
    assert p is not None and not p.enabled


@pytest.mark.parametrize(
    ("body", "prop", "words"),
    [
        ("Type: Linear5PercentEvery1Minute", "DeploymentPreference.Type", "unknown deployment"),
        ("Type: AllAtOnce\nAlarms: [nope]", "DeploymentPreference.Alarms[0]", "not an AWS::Cloud"),
        (
            "Type: AllAtOnce\nHooks: {PreTraffic: Nope}",
            "DeploymentPreference.Hooks.PreTraffic",
            "not a function",
        ),
        (
            "Type: AllAtOnce\nHooks: {PreTraffic: !Ref Fn}",
            "DeploymentPreference.Hooks.PreTraffic",
            "its own hook",
        ),
        ("Type: AllAtOnce\nHooks: {Pre: x}", "DeploymentPreference.Hooks.Pre", "unknown property"),
        ("Type: AllAtOnce\nTypo: 1", "DeploymentPreference.Typo", "unknown property"),
        (
            "Type: AllAtOnce\nTriggerConfigurations: [{TriggerName: a, TriggerEvents: [Boom], "
            "TriggerTargetArn: 'http://x'}]",
            "DeploymentPreference.TriggerConfigurations[0].TriggerEvents",
            "unknown trigger event",
        ),
        (
            "Type: AllAtOnce\nTriggerConfigurations: [{TriggerName: a, TriggerEvents: "
            "[DeploymentStart], TriggerTargetArn: 'ftp://x'}]",
            "DeploymentPreference.TriggerConfigurations[0].TriggerTargetArn",
            "webhook",
        ),
    ],
)
def test_bad_preferences(tmp_path: Path, body: str, prop: str, words: str) -> None:
    err = fails(write(tmp_path, resources(preference(body), HOOKS)))
    assert words in err.message and err.prop == f"Resources.Fn.Properties.{prop}"
    assert err.allowed is not None or words in ("its own hook",)


def test_predefined_names_with_prefix(tmp_path: Path) -> None:
    app = load(
        write(
            tmp_path, resources(preference("Type: CodeDeployDefault.LambdaCanary10Percent5Minutes"))
        )
    )
    p = app.functions["Fn"].deployment_preference
    assert p is not None and p.type == "CodeDeployDefault.LambdaCanary10Percent5Minutes"


def test_custom_deployment_config(tmp_path: Path) -> None:
    configs = """\
  Fast:
    Type: AWS::CodeDeploy::DeploymentConfig
    Properties:
      ComputePlatform: Lambda
      DeploymentConfigName: fast-canary
      TrafficRoutingConfig:
        Type: TimeBasedCanary
        TimeBasedCanary: {CanaryPercentage: 20, CanaryInterval: 2}
  Slow:
    Type: AWS::CodeDeploy::DeploymentConfig
    Properties:
      ComputePlatform: Lambda
      TrafficRoutingConfig:
        Type: TimeBasedLinear
        TimeBasedLinear: {LinearPercentage: 25, LinearInterval: 3}
  Now:
    Type: AWS::CodeDeploy::DeploymentConfig
    Properties:
      ComputePlatform: Lambda
      TrafficRoutingConfig: {Type: AllAtOnce}
"""
    app = load(write(tmp_path, resources(preference("Type: !Ref Fast"), configs)))
    p = app.functions["Fn"].deployment_preference
    assert p is not None and p.type == "fast-canary"
    assert app.deployment_configs == {
        "fast-canary": DeploymentConfigSpec("fast-canary", "canary", 20, 2),
        "Slow": DeploymentConfigSpec("Slow", "linear", 25, 3),
        "Now": DeploymentConfigSpec("Now", "all_at_once"),
    }


@pytest.mark.parametrize(
    ("props", "prop", "allowed"),
    [
        ("ComputePlatform: Server", "ComputePlatform", "Lambda"),
        (
            "ComputePlatform: Lambda\nTrafficRoutingConfig: {Type: TimeBasedFlexible}",
            "TrafficRoutingConfig.Type",
            "TimeBasedCanary, TimeBasedLinear, AllAtOnce",
        ),
        (
            "ComputePlatform: Lambda\nTrafficRoutingConfig: {Type: TimeBasedLinear, "
            "TimeBasedLinear: {LinearPercentage: 0, LinearInterval: 1}}",
            "TrafficRoutingConfig.TimeBasedLinear.LinearPercentage",
            "an integer from 1 to 100",
        ),
        (
            "ComputePlatform: Lambda\nDeploymentConfigName: CodeDeployDefault.LambdaAllAtOnce",
            "DeploymentConfigName",
            "a name of your own",
        ),
    ],
)
def test_bad_deployment_configs(tmp_path: Path, props: str, prop: str, allowed: str) -> None:
    body = "  Cfg:\n    Type: AWS::CodeDeploy::DeploymentConfig\n    Properties:\n" + "".join(
        f"      {line}\n" for line in props.splitlines()
    )
    err = fails(write(tmp_path, resources(function(), body)))
    assert err.prop == f"Resources.Cfg.Properties.{prop}" and err.allowed == allowed


STEPS = """\
Metadata:
  canaria:
    deployment_configs:
      Careful:
        steps:
          - {weight: 1, duration: 2m}
          - {gate: manual}
          - {requests: 50}
          - {weight: 25, duration: 10m}
"""


def test_step_lists(tmp_path: Path) -> None:
    app = load(write(tmp_path, STEPS + resources(preference("Type: Careful"))))
    spec = app.deployment_configs["Careful"]
    assert spec.kind == "steps" and len(spec.steps) == 4
    assert spec.steps[0] == {"weight": 1, "duration": "2m"} and type(spec.steps[0]) is dict
    from canaria.models.configs import steps_for

    assert len(steps_for("Careful", app.deployment_configs)) == 5  # a final 100 % is added


@pytest.mark.parametrize(
    ("bad", "words"),
    [
        ("{weight: 0.5, duration: 1m}", "below the previous"),
        ("{weight: 150}", "percentage"),
        ("{gate: auto}", "allowed"),
        ("{requests: 0}", "integer >= 1"),
        ("{weight: 5, duration: 2x}", "duration"),
    ],
)
def test_invalid_steps_name_their_line(tmp_path: Path, bad: str, words: str) -> None:
    path = write(tmp_path, STEPS.replace("{requests: 50}", bad) + resources(function()))
    err = fails(path)
    assert words in str(err)
    assert err.prop == "Metadata.canaria.deployment_configs.Careful.steps[2]"
    assert err.line == line_of(path, bad)


def test_judge_settings(tmp_path: Path) -> None:
    judge = "{alpha: 0.05, early_promotion: true, delta: 1, slow_tolerance_ms: 25}"
    meta = f"    Metadata:\n      canaria:\n        judge: {judge}\n"
    app = load(write(tmp_path, resources(preference("Type: AllAtOnce", metadata=meta))))
    p = app.functions["Fn"].deployment_preference
    assert p is not None
    assert p.judge == JudgeSettings(
        enabled=True, alpha=0.05, early_promotion=True, delta=1.0, slow_tolerance_ms=25.0
    )


@pytest.mark.parametrize(
    ("judge", "prop"),
    [
        ("{alpha: 1}", "alpha"),
        ("{alpha: 0}", "alpha"),
        ("{delta: -1}", "delta"),
        ("{slow_tolerance_ms: -0.5}", "slow_tolerance_ms"),
        ("{slow_tolerance_ms: .nan}", "slow_tolerance_ms"),
        ("{enabled: maybe}", "enabled"),
        ("{alfa: 0.1}", "alfa"),
    ],
)
def test_bad_judge_settings(tmp_path: Path, judge: str, prop: str) -> None:
    meta = f"    Metadata:\n      canaria:\n        judge: {judge}\n"
    err = fails(write(tmp_path, resources(preference("Type: AllAtOnce", metadata=meta))))
    assert err.prop == f"Resources.Fn.Metadata.canaria.judge.{prop}" and err.allowed is not None
