"""A Distributed Map's items read from S3 (``ItemReader``): how an object's text becomes
items. The interpreter fetches the object through its runner's S3 SDK task (``SDK_S3``);
this module parses it as Step Functions does:

- ``CSV``: one item per row, an object of the header's names (the first row, or
  ``CSVHeaders``) to the row's values, every value a string; a row with another number of
  values than the header fails the reader;
- ``JSON``: the object is a JSON array, one item per element;
- ``JSONL``: one JSON value per non-empty line.
"""

from __future__ import annotations

import csv
import io
import json
from typing import Any

from canaria.workflows.states import ItemReader

SDK_S3 = "arn:aws:states:::aws-sdk:s3:"  # the runner's S3 SDK task, by action


def parse_items(body: str, reader: ItemReader) -> list[Any]:
    """The items in an object's text ``body``; ValueError saying what is wrong and where."""
    match reader.input_type:
        case "CSV":
            return _csv(body, reader)
        case "JSON":
            try:
                items = json.loads(body)
            except json.JSONDecodeError as exc:
                raise ValueError(f"the object is not JSON: {exc}") from None
            if not isinstance(items, list):
                raise ValueError("the JSON object is not an array")
            return items
        case "JSONL":
            out = []
            for number, line in enumerate(body.splitlines(), start=1):
                if line.strip():
                    try:
                        out.append(json.loads(line))
                    except json.JSONDecodeError as exc:
                        raise ValueError(f"line {number} is not JSON: {exc}") from None
            return out
    raise ValueError(f"InputType {reader.input_type!r} is not read")


def _csv(body: str, reader: ItemReader) -> list[dict[str, str]]:
    rows = [row for row in csv.reader(io.StringIO(body), delimiter=reader.delimiter) if row]
    if reader.header_location == "FIRST_ROW":
        if not rows:
            return []
        header, rows = rows[0], rows[1:]
        start = 2
    else:
        header, start = list(reader.headers), 1
    items = []
    for number, row in enumerate(rows, start=start):
        if len(row) != len(header):
            raise ValueError(
                f"CSV row {number} has {len(row)} values for the {len(header)} columns of "
                f"the header ({', '.join(header)})"
            )
        items.append(dict(zip(header, row, strict=True)))
    return items


__all__ = ["SDK_S3", "parse_items"]
