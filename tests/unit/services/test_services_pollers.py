"""What an SQS event source hands a function, and which messages it deletes after."""

from __future__ import annotations

import orjson

from canaria.models import EventSourceKind, InvokeResult, QueueEventSource
from canaria.services.pollers import event_of, lambda_record, succeeded

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


SNS = QueueEventSource(
    "Fn",
    "Heard",
    "canaria-Fn-Heard",
    "arn:aws:sqs:us-east-1:123456789012:canaria-Fn-Heard",
    batch_size=1,
    kind=EventSourceKind.SNS,
    subscription_arn="arn:aws:sns:us-east-1:123456789012:t:sub",
)


def test_an_sns_envelope_becomes_lambdas_sns_record() -> None:
    envelope = {
        "Type": "Notification",
        "MessageId": "n1",
        "TopicArn": "arn:aws:sns:us-east-1:123456789012:t",
        "Subject": "hi",
        "Message": "hello",
        "Timestamp": "2026-11-30T00:00:00.000Z",
        "SigningCertURL": "https://cert",
        "UnsubscribeURL": "https://unsub",
    }
    message = {**MESSAGES[0], "Body": orjson.dumps(envelope).decode()}
    (record,) = orjson.loads(event_of([message], SNS))["Records"]
    assert record["EventSource"] == "aws:sns"
    assert record["EventSubscriptionArn"] == "arn:aws:sns:us-east-1:123456789012:t:sub"
    assert record["Sns"]["Message"] == "hello" and record["Sns"]["Subject"] == "hi"
    assert record["Sns"]["SigningCertUrl"] == "https://cert"
    assert record["Sns"]["UnsubscribeUrl"] == "https://unsub"


def test_a_failed_sns_notification_is_dropped_after_three_attempts() -> None:
    def tried(n: int) -> dict[str, object]:
        return {**MESSAGES[0], "Attributes": {"ApproximateReceiveCount": str(n)}}

    failed = result({"errorMessage": "x"}, "Unhandled")
    assert succeeded(failed, [tried(1)], SNS) == []
    assert succeeded(failed, [tried(2)], SNS) == []
    assert succeeded(failed, [tried(3)], SNS) == [tried(3)]


def test_an_eventbridge_event_is_handed_over_as_the_rule_delivered_it() -> None:
    rule = QueueEventSource(
        "Fn",
        "Saved",
        "q",
        "arn:aws:sqs:us-east-1:123456789012:q",
        batch_size=1,
        kind=EventSourceKind.EVENTBRIDGE,
    )
    event = {"detail-type": "NoteSaved", "source": "notes", "detail": {"note": "n1"}}
    message = {**MESSAGES[0], "Body": orjson.dumps(event).decode()}
    assert orjson.loads(event_of([message], rule)) == event
