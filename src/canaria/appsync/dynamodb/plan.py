"""Reading AppSync's DynamoDB request objects (``canaria.appsync.dynamodb``): each one
checked and laid out as the DynamoDB call it asks for (``plan``), with no I/O; a malformed
one raises ``RequestError``, naming the field."""

from __future__ import annotations

import base64
import binascii
import json
import math
import re
from collections.abc import Hashable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Literal, assert_never

Item = dict[str, dict[str, Any]]  # DynamoDB JSON as boto3's low-level client takes it

_CONDITION_FAILED = "DynamoDB:ConditionalCheckFailedException"
_OPERATIONS = (
    "GetItem, PutItem, UpdateItem, DeleteItem, Query, Scan, BatchGetItem, BatchPutItem, "
    "BatchDeleteItem, TransactGetItems, TransactWriteItems"
)
_SELECT = ("ALL_ATTRIBUTES", "ALL_PROJECTED_ATTRIBUTES", "SPECIFIC_ATTRIBUTES")
_NOT_BASE64 = re.compile(r"[^A-Za-z0-9+/]")
_TOP_NAME = re.compile(r"\s*([^.\[\s]+)")


class RequestError(Exception):
    """The request object is malformed (an unknown operation, a missing key, a value of the
    wrong type) or asks for something canaria does not do. ``field`` is the JSON path of
    the offending field, as AppSync writes it (``$[tables][posts][keys][0]``)."""

    def __init__(self, field: str, problem: str) -> None:
        self.field = field
        self.message = f"Value for field '{field}' {problem}."
        super().__init__(self.message)


class DataSourceError(Exception):
    """What AppSync reports for a failed data source call: ``error_type`` such as
    ``DynamoDB:ConditionalCheckFailedException``, DynamoDB's ``message``, and ``data``,
    what AppSync leaves in ``ctx.result`` beside ``ctx.error``: the item as DynamoDB holds
    it for a rejected write whose condition failed, ``{"keys" | "items": None,
    "cancellationReasons": [...]}`` for a cancelled transaction, else None."""

    def __init__(self, error_type: str, message: str, data: Any = None) -> None:
        super().__init__(f"{error_type}: {message}")
        self.error_type = error_type
        self.message = message
        self.data = data


# -- the plan: one frozen instruction per kind of call -----------------------------------


@dataclass(frozen=True)
class GetItem:
    params: Mapping[str, Any]  # get_item's arguments


@dataclass(frozen=True)
class OnConditionFailure:
    """AppSync's handling of a failed write condition: read the item (consistently unless
    told otherwise); a PutItem whose item is already there, but for ``equals_ignore``, and
    a DeleteItem whose item is already gone, succeed; any other write is rejected."""

    consistent_read: bool
    equals_ignore: frozenset[str]


@dataclass(frozen=True)
class WriteItem:
    kind: Literal["PutItem", "UpdateItem", "DeleteItem"]
    params: Mapping[str, Any]  # put_item's, update_item's or delete_item's arguments
    key: Item
    written: Item  # PutItem: the whole item; otherwise the key
    on_failure: OnConditionFailure | None  # None: the write has no condition


@dataclass(frozen=True)
class Page:
    kind: Literal["Query", "Scan"]
    params: Mapping[str, Any]  # query's or scan's arguments, ExclusiveStartKey included
    scope: str  # what a nextToken is good for: region, table, operation, index


@dataclass(frozen=True)
class BatchGet:
    request_items: Mapping[str, Any]  # batch_get_item's RequestItems
    keys: Mapping[str, tuple[Item, ...]]  # by table, in the request's order
    hidden: Mapping[str, frozenset[str]]  # key attributes fetched only to match items to keys


@dataclass(frozen=True)
class BatchWrite:
    kind: Literal["BatchPutItem", "BatchDeleteItem"]
    entries: Mapping[str, tuple[Item, ...]]  # items to put, or keys to delete, by table


@dataclass(frozen=True)
class TransactGet:
    items: tuple[Mapping[str, Any], ...]  # TransactItems: {"Get": {...}}


@dataclass(frozen=True)
class TransactWrite:
    items: tuple[Mapping[str, Any], ...]  # TransactItems: {"Put" | "Update" | ...: {...}}
    keys: tuple[Item, ...]


Operation = GetItem | WriteItem | Page | BatchGet | BatchWrite | TransactGet | TransactWrite


# -- reading the request ------------------------------------------------------------------


class _Object:
    """One JSON object of the request, read field by field; ``path`` names it in errors."""

    def __init__(self, value: Any, path: str) -> None:
        if not isinstance(value, Mapping):
            raise RequestError(path, "must be an object")
        self.value: Mapping[str, Any] = value
        self.path = path

    def at(self, name: str | int) -> str:
        return f"{self.path}[{name}]"

    def required(self, name: str) -> Any:
        value = self.value.get(name)
        if value is None:
            raise RequestError(self.at(name), "not found")
        return value

    def text(self, name: str, *, required: bool = False) -> str | None:
        value = self.required(name) if required else self.value.get(name)
        if value is not None and (not isinstance(value, str) or not value):
            raise RequestError(self.at(name), "must be a non-empty string")
        return value

    def flag(self, name: str, default: bool) -> bool:
        value = self.value.get(name)
        if value is None:
            return default
        if not isinstance(value, bool):
            raise RequestError(self.at(name), "must be true or false")
        return value

    def count(self, name: str, minimum: int) -> int | None:
        value = self.value.get(name)
        if value is None:
            return None
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
            raise RequestError(self.at(name), f"must be an integer of at least {minimum}")
        return value

    def object(self, name: str, *, required: bool = False) -> _Object | None:
        value = self.required(name) if required else self.value.get(name)
        return None if value is None else _Object(value, self.at(name))

    def array(self, name: str) -> list[Any]:
        value = self.required(name)
        if not isinstance(value, list) or not value:
            raise RequestError(self.at(name), "must be a non-empty array")
        return value

    def key(self) -> Item:
        return _filled(self.required("key"), self.at("key"))


def _attributes(value: Any, path: str) -> Item:
    """A map of attribute names to typed values (``key``, ``attributeValues``, ``M``)."""
    if not isinstance(value, Mapping):
        raise RequestError(path, "must be a map of attribute names to typed values")
    return {str(name): _typed(inner, f"{path}[{name}]") for name, inner in value.items()}


def _typed(value: Any, path: str) -> dict[str, Any]:
    """A typed value (``{"S": "x"}``, ``{"N": 1}``, ...) as boto3 takes it."""
    if not isinstance(value, Mapping) or len(value) != 1:
        raise RequestError(
            path,
            "must be a typed value, an object with one of S, N, B, SS, NS, BS, BOOL, NULL, L, M",
        )
    ((kind, inner),) = value.items()
    where = f"{path}[{kind}]"
    match kind:
        case "S" if isinstance(inner, str):
            return {"S": inner}
        case "N":
            return {"N": _number_text(inner, where)}
        case "B":
            return {"B": _binary(inner, where)}
        case "SS" if isinstance(inner, list) and all(isinstance(s, str) for s in inner):
            return {"SS": list(inner)}
        case "NS" if isinstance(inner, list):
            return {"NS": [_number_text(n, f"{where}[{i}]") for i, n in enumerate(inner)]}
        case "BS" if isinstance(inner, list):
            return {"BS": [_binary(b, f"{where}[{i}]") for i, b in enumerate(inner)]}
        case "BOOL" if isinstance(inner, bool):
            return {"BOOL": inner}
        case "NULL" if inner is None or inner is True:
            return {"NULL": True}
        case "L" if isinstance(inner, list):
            return {"L": [_typed(v, f"{where}[{i}]") for i, v in enumerate(inner)]}
        case "M":
            return {"M": _attributes(inner, where)}
        case "S" | "SS" | "NS" | "BS" | "BOOL" | "NULL" | "L":
            raise RequestError(where, f"is not a valid {kind} value")
    raise RequestError(path, f"has an unknown type '{kind}'")


def _number_text(value: Any, path: str) -> str:
    if isinstance(value, str):
        return value  # DynamoDB judges the digits, as AppSync leaves it to
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    if isinstance(value, float) and math.isfinite(value):
        return str(Decimal(repr(value)))
    raise RequestError(path, "must be a number, or a string of one")


def _binary(value: Any, path: str) -> bytes:
    """Base64 decoded as RFC 2045 has it, which AppSync follows: characters outside the
    alphabet are ignored."""
    if not isinstance(value, str):
        raise RequestError(path, "must be a base64 string")
    digits = _NOT_BASE64.sub("", value)
    try:
        return base64.b64decode(digits + "=" * (-len(digits) % 4), validate=True)
    except (binascii.Error, ValueError):
        raise RequestError(path, "is not valid base64") from None


@dataclass(frozen=True)
class _Expression:
    text: str
    names: Mapping[str, str]
    values: Item


def _expression(section: _Object | None, *, values: bool = True) -> _Expression | None:
    if section is None:
        return None
    names = section.object("expressionNames")
    for name, value in (names.value if names else {}).items():
        if not isinstance(value, str) or not value:
            raise RequestError(f"{section.at('expressionNames')}[{name}]", "must be a string")
    given = section.value.get("expressionValues")
    if given is not None and not values:
        raise RequestError(section.at("expressionValues"), "has no place in a projection")
    return _Expression(
        text=str(section.text("expression", required=True)),
        names=dict(names.value) if names else {},
        values=_attributes(given, section.at("expressionValues")) if given is not None else {},
    )


def _with_expressions(
    params: dict[str, Any], path: str, **expressions: _Expression | None
) -> dict[str, Any]:
    """``params`` with each expression under its parameter name and the placeholders of
    all of them merged, as DynamoDB takes them (one map of names, one of values)."""
    names: dict[str, str] = {}
    values: Item = {}
    for parameter, expression in expressions.items():
        if expression is None:
            continue
        params[parameter] = expression.text
        for name, attribute in expression.names.items():
            if names.setdefault(name, attribute) != attribute:
                raise RequestError(path, f"gives the placeholder {name} two different names")
        for name, value in expression.values.items():
            if _canonical(values.setdefault(name, value)) != _canonical(value):
                raise RequestError(path, f"gives the placeholder {name} two different values")
    if names:
        params["ExpressionAttributeNames"] = names
    if values:
        params["ExpressionAttributeValues"] = values
    return params


# -- planning -----------------------------------------------------------------------------


def plan(table: str, request: Mapping[str, Any], *, region: str = "us-east-1") -> Operation:
    """Check ``request`` and lay out the DynamoDB call it asks for, without making it."""
    fields = _Object(request, "$")
    operation = fields.text("operation", required=True)
    match operation:
        case "GetItem":
            params: dict[str, Any] = {"TableName": table, "Key": fields.key()}
            if fields.flag("consistentRead", False):
                params["ConsistentRead"] = True
            return GetItem(_with_expressions(params, "$", ProjectionExpression=_projection(fields)))
        case "PutItem" | "UpdateItem" | "DeleteItem":
            return _write(operation, table, fields)
        case "Query" | "Scan":
            return _page(operation, table, fields, region)
        case "BatchGetItem":
            return _batch_get(fields)
        case "BatchPutItem" | "BatchDeleteItem":
            return _batch_write(operation, fields)
        case "TransactGetItems":
            return _transact_get(fields)
        case "TransactWriteItems":
            return _transact_write(fields)
        case "Sync":
            raise RequestError(
                fields.at("operation"),
                "asks for Sync, which needs a versioned data source with Delta Sync; canaria "
                "has none (use Query or Scan)",
            )
    raise RequestError(fields.at("operation"), f"must be one of {_OPERATIONS}, not '{operation}'")


def _projection(fields: _Object) -> _Expression | None:
    return _expression(fields.object("projection"), values=False)


def _write(
    kind: Literal["PutItem", "UpdateItem", "DeleteItem"], table: str, fields: _Object
) -> WriteItem:
    key = fields.key()
    params: dict[str, Any] = {"TableName": table}
    written = key
    update = None
    match kind:
        case "PutItem":
            written = params["Item"] = _put_item(fields, key)
        case "UpdateItem":
            params.update(Key=key, ReturnValues="ALL_NEW")
            update = _expression(fields.object("update", required=True))
        case "DeleteItem":
            params.update(Key=key, ReturnValues="ALL_OLD")
        case _:
            assert_never(kind)
    section = fields.object("condition")
    _with_expressions(
        params, "$", UpdateExpression=update, ConditionExpression=_expression(section)
    )
    return WriteItem(kind, params, key, written, _on_failure(section) if section else None)


def _put_item(fields: _Object, key: Item) -> Item:
    """The item a PutItem writes: its ``attributeValues`` and its ``key``."""
    values = fields.value.get("attributeValues")
    attributes = _attributes(values, fields.at("attributeValues")) if values is not None else {}
    return {**attributes, **key}


def _on_failure(condition: _Object) -> OnConditionFailure:
    ignore = condition.value.get("equalsIgnore") or []
    if not isinstance(ignore, list) or not all(isinstance(name, str) for name in ignore):
        raise RequestError(condition.at("equalsIgnore"), "must be an array of attribute names")
    handler = condition.object("conditionalCheckFailedHandler")
    strategy = handler.text("strategy", required=True) if handler else "Reject"
    if handler is not None and strategy == "Custom":
        raise RequestError(
            handler.at("strategy"),
            "asks for Custom: canaria does not call a Lambda function to settle a failed "
            "condition (use Reject, the default)",
        )
    if handler is not None and strategy != "Reject":
        raise RequestError(handler.at("strategy"), "must be Reject or Custom")
    return OnConditionFailure(condition.flag("consistentRead", True), frozenset(ignore))


def _page(kind: Literal["Query", "Scan"], table: str, fields: _Object, region: str) -> Page:
    params: dict[str, Any] = {"TableName": table}
    index = fields.text("index")
    if index is not None:
        params["IndexName"] = index
    limit = fields.count("limit", 1)
    if limit is not None:
        params["Limit"] = limit
    if fields.flag("consistentRead", False):
        params["ConsistentRead"] = True
    select = fields.text("select")
    if select is not None and select not in _SELECT:
        raise RequestError(fields.at("select"), f"must be one of {', '.join(_SELECT)}")
    if select is not None:
        params["Select"] = select
    query = None
    if kind == "Query":
        query = _expression(fields.object("query", required=True))
        if not fields.flag("scanIndexForward", True):
            params["ScanIndexForward"] = False
    else:
        segment, total = fields.count("segment", 0), fields.count("totalSegments", 1)
        if (segment is None) != (total is None):
            raise RequestError(fields.at("segment"), "and totalSegments go together")
        if segment is not None and total is not None:
            if segment >= total:
                raise RequestError(fields.at("segment"), "must be less than totalSegments")
            params.update(Segment=segment, TotalSegments=total)
    _with_expressions(
        params,
        "$",
        KeyConditionExpression=query,
        FilterExpression=_expression(fields.object("filter")),
        ProjectionExpression=_projection(fields),
    )
    scope = f"{region}/{table}/{kind}/{index or ''}"
    token = fields.value.get("nextToken")
    if token is not None:
        params["ExclusiveStartKey"] = _start_key(token, scope, fields.at("nextToken"))
    return Page(kind, params, scope)


def _tables(fields: _Object) -> _Object:
    tables = fields.object("tables", required=True)
    assert tables is not None
    if not tables.value:
        raise RequestError(tables.path, "must name at least one table")
    return tables


def _batch_get(fields: _Object) -> BatchGet:
    request: dict[str, Any] = {}
    keys: dict[str, tuple[Item, ...]] = {}
    hidden: dict[str, frozenset[str]] = {}
    tables = _tables(fields)
    for name, entry in tables.value.items():
        # the reference's own example gives a table its keys alone, as an array
        entry = {"keys": entry} if isinstance(entry, list) else entry
        table = _Object(entry, tables.at(name))
        listed = table.array("keys")
        keys[name] = tuple(_filled(k, f"{table.at('keys')}[{i}]") for i, k in enumerate(listed))
        params: dict[str, Any] = {"Keys": list(keys[name])}
        if table.flag("consistentRead", False):
            params["ConsistentRead"] = True
        projection = _projection(table)
        if projection is not None:
            projection, hidden[name] = _with_keys(projection, keys[name])
        request[name] = _with_expressions(params, table.path, ProjectionExpression=projection)
    return BatchGet(request, keys, hidden)


def _filled(value: Any, path: str) -> Item:
    """A key, or a whole item: a map of attribute names to typed values, not empty."""
    attributes = _attributes(value, path)
    if not attributes:
        raise RequestError(path, "must not be empty")
    return attributes


def _with_keys(
    projection: _Expression, keys: tuple[Item, ...]
) -> tuple[_Expression, frozenset[str]]:
    """The projection with the key attributes it leaves out added (BatchGetItem answers in
    any order: its items are matched to the keys asked for), and those attributes."""
    named = set()
    for path in projection.text.split(","):
        top = _TOP_NAME.match(path)
        if top is not None:
            named.add(projection.names.get(top.group(1), top.group(1)))
    missing = sorted({name for key in keys for name in key} - named)
    extra = {f"#appsyncKey{i}": name for i, name in enumerate(missing)}
    text = ", ".join([projection.text, *extra]) if extra else projection.text
    return _Expression(text, {**projection.names, **extra}, {}), frozenset(missing)


def _batch_write(kind: Literal["BatchPutItem", "BatchDeleteItem"], fields: _Object) -> BatchWrite:
    entries: dict[str, tuple[Item, ...]] = {}
    tables = _tables(fields)
    for name in tables.value:
        listed = tables.array(name)
        entries[name] = tuple(_filled(v, f"{tables.at(name)}[{i}]") for i, v in enumerate(listed))
    return BatchWrite(kind, entries)


def _transact_items(fields: _Object) -> list[_Object]:
    listed = fields.array("transactItems")
    return [_Object(entry, f"{fields.at('transactItems')}[{i}]") for i, entry in enumerate(listed)]


def _transact_get(fields: _Object) -> TransactGet:
    items = []
    for entry in _transact_items(fields):
        get = {"TableName": entry.text("table", required=True), "Key": entry.key()}
        items.append(
            {"Get": _with_expressions(get, entry.path, ProjectionExpression=_projection(entry))}
        )
    return TransactGet(tuple(items))


def _transact_write(fields: _Object) -> TransactWrite:
    items: list[Mapping[str, Any]] = []
    keys: list[Item] = []
    for entry in _transact_items(fields):
        params: dict[str, Any] = {"TableName": entry.text("table", required=True)}
        key = entry.key()
        keys.append(key)
        operation = entry.text("operation", required=True)
        update = None
        condition = entry.object("condition", required=operation == "ConditionCheck")
        match operation:
            case "PutItem":
                params["Item"] = _put_item(entry, key)
                action = "Put"
            case "UpdateItem":
                params["Key"] = key
                update = _expression(entry.object("update", required=True))
                action = "Update"
            case "DeleteItem":
                params["Key"] = key
                action = "Delete"
            case "ConditionCheck":
                params["Key"] = key
                action = "ConditionCheck"
            case _:
                raise RequestError(
                    entry.at("operation"),
                    "must be one of PutItem, UpdateItem, DeleteItem, ConditionCheck",
                )
        if condition is not None:
            returned = condition.flag("returnValuesOnConditionCheckFailure", True)
            params["ReturnValuesOnConditionCheckFailure"] = "ALL_OLD" if returned else "NONE"
        _with_expressions(
            params, entry.path, UpdateExpression=update, ConditionExpression=_expression(condition)
        )
        items.append({action: params})
    return TransactWrite(tuple(items), tuple(keys))


# -- pagination tokens --------------------------------------------------------------------


def _token(scope: str, key: Mapping[str, Any]) -> str:
    """An opaque nextToken: the LastEvaluatedKey, and what it is good for, in base64."""
    document = {"scope": scope, "key": {name: _requested(value) for name, value in key.items()}}
    text = json.dumps(document, separators=(",", ":"), sort_keys=True)
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def _start_key(token: Any, scope: str, path: str) -> Item:
    refused = RequestError(path, "is not a pagination token this data source gave for this call")
    if not isinstance(token, str):
        raise refused
    try:
        document = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
    except (binascii.Error, ValueError):
        raise refused from None
    if not isinstance(document, dict) or document.get("scope") != scope:
        raise refused
    try:
        return _attributes(document.get("key"), path)
    except RequestError:
        raise refused from None


def _requested(value: Mapping[str, Any]) -> dict[str, Any]:
    """A key attribute in the request's typed form (binary as base64)."""
    if "B" in value:
        return {"B": base64.b64encode(value["B"]).decode()}
    return dict(value)


# -- comparing values as DynamoDB does ----------------------------------------------------


def _canonical(value: Mapping[str, Any]) -> Hashable:
    """A value in a form that compares as DynamoDB compares (sets unordered, 1.50 == 1.5)."""
    ((kind, inner),) = value.items()
    match kind:
        case "N":
            return kind, Decimal(inner)
        case "B":
            return kind, bytes(inner)
        case "SS" | "BS":
            return kind, frozenset(bytes(v) if kind == "BS" else v for v in inner)
        case "NS":
            return kind, frozenset(Decimal(v) for v in inner)
        case "L":
            return kind, tuple(_canonical(v) for v in inner)
        case "M":
            return kind, _item_form(inner)
    return kind, inner


def _item_form(item: Mapping[str, Any], leave_out: frozenset[str] = frozenset()) -> Hashable:
    return frozenset((n, _canonical(v)) for n, v in item.items() if n not in leave_out)
