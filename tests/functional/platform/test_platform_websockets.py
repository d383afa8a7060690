"""examples/chat through a real `canaria up`, as the README's walkthrough runs it: clients
connect over WebSocket (the ``websockets`` library), messages are broadcast by a Python
function through the API Gateway Management API at the endpoint its event names, and a
canary of a failing SendMessage is rolled back by the judge on WebSocket traffic."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from canaria.auth import access_key_id, secret_access_key
from tests.functional.harness import Canaria, copy_example

pytestmark = pytest.mark.slow


@pytest.fixture
def chat(tmp_path: Path) -> Iterator[Canaria]:
    app = copy_example("chat", tmp_path)
    c = Canaria(app / "template.yaml", tmp_path / "state", clock="real").start()
    yield c
    c.stop()


def management(c: Canaria) -> Any:
    """The operator's Management API client, at the endpoint `up` prints."""
    return boto3.client(
        "apigatewaymanagementapi",
        endpoint_url=f"http://127.0.0.1:{c.control_port}/Prod",
        region_name="us-east-1",
        aws_access_key_id=access_key_id(c.token()),
        aws_secret_access_key=secret_access_key(c.token()),
    )


async def said(ws: ClientConnection, timeout: float = 30) -> Any:
    return await asyncio.wait_for(ws.recv(), timeout)


def send(data: str) -> str:
    return json.dumps({"action": "sendmessage", "data": data})


def connection_ids(c: Canaria) -> list[str]:
    """The connection ids $connect stored (the example's table, through DynamoDB)."""
    ddb = c.env_client("dynamodb", "AWS_ENDPOINT_URL_DYNAMODB")
    (table,) = [t for t in ddb.list_tables()["TableNames"] if t.endswith("Connections")]
    return sorted(i["connectionId"]["S"] for i in ddb.scan(TableName=table)["Items"])


async def eventually_async(check: Any, what: str, deadline_s: float = 30.0) -> Any:
    for _ in range(int(deadline_s / 0.05)):
        found = await asyncio.to_thread(check)
        if found:
            return found
        await asyncio.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


async def conversation(c: Canaria) -> None:
    url = f"ws://127.0.0.1:{c.port}/Prod"
    api = management(c)
    async with connect(url) as ana, connect(url) as bo:
        await ana.send(send("hello from ana"))
        assert await said(ana) == "hello from ana"
        assert await said(bo) == "hello from ana"
        await bo.send("what now?")  # not JSON: $default, a two-way route
        assert json.loads(await said(bo))["use"] == {"action": "sendmessage", "data": "..."}

        # the operator's Management API reaches the same connections
        ids = await asyncio.to_thread(connection_ids, c)
        assert len(ids) == 2
        for cid in ids:
            described = await asyncio.to_thread(api.get_connection, ConnectionId=cid)
            assert described["Identity"]["SourceIp"] == "127.0.0.1"
            await asyncio.to_thread(api.post_to_connection, ConnectionId=cid, Data=f"to {cid}")
        assert {await said(ana), await said(bo)} == {f"to {cid}" for cid in ids}

        # `canaria status` lists the API, its connections and each function's routes
        status = json.loads(c.cli("status", "--json").stdout)
        assert status["websockets"]["ChatApi"]["connections"] == 2
        assert status["websockets"]["ChatApi"]["url"] == url
        routes = status["functions"]["SendMessage"]["websocket_routes"]
        assert routes == [
            {
                "api": "ChatApi",
                "stage": "Prod",
                "route": "sendmessage",
                "two_way": False,
                "authorizer": None,
            }
        ]
        assert f"WebSocket API ChatApi: {url} (2 connections)" in c.cli("status").stdout

        # DeleteConnection closes a client's connection; $disconnect forgets it
        await asyncio.to_thread(api.delete_connection, ConnectionId=ids[0])
        closed = ana if await _is_closed(ana) else bo
        assert closed.close_code == 1000
        await eventually_async(lambda: connection_ids(c) == ids[1:], "$disconnect")
    await eventually_async(lambda: connection_ids(c) == [], "both $disconnects")
    with pytest.raises(ClientError) as gone:
        await asyncio.to_thread(api.post_to_connection, ConnectionId=ids[1], Data=b"late")
    assert gone.value.response["Error"]["Code"] == "GoneException"


async def _is_closed(ws: ClientConnection) -> bool:
    try:
        await asyncio.wait_for(ws.recv(), 2)
    except ConnectionClosed:
        return True
    except TimeoutError:
        return False
    return False


async def canary_under_chat(c: Canaria) -> tuple[str, int, int]:
    """SendMessage v2 deployed while a client chats every 20 ms: (deploy's output,
    messages that came back, "Internal server error" answers)."""
    url = f"ws://127.0.0.1:{c.port}/Prod"
    echoed = errors = 0
    async with connect(url) as ws:

        async def chatter() -> None:
            n = 0
            while True:
                n += 1
                await ws.send(send(f"tick {n}"))
                await asyncio.sleep(0.02)

        async def listen() -> None:
            nonlocal echoed, errors
            async for message in ws:
                if "Internal server error" in str(message):
                    errors += 1
                else:
                    echoed += 1

        tasks = [asyncio.ensure_future(chatter()), asyncio.ensure_future(listen())]
        await asyncio.sleep(1)
        deployed = await asyncio.to_thread(
            c.cli,
            "deploy",
            "-t",
            str(c.template),
            "--parameter-overrides",
            "AppVersion=v2",
            "--wait",
        )
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    return deployed.stdout + deployed.stderr, echoed, errors


def test_the_chat_walkthrough(chat: Canaria) -> None:
    asyncio.run(conversation(chat))
    output, echoed, errors = asyncio.run(canary_under_chat(chat))
    assert "rolled back" in output and "the judge" in output, output
    assert echoed > 0
    assert 1 <= errors <= 10  # the canary's failed messages before the rollback
    assert chat.alias("SendMessage")["version"] == 1
