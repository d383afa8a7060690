"""APIs, CloudWatch alarms, CodeDeploy deployment configs, and resources canaria skips."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from canaria.errors import InvalidRequest
from canaria.models import ApiSpec, DeploymentConfigSpec, SkippedResource
from canaria.models.app import ApiKind
from canaria.models.configs import PREDEFINED, PREFIX, parse_step_list
from canaria.template.access_logs import access_log
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
        access_log=access_log(
            ctx, entry, "AccessLogSetting" if kind == "rest" else "AccessLogSettings"
        ),
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
    # resource policies: who may send to a queue, publish to a topic, put on a bus, ...
    "AWS::SQS::QueuePolicy": "resource policies are not enforced locally",
    "AWS::SQS::QueueInlinePolicy": "resource policies are not enforced locally",
    "AWS::SNS::TopicPolicy": "resource policies are not enforced locally",
    "AWS::SNS::TopicInlinePolicy": "resource policies are not enforced locally",
    "AWS::S3::BucketPolicy": "resource policies are not enforced locally",
    "AWS::Events::EventBusPolicy": "resource policies are not enforced locally",
    "AWS::Lambda::LayerVersionPermission": "permissions are not enforced locally",
    "AWS::SecretsManager::ResourcePolicy": "resource policies are not enforced locally",
    "AWS::KMS": "encryption keys are not used locally: data is kept unencrypted",
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
