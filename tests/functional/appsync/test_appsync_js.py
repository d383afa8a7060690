"""AppSync resolver code (APPSYNC_JS) run by a real ``node``: the context the code sees,
canaria's ``@aws-appsync/utils`` and ``@aws-appsync/utils/dynamodb`` against the examples
of the AWS AppSync Developer Guide, the code's failures as errors that name the handler and
the line, and the Node.js process's life (restarted after ``process.exit``, killed when
stuck, gone after ``close``)."""

from __future__ import annotations

import asyncio
import json
import re
import shutil
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

from canaria.appsync.js import JsOutcome, JsRuntime, ResolverCodeError
from canaria.errors import InvocationError
from tests.functional.harness import alive

pytestmark = [
    pytest.mark.skipif(shutil.which("node") is None, reason="needs node on PATH"),
    pytest.mark.asyncio(loop_scope="module"),
]

IMPORTS = (
    "import { util, runtime, extensions } from '@aws-appsync/utils';\n"
    "import * as ddb from '@aws-appsync/utils/dynamodb';\n"
)


NOW = 1517943695750  # 2018-02-06T19:01:35.750Z, the time of AppSync's util.time examples


def code(request: str, response: str = "return ctx.result;") -> str:
    """Resolver code whose handlers have these bodies."""
    return (
        f"{IMPORTS}export function request(ctx) {{\n{request}\n}}\n"
        f"export function response(ctx) {{\n{response}\n}}\n"
    )


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def js(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[JsRuntime]:
    """One runtime (one Node.js process) for the tests that leave it running."""
    runtime = JsRuntime(tmp_path_factory.mktemp("code"), timeout_s=5)
    yield runtime
    pid = runtime.pid
    await runtime.close()
    assert pid is None or not alive(pid)


async def value(js: JsRuntime, expression: str, ctx: dict[str, Any] | None = None) -> Any:
    """What `return <expression>` gives in a request handler."""
    outcome = await js.call(code(f"return {expression};"), "request", ctx or {})
    return outcome.value


# ---- the context and the outcome -----------------------------------------------------------


async def test_code_imports_both_modules_without_a_package_json(js: JsRuntime) -> None:
    source = (
        "import { util } from '@aws-appsync/utils';\n"
        "import { get } from '@aws-appsync/utils/dynamodb';\n"
        "export function request(ctx) { return get({ key: { id: ctx.args.id } }); }\n"
        "export function response(ctx) { return util.autoId(); }\n"
    )
    outcome = await js.call(source, "request", {"arguments": {"id": "1"}})
    assert outcome.value == {"operation": "GetItem", "key": {"id": {"S": "1"}}}
    assert not list(js.workdir.glob("package.json"))
    (written,) = js.workdir.glob("*.mjs")
    assert re.fullmatch(r"[0-9a-f]{64}\.mjs", written.name)


async def test_utilities_are_globals_too(js: JsRuntime) -> None:
    source = (
        "export function request(ctx) {"
        " return [typeof util.autoId, typeof runtime, typeof extensions]; }"
    )
    assert (await js.call(source, "request", {})).value == ["function", "object", "object"]


async def test_args_is_arguments_and_absent_keys_are_undefined(js: JsRuntime) -> None:
    got = await value(
        js,
        "[ctx.args === ctx.arguments, ctx.args.n, ctx.source === undefined, ctx.identity.sub]",
        {"arguments": {"n": 1}, "identity": {"sub": "u-1"}},
    )
    assert got == [True, 1, True, "u-1"]


async def test_the_stash_comes_back_with_the_handlers_changes(js: JsRuntime) -> None:
    outcome = await js.call(
        code("ctx.stash.seen.push(ctx.args.n); ctx.stash.added = true; return null;"),
        "request",
        {"arguments": {"n": 2}, "stash": {"seen": [1]}},
    )
    assert outcome.stash == {"seen": [1, 2], "added": True}
    assert (await js.call(code("return 1;"), "request", {})).stash == {}


async def test_the_response_handler_sees_result_and_prev(js: JsRuntime) -> None:
    outcome = await js.call(
        code("return null;", "return { item: ctx.result.items[0], before: ctx.prev.result };"),
        "response",
        {"result": {"items": [{"id": "a"}]}, "prev": {"result": {"n": 1}}},
    )
    assert outcome.value == {"item": {"id": "a"}, "before": {"n": 1}}
    assert outcome == JsOutcome(
        value=outcome.value, stash={}, errors=[], early=False, error=None, logs=[]
    )


async def test_undefined_is_none(js: JsRuntime) -> None:
    assert (await js.call(code("return;"), "request", {})).value is None


async def test_console_output_is_captured_not_mixed_into_the_protocol(js: JsRuntime) -> None:
    outcome = await js.call(
        code(
            "console.log('one', { a: 1 }); console.error('two');"
            "process.stdout.write('{\"id\": 1, \"ok\": true}\\n'); return 'done';"
        ),
        "request",
        {},
    )
    assert outcome.value == "done"
    assert outcome.logs == ["one { a: 1 }", "two", '{"id": 1, "ok": true}']


# ---- errors, early return ------------------------------------------------------------------


async def test_util_error_stops_the_handler(js: JsRuntime) -> None:
    outcome = await js.call(
        code(
            "ctx.stash.before = 1; util.error('bad input', 'ValidationError', { f: 1 }, { x: 2 });"
            "ctx.stash.after = 1; return 'unreached';"
        ),
        "request",
        {},
    )
    assert outcome.error == {
        "message": "bad input",
        "errorType": "ValidationError",
        "data": {"f": 1},
        "errorInfo": {"x": 2},
    }
    assert outcome.value is None and outcome.stash == {"before": 1}


async def test_util_error_counts_even_when_caught(js: JsRuntime) -> None:
    outcome = await js.call(code("try { util.error('no'); } catch (e) {} return 1;"), "request", {})
    assert outcome.error is not None and outcome.error["message"] == "no"
    assert outcome.value is None


async def test_append_error_records_and_goes_on(js: JsRuntime) -> None:
    outcome = await js.call(
        code("util.appendError('first'); util.appendError('second', 'T', { d: 1 }); return 'ok';"),
        "request",
        {},
    )
    assert outcome.value == "ok" and outcome.error is None
    assert outcome.errors == [
        {"message": "first", "errorType": None, "data": None, "errorInfo": None},
        {"message": "second", "errorType": "T", "data": {"d": 1}, "errorInfo": None},
    ]


async def test_unauthorized_names_the_field(js: JsRuntime) -> None:
    outcome = await js.call(
        code("util.unauthorized(); return 1;"),
        "request",
        {"info": {"fieldName": "getPost", "parentTypeName": "Query"}},
    )
    assert outcome.error == {
        "message": "Not Authorized to access getPost on type Query",
        "errorType": "Unauthorized",
        "data": None,
        "errorInfo": None,
    }


async def test_early_return(js: JsRuntime) -> None:
    outcome = await js.call(
        code("runtime.earlyReturn({ hello: 'world' }); return ctx.args;"), "request", {}
    )
    assert (outcome.value, outcome.early, outcome.skip_to) == ({"hello": "world"}, True, None)
    skipped = await js.call(code("runtime.earlyReturn(null, { skipTo: 'NEXT' });"), "request", {})
    assert (skipped.value, skipped.early, skipped.skip_to) == (None, True, "NEXT")
    plain = await js.call(code("return 1;"), "request", {})
    assert (plain.early, plain.skip_to) == (False, None)
    with pytest.raises(ResolverCodeError, match="skipTo must be 'END' or 'NEXT'"):
        await js.call(code("runtime.earlyReturn(1, { skipTo: 'LATER' });"), "request", {})


async def test_extensions_and_response_headers_are_recorded(js: JsRuntime) -> None:
    outcome = await js.call(
        code(
            "extensions.setSubscriptionFilter({ filterGroup: [] });"
            "extensions.invalidateSubscriptions({ subscriptionField: 'onX', payload: { id: 1 } });"
            "util.http.addResponseHeader('itemsCount', 7);"
            "util.http.addResponseHeader('x-amz-thing', 1);"
            "return util.http.copyHeaders({ host: 'h', 'x-id': '1' });"
        ),
        "request",
        {},
    )
    assert outcome.extensions == [
        {"method": "setSubscriptionFilter", "filter": {"filterGroup": []}},
        {
            "method": "invalidateSubscriptions",
            "invalidation": {"subscriptionField": "onX", "payload": {"id": 1}},
        },
    ]
    assert outcome.response_headers == {"itemsCount": 7}
    assert [e["errorType"] for e in outcome.errors] == ["ResponseHeaderError"]
    assert outcome.value == {"x-id": "1"}


# ---- util ----------------------------------------------------------------------------------


async def test_generated_ids(js: JsRuntime) -> None:
    uuid, ulid, ksuid = await value(js, "[util.autoId(), util.autoUlid(), util.autoKsuid()]")
    assert re.fullmatch(
        r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}", uuid
    )
    assert re.fullmatch(r"[0-9A-HJKMNP-TV-Z]{26}", ulid)
    assert re.fullmatch(r"[0-9A-Za-z]{27}", ksuid)
    first, second = await value(js, "[util.autoId(), util.autoId()]")
    assert first != second


async def test_ulid_time_is_the_calls_time(js: JsRuntime) -> None:
    outcome = await js.call(code("return util.autoUlid();"), "request", {}, now_ms=NOW)
    crockford, n, time = "0123456789ABCDEFGHJKMNPQRSTVWXYZ", NOW, ""
    for _ in range(10):
        time, n = crockford[n % 32] + time, n // 32
    assert outcome.value[:10] == time


async def test_encoding_and_matching(js: JsRuntime) -> None:
    got = await value(
        js,
        "[util.urlEncode('a b&c=d/é'), util.urlDecode('a+b%26c'), util.base64Encode('héllo'),"
        " util.base64Decode('aMOpbGxv'), util.escapeJavaScript(`it's \"q\"\\n`),"
        " util.matches('a*b', 'aaaab'), util.matches('a', 'ab'), util.authType(),"
        " util.str.normalize('e\\u0301', 'nfc'), util.math.roundNum(2.5), util.math.maxVal(1, 3)]",
    )
    assert got == [
        "a+b%26c%3Dd%2F%C3%A9",
        "a b&c",
        "aMOpbGxv",
        "héllo",
        'it\\\'s \\"q\\"\\n',
        True,
        False,
        "API Key Authorization",
        "é",
        3,
        3,
    ]


async def test_vtl_only_helpers_say_what_to_write_instead(js: JsRuntime) -> None:
    with pytest.raises(ResolverCodeError, match=r"util\.isNull is a VTL helper.*x === null"):
        await js.call(code("return util.isNull(ctx.args.x);"), "request", {"arguments": {}})


async def test_time_helpers_use_the_given_now(js: JsRuntime) -> None:
    fmt = "yyyy-MM-dd HH:mm:ssZ"
    outcome = await js.call(
        code(
            f"""return [
              util.time.nowISO8601(), util.time.nowEpochSeconds(),
              util.time.nowEpochMilliSeconds(), util.time.nowFormatted('{fmt}'),
              util.time.nowFormatted('{fmt}', '+08:00'),
              util.time.nowFormatted('{fmt}', 'Australia/Perth'),
              new Date().toISOString(), Date.now(),
            ];"""
        ),
        "request",
        {},
        now_ms=NOW,
    )
    assert outcome.value == [
        "2018-02-06T19:01:35.750Z",
        1517943695,
        NOW,
        "2018-02-06 19:01:35+0000",
        "2018-02-07 03:01:35+0800",
        "2018-02-07 03:01:35+0800",
        "2018-02-06T19:01:35.750Z",
        NOW,
    ]


async def test_time_conversions_and_parsing(js: JsRuntime) -> None:
    fmt = "yyyy-MM-dd HH:mm:ssZ"
    got = await value(
        js,
        f"""[
          util.time.epochMilliSecondsToSeconds(1517943695758),
          util.time.epochMilliSecondsToISO8601(1517943695758),
          util.time.epochMilliSecondsToFormatted(1517943695758, '{fmt}'),
          util.time.epochMilliSecondsToFormatted(1517943695758, '{fmt}', '+08:00'),
          util.time.parseISO8601ToEpochMilliSeconds('2018-02-01T17:21:05.180+08:00'),
          util.time.parseFormattedToEpochMilliSeconds('2018-02-02 01:19:22+0800', '{fmt}'),
          util.time.parseFormattedToEpochMilliSeconds(
            '2018-02-02 01:19:22', 'yyyy-MM-dd HH:mm:ss', '+08:00'),
          util.time.parseFormattedToEpochMilliSeconds(
            '06 Feb 2018 2:01 PM', 'dd MMM yyyy h:mm a', 'America/New_York'),
        ]""",
    )
    assert got == [
        1517943695,
        "2018-02-06T19:01:35.758Z",
        "2018-02-06 19:01:35+0000",
        "2018-02-07 03:01:35+0800",
        1517476865180,
        1517505562000,
        1517505562000,
        1517943660000,
    ]


async def test_time_formats_for_appsync_scalars(js: JsRuntime) -> None:
    # AppSync's examples for AWSDate and AWSDateTime, at 2018-07-11T15:14:15-07:00:30
    now = int(datetime(2018, 7, 11, 22, 14, 45, tzinfo=UTC).timestamp() * 1000)
    outcome = await js.call(
        code(
            "return [util.time.nowFormatted('yyyy-MM-dd[XXX]', '-07:00:30'),"
            " util.time.nowFormatted(\"yyyy-MM-dd'T'HH:mm:ss[XXXXX]\", '-07:00:30')];"
        ),
        "request",
        {},
        now_ms=now,
    )
    assert outcome.value == ["2018-07-11-07:00", "2018-07-11T15:14:15-07:00:30"]


# ---- util.dynamodb and util.transform ------------------------------------------------------


async def test_dynamodb_conversions_as_documented(js: JsRuntime) -> None:
    got = await value(
        js,
        """{
          string: util.dynamodb.toDynamoDB('foo'), number: util.dynamodb.toDynamoDB(12345),
          boolean: util.dynamodb.toDynamoDB(true),
          list: util.dynamodb.toDynamoDB(['foo', 123, { bar: 'baz' }]),
          map: util.dynamodb.toMap({ foo: 'bar', baz: 1234, beep: ['boop'] }),
          values: util.dynamodb.toMapValues({ foo: 'bar', baz: 1234, beep: ['boop'] }),
          s: util.dynamodb.toString('foo'), ss: util.dynamodb.toStringSet(['foo', 'bar']),
          n: util.dynamodb.toNumber(12345), ns: util.dynamodb.toNumberSet([1, 23, 4.56]),
          b: util.dynamodb.toBinary('foo'), bs: util.dynamodb.toBinarySet(['foo', 'bar']),
          bool: util.dynamodb.toBoolean(true), null: util.dynamodb.toNull(),
          l: util.dynamodb.toList(['foo']),
          s3: util.dynamodb.toS3Object('foo', 'bar', 'baz', 'beep'),
          froms3: util.dynamodb.fromS3ObjectJson(util.dynamodb.toS3Object('k', 'b', 'r')),
        }""",
    )
    assert got == {
        "string": {"S": "foo"},
        "number": {"N": 12345},
        "boolean": {"BOOL": True},
        "list": {"L": [{"S": "foo"}, {"N": 123}, {"M": {"bar": {"S": "baz"}}}]},
        "map": {"M": {"foo": {"S": "bar"}, "baz": {"N": 1234}, "beep": {"L": [{"S": "boop"}]}}},
        "values": {"foo": {"S": "bar"}, "baz": {"N": 1234}, "beep": {"L": [{"S": "boop"}]}},
        "s": {"S": "foo"},
        "ss": {"SS": ["foo", "bar"]},
        "n": {"N": 12345},
        "ns": {"NS": [1, 23, 4.56]},
        "b": {"B": "foo"},
        "bs": {"BS": ["foo", "bar"]},
        "bool": {"BOOL": True},
        "null": {"NULL": None},
        "l": {"L": [{"S": "foo"}]},
        "s3": {
            "S": json.dumps(
                {"s3": {"key": "foo", "bucket": "bar", "region": "baz", "version": "beep"}},
                separators=(",", ":"),
            )
        },
        "froms3": {"key": "k", "bucket": "b", "region": "r"},
    }


async def test_to_map_values_of_nested_values_and_sets(js: JsRuntime) -> None:
    got = await value(
        js,
        """util.dynamodb.toMapValues({
          id: 'p1', n: 1.5, flag: false, none: null, skipped: undefined,
          tags: util.dynamodb.toStringSet(['a', 'b']), codes: ddb.toNumberSet([1, 2]),
          nested: { list: [1, { deep: ['x', null] }], set: ddb.toStringSet(['s']) },
        })""",
    )
    assert got == {
        "id": {"S": "p1"},
        "n": {"N": 1.5},
        "flag": {"BOOL": False},
        "none": {"NULL": None},
        "tags": {"SS": ["a", "b"]},
        "codes": {"NS": ["1", "2"]},
        "nested": {
            "M": {
                "list": {"L": [{"N": 1}, {"M": {"deep": {"L": [{"S": "x"}, {"NULL": None}]}}}]},
                "set": {"SS": ["s"]},
            }
        },
    }


# Inputs and AppSync's answers, recorded from AppSync's EvaluateCode
FILTERS: list[tuple[str, dict[str, Any] | None]] = [
    (
        "{ title: { contains: 'Hello World' } }",
        {
            "expression": "(contains(#title,:title_contains))",
            "expressionNames": {"#title": "title"},
            "expressionValues": {":title_contains": {"S": "Hello World"}},
        },
    ),
    (
        "{ a: { eq: 1 }, b: { ne: 'x' } }",
        {
            "expression": "(#a = :a_eq) AND (#b <> :b_ne)",
            "expressionNames": {"#a": "a", "#b": "b"},
            "expressionValues": {":a_eq": {"N": 1}, ":b_ne": {"S": "x"}},
        },
    ),
    (
        "{ v: { ge: 1, le: 5 } }",
        {
            "expression": "((#v >= :v_ge) AND (#v <= :v_le))",
            "expressionNames": {"#v": "v"},
            "expressionValues": {":v_ge": {"N": 1}, ":v_le": {"N": 5}},
        },
    ),
    (
        "{ or: [{ and: [{ a: { eq: 1 } }, { b: { lt: 2 } }] }, { c: { gt: 3 } }] }",
        {
            "expression": "(((#a = :or_0_and_0_a_eq) AND (#b < :or_0_and_1_b_lt)) OR "
            "(#c > :or_1_c_gt))",
            "expressionNames": {"#a": "a", "#b": "b", "#c": "c"},
            "expressionValues": {
                ":or_0_and_0_a_eq": {"N": 1},
                ":or_0_and_1_b_lt": {"N": 2},
                ":or_1_c_gt": {"N": 3},
            },
        },
    ),
    (
        "{ not: { id: { between: ['1', '9'] } } }",
        {
            "expression": "(NOT (#id BETWEEN :not_id_between_start AND :not_id_between_end))",
            "expressionNames": {"#id": "id"},
            "expressionValues": {
                ":not_id_between_start": {"S": "1"},
                ":not_id_between_end": {"S": "9"},
            },
        },
    ),
    (
        "{ v: { in: ['a', 'b'] }, w: { notContains: 'x' }, u: { beginsWith: 'p' } }",
        {
            "expression": "(#v IN (:v_in_0, :v_in_1)) AND (NOT contains(#w,:w_notContains)) "
            "AND (begins_with(#u,:u_beginsWith))",
            "expressionNames": {"#v": "v", "#w": "w", "#u": "u"},
            "expressionValues": {
                ":v_in_0": {"S": "a"},
                ":v_in_1": {"S": "b"},
                ":w_notContains": {"S": "x"},
                ":u_beginsWith": {"S": "p"},
            },
        },
    ),
    (
        "{ a: { attributeExists: false }, b: { attributeType: 'stringSet' },"
        " c: { size: { gt: 2, lt: 5 } } }",
        {
            "expression": "(attribute_not_exists(#a)) AND (attribute_type(#b,:b_attributeType))"
            " AND ((size(#c) > :c_size_gt) AND (size(#c) < :c_size_lt))",
            "expressionNames": {"#a": "a", "#b": "b", "#c": "c"},
            "expressionValues": {
                ":b_attributeType": {"S": "SS"},
                ":c_size_gt": {"N": 2},
                ":c_size_lt": {"N": 5},
            },
        },
    ),
    ("{ v: { foo: 1 } }", None),
    ("{ v: 'x' }", None),
    ("{ and: { a: { eq: 1 } } }", None),
    ("{ v: { between: [1] } }", None),
    ("{ v: { attributeType: 'S' } }", None),
    ("null", None),
]


@pytest.mark.parametrize(("filter_", "expected"), FILTERS)
async def test_filter_expressions(
    js: JsRuntime, filter_: str, expected: dict[str, Any] | None
) -> None:
    text, condition = await value(
        js,
        f"[util.transform.toDynamoDBFilterExpression({filter_}),"
        f" util.transform.toDynamoDBConditionExpression({filter_})]",
    )
    assert text == condition
    assert (None if text is None else json.loads(text)) == expected


# ---- @aws-appsync/utils/dynamodb -----------------------------------------------------------


async def test_get_put_remove(js: JsRuntime) -> None:
    args = {"id": "p1", "title": "T", "n": 2}
    got, put, removed = await value(
        js,
        "[ddb.get({ key: { id: ctx.args.id }, consistentRead: true,"
        "   projection: ['id', 'a.b[1]'] }),"
        " ddb.put({ key: { id: 'new' }, item: ctx.args,"
        "   condition: { id: { attributeExists: false } } }),"
        " ddb.remove({ key: { id: ctx.args.id }, condition: { owner: { eq: 'me' } } })]",
        {"arguments": args},
    )
    assert got == {
        "operation": "GetItem",
        "key": {"id": {"S": "p1"}},
        "consistentRead": True,
        "projection": {
            "expression": "#id, #a.#b[1]",
            "expressionNames": {"#id": "id", "#a": "a", "#b": "b"},
        },
    }
    assert put == {
        "operation": "PutItem",
        "key": {"id": {"S": "new"}},
        "attributeValues": {"id": {"S": "p1"}, "title": {"S": "T"}, "n": {"N": 2}},
        "condition": {
            "expression": "(attribute_not_exists(#id))",
            "expressionNames": {"#id": "id"},
        },
    }
    assert removed == {
        "operation": "DeleteItem",
        "key": {"id": {"S": "p1"}},
        "condition": {
            "expression": "(#owner = :owner_eq)",
            "expressionNames": {"#owner": "owner"},
            "expressionValues": {":owner_eq": {"S": "me"}},
        },
    }


async def test_update_with_every_operation(js: JsRuntime) -> None:
    got = await value(
        js,
        """ddb.update({
          key: { id: 1 },
          condition: { version: { eq: 3 } },
          update: {
            title: 'new', version: ddb.operations.increment(1), stock: ddb.operations.decrement(2),
            address: ddb.operations.add({ city: 'Perth' }), tags: ddb.operations.append(['t']),
            history: ddb.operations.prepend(['h']), old: ddb.operations.remove(),
            profile: { bio: 'hi', links: ddb.operations.replace(['a']) },
            friendsIds: [ddb.operations.updateListItem('102', 1),
                         ddb.operations.updateListItem('112', 2)],
          },
        })""",
    )
    assert got["operation"] == "UpdateItem" and got["key"] == {"id": {"N": 1}}
    assert got["condition"] == {
        "expression": "(#version = :version_eq)",
        "expressionNames": {"#version": "version"},
        "expressionValues": {":version_eq": {"N": 3}},
    }
    update = got["update"]
    assert update["expression"] == (
        "SET #title = :title, #version = if_not_exists(#version, :version_start) + :version, "
        "#stock = if_not_exists(#stock, :stock_start) + :stock, #address = :address, "
        "#tags = list_append(#tags, :tags), #history = list_append(:history, #history), "
        "#profile.#bio = :profile_bio, #profile.#links = :profile_links, "
        "#friendsIds[1] = :friendsIds_1, #friendsIds[2] = :friendsIds_2 REMOVE #old"
    )
    assert update["expressionValues"] == {
        ":title": {"S": "new"},
        ":version_start": {"N": 0},
        ":version": {"N": 1},
        ":stock_start": {"N": 0},
        ":stock": {"N": -2},
        ":address": {"M": {"city": {"S": "Perth"}}},
        ":tags": {"L": [{"S": "t"}]},
        ":history": {"L": [{"S": "h"}]},
        ":profile_bio": {"S": "hi"},
        ":profile_links": {"L": [{"S": "a"}]},
        ":friendsIds_1": {"S": "102"},
        ":friendsIds_2": {"S": "112"},
    }
    names = update["expressionNames"]
    assert names["#version"] == "version" and names["#friendsIds"] == "friendsIds"
    # the condition's placeholders stay the condition's: one request carries both
    assert not set(update["expressionValues"]) & set(got["condition"]["expressionValues"])


async def test_query_scan_sync(js: JsRuntime) -> None:
    query, scan, sync = await value(
        js,
        """[
          ddb.query({ query: { name: { eq: 'John' }, age: { gt: 20 } }, index: 'byName',
                      limit: 10, nextToken: null, scanIndexForward: false,
                      filter: { status: { eq: 'ACTIVE' } }, projection: ['name'] }),
          ddb.scan({ limit: 20, projection: ['channel', 'path', 'msgId'],
                     filter: { status: { eq: 'ACTIVE' } } }),
          ddb.sync({ limit: 10, nextToken: 'abc', lastSync: 1000 }),
        ]""",
    )
    assert query == {
        "operation": "Query",
        "query": {
            "expression": "#name = :name_eq AND #age > :age_gt",
            "expressionNames": {"#name": "name", "#age": "age"},
            "expressionValues": {":name_eq": {"S": "John"}, ":age_gt": {"N": 20}},
        },
        "index": "byName",
        "limit": 10,
        "scanIndexForward": False,
        "filter": {
            "expression": "(#status = :status_eq)",
            "expressionNames": {"#status": "status"},
            "expressionValues": {":status_eq": {"S": "ACTIVE"}},
        },
        "projection": {"expression": "#name", "expressionNames": {"#name": "name"}},
    }
    assert scan == {
        "operation": "Scan",
        "limit": 20,
        "filter": {
            "expression": "(#status = :status_eq)",
            "expressionNames": {"#status": "status"},
            "expressionValues": {":status_eq": {"S": "ACTIVE"}},
        },
        "projection": {
            "expression": "#channel, #path, #msgId",
            "expressionNames": {"#channel": "channel", "#path": "path", "#msgId": "msgId"},
        },
    }
    assert sync == {"operation": "Sync", "limit": 10, "nextToken": "abc", "lastSync": 1000}


async def test_query_key_conditions(js: JsRuntime) -> None:
    got = await value(
        js,
        "ddb.query({ query: { pk: { eq: 'a' }, sk: { beginsWith: 'x#' } } }).query.expression",
    )
    assert got == "#pk = :pk_eq AND begins_with(#sk, :sk_beginsWith)"
    between = await value(
        js, "ddb.query({ query: { pk: { eq: 1 }, sk: { between: [1, 9] } } }).query"
    )
    assert between["expression"] == (
        "#pk = :pk_eq AND #sk BETWEEN :sk_between_start AND :sk_between_end"
    )
    with pytest.raises(ResolverCodeError, match=r"query\.pk: contains is not a key condition"):
        await value(js, "ddb.query({ query: { pk: { contains: 'a' } } })")


async def test_batch_operations(js: JsRuntime) -> None:
    batch_get, batch_put, batch_delete = await value(
        js,
        """[
          ddb.batchGet({ tables: { users: { keys: [{ id: '1' }, { id: '2' }],
                                            projection: ['id', 'name'] } } }),
          ddb.batchPut({ tables: { post: [{ id: 'one', value: 'x' }],
                                   comment: [{ id: 'one', text: 't' }] } }),
          ddb.batchDelete({ tables: { post: [{ id: 'one' }, { id: 'two' }] } }),
        ]""",
    )
    assert batch_get == {
        "operation": "BatchGetItem",
        "tables": {
            "users": {
                "keys": [{"id": {"S": "1"}}, {"id": {"S": "2"}}],
                "projection": {
                    "expression": "#id, #name",
                    "expressionNames": {"#id": "id", "#name": "name"},
                },
            }
        },
    }
    assert batch_put == {
        "operation": "BatchPutItem",
        "tables": {
            "post": [{"id": {"S": "one"}, "value": {"S": "x"}}],
            "comment": [{"id": {"S": "one"}, "text": {"S": "t"}}],
        },
    }
    assert batch_delete == {
        "operation": "BatchDeleteItem",
        "tables": {"post": [{"id": {"S": "one"}}, {"id": {"S": "two"}}]},
    }


async def test_transactions(js: JsRuntime) -> None:
    transact_get, transact_write = await value(
        js,
        """[
          ddb.transactGet({ items: [{ table: 'post', key: { id: '1' }, projection: ['name'] },
                                    { table: 'post', key: { id: '2' } }] }),
          ddb.transactWrite({ items: [
            { putItem: { table: 'Orders', key: { id: 'o1' }, item: { status: 'PENDING' },
                         condition: { id: { attributeExists: false } } } },
            { updateItem: { table: 'Stats', key: { id: 'count' },
                            update: { count: ddb.operations.increment(1) } } },
            { deleteItem: { table: 'Carts', key: { id: 'c1' } } },
            { conditionCheck: { table: 'Users', key: { id: 'u1' },
                                condition: { active: { eq: true } } } },
          ] }),
        ]""",
    )
    assert transact_get == {
        "operation": "TransactGetItems",
        "transactItems": [
            {
                "table": "post",
                "key": {"id": {"S": "1"}},
                "projection": {"expression": "#name", "expressionNames": {"#name": "name"}},
            },
            {"table": "post", "key": {"id": {"S": "2"}}},
        ],
    }
    assert transact_write == {
        "operation": "TransactWriteItems",
        "transactItems": [
            {
                "table": "Orders",
                "operation": "PutItem",
                "key": {"id": {"S": "o1"}},
                "attributeValues": {"status": {"S": "PENDING"}},
                "condition": {
                    "expression": "(attribute_not_exists(#id))",
                    "expressionNames": {"#id": "id"},
                },
            },
            {
                "table": "Stats",
                "operation": "UpdateItem",
                "key": {"id": {"S": "count"}},
                "update": {
                    "expression": "SET #count = if_not_exists(#count, :count_start) + :count",
                    "expressionNames": {"#count": "count"},
                    "expressionValues": {":count_start": {"N": 0}, ":count": {"N": 1}},
                },
            },
            {"table": "Carts", "operation": "DeleteItem", "key": {"id": {"S": "c1"}}},
            {
                "table": "Users",
                "operation": "ConditionCheck",
                "key": {"id": {"S": "u1"}},
                "condition": {
                    "expression": "(#active = :active_eq)",
                    "expressionNames": {"#active": "active"},
                    "expressionValues": {":active_eq": {"BOOL": True}},
                },
            },
        ],
    }


async def test_a_malformed_module_call_says_what_is_wrong(js: JsRuntime) -> None:
    with pytest.raises(ResolverCodeError, match=r"get: key must name the item's key attributes"):
        await value(js, "ddb.get({ id: 1 })")
    with pytest.raises(ResolverCodeError, match=r"items\[0\] must be one of \{ putItem \}"):
        await value(js, "ddb.transactWrite({ items: [{ put: {} }] })")


# ---- the code's failures -------------------------------------------------------------------


async def test_a_syntax_error_names_its_line(js: JsRuntime) -> None:
    source = "export function request(ctx) {\n  return {\n    a: 1\n    b: 2 };\n}\n"
    with pytest.raises(ResolverCodeError) as caught:
        await js.call(source, "request", {})
    err = caught.value
    assert (err.kind, err.line, err.column) == ("syntax", 4, 5)
    assert str(err) == (
        "the resolver code does not parse (line 4, column 5): "
        "SyntaxError: Unexpected identifier 'b'"
    )


async def test_a_thrown_type_error_names_the_handler_and_line(js: JsRuntime) -> None:
    source = (
        "function title(post) {\n  return post.title.trim();\n}\n"
        "export function request(ctx) {\n  return ctx.args.missing.field;\n}\n"
        "export function response(ctx) {\n  return title(ctx.result);\n}\n"
    )
    with pytest.raises(ResolverCodeError) as caught:
        await js.call(source, "request", {"arguments": {}})
    assert str(caught.value) == (
        "the request handler failed at line 5, column 27: "
        "TypeError: Cannot read properties of undefined (reading 'field')"
    )
    assert (caught.value.handler, caught.value.line) == ("request", 5)
    with pytest.raises(ResolverCodeError) as caught:
        await js.call(source, "response", {"result": {}})
    assert str(caught.value) == (
        "the response handler failed at line 2, column 21 (in title): "
        "TypeError: Cannot read properties of undefined (reading 'trim')"
    )
    assert "evaluator" not in str(caught.value) and "node:" not in str(caught.value)


async def test_code_that_fails_while_loading(js: JsRuntime) -> None:
    source = "console.log('loading');\nconst broken = null.field;\nexport function request() {}\n"
    with pytest.raises(ResolverCodeError) as caught:
        await js.call(source, "request", {})
    assert str(caught.value) == (
        "the resolver code failed while loading for the request handler at line 2, column 21: "
        "TypeError: Cannot read properties of null (reading 'field')"
    )
    assert caught.value.logs == ["loading"]


async def test_output_of_top_level_code_goes_to_the_first_call(js: JsRuntime) -> None:
    source = "console.log('imported');\nexport function request() { return 1; }\n"
    assert (await js.call(source, "request", {})).logs == ["imported"]
    assert (await js.call(source, "request", {})).logs == []


async def test_a_failure_keeps_what_the_code_printed(js: JsRuntime) -> None:
    with pytest.raises(ResolverCodeError) as caught:
        await js.call(code("console.log('before'); null.x;"), "request", {})
    assert caught.value.logs == ["before"]


async def test_imports_that_are_not_served(js: JsRuntime) -> None:
    rds = "import { sql } from '@aws-appsync/utils/rds';\nexport function request() {}\n"
    with pytest.raises(ResolverCodeError, match=r"canaria does not serve @aws-appsync/utils/rds"):
        await js.call(rds, "request", {})
    local = "import x from './helpers.js';\nimport 'node:fs';\nexport function request() {}\n"
    with pytest.raises(ResolverCodeError, match=r"single file.*bundle it") as caught:
        await js.call(local, "request", {})
    assert caught.value.kind == "import" and caught.value.line == 1
    missing = "import { nope } from '@aws-appsync/utils';\nexport function request() {}\n"
    with pytest.raises(ResolverCodeError, match=r"does not provide an export named 'nope'"):
        await js.call(missing, "request", {})


async def test_a_missing_handler_and_an_async_one(js: JsRuntime) -> None:
    with pytest.raises(ResolverCodeError, match=r"exports no response function .*: request\)"):
        await js.call("export function request() { return 1; }", "response", {})
    with pytest.raises(ResolverCodeError, match=r"returned a Promise") as caught:
        await js.call("export async function request() { return 1; }", "request", {})
    assert caught.value.kind == "async"


async def test_a_result_that_is_not_json(js: JsRuntime) -> None:
    with pytest.raises(ResolverCodeError, match="cannot be sent as JSON"):
        await js.call(code("return 1n;"), "request", {})


async def test_a_redeployed_resolver_runs_its_new_code(js: JsRuntime) -> None:
    assert (await js.call(code("return 'v1';"), "request", {})).value == "v1"
    assert (await js.call(code("return 'v2';"), "request", {})).value == "v2"


async def test_many_calls_in_flight(js: JsRuntime) -> None:
    sources = [code(f"return [{i}, ctx.args.n, util.autoId()];") for i in range(5)]
    outcomes = await asyncio.gather(
        *(js.call(sources[n % 5], "request", {"arguments": {"n": n}}) for n in range(200))
    )
    assert [o.value[:2] for o in outcomes] == [[n % 5, n] for n in range(200)]
    assert len({o.value[2] for o in outcomes}) == 200


# ---- the Node.js process -------------------------------------------------------------------


async def test_process_exit_fails_the_call_and_the_next_call_works(tmp_path: Path) -> None:
    js = JsRuntime(tmp_path)
    try:
        assert (await js.call(code("return 1;"), "request", {})).value == 1
        first = js.pid
        with pytest.raises(ResolverCodeError, match=r"exited with code 3.*process\.exit") as e:
            await js.call(code("process.exit(3);"), "request", {})
        assert e.value.kind == "exit"
        assert first is not None and not alive(first)
        assert (await js.call(code("return 2;"), "request", {})).value == 2
        assert js.pid not in (None, first)
    finally:
        await js.close()


async def test_an_endless_handler_times_out_and_the_next_call_works(tmp_path: Path) -> None:
    js = JsRuntime(tmp_path, timeout_s=0.3)
    try:
        with pytest.raises(ResolverCodeError) as caught:
            await js.call(code("while (true) {}"), "request", {})
        assert caught.value.kind == "timeout"
        assert str(caught.value) == "the request handler did not finish within 0.3 s"
        assert (await js.call(code("return 'after';"), "request", {})).value == "after"
    finally:
        await js.close()


async def test_a_stuck_process_is_killed_with_its_calls(tmp_path: Path) -> None:
    js = JsRuntime(tmp_path, timeout_s=0.3)
    stuck = "for (;;) {}\nexport function request() {}\n"  # loops while being imported
    try:
        await js.call(code("return 0;"), "request", {})
        pid = js.pid

        async def later() -> JsOutcome:
            await asyncio.sleep(0.2)  # in flight behind the stuck call, and due after it
            return await js.call(code("return 1;", "return 2;"), "response", {})

        results = await asyncio.gather(
            js.call(stuck, "request", {}), later(), return_exceptions=True
        )
        assert all(isinstance(r, ResolverCodeError) and r.kind == "timeout" for r in results)
        assert "ran past its time limit" in str(results[1])
        assert pid is not None and not alive(pid)
        assert (await js.call(code("return 3;"), "request", {})).value == 3
    finally:
        await js.close()


async def test_no_node_to_run_the_code(tmp_path: Path) -> None:
    js = JsRuntime(tmp_path, node=str(tmp_path / "no-node"))
    with pytest.raises(InvocationError, match=r"cannot start Node\.js"):
        await js.call(code("return 1;"), "request", {})
    await js.close()


async def test_close_leaves_no_process(tmp_path: Path) -> None:
    js = JsRuntime(tmp_path)
    await js.call(code("return 1;"), "request", {})
    pid = js.pid
    assert pid is not None and alive(pid)
    await js.close()
    assert not alive(pid) and js.pid is None
    await js.close()  # closing again is harmless
