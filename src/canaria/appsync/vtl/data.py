"""The data of AppSync's VTL templates: template values as plain JSON (``$util.toJson``),
DynamoDB typed values (``$util.dynamodb``) and filter expressions (``$util.transform``).

The typed values and the expressions are those canaria's ``APPSYNC_JS`` utilities give
(``js/attributes.mjs``, ``js/expressions.mjs``), where the AWS AppSync Developer Guide
documents the two alike: numbers stay JSON numbers (``{"N": 12345}``), lists are ``L``
(never sets), a filter's placeholders are named ``#title`` and ``:and_0_title_contains``.
"""

from __future__ import annotations

import json
from collections.abc import KeysView, Mapping, ValuesView
from dataclasses import dataclass, field
from typing import Any

from canaria.gateway.mapping_templates import _from_python, _JavaString, _s, _to_text

__all__ = [
    "DYNAMODB",
    "TRANSFORM",
    "ExpressionText",
    "dumps",
    "is_number",
    "json_value",
    "render_filter",
    "to_dynamodb",
]


def is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


# --------------------------------------------------------------------------- JSON values


def json_value(value: Any) -> Any:
    """A template value as plain JSON data (what ``$util.toJson`` writes): maps, lists and
    key sets as dicts and lists, strings as ``str``; a method reference (``$map.items``
    when the map has no such key) is null."""
    if isinstance(value, ExpressionText):
        return json_value(value.parsed)
    if value is None or isinstance(value, bool | int | float):
        return value
    if isinstance(value, str):
        return str(value)
    if isinstance(value, Mapping):
        return {_to_text(k, nested=True): json_value(v) for k, v in value.items()}
    if isinstance(value, list | tuple | range | set | frozenset | KeysView | ValuesView):
        return [json_value(v) for v in value]
    if callable(value):
        return None
    return _to_text(value)


def dumps(value: Any) -> _JavaString:
    """``$util.toJson``: compact JSON, as Jackson writes it."""
    return _s(json.dumps(json_value(value), ensure_ascii=False, separators=(",", ":")))


class ExpressionText(_JavaString):
    """What ``$util.transform.toDynamoDBFilterExpression`` (and ``...ConditionExpression``)
    gives: the expression object as JSON text, what AppSync returns and templates read with
    ``$util.parseJson``; its fields can also be read directly (``$f.expression``,
    ``$f.get("expressionNames")``) and ``$util.toJson`` writes the object, as the guide's
    reference, which calls the result a Map, has it."""

    parsed: dict[str, Any]

    def __new__(cls, parsed: dict[str, Any]) -> ExpressionText:
        text = json.dumps(parsed, ensure_ascii=False, separators=(",", ":"))
        self = super().__new__(cls, text)
        self.parsed = _from_python(parsed)
        return self

    def __getitem__(self, key: Any) -> Any:
        if isinstance(key, str) and key in self.parsed:
            return self.parsed[key]
        return str.__getitem__(self, key)

    def get(self, key: Any, default: Any = None) -> Any:
        return self.parsed.get(str(key), default)


# --------------------------------------------------------------------------- $util.dynamodb


def to_dynamodb(value: Any) -> dict[str, Any]:
    """A value as a DynamoDB typed value: lists (``L``), never sets."""
    if value is None:
        return {"NULL": None}
    if isinstance(value, bool):
        return {"BOOL": value}
    if is_number(value):
        return {"N": value}
    if isinstance(value, str):
        return {"S": str(value)}
    if isinstance(value, Mapping):
        return {"M": _map_values(value)}
    if isinstance(value, list | tuple | range | KeysView | ValuesView):
        return {"L": [to_dynamodb(v) for v in value]}
    raise ValueError(f"$util.dynamodb.toDynamoDB: a {type(value).__name__} has no DynamoDB form")


def _map_values(value: Mapping[Any, Any]) -> dict[str, Any]:
    return {_to_text(k, nested=True): to_dynamodb(v) for k, v in value.items()}


def _set_of(name: str, values: Any, kind: str) -> list[Any] | None:
    if values is None:
        return None
    if not isinstance(values, list | tuple):
        raise ValueError(f"$util.dynamodb.{name}: expected a list, got {_to_text(values)!r}")
    for item in values:
        fits = isinstance(item, str) if kind == "string" else is_number(item)
        if not fits:
            raise ValueError(f"$util.dynamodb.{name}: {json.dumps(json_value(item))} is no {kind}")
    return [json_value(v) for v in values]


def _typed(value: dict[str, Any] | None) -> Any:
    return None if value is None else _from_python(value)


class _DynamoDB:
    """``$util.dynamodb``: each helper, and its ``...Json`` twin giving the same as JSON."""

    def toDynamoDB(self, value: Any) -> Any:
        return _typed(to_dynamodb(value))

    def toDynamoDBJson(self, value: Any) -> _JavaString:
        return dumps(self.toDynamoDB(value))

    def toString(self, value: Any) -> Any:
        return None if value is None else _typed({"S": _to_text(value)})

    def toStringJson(self, value: Any) -> _JavaString:
        return dumps(self.toString(value))

    def toStringSet(self, values: Any) -> Any:
        items = _set_of("toStringSet", values, "string")
        return None if items is None else _typed({"SS": items})

    def toStringSetJson(self, values: Any) -> _JavaString:
        return dumps(self.toStringSet(values))

    def toNumber(self, value: Any) -> Any:
        return None if value is None else _typed({"N": value})

    def toNumberJson(self, value: Any) -> _JavaString:
        return dumps(self.toNumber(value))

    def toNumberSet(self, values: Any) -> Any:
        items = _set_of("toNumberSet", values, "number")
        return None if items is None else _typed({"NS": items})

    def toNumberSetJson(self, values: Any) -> _JavaString:
        return dumps(self.toNumberSet(values))

    def toBinary(self, value: Any) -> Any:
        return None if value is None else _typed({"B": _to_text(value)})

    def toBinaryJson(self, value: Any) -> _JavaString:
        return dumps(self.toBinary(value))

    def toBinarySet(self, values: Any) -> Any:
        items = _set_of("toBinarySet", values, "string")
        return None if items is None else _typed({"BS": items})

    def toBinarySetJson(self, values: Any) -> _JavaString:
        return dumps(self.toBinarySet(values))

    def toBoolean(self, value: Any) -> Any:
        return None if value is None else _typed({"BOOL": value})

    def toBooleanJson(self, value: Any) -> _JavaString:
        return dumps(self.toBoolean(value))

    def toNull(self) -> Any:
        return _typed({"NULL": None})

    def toNullJson(self) -> _JavaString:
        return dumps(self.toNull())

    def toList(self, values: Any) -> Any:
        return _typed(to_dynamodb(values)) if isinstance(values, list | tuple) else None

    def toListJson(self, values: Any) -> _JavaString:
        return dumps(self.toList(values))

    def toMap(self, value: Any) -> Any:
        return _typed({"M": _map_values(value)}) if isinstance(value, Mapping) else None

    def toMapJson(self, value: Any) -> _JavaString:
        return dumps(self.toMap(value))

    def toMapValues(self, value: Any) -> Any:
        return _typed(_map_values(value)) if isinstance(value, Mapping) else None

    def toMapValuesJson(self, value: Any) -> _JavaString:
        return dumps(self.toMapValues(value))

    def toS3Object(self, key: Any, bucket: Any, region: Any, version: Any = None) -> Any:
        s3 = {"key": json_value(key), "bucket": json_value(bucket), "region": json_value(region)}
        if version is not None:
            s3["version"] = json_value(version)
        return _typed({"S": json.dumps({"s3": s3}, ensure_ascii=False, separators=(",", ":"))})

    def toS3ObjectJson(self, key: Any, bucket: Any, region: Any, version: Any = None) -> Any:
        return dumps(self.toS3Object(key, bucket, region, version))

    def fromS3ObjectJson(self, value: Any) -> Any:
        text = value.get("S") if isinstance(value, Mapping) else value
        if not isinstance(text, str):
            return None
        parsed = json.loads(str(text))
        s3 = parsed.get("s3") if isinstance(parsed, Mapping) else None
        return _from_python(s3) if isinstance(s3, Mapping) else None


# --------------------------------------------------------------------------- $util.transform

_COMPARISONS = {"eq": "=", "ne": "<>", "le": "<=", "lt": "<", "ge": ">=", "gt": ">"}
_FUNCTIONS = {"contains": "contains", "notContains": "NOT contains", "beginsWith": "begins_with"}
_ATTRIBUTE_TYPES = {
    "_null": "NULL",
    "string": "S",
    "stringSet": "SS",
    "number": "N",
    "numberSet": "NS",
    "binary": "B",
    "binarySet": "BS",
    "boolean": "BOOL",
    "list": "L",
    "map": "M",
}


class _Unrenderable(Exception):
    """A filter object AppSync cannot render (an unknown operator, a field holding a plain
    value ...): the helper gives null."""


@dataclass
class _Placeholders:
    names: dict[str, str] = field(default_factory=dict)
    values: dict[str, Any] = field(default_factory=dict)


def render_filter(filter_object: Any) -> dict[str, Any] | None:
    """``{expression, expressionNames, expressionValues}`` for a filter object (``{title:
    {contains: "x"}, or: [...]}``), or None when it is not one AppSync renders; the text
    and placeholder names (``:and_0_title_contains``) are those of ``js/expressions.mjs``."""
    if not isinstance(filter_object, Mapping):
        return None
    out = _Placeholders()
    try:
        expression = _members(filter_object, "", out)
    except _Unrenderable:
        return None
    return {"expression": expression, "expressionNames": out.names, "expressionValues": out.values}


def _members(filter_object: Mapping[str, Any], prefix: str, out: _Placeholders) -> str:
    parts = []
    for key, value in filter_object.items():
        if key in ("and", "or"):
            parts.append(_junction(key, value, prefix, out))
        elif key == "not":
            if not isinstance(value, Mapping):
                raise _Unrenderable
            parts.append(f"(NOT {_members(value, f'{prefix}not_', out)})")
        else:
            if not isinstance(value, Mapping):
                raise _Unrenderable
            out.names[f"#{key}"] = str(key)
            parts.append(_joined(_operations(f"#{key}", value, f"{prefix}{key}", out)))
    return " AND ".join(parts)


def _junction(kind: str, members: Any, prefix: str, out: _Placeholders) -> str:
    if not isinstance(members, list | tuple):
        raise _Unrenderable
    rendered = []
    for i, member in enumerate(members):
        if not isinstance(member, Mapping):
            raise _Unrenderable
        rendered.append(_members(member, f"{prefix}{kind}_{i}_", out))
    if len(rendered) <= 1:
        return rendered[0] if rendered else ""
    return "(" + (" AND " if kind == "and" else " OR ").join(rendered) + ")"


def _joined(parts: list[str]) -> str:
    if len(parts) <= 1:
        return parts[0] if parts else ""
    return "(" + " AND ".join(parts) + ")"


def _operations(
    path: str, operators: Mapping[str, Any], stem: str, out: _Placeholders
) -> list[str]:
    def value(suffix: str, operand: Any) -> str:
        placeholder = f":{stem}_{suffix}"
        out.values[placeholder] = to_dynamodb(operand)
        return placeholder

    parts = []
    for op, operand in operators.items():
        if op in _COMPARISONS:
            parts.append(f"({path} {_COMPARISONS[op]} {value(op, operand)})")
        elif op in _FUNCTIONS:
            parts.append(f"({_FUNCTIONS[op]}({path},{value(op, operand)}))")
        elif op == "between":
            if not isinstance(operand, list | tuple) or len(operand) < 2:
                raise _Unrenderable
            start, end = value("between_start", operand[0]), value("between_end", operand[1])
            parts.append(f"({path} BETWEEN {start} AND {end})")
        elif op == "in":
            if not isinstance(operand, list | tuple):
                raise _Unrenderable
            listed = ", ".join(value(f"in_{i}", v) for i, v in enumerate(operand))
            parts.append(f"({path} IN ({listed}))" if operand else "(null)")
        elif op == "attributeExists":
            if not isinstance(operand, bool):
                raise _Unrenderable
            check = "attribute_exists" if operand else "attribute_not_exists"
            parts.append(f"({check}({path}))")
        elif op == "attributeType":
            if not isinstance(operand, str) or operand not in _ATTRIBUTE_TYPES:
                raise _Unrenderable
            placeholder = f":{stem}_attributeType"
            out.values[placeholder] = {"S": _ATTRIBUTE_TYPES[operand]}
            parts.append(f"(attribute_type({path},{placeholder}))")
        elif op == "size":
            if not isinstance(operand, Mapping):
                raise _Unrenderable
            sized = path if path.startswith("size(") else f"size({path})"
            parts.append(_joined(_operations(sized, operand, f"{stem}_size", out)))
        else:
            raise _Unrenderable
    return parts


class _Transform:
    """``$util.transform``."""

    def toDynamoDBFilterExpression(self, filter_object: Any) -> ExpressionText | None:
        rendered = render_filter(json_value(filter_object))
        return None if rendered is None else ExpressionText(rendered)

    def toDynamoDBConditionExpression(self, condition: Any) -> ExpressionText | None:
        return self.toDynamoDBFilterExpression(condition)


DYNAMODB = _DynamoDB()
TRANSFORM = _Transform()
