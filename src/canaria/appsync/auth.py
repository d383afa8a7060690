"""Who may call a GraphQL API, as AppSync decides it from the API's authorization modes
(the default one and the additional ones; any one of them lets a request in, and then each
field it selects must allow that mode: ``canaria.appsync.execute`` applies the schema's
``@aws_api_key``, ``@aws_iam``, ``@aws_cognito_user_pools``, ``@aws_oidc`` and
``@aws_lambda`` directives):

- ``API_KEY``: the ``x-api-key`` header is one of the API's keys; ``ctx.identity`` is
  ``null``.
- ``AWS_IAM``: a SigV4 signature (service ``appsync``) by keys canaria issued, checked as
  the edge checks one (``canaria.sigv4``); ``ctx.identity`` names the caller.
- ``AMAZON_COGNITO_USER_POOLS``: the ``Authorization`` header is a token of one of the
  template's user pools, its signature checked with the pool's keys and its expiry on
  canaria's clock; ``ctx.identity`` has its ``sub``, ``username``, ``claims`` and
  ``groups``.
- ``AWS_LAMBDA``: the authorizer function is invoked (through the alias or version its
  ARN names) with AppSync's event; ``isAuthorized`` decides, ``resolverContext`` is
  ``ctx.identity.resolverContext``, ``deniedFields`` answer ``null`` with an error; its
  answer is kept for ``ttlOverride`` seconds (else the config's
  ``AuthorizerResultTtlInSeconds``, 300 by default) on canaria's clock, per token.
- ``OPENID_CONNECT``: any ``Authorization`` header is taken, its JWT claims read without
  checking (the provider's keys are elsewhere; a warning when the template loads).

A refusal is AppSync's 401 ``UnauthorizedException`` with AppSync's message.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, NamedTuple

from canaria.auth import Keyring
from canaria.clock import Clock
from canaria.gateway.authorizers import TokenKeys, decode_jwt
from canaria.models.appsync import API_KEY, AWS_IAM, GraphQLApiSpec
from canaria.models.arns import ACCOUNT
from canaria.models.runtime import InvokeResult
from canaria.sigv4 import credential_scope, verify

COGNITO = "AMAZON_COGNITO_USER_POOLS"
LAMBDA = "AWS_LAMBDA"
OIDC = "OPENID_CONNECT"
NOT_AUTHORIZED = "You are not authorized to make this call."
NO_HEADER = "Valid authorization header not provided."
MAX_REMEMBERED = 4096

Invoke = Callable[[str, str | None, bytes], Awaitable[InvokeResult]]


class Caller(NamedTuple):
    """Who a request comes from: ``ctx.identity``, the authorization mode that let it in,
    and the fields a Lambda authorizer denied it (``Type.field``)."""

    identity: Any
    mode: str
    denied: frozenset[str] = frozenset()


class Refused(Exception):
    """The request is not let in; the message is AppSync's."""


class Authorizer:
    """The authorization of every served API (the Lambda authorizers' answers kept)."""

    def __init__(
        self,
        clock: Clock,
        invoke: Invoke,
        keyring: Keyring | None,
        token_keys: TokenKeys | None,
    ) -> None:
        self._clock = clock
        self._invoke = invoke
        self._keyring = keyring
        self._token_keys = token_keys
        self._answers: dict[tuple[str, str], tuple[float, Caller]] = {}  # (api, token) ->

    async def identity(
        self,
        spec: GraphQLApiSpec,
        headers: Mapping[str, str],
        *,
        method: str = "POST",
        url: str = "",
        body: bytes = b"",
        request: Mapping[str, Any] | None = None,
        source_ip: str = "",
    ) -> Caller:
        """Who a request comes from (``request``: the GraphQL request, for a Lambda
        authorizer's event), when one of the API's modes lets it in; raises ``Refused``."""
        authorization = headers.get("authorization", "")
        key = headers.get("x-api-key")
        if key is not None and API_KEY in spec.auth:
            if key in spec.api_keys.values():
                return Caller(None, API_KEY)
            raise Refused(NOT_AUTHORIZED)
        if authorization.startswith("AWS4-HMAC-SHA256") and AWS_IAM in spec.auth:
            return Caller(self._signed(method, url, headers, body, source_ip), AWS_IAM)
        if not authorization:
            raise Refused(NO_HEADER)
        if COGNITO in spec.auth:
            found = self._cognito(authorization, source_ip)
            if found is not None:
                return Caller(found, COGNITO)
        if LAMBDA in spec.auth and spec.authorizer is not None:
            return await self._lambda(spec, authorization, headers, request or {})
        if OIDC in spec.auth:
            claims = decode_jwt(authorization.removeprefix("Bearer ").strip()) or {}
            identity = {
                "claims": claims,
                "sub": claims.get("sub"),
                "issuer": claims.get("iss"),
                "sourceIp": [source_ip],
            }
            return Caller(identity, OIDC)
        raise Refused(NOT_AUTHORIZED)

    def _signed(
        self, method: str, url: str, headers: Mapping[str, str], body: bytes, source_ip: str
    ) -> dict[str, Any]:
        keyring = self._keyring
        scope = credential_scope(headers.get("authorization", ""))
        if keyring is None or scope is None:
            raise Refused(NOT_AUTHORIZED)
        if scope[1] != "appsync":
            raise Refused("Credential should be scoped to correct service: 'appsync'.")

        def secret_for(access_key: str) -> str | None:
            found = keyring.by_access_key(access_key)
            return found[1] if found else None

        problem, access_key = verify(method, url, headers, body, secret_for, now=self._clock.now())
        if problem is not None:
            raise Refused(problem)
        found = keyring.by_access_key(access_key)
        return {
            "accountId": ACCOUNT,
            "cognitoIdentityPoolId": None,
            "cognitoIdentityId": None,
            "sourceIp": [source_ip],
            "username": found[0].caller_id(access_key) if found else access_key,
            "userArn": found[0].arn if found else "",
            "cognitoIdentityAuthType": None,
            "cognitoIdentityAuthProvider": None,
        }

    def _cognito(self, token: str, source_ip: str) -> dict[str, Any] | None:
        """The identity a token of one of the template's user pools gives, else None."""
        claims = decode_jwt(token)
        if claims is None or self._token_keys is None or not self._token_keys.verified(token):
            return None
        expires = claims.get("exp")
        if isinstance(expires, int | float) and expires <= self._clock.now():
            raise Refused("Token has expired.")
        groups = claims.get("cognito:groups")
        return {
            "sub": claims.get("sub"),
            "issuer": claims.get("iss"),
            "username": claims.get("cognito:username", claims.get("username")),
            "claims": claims,
            "sourceIp": [source_ip],
            "defaultAuthStrategy": "ALLOW",
            "groups": groups if isinstance(groups, list) else None,
        }

    async def _lambda(
        self,
        spec: GraphQLApiSpec,
        token: str,
        headers: Mapping[str, str],
        request: Mapping[str, Any],
    ) -> Caller:
        assert spec.authorizer is not None
        now = self._clock.now()
        kept = self._answers.get((spec.logical_id, token))
        if kept is not None and kept[0] > now:
            return kept[1]
        function = spec.authorizer.function
        if function is None:
            raise Refused(NOT_AUTHORIZED)
        event = {
            "authorizationToken": token,
            "requestContext": {
                "apiId": spec.api_id,
                "accountId": ACCOUNT,
                "requestId": str(uuid.uuid4()),
                "queryString": request.get("query", ""),
                "operationName": request.get("operationName"),
                "variables": request.get("variables") or {},
            },
            "requestHeaders": dict(headers),
        }
        result = await self._invoke(function, spec.authorizer.qualifier, json.dumps(event).encode())
        try:
            answer = json.loads(result.payload) if result.function_error is None else None
        except ValueError:
            answer = None
        if not isinstance(answer, dict) or answer.get("isAuthorized") is not True:
            raise Refused(NOT_AUTHORIZED)
        denied = answer.get("deniedFields") or []
        caller = Caller(
            {"resolverContext": answer.get("resolverContext") or {}},
            LAMBDA,
            frozenset(_field_of(d) for d in denied if isinstance(d, str)),
        )
        ttl = answer.get("ttlOverride")
        ttl_s = float(ttl) if isinstance(ttl, int | float) and ttl >= 0 else spec.authorizer_ttl_s
        if ttl_s > 0:
            if len(self._answers) >= MAX_REMEMBERED:
                self._answers.pop(next(iter(self._answers)))
            self._answers[(spec.logical_id, token)] = (now + ttl_s, caller)
        return caller


def _field_of(denied: str) -> str:
    """A ``deniedFields`` entry as ``Type.field``: it may be written so, or as the field's
    ARN (``arn:aws:appsync:…:apis/<id>/types/<Type>/fields/<field>``)."""
    if "/types/" in denied and "/fields/" in denied:
        type_name = denied.split("/types/", 1)[1].split("/", 1)[0]
        return f"{type_name}.{denied.rsplit('/fields/', 1)[1]}"
    return denied
