"""DynamoDB Streams for the tables canaria serves: each change a write makes to a table
with a ``StreamSpecification``, recorded as DynamoDB records it, readable through the
DynamoDB Streams API and by functions' DynamoDB event sources.

dynalite has no streams, so the records are made by ``canaria.tables.front``, which
sees every write on its way to dynalite. This module keeps them:

- one stream per table, one shard per stream (a table's changes in the order they were
  made; DynamoDB splits a busy table's stream into shards by partition, which only
  matters for throughput), under the ARN ``GetAtt Table.StreamArn`` gives;
- records in the shape of ``GetRecords`` (``eventName`` INSERT / MODIFY / REMOVE, the
  ``Keys`` and the images the ``StreamViewType`` names, increasing ``SequenceNumber``s)
  for 24 hours, as DynamoDB keeps them;
- on disk, one JSON line per record appended as the record is made, so a restarted
  canaria serves the same records and goes on with the same sequence numbers.

The event sources' checkpoints are kept beside them (``Checkpoints``), so a function's
stream goes on after a restart from the last batch it finished.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import bisect
import contextlib
import json
import os
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping, MutableMapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from canaria.errors import CanariaError
from canaria.models.arns import ACCOUNT, REGION

RETENTION_S = 24 * 3600  # DynamoDB keeps a stream's records 24 hours
MAX_GET_RECORDS = 1000  # GetRecords' Limit
VIEW_TYPES = ("KEYS_ONLY", "NEW_IMAGE", "OLD_IMAGE", "NEW_AND_OLD_IMAGES")
# the label ``GetAtt Table.StreamArn`` gives (canaria's templates resolve offline)
STREAM_LABEL = "1970-01-01T00:00:00.000"
_FIRST_SEQUENCE = 10**20  # sequence numbers are 21-digit decimal strings, increasing
SHARD_ID = "shardId-00000000000000000000-00000001"


def table_stream_arn(table: str) -> str:
    return f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/{table}/stream/{STREAM_LABEL}"


class StreamsError(CanariaError):
    """A DynamoDB Streams API error, with the API's own code."""

    http_status = 400

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass
class TableStream:
    """One table's stream: its records, oldest first, and where they are kept."""

    table: str
    view_type: str
    key_schema: tuple[tuple[str, str], ...]  # (attribute, HASH | RANGE)
    path: Path | None = None
    records: list[dict[str, Any]] = field(default_factory=list)
    arrivals: list[float] = field(default_factory=list)  # wall time of each record
    sequences: list[int] = field(default_factory=list)
    next_sequence: int = _FIRST_SEQUENCE

    @property
    def arn(self) -> str:
        return table_stream_arn(self.table)

    def key_of(self, item: Mapping[str, Any]) -> dict[str, Any]:
        return {name: item[name] for name, _ in self.key_schema if name in item}


def change_record(
    stream: TableStream,
    old: Mapping[str, Any] | None,
    new: Mapping[str, Any] | None,
    now: float,
    sequence: int,
) -> dict[str, Any] | None:
    """The record DynamoDB writes for a change from ``old`` to ``new`` (None: no item),
    or None when nothing changed (DynamoDB writes no record for a write that leaves the
    item as it was)."""
    if old == new or (old is None and new is None):
        return None
    name = "INSERT" if old is None else "REMOVE" if new is None else "MODIFY"
    item = new if new is not None else old
    assert item is not None
    body: dict[str, Any] = {
        "ApproximateCreationDateTime": int(now),
        "Keys": stream.key_of(item),
        "SequenceNumber": str(sequence),
        "StreamViewType": stream.view_type,
    }
    if new is not None and stream.view_type in ("NEW_IMAGE", "NEW_AND_OLD_IMAGES"):
        body["NewImage"] = dict(new)
    if old is not None and stream.view_type in ("OLD_IMAGE", "NEW_AND_OLD_IMAGES"):
        body["OldImage"] = dict(old)
    images = [body.get("Keys"), body.get("NewImage"), body.get("OldImage")]
    body["SizeBytes"] = len(json.dumps(images))
    return {
        "eventID": uuid.uuid4().hex,
        "eventName": name,
        "eventVersion": "1.1",
        "eventSource": "aws:dynamodb",
        "awsRegion": REGION,
        "dynamodb": body,
    }


class TableStreams:
    """Every stream of the tables canaria serves, kept under ``directory`` (None: in
    memory only)."""

    def __init__(self, directory: Path | None, now: Callable[[], float] = time.time) -> None:
        self.directory = directory
        self.now = now  # wall time: records carry it, and age out by it
        self._streams: dict[str, TableStream] = {}
        self._written: dict[str, asyncio.Event] = {}  # set when a table's stream grows
        self.checkpoints = Checkpoints(directory / "checkpoints.json" if directory else None)

    # ---- which tables have a stream ----------------------------------------------------

    def configure(
        self, table: str, view_type: str | None, key_schema: Iterable[tuple[str, str]] = ()
    ) -> None:
        """Give ``table`` a stream of ``view_type`` (None: no stream). A new view type is
        a new stream, as on DynamoDB, where it is disabled and enabled again."""
        current = self._streams.get(table)
        if view_type is None:
            if current is not None:
                del self._streams[table]
                self._remove_files(table)
            return
        schema = tuple(key_schema) or (current.key_schema if current else ())
        if current is not None and current.view_type == view_type:
            current.key_schema = schema
            return
        if current is not None:
            self._remove_files(table)
        path = self.directory / f"{table}.jsonl" if self.directory else None
        stream = TableStream(table, view_type, schema, path)
        self._streams[table] = stream
        self._save_meta(stream)

    def configured(self, table: str) -> TableStream | None:
        return self._streams.get(table)

    def __bool__(self) -> bool:
        return bool(self._streams)

    def load(self) -> None:
        """Read back the streams kept under the directory (records within retention)."""
        if self.directory is None or not self.directory.is_dir():
            return
        for meta_path in sorted(self.directory.glob("*.meta.json")):
            try:
                meta = json.loads(meta_path.read_text())
                stream = TableStream(
                    meta["table"],
                    meta["view_type"],
                    tuple((k, t) for k, t in meta["key_schema"]),
                    meta_path.with_name(f"{meta['table']}.jsonl"),
                    next_sequence=int(meta.get("next_sequence", _FIRST_SEQUENCE)),
                )
            except (OSError, ValueError, KeyError, TypeError):
                continue  # a meta file half written by a killed process: no stream
            self._read_records(stream)
            self._streams[stream.table] = stream

    def _read_records(self, stream: TableStream) -> None:
        assert stream.path is not None
        horizon = self.now() - RETENTION_S
        kept: list[bytes] = []
        with contextlib.suppress(FileNotFoundError), open(stream.path, "rb") as f:
            for line in f:
                try:
                    arrival, record = json.loads(line)
                    sequence = int(record["dynamodb"]["SequenceNumber"])
                except (ValueError, KeyError, TypeError):
                    continue  # the torn last line of a killed write
                stream.next_sequence = max(stream.next_sequence, sequence + 1)
                if arrival < horizon:
                    continue
                stream.records.append(record)
                stream.arrivals.append(float(arrival))
                stream.sequences.append(sequence)
                kept.append(line if line.endswith(b"\n") else line + b"\n")
        if stream.path.exists():  # rewritten without what aged out (and a torn line)
            tmp = stream.path.with_suffix(".tmp")
            tmp.write_bytes(b"".join(kept))
            os.replace(tmp, stream.path)
            self._save_meta(stream)

    def _save_meta(self, stream: TableStream) -> None:
        if self.directory is None:
            return
        self.directory.mkdir(parents=True, exist_ok=True)
        meta = {
            "table": stream.table,
            "view_type": stream.view_type,
            "key_schema": [list(k) for k in stream.key_schema],
            "next_sequence": stream.next_sequence,
        }
        path = self.directory / f"{stream.table}.meta.json"
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(meta))
        os.replace(tmp, path)

    def _remove_files(self, table: str) -> None:
        if self.directory is None:
            return
        for name in (f"{table}.jsonl", f"{table}.meta.json"):
            with contextlib.suppress(FileNotFoundError):
                (self.directory / name).unlink()

    # ---- writing ------------------------------------------------------------------------

    def record(
        self, table: str, old: Mapping[str, Any] | None, new: Mapping[str, Any] | None
    ) -> dict[str, Any] | None:
        """Record the change ``old`` → ``new`` of one item of ``table``; return the record
        (None: the table has no stream, or nothing changed)."""
        stream = self._streams.get(table)
        if stream is None:
            return None
        now = self.now()
        record = change_record(stream, old, new, now, stream.next_sequence)
        if record is None:
            return None
        sequence = stream.next_sequence
        stream.next_sequence += 1
        if stream.path is not None:
            stream.path.parent.mkdir(parents=True, exist_ok=True)
            with open(stream.path, "ab") as f:
                f.write(json.dumps([now, record]).encode() + b"\n")
        self._trim(stream, now)
        stream.records.append(record)
        stream.arrivals.append(now)
        stream.sequences.append(sequence)
        written = self._written.pop(table, None)
        if written is not None:
            written.set()
        return record

    async def written(self, table: str, timeout_s: float) -> None:
        """Wait until ``table``'s stream gets a record, at most ``timeout_s``."""
        event = self._written.setdefault(table, asyncio.Event())
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(event.wait(), timeout_s)

    @staticmethod
    def _trim(stream: TableStream, now: float) -> None:
        horizon = now - RETENTION_S
        drop = bisect.bisect_left(stream.arrivals, horizon)
        if drop:
            del stream.records[:drop], stream.arrivals[:drop], stream.sequences[:drop]

    # ---- reading (the Streams API, and the event sources in-process) -----------------

    def _stream(self, arn: str) -> TableStream:
        for stream in self._streams.values():
            if stream.arn == arn:
                return stream
        raise StreamsError("ResourceNotFoundException", f"Requested resource not found: {arn}")

    def latest(self, table: str) -> int:
        """The sequence number the next record of ``table`` will have."""
        stream = self._streams.get(table)
        return stream.next_sequence if stream else _FIRST_SEQUENCE

    def list_streams(self, table: str | None = None) -> list[dict[str, str]]:
        return [
            {"StreamArn": s.arn, "TableName": s.table, "StreamLabel": STREAM_LABEL}
            for s in self._streams.values()
            if table is None or s.table == table
        ]

    def describe(self, arn: str) -> dict[str, Any]:
        stream = self._stream(arn)
        first = stream.sequences[0] if stream.sequences else stream.next_sequence
        return {
            "StreamArn": stream.arn,
            "StreamLabel": STREAM_LABEL,
            "StreamStatus": "ENABLED",
            "StreamViewType": stream.view_type,
            "CreationRequestDateTime": 0,
            "TableName": stream.table,
            "KeySchema": [{"AttributeName": k, "KeyType": t} for k, t in stream.key_schema],
            "Shards": [
                {"ShardId": SHARD_ID, "SequenceNumberRange": {"StartingSequenceNumber": str(first)}}
            ],
        }

    def iterator(self, arn: str, shard_id: str, kind: str, sequence: str | None = None) -> str:
        """A shard iterator (``GetShardIterator``): TRIM_HORIZON, LATEST, AT_SEQUENCE_NUMBER
        or AFTER_SEQUENCE_NUMBER ``sequence``."""
        stream = self._stream(arn)
        if shard_id != SHARD_ID:
            raise StreamsError("ResourceNotFoundException", f"no shard {shard_id} in {arn}")
        if kind == "TRIM_HORIZON":
            position = stream.sequences[0] if stream.sequences else stream.next_sequence
        elif kind == "LATEST":
            position = stream.next_sequence
        elif kind in ("AT_SEQUENCE_NUMBER", "AFTER_SEQUENCE_NUMBER"):
            if sequence is None or not sequence.isdigit():
                raise StreamsError(
                    "ValidationException", f"{kind} needs a SequenceNumber, got {sequence!r}"
                )
            position = int(sequence) + (kind == "AFTER_SEQUENCE_NUMBER")
        else:
            raise StreamsError(
                "ValidationException",
                f"unknown ShardIteratorType {kind!r}: TRIM_HORIZON, LATEST, "
                "AT_SEQUENCE_NUMBER or AFTER_SEQUENCE_NUMBER",
            )
        return self.iterator_at(stream.table, position)

    @staticmethod
    def iterator_at(table: str, position: int) -> str:
        return base64.urlsafe_b64encode(f"{table}\0{position}".encode()).decode()

    def records(
        self, iterator: str, limit: int = MAX_GET_RECORDS
    ) -> tuple[list[dict[str, Any]], list[float], str]:
        """Up to ``limit`` records from ``iterator`` on, their arrival times, and the
        iterator after them (``GetRecords``; an open shard always has one)."""
        try:
            table, _, position_text = base64.urlsafe_b64decode(iterator).decode().partition("\0")
            position = int(position_text)
        except (ValueError, UnicodeDecodeError, binascii.Error):
            raise StreamsError("ValidationException", "invalid ShardIterator") from None
        stream = self._streams.get(table)
        if stream is None:
            raise StreamsError("ResourceNotFoundException", f"table {table} has no stream")
        if not 1 <= limit <= MAX_GET_RECORDS:
            raise StreamsError("ValidationException", "Limit must be between 1 and 1000")
        start = bisect.bisect_left(stream.sequences, position)
        end = min(len(stream.records), start + limit)
        records = stream.records[start:end]
        after = stream.sequences[end - 1] + 1 if end > start else max(position, 0)
        return records, stream.arrivals[start:end], self.iterator_at(table, after)

    # ---- the Streams API's JSON --------------------------------------------------------

    def call(self, operation: str, body: Mapping[str, Any]) -> dict[str, Any]:
        """One DynamoDB Streams API call (``DynamoDBStreams_20120810.<operation>``)."""
        if operation == "ListStreams":
            return {"Streams": self.list_streams(body.get("TableName"))}
        if operation == "DescribeStream":
            return {"StreamDescription": self.describe(_required(body, "StreamArn"))}
        if operation == "GetShardIterator":
            return {
                "ShardIterator": self.iterator(
                    _required(body, "StreamArn"),
                    _required(body, "ShardId"),
                    _required(body, "ShardIteratorType"),
                    body.get("SequenceNumber"),
                )
            }
        if operation == "GetRecords":
            limit = body.get("Limit", MAX_GET_RECORDS)
            if not isinstance(limit, int):
                raise StreamsError("ValidationException", "Limit must be a number")
            records, _, after = self.records(_required(body, "ShardIterator"), limit)
            return {"Records": records, "NextShardIterator": after}
        raise StreamsError(
            "UnknownOperationException", f"DynamoDB Streams operation {operation} is not served"
        )


def _required(body: Mapping[str, Any], key: str) -> str:
    value = body.get(key)
    if not isinstance(value, str) or not value:
        raise StreamsError("ValidationException", f"{key} is required")
    return value


class Checkpoints(MutableMapping[str, str]):
    """Event sources' checkpoints (the last sequence number each finished with), written
    through to a JSON file on each change so that they outlive canaria."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self._data: dict[str, str] = {}
        if path is not None:
            with contextlib.suppress(OSError, ValueError):
                loaded = json.loads(path.read_text())
                if isinstance(loaded, dict):
                    self._data = {str(k): str(v) for k, v in loaded.items()}

    def __getitem__(self, key: str) -> str:
        return self._data[key]

    def __setitem__(self, key: str, value: str) -> None:
        if self._data.get(key) == value:
            return
        self._data[key] = value
        self._save()

    def __delitem__(self, key: str) -> None:
        del self._data[key]
        self._save()

    def __iter__(self) -> Iterator[str]:
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)

    def _save(self) -> None:
        if self.path is None:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps(self._data))
        os.replace(tmp, self.path)


__all__ = [
    "MAX_GET_RECORDS",
    "SHARD_ID",
    "STREAM_LABEL",
    "VIEW_TYPES",
    "Checkpoints",
    "StreamsError",
    "TableStream",
    "TableStreams",
    "change_record",
    "table_stream_arn",
]
