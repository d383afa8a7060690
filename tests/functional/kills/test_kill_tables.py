"""kill -9 of `canaria up` while it supervises dynalite: the next start must serve the
same table. Before, dynalite outlived canaria, kept its LevelDB lock, and the next `up`
failed with a connection error."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.functional.harness import Canaria, alive

TEMPLATE = """\
AWSTemplateFormatVersion: "2010-09-09"
Transform: AWS::Serverless-2016-10-31
Resources:
  Notes:
    Type: AWS::DynamoDB::Table
    Properties:
      TableName: notes
      BillingMode: PAY_PER_REQUEST
      AttributeDefinitions: [{AttributeName: id, AttributeType: S}]
      KeySchema: [{AttributeName: id, KeyType: HASH}]
  Echo:
    Type: AWS::Serverless::Function
    Properties:
      Handler: app.handler
      Runtime: python3.11
      CodeUri: src
"""

HANDLER = """\
import boto3

table = boto3.resource("dynamodb").Table("notes")


def handler(event, context):
    if event["op"] == "put":
        table.put_item(Item={"id": event["id"]})
        return {}
    return table.get_item(Key={"id": event["id"]}).get("Item")
"""


@pytest.fixture
def app(tmp_path: Path) -> Path:
    (tmp_path / "app" / "src").mkdir(parents=True)
    (tmp_path / "app" / "template.yaml").write_text(TEMPLATE)
    (tmp_path / "app" / "src" / "app.py").write_text(HANDLER)
    return tmp_path / "app" / "template.yaml"


def dynalite_pids(parent: int) -> list[int]:
    out = subprocess.run(
        ["pgrep", "-P", str(parent), "-f", "dynalite"], capture_output=True, text=True
    ).stdout
    return [int(p) for p in out.split()]


@pytest.fixture
def server(app: Path, tmp_path: Path) -> Iterator[Canaria]:
    c = Canaria(app, tmp_path / "state")
    yield c
    if c.proc is not None and c.proc.poll() is None:
        c.kill()


def test_sigkill_of_canaria_alone_then_up_again_serves_the_table(server: Canaria) -> None:
    server.start()
    _notes(server, "put", "kept")
    assert server.proc is not None
    engines = dynalite_pids(server.proc.pid)
    assert engines, "dynalite was not started"
    # SIGKILL only canaria: its children get no signal from us
    os.kill(server.proc.pid, signal.SIGKILL)
    server.proc.wait()
    deadline = time.monotonic() + 30
    while any(alive(p) for p in engines) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not any(alive(p) for p in engines), "dynalite outlived canaria"
    server.start()
    assert _notes(server, "get", "kept") == {"id": "kept"}


def _notes(c: Canaria, op: str, key: str) -> dict[str, object]:
    """Through a function, as a user's code reaches the table."""
    answer = c.aws("lambda").invoke(
        FunctionName="Echo", Payload=json.dumps({"op": op, "id": key}).encode()
    )
    assert "FunctionError" not in answer, answer["Payload"].read()
    return json.loads(answer["Payload"].read())  # type: ignore[no-any-return]


async def test_a_dynalite_left_by_an_earlier_run_is_reaped_on_start(tmp_path: Path) -> None:
    """The pidfile guard on its own: a dynalite that did outlive its canaria (no death
    signal on that platform) holds the data directory's lock; the next start stops it."""
    from canaria.models import TableSpec
    from canaria.tables import DynamoEngine
    from canaria.tables.engine import dynalite_script

    state = tmp_path / "state"
    data = state / "dynamodb"
    data.mkdir(parents=True)
    script = dynalite_script()
    assert script is not None
    leftover = subprocess.Popen(
        ["node", str(script), "--port", "0", "--host", "127.0.0.1", "--path", str(data)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    unrelated = subprocess.Popen(["sleep", "60"])
    try:
        (data / "engine.pid").write_text(f"{leftover.pid}\n")
        engine = DynamoEngine(str(state), "AKID", "secret")
        await engine.start()
        try:
            spec = TableSpec(
                "Notes",
                "notes",
                {
                    "AttributeDefinitions": [{"AttributeName": "id", "AttributeType": "S"}],
                    "KeySchema": [{"AttributeName": "id", "KeyType": "HASH"}],
                    "BillingMode": "PAY_PER_REQUEST",
                },
            )
            assert await engine.ensure_tables({"Notes": spec}) == ["notes"]
            assert leftover.wait(timeout=10) == -signal.SIGKILL
            # a pidfile naming a process that is not this data directory's dynalite
            (data / "engine.pid").write_text(f"{unrelated.pid}\n")
            from canaria.tables.engine import reap_stale_engine

            assert reap_stale_engine(data / "engine.pid", data) is None
            assert unrelated.poll() is None
        finally:
            await engine.stop()
    finally:
        for p in (leftover, unrelated):
            if p.poll() is None:
                p.kill()
                p.wait()
