"""How a Distributed Map's ItemReader turns an S3 object's text into items."""

from __future__ import annotations

import pytest

from canaria.workflows.item_reader import parse_items
from canaria.workflows.states import ItemReader


def reader(**fields: object) -> ItemReader:
    return ItemReader(action="getObject", parameters=None, **fields)  # type: ignore[arg-type]


def test_csv_rows_are_objects_of_the_header_with_string_values() -> None:
    body = 'PK,LOCATION,COUNT\nu1,"Paris, France",3\n\nu2,Oslo,4\n'
    assert parse_items(body, reader(input_type="CSV")) == [
        {"PK": "u1", "LOCATION": "Paris, France", "COUNT": "3"},
        {"PK": "u2", "LOCATION": "Oslo", "COUNT": "4"},
    ]
    given = reader(input_type="CSV", header_location="GIVEN", headers=("a", "b"), delimiter="|")
    assert parse_items("1|2\n3|4\n", given) == [{"a": "1", "b": "2"}, {"a": "3", "b": "4"}]
    assert parse_items("", reader(input_type="CSV")) == []
    with pytest.raises(ValueError, match="CSV row 3 has 1 values for the 2 columns"):
        parse_items("a,b\n1,2\n3\n", reader(input_type="CSV"))


def test_json_and_json_lines() -> None:
    assert parse_items('[{"n": 1}, 2]', reader(input_type="JSON")) == [{"n": 1}, 2]
    with pytest.raises(ValueError, match="not an array"):
        parse_items('{"n": 1}', reader(input_type="JSON"))
    assert parse_items('{"n": 1}\n\n[2]\n', reader(input_type="JSONL")) == [{"n": 1}, [2]]
    with pytest.raises(ValueError, match="line 2 is not JSON"):
        parse_items('{"n": 1}\n{nope\n', reader(input_type="JSONL"))
