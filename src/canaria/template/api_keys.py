"""API keys and usage plans: which keys a REST method that requires one accepts.

Two forms, as public SAM applications write them:

- CloudFormation's resources: ``AWS::ApiGateway::ApiKey`` (``Value``, ``Enabled``, which is
  false unless written, as in CloudFormation; ``Name``; ``StageKeys: [{RestApiId,
  StageName}]``), ``AWS::ApiGateway::UsagePlan`` (``ApiStages: [{ApiId, Stage}]``) and
  ``AWS::ApiGateway::UsagePlanKey`` (``KeyId`` names a key, ``UsagePlanId`` a plan, with
  ``KeyType: API_KEY``). A method requires a key with its ``ApiKeyRequired``.
- SAM's: an ``AWS::Serverless::Api``'s ``Auth: {ApiKeyRequired, UsagePlan:
  {CreateUsagePlan}}`` (read by ``authorizers.api_key_auth``). ``PER_API`` makes SAM
  generate a plan and an enabled key, ``<Api>ApiKey``, for the API's stage; ``SHARED``
  one plan and one key, ``ServerlessApiKey``, for the stages of every API that says
  ``SHARED``; ``NONE`` nothing.

A ``Stage`` is a stage's name, written or given by ``!Ref`` of SAM's generated stage
(``!Ref MyApi.Stage``, ``!Ref MyApiProdStage``) or of an ``AWS::ApiGateway::Stage`` (whose
``Ref`` is its ``StageName`` on AWS); an ``ApiId`` names a REST API of the template (its
``!Ref``). A key is valid for the stages its usage plans name and for its ``StageKeys``;
a method requiring a key accepts the enabled keys valid for its API's stage, and refuses
every request when there is none, as API Gateway does (a warning says so).

**Generated values.** A key without ``Value`` gets one, as API Gateway generates one. It
must survive a restart (clients keep using it) and must not be guessable from the
template, so it cannot be made here from the template alone, nor at random. canaria
derives it from the running server's token, which the template loader never reads: the
server passes ``load`` its ``Keyring.api_key_value`` (an HMAC of the key's logical id under
the token), which ``Context.api_key_value`` holds. A template loaded without one
(``canaria validate``, ``canaria guard``) gives such a key no value. A key's id is derived
from its logical id alone (ten lower-case letters and digits, as AWS shows ids), so it is
the same wherever the template is loaded.

A usage plan's ``Throttle`` and ``Quota`` (and an ``ApiStages`` entry's per-method
``Throttle``) go with each key onto the methods it opens (``usage_plans``; the gateway
counts them). Not applied, with a warning: ``ApiKeySourceType: AUTHORIZER`` (the key a
Lambda authorizer returns as ``usageIdentifierKey``): that API's methods are served
without a key check. HTTP APIs have no API keys.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Literal

from canaria.models import ApiKeySpec, ApiSpec, FunctionSpec, RouteSpec, UsageLimits
from canaria.template.context import Context
from canaria.template.index import Entry
from canaria.template.intrinsics import NO_VALUE
from canaria.template.nodes import Where, as_bool, as_list, as_map, as_str, check_keys, choices
from canaria.template.usage_plans import for_method, method_limits, read_limits

API_KEY = "AWS::ApiGateway::ApiKey"
USAGE_PLAN = "AWS::ApiGateway::UsagePlan"
USAGE_PLAN_KEY = "AWS::ApiGateway::UsagePlanKey"
STAGE = "AWS::ApiGateway::Stage"
TYPES = (API_KEY, USAGE_PLAN, USAGE_PLAN_KEY)
SHARED_KEY = "ServerlessApiKey"  # the key SAM generates for every SHARED usage plan

API_KEY_KEYS = (
    "CustomerId",
    "Description",
    "Enabled",
    "GenerateDistinctId",
    "Name",
    "StageKeys",
    "Tags",
    "Value",
)
USAGE_PLAN_KEYS = ("ApiStages", "Description", "Quota", "Tags", "Throttle", "UsagePlanName")
USAGE_PLAN_KEY_KEYS = ("KeyId", "KeyType", "UsagePlanId")
KEY_SOURCES = ("HEADER", "AUTHORIZER")
VALUE_LENGTH = (20, 128)  # what API Gateway accepts as a key's value
_ID_CHARS = "0123456789abcdefghijklmnopqrstuvwxyz"


def api_key_id(logical_id: str) -> str:
    """The id of the API key of ``logical_id``, shaped like AWS's (``a1b2c3d4e5``)."""
    n = int.from_bytes(hashlib.sha256(f"api-key:{logical_id}".encode()).digest()[:8], "big")
    out = []
    for _ in range(10):
        n, digit = divmod(n, len(_ID_CHARS))
        out.append(_ID_CHARS[digit])
    return "".join(out)


def key_source(ctx: Context, entry: Entry) -> Literal["HEADER", "AUTHORIZER"]:
    """A REST API's ``ApiKeySourceType`` (HEADER when absent)."""
    value = ctx.get(entry, "ApiKeySourceType")
    if value is NO_VALUE or value is None:
        return "HEADER"
    at = ctx.at(entry, "ApiKeySourceType")
    text = as_str(value, at)
    if text == "AUTHORIZER":
        return "AUTHORIZER"
    if text != "HEADER":
        raise at.error(f"unknown ApiKeySourceType {text!r}", allowed=KEY_SOURCES)
    return "HEADER"


@dataclass(frozen=True)
class _Plan:
    stages: tuple[tuple[str, str], ...]  # (API, stage) pairs of its ApiStages
    limits: UsageLimits | None = None  # its Throttle and Quota
    # an ApiStages entry's Throttle: by (API, stage), each method's limits ("/path/METHOD")
    methods: Mapping[tuple[str, str], Mapping[str, UsageLimits]] = field(default_factory=dict)


# (key logical id, API, stage) → the limits of the plan that ties them (its methods' too)
PlanLimits = dict[tuple[str, str, str], tuple[UsageLimits | None, Mapping[str, UsageLimits]]]


def build_api_keys(
    ctx: Context, entries: list[Entry], apis: Mapping[str, ApiSpec]
) -> tuple[dict[str, ApiKeySpec], PlanLimits]:
    """The template's API keys (``entries``: its ApiKey, UsagePlan and UsagePlanKey
    resources) and those SAM generates for its APIs' usage plans, each with the stages
    it is valid for, by logical id; and the usage plan limits of each key on each stage."""
    reader = _Reader(ctx, entries, apis)
    keys = {e.logical_id: reader.key(e) for e in reader.of(API_KEY)}
    plans = {e.logical_id: reader.plan(e) for e in reader.of(USAGE_PLAN)}
    limits: PlanLimits = {}
    for entry in reader.of(USAGE_PLAN_KEY):
        key, name = reader.link(entry, keys, plans)
        plan = plans[name]
        stages = keys[key].stages + tuple(s for s in plan.stages if s not in keys[key].stages)
        keys[key] = replace(keys[key], stages=stages)
        for api, stage in plan.stages:
            limits[(key, api, stage)] = (plan.limits, plan.methods.get((api, stage), {}))
    for spec in _generated(ctx, apis):
        if spec.logical_id in keys:
            continue  # a key the template declares by that id wins
        keys[spec.logical_id] = spec
        for api, stage in spec.stages:
            limits[(spec.logical_id, api, stage)] = (apis[api].usage_limits, {})
    reader.duplicates(keys)
    for spec in keys.values():
        declared = ctx.index.entries.get(spec.logical_id)
        if declared is None or spec.stages or not spec.enabled:
            continue
        ctx.warn(
            declared,
            "this API key is in no usage plan (no UsagePlanKey names it) and has no "
            "StageKeys: no method accepts it",
        )
    return keys, limits


class _Reader:
    def __init__(self, ctx: Context, entries: list[Entry], apis: Mapping[str, ApiSpec]):
        self.ctx = ctx
        self.entries = entries
        # an ApiId as written (a CloudFormation API's logical id) or as a SAM API's Ref
        # gives it (its logical id in lower case) → the REST API's logical id
        self.apis: dict[str, str] = {}
        for spec in apis.values():
            if spec.kind == "rest":
                self.apis.setdefault(spec.logical_id.lower(), spec.logical_id)
        self.apis.update({s.logical_id: s.logical_id for s in apis.values() if s.kind == "rest"})
        self.served = {s.logical_id: s.stage for s in apis.values() if s.kind == "rest"}
        # an AWS::ApiGateway::Stage's logical id (what canaria's Ref gives) → its StageName
        self.stages: dict[str, str] = {}
        for e in ctx.index.entries.values():
            name = ctx.get(e, "StageName") if e.type == STAGE and e.enabled else None
            if isinstance(name, str):
                self.stages[e.logical_id] = name

    def of(self, type_: str) -> list[Entry]:
        return [e for e in self.entries if e.type == type_]

    def key(self, entry: Entry) -> ApiKeySpec:
        ctx = self.ctx
        check_keys(entry.props, entry.props_at, API_KEY_KEYS)
        value = None
        if ctx.has(entry, "Value"):
            vat = ctx.at(entry, "Value")
            value = as_str(ctx.get(entry, "Value"), vat)
            lo, hi = VALUE_LENGTH
            if not lo <= len(value) <= hi:
                raise vat.error(
                    f"an API key's Value must be {lo} to {hi} characters (API Gateway refuses "
                    f"it otherwise), got {len(value)}",
                    allowed=f"{lo} to {hi} characters, or no Value: one is generated",
                )
        elif ctx.api_key_value is not None:
            value = ctx.api_key_value(entry.logical_id)
        enabled = False
        if ctx.has(entry, "Enabled"):
            enabled = as_bool(ctx.get(entry, "Enabled"), ctx.at(entry, "Enabled"))
        else:
            ctx.warn(
                entry,
                "this API key has no Enabled, which is false in CloudFormation: no method "
                "accepts it (write Enabled: true)",
            )
        name = f"{ctx.index.stack_name}-{entry.logical_id}"
        if ctx.has(entry, "Name"):
            name = as_str(ctx.get(entry, "Name"), ctx.at(entry, "Name"))
        stages: list[tuple[str, str]] = []
        if ctx.has(entry, "StageKeys"):
            sat = ctx.at(entry, "StageKeys")
            raw = ctx.get(entry, "StageKeys")
            for i, item in enumerate(as_list(raw, sat)):
                iat = sat.index(raw, i)
                node = as_map(item, iat)
                check_keys(node, iat, ("RestApiId", "StageName"))
                stage = self.stage(entry, node, iat, "RestApiId", "StageName")
                if stage is not None and stage not in stages:
                    stages.append(stage)
        return ApiKeySpec(
            entry.logical_id,
            api_key_id(entry.logical_id),
            name,
            value,
            enabled,
            tuple(stages),
            generated=not ctx.has(entry, "Value"),
        )

    def plan(self, entry: Entry) -> _Plan:
        """The (API, stage) pairs a usage plan names, and its limits."""
        ctx = self.ctx
        check_keys(entry.props, entry.props_at, USAGE_PLAN_KEYS)
        props = {k: ctx.get(entry, k) for k in ("Quota", "Throttle") if ctx.has(entry, k)}
        limits = read_limits(entry.logical_id, props, entry.props_at)
        methods: dict[tuple[str, str], Mapping[str, UsageLimits]] = {}
        stages: list[tuple[str, str]] = []
        if ctx.has(entry, "ApiStages"):
            sat = ctx.at(entry, "ApiStages")
            raw = ctx.get(entry, "ApiStages")
            for i, item in enumerate(as_list(raw, sat)):
                iat = sat.index(raw, i)
                node = as_map(item, iat)
                check_keys(node, iat, ("ApiId", "Stage", "Throttle"))
                stage = self.stage(entry, node, iat, "ApiId", "Stage")
                if stage is not None and stage not in stages:
                    stages.append(stage)
                if stage is not None and node.get("Throttle") is not None:
                    tat = iat.key(node, "Throttle")
                    methods[stage] = method_limits(limits, entry.logical_id, node["Throttle"], tat)
        return _Plan(tuple(stages), limits, methods)

    def stage(
        self, entry: Entry, node: Mapping[str, Any], at: Where, api_key: str, stage_key: str
    ) -> tuple[str, str] | None:
        """The (API logical id, stage name) an ApiStages or StageKeys entry names; None (a
        warning) when it is not a stage canaria serves."""
        for key in (api_key, stage_key):
            if node.get(key) is None:
                raise at.error(f"{key} is required here", allowed=f"{api_key} and {stage_key}")
        raw_api = as_str(node[api_key], at.key(node, api_key))
        raw_stage = as_str(node[stage_key], at.key(node, stage_key))
        api = self.apis.get(raw_api)
        where = at.path.removeprefix(entry.props_at.path + ".")
        if api is None:
            self.ctx.warn(
                entry,
                f"{where}: {api_key} {raw_api!r} is not a REST API canaria serves from this "
                "template: ignored",
            )
            return None
        stage = self.stages.get(raw_stage, raw_stage)
        if stage != self.served[api]:
            self.ctx.warn(
                entry,
                f"{where}: stage {stage!r} of {api} is not the one canaria serves "
                f"({self.served[api]!r}): ignored",
            )
            return None
        return api, stage

    def link(
        self,
        entry: Entry,
        keys: Mapping[str, ApiKeySpec],
        plans: Mapping[str, _Plan],
    ) -> tuple[str, str]:
        """(key, usage plan) a UsagePlanKey associates, by logical id."""
        ctx = self.ctx
        check_keys(entry.props, entry.props_at, USAGE_PLAN_KEY_KEYS, required=USAGE_PLAN_KEY_KEYS)
        tat = ctx.at(entry, "KeyType")
        if as_str(ctx.get(entry, "KeyType"), tat) != "API_KEY":
            raise tat.error(f"unknown KeyType {ctx.get(entry, 'KeyType')!r}", allowed="API_KEY")
        by_id = {spec.id: name for name, spec in keys.items()}
        key = _named(ctx, entry, "KeyId", keys, "APIKeyId", by_id, API_KEY)
        plan = _named(ctx, entry, "UsagePlanId", plans, "Id", {}, USAGE_PLAN)
        return key, plan

    def duplicates(self, keys: Mapping[str, ApiKeySpec]) -> None:
        """Two keys of one value are refused, as API Gateway refuses them."""
        seen: dict[str, str] = {}
        for name, spec in keys.items():
            if spec.value is None:
                continue
            first = seen.setdefault(spec.value, name)
            if first != name:
                entries = self.ctx.index.entries
                entry = entries.get(name) or entries[first]  # generated values never meet
                raise self.ctx.at(entry, "Value").error(
                    f"API keys {first} and {name} have the same Value, which API Gateway refuses",
                    allowed="a value of its own for each key",
                )


def _named(
    ctx: Context,
    entry: Entry,
    key: str,
    known: Mapping[str, Any],
    attribute: str,
    by_id: Mapping[str, str],
    what: str,
) -> str:
    """The logical id of the resource of ``known`` that property ``key`` names: its
    ``!Ref`` (the logical id), its ``!GetAtt <id>.<attribute>``, or its id as AWS shows it."""
    at = ctx.at(entry, key)
    text = as_str(ctx.get(entry, key), at)
    name = text.removesuffix(f".{attribute}")
    name = by_id.get(name, name)
    if name not in known:
        raise at.error(
            f"{key} {text!r} names no {what} of this template",
            allowed=choices(list(known), near=name) or f"none: declare an {what}",
        )
    return name


def _generated(ctx: Context, apis: Mapping[str, ApiSpec]) -> Iterable[ApiKeySpec]:
    """The keys SAM generates for its APIs' ``Auth.UsagePlan``: ``<Api>ApiKey`` for a
    PER_API plan, one ``ServerlessApiKey`` for every SHARED one; enabled, with no value
    of their own."""
    shared: list[tuple[str, str]] = []
    for spec in apis.values():
        if spec.kind != "rest" or spec.usage_plan is None:
            continue
        if spec.usage_plan == "SHARED":
            shared.append((spec.logical_id, spec.stage))
        else:
            yield _generated_key(ctx, f"{spec.logical_id}ApiKey", ((spec.logical_id, spec.stage),))
    if shared:
        yield _generated_key(ctx, SHARED_KEY, tuple(shared))


def _generated_key(ctx: Context, name: str, stages: tuple[tuple[str, str], ...]) -> ApiKeySpec:
    value = ctx.api_key_value(name) if ctx.api_key_value is not None else None
    physical = f"{ctx.index.stack_name}-{name}"
    return ApiKeySpec(name, api_key_id(name), physical, value, True, stages, generated=True)


def accept_keys(
    ctx: Context,
    apis: Mapping[str, ApiSpec],
    keys: Mapping[str, ApiKeySpec],
    functions: dict[str, FunctionSpec],
    unowned: list[RouteSpec],
    plan_limits: PlanLimits | None = None,
) -> list[RouteSpec]:
    """Give each route that requires an API key (``api_keys`` set, empty so far) the keys
    it accepts, with their usage plans' limits on it, and each CORS preflight that does;
    ``functions`` are changed in place, the routes of no function returned."""
    accepted: dict[tuple[str, str], tuple[tuple[str, str], ...]] = {}
    unknown: set[tuple[str, str]] = set()  # stages with a key whose value is not known
    # (API, stage) → (key id, the plan's limits, its methods' limits) of each valid key
    limited: dict[tuple[str, str], list[tuple[str, UsageLimits | None, Mapping[str, UsageLimits]]]]
    limited = {}
    for name, spec in keys.items():
        for valid in spec.stages:
            if spec.enabled and spec.value is not None:
                accepted[valid] = (*accepted.get(valid, ()), (spec.value, spec.id))
                found = (plan_limits or {}).get((name, *valid))
                if found is not None and (found[0] is not None or found[1]):
                    limited.setdefault(valid, []).append((spec.id, *found))
            elif spec.enabled:
                unknown.add(valid)

    def limits_of(route: RouteSpec) -> tuple[tuple[str, UsageLimits], ...]:
        out = []
        for key_id, base, methods in limited.get((route.api_id, route.stage), ()):
            found = for_method(base, methods, route.path, route.method)
            if found is not None:
                out.append((key_id, found))
        return tuple(out)

    refused: dict[tuple[str, str], int] = {}
    unchecked: set[str] = set()

    def fill(route: RouteSpec) -> RouteSpec:
        cors = route.cors
        if route.api_keys is None and (cors is None or cors.preflight_api_keys is None):
            return route
        stage = (route.api_id, route.stage)
        api = apis.get(route.api_id)
        if api is not None and api.api_key_source == "AUTHORIZER":
            unchecked.add(route.api_id)
            if cors is not None:
                cors = replace(cors, preflight_api_keys=None)
            return replace(route, api_keys=None, cors=cors)
        found = accepted.get(stage, ())
        if cors is not None and cors.preflight_api_keys is not None:
            cors = replace(cors, preflight_api_keys=found)
        if route.api_keys is None:
            return replace(route, cors=cors)
        if not found and stage not in unknown:
            refused[stage] = refused.get(stage, 0) + 1
        return replace(route, api_keys=found, cors=cors, api_key_limits=limits_of(route))

    for name, fn in list(functions.items()):
        if any(r.api_keys is not None or r.cors is not None for r in fn.routes):
            functions[name] = replace(fn, routes=tuple(fill(r) for r in fn.routes))
    out = [fill(r) for r in unowned]
    for api_id in sorted(unchecked):
        _warn_api(
            ctx,
            api_id,
            "its ApiKeySourceType AUTHORIZER (the key a Lambda authorizer returns) is not "
            "applied by canaria: its methods that require an API key are served without one",
        )
    for (api_id, stage), n in sorted(refused.items()):
        _warn_api(
            ctx,
            api_id,
            f"{n} method(s) require an API key, and no enabled key is associated with its "
            f"stage {stage} (by a usage plan, or a key's StageKeys): they refuse every "
            "request (403), as API Gateway does",
        )
    return out


def _warn_api(ctx: Context, api_id: str, message: str) -> None:
    entry = ctx.index.entries.get(api_id)
    if entry is not None:
        ctx.warn(entry, message)
    else:  # an implicit API: SAM generates it from the functions' events
        ctx.warnings.append(f"{ctx.file}: {api_id}: {message}")
