"""What an authorizer adds to a request in the gateway's handler, in process.

    .venv/bin/python bench/authorizers.py [--requests 20000] [--runs 5]

One ``Handler`` over real ``Routing``, with an in-process invoker whose functions answer
at once (so what is measured is the gateway's own work: no worker, no socket, no HTTP).
Each case sends ``--requests`` sequential requests to one route and reports the median
µs per request over ``--runs`` runs, and its ratio to the unguarded route in the same run:

- ``none``: no authorizer (the reference);
- ``lambda, cached``: a TOKEN authorizer whose answer is cached (``ReauthorizeEvery``
  300 s): the identity read, the cache hit, the policy matched against the methodArn;
- ``lambda, every request``: the same with ``ReauthorizeEvery: 0``: the authorizer's
  event built, its (in-process) invocation recorded, its answer read, on every request;
- ``jwt``: an HTTP API JWT authorizer: the token decoded and its claims checked;
- ``cognito, a token seen before``: a Cognito authorizer over a user pool of the template:
  the token's claims checked and its RS256 signature found already verified (a client
  sends the same token until it expires);
- ``cognito, a new token each request``: the same with a token never seen before on every
  request (the first request of each signed-in user): the signature verified with
  joserfc (2,000 tokens signed outside the timing);
- ``aws_iam``: an ``AWS_IAM`` route: the request's SigV4 signature (botocore's, as a
  client signs it; signed once, outside the timing) checked with the operator's keys;
- ``api key``: a method requiring an API key, the request presenting it;
- ``api key, usage plan``: the same with a usage plan's throttle and quota counted (limits
  no request reaches);
- ``request validator``: a POST whose required header is present and whose 60-byte JSON
  body matches its model (a JSON schema of three typed, required properties).
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import statistics
import time
from dataclasses import replace
from typing import Any

import orjson
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from joserfc import jwt as jose_jwt
from joserfc.jwk import KeySet, RSAKey

from canaria.auth import Keyring
from canaria.clock import RealClock
from canaria.gateway import Handler, Routing
from canaria.gateway.authorizers import TokenKeys
from canaria.gateway.iam import Signatures
from canaria.gateway.responses import HttpResponse
from canaria.gateway.types import Request
from canaria.models import (
    Alias,
    AuthorizerSpec,
    InvokeResult,
    RequestValidation,
    RouteSpec,
    UsageLimits,
    iam_authorizer,
)

JSON = "application/json"
KEYRING = Keyring("the-operator's-token")

ANSWER = orjson.dumps({"statusCode": 200, "body": "hello"})
POLICY = orjson.dumps(
    {
        "principalId": "user",
        "policyDocument": {
            "Version": "2012-10-17",
            "Statement": [{"Action": "execute-api:Invoke", "Effect": "Allow", "Resource": "*"}],
        },
        "context": {"tenant": "acme"},
    }
)


class Instant:
    """Functions that answer at once: ``auth`` with an Allow policy, any other a 200."""

    async def invoke(
        self, function: str, version: int, event: bytes, *, alias: str | None, started: float
    ) -> InvokeResult:
        return InvokeResult(POLICY if function == "auth" else ANSWER, version, "r", 0.1)


class Discard:
    def record(self, *args: Any, **kwargs: Any) -> None:
        pass


class Sink:
    def respond(
        self, req: Request, response: HttpResponse, extra: tuple[str, str], *, early: bool = False
    ) -> None:
        assert response.status == 200, response


def jwt() -> str:
    def part(value: Any) -> str:
        return base64.urlsafe_b64encode(orjson.dumps(value)).decode().rstrip("=")

    claims = {"iss": "https://issuer.example", "aud": "app", "sub": "u", "scope": "read"}
    return f"{part({'alg': 'RS256'})}.{part(claims)}.c2ln"


ISSUER = "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_bench"
POOL = AuthorizerSpec("Pool", "rest", "", ttl_s=0, type="cognito", issuers=(ISSUER,), signed=True)
ENGINE_KEY = RSAKey.generate_key(2048, parameters={"kid": "engine"})


def pool_token(n: int) -> str:
    claims = {"iss": ISSUER, "sub": f"u-{n}", "token_use": "id", "exp": int(time.time()) + 3600}
    return jose_jwt.encode({"alg": "RS256", "kid": "engine"}, claims, ENGINE_KEY)


def engine_keys() -> KeySet:
    return KeySet([RSAKey.import_key(ENGINE_KEY.as_dict(private=False))])


CASES = {
    "none": (None, "x"),
    "lambda, cached": (AuthorizerSpec("Cached", "rest", "auth"), "allow"),
    "lambda, every request": (AuthorizerSpec("Each", "rest", "auth", ttl_s=0), "allow"),
    "jwt": (
        AuthorizerSpec(
            "Jwt",
            "http",
            "",
            payload_type="REQUEST",
            ttl_s=0,
            type="jwt",
            issuer="https://issuer.example",
            audience=("app",),
        ),
        f"Bearer {jwt()}",
    ),
    "cognito, a token seen before": (POOL, "pool"),
    "cognito, a new token each request": (POOL, "new pool tokens"),
    "aws_iam": (iam_authorizer("rest"), None),
    "api key": (None, "key"),
    "api key, usage plan": (None, "metered"),
    "request validator": (None, "validated"),
}
MODEL = orjson.dumps(
    {
        "type": "object",
        "required": ["make", "model", "year"],
        "properties": {
            "make": {"type": "string"},
            "model": {"type": "string"},
            "year": {"type": "integer", "minimum": 2010},
        },
    }
).decode()
VALIDATION = RequestValidation(("header.x-tenant",), (("application/json", MODEL),))
VEHICLE = orjson.dumps({"make": "MINI", "model": "Countryman", "year": 2020, "n": 1})
KEY = ("k" * 40, "abcde12345")
UNREACHED = UsageLimits("Plan", rate=1e6, burst=10**9, quota=10**9)


def signed(path: str) -> list[tuple[str, str]]:
    """The headers of a GET of ``path`` signed with the operator's keys for execute-api."""
    request = AWSRequest(method="GET", url=f"http://localhost{path}")
    keys = Credentials(KEYRING.access_key, KEYRING.secret_key)
    SigV4Auth(keys, "execute-api", "us-east-1").add_auth(request)
    headers = [("Host", "localhost"), ("User-Agent", "bench")]
    return headers + [(k, v) for k, v in request.headers.items() if k.lower() != "host"]


async def run(requests: int, runs: int) -> dict[str, list[float]]:
    routing = Routing()
    specs = []
    for i, (spec, _) in enumerate(CASES.values()):
        kind = "rest" if spec is None or spec.api_kind == "rest" else "http"
        stage = "Prod" if kind == "rest" else "$default"
        route = RouteSpec("GET", f"/r{i}", kind, "Api", stage, "fn", spec)  # type: ignore[arg-type]
        token = CASES[list(CASES)[i]][1]
        if token == "validated":
            route = replace(route, method="POST", validation=VALIDATION)
        if token in ("key", "metered"):
            limits = ((KEY[1], UNREACHED),) if token == "metered" else ()
            route = replace(route, api_keys=(KEY,), api_key_limits=limits)
        specs.append(route)
    routing.set_routes(specs, {"fn": "live"})
    routing.set_alias(Alias("fn", "live", 1))
    routing.set_latest("auth", 1)
    handler = Handler(routing, Instant(), Discard(), RealClock(), signatures=Signatures(KEYRING))
    sink = Sink()
    seen = pool_token(0)
    fresh = [pool_token(n) for n in range(1, min(requests, 2000) + 1)]
    out: dict[str, list[float]] = {name: [] for name in CASES}
    for _ in range(runs):
        for i, (name, (_, token)) in enumerate(CASES.items()):
            headers = [("Host", "localhost"), ("User-Agent", "bench"), ("Authorization", token)]
            if token is None:
                headers = signed(f"/r{i}")
            elif token in ("key", "metered"):
                headers = [("Host", "localhost"), ("User-Agent", "bench"), ("x-api-key", KEY[0])]
            method, body = "GET", b""
            if token == "validated":
                headers = [("Host", "localhost"), ("x-tenant", "t"), ("Content-Type", JSON)]
                method, body = "POST", VEHICLE
            reqs = [Request(method, f"/r{i}", "", headers, body) for _ in range(requests)]
            if token == "pool":
                headers[-1] = ("Authorization", seen)
                reqs = [Request(method, f"/r{i}", "", headers, body) for _ in range(requests)]
            elif token == "new pool tokens":
                reqs = [Request(method, f"/r{i}", "", [("Authorization", t)], body) for t in fresh]
            handler.authorizers.token_keys = TokenKeys(engine_keys)  # remembers no token yet
            handler.authorizers.token_keys.verified(seen)  # its keys read before the timing
            start = time.perf_counter()
            for req in reqs:
                await handler.handle(req, sink)
            out[name].append((time.perf_counter() - start) / len(reqs) * 1e6)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--requests", type=int, default=20_000)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    results = asyncio.run(run(args.requests, args.runs))
    base = statistics.median(results["none"])
    print("| route | µs per request (median) | × unguarded |")
    print("|---|---:|---:|")
    for name, samples in results.items():
        median = statistics.median(samples)
        print(f"| {name} | {median:.1f} | {median / base:.2f} |")


if __name__ == "__main__":
    main()
