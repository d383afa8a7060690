"""The services engine on loopback: moto started by the first request through the relay,
supervised, and a clear answer in the SDK's terms when it cannot start."""

from __future__ import annotations

import asyncio
import sys
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from canaria.services import ServicesEngine


def client(engine: ServicesEngine, service: str) -> Any:
    return boto3.client(
        service,
        endpoint_url=engine.endpoint,
        region_name="us-east-1",
        aws_access_key_id="test",
        aws_secret_access_key="test",
        config=Config(retries={"max_attempts": 1}),
    )


async def test_the_first_request_starts_the_engine_and_later_ones_reuse_it() -> None:
    engine = ServicesEngine()
    try:
        await engine.listen()
        assert not engine.running  # listening costs nothing until a function calls

        def roundtrip() -> bytes:
            s3 = client(engine, "s3")
            s3.create_bucket(Bucket="lazy-bucket")
            # over 1 MB: botocore sends Expect: 100-continue through the relay
            s3.put_object(Bucket="lazy-bucket", Key="k", Body=b"x" * 3_000_000)
            body: bytes = s3.get_object(Bucket="lazy-bucket", Key="k")["Body"].read()
            return body

        assert await asyncio.to_thread(roundtrip) == b"x" * 3_000_000
        assert engine.running
        first = engine.engine_endpoint

        def queue() -> str:
            sqs = client(engine, "sqs")
            url = sqs.create_queue(QueueName="q")["QueueUrl"]
            sqs.send_message(QueueUrl=url, MessageBody="m")
            got = sqs.receive_message(QueueUrl=url)
            return str(got["Messages"][0]["Body"])

        assert await asyncio.to_thread(queue) == "m"
        assert engine.engine_endpoint == first and engine.restarts == 0
    finally:
        await engine.stop()
    assert not engine.running


@pytest.mark.parametrize(
    ("service", "call"),
    [
        ("s3", lambda c: c.list_buckets()),  # REST-XML
        ("sqs", lambda c: c.list_queues()),  # JSON
        ("sns", lambda c: c.list_topics()),  # query
    ],
)
async def test_an_engine_that_cannot_start_is_named_in_the_sdks_error(
    service: str, call: Any
) -> None:
    engine = ServicesEngine(command=(sys.executable, "-c", "import sys; sys.exit(3)"))
    try:
        await engine.listen()

        def attempt() -> ClientError:
            with pytest.raises(ClientError) as info:
                call(client(engine, service))
            return info.value

        err = await asyncio.to_thread(attempt)
        assert err.response["Error"]["Code"] == "ServiceUnavailable"
        message = err.response["Error"]["Message"]
        assert f"canaria could not serve {service}" in message
        assert "exited at start" in message
    finally:
        await engine.stop()
