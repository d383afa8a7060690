"""Application Load Balancers in front of the template's functions
(``AWS::ElasticLoadBalancingV2::LoadBalancer`` / ``Listener`` / ``ListenerRule`` /
``TargetGroup``), read into ``ListenerSpec`` values that ``canaria.gateway.load_balancers``
serves, each listener on a port of its own.

A target group of ``TargetType: lambda`` names one function (its ARN, or an alias's or
version's); a forward to it invokes that function as ALB does. What ALB would refuse
(a rule without conditions, two rules of one priority, a fixed response's bad status, a
Lambda target group with two targets, ...) is refused at its line. What canaria does not
run is a warning: a network or gateway load balancer, a target group of instances or IP
addresses (a forward to it answers 503, as ALB does with no healthy target), an
``authenticate-*`` or ``jwt-validation`` action (requests it would let through are
refused, never let through unchecked), regular-expression conditions and ``Transforms``.
HTTPS listeners are served as plain HTTP.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Mapping
from typing import Any

from canaria.models.load_balancers import (
    CONDITION_FIELDS,
    HOST_HEADER,
    HTTP_HEADER,
    HTTP_REQUEST_METHOD,
    PATH_PATTERN,
    QUERY_STRING,
    SOURCE_IP,
    ActionSpec,
    ConditionSpec,
    ListenerSpec,
    RedirectSpec,
    RuleSpec,
    TargetGroupSpec,
)
from canaria.template.context import Context
from canaria.template.elb_refs import LISTENER, LISTENER_RULE, LOAD_BALANCER, TARGET_GROUP
from canaria.template.index import Entry
from canaria.template.intrinsics import NO_VALUE
from canaria.template.nodes import (
    Where,
    as_bool,
    as_int,
    as_list,
    as_map,
    as_str,
    check_keys,
)
from canaria.template.openapi import target_of_uri

TYPES = (LOAD_BALANCER, LISTENER, LISTENER_RULE, TARGET_GROUP)
LISTENER_KEYS = (
    "AlpnPolicy",
    "Certificates",
    "DefaultActions",
    "ListenerAttributes",
    "LoadBalancerArn",
    "MutualAuthentication",
    "Port",
    "Protocol",
    "SslPolicy",
)
RULE_KEYS = ("Actions", "Conditions", "ListenerArn", "Priority", "Transforms")
ACTION_KEYS = (
    "AuthenticateCognitoConfig",
    "AuthenticateOidcConfig",
    "FixedResponseConfig",
    "ForwardConfig",
    "JwtValidationConfig",
    "Order",
    "RedirectConfig",
    "TargetGroupArn",
    "Type",
)
ACTION_TYPES = (
    "forward",
    "fixed-response",
    "redirect",
    "authenticate-cognito",
    "authenticate-oidc",
    "jwt-validation",
)
_AUTHENTICATE_CONFIGS = {
    "authenticate-cognito": "AuthenticateCognitoConfig",
    "authenticate-oidc": "AuthenticateOidcConfig",
    "jwt-validation": "JwtValidationConfig",
}
CONDITION_KEYS = (
    "Field",
    "HostHeaderConfig",
    "HttpHeaderConfig",
    "HttpRequestMethodConfig",
    "PathPatternConfig",
    "QueryStringConfig",
    "SourceIpConfig",
    "Values",
)
_CONFIG_OF = {
    HOST_HEADER: "HostHeaderConfig",
    PATH_PATTERN: "PathPatternConfig",
    HTTP_HEADER: "HttpHeaderConfig",
    HTTP_REQUEST_METHOD: "HttpRequestMethodConfig",
    QUERY_STRING: "QueryStringConfig",
    SOURCE_IP: "SourceIpConfig",
}
_ONCE_PER_RULE = (HOST_HEADER, PATH_PATTERN, HTTP_REQUEST_METHOD, SOURCE_IP)
FIXED_CONTENT_TYPES = (
    "text/plain",
    "text/css",
    "text/html",
    "application/javascript",
    "application/json",
)
MULTI_VALUE = "lambda.multi_value_headers.enabled"


def build_listeners(
    ctx: Context, live: Iterable[Entry], function_names: Mapping[str, str], functions: set[str]
) -> dict[str, ListenerSpec]:
    """Every listener of an Application Load Balancer of the template, by logical id."""
    entries = [e for e in live if e.type in TYPES]
    if not entries:
        return {}
    by_arn: dict[str, Entry] = {}
    for e in entries:
        if e.type != LISTENER_RULE:
            by_arn[ctx.index.ref(e.logical_id, e.where)] = e
    groups = {
        e.logical_id: _target_group(ctx, e, by_arn, function_names, functions)
        for e in entries
        if e.type == TARGET_GROUP
    }
    served: dict[str, tuple[Entry, list[RuleSpec]]] = {}
    for e in entries:
        if e.type == LISTENER:
            served[e.logical_id] = (e, [])
    balancers = {e.logical_id: e for e in entries if e.type == LOAD_BALANCER}
    for e in entries:
        if e.type == LISTENER_RULE:
            listener, rule = _rule(ctx, e, by_arn, groups)
            if listener in served:
                served[listener][1].append(rule)
    out: dict[str, ListenerSpec] = {}
    for logical_id, (e, rules) in served.items():
        spec = _listener(ctx, e, rules, by_arn, balancers, groups)
        if spec is not None:
            out[logical_id] = spec
    return out


# ---- target groups -----------------------------------------------------------------------


def _target_group(
    ctx: Context,
    entry: Entry,
    by_arn: Mapping[str, Entry],
    function_names: Mapping[str, str],
    functions: set[str],
) -> TargetGroupSpec:
    arn = ctx.index.ref(entry.logical_id, entry.where)
    kind = ctx.get(entry, "TargetType")
    kind = "instance" if kind is NO_VALUE else as_str(kind, ctx.at(entry, "TargetType"))
    if kind != "lambda":
        ctx.warn(
            entry,
            f"its targets (TargetType {kind}) are not run by canaria: a forward to it is "
            "answered 503, as ALB answers when a group has no healthy target",
        )
        return TargetGroupSpec(entry.logical_id, arn, None)
    multi = False
    attributes = ctx.get(entry, "TargetGroupAttributes")
    if attributes is not NO_VALUE:
        aat = ctx.at(entry, "TargetGroupAttributes")
        for i, item in enumerate(as_list(attributes, aat)):
            iat = aat.index(attributes, i)
            attribute = as_map(item, iat)
            if attribute.get("Key") == MULTI_VALUE and "Value" in attribute:
                multi = as_bool(attribute["Value"], iat.key(attribute, "Value"))
    targets = ctx.get(entry, "Targets")
    if targets is NO_VALUE or not targets:
        ctx.warn(entry, "it has no target: a forward to it is answered 503")
        return TargetGroupSpec(entry.logical_id, arn, None, multi_value_headers=multi)
    tat = ctx.at(entry, "Targets")
    listed = as_list(targets, tat)
    if len(listed) > 1:
        raise tat.error(
            f"a target group of TargetType lambda has one target, not {len(listed)}",
            allowed="one function (its ARN, or an alias's)",
        )
    target = as_map(listed[0], tat.index(targets, 0))
    check_keys(target, tat.index(targets, 0), ("Id", "AvailabilityZone", "Port"), required=("Id",))
    iat = tat.index(targets, 0).key(target, "Id")
    arn_of = as_str(target["Id"], iat)
    found = target_of_uri(arn_of, functions, function_names)
    if found is None:
        ctx.warn(
            entry,
            f"its target {arn_of} is not a function of this template: a forward to it is "
            "answered 503",
        )
        return TargetGroupSpec(entry.logical_id, arn, None, multi_value_headers=multi)
    function, qualifier = found
    return TargetGroupSpec(entry.logical_id, arn, function, qualifier, multi)


# ---- listeners and rules -----------------------------------------------------------------


def _named(
    ctx: Context, entry: Entry, key: str, by_arn: Mapping[str, Entry], type_: str
) -> str | None:
    """The logical id of the resource of ``type_`` that ``key`` names by its ARN; None
    (and a warning) when it names none of the template's."""
    at = ctx.at(entry, key)
    value = as_str(ctx.get(entry, key), at)
    found = by_arn.get(value)
    if found is None or found.type != type_:
        ctx.warn(entry, f"it is not served: its {key} {value} is not a {type_} of this template")
        return None
    return found.logical_id


def _listener(
    ctx: Context,
    entry: Entry,
    rules: list[RuleSpec],
    by_arn: Mapping[str, Entry],
    balancers: Mapping[str, Entry],
    groups: Mapping[str, TargetGroupSpec],
) -> ListenerSpec | None:
    at = entry.props_at
    check_keys(entry.props, at, LISTENER_KEYS, required=("DefaultActions", "LoadBalancerArn"))
    balancer = _named(ctx, entry, "LoadBalancerArn", by_arn, LOAD_BALANCER)
    if balancer is None:
        return None
    kind = ctx.get(balancers[balancer], "Type")
    if kind is not NO_VALUE and kind != "application":
        ctx.warn(
            entry,
            f"it is not served: {balancer} is a {kind} load balancer, and canaria serves "
            "Application Load Balancers",
        )
        return None
    protocol = "HTTP"
    if ctx.has(entry, "Protocol"):
        protocol = as_str(ctx.get(entry, "Protocol"), ctx.at(entry, "Protocol"))
        if protocol not in ("HTTP", "HTTPS"):
            raise ctx.at(entry, "Protocol").error(
                f"an Application Load Balancer's listener speaks HTTP or HTTPS, not {protocol}",
                allowed="HTTP, HTTPS",
            )
    port = 443 if protocol == "HTTPS" else 80
    if ctx.has(entry, "Port"):
        port = as_int(ctx.get(entry, "Port"), ctx.at(entry, "Port"), 1, 65535)
    defaults = _actions(ctx, entry, "DefaultActions", by_arn, groups)
    priorities: dict[int, str] = {}
    for rule in rules:
        other = priorities.setdefault(rule.priority, rule.logical_id)
        if other != rule.logical_id:
            raise ctx.index.entries[rule.logical_id].props_at.error(
                f"priority {rule.priority} is {other}'s too: each rule of listener "
                f"{entry.logical_id} has a priority of its own"
            )
    ordered = tuple(sorted(rules, key=lambda r: r.priority))
    dns = ctx.index.get_att(balancer, "DNSName", entry.props_at)
    return ListenerSpec(entry.logical_id, balancer, port, protocol, ordered, defaults, dns)


def _rule(
    ctx: Context,
    entry: Entry,
    by_arn: Mapping[str, Entry],
    groups: Mapping[str, TargetGroupSpec],
) -> tuple[str | None, RuleSpec]:
    at = entry.props_at
    check_keys(
        entry.props, at, RULE_KEYS, required=("Actions", "Conditions", "ListenerArn", "Priority")
    )
    if ctx.has(entry, "Transforms"):
        ctx.warn(entry, "its Transforms (host and URL rewrites) are not applied")
    listener = _named(ctx, entry, "ListenerArn", by_arn, LISTENER)
    priority = as_int(ctx.get(entry, "Priority"), ctx.at(entry, "Priority"), 1, 50000)
    cat = ctx.at(entry, "Conditions")
    written = as_list(ctx.get(entry, "Conditions"), cat)
    if not written:
        raise cat.error("a rule has at least one condition")
    conditions = tuple(
        _condition(ctx, entry, c, cat.index(written, i)) for i, c in enumerate(written)
    )
    seen: set[str] = set()
    for i, c in enumerate(conditions):
        if c.field in _ONCE_PER_RULE and c.field in seen:
            raise cat.index(written, i).error(
                f"a rule has at most one {c.field} condition (list its values in one)"
            )
        seen.add(c.field)
    actions = _actions(ctx, entry, "Actions", by_arn, groups)
    return listener, RuleSpec(entry.logical_id, priority, conditions, actions)


def _condition(ctx: Context, entry: Entry, written: Any, at: Where) -> ConditionSpec:
    node = as_map(written, at)
    check_keys(node, at, CONDITION_KEYS, required=("Field",))
    field = as_str(node["Field"], at.key(node, "Field"))
    if field not in CONDITION_FIELDS:
        raise at.key(node, "Field").error(
            f"unknown condition field {field!r}", allowed=", ".join(CONDITION_FIELDS)
        )
    config_key = _CONFIG_OF[field]
    for key in node:
        if key.endswith("Config") and key != config_key:
            raise at.key(node, key).error(f"a {field} condition takes {config_key}, not {key}")
    config: Mapping[str, Any] = {}
    cfg_at = at
    if config_key in node:
        cfg_at = at.key(node, config_key)
        config = as_map(node[config_key], cfg_at)
        if "RegexValues" in config:
            where = _within(cfg_at)
            ctx.warn(entry, f"{where}.RegexValues: regular expressions are not matched")
    if field in (HOST_HEADER, PATH_PATTERN):
        values = _strings(node, "Values", at) + _strings(config, "Values", cfg_at)
        if not values and "RegexValues" not in config:
            raise at.error(f"a {field} condition needs Values")
        for value in values:
            if len(value) > 128:
                raise at.error(f"{value[:40]!r}... is longer than 128 characters")
        return ConditionSpec(field, tuple(values))
    if "Values" in node:
        raise at.key(node, "Values").error(
            f"a {field} condition takes its values in {config_key}",
            allowed=f"{config_key}: {{Values: [...]}}",
        )
    if config_key not in node:
        raise at.error(f"a {field} condition needs {config_key}")
    if field == HTTP_HEADER:
        check_keys(config, cfg_at, ("HttpHeaderName", "Values", "RegexValues"))
        if "HttpHeaderName" not in config:
            raise cfg_at.error("HttpHeaderName is required")
        name = as_str(config["HttpHeaderName"], cfg_at.key(config, "HttpHeaderName"))
        return ConditionSpec(field, tuple(_strings(config, "Values", cfg_at)), header=name)
    if field == QUERY_STRING:
        check_keys(config, cfg_at, ("Values",), required=("Values",))
        vat = cfg_at.key(config, "Values")
        pairs: list[tuple[str | None, str]] = []
        for i, item in enumerate(as_list(config["Values"], vat)):
            pat = vat.index(config["Values"], i)
            pair = as_map(item, pat)
            check_keys(pair, pat, ("Key", "Value"), required=("Value",))
            named = as_str(pair["Key"], pat.key(pair, "Key")) if "Key" in pair else None
            pairs.append((named, as_str(pair["Value"], pat.key(pair, "Value"))))
        return ConditionSpec(field, pairs=tuple(pairs))
    check_keys(config, cfg_at, ("Values",), required=("Values",))
    values = _strings(config, "Values", cfg_at)
    if field == SOURCE_IP:
        for value in values:
            try:
                ipaddress.ip_network(value, strict=False)
            except ValueError:
                raise cfg_at.key(config, "Values").error(
                    f"{value!r} is not an IP address range", allowed="CIDR, e.g. 10.0.0.0/8"
                ) from None
    return ConditionSpec(field, tuple(values))


def _within(at: Where) -> str:
    """A property's path inside its resource's ``Properties`` (what a warning names after
    the resource)."""
    return at.path.split(".Properties.", 1)[-1]


def _strings(node: Mapping[str, Any], key: str, at: Where) -> list[str]:
    if key not in node:
        return []
    kat = at.key(node, key)
    return [as_str(v, kat.index(node[key], i)) for i, v in enumerate(as_list(node[key], kat))]


# ---- actions -----------------------------------------------------------------------------


def _actions(
    ctx: Context,
    entry: Entry,
    key: str,
    by_arn: Mapping[str, Entry],
    groups: Mapping[str, TargetGroupSpec],
) -> tuple[ActionSpec, ...]:
    at = ctx.at(entry, key)
    written = as_list(ctx.get(entry, key), at)
    if not written:
        raise at.error(f"{key} needs one action")
    read: list[tuple[int, ActionSpec, Where]] = []
    for i, item in enumerate(written):
        iat = at.index(written, i)
        node = as_map(item, iat)
        check_keys(node, iat, ACTION_KEYS, required=("Type",))
        order = i + 1
        if "Order" in node:
            order = as_int(node["Order"], iat.key(node, "Order"), 1, 50000)
        read.append((order, _action(ctx, entry, node, iat, by_arn, groups), iat))
    read.sort(key=lambda r: r[0])
    for n, (_, action, iat) in enumerate(read):
        last = n == len(read) - 1
        if (action.kind == "authenticate") == last:
            raise iat.error(
                "the last action (by Order) must forward, redirect or answer, and only it"
                if last
                else "an action after this one never runs: forward, redirect and "
                "fixed-response end the request",
            )
    return tuple(action for _, action, _ in read)


def _action(
    ctx: Context,
    entry: Entry,
    node: Mapping[str, Any],
    at: Where,
    by_arn: Mapping[str, Entry],
    groups: Mapping[str, TargetGroupSpec],
) -> ActionSpec:
    tat = at.key(node, "Type")
    kind = as_str(node["Type"], tat)
    if kind not in ACTION_TYPES:
        raise tat.error(f"unknown action type {kind!r}", allowed=", ".join(ACTION_TYPES))
    if kind == "forward":
        return ActionSpec("forward", _forward(ctx, entry, node, at, by_arn, groups))
    if kind == "fixed-response":
        if "FixedResponseConfig" not in node:
            raise at.error("a fixed-response action needs FixedResponseConfig")
        cat = at.key(node, "FixedResponseConfig")
        config = as_map(node["FixedResponseConfig"], cat)
        check_keys(
            config, cat, ("ContentType", "MessageBody", "StatusCode"), required=("StatusCode",)
        )
        status_at = cat.key(config, "StatusCode")
        status = as_str(config["StatusCode"], status_at)
        if not (len(status) == 3 and status.isdigit() and status[0] in "245"):
            raise status_at.error(
                f"{status!r} is not a status ALB answers with", allowed="2XX, 4XX, 5XX"
            )
        content_type = None
        if "ContentType" in config:
            content_type = as_str(config["ContentType"], cat.key(config, "ContentType"))
            if content_type not in FIXED_CONTENT_TYPES:
                raise cat.key(config, "ContentType").error(
                    f"{content_type!r} is not a fixed response's content type",
                    allowed=", ".join(FIXED_CONTENT_TYPES),
                )
        body = ""
        if "MessageBody" in config:
            body = as_str(config["MessageBody"], cat.key(config, "MessageBody"))
            if len(body.encode()) > 1024:
                raise cat.key(config, "MessageBody").error(
                    "a fixed response's body is at most 1 KB"
                )
        return ActionSpec(
            "fixed-response", status=int(status), content_type=content_type, body=body
        )
    if kind == "redirect":
        return ActionSpec("redirect", redirect=_redirect(node, at))
    config_key = _AUTHENTICATE_CONFIGS[kind]
    if config_key not in node:
        raise at.error(f"an {kind} action needs {config_key}")
    config = as_map(node[config_key], at.key(node, config_key))
    behaviour = str(config.get("OnUnauthenticatedRequest", "authenticate"))
    if kind == "jwt-validation":
        behaviour = "deny"
    what = {
        "deny": "answered 401, as ALB answers a request it cannot authenticate",
        "allow": "passed on without the identity headers ALB would add",
        "authenticate": "answered 401 (ALB would send the browser to the identity provider)",
    }.get(behaviour, "answered 401")
    ctx.warn(entry, f"{_within(at)}: canaria does not run {kind}: requests it guards are {what}")
    return ActionSpec("authenticate", on_unauthenticated=behaviour)


def _forward(
    ctx: Context,
    entry: Entry,
    node: Mapping[str, Any],
    at: Where,
    by_arn: Mapping[str, Entry],
    groups: Mapping[str, TargetGroupSpec],
) -> tuple[tuple[TargetGroupSpec, int], ...]:
    def group(value: Any, where: Where) -> TargetGroupSpec:
        arn = as_str(value, where)
        found = by_arn.get(arn)
        if found is None or found.logical_id not in groups:
            ctx.warn(
                entry,
                f"{_within(where)}: {arn} is not a target group of this template: a "
                "forward to it is answered 503",
            )
            return TargetGroupSpec(arn, arn, None)
        return groups[found.logical_id]

    targets: list[tuple[TargetGroupSpec, int]] = []
    if "ForwardConfig" in node:
        fat = at.key(node, "ForwardConfig")
        config = as_map(node["ForwardConfig"], fat)
        check_keys(config, fat, ("TargetGroups", "TargetGroupStickinessConfig"))
        gat = fat.key(config, "TargetGroups")
        listed = as_list(config.get("TargetGroups", []), gat)
        if len(listed) > 5:
            raise gat.error(f"a forward has at most 5 target groups, not {len(listed)}")
        for i, item in enumerate(listed):
            iat = gat.index(listed, i)
            tg = as_map(item, iat)
            check_keys(tg, iat, ("TargetGroupArn", "Weight"), required=("TargetGroupArn",))
            weight = 1
            if "Weight" in tg:
                weight = as_int(tg["Weight"], iat.key(tg, "Weight"), 0, 999)
            targets.append((group(tg["TargetGroupArn"], iat.key(tg, "TargetGroupArn")), weight))
    if "TargetGroupArn" in node:
        single = group(node["TargetGroupArn"], at.key(node, "TargetGroupArn"))
        if targets and [t for t, _ in targets] != [single]:
            raise at.key(node, "TargetGroupArn").error(
                "TargetGroupArn and ForwardConfig name different target groups"
            )
        targets = targets or [(single, 1)]
    if not targets:
        raise at.error("a forward action needs TargetGroupArn or ForwardConfig.TargetGroups")
    if sum(w for _, w in targets) == 0:
        raise at.error("every target group of this forward has weight 0: nothing is served")
    return tuple(targets)


def _redirect(node: Mapping[str, Any], at: Where) -> RedirectSpec:
    if "RedirectConfig" not in node:
        raise at.error("a redirect action needs RedirectConfig")
    rat = at.key(node, "RedirectConfig")
    config = as_map(node["RedirectConfig"], rat)
    check_keys(
        config,
        rat,
        ("Host", "Path", "Port", "Protocol", "Query", "StatusCode"),
        required=("StatusCode",),
    )
    code = as_str(config["StatusCode"], rat.key(config, "StatusCode"))
    if code not in ("HTTP_301", "HTTP_302"):
        raise rat.key(config, "StatusCode").error(
            f"{code!r} is not a redirect's status", allowed="HTTP_301, HTTP_302"
        )
    parts = {
        k: as_str(config[k], rat.key(config, k))
        for k in ("Host", "Path", "Port", "Protocol", "Query")
        if k in config
    }
    protocol = parts.get("Protocol", "#{protocol}")
    if protocol not in ("HTTP", "HTTPS", "#{protocol}"):
        raise rat.key(config, "Protocol").error(
            f"{protocol!r} is not a redirect's protocol", allowed="HTTP, HTTPS, #{protocol}"
        )
    path = parts.get("Path", "/#{path}")
    if not path.startswith("/"):
        raise rat.key(config, "Path").error("a redirect's path starts with /")
    return RedirectSpec(
        int(code[5:]),
        protocol,
        parts.get("Host", "#{host}"),
        parts.get("Port", "#{port}"),
        path,
        parts.get("Query", "#{query}"),
    )
