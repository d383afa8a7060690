"""Authorizers: API Gateway's check before a guarded route's function runs.

An ``AWS_IAM`` route's check is the request's SigV4 signature (``iam.Signatures``).

A Cognito user pool authorizer (REST) or a JWT authorizer (HTTP API) reads the token
(``Bearer`` or not): a request without one, or whose token is not a JWT, has expired
(``exp``, on canaria's clock), is not yet valid (``nbf``), or names another issuer or
audience is answered 401; one without a scope the route requires, 403 (HTTP API) or 401
(REST). A REST Cognito authorizer takes an ID token when the route names no scopes and an
access token when it does, as API Gateway does. A token of one of the template's user
pools (``AuthorizerSpec.signed``) must also be signed by the services engine's keys
(``TokenKeys``); another issuer's signature is not checked (canaria cannot fetch the
provider's keys). The event gets the claims as text: ``requestContext.authorizer.claims``
(REST) or ``requestContext.authorizer.jwt.{claims, scopes}`` (HTTP API).

For a route with a Lambda authorizer, ``Authorizers.check``:

1. reads the request's identity: a TOKEN authorizer's header (and its
   ``ValidationExpression``), or a REQUEST authorizer's headers and query strings. A
   request missing one is answered 401 without invoking anything, as API Gateway does;
2. looks the identity up in the authorizer's cache (``ReauthorizeEvery`` seconds on
   canaria's clock, so ``--time-scale`` compresses it too), else invokes the authorizer
   function with API Gateway's authorizer event, through the same invoker as any request
   (its invocations are the authorizer function's, recorded and judged as such);
3. evaluates the answer: an IAM policy (REST, and HTTP APIs without simple responses) is
   matched against this request's ``methodArn`` / ``routeArn``, so a cached policy that
   allows one resource denies another, as on AWS; a simple response
   (``{"isAuthorized", "context"}``) is taken as it is.

Allowed, it gives what the route's event carries as ``requestContext.authorizer``;
refused, API Gateway's answer:

==================================  ===============================  =====================
case                                REST (``Api``)                   HTTP API (``HttpApi``)
==================================  ===============================  =====================
identity missing, or invalid;       401 Unauthorized                 401 Unauthorized
the function fails "Unauthorized"
explicit Deny                       403 "... with an explicit deny"  403 Forbidden
no Allow for this resource          403 "not authorized ..."         403 Forbidden
``isAuthorized: false``             n/a                              403 Forbidden
the function fails otherwise, or    500 (AuthorizerConfiguration-    500 Internal Server
answers something else              Exception, message null)         Error
==================================  ===============================  =====================
"""

from __future__ import annotations

import base64
import binascii
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass, replace
from functools import lru_cache
from typing import Any
from urllib.parse import parse_qsl

import orjson
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet

from canaria.clock import Clock
from canaria.errors import InvalidRequest, NotFound
from canaria.models import AuthorizerSpec
from canaria.models.arns import ACCOUNT, REGION

from .events import request_event
from .iam import Signatures
from .recorded import invoke_recorded
from .responses import HttpResponse, json_answer
from .routes import RouteMatch
from .types import Invoker, Recorder, Request, RouteSource

log = logging.getLogger("canaria.gateway")

MAX_CACHED = 10_000  # answers kept per gateway; the cache starts over when full


UNAUTHORIZED = {
    "rest": json_answer(401, {"message": "Unauthorized"}, "UnauthorizedException", "UNAUTHORIZED"),
    "http": json_answer(401, {"message": "Unauthorized"}),
}


def _denied(message: str) -> dict[str, HttpResponse]:
    """API Gateway's 403 for a policy that does not allow the request, by API kind."""
    return {
        "rest": json_answer(403, {"message": message}, "AccessDeniedException", "ACCESS_DENIED"),
        "http": json_answer(403, {"message": "Forbidden"}),
    }


EXPLICIT_DENY = _denied("User is not authorized to access this resource with an explicit deny")
NOT_ALLOWED = _denied("User is not authorized to access this resource")
MISCONFIGURED = {
    "rest": json_answer(
        500,
        {"message": None},
        "AuthorizerConfigurationException",
        "AUTHORIZER_CONFIGURATION_ERROR",
    ),
    "http": json_answer(500, {"message": "Internal Server Error"}),
}


class Refused(Exception):
    """The authorizer's answer cannot be used (API Gateway's 500); ``reason`` is logged."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class Verdict:
    """An authorizer's answer, as cached: evaluated again for each request's resource."""

    allowed: tuple[str, ...] = ()  # resource patterns an Allow statement names
    denied: tuple[str, ...] = ()
    simple: bool | None = None  # a simple response's isAuthorized (None: a policy)
    context: dict[str, Any] | None = None  # what the event's requestContext.authorizer gets
    expires: float = 0.0


def method_arn(spec: AuthorizerSpec, match: RouteMatch, method: str) -> str:
    """The request's ``methodArn`` (REST) / ``routeArn`` (HTTP API)."""
    route = match.route
    return (
        f"arn:aws:execute-api:{REGION}:{ACCOUNT}:{route.api_id}/{route.stage}/{method}"
        f"{match.path if match.path.startswith('/') else '/' + match.path}"
    )


@lru_cache(maxsize=1024)
def _pattern(resource: str) -> re.Pattern[str]:
    """An IAM resource pattern (``*`` any run of characters, ``?`` one) as a regex."""
    return re.compile(
        ".*".join(".".join(map(re.escape, p.split("?"))) for p in resource.split("*"))
    )


def _matches(patterns: tuple[str, ...], arn: str) -> bool:
    return any(_pattern(p).fullmatch(arn) is not None for p in patterns)


def _action_matches(action: Any) -> bool:
    actions = action if isinstance(action, list) else [action]
    return any(
        isinstance(a, str) and _pattern(a.lower()).fullmatch("execute-api:invoke") is not None
        for a in actions
    )


def read_policy(payload: Any, spec: AuthorizerSpec) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(allowed, denied) resource patterns of an authorizer's policy answer."""
    if not isinstance(payload, dict):
        raise Refused(f"the answer is {type(payload).__name__}, not an object")
    principal = payload.get("principalId")
    if spec.api_kind == "rest" and not isinstance(principal, str | int | float):
        raise Refused("the answer has no principalId")
    document = payload.get("policyDocument")
    if not isinstance(document, dict):
        raise Refused("the answer has no policyDocument object")
    statements = document.get("Statement")
    if isinstance(statements, dict):
        statements = [statements]
    if not isinstance(statements, list) or not statements:
        raise Refused("the policyDocument has no Statement")
    allowed: list[str] = []
    denied: list[str] = []
    for statement in statements:
        if not isinstance(statement, dict):
            raise Refused("a Statement is not an object")
        effect = statement.get("Effect")
        resources = statement.get("Resource")
        if isinstance(resources, str):
            resources = [resources]
        if effect not in ("Allow", "Deny") or not isinstance(resources, list):
            raise Refused("a Statement needs Effect Allow or Deny and a Resource")
        if not _action_matches(statement.get("Action")):
            continue
        target = allowed if effect == "Allow" else denied
        target.extend(r for r in resources if isinstance(r, str))
    return tuple(allowed), tuple(denied)


def _context(payload: dict[str, Any], spec: AuthorizerSpec) -> dict[str, Any]:
    context = payload.get("context")
    if context is None:
        context = {}
    if not isinstance(context, dict):
        raise Refused("context is not an object")
    if spec.api_kind == "rest":
        for key, value in context.items():
            if isinstance(value, dict | list):
                raise Refused(f"context value {key!r} is an object or a list")
    return context


def read_verdict(payload: Any, spec: AuthorizerSpec, latency_ms: int) -> Verdict:
    """What an authorizer answered, checked as API Gateway checks it."""
    if spec.simple_responses:
        if not isinstance(payload, dict) or not isinstance(payload.get("isAuthorized"), bool):
            raise Refused("a simple response needs a boolean isAuthorized")
        return Verdict(simple=payload["isAuthorized"], context={"lambda": _context(payload, spec)})
    allowed, denied = read_policy(payload, spec)
    assert isinstance(payload, dict)
    context = _context(payload, spec)
    if spec.api_kind == "http":
        return Verdict(allowed, denied, context={"lambda": context})
    principal = payload["principalId"]
    granted: dict[str, Any] = {"principalId": str(principal)}
    for key, value in context.items():
        granted[key] = value if isinstance(value, str) else orjson.dumps(value).decode()
    granted["integrationLatency"] = latency_ms
    return Verdict(allowed, denied, context=granted)


def authorizer_event(
    spec: AuthorizerSpec,
    req: Request,
    match: RouteMatch,
    arn: str,
    identity: tuple[str, ...],
    request_id: str,
    epoch_ms: int,
) -> bytes:
    """API Gateway's event for the authorizer function."""
    if spec.payload_type == "TOKEN":
        return orjson.dumps({"type": "TOKEN", "authorizationToken": identity[0], "methodArn": arn})
    event = request_event(req, match, request_id, epoch_ms, spec.payload_version)
    if spec.payload_version == "2.0":
        head = {"version": "2.0", "type": "REQUEST", "routeArn": arn, "identitySource": identity}
        event.pop("body", None)
        event.pop("isBase64Encoded", None)
        return orjson.dumps(head | event)
    event.pop("body", None)
    event.pop("isBase64Encoded", None)
    if spec.api_kind == "http":
        head = {"version": "1.0", "type": "REQUEST", "methodArn": arn}
        head["identitySource"] = head["authorizationToken"] = ",".join(identity)
    else:
        head = {"type": "REQUEST", "methodArn": arn}
    return orjson.dumps(head | event)


def identity_of(spec: AuthorizerSpec, req: Request) -> tuple[str, ...] | None:
    """The request's identity source values, in the authorizer's order; ``None`` when one
    is missing or empty (or a token fails its ``ValidationExpression``)."""
    values: list[str] = []
    for name in spec.headers:
        value = req.header(name)
        if not value:
            return None
        values.append(value)
    if spec.query_strings:
        query = dict(parse_qsl(req.query, keep_blank_values=True)) if req.query else {}
        for name in spec.query_strings:
            value = query.get(name)
            if not value:
                return None
            values.append(value)
    if spec.validation is not None and re.fullmatch(spec.validation, values[0]) is None:
        return None
    return tuple(values)


def decode_jwt(token: str) -> dict[str, Any] | None:
    """A JWT's claims (its payload), unverified; ``None`` when it is not a JWT."""
    parts = token.split(".")
    if len(parts) != 3:
        return None
    try:
        claims = orjson.loads(base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4)))
    except (ValueError, binascii.Error):
        return None
    return claims if isinstance(claims, dict) else None


def _claim_text(value: Any) -> str:
    """A claim as API Gateway passes it on: text (a list as ``[a b]``)."""
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        return "[" + " ".join(_claim_text(v) for v in value) + "]"
    return orjson.dumps(value).decode()


class TokenKeys:
    """The public keys of the user pools the services engine serves, and the tokens they
    have verified (a token is checked once: an RSA verification costs tens of µs)."""

    MAX_REMEMBERED = 4096

    def __init__(self, keys: Callable[[], KeySet] | None) -> None:
        self._load = keys  # None: no keys, so no token of a served pool is taken
        self._keys: KeySet | None = None
        self._verified: dict[str, bool] = {}

    def verified(self, token: str) -> bool:
        known = self._verified.get(token)
        if known is not None:
            return known
        if self._load is None:
            return False
        if self._keys is None:
            self._keys = self._load()
        try:
            jwt.decode(token, self._keys, algorithms=["RS256"])
            ok = True
        except (JoseError, ValueError, TypeError):
            ok = False
        if len(self._verified) >= self.MAX_REMEMBERED:
            self._verified.pop(next(iter(self._verified)))
        self._verified[token] = ok
        return ok


def token_claims(
    spec: AuthorizerSpec, token: str, now: float, keys: TokenKeys | None = None
) -> dict[str, Any] | HttpResponse:
    """A Cognito or JWT authorizer's check of a token: its form, expiry (on canaria's
    clock), issuer, audience and scopes, and its signature when ``spec.signed``."""
    kind = spec.api_kind
    if token[:7].lower() == "bearer ":
        token = token[7:].strip()
    claims = decode_jwt(token)
    if claims is None:
        return UNAUTHORIZED[kind]
    if spec.issuers and claims.get("iss") not in spec.issuers:
        return UNAUTHORIZED[kind]
    use = claims.get("token_use")  # no scopes on the route: an ID token; scopes: access
    if spec.type == "cognito" and use is not None and use != ("access" if spec.scopes else "id"):
        return UNAUTHORIZED[kind]
    if spec.signed and (keys is None or not keys.verified(token)):
        return UNAUTHORIZED[kind]
    for key, late in (("exp", True), ("nbf", False)):
        at = claims.get(key)
        if isinstance(at, int | float) and not isinstance(at, bool) and (at <= now) is late:
            return UNAUTHORIZED[kind]
    if spec.issuer is not None and claims.get("iss") != spec.issuer:
        return UNAUTHORIZED[kind]
    if spec.audience:
        aud = claims.get("aud", claims.get("client_id"))
        auds = aud if isinstance(aud, list) else [aud]
        if not set(spec.audience) & {a for a in auds if isinstance(a, str)}:
            return UNAUTHORIZED[kind]
    held = claims.get("scope", claims.get("scp", ""))
    scopes = held.split() if isinstance(held, str) else [s for s in held if isinstance(s, str)]
    if spec.scopes and not set(spec.scopes) & set(scopes):
        return NOT_ALLOWED[kind] if kind == "http" else UNAUTHORIZED[kind]
    text = {k: _claim_text(v) for k, v in claims.items()}
    if spec.type == "cognito":
        return {"claims": text}
    return {"jwt": {"claims": text, "scopes": scopes or None}}


class Authorizers:
    """The authorizer step of every guarded route, with the authorizers' answer cache."""

    def __init__(
        self,
        routing: RouteSource,
        invoker: Invoker,
        recorder: Recorder,
        clock: Clock,
        signatures: Signatures | None = None,
        token_keys: TokenKeys | None = None,
    ) -> None:
        self.routing = routing
        self.invoker = invoker
        self.recorder = recorder
        self.clock = clock
        # AWS_IAM routes: the signature check (None: no keys, every such request refused)
        self.signatures = signatures or Signatures(None)
        # Cognito and JWT routes of the template's user pools: their tokens' signatures
        self.token_keys = token_keys or TokenKeys(None)
        self._cache: dict[tuple[str, str, tuple[str, ...]], Verdict] = {}

    async def check(
        self, req: Request, match: RouteMatch, request_id: str, epoch_ms: int
    ) -> dict[str, Any] | HttpResponse:
        """``requestContext.authorizer`` for the route's event, or the answer refusing it."""
        spec = match.route.authorizer
        assert spec is not None
        if spec.type == "iam":
            return self.signatures.check(spec, req)
        kind = spec.api_kind
        identity = identity_of(spec, req)
        if identity is None:
            return UNAUTHORIZED[kind]
        if spec.type != "lambda":
            return token_claims(spec, identity[0], self.clock.now(), self.token_keys)
        arn = method_arn(spec, match, req.method)
        return await self._decide(
            spec,
            match.route.api_id,
            arn,
            identity,
            lambda: authorizer_event(spec, req, match, arn, identity, request_id, epoch_ms),
        )

    async def check_request(
        self, spec: AuthorizerSpec, req: Request, api_id: str, arn: str, event: Callable[[], bytes]
    ) -> dict[str, Any] | HttpResponse:
        """A Lambda ``REQUEST`` authorizer's verdict on ``req`` for the resource ``arn``,
        its event made by ``event`` (a WebSocket API's ``$connect``); an ``AWS_IAM``
        route's signature check."""
        if spec.type == "iam":
            return self.signatures.check(spec, req)
        identity = identity_of(spec, req)
        if identity is None:
            return UNAUTHORIZED[spec.api_kind]
        return await self._decide(spec, api_id, arn, identity, event)

    async def _decide(
        self,
        spec: AuthorizerSpec,
        api_id: str,
        arn: str,
        identity: tuple[str, ...],
        event: Callable[[], bytes],
    ) -> dict[str, Any] | HttpResponse:
        kind = spec.api_kind
        key = (api_id, spec.name, identity)
        now = self.clock.now()
        verdict = self._cache.get(key)
        if verdict is None or verdict.expires <= now:
            outcome = await self._invoke(spec, event())
            if isinstance(outcome, HttpResponse):
                return outcome
            verdict = outcome
            if spec.ttl_s > 0 and identity:
                if len(self._cache) >= MAX_CACHED:
                    self._cache.clear()
                self._cache[key] = replace(verdict, expires=now + spec.ttl_s)
        if verdict.simple is not None:
            return verdict.context or {} if verdict.simple else EXPLICIT_DENY[kind]
        if _matches(verdict.denied, arn):
            return EXPLICIT_DENY[kind]
        if not _matches(verdict.allowed, arn):
            return NOT_ALLOWED[kind]
        return verdict.context or {}

    async def _invoke(self, spec: AuthorizerSpec, event: bytes) -> Verdict | HttpResponse:
        kind = spec.api_kind
        function = spec.function
        try:
            version, alias = self.routing.target(function, spec.qualifier)
        except (NotFound, InvalidRequest) as exc:
            log.error("authorizer %s: %s", spec.name, exc.message)
            return MISCONFIGURED[kind]
        result, took = await invoke_recorded(
            self.invoker,
            self.recorder,
            self.clock,
            function,
            version,
            alias,
            event,
            f"authorizer {spec.name}",
        )
        if result is None:
            return MISCONFIGURED[kind]
        try:
            payload = orjson.loads(result.payload)
        except orjson.JSONDecodeError:
            log.warning("authorizer %s answered something that is not JSON", spec.name)
            return MISCONFIGURED[kind]
        if result.function_error is not None:
            message = payload.get("errorMessage") if isinstance(payload, dict) else None
            if message == "Unauthorized":
                return UNAUTHORIZED[kind]
            log.warning("authorizer %s failed: %s", spec.name, message)
            return MISCONFIGURED[kind]
        try:
            return read_verdict(payload, spec, round(took * 1000))
        except Refused as exc:
            log.warning("authorizer %s: AuthorizerConfigurationException: %s", spec.name, exc)
            return MISCONFIGURED[kind]
