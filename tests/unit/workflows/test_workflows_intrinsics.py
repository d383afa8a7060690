"""Each intrinsic function, the argument parser (escapes, nesting), and its failures."""

from __future__ import annotations

import hashlib
import random
import uuid
from typing import Any

import pytest

from canaria.workflows import StatesError
from canaria.workflows.intrinsics import (
    Call,
    IntrinsicSyntaxError,
    Literal,
    PathArg,
    evaluate_intrinsic,
    parse_intrinsic,
)

INPUT = {
    "id": 123456,
    "name": "Acme",
    "items": [1, 2, 2, 3, 3, 3],
    "objs": [{"a": 1}, {"a": 1}, {"b": 2}],
    "json": '{"k": [1, 2]}',
    "csv": "1,2;3,,4",
    "a": {"x": 1, "y": 2},
    "b": {"y": 3, "z": 4},
    "arn": "arn:aws:imagebuilder:us-east-1:123456789012:image-recipe/recipe.name/1.0.0",
    "quote": "it's",
}
CONTEXT = {"Execution": {"Name": "run-1"}}


def ev(text: str, data: Any = INPUT, seed: int = 7) -> Any:
    return evaluate_intrinsic(parse_intrinsic(text), data, CONTEXT, random.Random(seed))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("States.Format('Hello, {}!', $.name)", "Hello, Acme!"),
        ("States.Format('/company/{}', $.id)", "/company/123456"),
        ("States.Format('{} {} {} {}', 1.5, true, null, 'x')", "1.5 true null x"),
        ("States.Format('run {}', $$.Execution.Name)", "run run-1"),
        ("States.Format('literal \\{\\} and {}', $.name)", "literal {} and Acme"),
        ("States.Format('it\\'s {}', $.name)", "it's Acme"),
        ("States.Format('back\\\\slash {}', 1)", "back\\slash 1"),
        ("States.Format('{}', $.quote)", "it's"),
        ("States.StringToJson($.json)", {"k": [1, 2]}),
        ("States.JsonToString($.a)", '{"x":1,"y":2}'),
        ("States.Array($.id, 'two', 3, true, null)", [123456, "two", 3, True, None]),
        ("States.Array()", []),
        ("States.ArrayPartition($.items, 4)", [[1, 2, 2, 3], [3, 3]]),
        ("States.ArrayContains($.items, 3)", True),
        ("States.ArrayContains($.items, 9)", False),
        ("States.ArrayContains($.objs, $.a)", False),
        ("States.ArrayRange(1, 9, 2)", [1, 3, 5, 7, 9]),
        ("States.ArrayRange(5, 1, -2)", [5, 3, 1]),
        ("States.ArrayGetItem($.items, 3)", 3),
        ("States.ArrayLength($.items)", 6),
        ("States.ArrayUnique($.items)", [1, 2, 3]),
        ("States.ArrayUnique($.objs)", [{"a": 1}, {"b": 2}]),
        ("States.Base64Encode('Data to encode')", "RGF0YSB0byBlbmNvZGU="),
        ("States.Base64Decode('RGF0YSB0byBlbmNvZGU=')", "Data to encode"),
        ("States.JsonMerge($.a, $.b, false)", {"x": 1, "y": 3, "z": 4}),
        ("States.MathAdd(111, -1)", 110),
        ("States.MathAdd($.id, 1)", 123457),
        ("States.StringSplit($.csv, ',;')", ["1", "2", "3", "4"]),
        ("States.StringSplit('a b', ' ')", ["a", "b"]),
    ],
)
def test_functions(text: str, expected: Any) -> None:
    assert ev(text) == expected


@pytest.mark.parametrize("algorithm", ["MD5", "SHA-1", "SHA-256", "SHA-384", "SHA-512"])
def test_hash(algorithm: str) -> None:
    name = algorithm.replace("-", "").lower()
    expected = hashlib.new(name, b"input data").hexdigest()
    assert ev(f"States.Hash('input data', '{algorithm}')") == expected


def test_deeply_nested_calls_as_in_the_aws_docs() -> None:
    text = (
        "States.Format('{}.{}', States.ArrayGetItem(States.StringSplit(States.ArrayGetItem("
        "States.StringSplit($.arn, '/'), 2), '.'), 0), States.ArrayGetItem(States.StringSplit("
        "States.ArrayGetItem(States.StringSplit($.arn, '/'), 2), '.'), 1))"
    )
    assert ev(text) == "1.0"


def test_math_random_is_in_range_and_seedable() -> None:
    values = {ev("States.MathRandom(1, 5)", seed=s) for s in range(50)}
    assert values <= {1, 2, 3, 4} and len(values) > 1
    assert ev("States.MathRandom(1, 1000, 42)", seed=1) == ev(
        "States.MathRandom(1, 1000, 42)", seed=2
    )


def test_uuid_is_a_v4_uuid_from_the_injected_random() -> None:
    first = ev("States.UUID()", seed=3)
    assert uuid.UUID(first).version == 4
    assert ev("States.UUID()", seed=3) == first
    assert ev("States.UUID()", seed=4) != first


def test_parse_tree() -> None:
    call = parse_intrinsic("States.Format('a{}b', $.x, States.Array(1))")
    assert call.name == "States.Format"
    template, path, nested = call.args
    assert template == Literal("a{}b", ("a", None, "b"))
    assert isinstance(path, PathArg) and path.path.text == "$.x"
    assert isinstance(nested, Call) and nested.args == (Literal(1),)


def test_path_with_brackets_and_commas() -> None:
    data = {"a,b": {"c": 5}}
    assert ev("States.Array($['a,b'].c, 'x')", data) == [5, "x"]
    assert ev("States.MathAdd($['a,b'].c, 1)", data) == 6


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("States.Foo($.x)", "States.Foo: unsupported intrinsic"),
        ("States.Format()", "States.Format takes 1..n arguments, got 0"),
        ("States.Format(1, 2)", "first argument must be a string"),
        ("States.UUID(1)", "States.UUID takes 0 arguments, got 1"),
        ("States.ArrayLength($.a", "expected , or )"),
        ("States.Array('unterminated)", "unterminated string literal"),
        ("States.Array(@)", "expected an argument"),
        ("States.Array(1) trailing", "unexpected text"),
        ("States.Array($.a[?(@.x)])", "filter expressions"),
    ],
)
def test_syntax_errors(text: str, message: str) -> None:
    with pytest.raises(IntrinsicSyntaxError) as err:
        parse_intrinsic(text)
    assert message in str(err.value)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("States.Format('{} {}', 1)", "2 {} but 1 values"),
        ("States.Format('{}', $.a)", "only strings, numbers, booleans"),
        ("States.StringToJson('{nope')", "not JSON"),
        ("States.ArrayPartition($.items, 0)", "chunk size must be positive"),
        ("States.ArrayRange(1, 5000, 1)", "more than 1000"),
        ("States.ArrayRange(1, 5, 0)", "step must not be 0"),
        ("States.ArrayGetItem($.items, 6)", "out of range"),
        ("States.ArrayLength($.name)", "expected an array"),
        ("States.Base64Decode('***')", "States.Base64Decode"),
        ("States.Hash('x', 'SHA-3')", "unknown algorithm"),
        ("States.JsonMerge($.a, $.b, true)", "only shallow merge"),
        ("States.MathAdd(2147483647, 1)", "32-bit"),
        ("States.MathAdd('1', 1)", "expected an integer"),
        ("States.MathRandom(5, 5)", "must be greater than the start"),
    ],
)
def test_intrinsic_failures(text: str, message: str) -> None:
    with pytest.raises(StatesError) as err:
        ev(text)
    assert err.value.error == "States.IntrinsicFailure"
    assert message in err.value.cause


def test_missing_path_argument_is_a_runtime_error() -> None:
    with pytest.raises(StatesError) as err:
        ev("States.Format('{}', $.nope)")
    assert err.value.error == "States.Runtime"
    assert "$.nope" in err.value.cause
