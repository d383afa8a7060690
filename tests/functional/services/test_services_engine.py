"""The services engine on loopback: moto started by the first request through the relay,
supervised, and a clear answer in the SDK's terms when it cannot start."""

from __future__ import annotations

import asyncio
import errno
import socket
import sys
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from canaria.services import ServicesEngine
from canaria.services.engine import EngineError


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


async def test_the_relays_port_is_held_from_the_start() -> None:
    """Functions are given the relay's port before it listens: nothing else may bind it
    in between (a Runtime API listener binding port 0 once got it, and `up` failed)."""
    engine = ServicesEngine()
    try:
        with socket.socket() as other, pytest.raises(OSError) as info:
            other.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            other.bind(("127.0.0.1", engine.port))
        assert info.value.errno == errno.EADDRINUSE
    finally:
        await engine.stop()
    with socket.socket() as other:
        other.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        other.bind(("127.0.0.1", engine.port))  # let go when stopped


# stands in for moto: says its port is taken the first ``taken`` times it starts, then
# serves HTTP on the port it is given (``-p PORT``, appended by the engine)
FLAKY_BIND = """\
import http.server, pathlib, sys
starts = pathlib.Path(sys.argv[1])
taken = int(sys.argv[2])
n = int(starts.read_text() or 0) if starts.exists() else 0
starts.write_text(str(n + 1))
if n < taken:
    sys.exit("OSError: [Errno 98] Address already in use")
port = int(sys.argv[sys.argv.index("-p") + 1])
http.server.HTTPServer(("127.0.0.1", port), http.server.BaseHTTPRequestHandler).serve_forever()
"""


async def test_an_engine_whose_port_was_taken_starts_on_another(tmp_path: Path) -> None:
    starts = tmp_path / "starts"
    engine = ServicesEngine(command=(sys.executable, "-c", FLAKY_BIND, str(starts), "2"))
    try:
        await engine.ensure_running()
        assert engine.running and starts.read_text() == "3"
        assert engine.restarts == 0  # a start that was retried, not a restart
    finally:
        await engine.stop()


async def test_an_engine_whose_port_is_always_taken_says_so(tmp_path: Path) -> None:
    starts = tmp_path / "starts"
    engine = ServicesEngine(command=(sys.executable, "-c", FLAKY_BIND, str(starts), "99"))
    try:
        with pytest.raises(EngineError, match="found its port taken 3 times"):
            await engine.ensure_running()
        assert not engine.running
    finally:
        await engine.stop()


async def test_a_broken_http2_connection_is_ended_and_the_relay_goes_on() -> None:
    engine = ServicesEngine()
    try:
        await engine.listen()

        def broken() -> bytes:
            with socket.create_connection(("127.0.0.1", engine.port), timeout=30) as s:
                s.sendall(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n")
                s.sendall(b"\x00\x00\x00\x04\x00\x00\x00\x00\x00")  # SETTINGS, empty
                s.sendall(b"\x00\x00\x01\x00\x00\x00\x00\x00\x00x")  # DATA on stream 0
                got = b""
                while chunk := s.recv(65536):
                    got += chunk
                return got

        answered = await asyncio.to_thread(broken)
        # HTTP/2 frames: the server's SETTINGS, then a GOAWAY (type 7) with PROTOCOL_ERROR (1)
        frames, at = [], 0
        while at + 9 <= len(answered):
            length = int.from_bytes(answered[at : at + 3], "big")
            frames.append((answered[at + 3], answered[at + 9 : at + 9 + length]))
            at += 9 + length
        goaways = [payload for kind, payload in frames if kind == 7]
        assert goaways and int.from_bytes(goaways[0][4:8], "big") == 1, frames

        def queue() -> str:
            sqs = client(engine, "sqs")
            return str(sqs.create_queue(QueueName="after")["QueueUrl"])

        assert (await asyncio.to_thread(queue)).endswith("/after")
    finally:
        await engine.stop()
