"""A user pool's Lambda triggers: its ``LambdaConfig`` and its functions' ``Cognito``
events (``{Type: Cognito, Properties: {UserPool: !Ref Pool, Trigger: PreSignUp}}``, which
SAM writes into the pool's ``LambdaConfig``) → the template function each trigger invokes.

canaria runs the triggers of sign-up, confirmation, password sign-in and token generation
(version 1: the ID token) (``services.user_pool_triggers``); the others are named in a
warning, as is a trigger whose ARN names no function of the template.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import replace
from typing import Any

from canaria.models.services import ServiceResource, UserPoolSpec
from canaria.template.context import Context
from canaria.template.index import FUNCTION, Entry
from canaria.template.intrinsics import NO_VALUE
from canaria.template.nodes import as_list, as_map, as_str
from canaria.template.service_props import function_of

RUN = (
    "PreSignUp",
    "PostConfirmation",
    "PreAuthentication",
    "PostAuthentication",
    "PreTokenGeneration",  # its version 1 event: the ID token's claims and groups
)
NOT_RUN = (
    "CreateAuthChallenge",
    "CustomEmailSender",
    "CustomMessage",
    "CustomSMSSender",
    "DefineAuthChallenge",
    "UserMigration",
    "VerifyAuthChallengeResponse",
)
LAMBDA_CONFIG_KEYS = (*RUN, *NOT_RUN, "PreTokenGenerationConfig", "KMSKeyID")


def with_triggers(
    ctx: Context, services: Mapping[str, ServiceResource], functions: Mapping[str, str]
) -> dict[str, ServiceResource]:
    """``services`` with each user pool's triggers filled in; ``functions`` maps each
    function's ARN to its logical id."""
    pools = {k: r for k, r in services.items() if isinstance(r, UserPoolSpec)}
    found: dict[str, dict[str, str]] = {k: {} for k in pools}
    for logical_id in pools:
        entry = ctx.index.entries[logical_id]
        found[logical_id].update(_lambda_config(ctx, entry, functions))
    function_entries = [e for e in ctx.index.entries.values() if e.type == FUNCTION and e.enabled]
    for pool, trigger, function, where in _events(ctx, function_entries):
        owner = next((k for k, p in pools.items() if p.id == pool), None)
        if owner is None:
            ctx.warn(
                ctx.index.entries[function],
                f"its Cognito trigger {trigger} names no user pool of the template: not invoked",
            )
            continue
        if trigger in found[owner]:
            raise where.error(
                f"the Cognito trigger {trigger} of {owner} is defined twice "
                f"(also by {found[owner][trigger]})",
                allowed="one function per trigger",
            )
        found[owner][trigger] = function
    out = dict(services)
    for logical_id, triggers in found.items():
        ran = {t: f for t, f in triggers.items() if t in RUN}
        for trigger in sorted(set(triggers) - set(ran)):
            ctx.warn(
                ctx.index.entries[logical_id],
                f"the {trigger} trigger is not invoked locally: canaria runs {', '.join(RUN)}",
            )
        out[logical_id] = replace(pools[logical_id], triggers=ran)
    return out


def _lambda_config(ctx: Context, entry: Entry, functions: Mapping[str, str]) -> dict[str, str]:
    raw = ctx.get(entry, "LambdaConfig")
    if raw is NO_VALUE or raw is None:
        return {}
    at = ctx.at(entry, "LambdaConfig")
    config = as_map(raw, at)
    out: dict[str, str] = {}
    for key, value in config.items():
        kat = at.key(config, key)
        if key not in LAMBDA_CONFIG_KEYS:
            raise kat.error(f"unknown LambdaConfig trigger {key!r}", allowed=LAMBDA_CONFIG_KEYS)
        if key == "KMSKeyID":
            continue
        if key == "PreTokenGenerationConfig":  # {LambdaArn, LambdaVersion}
            config_at = kat
            value = as_map(value, kat)
            version = value.get("LambdaVersion", "V1_0")
            if version != "V1_0":
                ctx.warn(
                    entry,
                    f"the PreTokenGeneration trigger's {version} event (access token "
                    "claims and scopes) is not run locally: canaria runs its V1_0 event",
                )
                continue
            key, value, kat = "PreTokenGeneration", value.get("LambdaArn"), config_at
        elif isinstance(value, Mapping):  # the senders: {LambdaArn, LambdaVersion}
            value = value.get("LambdaArn")
        arn = as_str(value, kat)
        function = function_of(arn, functions)
        if function is None:
            ctx.warn(
                entry, f"its {key} trigger {arn} is not a function of the template: not invoked"
            )
            continue
        out[key] = function
    return out


def _events(ctx: Context, entries: Iterable[Entry]) -> Iterable[tuple[str, str, str, Any]]:
    """(pool id, trigger, function, where) of each trigger of the functions' Cognito events."""
    for entry in entries:
        events = entry.props.get("Events")
        if not isinstance(events, Mapping):
            continue
        eat = entry.props_at.key(entry.props, "Events")
        for name, event in events.items():
            if not isinstance(event, Mapping) or event.get("Type") != "Cognito":
                continue
            nat = eat.key(events, name)
            props = as_map(event.get("Properties"), nat.key(event, "Properties"))
            pat = nat.key(event, "Properties")
            pool = as_str(ctx.resolver.get(props, "UserPool", pat), pat.key(props, "UserPool"))
            tat = pat.key(props, "Trigger")
            trigger = ctx.resolver.get(props, "Trigger", pat)
            for value in [trigger] if isinstance(trigger, str) else as_list(trigger, tat):
                yield pool, as_str(value, tat), entry.logical_id, tat


__all__ = ["LAMBDA_CONFIG_KEYS", "NOT_RUN", "RUN", "with_triggers"]
