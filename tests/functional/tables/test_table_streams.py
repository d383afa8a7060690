"""DynamoDB Streams through canaria's front and real dynalite, with boto3's DynamoDB and
DynamoDB Streams clients: each write to a streamed table is recorded as DynamoDB records
it (or not at all, when it changed nothing or was refused), the Streams API reads the
records back, and they outlive a restart."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config

from canaria.models import TableSpec
from canaria.tables import DynamoEngine, table_stream_arn


def notes(view: str | None = "NEW_AND_OLD_IMAGES", name: str = "notes") -> TableSpec:
    body: dict[str, Any] = {
        "TableName": name,
        "AttributeDefinitions": [
            {"AttributeName": "pk", "AttributeType": "S"},
            {"AttributeName": "sk", "AttributeType": "N"},
        ],
        "KeySchema": [
            {"AttributeName": "pk", "KeyType": "HASH"},
            {"AttributeName": "sk", "KeyType": "RANGE"},
        ],
        "BillingMode": "PAY_PER_REQUEST",
    }
    if view is not None:
        body["StreamSpecification"] = {"StreamEnabled": True, "StreamViewType": view}
    return TableSpec("Notes", name, body)


def client(engine: DynamoEngine, service: str = "dynamodb") -> Any:
    return boto3.client(
        service,
        endpoint_url=engine.endpoint,
        region_name="us-east-1",
        aws_access_key_id="test",
        aws_secret_access_key="test",
        config=Config(retries={"max_attempts": 1}),
    )


async def in_thread(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    return await asyncio.to_thread(lambda: fn(*args, **kwargs))


async def started(state: Path, *specs: TableSpec) -> DynamoEngine:
    engine = DynamoEngine(str(state), "key", "secret")
    await engine.listen()
    await engine.start()
    await engine.ensure_tables({s.table_name: s for s in specs})
    return engine


@pytest.fixture
async def engine(tmp_path: Path) -> AsyncIterator[DynamoEngine]:
    engine = await started(tmp_path, notes(), notes(None, "plain"))
    yield engine
    await engine.stop()


def read_all(engine: DynamoEngine, table: str = "notes", **position: str) -> list[dict[str, Any]]:
    streams = client(engine, "dynamodbstreams")
    arn = streams.list_streams(TableName=table)["Streams"][0]["StreamArn"]
    shards = streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"]
    kind = position.pop("kind", "TRIM_HORIZON")
    iterator = streams.get_shard_iterator(
        StreamArn=arn, ShardId=shards[0]["ShardId"], ShardIteratorType=kind, **position
    )["ShardIterator"]
    got = streams.get_records(ShardIterator=iterator, Limit=1000)
    return list(got["Records"])


def changes(records: list[dict[str, Any]]) -> list[tuple[str, Any, Any]]:
    return [
        (r["eventName"], r["dynamodb"].get("OldImage"), r["dynamodb"].get("NewImage"))
        for r in records
    ]


def item(pk: str, sk: int, **attrs: str) -> dict[str, Any]:
    return {"pk": {"S": pk}, "sk": {"N": str(sk)}, **{k: {"S": v} for k, v in attrs.items()}}


def key(pk: str, sk: int) -> dict[str, Any]:
    return {"pk": {"S": pk}, "sk": {"N": str(sk)}}


async def test_each_write_is_recorded_as_dynamodb_records_it(engine: DynamoEngine) -> None:
    db = client(engine)

    def writes() -> None:
        db.put_item(TableName="notes", Item=item("a", 1, text="hello"))
        db.put_item(TableName="notes", Item=item("a", 1, text="hello"))  # changes nothing
        db.update_item(
            TableName="notes",
            Key=key("a", 1),
            UpdateExpression="SET #t = :t",
            ExpressionAttributeNames={"#t": "text"},
            ExpressionAttributeValues={":t": {"S": "bye"}},
            ReturnValues="UPDATED_NEW",  # the caller's answer is dynalite's, untouched
        )
        with pytest.raises(db.exceptions.ConditionalCheckFailedException):
            db.put_item(
                TableName="notes",
                Item=item("a", 1),
                ConditionExpression="attribute_not_exists(pk)",
            )
        db.delete_item(TableName="notes", Key=key("a", 1))
        db.delete_item(TableName="notes", Key=key("nobody", 1))  # nothing there: no record
        db.batch_write_item(
            RequestItems={
                "notes": [
                    {"PutRequest": {"Item": item("b", 1)}},
                    {"PutRequest": {"Item": item("b", 2)}},
                ],
                "plain": [{"PutRequest": {"Item": item("c", 1)}}],
            }
        )
        db.put_item(TableName="plain", Item=item("c", 2))  # no stream: not recorded

    await in_thread(writes)
    records = await in_thread(read_all, engine)
    hello, bye = item("a", 1, text="hello"), item("a", 1, text="bye")
    assert changes(records) == [
        ("INSERT", None, hello),
        ("MODIFY", hello, bye),
        ("REMOVE", bye, None),
        ("INSERT", None, item("b", 1)),
        ("INSERT", None, item("b", 2)),
    ]
    first = records[0]
    assert first["eventSource"] == "aws:dynamodb" and first["eventVersion"] == "1.1"
    assert first["awsRegion"] == "us-east-1"
    assert first["dynamodb"]["Keys"] == key("a", 1)
    assert first["dynamodb"]["StreamViewType"] == "NEW_AND_OLD_IMAGES"
    sequences = [int(r["dynamodb"]["SequenceNumber"]) for r in records]
    assert sequences == sorted(set(sequences))
    # the Streams API's positions
    after = records[2]["dynamodb"]["SequenceNumber"]
    rest = await in_thread(read_all, engine, kind="AFTER_SEQUENCE_NUMBER", SequenceNumber=after)
    assert rest == records[3:]
    assert await in_thread(read_all, engine, kind="LATEST") == []


async def test_describe_table_names_its_stream(engine: DynamoEngine) -> None:
    db = client(engine)
    table = (await in_thread(db.describe_table, TableName="notes"))["Table"]
    assert table["LatestStreamArn"] == table_stream_arn("notes")
    assert table["StreamSpecification"] == {
        "StreamEnabled": True,
        "StreamViewType": "NEW_AND_OLD_IMAGES",
    }
    plain = (await in_thread(db.describe_table, TableName="plain"))["Table"]
    assert "LatestStreamArn" not in plain
    listed = await in_thread(client(engine, "dynamodbstreams").list_streams)
    assert [s["TableName"] for s in listed["Streams"]] == ["notes"]


async def test_a_view_type_keeps_only_its_images(tmp_path: Path) -> None:
    engine = await started(tmp_path, notes("KEYS_ONLY"), notes("OLD_IMAGE", "olds"))
    try:
        db = client(engine)
        for table in ("notes", "olds"):
            await in_thread(db.put_item, TableName=table, Item=item("a", 1, text="x"))
            await in_thread(db.put_item, TableName=table, Item=item("a", 1, text="y"))
        keys_only = [r["dynamodb"] for r in await in_thread(read_all, engine)]
        assert [set(r) & {"Keys", "NewImage", "OldImage"} for r in keys_only] == [{"Keys"}] * 2
        olds = await in_thread(read_all, engine, "olds")
        assert changes(olds) == [("INSERT", None, None), ("MODIFY", item("a", 1, text="x"), None)]
    finally:
        await engine.stop()


async def test_records_and_their_numbers_outlive_a_restart(tmp_path: Path) -> None:
    engine = await started(tmp_path, notes())
    try:
        await in_thread(client(engine).put_item, TableName="notes", Item=item("a", 1))
        before = await in_thread(read_all, engine)
    finally:
        await engine.stop()
    engine = await started(tmp_path, notes())
    try:
        assert await in_thread(read_all, engine) == before
        await in_thread(client(engine).put_item, TableName="notes", Item=item("a", 2))
        after = await in_thread(read_all, engine)
        assert after[:1] == before and len(after) == 2
        assert int(after[1]["dynamodb"]["SequenceNumber"]) > int(
            before[0]["dynamodb"]["SequenceNumber"]
        )
    finally:
        await engine.stop()


async def test_tables_created_and_deleted_through_the_api_get_and_lose_their_stream(
    engine: DynamoEngine,
) -> None:
    db = client(engine)
    spec = dict(notes("NEW_IMAGE", "runtime").definition)
    await in_thread(db.create_table, **spec)
    waiter = db.get_waiter("table_exists")
    await in_thread(waiter.wait, TableName="runtime", WaiterConfig={"Delay": 0.2})
    await in_thread(db.put_item, TableName="runtime", Item=item("a", 1))
    assert changes(await in_thread(read_all, engine, "runtime")) == [("INSERT", None, item("a", 1))]
    await in_thread(db.delete_table, TableName="runtime")
    listed = await in_thread(client(engine, "dynamodbstreams").list_streams)
    assert "runtime" not in [s["TableName"] for s in listed["Streams"]]


async def test_bad_streams_requests_get_the_apis_errors(engine: DynamoEngine) -> None:
    streams = client(engine, "dynamodbstreams")
    with pytest.raises(streams.exceptions.ResourceNotFoundException):
        await in_thread(streams.describe_stream, StreamArn=table_stream_arn("nobody"))
    with pytest.raises(streams.exceptions.ClientError, match="ShardIterator"):
        await in_thread(streams.get_records, ShardIterator="not-an-iterator")
    # a malformed write is dynalite's to refuse, and records nothing
    db = client(engine)
    with pytest.raises(db.exceptions.ClientError, match="ValidationException"):
        await in_thread(db.put_item, TableName="notes", Item={"pk": {"S": "no sort key"}})
    assert await in_thread(read_all, engine) == []


async def test_a_restarted_dynalite_is_found_again_behind_the_same_port(
    engine: DynamoEngine,
) -> None:
    db = client(engine)
    await in_thread(db.put_item, TableName="notes", Item=item("a", 1))
    first = engine.engine_port
    assert engine._proc is not None
    engine._proc.kill()  # dynalite dies; the next request starts it again
    await engine._proc.wait()
    got = await in_thread(db.get_item, TableName="notes", Key=key("a", 1))
    assert got["Item"] == item("a", 1)
    assert engine.engine_port is not None and engine.running
    assert first is not None


async def test_update_table_turns_a_stream_on_and_off(engine: DynamoEngine) -> None:
    db = client(engine)
    spec = {"StreamEnabled": True, "StreamViewType": "KEYS_ONLY"}
    # dynalite refuses an update that changes nothing of its own: the front answers it
    got = await in_thread(db.update_table, TableName="plain", StreamSpecification=spec)
    assert got["TableDescription"]["LatestStreamArn"] == table_stream_arn("plain")
    await in_thread(db.put_item, TableName="plain", Item=item("a", 1, text="x"))
    (record,) = await in_thread(read_all, engine, "plain")
    assert record["dynamodb"]["Keys"] == key("a", 1)  # the table's own key schema
    assert "NewImage" not in record["dynamodb"]
    off = {"StreamEnabled": False}
    got = await in_thread(db.update_table, TableName="plain", StreamSpecification=off)
    assert "LatestStreamArn" not in got["TableDescription"]
    listed = await in_thread(client(engine, "dynamodbstreams").list_streams)
    assert [s["TableName"] for s in listed["Streams"]] == ["notes"]
    with pytest.raises(db.exceptions.ClientError, match="StreamViewType is required"):
        await in_thread(
            db.update_table, TableName="plain", StreamSpecification={"StreamEnabled": True}
        )
