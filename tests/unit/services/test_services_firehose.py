"""Firehose's naming and a processor's answer, as canaria reads them: prefixes with their
expressions and Firehose's default time prefix, object keys, and each record's result."""

from __future__ import annotations

import base64
import json
import re
from datetime import UTC, datetime
from pathlib import Path

import pytest

from canaria.clock import ManualClock
from canaria.models import InvokeResult
from canaria.models.firehose import Buffering, DeliveryStreamSpec, S3Destination
from canaria.services.firehose import (
    DeliveryStreams,
    FirehoseError,
    _answered,
    _log_messages,
    _Record,
    _Spool,
    evaluate_prefix,
    java_time,
    object_key,
)

WHEN = datetime(2026, 3, 9, 7, 5, 2, tzinfo=UTC)


def test_a_plain_prefix_gets_the_default_time_prefix() -> None:
    assert evaluate_prefix("", WHEN) == "2026/03/09/07/"
    assert evaluate_prefix("raw/", WHEN) == "raw/2026/03/09/07/"
    assert evaluate_prefix("err/", WHEN, error_type="processing-failed") == (
        "err/processing-failed/2026/03/09/07/"
    )
    assert evaluate_prefix("", WHEN, error_type="http-endpoint-failed") == (
        "http-endpoint-failed/2026/03/09/07/"
    )


def test_expressions_are_evaluated_and_nothing_is_added() -> None:
    prefix = "dt=!{timestamp:yyyy'-'MM'-'dd}/h=!{timestamp:HH}/!{firehose:error-output-type}/"
    assert evaluate_prefix(prefix, WHEN, error_type="processing-failed") == (
        "dt=2026-03-09/h=07/processing-failed/"
    )
    assert evaluate_prefix(
        "c=!{partitionKeyFromLambda:customer}/", WHEN, keys={"customer": "7"}
    ) == ("c=7/")
    random = evaluate_prefix("r=!{firehose:random-string}/", WHEN)
    assert re.fullmatch(r"r=[0-9a-f]{11}/", random)
    assert java_time("yy/mm/ss", WHEN) == "26/05/02"


def test_an_object_key_names_the_stream_its_version_time_and_extension() -> None:
    spec = DeliveryStreamSpec("Hose", "hose", "arn")
    key = object_key(spec, S3Destination("b", compression="GZIP"), "p/", WHEN)
    assert re.fullmatch(r"p/hose-1-2026-03-09-07-05-02-[0-9a-f-]{36}\.gz", key)
    plain = object_key(spec, S3Destination("b", extension=".json"), "", WHEN)
    assert plain.endswith(".json")


def record(n: int) -> _Record:
    return _Record(str(n), 1_000 + n, f"r{n}".encode())


def test_each_record_is_read_from_the_answer() -> None:
    chunk = [record(i) for i in range(6)]

    def ok(text: str) -> str:
        return base64.b64encode(text.encode()).decode()

    answer = [
        {"recordId": "0", "result": "Ok", "data": ok("A"), "metadata": {"partitionKeys": {"k": 1}}},
        {"recordId": "1", "result": "Dropped"},
        {"recordId": "2", "result": "ProcessingFailed", "data": ok("x")},
        {"recordId": "3", "result": "Fine", "data": ok("x")},
        {"recordId": "4", "result": "Ok", "data": "not base64!"},
        # 5 is missing
    ]
    out, failed = _answered(chunk, answer, attempts=1)
    assert [(r.record_id, data, dict(keys)) for r, data, keys in out] == [("0", b"A", {"k": "1"})]
    assert [(f.record.record_id, f.code) for f in failed] == [
        ("2", "Lambda.ProcessingFailedStatus"),
        ("3", "Lambda.InvalidResult"),
        ("4", "Lambda.InvalidData"),
        ("5", "Lambda.MissingRecordId"),
    ]
    twice = [{"recordId": "0", "result": "Ok", "data": ok("A")}] * 2
    _, failed = _answered([record(0)], twice, attempts=3)
    assert [(f.code, f.attempts) for f in failed] == [("Lambda.DuplicatedRecordId", 3)]


def test_a_cloudwatch_logs_delivery_becomes_its_messages() -> None:
    data = {
        "messageType": "DATA_MESSAGE",
        "logEvents": [{"id": "1", "timestamp": 1, "message": "a"}, {"message": "b"}],
    }
    control = {"messageType": "CONTROL_MESSAGE", "logEvents": []}
    records = [
        _Record("1", 1, json.dumps(data).encode()),
        _Record("2", 1, json.dumps(control).encode()),
    ]
    assert [r.data for r in _log_messages(records)] == [b"a\nb\n"]


async def test_a_stream_holding_too_much_says_slow_down() -> None:
    async def never(function: str, qualifier: str | None, payload: bytes) -> InvokeResult:
        raise AssertionError("no processor here")

    streams = DeliveryStreams(ManualClock(), "http://127.0.0.1:9", never, max_pending_bytes=10)
    hose = DeliveryStreamSpec(
        "Hose", "hose", "arn", destination=S3Destination("b", buffering=Buffering(1, 900))
    )
    streams.apply({"Hose": hose})
    assert len(streams.put("hose", [b"12345", b"6789"])) == 2
    with pytest.raises(FirehoseError) as info:
        streams.put("hose", [b"ab"])
    assert info.value.code == "ServiceUnavailableException"
    with pytest.raises(FirehoseError) as info:
        streams.put("other", [b"ab"])
    assert info.value.code == "ResourceNotFoundException"
    answer = await streams.deliver(
        "Hose", b'{"Records": [{"kinesis": {"data": "YWJj"}, "eventID": "shardId-0:1"}]}'
    )
    assert answer.function_error == "Unhandled"  # the reader tries the batch again


def test_a_spool_keeps_what_is_not_written_and_skips_a_line_cut_short(tmp_path: Path) -> None:
    spool = _Spool(tmp_path / "firehose" / "Hose.jsonl")
    spool.append([_Record("1", 5, b"a"), _Record("2", 6, b"b", {"shardId": "s"})])
    spool.close()
    with spool.path.open("ab") as cut:
        cut.write(b'{"id": "3", "t": 7, "d": "Y')  # killed mid-write: never acknowledged
    assert [(r.record_id, r.data, r.kinesis) for r in spool.read()] == [
        ("1", b"a", None),
        ("2", b"b", {"shardId": "s"}),
    ]
    spool.keep([_Record("2", 6, b"b")])
    assert [r.record_id for r in spool.read()] == ["2"]
    spool.keep([])
    assert not spool.path.exists()
