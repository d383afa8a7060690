"""A user pool's Lambda triggers, run around the services engine's Cognito operations.

moto serves the user pools but invokes no trigger. The relay hands canaria the Cognito
requests of a pool that has triggers (``UserPoolTriggers.serve``), and they are run where
Amazon Cognito runs them, with its events and its answers:

==========================================  ==========================  ===================
operation                                   trigger (``triggerSource``)  when
==========================================  ==========================  ===================
``SignUp``                                  ``PreSignUp_SignUp``          before
``AdminCreateUser``                         ``PreSignUp_AdminCreateUser`` before
``ConfirmSignUp``, ``AdminConfirmSignUp``   ``PostConfirmation_Confirm``  after it succeeds
                                            ``SignUp``
``InitiateAuth``, ``AdminInitiateAuth``     ``PreAuthentication_``        before
(password flows)                            ``Authentication``
                                            ``TokenGeneration_``          after it succeeds
                                            ``Authentication``
                                            ``PostAuthentication_``       then
                                            ``Authentication``
``InitiateAuth``, ``AdminInitiateAuth``     ``TokenGeneration_``          after it succeeds
(refresh token flows)                       ``RefreshTokens``
==========================================  ==========================  ===================

``PreTokenGeneration`` runs its version 1 event: the ID token's claims are added,
overridden or suppressed and its groups replaced as ``claimsOverrideDetails`` asks (the
claims Cognito reserves, ``sub`` or ``exp``, are left as they are), and the token is
signed again with the engine's key, so the template's authorizers take it.

A trigger that fails (raises, times out, crashes) fails the operation with Cognito's
``UserLambdaValidationException`` (``PreSignUp failed with error <its message>.``), one
that cannot be invoked (throttled) with ``UnexpectedLambdaException``; a
post-trigger's failure is reported the same way, though what it follows has happened, as
on AWS. ``PreSignUp``'s answer is applied: ``autoConfirmUser`` confirms the user
(``UserConfirmed: true`` in the answer; ``PostConfirmation`` then runs, as on AWS),
``autoVerifyEmail`` / ``autoVerifyPhone`` mark the attribute verified. A trigger's
invocations are its function's (recorded and judged, its releases deployed like any
other).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import uuid
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from joserfc import jwt
from joserfc.jwk import RSAKey

from canaria.errors import CanariaError
from canaria.models import InvokeResult
from canaria.models.arns import REGION
from canaria.models.services import ServiceResource, UserPoolClientSpec, UserPoolSpec
from canaria.services.answers import error_answer
from canaria.services.user_pool_keys import engine_signing_key

PREFIX = "AWSCognitoIdentityProviderService."
PASSWORD_FLOWS = ("USER_PASSWORD_AUTH", "ADMIN_USER_PASSWORD_AUTH", "ADMIN_NO_SRP_AUTH")
REFRESH_FLOWS = ("REFRESH_TOKEN_AUTH", "REFRESH_TOKEN")
OPERATIONS = (
    "SignUp",
    "AdminCreateUser",
    "ConfirmSignUp",
    "AdminConfirmSignUp",
    "InitiateAuth",
    "AdminInitiateAuth",
)
_EXCHANGE_TIMEOUT_S = 30.0

Invoke = Callable[[str, bytes], Awaitable[InvokeResult]]  # (function, event) → its result
Answer = tuple[int, list[tuple[str, str]], bytes]  # status, headers, body
Exchange = Callable[[bytes], Awaitable[bytes]]  # one raw HTTP request → the raw response


class _TriggerFailed(Exception):
    """The trigger's function failed: Cognito's ``UserLambdaValidationException``."""

    code = "UserLambdaValidationException"

    def __init__(self, trigger: str, message: str) -> None:
        super().__init__(f"{trigger} failed with error {message}.")


class _NotInvoked(_TriggerFailed):
    """The trigger's function could not be invoked at all (throttled, not loaded)."""

    code = "UnexpectedLambdaException"

    def __init__(self, trigger: str, message: str) -> None:
        Exception.__init__(self, f"{trigger} invocation failed: {message}")


class UserPoolTriggers:
    """The template's pools' triggers, and the requests that run them."""

    def __init__(self, invoke: Invoke) -> None:
        self._invoke = invoke
        self._triggers: dict[str, Mapping[str, str]] = {}  # pool id → trigger → function
        self._clients: dict[str, str] = {}  # client id → pool id
        self._username_attributes: dict[str, list[str]] = {}  # pool id → email, phone_number
        self._signing_key: RSAKey | None = None  # read at the first PreTokenGeneration

    def configure(self, resources: Mapping[str, ServiceResource]) -> None:
        """Take the pools and clients of the application now running."""
        self._triggers = {
            r.id: r.triggers
            for r in resources.values()
            if isinstance(r, UserPoolSpec) and r.triggers
        }
        self._clients = {
            r.id: r.pool_id for r in resources.values() if isinstance(r, UserPoolClientSpec)
        }
        self._username_attributes = {
            r.id: list(r.settings.get("UsernameAttributes", ()))
            for r in resources.values()
            if isinstance(r, UserPoolSpec)
        }

    @property
    def active(self) -> bool:
        """Whether a pool has triggers (the relay reads requests' heads only then)."""
        return bool(self._triggers)

    def wants(self, target: str) -> bool:
        """Whether a request with this ``X-Amz-Target`` may run a trigger."""
        return target.startswith(PREFIX) and target.removeprefix(PREFIX) in OPERATIONS

    async def serve(self, target: str, head: bytes, body: bytes, exchange: Exchange) -> bytes:
        """The raw HTTP response to a Cognito request (``head`` and ``body`` as received),
        its pool's triggers run around the engine's answer (``exchange``)."""
        operation = target.removeprefix(PREFIX)
        try:
            params = json.loads(body)
        except ValueError:
            params = None
        pool = self._pool_of(params) if isinstance(params, dict) else None
        triggers = self._triggers.get(pool or "", {})
        if not isinstance(params, dict) or pool is None or not triggers:
            return await exchange(head + body)
        call = _EngineCalls(exchange, pool)
        try:
            return await self._run(operation, params, pool, triggers, head + body, call)
        except _TriggerFailed as exc:
            return _response(error_answer({"x-amz-target": target}, 400, exc.code, str(exc)))

    def _pool_of(self, params: Mapping[str, Any]) -> str | None:
        pool = params.get("UserPoolId")
        if isinstance(pool, str):
            return pool
        client = params.get("ClientId")
        return self._clients.get(client) if isinstance(client, str) else None

    async def _run(
        self,
        operation: str,
        params: dict[str, Any],
        pool: str,
        triggers: Mapping[str, str],
        request: bytes,
        call: _EngineCalls,
    ) -> bytes:
        client = params.get("ClientId")
        metadata = params.get("ClientMetadata") or {}
        if operation in ("SignUp", "AdminCreateUser") and "PreSignUp" in triggers:
            username = str(params.get("Username", ""))
            attributes = _attributes(params.get("UserAttributes"))
            # a pool that signs users in by email (or phone) has the username as that attribute
            kind = "email" if "@" in username else "phone_number"
            if kind in self._username_attributes.get(pool, ()):
                attributes.setdefault(kind, username)
            source = "PreSignUp_SignUp" if operation == "SignUp" else "PreSignUp_AdminCreateUser"
            answer = await self._trigger(
                triggers["PreSignUp"],
                "PreSignUp",
                _event(
                    source,
                    pool,
                    username,
                    client,
                    {
                        "userAttributes": attributes,
                        "validationData": _attributes(params.get("ValidationData")) or None,
                        "clientMetadata": metadata,
                    },
                    {"autoConfirmUser": False, "autoVerifyPhone": False, "autoVerifyEmail": False},
                ),
            )
            status, raw = await call.forward(request)
            if status != 200 or operation != "SignUp":
                return raw
            raw, confirmed = await self._after_sign_up(username, answer, raw, call)
            if confirmed and "PostConfirmation" in triggers:  # as a confirmation would
                await self._post_confirmation(triggers, pool, client, metadata, username, call)
            return raw
        if operation in ("ConfirmSignUp", "AdminConfirmSignUp") and "PostConfirmation" in triggers:
            status, raw = await call.forward(request)
            if status == 200:
                username = str(params.get("Username", ""))
                await self._post_confirmation(triggers, pool, client, metadata, username, call)
            return raw
        flow = params.get("AuthFlow")
        if operation in ("InitiateAuth", "AdminInitiateAuth") and flow in REFRESH_FLOWS:
            status, raw = await call.forward(request)
            if status == 200 and "PreTokenGeneration" in triggers:
                raw = await self._token_generation(
                    triggers["PreTokenGeneration"], raw, pool, client, metadata, True, call
                )
            return raw
        if operation in ("InitiateAuth", "AdminInitiateAuth") and flow in PASSWORD_FLOWS:
            auth = params.get("AuthParameters") or {}
            username, attributes = await call.user(str(auth.get("USERNAME", "")))
            if "PreAuthentication" in triggers:
                await self._trigger(
                    triggers["PreAuthentication"],
                    "PreAuthentication",
                    _event(
                        "PreAuthentication_Authentication",
                        pool,
                        username,
                        client,
                        {
                            "userAttributes": attributes,
                            "validationData": metadata or None,
                            "userNotFound": not attributes,
                        },
                        {},
                    ),
                )
            status, raw = await call.forward(request)
            if status == 200 and "PreTokenGeneration" in triggers:
                raw = await self._token_generation(
                    triggers["PreTokenGeneration"], raw, pool, client, metadata, False, call
                )
            if status == 200 and "PostAuthentication" in triggers:
                await self._trigger(
                    triggers["PostAuthentication"],
                    "PostAuthentication",
                    _event(
                        "PostAuthentication_Authentication",
                        pool,
                        username,
                        client,
                        {
                            "userAttributes": attributes,  # read before: sign-in changes none
                            "newDeviceUsed": False,
                            "clientMetadata": metadata,
                        },
                        {},
                    ),
                )
            return raw
        return (await call.forward(request))[1]

    async def _token_generation(
        self,
        function: str,
        raw: bytes,
        pool: str,
        client: Any,
        metadata: Any,
        refresh: bool,
        call: _EngineCalls,
    ) -> bytes:
        """The engine's sign-in answer with its ID token as ``PreTokenGeneration`` (its
        version 1 event) changes it: claims added, overridden or suppressed, groups
        replaced; signed again with the engine's key."""
        head, _, body = raw.partition(b"\r\n\r\n")
        answer = json.loads(body)
        result = answer.get("AuthenticationResult") if isinstance(answer, dict) else None
        if not isinstance(result, dict) or not isinstance(result.get("IdToken"), str):
            return raw  # a challenge: no token yet
        claims = _claims(result["IdToken"])
        username, attributes = await call.user(str(claims.get("cognito:username", "")))
        groups = claims.get("cognito:groups", [])
        source = "TokenGeneration_RefreshTokens" if refresh else "TokenGeneration_Authentication"
        request = {
            "userAttributes": attributes,
            "groupConfiguration": {
                "groupsToOverride": groups,
                "iamRolesToOverride": [],
                "preferredRole": None,
            },
            "clientMetadata": metadata,
        }
        event = _event(source, pool, username, client, request, {"claimsOverrideDetails": None})
        got = await self._trigger(function, "PreTokenGeneration", event)
        response = got.get("response") if isinstance(got, dict) else None
        details = response.get("claimsOverrideDetails") if isinstance(response, dict) else None
        if not isinstance(details, Mapping):
            return raw
        if self._signing_key is None:
            self._signing_key = engine_signing_key()
        key = self._signing_key
        header = {"kid": key.kid or "", "alg": "RS256"}
        result["IdToken"] = jwt.encode(header, _overridden(claims, details), key)
        return _response((200, _content_type(head), json.dumps(answer).encode()))

    async def _post_confirmation(
        self,
        triggers: Mapping[str, str],
        pool: str,
        client: Any,
        metadata: Any,
        username: str,
        call: _EngineCalls,
    ) -> None:
        name, attributes = await call.user(username)
        await self._trigger(
            triggers["PostConfirmation"],
            "PostConfirmation",
            _event(
                "PostConfirmation_ConfirmSignUp",
                pool,
                name,
                client,
                {"userAttributes": attributes, "clientMetadata": metadata},
                {},
            ),
        )

    async def _after_sign_up(
        self, username: str, answer: Mapping[str, Any], raw: bytes, call: _EngineCalls
    ) -> tuple[bytes, bool]:
        """The sign-up's answer once ``PreSignUp``'s answer is applied, and whether it
        confirmed the user."""
        response = answer.get("response")
        response = response if isinstance(response, Mapping) else {}
        verified = [
            {"Name": f"{kind}_verified", "Value": "true"}
            for kind, key in (("email", "autoVerifyEmail"), ("phone_number", "autoVerifyPhone"))
            if response.get(key) is True
        ]
        if verified:
            await call.admin(
                "AdminUpdateUserAttributes", Username=username, UserAttributes=verified
            )
        if response.get("autoConfirmUser") is not True:
            return raw, False
        await call.admin("AdminConfirmSignUp", Username=username)
        head, _, body = raw.partition(b"\r\n\r\n")
        signed_up = json.loads(body)
        signed_up["UserConfirmed"] = True
        return _response((200, _content_type(head), json.dumps(signed_up).encode())), True

    async def _trigger(self, function: str, trigger: str, event: dict[str, Any]) -> Any:
        try:
            result = await self._invoke(function, json.dumps(event).encode())
        except CanariaError as exc:  # throttled, or the function is not loaded
            raise _NotInvoked(trigger, exc.message) from None
        if result.function_error is not None:
            try:
                message = json.loads(result.payload).get("errorMessage", result.function_error)
            except (ValueError, AttributeError):
                message = result.function_error
            raise _TriggerFailed(trigger, str(message))
        try:
            return json.loads(result.payload)
        except ValueError:
            raise _TriggerFailed(trigger, "the function's answer is not JSON") from None


class _EngineCalls:
    """Requests to the engine: the client's, forwarded, and canaria's own admin calls."""

    def __init__(self, exchange: Exchange, pool: str) -> None:
        self._exchange = exchange
        self._pool = pool

    async def forward(self, request: bytes) -> tuple[int, bytes]:
        raw = await self._exchange(request)
        return _status(raw), raw

    async def admin(self, operation: str, **params: Any) -> tuple[int, Any]:
        body = json.dumps({"UserPoolId": self._pool, **params}).encode()
        head = (
            "POST / HTTP/1.1\r\nHost: cognito-idp\r\nConnection: close\r\n"
            "Content-Type: application/x-amz-json-1.1\r\n"
            f"X-Amz-Target: {PREFIX}{operation}\r\n"
            "Authorization: AWS4-HMAC-SHA256 Credential=canaria/20200101/"
            f"{REGION}/cognito-idp/aws4_request, SignedHeaders=host, Signature=0\r\n"
            f"Content-Length: {len(body)}\r\n\r\n"
        )
        raw = await self._exchange(head.encode() + body)
        payload = raw.partition(b"\r\n\r\n")[2]
        with contextlib.suppress(ValueError):
            return _status(raw), json.loads(payload) if payload else {}
        return _status(raw), {}

    async def user(self, username: str) -> tuple[str, dict[str, str]]:
        """The user's name in the pool (an email signs in as it) and attributes, as a
        trigger's event names them (``username`` and {} when there is no such user)."""
        status, user = await self.admin("AdminGetUser", Username=username)
        if status != 200 or not isinstance(user, dict):
            return username, {}
        attributes = _attributes(user.get("UserAttributes"))
        attributes["cognito:user_status"] = str(user.get("UserStatus", ""))
        return str(user.get("Username", username)), attributes


def _event(
    source: str,
    pool: str,
    username: str,
    client: Any,
    request: dict[str, Any],
    response: dict[str, Any],
) -> dict[str, Any]:
    """A Cognito trigger's event (the shape every trigger shares)."""
    return {
        "version": "1",
        "triggerSource": source,
        "region": REGION,
        "userPoolId": pool,
        "userName": username,
        "callerContext": {
            "awsSdkVersion": "aws-sdk-unknown-unknown",
            "clientId": client if isinstance(client, str) else "CLIENT_ID_NOT_APPLICABLE",
        },
        "request": request,
        "response": response,
    }


def _attributes(pairs: Any) -> dict[str, str]:
    """``[{"Name", "Value"}]`` → ``{name: value}``."""
    if not isinstance(pairs, list):
        return {}
    return {
        str(p["Name"]): str(p.get("Value", ""))
        for p in pairs
        if isinstance(p, Mapping) and "Name" in p
    }


# claims a PreTokenGeneration trigger may not change (Cognito ignores them)
RESERVED_CLAIMS = frozenset(
    {
        "acr",
        "amr",
        "at_hash",
        "aud",
        "auth_time",
        "azp",
        "cognito:username",
        "exp",
        "iat",
        "identities",
        "iss",
        "jti",
        "nbf",
        "nonce",
        "origin_jti",
        "sub",
        "token_use",
    }
)


def _claims(token: str) -> dict[str, Any]:
    """A token's claims, as the engine wrote them (not verified: it just signed them)."""
    part = token.split(".")[1] if token.count(".") == 2 else ""
    try:
        claims = json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))
    except ValueError:
        return {}
    return claims if isinstance(claims, dict) else {}


def _overridden(claims: Mapping[str, Any], details: Mapping[str, Any]) -> dict[str, Any]:
    """``claims`` changed as a version 1 ``claimsOverrideDetails`` asks."""
    out = dict(claims)
    suppress = details.get("claimsToSuppress")
    for name in suppress if isinstance(suppress, list) else ():
        if isinstance(name, str) and name not in RESERVED_CLAIMS:
            out.pop(name, None)
    add = details.get("claimsToAddOrOverride")
    for name, value in add.items() if isinstance(add, Mapping) else ():
        if name not in RESERVED_CLAIMS:
            out[name] = value
    groups = details.get("groupOverrideDetails")
    if isinstance(groups, Mapping):
        for key, claim in (
            ("groupsToOverride", "cognito:groups"),
            ("iamRolesToOverride", "cognito:roles"),
            ("preferredRole", "cognito:preferred_role"),
        ):
            if key in groups:
                value = groups[key]
                if value in (None, []):
                    out.pop(claim, None)
                else:
                    out[claim] = value
    return out


def _status(raw: bytes) -> int:
    try:
        return int(raw.split(b" ", 2)[1])
    except (IndexError, ValueError):
        return 502


def _content_type(head: bytes) -> list[tuple[str, str]]:
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-type":
            return [("content-type", value.strip().decode("latin-1"))]
    return [("content-type", "application/x-amz-json-1.1")]


def _response(answer: Answer) -> bytes:
    status, headers, body = answer
    reason = {200: "OK", 400: "Bad Request"}.get(status, "Error")
    lines = [f"HTTP/1.1 {status} {reason}", f"content-length: {len(body)}"]
    lines += [f"{k}: {v}" for k, v in headers if k.lower() not in ("content-length", "connection")]
    lines += [f"x-amzn-requestid: {uuid.uuid4()}", "connection: close"]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


async def exchange_with(port: int, request: bytes) -> bytes:
    """One raw HTTP request to the engine on ``port``; its whole response (the engine
    closes the connection after each)."""

    async def run() -> bytes:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            writer.write(request)
            await writer.drain()
            return await reader.read()
        finally:
            writer.close()

    return await asyncio.wait_for(run(), _EXCHANGE_TIMEOUT_S)


__all__ = ["OPERATIONS", "UserPoolTriggers", "exchange_with"]
