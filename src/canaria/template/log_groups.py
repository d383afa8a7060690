"""Log groups: ``AWS::Logs::LogGroup`` and ``AWS::Logs::LogStream``, a function's
``LoggingConfig`` and a state machine's logging configuration, read into specs.

A group's name is its ``LogGroupName`` or, without one, ``<stack>-<logical id>`` (what
``!Ref`` gives); ``!GetAtt Group.Arn`` is ``arn:aws:logs:<region>:<account>:log-group:<name>:*``
as CloudFormation gives it. Writers name a group by that ARN (with or without the ``:*``)
or by its name; a group the template does not declare is created when first written, as
Lambda creates a function's.

What CloudWatch Logs refuses is refused at its line: a name outside its 1-512 characters
of ``[.-_/#A-Za-z0-9]``, a ``RetentionInDays`` that is not one of its values, a state
machine log level other than ``ALL``, ``ERROR``, ``FATAL`` or ``OFF``, more than one
destination, or a level without one.
"""

from __future__ import annotations

from typing import Any, Literal, cast

from canaria.log_groups import GROUP_NAME, RETENTION_DAYS, name_of_arn
from canaria.models import ExecutionLogging, LogGroupSpec
from canaria.template.context import Context
from canaria.template.index import LOG_GROUP, Entry
from canaria.template.intrinsics import NO_VALUE
from canaria.template.nodes import Where, as_bool, as_int, as_list, as_map, as_str, check_keys

__all__ = [
    "LOG_GROUP",
    "LOG_STREAM",
    "build_log_groups",
    "execution_logging",
    "function_log_group",
]

LOG_STREAM = "AWS::Logs::LogStream"
GROUP_PROPERTIES = (
    "LogGroupName",
    "RetentionInDays",
    "DataProtectionPolicy",
    "FieldIndexPolicies",
    "KmsKeyId",
    "LogGroupClass",
    "ResourcePolicyDocument",
    "Tags",
    "DeletionProtectionEnabled",
    "BearerTokenAuthenticationEnabled",
)
LEVELS = ("ALL", "ERROR", "FATAL", "OFF")


def _checked_name(name: str, at: Where) -> str:
    if not GROUP_NAME.match(name):
        raise at.error(
            f"log group name {name!r} is not one CloudWatch Logs accepts",
            allowed="1 to 512 characters: letters, digits, '.', '-', '_', '/' and '#'",
        )
    return name


def build_log_groups(
    ctx: Context, groups: list[Entry], streams: list[Entry]
) -> dict[str, LogGroupSpec]:
    """The template's log groups by name, each with the streams declared in it."""
    out: dict[str, LogGroupSpec] = {}
    for e in groups:
        check_keys(e.props, e.props_at, GROUP_PROPERTIES)
        name = ctx.index.name_of(e.logical_id)
        at = ctx.at(e, "LogGroupName") if "LogGroupName" in e.props else e.where
        _checked_name(name, at)
        if name in out:
            raise at.error(f"log group {name!r} is declared twice", allowed="a unique name")
        retention = None
        raw = ctx.get(e, "RetentionInDays")
        if raw is not NO_VALUE:
            rat = ctx.at(e, "RetentionInDays")
            retention = as_int(raw, rat)
            if retention not in RETENTION_DAYS:
                raise rat.error(
                    f"RetentionInDays {retention} is not one CloudWatch Logs accepts",
                    allowed=", ".join(map(str, RETENTION_DAYS)),
                )
        out[name] = LogGroupSpec(e.logical_id, name, retention)
    for e in streams:
        check_keys(
            e.props, e.props_at, ("LogGroupName", "LogStreamName"), required=("LogGroupName",)
        )
        gat = ctx.at(e, "LogGroupName")
        group = _checked_name(as_str(ctx.get(e, "LogGroupName"), gat), gat)
        stream = e.logical_id
        if "LogStreamName" in e.props:
            stream = as_str(ctx.get(e, "LogStreamName"), ctx.at(e, "LogStreamName"))
        spec = out.get(group) or LogGroupSpec(e.logical_id, group)
        out[group] = LogGroupSpec(
            spec.logical_id, group, spec.retention_days, (*spec.streams, stream)
        )
    return out


def function_log_group(ctx: Context, entry: Entry) -> str | None:
    """The group a function's ``LoggingConfig.LogGroup`` names, or None (its
    ``/aws/lambda/<name>``). ``LogFormat: JSON`` and the log levels are not applied:
    canaria writes the function's lines as it prints them (a warning says so)."""
    raw = ctx.get(entry, "LoggingConfig")
    if raw is NO_VALUE:
        return None
    at = ctx.at(entry, "LoggingConfig")
    config = as_map(raw, at)
    check_keys(config, at, ("LogGroup", "LogFormat", "ApplicationLogLevel", "SystemLogLevel"))
    if config.get("LogFormat") == "JSON" or "ApplicationLogLevel" in config:
        ctx.warn(
            entry,
            "LoggingConfig: LogFormat JSON and the log levels are not applied: canaria "
            "keeps the function's lines as the runtime prints them (Text)",
        )
    if "LogGroup" not in config:
        return None
    gat = at.key(config, "LogGroup")
    return _checked_name(as_str(config["LogGroup"], gat), gat)


def execution_logging(ctx: Context, entry: Entry, key: str) -> ExecutionLogging | None:
    """A state machine's ``LoggingConfiguration`` (SAM: ``Logging``), or None for
    ``OFF`` or none."""
    raw = ctx.get(entry, key)
    if raw is NO_VALUE:
        return None
    at = ctx.at(entry, key)
    config = as_map(raw, at)
    check_keys(config, at, ("Destinations", "IncludeExecutionData", "Level"))
    level = "OFF"
    if "Level" in config:
        lat = at.key(config, "Level")
        level = as_str(config["Level"], lat)
        if level not in LEVELS:
            raise lat.error(f"unknown log level {level!r}", allowed=LEVELS)
    include = False
    if "IncludeExecutionData" in config:
        include = as_bool(config["IncludeExecutionData"], at.key(config, "IncludeExecutionData"))
    destinations: list[Any] = []
    if "Destinations" in config:
        destinations = as_list(config["Destinations"], at.key(config, "Destinations"))
    if level == "OFF":
        return None
    if len(destinations) != 1:
        raise at.error(
            f"log level {level} needs exactly one destination, got {len(destinations)}",
            allowed="Destinations: [{CloudWatchLogsLogGroup: {LogGroupArn: ...}}]",
        )
    dat = at.key(config, "Destinations").index(config["Destinations"], 0)
    destination = as_map(destinations[0], dat)
    check_keys(destination, dat, ("CloudWatchLogsLogGroup",), required=("CloudWatchLogsLogGroup",))
    gat = dat.key(destination, "CloudWatchLogsLogGroup")
    target = as_map(destination["CloudWatchLogsLogGroup"], gat)
    check_keys(target, gat, ("LogGroupArn",), required=("LogGroupArn",))
    aat = gat.key(target, "LogGroupArn")
    arn = as_str(target["LogGroupArn"], aat)
    name = name_of_arn(arn)
    if name is None:
        raise aat.error(
            f"LogGroupArn {arn!r} is not a log group's ARN",
            allowed="!GetAtt Group.Arn, or arn:aws:logs:<region>:<account>:log-group:<name>:*",
        )
    return ExecutionLogging(
        name, cast(Literal["ALL", "ERROR", "FATAL"], level), include_data=include
    )
