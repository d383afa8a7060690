"""AppSync's DynamoDB data source against real DynamoDB engines on loopback: canaria's own
tables (dynalite behind canaria's front) for every operation they serve, and moto's server
for transactions, which dynalite does not serve. Each request is the JSON a resolver's
``request`` handler returns; each result is what the response handler finds in
``ctx.result``, or the error AppSync reports."""

from __future__ import annotations

import asyncio
import base64
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any

import boto3
import pytest
import pytest_asyncio

from canaria.appsync.dynamodb import (
    DataSourceError,
    RequestError,
    TransactGet,
    plain,
    plan,
    run,
)
from canaria.models import TableSpec
from canaria.tables import DynamoEngine

# every async test runs on the loop of the module's engine
in_module_loop = pytest.mark.asyncio(loop_scope="module")

POSTS = "posts"
AUTHORS = "authors"
BLOBS = "blobs"


def _table(name: str, key: str, kind: str = "S", *more: tuple[str, str], **extra: Any) -> TableSpec:
    body: dict[str, Any] = {
        "AttributeDefinitions": [
            {"AttributeName": n, "AttributeType": t} for n, t in [(key, kind), *more]
        ],
        "KeySchema": [{"AttributeName": key, "KeyType": "HASH"}],
        "BillingMode": "PAY_PER_REQUEST",
        **extra,
    }
    return TableSpec(name, name, body)


TABLES = [
    _table(
        POSTS,
        "id",
        "S",
        ("owner", "S"),
        ("created", "N"),
        GlobalSecondaryIndexes=[
            {
                "IndexName": "byOwner",
                "KeySchema": [
                    {"AttributeName": "owner", "KeyType": "HASH"},
                    {"AttributeName": "created", "KeyType": "RANGE"},
                ],
                "Projection": {"ProjectionType": "ALL"},
            }
        ],
    ),
    _table(AUTHORS, "authorId"),
    _table(BLOBS, "data", "B"),
]


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def client(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Any]:
    """A boto3 client of canaria's tables (dynalite behind canaria's front)."""
    engine = DynamoEngine(str(tmp_path_factory.mktemp("tables")), "key", "secret")
    await engine.listen()
    try:
        await engine.ensure_tables({spec.table_name: spec for spec in TABLES})
        yield engine.client()
    finally:
        await engine.stop()


@pytest.fixture(scope="module")
def moto(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """A boto3 client of moto's server, with the same tables."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    proc = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            urllib.request.urlopen(f"{url}/moto-api/data.json", timeout=2).read()
            break
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                raise RuntimeError("moto's server did not start") from None
            time.sleep(0.1)
    try:
        moto_client = boto3.client(
            "dynamodb",
            endpoint_url=url,
            region_name="us-east-1",
            aws_access_key_id="key",
            aws_secret_access_key="secret",
        )
        for spec in TABLES:
            moto_client.create_table(TableName=spec.table_name, **spec.definition)
        yield moto_client
    finally:
        proc.terminate()
        proc.wait(timeout=30)


async def call(client: Any, request: dict[str, Any], table: str = POSTS) -> Any:
    return await asyncio.to_thread(run, client, table, request)


async def refused(client: Any, request: dict[str, Any], table: str = POSTS) -> DataSourceError:
    with pytest.raises(DataSourceError) as caught:
        await call(client, request, table)
    return caught.value


def fresh() -> str:
    return uuid.uuid4().hex[:12]


def s(value: str) -> dict[str, str]:
    return {"S": value}


# -- single items -------------------------------------------------------------------------


@in_module_loop
async def test_put_get_update_delete_give_the_items_as_appsync_does(client: Any) -> None:
    key = {"id": s(fresh())}
    put = {
        "operation": "PutItem",
        "key": key,
        "attributeValues": {"title": s("first"), "votes": {"N": 1}, "_version": {"N": 1}},
        "_version": 3,  # conflict detection's field: ignored
    }
    written = await call(client, put)
    assert written == {"id": key["id"]["S"], "title": "first", "votes": 1, "_version": 1}
    assert await call(client, {"operation": "GetItem", "key": key, "consistentRead": True}) == (
        written
    )
    assert await call(client, {"operation": "GetItem", "key": {"id": s(fresh())}}) is None

    update = {
        "operation": "UpdateItem",
        "key": key,
        "update": {
            "expression": "ADD #votes :one SET #title = :title REMOVE #version",
            "expressionNames": {"#votes": "votes", "#title": "title", "#version": "_version"},
            "expressionValues": {":one": {"N": 1}, ":title": s("second")},
        },
    }
    assert await call(client, update) == {"id": key["id"]["S"], "title": "second", "votes": 2}

    projected = {
        "operation": "GetItem",
        "key": key,
        "projection": {"expression": "#t", "expressionNames": {"#t": "title"}},
    }
    assert await call(client, projected) == {"title": "second"}

    deleted = await call(client, {"operation": "DeleteItem", "key": key})
    assert deleted == {"id": key["id"]["S"], "title": "second", "votes": 2}
    assert await call(client, {"operation": "DeleteItem", "key": key}) is None


@in_module_loop
async def test_values_are_converted_both_ways(client: Any) -> None:
    key = {"id": s(fresh())}
    attributes = {
        "integer": {"N": 42},
        "decimal": {"N": "1.50"},
        "float": {"N": 0.25},
        "integral": {"N": 2.0},
        "big": {"N": "123456789012345678901234567890"},
        "exponent": {"N": "1E+3"},
        "negative": {"N": "-7.125"},
        "tags": {"SS": ["a", "b"]},
        "scores": {"NS": [1, "2.5"]},
        "blob": {"B": "SGVsbG8s\nIFdvcmxkIQ=="},  # RFC 2045: line breaks are ignored
        "blobs": {"BS": ["AAE=", "/w=="]},
        "flag": {"BOOL": False},
        "nothing": {"NULL": None},
        "list": {"L": [s("x"), {"N": 1}, {"M": {"deep": {"L": [{"BOOL": True}]}}}]},
        "map": {"M": {"name": s("n"), "set": {"SS": ["only"]}, "none": {"NULL": True}}},
    }
    await call(client, {"operation": "PutItem", "key": key, "attributeValues": attributes})
    item = await call(client, {"operation": "GetItem", "key": key})
    assert sorted(item.pop("tags")) == ["a", "b"]
    assert sorted(item.pop("scores")) == [1, 2.5]
    assert sorted(item.pop("blobs")) == sorted(["AAE=", "/w=="])
    assert item == {
        "id": key["id"]["S"],
        "integer": 42,
        "decimal": 1.5,
        "float": 0.25,
        "integral": 2,
        "big": 123456789012345678901234567890,
        "exponent": 1000,
        "negative": -7.125,
        "blob": base64.b64encode(b"Hello, World!").decode(),
        "flag": False,
        "nothing": None,
        "list": ["x", 1, {"deep": [True]}],
        "map": {"name": "n", "set": ["only"], "none": None},
    }
    assert isinstance(item["integer"], int) and isinstance(item["integral"], int)
    assert isinstance(item["decimal"], float)


def test_plain_gives_numbers_as_int_when_integral_else_float() -> None:
    assert plain({"N": "10"}) == 10 and isinstance(plain({"N": "10"}), int)
    assert plain({"N": "1.0E+2"}) == 100 and isinstance(plain({"N": "1.0E+2"}), int)
    assert plain({"N": "9" * 38}) == int("9" * 38)
    assert plain({"N": "0.1"}) == 0.1
    assert plain({"NS": ["1", "1.5"]}) == [1, 1.5]
    assert plain({"B": b"\x00\xff"}) == "AP8="


# -- conditions ---------------------------------------------------------------------------


@in_module_loop
async def test_a_failed_condition_is_rejected_with_the_item_as_it_is(client: Any) -> None:
    key = {"id": s(fresh())}
    create = {
        "operation": "PutItem",
        "key": key,
        "attributeValues": {"name": s("Steve"), "version": {"N": 1}},
        "condition": {"expression": "attribute_not_exists(id)"},
    }
    assert await call(client, create) == {"id": key["id"]["S"], "name": "Steve", "version": 1}
    again = {**create, "attributeValues": {"name": s("Other"), "version": {"N": 1}}}
    error = await refused(client, again)
    assert error.error_type == "DynamoDB:ConditionalCheckFailedException"
    assert error.message == "The conditional request failed"
    assert error.data == {"id": key["id"]["S"], "name": "Steve", "version": 1}

    bump = {
        "operation": "UpdateItem",
        "key": key,
        "update": {
            "expression": "SET version = version + :one",
            "expressionValues": {":one": {"N": 1}},
        },
        "condition": {
            "expression": "version = :expected",
            "expressionValues": {":expected": {"N": 1}},
            "consistentRead": False,
            "conditionalCheckFailedHandler": {"strategy": "Reject"},
        },
    }
    assert (await call(client, bump))["version"] == 2
    error = await refused(client, bump)  # an update is never judged already done
    assert error.error_type == "DynamoDB:ConditionalCheckFailedException"
    assert error.data == {"id": key["id"]["S"], "name": "Steve", "version": 2}


@in_module_loop
async def test_a_put_already_done_but_for_equals_ignore_succeeds(client: Any) -> None:
    key = {"id": s(fresh())}
    current = {"name": s("Steve"), "version": {"N": 8}, "tags": {"SS": ["x", "y"]}}
    await call(client, {"operation": "PutItem", "key": key, "attributeValues": current})
    retry: dict[str, Any] = {
        "operation": "PutItem",
        "key": key,
        "attributeValues": {"name": s("Steve"), "version": {"N": 2}, "tags": {"SS": ["y", "x"]}},
        "condition": {
            "expression": "version = :expected",
            "expressionValues": {":expected": {"N": 1}},
            "equalsIgnore": ["version"],
        },
    }
    got = await call(client, retry)  # the item DynamoDB holds, not the one asked for
    assert got["version"] == 8 and got["name"] == "Steve"

    retry["condition"] = {**retry["condition"], "equalsIgnore": []}
    error = await refused(client, retry)
    assert error.error_type == "DynamoDB:ConditionalCheckFailedException"
    assert error.data is not None and error.data["version"] == 8


@in_module_loop
async def test_a_delete_of_an_item_already_gone_succeeds(client: Any) -> None:
    key = {"id": s(fresh())}
    delete = {
        "operation": "DeleteItem",
        "key": key,
        "condition": {"expression": "attribute_exists(id)"},
    }
    assert await call(client, delete) is None
    await call(client, {"operation": "PutItem", "key": key, "attributeValues": {"n": {"N": 1}}})
    guarded = {
        **delete,
        "condition": {"expression": "n = :two", "expressionValues": {":two": {"N": 2}}},
    }
    error = await refused(client, guarded)
    assert error.error_type == "DynamoDB:ConditionalCheckFailedException"
    assert error.data == {"id": key["id"]["S"], "n": 1}
    assert await call(client, delete) == {"id": key["id"]["S"], "n": 1}


@in_module_loop
async def test_update_and_condition_share_their_placeholders(client: Any) -> None:
    key = {"id": s(fresh())}
    await call(client, {"operation": "PutItem", "key": key, "attributeValues": {"n": {"N": 1}}})
    shared = {
        "operation": "UpdateItem",
        "key": key,
        "update": {
            "expression": "SET #n = :v",
            "expressionNames": {"#n": "n"},
            "expressionValues": {":v": {"N": 5}},
        },
        "condition": {
            "expression": "#n < :v",
            "expressionNames": {"#n": "n"},
            "expressionValues": {":v": {"N": "5"}},
        },
    }
    assert await call(client, shared) == {"id": key["id"]["S"], "n": 5}
    clash = {**shared, "condition": {"expression": "#n < :v", "expressionValues": {":v": {"N": 6}}}}
    with pytest.raises(RequestError, match=":v two different values"):
        await call(client, clash)


# -- query and scan -----------------------------------------------------------------------


@in_module_loop
async def test_query_pages_through_an_index_with_filter_and_limit(client: Any) -> None:
    owner = fresh()
    for n in range(10):
        values = {"owner": s(owner), "created": {"N": n}, "published": {"BOOL": n % 3 != 0}}
        await call(
            client,
            {"operation": "PutItem", "key": {"id": s(f"{owner}-{n}")}, "attributeValues": values},
        )
    request: dict[str, Any] = {
        "operation": "Query",
        "index": "byOwner",
        "query": {
            "expression": "#o = :o",
            "expressionNames": {"#o": "owner"},
            "expressionValues": {":o": s(owner)},
        },
        "filter": {"expression": "published = :yes", "expressionValues": {":yes": {"BOOL": True}}},
        "limit": 3,
    }
    seen: list[int] = []
    scanned = pages = 0
    token = None
    while True:
        page = await call(client, {**request, "nextToken": token})
        assert set(page) == {"items", "nextToken", "scannedCount"}
        assert page["scannedCount"] <= 3
        seen += [item["created"] for item in page["items"]]
        scanned += page["scannedCount"]
        pages += 1
        token = page["nextToken"]
        if token is None:
            break
        assert isinstance(token, str)
    assert seen == [n for n in range(10) if n % 3 != 0]
    assert scanned == 10 and pages >= 4

    backwards = await call(client, {**request, "limit": None, "scanIndexForward": False})
    assert [item["created"] for item in backwards["items"]] == sorted(seen, reverse=True)
    assert backwards["nextToken"] is None

    first = await call(client, request)
    scan = {"operation": "Scan", "index": "byOwner", "nextToken": first["nextToken"]}
    with pytest.raises(RequestError, match=r"\$\[nextToken\]"):
        await call(client, scan)  # a token is good for the call that gave it
    with pytest.raises(RequestError, match=r"\$\[nextToken\]"):
        await call(client, {**request, "nextToken": "not a token"})
    with pytest.raises(RequestError, match=r"\$\[nextToken\]"):  # nor by another region's
        await asyncio.to_thread(
            run,
            client,
            POSTS,
            {**request, "nextToken": first["nextToken"]},
            default_region="eu-west-1",
        )


@in_module_loop
async def test_scan_pages_through_binary_keys_and_segments(client: Any) -> None:
    blobs = [bytes([n, 255 - n]) for n in range(7)]
    for blob in blobs:
        key = {"data": {"B": base64.b64encode(blob).decode()}}
        await call(
            client,
            {"operation": "PutItem", "key": key, "attributeValues": {"size": {"N": 2}}},
            BLOBS,
        )
    found: list[str] = []
    token = None
    while True:
        page = await call(client, {"operation": "Scan", "limit": 2, "nextToken": token}, BLOBS)
        found += [item["data"] for item in page["items"]]
        token = page["nextToken"]
        if token is None:
            break
    assert sorted(found) == sorted(base64.b64encode(b).decode() for b in blobs)

    halves = [
        await call(client, {"operation": "Scan", "segment": n, "totalSegments": 2}, BLOBS)
        for n in (0, 1)
    ]
    assert sorted(i["data"] for half in halves for i in half["items"]) == sorted(found)
    filtered = {
        "operation": "Scan",
        "filter": {
            "expression": "#s > :n",
            "expressionNames": {"#s": "size"},
            "expressionValues": {":n": {"N": 2}},
        },
        "consistentRead": True,
    }
    assert await call(client, filtered, BLOBS) == {
        "items": [],
        "nextToken": None,
        "scannedCount": 7,
    }


# -- batches ------------------------------------------------------------------------------


@in_module_loop
async def test_batch_put_get_delete_across_two_tables(client: Any) -> None:
    post, author = fresh(), fresh()
    put = {
        "operation": "BatchPutItem",
        "tables": {
            POSTS: [{"id": s(post), "title": s("t"), "votes": {"N": 3}}],
            AUTHORS: [{"authorId": s(author), "name": s("Ann")}],
        },
    }
    assert await call(client, put) == {
        "data": {
            POSTS: [{"id": post, "title": "t", "votes": 3}],
            AUTHORS: [{"authorId": author, "name": "Ann"}],
        },
        "unprocessedItems": {POSTS: [], AUTHORS: []},
    }
    get = {
        "operation": "BatchGetItem",
        "tables": {
            POSTS: {
                "keys": [{"id": s(fresh())}, {"id": s(post)}],
                "consistentRead": True,
                "projection": {"expression": "#t, votes", "expressionNames": {"#t": "title"}},
            },
            AUTHORS: [{"authorId": s(author)}],  # the keys alone, as AppSync's example has it
        },
    }
    assert await call(client, get) == {
        "data": {
            POSTS: [None, {"title": "t", "votes": 3}],
            AUTHORS: [{"authorId": author, "name": "Ann"}],
        },
        "unprocessedKeys": {POSTS: [], AUTHORS: []},
    }
    named = {"keys": [{"id": s(post)}], "projection": {"expression": "id, title"}}
    got = await call(client, {"operation": "BatchGetItem", "tables": {POSTS: named}})
    assert got["data"] == {POSTS: [{"id": post, "title": "t"}]}

    delete = {
        "operation": "BatchDeleteItem",
        "tables": {POSTS: [{"id": s(post)}], AUTHORS: [{"authorId": s(author)}]},
    }
    assert await call(client, delete) == {
        "data": {POSTS: [{"id": post}], AUTHORS: [{"authorId": author}]},
        "unprocessedKeys": {POSTS: [], AUTHORS: []},
    }
    again = await call(client, {**get, "tables": {AUTHORS: {"keys": [{"authorId": s(author)}]}}})
    assert again["data"] == {AUTHORS: [None]}

    error = await refused(
        client, {"operation": "BatchGetItem", "tables": {"nosuch": [{"id": s("x")}]}}
    )
    assert error.error_type == "DynamoDB:ResourceNotFoundException" and error.data is None


# -- transactions -------------------------------------------------------------------------


@in_module_loop
async def test_transact_write_and_get_on_moto(moto: Any) -> None:
    post, author = fresh(), fresh()
    write = {
        "operation": "TransactWriteItems",
        "transactItems": [
            {
                "table": POSTS,
                "operation": "PutItem",
                "key": {"id": s(post)},
                "attributeValues": {"title": s("old")},
                "condition": {"expression": "attribute_not_exists(id)"},
            },
            {
                "table": AUTHORS,
                "operation": "UpdateItem",
                "key": {"authorId": s(author)},
                "update": {
                    "expression": "SET #n = :n",
                    "expressionNames": {"#n": "name"},
                    "expressionValues": {":n": s("Ann")},
                },
            },
        ],
    }
    assert await call(moto, write) == {
        "keys": [{"id": post}, {"authorId": author}],
        "cancellationReasons": None,
    }
    get = {
        "operation": "TransactGetItems",
        "transactItems": [
            {"table": POSTS, "key": {"id": s(post)}},
            {"table": POSTS, "key": {"id": s(fresh())}},
            {"table": AUTHORS, "key": {"authorId": s(author)}},
        ],
    }
    assert await call(moto, get) == {
        "items": [{"id": post, "title": "old"}, None, {"authorId": author, "name": "Ann"}],
        "cancellationReasons": None,
    }


@in_module_loop
async def test_a_cancelled_transaction_gives_its_reasons(moto: Any) -> None:
    post, other = fresh(), fresh()
    await call(
        moto,
        {"operation": "PutItem", "key": {"id": s(post)}, "attributeValues": {"title": s("actual")}},
    )
    cancelled: dict[str, Any] = {
        "operation": "TransactWriteItems",
        "transactItems": [
            {
                "table": POSTS,
                "operation": "PutItem",
                "key": {"id": s(other)},
                "attributeValues": {"n": {"N": 1}},
            },
            {
                "table": POSTS,
                "operation": "ConditionCheck",
                "key": {"id": s(post)},
                "condition": {
                    "expression": "title = :t",
                    "expressionValues": {":t": s("expected")},
                },
            },
        ],
    }
    error = await refused(moto, cancelled)
    assert error.error_type == "DynamoDB:TransactionCanceledException"
    assert error.data["keys"] is None
    first, second = error.data["cancellationReasons"]
    assert first == {"type": "None", "message": "None"}
    assert second["type"] == "ConditionalCheckFailed"
    assert second["item"] == {"id": post, "title": "actual"}
    assert await call(moto, {"operation": "GetItem", "key": {"id": s(other)}}) is None

    quiet = cancelled["transactItems"][1]["condition"]
    quiet["returnValuesOnConditionCheckFailure"] = False
    error = await refused(moto, cancelled)
    assert "item" not in error.data["cancellationReasons"][1]


@in_module_loop
async def test_canarias_tables_serve_no_transactions_and_say_so(client: Any) -> None:
    get = {
        "operation": "TransactGetItems",
        "transactItems": [{"table": POSTS, "key": {"id": s("x")}}],
    }
    error = await refused(client, get)
    assert error.error_type == "DynamoDB:UnknownOperationException"


# -- errors -------------------------------------------------------------------------------


@in_module_loop
async def test_dynamodb_refusals_keep_their_code_and_message(client: Any) -> None:
    error = await refused(client, {"operation": "GetItem", "key": {"id": s("x")}}, "nosuch")
    assert error.error_type == "DynamoDB:ResourceNotFoundException"
    assert error.message == "Requested resource not found"
    bad = {"operation": "UpdateItem", "key": {"id": s("x")}, "update": {"expression": "SET"}}
    error = await refused(client, bad)
    assert error.error_type == "DynamoDB:ValidationException"
    assert "UpdateExpression" in error.message


def test_a_transaction_plans_its_projections_and_conditions() -> None:
    request = {
        "operation": "TransactGetItems",
        "transactItems": [
            {
                "table": POSTS,
                "key": {"id": s("p")},
                "projection": {"expression": "#t", "expressionNames": {"#t": "title"}},
            }
        ],
    }
    assert plan(AUTHORS, request) == TransactGet(
        (
            {
                "Get": {
                    "TableName": POSTS,
                    "Key": {"id": s("p")},
                    "ProjectionExpression": "#t",
                    "ExpressionAttributeNames": {"#t": "title"},
                }
            },
        )
    )


@pytest.mark.parametrize(
    ("request_", "field", "says"),
    [
        ({}, "$[operation]", "not found"),
        ({"operation": "Fetch"}, "$[operation]", "must be one of GetItem"),
        ({"operation": "Sync"}, "$[operation]", "Delta Sync"),
        ({"operation": "GetItem"}, "$[key]", "not found"),
        ({"operation": "GetItem", "key": {}}, "$[key]", "must not be empty"),
        ({"operation": "GetItem", "key": {"id": "x"}}, "$[key][id]", "must be a typed value"),
        ({"operation": "GetItem", "key": {"id": {"S": "x", "N": 1}}}, "$[key][id]", "typed value"),
        ({"operation": "GetItem", "key": {"id": {"X": "x"}}}, "$[key][id]", "unknown type 'X'"),
        ({"operation": "GetItem", "key": {"id": {"N": True}}}, "$[key][id][N]", "must be a number"),
        (
            {"operation": "GetItem", "key": {"id": {"B": "abcde"}}},
            "$[key][id][B]",
            "not valid base64",
        ),
        ({"operation": "GetItem", "key": {"id": {"S": 1}}}, "$[key][id][S]", "valid S value"),
        (
            {"operation": "GetItem", "key": {"id": s("x")}, "consistentRead": "yes"},
            "$[consistentRead]",
            "true or false",
        ),
        (
            {
                "operation": "PutItem",
                "key": {"id": s("x")},
                "attributeValues": {"m": {"M": {"a": 1}}},
            },
            "$[attributeValues][m][M][a]",
            "typed value",
        ),
        ({"operation": "UpdateItem", "key": {"id": s("x")}}, "$[update]", "not found"),
        (
            {"operation": "UpdateItem", "key": {"id": s("x")}, "update": {}},
            "$[update][expression]",
            "not found",
        ),
        (
            {
                "operation": "DeleteItem",
                "key": {"id": s("x")},
                "condition": {
                    "expression": "a",
                    "conditionalCheckFailedHandler": {"strategy": "Custom", "lambdaArn": "arn"},
                },
            },
            "$[condition][conditionalCheckFailedHandler][strategy]",
            "Lambda",
        ),
        (
            {
                "operation": "PutItem",
                "key": {"id": s("x")},
                "condition": {"expression": "a", "equalsIgnore": "v"},
            },
            "$[condition][equalsIgnore]",
            "array",
        ),
        ({"operation": "Query"}, "$[query]", "not found"),
        (
            {"operation": "Query", "query": {"expression": "id = :i"}, "limit": 0},
            "$[limit]",
            "at least 1",
        ),
        ({"operation": "Scan", "select": "COUNT"}, "$[select]", "ALL_ATTRIBUTES"),
        ({"operation": "Scan", "segment": 0}, "$[segment]", "totalSegments"),
        ({"operation": "Scan", "segment": 2, "totalSegments": 2}, "$[segment]", "less than"),
        (
            {"operation": "Scan", "projection": {"expression": "a", "expressionValues": {}}},
            "$[projection][expressionValues]",
            "projection",
        ),
        ({"operation": "Scan", "nextToken": 12}, "$[nextToken]", "pagination token"),
        ({"operation": "BatchGetItem", "tables": {}}, "$[tables]", "at least one table"),
        (
            {"operation": "BatchGetItem", "tables": {"t": {"keys": []}}},
            "$[tables][t][keys]",
            "non-empty array",
        ),
        (
            {"operation": "BatchPutItem", "tables": {"t": [{"id": {"S": "x"}}, 3]}},
            "$[tables][t][1]",
            "map of attribute",
        ),
        (
            {"operation": "TransactGetItems", "transactItems": [{"key": {"id": s("x")}}]},
            "$[transactItems][0][table]",
            "not found",
        ),
        (
            {
                "operation": "TransactWriteItems",
                "transactItems": [{"table": "t", "key": {"id": s("x")}, "operation": "Get"}],
            },
            "$[transactItems][0][operation]",
            "ConditionCheck",
        ),
        (
            {
                "operation": "TransactWriteItems",
                "transactItems": [
                    {"table": "t", "key": {"id": s("x")}, "operation": "ConditionCheck"}
                ],
            },
            "$[transactItems][0][condition]",
            "not found",
        ),
    ],
)
def test_a_malformed_request_is_refused_naming_its_field(
    request_: dict[str, Any], field: str, says: str
) -> None:
    with pytest.raises(RequestError) as caught:
        plan(POSTS, request_)
    assert caught.value.field == field
    assert caught.value.message.startswith(f"Value for field '{field}' ")
    assert says in caught.value.message
