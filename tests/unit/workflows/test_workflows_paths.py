"""The JSONPath subset: parsing, reading, wildcards, the context object, writing."""

from __future__ import annotations

import pytest

from canaria.workflows.paths import (
    PathMismatch,
    PathNotFound,
    PathSyntaxError,
    assign,
    parse_path,
    parse_reference_path,
    resolve,
)

DATA = {
    "a": {"b": [10, {"c": "deep"}], "x y": 1},
    "items": [{"id": 1, "tag": "p"}, {"id": 2}, {"id": 3, "tag": "q"}],
}


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("$", DATA),
        ("$.a.b[0]", 10),
        ("$.a.b[1].c", "deep"),
        ("$.a.b.[1].c", "deep"),  # Step Functions reads ``.[`` as ``[`` (public templates)
        ("$.items.[0].id", 1),
        ("$.a.b[-1].c", "deep"),
        ("$['a']['x y']", 1),
        ('$["a"].b[0]', 10),
        ("$.items[*].id", [1, 2, 3]),
        ("$.items[*].tag", ["p", "q"]),
        ("$.a.*", [[10, {"c": "deep"}], 1]),
    ],
)
def test_resolve(path: str, expected: object) -> None:
    assert resolve(parse_path(path), DATA) == expected


def test_context_object() -> None:
    ctx = {"Execution": {"Id": "arn:x"}, "Map": {"Item": {"Index": 2}}}
    assert resolve(parse_path("$$.Execution.Id"), DATA, ctx) == "arn:x"
    assert resolve(parse_path("$$.Map.Item.Index"), DATA, ctx) == 2


@pytest.mark.parametrize("path", ["$.nope", "$.a.b[5]", "$.a.b.c", "$.items[0].id.x"])
def test_missing(path: str) -> None:
    with pytest.raises(PathNotFound):
        resolve(parse_path(path), DATA)


@pytest.mark.parametrize(
    ("path", "message"),
    [
        ("a.b", "must start with $"),
        ("$..a", "recursive descent"),
        ("$.a[?(@.x > 1)]", "filter"),
        ("$.a[0:2]", "slices"),
        ("$.a[0,1]", "unions"),
        ("$.a[x]", "not an index"),
        ("$.a[0", "missing ]"),
        ("$.", "empty field name"),
        ("$a", "unexpected"),
    ],
)
def test_refused(path: str, message: str) -> None:
    with pytest.raises(PathSyntaxError) as err:
        parse_path(path)
    assert message in str(err.value)


def test_reference_paths_name_one_node() -> None:
    with pytest.raises(PathSyntaxError):
        parse_reference_path("$.items[*]")
    with pytest.raises(PathSyntaxError):
        parse_reference_path("$$.Execution")
    assert parse_reference_path("$.a.b[0]").definite


def test_assign_copies_and_creates() -> None:
    before = {"a": {"b": 1}, "list": [1, 2]}
    after = assign(before, parse_reference_path("$.a.c.d"), "new")
    assert after == {"a": {"b": 1, "c": {"d": "new"}}, "list": [1, 2]}
    assert before == {"a": {"b": 1}, "list": [1, 2]}
    assert assign(before, parse_reference_path("$"), 5) == 5
    assert assign(before, parse_reference_path("$.list[1]"), 9)["list"] == [1, 9]


def test_assign_through_a_scalar_fails() -> None:
    with pytest.raises(PathMismatch) as err:
        assign({"a": "text"}, parse_reference_path("$.a.b"), 1)
    assert "'$.a.b'" in str(err.value)
    with pytest.raises(PathMismatch):
        assign({"a": [1]}, parse_reference_path("$.a[3]"), 1)
