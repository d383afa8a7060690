"""The user pools' triggers around the engine's Cognito operations, without the engine:
what reaches the engine, and Cognito's answers when a trigger fails or cannot run. (The
functional tests run them against moto through `canaria up`.)"""

from __future__ import annotations

import json
from typing import Any

from joserfc import jwt
from joserfc.jwk import RSAKey

from canaria.errors import Throttled
from canaria.models import InvokeResult, UserPoolClientSpec, UserPoolSpec
from canaria.services.user_pool_keys import engine_token_keys
from canaria.services.user_pool_triggers import UserPoolTriggers

POOL = UserPoolSpec("Users", "users", "us-east-1_pool", triggers={"PreSignUp": "Gate"})
PLAIN = UserPoolSpec("Plain", "plain", "us-east-1_plain")
CLIENT = UserPoolClientSpec("Web", POOL.id, "web", "client-1")
PLAIN_CLIENT = UserPoolClientSpec("PlainWeb", PLAIN.id, "plain-web", "client-2")
SIGN_UP = "AWSCognitoIdentityProviderService.SignUp"
SIGNED_UP = (
    b"HTTP/1.1 200 OK\r\ncontent-type: application/x-amz-json-1.1\r\n\r\n"
    b'{"UserConfirmed": false, "UserSub": "s-1"}'
)


class Engine:
    """What the relay would hand: the requests sent, a canned answer to each."""

    def __init__(self) -> None:
        self.sent: list[bytes] = []

    async def __call__(self, request: bytes) -> bytes:
        self.sent.append(request)
        return SIGNED_UP


def head(target: str, body: bytes) -> bytes:
    return (
        f"POST / HTTP/1.1\r\nX-Amz-Target: {target}\r\nContent-Length: {len(body)}\r\n\r\n".encode()
    )


def sign_up(client: str = CLIENT.id) -> bytes:
    return json.dumps({"ClientId": client, "Username": "ann@example.com", "Password": "p"}).encode()


def answer_of(raw: bytes) -> tuple[int, dict[str, Any]]:
    status = int(raw.split(b" ", 2)[1])
    return status, json.loads(raw.partition(b"\r\n\r\n")[2])


def failing(payload: dict[str, Any]) -> Any:
    async def invoke(function: str, event: bytes) -> InvokeResult:
        return InvokeResult(json.dumps(payload).encode(), 1, "r", 1.0, function_error="Unhandled")

    return invoke


async def test_a_failing_trigger_fails_the_call_and_nothing_reaches_the_engine() -> None:
    triggers = UserPoolTriggers(failing({"errorMessage": "Task timed out after 3.00 seconds"}))
    triggers.configure({"Users": POOL, "Web": CLIENT})
    engine = Engine()
    body = sign_up()
    status, error = answer_of(await triggers.serve(SIGN_UP, head(SIGN_UP, body), body, engine))
    assert (status, error) == (
        400,
        {
            "__type": "UserLambdaValidationException",
            "message": "PreSignUp failed with error Task timed out after 3.00 seconds.",
        },
    )
    assert engine.sent == []


async def test_a_trigger_that_cannot_be_invoked_answers_unexpected_lambda_exception() -> None:
    async def throttled(function: str, event: bytes) -> InvokeResult:
        raise Throttled("Rate Exceeded.")

    triggers = UserPoolTriggers(throttled)
    triggers.configure({"Users": POOL, "Web": CLIENT})
    body = sign_up()
    raw = await triggers.serve(SIGN_UP, head(SIGN_UP, body), body, Engine())
    assert answer_of(raw) == (
        400,
        {
            "__type": "UnexpectedLambdaException",
            "message": "PreSignUp invocation failed: Rate Exceeded.",
        },
    )


async def test_a_pool_without_triggers_and_a_body_that_is_not_json_go_through_untouched() -> None:
    triggers = UserPoolTriggers(failing({"errorMessage": "never run"}))
    triggers.configure({"Users": POOL, "Web": CLIENT, "Plain": PLAIN, "PlainWeb": PLAIN_CLIENT})
    assert triggers.active and triggers.wants(SIGN_UP)
    assert not triggers.wants("AWSCognitoIdentityProviderService.ListUsers")
    assert not triggers.wants("AmazonSQS.ListQueues")
    for body in (sign_up(PLAIN_CLIENT.id), b"{not json", sign_up("unknown-client")):
        engine = Engine()
        raw = await triggers.serve(SIGN_UP, head(SIGN_UP, body), body, engine)
        assert raw == SIGNED_UP
        assert engine.sent == [head(SIGN_UP, body) + body]  # byte for byte


async def test_no_pool_with_triggers_leaves_the_relay_alone() -> None:
    triggers = UserPoolTriggers(failing({}))
    triggers.configure({"Plain": PLAIN, "PlainWeb": PLAIN_CLIENT})
    assert not triggers.active


class SignInEngine:
    """An engine that signs ann in (one ID token with groups) and knows her."""

    def __init__(self) -> None:
        key = RSAKey.generate_key(2048, parameters={"kid": "dummy"})
        claims = {"sub": "s-1", "cognito:username": "s-1", "email": "ann@example.com"}
        claims |= {"cognito:groups": ["admins"], "token_use": "id", "exp": 2_000_000_000}
        self.id_token = jwt.encode({"alg": "RS256", "kid": "dummy"}, claims, key)

    async def __call__(self, request: bytes) -> bytes:
        if b"AdminGetUser" in request.partition(b"\r\n\r\n")[0]:
            body = {"Username": "s-1", "UserAttributes": [{"Name": "email", "Value": "a"}]}
        else:
            body = {"AuthenticationResult": {"IdToken": self.id_token, "AccessToken": "a"}}
        return b"HTTP/1.1 200 OK\r\n\r\n" + json.dumps(body).encode()


async def test_pre_token_generation_leaves_reserved_claims_and_can_remove_the_groups() -> None:
    async def trigger(function: str, event: bytes) -> InvokeResult:
        got = json.loads(event)
        assert got["triggerSource"] == "TokenGeneration_Authentication"
        assert got["request"]["groupConfiguration"]["groupsToOverride"] == ["admins"]
        got["response"]["claimsOverrideDetails"] = {
            "claimsToAddOrOverride": {"tenant": "acme", "iss": "https://elsewhere"},
            "claimsToSuppress": ["email", "token_use"],
            "groupOverrideDetails": {"groupsToOverride": []},
        }
        return InvokeResult(json.dumps(got).encode(), 1, "r", 1.0)

    pool = UserPoolSpec("Users", "users", "us-east-1_pool", triggers={"PreTokenGeneration": "G"})
    triggers = UserPoolTriggers(trigger)
    triggers.configure({"Users": pool, "Web": CLIENT})
    target = "AWSCognitoIdentityProviderService.InitiateAuth"
    body = json.dumps(
        {
            "ClientId": CLIENT.id,
            "AuthFlow": "USER_PASSWORD_AUTH",
            "AuthParameters": {"USERNAME": "ann@example.com", "PASSWORD": "p"},
        }
    ).encode()
    status, answer = answer_of(
        await triggers.serve(target, head(target, body), body, SignInEngine())
    )
    assert status == 200
    token = answer["AuthenticationResult"]["IdToken"]
    claims = jwt.decode(token, engine_token_keys(), algorithms=["RS256"]).claims
    assert claims["tenant"] == "acme"
    assert "email" not in claims and "cognito:groups" not in claims
    assert claims["token_use"] == "id" and "iss" not in claims  # reserved: left as they were
