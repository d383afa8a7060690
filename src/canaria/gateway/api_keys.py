"""API keys: a REST method that requires one (``ApiKeyRequired``) answers only requests
whose ``x-api-key`` header holds the value of a key it accepts (an enabled key that a
usage plan, or the key's ``StageKeys``, associates with its API's stage).

API Gateway checks the key after authorization, and so does the handler. A request
without the header, or with a value the method does not accept (unknown, disabled, or
another stage's), is answered as AWS answers it: 403 ``{"message": "Forbidden"}`` with
``x-amzn-ErrorType: ForbiddenException``, the REST response type ``INVALID_API_KEY`` (which
``GatewayResponses`` may change). A request that passes gives its event the key:
``requestContext.identity.apiKey`` (its value) and ``apiKeyId`` (its id).

Then its usage plan's limits on the method (``UsageMeter``), counted per key on canaria's
clock, so ``--time-scale`` compresses their periods too: a ``Quota`` spent answers 429
``{"message": "Limit Exceeded"}`` (``QUOTA_EXCEEDED``) until its DAY, WEEK (from Monday,
UTC) or MONTH ends; a ``Throttle`` (a bucket of ``BurstLimit`` requests refilled
``RateLimit`` a second, per plan and key, a method-level one per method) answers 429
``{"message": "Too Many Requests"}`` (``THROTTLED``). A refused request spends no quota.
Counts are kept in memory: a restart starts them again.
"""

from __future__ import annotations

import calendar
import time
from collections.abc import Mapping

from canaria.models import UsageLimits

from .responses import Failure, HttpResponse, gateway_answer, json_answer
from .types import Request

HEADER = "x-api-key"
INVALID_API_KEY = json_answer(
    403, {"message": "Forbidden"}, "ForbiddenException", "INVALID_API_KEY"
)


QUOTA_EXCEEDED = json_answer(
    429, {"message": "Limit Exceeded"}, "LimitExceededException", "QUOTA_EXCEEDED"
)
THROTTLED = gateway_answer("rest", Failure.THROTTLED)


def period_start(period: str, now: float) -> float:
    """The start (UTC) of the quota period ``now`` falls in."""
    t = time.gmtime(now)
    day = calendar.timegm((t.tm_year, t.tm_mon, t.tm_mday, 0, 0, 0))
    if period == "DAY":
        return day
    if period == "WEEK":
        return day - t.tm_wday * 86_400
    return calendar.timegm((t.tm_year, t.tm_mon, 1, 0, 0, 0))


class UsageMeter:
    """Each API key's requests against its usage plans' limits."""

    def __init__(self) -> None:
        # (plan, key id, method or None) → [tokens, when they were counted]
        self._buckets: dict[tuple[str, str, str | None], list[float]] = {}
        # (plan, key id) → [the period's start, requests counted in it]
        self._quotas: dict[tuple[str, str], list[float]] = {}

    def admit(self, limits: UsageLimits, key_id: str, now: float) -> HttpResponse | None:
        """None when the request may go on (and is counted), else the 429 refusing it."""
        quota = None
        if limits.quota is not None:
            start = period_start(limits.period, now)
            quota = self._quotas.get((limits.plan, key_id))
            if quota is None:  # the first period: its Offset is spent already
                quota = self._quotas[(limits.plan, key_id)] = [start, float(limits.offset)]
            elif quota[0] != start:
                quota[0], quota[1] = start, 0.0
            if quota[1] >= limits.quota:
                return QUOTA_EXCEEDED
        if limits.rate is not None or limits.burst is not None:
            rate = limits.rate or 0.0
            depth = float(limits.burst if limits.burst is not None else max(1, round(rate)))
            key = (limits.plan, key_id, limits.method)
            bucket = self._buckets.get(key)
            if bucket is None:
                bucket = self._buckets[key] = [depth, now]
            tokens = min(depth, bucket[0] + max(0.0, now - bucket[1]) * rate)
            bucket[1] = now
            if tokens < 1:
                bucket[0] = tokens
                return THROTTLED
            bucket[0] = tokens - 1
        if quota is not None:
            quota[1] += 1
        return None


def api_key_of(req: Request, accepted: Mapping[str, str]) -> tuple[str, str] | None:
    """(value, id) of the key ``req`` presents when ``accepted`` (value → id) holds it."""
    value = req.header(HEADER)
    if value is None:
        return None
    key_id = accepted.get(value)
    return None if key_id is None else (value, key_id)
