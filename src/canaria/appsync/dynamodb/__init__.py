"""AppSync's Amazon DynamoDB data source: the request object a resolver's ``request`` handler
returns (``APPSYNC_JS``, or the same JSON from a VTL template) made into a DynamoDB call, and
DynamoDB's answer made into what AppSync gives the response handler as ``ctx.result``.

    plan(table, request)    -> Operation   no I/O: the request checked, the call laid out
    execute(client, op)     -> result      the call, and its answer in AppSync's shapes
    run(client, table, request) = execute(client, plan(table, request))

Requests carry DynamoDB typed values (``{"S": "x"}``, ``{"N": 1}``, ``{"B": base64}``);
results are plain JSON: numbers are ``int`` when integral, else ``float``; sets are lists;
binary values are base64 strings; ``NULL`` is ``None``.

Two exceptions, neither a subclass of the other:

    RequestError      the request object is malformed, or asks for what canaria does not
                      do; AppSync's validation error, its message naming the field
    DataSourceError   DynamoDB refused the call: ``DynamoDB:<code>``, DynamoDB's message,
                      and ``data``, what AppSync leaves in ``ctx.result`` beside the error
"""

from __future__ import annotations

import base64
from collections.abc import Callable, Hashable, Iterable, Mapping
from decimal import Decimal
from typing import Any, assert_never

from botocore.exceptions import ClientError, ParamValidationError

from .plan import (
    _CONDITION_FAILED,
    BatchGet,
    BatchWrite,
    DataSourceError,
    GetItem,
    OnConditionFailure,
    Operation,
    Page,
    RequestError,
    TransactGet,
    TransactWrite,
    WriteItem,
    _canonical,
    _item_form,
    _token,
    plan,
)

__all__ = [
    "BatchGet",
    "BatchWrite",
    "DataSourceError",
    "GetItem",
    "OnConditionFailure",
    "Operation",
    "Page",
    "RequestError",
    "TransactGet",
    "TransactWrite",
    "WriteItem",
    "execute",
    "plain",
    "plan",
    "run",
]


def run(
    client: Any, table: str, request: Mapping[str, Any], *, default_region: str = "us-east-1"
) -> Any:
    """Make the call ``request`` asks for and return what AppSync puts in ``ctx.result``.

    Synchronous; ``client`` is a boto3 DynamoDB client (low-level); ``table`` the data
    source's table name; ``default_region`` the data source's region, which pagination
    tokens carry with the table, operation and index, so that one data source's token is
    refused by another. Raises ``RequestError`` before any call for a malformed request,
    ``DataSourceError`` when DynamoDB refuses; a failure to reach DynamoDB at all (botocore's
    connection errors) propagates as it is."""
    return execute(client, plan(table, request, region=default_region))


# -- results ------------------------------------------------------------------------------


def plain(value: Mapping[str, Any]) -> Any:
    """One DynamoDB attribute value as AppSync gives it to the response handler."""
    ((kind, inner),) = value.items()
    match kind:
        case "S" | "BOOL":
            return inner
        case "N":
            return _number(inner)
        case "B":
            return base64.b64encode(inner).decode()
        case "SS":
            return list(inner)
        case "NS":
            return [_number(n) for n in inner]
        case "BS":
            return [base64.b64encode(b).decode() for b in inner]
        case "NULL":
            return None
        case "L":
            return [plain(v) for v in inner]
        case "M":
            return _plain_item(inner)
    raise ValueError(f"not a DynamoDB attribute value: {kind}")


def _plain_item(item: Mapping[str, Any] | None) -> dict[str, Any] | None:
    return None if item is None else {name: plain(value) for name, value in item.items()}


def _number(text: str) -> int | float:
    number = Decimal(text)
    return int(number) if number == number.to_integral_value() else float(number)


def _key_form(item: Mapping[str, Any], names: Iterable[str]) -> Hashable:
    return frozenset((n, _canonical(item[n])) for n in names if n in item)


# -- execution ----------------------------------------------------------------------------


def execute(client: Any, operation: Operation) -> Any:
    """Make the planned call with ``client`` and return AppSync's ``ctx.result``."""
    match operation:
        case GetItem(params):
            return _plain_item(_call(client.get_item, params).get("Item"))
        case WriteItem():
            return _written(client, operation)
        case Page(kind, params, scope):
            answer = _call(client.query if kind == "Query" else client.scan, params)
            last = answer.get("LastEvaluatedKey")
            return {
                "items": [_plain_item(item) for item in answer.get("Items", [])],
                "nextToken": _token(scope, last) if last else None,
                "scannedCount": answer.get("ScannedCount", 0),
            }
        case BatchGet():
            return _batch_got(client, operation)
        case BatchWrite():
            return _batch_written(client, operation)
        case TransactGet(items):
            answer = _call(
                client.transact_get_items, {"TransactItems": list(items)}, answers="items"
            )
            return {
                "items": [_plain_item(got.get("Item")) for got in answer.get("Responses", [])],
                "cancellationReasons": None,
            }
        case TransactWrite(items, keys):
            _call(client.transact_write_items, {"TransactItems": list(items)}, answers="keys")
            return {"keys": [_plain_item(key) for key in keys], "cancellationReasons": None}
        case _:
            assert_never(operation)


def _call(
    method: Callable[..., Any], params: Mapping[str, Any], *, answers: str | None = None
) -> dict[str, Any]:
    """DynamoDB's answer, or its refusal as a ``DataSourceError``; a transaction (whose
    result field is ``answers``) cancelled carries its reasons as AppSync gives them."""
    try:
        answer: dict[str, Any] = method(**params)
    except ClientError as exc:
        error = exc.response.get("Error", {})
        code, message = error.get("Code"), str(error.get("Message") or "")
        data = None
        if answers is not None and code == "TransactionCanceledException":
            reasons = [_reason(reason) for reason in exc.response.get("CancellationReasons", [])]
            data = {answers: None, "cancellationReasons": reasons}
        raise DataSourceError(f"DynamoDB:{code}", message, data) from None
    except ParamValidationError as exc:  # what DynamoDB would refuse, refused by botocore first
        raise DataSourceError("DynamoDB:ValidationException", str(exc)) from None
    return answer


def _written(client: Any, op: WriteItem) -> Any:
    match op.kind:
        case "PutItem":
            method = client.put_item
        case "UpdateItem":
            method = client.update_item
        case "DeleteItem":
            method = client.delete_item
        case _:
            assert_never(op.kind)
    try:
        answer = _call(method, op.params)
    except DataSourceError as failure:
        if op.on_failure is None or failure.error_type != _CONDITION_FAILED:
            raise
        return _condition_failed(client, op, op.on_failure, failure)
    return _plain_item(op.written if op.kind == "PutItem" else answer.get("Attributes"))


def _condition_failed(
    client: Any, op: WriteItem, on_failure: OnConditionFailure, failure: DataSourceError
) -> Any:
    read = {
        "TableName": op.params["TableName"],
        "Key": op.key,
        "ConsistentRead": on_failure.consistent_read,
    }
    current = _call(client.get_item, read).get("Item")
    ignore = on_failure.equals_ignore
    if (
        op.kind == "PutItem"
        and current is not None
        and _item_form(current, ignore) == _item_form(op.written, ignore)
    ):
        return _plain_item(current)
    if op.kind == "DeleteItem" and current is None:
        return None
    raise DataSourceError(failure.error_type, failure.message, _plain_item(current))


def _batch_got(client: Any, op: BatchGet) -> dict[str, Any]:
    answer = _call(client.batch_get_item, {"RequestItems": op.request_items})
    unprocessed = answer.get("UnprocessedKeys") or {}
    data: dict[str, Any] = {}
    left: dict[str, Any] = {}
    for table, keys in op.keys.items():
        names = {name for key in keys for name in key}
        hidden = op.hidden.get(table, frozenset())
        found = {
            _key_form(item, names): item for item in answer.get("Responses", {}).get(table, [])
        }
        data[table] = [
            _plain_item({n: v for n, v in item.items() if n not in hidden})
            if (item := found.get(_key_form(key, names))) is not None
            else None
            for key in keys
        ]
        left[table] = [_plain_item(key) for key in unprocessed.get(table, {}).get("Keys", [])]
    return {"data": data, "unprocessedKeys": left}


def _batch_written(client: Any, op: BatchWrite) -> dict[str, Any]:
    put = op.kind == "BatchPutItem"
    request = "PutRequest" if put else "DeleteRequest"
    field = "Item" if put else "Key"
    items = {
        table: [{request: {field: entry}} for entry in entries]
        for table, entries in op.entries.items()
    }
    answer = _call(client.batch_write_item, {"RequestItems": items})
    data: dict[str, Any] = {}
    left: dict[str, Any] = {}
    for table, entries in op.entries.items():
        unprocessed = [
            w[request][field] for w in (answer.get("UnprocessedItems") or {}).get(table, [])
        ]
        forms = {_item_form(entry) for entry in unprocessed}
        data[table] = [
            None if _item_form(entry) in forms else _plain_item(entry) for entry in entries
        ]
        left[table] = [_plain_item(entry) for entry in unprocessed]
    return {"data": data, "unprocessedItems" if put else "unprocessedKeys": left}


def _reason(reason: Mapping[str, Any]) -> dict[str, Any]:
    """One of a cancelled transaction's reasons, as AppSync gives it."""
    given = {"type": reason.get("Code") or "None", "message": reason.get("Message") or "None"}
    if reason.get("Item") is not None:
        given["item"] = _plain_item(reason["Item"])
    return given
