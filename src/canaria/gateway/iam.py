"""``AWS_IAM`` authorization: a route (or a function URL) that requires it answers only
requests signed with Signature Version 4 by keys canaria issued.

On AWS, API Gateway checks the signature (credential scope ``execute-api``; ``lambda``
for a function URL) and then the caller's IAM policies. Here the keys are the ones the
edge knows (``canaria.auth.Keyring``): the operator's, which ``canaria env`` exports, and
each function's, which its SDK signs with. The signature is checked as the edge checks it
(``canaria.sigv4``: the 15-minute window, the body's hash). Every key canaria issued may
call every route: canaria does not evaluate IAM policies, as it does not for the edge's
other operations a Lambda execution role would be given.

A request that passes gives its function who signed it, where API Gateway puts it:
``requestContext.identity`` (payload 1.0 and WebSocket events: ``accessKey``,
``accountId``, ``caller``, ``user``, ``userArn``) or ``requestContext.authorizer.iam``
(payload 2.0 and function URLs). A request that does not is answered as AWS answers it:

=============================  =============================================  ============
case                           REST (``Api``)                                 HTTP API,
                                                                              function URL
=============================  =============================================  ============
no ``Authorization`` header    403 Missing Authentication Token               403 Forbidden
a key canaria did not issue    403 The security token included in the
                               request is invalid.
another service's scope        403 Credential should be scoped to correct
                               service: 'execute-api'.
an expired or wrong signature  403 the signature check's message
=============================  =============================================  ============
"""

from __future__ import annotations

import time
from typing import Any

from canaria.auth import Keyring
from canaria.models import AuthorizerSpec
from canaria.models.arns import ACCOUNT
from canaria.sigv4 import credential_scope, verify

from .responses import HttpResponse, json_answer
from .types import Request

# (x-amzn-ErrorType, REST gateway response type) of each refusal's cause
_MISSING = ("MissingAuthenticationTokenException", "MISSING_AUTHENTICATION_TOKEN")
_UNKNOWN_KEY = ("UnrecognizedClientException", "INVALID_SIGNATURE")
_BAD_SIGNATURE = ("InvalidSignatureException", "INVALID_SIGNATURE")
_INCOMPLETE = ("IncompleteSignatureException", "INVALID_SIGNATURE")

_FORBIDDEN_HTTP = json_answer(403, {"message": "Forbidden"})
_FORBIDDEN_URL = json_answer(403, {"Message": "Forbidden"}, "AccessDeniedException")


def _refused(spec: AuthorizerSpec, message: str, cause: tuple[str, str]) -> HttpResponse:
    if spec.service == "lambda":
        return _FORBIDDEN_URL
    if spec.api_kind == "http":
        return _FORBIDDEN_HTTP
    return json_answer(403, {"message": message}, cause[0], cause[1])


class Signatures:
    """Checks the SigV4 signature of requests to ``AWS_IAM`` routes against canaria's keys
    (``None``: no keys, every such request is refused)."""

    def __init__(self, keyring: Keyring | None) -> None:
        self.keyring = keyring

    def _secret(self, access_key: str) -> str | None:
        found = self.keyring.by_access_key(access_key) if self.keyring is not None else None
        return found[1] if found else None

    def check(self, spec: AuthorizerSpec, req: Request) -> dict[str, Any] | HttpResponse:
        """The caller's identity (``{"iam": {...}}``, as payload 2.0 carries it), or the
        answer refusing the request."""
        headers: dict[str, str] = {}
        for name, value in req.headers:
            headers[name.lower()] = value
        authorization = headers.get("authorization")
        if not authorization:
            return _refused(spec, "Missing Authentication Token", _MISSING)
        scope = credential_scope(authorization)
        if scope is None:
            message = (
                "Authorization header requires 'Credential', 'Signature' and 'SignedHeaders' "
                f"parameters of the AWS4-HMAC-SHA256 algorithm. Authorization={authorization}"
            )
            return _refused(spec, message, _INCOMPLETE)
        if scope[1] != spec.service:
            message = f"Credential should be scoped to correct service: '{spec.service}'. "
            return _refused(spec, message, _BAD_SIGNATURE)
        url = f"http://{req.host or '127.0.0.1'}{req.path}"
        if req.query:
            url = f"{url}?{req.query}"
        problem, access_key = verify(
            req.method, url, headers, req.body, self._secret, now=time.time()
        )
        if problem is not None:
            unknown = problem.startswith("The security token")
            return _refused(spec, problem, _UNKNOWN_KEY if unknown else _BAD_SIGNATURE)
        assert self.keyring is not None  # a key verified, so there is a keyring
        found = self.keyring.by_access_key(access_key)
        assert found is not None
        principal = found[0]
        caller = principal.caller_id(access_key)
        return {
            "iam": {
                "accessKey": access_key,
                "accountId": ACCOUNT,
                "callerId": caller,
                "cognitoIdentity": None,
                "principalOrgId": None,
                "userArn": principal.arn,
                "userId": caller,
            }
        }
