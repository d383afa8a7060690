"""What a Kinesis or DynamoDB event source hands a function, where its checkpoint goes
after an answer, and what it tells an OnFailure destination."""

from __future__ import annotations

import base64
from datetime import UTC, datetime
from typing import Any

import orjson

from canaria.models import InvokeResult, StartingPosition, StreamEventSource
from canaria.models.filters import kinesis_filter_view
from canaria.services.streams import (
    failure_record,
    from_kinesis,
    from_table,
    kinesis_record,
    outcome_of,
    split_to_fit,
)

ARN = "arn:aws:kinesis:us-east-1:123456789012:stream/clicks"
SOURCE = StreamEventSource("Fn", "Read", "clicks", ARN, StartingPosition.LATEST)
REPORTING = StreamEventSource(
    "Fn", "Read", "clicks", ARN, StartingPosition.LATEST, report_batch_item_failures=True
)
WHEN = datetime(2026, 12, 1, 12, 0, 0, 250_000, tzinfo=UTC)


def record(seq: str, data: bytes = b'{"n": 1}') -> dict[str, Any]:
    return {
        "SequenceNumber": seq,
        "ApproximateArrivalTimestamp": WHEN,
        "Data": data,
        "PartitionKey": "k",
    }


SHARD = "shardId-000000000001"
BATCH = [from_kinesis(record(n), SHARD, SOURCE) for n in ("10", "11", "12")]


def result(payload: object, error: str | None = None) -> InvokeResult:
    return InvokeResult(orjson.dumps(payload), 3, "req-1", 1.0, function_error=error)


def test_a_record_has_lambdas_shape() -> None:
    assert kinesis_record(record("10", b"hello"), "shardId-000000000001", SOURCE) == {
        "kinesis": {
            "kinesisSchemaVersion": "1.0",
            "partitionKey": "k",
            "sequenceNumber": "10",
            "data": base64.b64encode(b"hello").decode(),
            "approximateArrivalTimestamp": WHEN.timestamp(),
        },
        "eventSource": "aws:kinesis",
        "eventVersion": "1.0",
        "eventID": "shardId-000000000001:10",
        "eventName": "aws:kinesis:record",
        "invokeIdentityArn": "arn:aws:iam::123456789012:role/Fn-role",
        "awsRegion": "us-east-1",
        "eventSourceARN": ARN,
    }


def test_filters_see_the_data_decoded() -> None:
    assert kinesis_filter_view(record("1", b'{"kind": "click"}')) == {"data": {"kind": "click"}}
    assert kinesis_filter_view(record("1", b"plain text")) == {"data": "plain text"}
    assert kinesis_filter_view(record("1", b"\xff\x00")) == {"data": "/wA="}


def test_a_function_error_retries_the_batch_and_success_moves_past_it() -> None:
    assert outcome_of(result({"errorMessage": "x"}, "Unhandled"), BATCH, SOURCE).failed_from == 0
    assert outcome_of(result(None), BATCH, SOURCE).failed_from is None
    # without ReportBatchItemFailures the answer is not read
    failures = {"batchItemFailures": [{"itemIdentifier": "11"}]}
    assert outcome_of(result(failures), BATCH, SOURCE).failed_from is None


def test_reported_failures_move_the_checkpoint_to_the_lowest_one() -> None:
    failures = {"batchItemFailures": [{"itemIdentifier": "12"}, {"itemIdentifier": "11"}]}
    assert outcome_of(result(failures), BATCH, REPORTING).failed_from == 1
    for done in ({"batchItemFailures": []}, {"batchItemFailures": None}, {}, "text", None):
        assert outcome_of(result(done), BATCH, REPORTING).failed_from is None
    # an identifier that is not in the batch fails the whole batch, as Lambda does
    for bad in ([{"itemIdentifier": "99"}], [{"id": "11"}], ["11"], "11"):
        assert outcome_of(result({"batchItemFailures": bad}), BATCH, REPORTING).failed_from == 0


def test_a_discarded_batch_is_described_not_sent() -> None:
    body = failure_record(
        BATCH, SHARD, SOURCE, "RetryAttemptsExhausted", 3, result({}, "Unhandled")
    )
    assert body["requestContext"] == {
        "requestId": "req-1",
        "functionArn": "arn:aws:lambda:us-east-1:123456789012:function:Fn",
        "condition": "RetryAttemptsExhausted",
        "approximateInvokeCount": 3,
    }
    assert body["responseContext"] == {
        "statusCode": 200,
        "executedVersion": "3",
        "functionError": "Unhandled",
    }
    assert body["KinesisBatchInfo"] == {
        "shardId": "shardId-000000000001",
        "startSequenceNumber": "10",
        "endSequenceNumber": "12",
        "approximateArrivalOfFirstRecord": "2026-12-01T12:00:00.250Z",
        "approximateArrivalOfLastRecord": "2026-12-01T12:00:00.250Z",
        "batchSize": 3,
        "streamArn": ARN,
    }
    assert body["version"] == "1.0" and body["timestamp"].endswith("Z")
    throttled = failure_record(BATCH, "s", SOURCE, "RecordAgeExceeded", 1, None)
    assert throttled["responseContext"] == {"statusCode": 429}


def test_a_batch_over_six_megabytes_is_cut_in_order() -> None:
    big = [from_kinesis(record(str(i), b"x" * 1_000_000), SHARD, SOURCE) for i in range(10)]
    parts = split_to_fit(big)
    assert [r for p in parts for r in p] == big and [len(p) for p in parts] == [4, 4, 2]
    assert all(sum(r.size for r in p) < 6 * 1024 * 1024 for p in parts)
    assert split_to_fit(BATCH) == [BATCH]
    alone = [from_kinesis(record("1", b"x" * 7_000_000), SHARD, SOURCE)]  # never cut
    assert split_to_fit(alone) == [alone]


TABLE_ARN = "arn:aws:dynamodb:us-east-1:123456789012:table/notes/stream/1970-01-01T00:00:00.000"
TABLE_SOURCE = StreamEventSource(
    "Fn", "Changes", "notes", TABLE_ARN, StartingPosition.TRIM_HORIZON, kind="dynamodb"
)
CHANGE = {
    "eventID": "e1",
    "eventName": "INSERT",
    "eventVersion": "1.1",
    "eventSource": "aws:dynamodb",
    "awsRegion": "us-east-1",
    "dynamodb": {
        "ApproximateCreationDateTime": 1764590400,
        "Keys": {"id": {"S": "a"}},
        "NewImage": {"id": {"S": "a"}, "n": {"N": "1"}},
        "SequenceNumber": "100000000000000000007",
        "SizeBytes": 40,
        "StreamViewType": "NEW_IMAGE",
    },
}


def test_a_dynamodb_record_is_the_stream_record_with_its_arn() -> None:
    got = from_table(CHANGE, WHEN.timestamp(), TABLE_SOURCE)
    assert got.event == {**CHANGE, "eventSourceARN": TABLE_ARN}
    assert got.view == CHANGE  # filters see eventName, dynamodb.NewImage, ...
    assert got.sequence == "100000000000000000007" and got.arrival == WHEN.timestamp()
    info = failure_record([got], "shardId-1", TABLE_SOURCE, "RecordAgeExceeded", 2, None)
    assert "KinesisBatchInfo" not in info
    assert info["DDBStreamBatchInfo"] == {
        "shardId": "shardId-1",
        "startSequenceNumber": "100000000000000000007",
        "endSequenceNumber": "100000000000000000007",
        "approximateArrivalOfFirstRecord": "2026-12-01T12:00:00.250Z",
        "approximateArrivalOfLastRecord": "2026-12-01T12:00:00.250Z",
        "batchSize": 1,
        "streamArn": TABLE_ARN,
    }
