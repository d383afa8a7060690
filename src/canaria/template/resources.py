"""APIs, CloudWatch alarms, CodeDeploy deployment configs, and resources canaria skips."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from canaria.errors import InvalidRequest
from canaria.models import AlarmSpec, ApiSpec, DeploymentConfigSpec, SkippedResource
from canaria.models.app import ApiKind
from canaria.models.configs import PREDEFINED, PREFIX, parse_step_list
from canaria.models.statistics import parse_percentile
from canaria.template.api_keys import key_source
from canaria.template.authorizers import ApiKeyAuth, api_auth, api_key_auth
from canaria.template.context import Context
from canaria.template.cors import api_cors
from canaria.template.gateway_responses import gateway_responses
from canaria.template.index import API, HTTP_API, Entry
from canaria.template.intrinsics import NO_VALUE
from canaria.template.nodes import (
    LineMap,
    Where,
    as_float,
    as_int,
    as_list,
    as_map,
    as_str,
    check_keys,
    plain,
)
from canaria.template.validation import api_models

# ---- APIs --------------------------------------------------------------------------------


def build_api(ctx: Context, entry: Entry, function_names: Mapping[str, str]) -> ApiSpec:
    """An API and its Lambda authorizers (``function_names``: FunctionName -> logical id)."""
    stage = ctx.get(entry, "StageName")
    kind: ApiKind = "rest" if entry.type == API else "http"
    if kind == "rest":
        if stage is NO_VALUE:
            raise entry.props_at.at(entry.props).error(
                "StageName is required for an AWS::Serverless::Api", allowed="StageName: Prod"
            )
        name = as_str(stage, ctx.at(entry, "StageName"))
    else:
        assert entry.type == HTTP_API
        name = "$default" if stage is NO_VALUE else as_str(stage, ctx.at(entry, "StageName"))
    authorizers, default, skipped = api_auth(
        ctx, entry, ctx.get(entry, "Auth"), ctx.at(entry, "Auth"), kind, function_names
    )
    cors = api_cors(ctx, entry, kind)
    keys = ApiKeyAuth()
    if kind == "rest":
        keys = api_key_auth(ctx, entry, ctx.get(entry, "Auth"), ctx.at(entry, "Auth"))
        if keys.required and keys.preflight and cors is not None:
            cors = replace(cors, preflight_api_keys=())  # the API's keys, filled in later
    variables = stage_variables(ctx, entry, "Variables" if kind == "rest" else "StageVariables")
    responses = gateway_responses(ctx, entry) if kind == "rest" else ()
    return ApiSpec(
        entry.logical_id,
        kind,
        name,
        authorizers,
        default,
        skipped,
        cors,
        variables,
        responses,
        api_key_required=keys.required,
        usage_plan=keys.usage_plan,
        usage_limits=keys.limits,
        api_key_source=key_source(ctx, entry) if kind == "rest" else "HEADER",
        models=api_models(ctx, entry) if kind == "rest" else (),
    )


def stage_variables(ctx: Context, entry: Entry, key: str) -> tuple[tuple[str, str], ...]:
    """The stage's variables (``stageVariables`` in every event of its routes)."""
    value = ctx.get(entry, key)
    if value is NO_VALUE or value is None:
        return ()
    at = ctx.at(entry, key)
    node = as_map(value, at)
    return tuple((k, _text(v, at.key(node, k))) for k, v in node.items())


def _text(value: Any, at: Where) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value) if isinstance(value, int | float) else as_str(value, at)


# ---- alarms ------------------------------------------------------------------------------

ALARM_PROPERTIES = (
    "ActionsEnabled",
    "AlarmActions",
    "AlarmDescription",
    "AlarmName",
    "ComparisonOperator",
    "DatapointsToAlarm",
    "Dimensions",
    "EvaluateLowSampleCountPercentile",
    "EvaluationPeriods",
    "ExtendedStatistic",
    "InsufficientDataActions",
    "MetricName",
    "Metrics",
    "Namespace",
    "OKActions",
    "Period",
    "Statistic",
    "Tags",
    "Threshold",
    "ThresholdMetricId",
    "TreatMissingData",
    "Unit",
)
METRICS = ("Invocations", "Errors", "Throttles", "Duration", "ConcurrentExecutions")
DIMENSIONS = ("FunctionName", "Resource", "ExecutedVersion")
STATISTICS = ("SampleCount", "Average", "Sum", "Minimum", "Maximum")
COMPARISONS = (
    "GreaterThanOrEqualToThreshold",
    "GreaterThanThreshold",
    "LessThanThreshold",
    "LessThanOrEqualToThreshold",
)
MISSING_DATA = ("missing", "notBreaching", "breaching", "ignore")


def build_alarm(ctx: Context, entry: Entry, function_names: dict[str, str]) -> AlarmSpec | None:
    """The alarm canaria evaluates, or None (with a warning) for a valid alarm it cannot:
    metric math, anomaly detection, a metric outside AWS/Lambda, a metric name or a
    dimension AWS/Lambda does not publish (CloudWatch accepts it; it never fires)."""
    props = entry.props
    check_keys(props, entry.props_at, ALARM_PROPERTIES)
    for key in ("Metrics", "ThresholdMetricId"):
        if key in props:
            ctx.warn(
                entry,
                f"alarm with {key} (metric math or anomaly detection) is skipped: canaria "
                "evaluates alarms on one AWS/Lambda metric; it never fires locally",
            )
            return None
    check_keys(
        props,
        entry.props_at,
        ALARM_PROPERTIES,
        required=(
            "MetricName",
            "Namespace",
            "Period",
            "EvaluationPeriods",
            "Threshold",
            "ComparisonOperator",
        ),
    )

    def text(key: str) -> str:
        return as_str(ctx.get(entry, key), ctx.at(entry, key))

    namespace = text("Namespace")
    if namespace != "AWS/Lambda":
        ctx.warn(
            entry,
            f"alarm on namespace {namespace} is skipped: canaria measures AWS/Lambda metrics "
            "only; it never fires locally",
        )
        return None
    metric = text("MetricName")
    statistic = extended = None
    if ("Statistic" in props) == ("ExtendedStatistic" in props):
        raise entry.props_at.at(props).error(
            "an alarm needs exactly one of Statistic and ExtendedStatistic",
            allowed="Statistic: Sum, or ExtendedStatistic: p99",
        )
    if "Statistic" in props:
        statistic = text("Statistic")
        if statistic not in STATISTICS:
            raise ctx.at(entry, "Statistic").error(
                f"unknown statistic {statistic!r}", allowed=STATISTICS
            )
    else:
        extended = text("ExtendedStatistic")
        _check_percentile(extended, ctx.at(entry, "ExtendedStatistic"))
    comparison = text("ComparisonOperator")
    if comparison not in COMPARISONS:
        raise ctx.at(entry, "ComparisonOperator").error(
            f"comparison {comparison!r} is not supported", allowed=COMPARISONS
        )
    missing = text("TreatMissingData") if "TreatMissingData" in props else "missing"
    if missing not in MISSING_DATA:
        raise ctx.at(entry, "TreatMissingData").error(
            f"unknown TreatMissingData {missing!r}", allowed=MISSING_DATA
        )
    evaluation = as_int(ctx.get(entry, "EvaluationPeriods"), ctx.at(entry, "EvaluationPeriods"), 1)
    datapoints = None
    if "DatapointsToAlarm" in props:
        datapoints = as_int(
            ctx.get(entry, "DatapointsToAlarm"), ctx.at(entry, "DatapointsToAlarm"), 1, evaluation
        )
    period = as_int(ctx.get(entry, "Period"), ctx.at(entry, "Period"), 1)
    if period not in (1, 5, 10, 20, 30) and period % 60:
        raise ctx.at(entry, "Period").error(
            f"period {period} is not valid", allowed="1, 5, 10, 20, 30 or a multiple of 60"
        )
    dimensions, unpublished = _dimensions(ctx, entry, function_names)
    if metric not in METRICS:
        hint = " (the Lambda metric is Errors, plural)" if metric == "Error" else ""
        unpublished = f"metric {metric!r}{hint}; Lambda's are {', '.join(METRICS)}"
    if unpublished:
        # CloudWatch takes any name, and an alarm on data that never comes never fires
        ctx.warn(
            entry,
            f"alarm is skipped: AWS/Lambda publishes no {unpublished}. It never fires, "
            "on AWS either, and never stops a deployment",
        )
        return None
    return AlarmSpec(
        name=ctx.index.name_of(entry.logical_id),
        metric_name=metric,
        dimensions=dimensions,
        period_s=period,
        evaluation_periods=evaluation,
        threshold=as_float(ctx.get(entry, "Threshold"), ctx.at(entry, "Threshold")),
        comparison_operator=comparison,
        statistic=statistic,
        extended_statistic=extended,
        datapoints_to_alarm=datapoints,
        treat_missing_data=missing,
        namespace=namespace,
    )


def _check_percentile(value: str, where: Where) -> None:
    try:
        parse_percentile(value)
    except ValueError as exc:
        raise where.error(str(exc), allowed="pNN, e.g. p99 or p99.9") from None


def _dimensions(
    ctx: Context, entry: Entry, function_names: dict[str, str]
) -> tuple[dict[str, str], str]:
    """The dimensions, and what AWS/Lambda does not publish among them ("" when nothing)."""
    raw = ctx.get(entry, "Dimensions")
    if raw is NO_VALUE:
        return {}, ""
    at = ctx.at(entry, "Dimensions")
    out: dict[str, str] = {}
    unpublished = ""
    for i, item in enumerate(as_list(raw, at)):
        iat = at.index(raw, i)
        dim = as_map(item, iat)
        check_keys(dim, iat, ("Name", "Value"), required=("Name", "Value"))
        name = as_str(dim["Name"], iat.key(dim, "Name"))
        if name not in DIMENSIONS:
            hint = " (an alias is Resource: <function>:<alias>)" if name == "Alias" else ""
            unpublished = f"dimension {name!r}{hint}; Lambda's are {', '.join(DIMENSIONS)}"
            continue
        value = as_str(dim["Value"], iat.key(dim, "Value"))
        if name in ("FunctionName", "Resource"):  # a FunctionName → the logical id canaria uses
            head, colon, tail = value.partition(":")
            value = function_names.get(head, head) + colon + tail
        out[name] = value
    return out, unpublished


# ---- deployment configs ------------------------------------------------------------------

CONFIG_PROPERTIES = (
    "ComputePlatform",
    "DeploymentConfigName",
    "MinimumHealthyHosts",
    "TrafficRoutingConfig",
    "ZonalConfig",
)


def build_deployment_config(ctx: Context, entry: Entry) -> DeploymentConfigSpec:
    props = entry.props
    check_keys(props, entry.props_at, CONFIG_PROPERTIES)
    platform = ctx.get(entry, "ComputePlatform")
    if platform is NO_VALUE or as_str(platform, ctx.at(entry, "ComputePlatform")) != "Lambda":
        where = (
            ctx.at(entry, "ComputePlatform")
            if "ComputePlatform" in props
            else (entry.props_at.at(props))
        )
        raise where.error("canaria runs Lambda deployment configs only", allowed="Lambda")
    name = ctx.index.name_of(entry.logical_id)
    _check_new_name(name, ctx.at(entry, "DeploymentConfigName"))
    if "TrafficRoutingConfig" not in props:
        return DeploymentConfigSpec(name, "all_at_once")
    at = ctx.at(entry, "TrafficRoutingConfig")
    routing = as_map(ctx.get(entry, "TrafficRoutingConfig"), at)
    types = {"TimeBasedCanary": "canary", "TimeBasedLinear": "linear", "AllAtOnce": "all_at_once"}
    check_keys(routing, at, ("Type", "TimeBasedCanary", "TimeBasedLinear"), required=("Type",))
    kind = as_str(routing["Type"], at.key(routing, "Type"))
    if kind not in types:
        raise at.key(routing, "Type").error(f"unknown traffic routing {kind!r}", allowed=types)
    if kind == "AllAtOnce":
        return DeploymentConfigSpec(name, "all_at_once")
    word = "Canary" if kind == "TimeBasedCanary" else "Linear"
    if kind not in routing:
        raise at.error(f"{kind} is required when Type is {kind}")
    kat = at.key(routing, kind)
    body = as_map(routing[kind], kat)
    pct_key, interval_key = f"{word}Percentage", f"{word}Interval"
    check_keys(body, kat, (pct_key, interval_key), required=(pct_key, interval_key))
    percentage = as_int(body[pct_key], kat.key(body, pct_key), 1, 100)
    interval = as_int(body[interval_key], kat.key(body, interval_key), 1)
    if word == "Canary":
        return DeploymentConfigSpec(name, "canary", percentage, interval)
    return DeploymentConfigSpec(name, "linear", percentage, interval)


def _check_new_name(name: str, where: Where) -> None:
    if name.removeprefix(PREFIX) in PREDEFINED:
        raise where.error(
            f"{name!r} is a predefined CodeDeploy configuration name", allowed="a name of your own"
        )


def step_lists(metadata: Any, where: Where) -> dict[str, DeploymentConfigSpec]:
    """``Metadata: {canaria: {deployment_configs: {Name: {steps: [...]}}}}``, checked now."""
    if not isinstance(metadata, LineMap) or "canaria" not in metadata:
        return {}
    cat = where.key(metadata, "canaria")
    canaria = as_map(metadata["canaria"], cat)
    check_keys(canaria, cat, ("deployment_configs",))
    if "deployment_configs" not in canaria:
        return {}
    dat = cat.key(canaria, "deployment_configs")
    configs = as_map(canaria["deployment_configs"], dat)
    out: dict[str, DeploymentConfigSpec] = {}
    for name, body in configs.items():
        nat = dat.key(configs, name)
        _check_new_name(name, nat)
        body = as_map(body, nat)
        check_keys(body, nat, ("steps",), required=("steps",))
        sat = nat.key(body, "steps")
        steps = body["steps"]
        raw = as_list(steps, sat)
        for i in range(len(raw) or 1):  # the first failing prefix names the step's line
            try:
                parse_step_list(raw[: i + 1], where=name)
            except InvalidRequest as exc:
                at = sat.index(steps, i) if raw else sat
                raise at.error(exc.message) from None
        out[name] = DeploymentConfigSpec(name, "steps", steps=tuple(plain(s) for s in raw))
    return out


# ---- skipped resources -------------------------------------------------------------------

_REASONS = {
    "AWS::IAM": "permissions are not enforced locally",
    "AWS::Logs": "logs are kept by canaria itself",
    "AWS::Lambda::Permission": "invoke permissions are not enforced locally",
    "AWS::Lambda::Function": "its code is not inline, in a local folder or a CDK asset, and "
    "canaria cannot fetch it from S3 or run an image",
    "AWS::Lambda::LayerVersion": "canaria runs AWS::Serverless::LayerVersion resources "
    "(a local ContentUri)",
    "AWS::Serverless::Application": "nested applications are not loaded",
    "AWS::ElasticLoadBalancingV2::ListenerCertificate": "canaria serves HTTPS listeners as "
    "plain HTTP, without certificates",
}


def skipped(entry: Entry) -> SkippedResource:
    type_ = entry.type
    reason = _REASONS.get(type_) or _REASONS.get(type_.rsplit("::", 1)[0])
    if reason is None:
        reason = "canaria does not run this resource type; Ref and GetAtt give placeholders"
    return SkippedResource(entry.logical_id, type_, reason)
