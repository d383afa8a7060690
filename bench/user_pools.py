"""What the user pools' triggers cost around the services engine's calls.

    .venv/bin/python bench/user_pools.py [--calls 200] [--runs 5]

One services engine (moto behind canaria's relay) with a user pool and an app client of a
template, called with boto3 as a function's SDK calls it. The triggers' function is an
in-process one that answers at once (what is measured is canaria's work around moto's:
reading the request, the extra calls to moto, the event; no worker), and each case's
median ms per call over ``--runs`` runs is printed with its ratio to the reference of the
same run:

- ``SQS ListQueues, no pool has triggers``: the relay forwarding bytes (the reference);
- ``SQS ListQueues, a pool has triggers``: the same while the relay reads each request's
  head to find Cognito's (a call of another service is forwarded as before);
- ``SignUp, no trigger``: a sign-up forwarded to moto (the reference for the next);
- ``SignUp, PreSignUp trigger``: the trigger's event built and its answer read;
- ``SignUp, PreSignUp auto-confirming``: plus moto's ``AdminConfirmSignUp`` and the
  answer rewritten (``UserConfirmed: true``).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import boto3
from botocore import UNSIGNED
from botocore.config import Config

from canaria.models import InvokeResult
from canaria.services.engine import ServicesEngine
from canaria.services.provision import provision
from canaria.services.user_pool_triggers import UserPoolTriggers
from canaria.template import load

TEMPLATE = """\
Transform: AWS::Serverless-2016-10-31
Resources:
  Plain:
    Type: AWS::Cognito::UserPool
    Properties: {UserPoolName: plain}
  PlainClient:
    Type: AWS::Cognito::UserPoolClient
    Properties: {UserPoolId: !Ref Plain}
  Triggered:
    Type: AWS::Cognito::UserPool
    Properties:
      UserPoolName: triggered
      LambdaConfig: {PreSignUp: !GetAtt Gate.Arn}
  TriggeredClient:
    Type: AWS::Cognito::UserPoolClient
    Properties: {UserPoolId: !Ref Triggered}
  Gate:
    Type: AWS::Serverless::Function
    Properties: {Handler: app.handler, Runtime: python3.11, CodeUri: src}
"""
PASSWORD = "Correct-Horse-9-battery"


class Instant:
    """The trigger's function: answers at once, confirming users when told to."""

    confirm = False

    async def __call__(self, function: str, event: bytes) -> InvokeResult:
        answer = json.loads(event)
        answer["response"]["autoConfirmUser"] = self.confirm
        return InvokeResult(json.dumps(answer).encode(), 1, "bench", 0.1)


def per_call_ms(calls: int, call: Callable[[int], Any]) -> float:
    start = time.perf_counter()
    for i in range(calls):
        call(i)
    return (time.perf_counter() - start) / calls * 1e3


async def run(calls: int, runs: int) -> dict[str, list[float]]:
    root = Path(tempfile.mkdtemp(prefix="bench-user-pools-"))
    (root / "src").mkdir()
    (root / "template.yaml").write_text(TEMPLATE)
    app = load(str(root / "template.yaml"))
    gate = Instant()
    engine = ServicesEngine()
    triggers = UserPoolTriggers(gate)
    engine.triggers = triggers
    await engine.listen()
    await engine.ensure_running()
    await provision(engine.engine_endpoint, app.services)
    keys = {"aws_access_key_id": "bench", "aws_secret_access_key": "bench"}
    sqs = boto3.client("sqs", endpoint_url=engine.endpoint, region_name="us-east-1", **keys)
    public = boto3.client(
        "cognito-idp",
        endpoint_url=engine.endpoint,
        region_name="us-east-1",
        config=Config(signature_version=UNSIGNED),
    )
    plain = app.services["PlainClient"].id  # type: ignore[union-attr]
    triggered = app.services["TriggeredClient"].id  # type: ignore[union-attr]
    users = iter(range(10**9))

    def sign_up(client: str) -> Callable[[int], Any]:
        return lambda _: public.sign_up(
            ClientId=client, Username=f"u{next(users)}@example.com", Password=PASSWORD
        )

    out: dict[str, list[float]] = {}
    try:
        for _ in range(runs):
            for name, active, call in (
                ("SQS ListQueues, no pool has triggers", False, lambda _: sqs.list_queues()),
                ("SQS ListQueues, a pool has triggers", True, lambda _: sqs.list_queues()),
                ("SignUp, no trigger", True, sign_up(plain)),
                ("SignUp, PreSignUp trigger", True, sign_up(triggered)),
                ("SignUp, PreSignUp auto-confirming", True, sign_up(triggered)),
            ):
                triggers.configure(app.services if active else {})
                gate.confirm = name.endswith("auto-confirming")
                ms = await asyncio.to_thread(per_call_ms, calls, call)
                out.setdefault(name, []).append(ms)
    finally:
        await engine.stop()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--calls", type=int, default=200)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    results = asyncio.run(run(args.calls, args.runs))
    print("| call | ms per call (median) | × reference |")
    print("|---|---:|---:|")
    reference = 0.0
    for name, samples in results.items():
        median = statistics.median(samples)
        if name.endswith("no pool has triggers") or name.endswith("no trigger"):
            reference = median
        print(f"| {name} | {median:.2f} | {median / reference:.2f} |")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
