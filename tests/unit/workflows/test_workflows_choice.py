"""Every Choice operator, the combinators, type mismatches and missing variables."""

from __future__ import annotations

from typing import Any

import pytest

from canaria.workflows import DefinitionError, StatesError
from canaria.workflows.choice import evaluate, parse_rule, parse_timestamp

DATA = {
    "s": "banana",
    "n": 42,
    "f": 1.5,
    "b": True,
    "t": "2024-05-01T12:00:00Z",
    "t_offset": "2024-05-01T14:00:00+02:00",
    "nothing": None,
    "other": {"s": "cherry", "n": 42, "b": True, "t": "2024-05-01T12:00:00.000Z"},
    "file": "report*.csv",
}

CASES: list[tuple[str, str, Any, bool]] = [
    # operator, variable, operand, expected
    ("StringEquals", "$.s", "banana", True),
    ("StringEquals", "$.s", "Banana", False),
    ("StringEquals", "$.n", "42", False),  # a number is not a string
    ("StringLessThan", "$.s", "cherry", True),
    ("StringLessThan", "$.s", "banana", False),
    ("StringGreaterThan", "$.s", "apple", True),
    ("StringGreaterThan", "$.s", "banana", False),
    ("StringLessThanEquals", "$.s", "banana", True),
    ("StringLessThanEquals", "$.s", "apple", False),
    ("StringGreaterThanEquals", "$.s", "banana", True),
    ("StringGreaterThanEquals", "$.s", "cherry", False),
    ("StringMatches", "$.s", "ban*", True),
    ("StringMatches", "$.s", "*an*a", True),
    ("StringMatches", "$.s", "b*x", False),
    ("StringMatches", "$.file", "report\\*.csv", True),  # escaped star is literal
    ("StringMatches", "$.s", "report\\*.csv", False),
    ("StringMatches", "$.file", "rep*.csv", True),
    ("NumericEquals", "$.n", 42, True),
    ("NumericEquals", "$.n", 42.0, True),
    ("NumericEquals", "$.s", 42, False),
    ("NumericLessThan", "$.f", 2, True),
    ("NumericLessThan", "$.n", 42, False),
    ("NumericGreaterThan", "$.n", 41.5, True),
    ("NumericGreaterThan", "$.n", 42, False),
    ("NumericLessThanEquals", "$.n", 42, True),
    ("NumericLessThanEquals", "$.n", 41, False),
    ("NumericGreaterThanEquals", "$.n", 42, True),
    ("NumericGreaterThanEquals", "$.n", 43, False),
    ("NumericEquals", "$.b", 1, False),  # true is not a number
    ("BooleanEquals", "$.b", True, True),
    ("BooleanEquals", "$.b", False, False),
    ("BooleanEquals", "$.n", True, False),
    ("TimestampEquals", "$.t", "2024-05-01T12:00:00Z", True),
    ("TimestampEquals", "$.t_offset", "2024-05-01T12:00:00Z", True),  # same instant
    ("TimestampEquals", "$.s", "2024-05-01T12:00:00Z", False),
    ("TimestampLessThan", "$.t", "2024-05-01T12:00:01Z", True),
    ("TimestampLessThan", "$.t", "2024-05-01T12:00:00Z", False),
    ("TimestampGreaterThan", "$.t", "2024-05-01T11:59:59.999Z", True),
    ("TimestampGreaterThan", "$.t", "2024-05-01T12:00:00Z", False),
    ("TimestampLessThanEquals", "$.t", "2024-05-01T12:00:00Z", True),
    ("TimestampLessThanEquals", "$.t", "2024-05-01T11:00:00Z", False),
    ("TimestampGreaterThanEquals", "$.t", "2024-05-01T12:00:00Z", True),
    ("TimestampGreaterThanEquals", "$.t", "2024-05-02T00:00:00Z", False),
    ("IsNull", "$.nothing", True, True),
    ("IsNull", "$.s", True, False),
    ("IsNull", "$.s", False, True),
    ("IsPresent", "$.s", True, True),
    ("IsPresent", "$.missing", True, False),
    ("IsPresent", "$.missing", False, True),
    ("IsPresent", "$.nothing", True, True),
    ("IsNumeric", "$.f", True, True),
    ("IsNumeric", "$.b", True, False),
    ("IsString", "$.s", True, True),
    ("IsString", "$.n", True, False),
    ("IsBoolean", "$.b", True, True),
    ("IsBoolean", "$.s", False, True),
    ("IsTimestamp", "$.t", True, True),
    ("IsTimestamp", "$.s", True, False),
]

PATH_CASES: list[tuple[str, str, str, bool]] = [
    ("StringEqualsPath", "$.s", "$.s", True),
    ("StringEqualsPath", "$.s", "$.other.s", False),
    ("StringLessThanPath", "$.s", "$.other.s", True),
    ("StringGreaterThanPath", "$.other.s", "$.s", True),
    ("StringLessThanEqualsPath", "$.s", "$.s", True),
    ("StringGreaterThanEqualsPath", "$.s", "$.other.s", False),
    ("NumericEqualsPath", "$.n", "$.other.n", True),
    ("NumericLessThanPath", "$.f", "$.n", True),
    ("NumericGreaterThanPath", "$.f", "$.n", False),
    ("NumericLessThanEqualsPath", "$.n", "$.other.n", True),
    ("NumericGreaterThanEqualsPath", "$.n", "$.f", True),
    ("NumericEqualsPath", "$.n", "$.s", False),
    ("BooleanEqualsPath", "$.b", "$.other.b", True),
    ("BooleanEqualsPath", "$.b", "$.n", False),
    ("TimestampEqualsPath", "$.t", "$.other.t", True),
    ("TimestampLessThanPath", "$.t", "$.other.t", False),
    ("TimestampGreaterThanPath", "$.t", "$.other.t", False),
    ("TimestampLessThanEqualsPath", "$.t", "$.t_offset", True),
    ("TimestampGreaterThanEqualsPath", "$.t", "$.other.t", True),
]


@pytest.mark.parametrize(("operator", "variable", "operand", "expected"), CASES)
def test_operator(operator: str, variable: str, operand: Any, expected: bool) -> None:
    rule = parse_rule({"Variable": variable, operator: operand}, "S")
    assert evaluate(rule, DATA, {}) is expected


@pytest.mark.parametrize(("operator", "variable", "operand", "expected"), PATH_CASES)
def test_path_operator(operator: str, variable: str, operand: str, expected: bool) -> None:
    rule = parse_rule({"Variable": variable, operator: operand}, "S")
    assert evaluate(rule, DATA, {}) is expected


def test_every_operator_is_covered() -> None:
    from canaria.workflows.choice import Operator

    covered = {c[0] for c in CASES} | {c[0] for c in PATH_CASES}
    expected = {op.value for op in Operator}
    expected |= {f"{op.value}Path" for op in Operator if op.family != "Is"} - {"StringMatchesPath"}
    assert covered == expected


def test_and_or_not() -> None:
    rule = parse_rule(
        {
            "And": [
                {"Variable": "$.n", "NumericGreaterThan": 10},
                {
                    "Or": [
                        {"Variable": "$.s", "StringEquals": "apple"},
                        {"Not": {"Variable": "$.b", "BooleanEquals": False}},
                    ]
                },
            ]
        },
        "S",
    )
    assert evaluate(rule, DATA, {}) is True
    assert evaluate(rule, {**DATA, "b": False}, {}) is False


def test_context_object_variable() -> None:
    rule = parse_rule({"Variable": "$$.State.Name", "StringEquals": "Check"}, "S")
    assert evaluate(rule, {}, {"State": {"Name": "Check"}}) is True


def test_missing_variable_is_a_runtime_error() -> None:
    rule = parse_rule({"Variable": "$.missing", "StringEquals": "x"}, "S")
    with pytest.raises(StatesError) as err:
        evaluate(rule, DATA, {})
    assert err.value.error == "States.Runtime"
    assert "$.missing" in err.value.cause


@pytest.mark.parametrize(
    ("rule", "message"),
    [
        ({"Variable": "$.s", "StringEq": "x"}, 'unknown operator "StringEq"'),
        ({"Variable": "$.s", "StringMatchesPath": "$.x"}, 'unknown operator "StringMatchesPath"'),
        ({"Variable": "$.s", "IsNullPath": "$.x"}, 'unknown operator "IsNullPath"'),
        ({"Variable": "$.n", "NumericEquals": "42"}, "NumericEquals needs a number"),
        ({"Variable": "$.t", "TimestampEquals": "yesterday"}, "RFC 3339"),
        ({"Variable": "$.s", "IsString": "yes"}, "IsString needs true or false"),
        ({"Variable": "$.s"}, "exactly one operator"),
        ({"Variable": "$.s", "StringEquals": "a", "IsNull": True}, "exactly one operator"),
        ({"StringEquals": "a"}, "needs a Variable"),
        ({"And": []}, "non-empty array"),
        ({"Variable": "s", "StringEquals": "a"}, "must start with $"),
    ],
)
def test_refused_rules(rule: dict[str, Any], message: str) -> None:
    with pytest.raises(DefinitionError) as err:
        parse_rule(rule, "Check")
    assert message in str(err.value)
    assert str(err.value).startswith('state "Check": ')


def test_timestamps() -> None:
    assert parse_timestamp("2016-03-14T01:59:00Z") is not None
    assert parse_timestamp("2016-03-14T01:59:00.123456789Z") is not None
    assert parse_timestamp("2016-03-14T01:59:00+05:30") is not None
    assert parse_timestamp("2016-03-14 01:59:00Z") is None
    assert parse_timestamp("2016-03-14T01:59:00") is None
    assert parse_timestamp(1234) is None
