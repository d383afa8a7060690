"""The DynamoDB port: in every function's environment from canaria's start, so held by
canaria from then on and served by its front; dynalite listens behind it on a port of its
own."""

from __future__ import annotations

import asyncio
import errno
import socket
from pathlib import Path

from canaria.tables import DynamoEngine


def bind_error(port: int) -> int | None:
    """What binding ``port`` gives another socket (with SO_REUSEADDR, as servers bind, so
    a closed connection's TIME_WAIT does not count)."""
    with socket.socket() as other:
        other.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            other.bind(("127.0.0.1", port))
        except OSError as exc:
            return exc.errno
    return None


async def test_the_port_is_held_from_the_start_and_dynalite_starts_on_the_first_request(
    tmp_path: Path,
) -> None:
    engine = DynamoEngine(str(tmp_path), "key", "secret")
    try:
        assert bind_error(engine.port) == errno.EADDRINUSE  # held before the first table
        await engine.listen()
        assert not engine.running
        # the first request starts dynalite (a function calling DynamoDB without tables)
        names = await asyncio.to_thread(lambda: engine.client().list_tables()["TableNames"])
        assert names == [] and engine.running
        assert engine.engine_port is not None and engine.engine_port != engine.port
        assert bind_error(engine.port) == errno.EADDRINUSE
    finally:
        await engine.stop()
    assert bind_error(engine.port) is None


async def test_a_stopped_engine_lets_its_port_go_without_having_started(tmp_path: Path) -> None:
    engine = DynamoEngine(str(tmp_path), "key", "secret")
    await engine.stop()
    assert bind_error(engine.port) is None
