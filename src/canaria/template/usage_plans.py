"""A usage plan's limits: its ``Throttle`` (``RateLimit`` requests a second, ``BurstLimit``
deep), its ``Quota`` (``Limit`` requests a ``Period``: DAY, WEEK or MONTH, ``Offset`` fewer
in the first one), and an ``ApiStages`` entry's ``Throttle`` for single methods (keyed
``/path/METHOD``, ``*`` for any path or method), as CloudFormation's
``AWS::ApiGateway::UsagePlan`` and SAM's ``Auth.UsagePlan`` write them. The gateway counts
them per API key on canaria's clock (``canaria.gateway.api_keys``)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from canaria.models import UsageLimits
from canaria.template.nodes import Where, as_int, as_map, as_str, check_keys

SHARED_PLAN = "ServerlessUsagePlan"  # the plan SAM generates for every SHARED API
PERIODS = ("DAY", "WEEK", "MONTH")
MAX_RATE = 1_000_000  # beyond any rate a machine serves: a typo, refused


def read_limits(plan: str, node: Mapping[str, Any], at: Where) -> UsageLimits | None:
    """The plan's ``Throttle`` and ``Quota`` (``node``: the plan's properties, or SAM's
    ``UsagePlan``); None when it has neither."""
    rate = burst = quota = None
    offset = 0
    period = "DAY"
    if node.get("Throttle") is not None:
        rate, burst = _throttle(node["Throttle"], at.key(node, "Throttle"))
    if node.get("Quota") is not None:
        qat = at.key(node, "Quota")
        q = as_map(node["Quota"], qat)
        check_keys(q, qat, ("Limit", "Offset", "Period"), required=("Limit", "Period"))
        quota = as_int(q["Limit"], qat.key(q, "Limit"), lo=0)
        pat = qat.key(q, "Period")
        period = as_str(q["Period"], pat)
        if period not in PERIODS:
            raise pat.error(f"unknown Period {period!r}", allowed=", ".join(PERIODS))
        if q.get("Offset") is not None:
            offset = as_int(q["Offset"], qat.key(q, "Offset"), lo=0, hi=quota)
    if rate is None and burst is None and quota is None:
        return None
    return UsageLimits(plan, rate, burst, quota, period, offset)  # type: ignore[arg-type]


def method_limits(
    base: UsageLimits | None, plan: str, throttles: Any, at: Where
) -> dict[str, UsageLimits]:
    """An ``ApiStages`` entry's ``Throttle``: each method's limits (``/path/METHOD``), its
    rate in place of the plan's, the plan's quota kept."""
    out: dict[str, UsageLimits] = {}
    node = as_map(throttles, at)
    for method, value in node.items():
        mat = at.key(node, method)
        path, _, verb = str(method).rpartition("/")
        path = path or "/"  # "/GET": the root's GET, as "//GET" is
        if not path.startswith("/") and path != "*":
            raise mat.error(
                f"a method's throttle is keyed /path/METHOD, got {method!r}",
                allowed="/pets/GET, /pets/{id}/PUT, /*/*",
            )
        rate, burst = _throttle(value, mat)
        limits = base if base is not None else UsageLimits(plan)
        out[f"{path}/{verb.upper()}"] = replace(limits, rate=rate, burst=burst, method=method)
    return out


def for_method(
    limits: UsageLimits | None, methods: Mapping[str, UsageLimits], path: str, verb: str
) -> UsageLimits | None:
    """The limits of the method ``verb path`` (``ANY`` matches a ``*`` entry only; a
    trailing ``/`` is not part of API Gateway's resource path)."""
    path = path.rstrip("/") or "/"
    for key in (f"{path}/{verb}", f"{path}/*", f"*/{verb}", "*/*", "/*/*"):
        if key in methods:
            return methods[key]
    return limits


def _throttle(value: Any, at: Where) -> tuple[float | None, int | None]:
    node = as_map(value, at)
    check_keys(node, at, ("BurstLimit", "RateLimit"))
    rate = burst = None
    if node.get("RateLimit") is not None:
        rat = at.key(node, "RateLimit")
        raw = node["RateLimit"]
        if isinstance(raw, bool) or not isinstance(raw, int | float) or not 0 <= raw <= MAX_RATE:
            raise rat.error(f"RateLimit must be a number of requests a second, got {raw!r}")
        rate = float(raw)
    if node.get("BurstLimit") is not None:
        burst = as_int(node["BurstLimit"], at.key(node, "BurstLimit"), lo=0)
    return rate, burst
