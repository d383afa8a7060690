"""``AWS::Serverless::StateMachine`` and ``AWS::StepFunctions::StateMachine``.

The definition comes inline (``Definition``), from a local file (``DefinitionUri``, JSON or
YAML) or as a JSON string (``DefinitionString``); ``DefinitionSubstitutions`` replace
``${Key}`` in every string of it. Only the outline is checked here (a mapping with
``StartAt`` and ``States``); the ASL interpreter checks the rest.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

from canaria.errors import TemplateError
from canaria.models import StateMachineSpec
from canaria.template.context import Context
from canaria.template.index import SAM_STATE_MACHINE, Entry
from canaria.template.intrinsics import NO_VALUE
from canaria.template.log_groups import execution_logging
from canaria.template.nodes import Where, as_map, as_str, check_keys, plain
from canaria.template.sam_rules import sam_properties
from canaria.template.yamlload import parse_text

SAM_KEYS = (
    "Definition",
    "DefinitionSubstitutions",
    "DefinitionUri",
    "Events",
    "Logging",
    "Name",
    "PermissionsBoundary",
    "Policies",
    "Role",
    "RolePath",
    "Tags",
    "Tracing",
    "Type",
    "AutoPublishAlias",
    "DeploymentPreference",
    "UseAliasAsEventTarget",
    "PropagateTags",
)
SFN_KEYS = (
    "Definition",
    "DefinitionS3Location",
    "DefinitionString",
    "DefinitionSubstitutions",
    "LoggingConfiguration",
    "RoleArn",
    "StateMachineName",
    "StateMachineType",
    "Tags",
    "TracingConfiguration",
    "EncryptionConfiguration",
)
TYPES = ("STANDARD", "EXPRESS")
_VAR = re.compile(r"\$\{([^}]+)\}")


def build_state_machine(ctx: Context, entry: Entry) -> StateMachineSpec:
    sam = entry.type == SAM_STATE_MACHINE
    keys = (*SAM_KEYS, *sam_properties(entry.type)) if sam else SFN_KEYS
    check_keys(entry.props, entry.props_at, keys)
    for key in ("AutoPublishAlias", "DeploymentPreference"):
        if sam and key in entry.props:
            ctx.warn(
                entry,
                f"{key} is ignored: canaria runs the state machine's latest definition and "
                "does not publish its versions or shift an alias between them",
            )
    sources = [
        k
        for k in ("Definition", "DefinitionUri", "DefinitionString", "DefinitionS3Location")
        if k in entry.props
    ]
    if len(sources) != 1:
        raise entry.props_at.at(entry.props).error(
            "a state machine needs exactly one definition",
            allowed="Definition or DefinitionUri" if sam else "Definition or DefinitionString",
        )
    source = sources[0]
    at = ctx.at(entry, source)
    value = ctx.get(entry, source)
    if source == "DefinitionS3Location":
        raise at.error("definitions in S3 are not read", allowed="Definition or DefinitionString")
    if source == "DefinitionUri":
        definition = _from_file(ctx, value, at)
    elif source == "DefinitionString":
        text = as_str(value, at)
        try:
            definition = json.loads(text)
        except json.JSONDecodeError as exc:
            raise at.error(f"DefinitionString is not valid JSON: {exc}") from None
    else:
        definition = value
    definition = plain(definition)
    subs = ctx.get(entry, "DefinitionSubstitutions")
    if subs is not NO_VALUE:
        sat = ctx.at(entry, "DefinitionSubstitutions")
        table = {k: as_str(v, sat.key(subs, k)) for k, v in as_map(subs, sat).items()}
        definition = _substitute(definition, table)
    if (
        not isinstance(definition, Mapping)
        or "StartAt" not in definition
        or not isinstance(definition.get("States"), Mapping)
    ):
        raise at.error("the definition must be a mapping with StartAt and States")
    type_key = "Type" if sam else "StateMachineType"
    type_ = ctx.get(entry, type_key)
    kind = "STANDARD" if type_ is NO_VALUE else as_str(type_, ctx.at(entry, type_key))
    if kind not in TYPES:
        raise ctx.at(entry, type_key).error(f"unknown state machine type {kind!r}", allowed=TYPES)
    logging = execution_logging(ctx, entry, "Logging" if sam else "LoggingConfiguration")
    name = ctx.index.name_of(entry.logical_id)
    return StateMachineSpec(entry.logical_id, name, definition, kind, logging)


def _from_file(ctx: Context, value: Any, at: Where) -> Any:
    text, path = ctx.local_path(value, at, allowed="a JSON or YAML file relative to the template")
    if not path.is_file():
        raise at.error(f"DefinitionUri file {text!r} does not exist ({path})")
    try:
        return parse_text(path.read_text(encoding="utf-8"), str(path))
    except TemplateError as exc:
        raise at.error(f"cannot read the definition: {exc.message}") from None


def _substitute(value: Any, table: Mapping[str, str]) -> Any:
    if isinstance(value, str):
        return _VAR.sub(lambda m: table.get(m.group(1), m.group(0)), value)
    if isinstance(value, Mapping):
        return {k: _substitute(v, table) for k, v in value.items()}
    if isinstance(value, list):
        return [_substitute(v, table) for v in value]
    return value
