"""What an SQS event source hands a function, and which messages it deletes after."""

from __future__ import annotations

import orjson

from canaria.models import InvokeResult, QueueEventSource
from canaria.services.pollers import lambda_record, succeeded

SOURCE = QueueEventSource("Fn", "Jobs", "q", "arn:aws:sqs:us-east-1:123456789012:q")
REPORTING = QueueEventSource(
    "Fn", "Jobs", "q", "arn:aws:sqs:us-east-1:123456789012:q", report_batch_item_failures=True
)
MESSAGES = [
    {"MessageId": f"m{i}", "ReceiptHandle": f"r{i}", "Body": f"b{i}", "MD5OfBody": "x"}
    for i in range(3)
]


def result(payload: object, error: str | None = None) -> InvokeResult:
    return InvokeResult(orjson.dumps(payload), 1, "req", 1.0, function_error=error)


def test_a_record_has_lambdas_shape() -> None:
    message = {
        **MESSAGES[0],
        "Attributes": {"ApproximateReceiveCount": "2", "SentTimestamp": "1"},
        "MessageAttributes": {"kind": {"StringValue": "a", "DataType": "String"}},
    }
    record = lambda_record(message, SOURCE)
    assert record == {
        "messageId": "m0",
        "receiptHandle": "r0",
        "body": "b0",
        "attributes": {"ApproximateReceiveCount": "2", "SentTimestamp": "1"},
        "messageAttributes": {
            "kind": {
                "stringValue": "a",
                "binaryValue": None,
                "stringListValues": [],
                "binaryListValues": [],
                "dataType": "String",
            }
        },
        "md5OfBody": "x",
        "eventSource": "aws:sqs",
        "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:q",
        "awsRegion": "us-east-1",
    }


def test_a_failed_invocation_deletes_nothing_and_a_good_one_everything() -> None:
    assert succeeded(result({"errorMessage": "x"}, "Unhandled"), MESSAGES, SOURCE) == []
    assert succeeded(result(None), MESSAGES, SOURCE) == MESSAGES
    # without ReportBatchItemFailures the response is not read
    failures = {"batchItemFailures": [{"itemIdentifier": "m1"}]}
    assert succeeded(result(failures), MESSAGES, SOURCE) == MESSAGES


def test_reported_item_failures_stay_in_the_queue() -> None:
    failures = {"batchItemFailures": [{"itemIdentifier": "m1"}]}
    assert succeeded(result(failures), MESSAGES, REPORTING) == [MESSAGES[0], MESSAGES[2]]
    assert succeeded(result({"batchItemFailures": []}), MESSAGES, REPORTING) == MESSAGES
    # an identifier that is not in the batch fails the whole batch, as on Lambda
    unknown = {"batchItemFailures": [{"itemIdentifier": "other"}]}
    assert succeeded(result(unknown), MESSAGES, REPORTING) == []
