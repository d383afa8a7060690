"""Amazon Data Firehose (JSON 1.1, ``Firehose_20150804``) over the template's delivery
streams (``canaria.services.firehose``).

Served: ``PutRecord``, ``PutRecordBatch`` (at most 500 records and 4 MiB, each record at
most 1,000 KiB, as Firehose takes them; a stream reading a Kinesis stream refuses both),
``DescribeDeliveryStream`` (its source, its destination's configuration as the template
gives it) and ``ListDeliveryStreams`` (by type, paged by name). A stream is named by its
``DeliveryStreamName``; one the template does not declare is
``ResourceNotFoundException``. Creating, updating and deleting streams through the API is
not served: the template declares them.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.responses import Response

from canaria.aws.backend import EdgeBackend
from canaria.aws.responses import AMZ_JSON_11, json_error, json_response
from canaria.models.firehose import DeliveryStreamSpec, HttpDestination, S3Destination
from canaria.services.firehose import (
    MAX_BATCH_BYTES,
    MAX_BATCH_RECORDS,
    MAX_RECORD,
    FirehoseError,
)
from canaria.template.firehose import STREAM_TYPES

Handler = Callable[[EdgeBackend, dict[str, Any]], Awaitable[Response]]


def _name(body: dict[str, Any]) -> str:
    name = body.get("DeliveryStreamName")
    if not isinstance(name, str) or not name:
        raise FirehoseError("InvalidArgumentException", "DeliveryStreamName is required")
    return name


def _data(record: Any, where: str) -> bytes:
    data = record.get("Data") if isinstance(record, dict) else None
    if not isinstance(data, str):
        raise FirehoseError("InvalidArgumentException", f"{where}.Data is required")
    try:
        raw = base64.b64decode(data, validate=True)
    except (ValueError, binascii.Error):
        raise FirehoseError(
            "InvalidArgumentException", f"{where}.Data is not base64 (the SDK encodes it)"
        ) from None
    if len(raw) > MAX_RECORD:
        raise FirehoseError(
            "InvalidArgumentException",
            f"{where}.Data is {len(raw)} bytes: a record is at most {MAX_RECORD} bytes (1,000 KiB)",
        )
    return raw


async def put_record(edge: EdgeBackend, body: dict[str, Any]) -> Response:
    name = _name(body)
    (record_id,) = edge.firehose.put(name, [_data(body.get("Record"), "Record")])
    return json_response({"RecordId": record_id, "Encrypted": False}, media_type=AMZ_JSON_11)


async def put_record_batch(edge: EdgeBackend, body: dict[str, Any]) -> Response:
    name = _name(body)
    records = body.get("Records")
    if not isinstance(records, list) or not records:
        raise FirehoseError("InvalidArgumentException", "Records must list 1 to 500 records")
    if len(records) > MAX_BATCH_RECORDS:
        raise FirehoseError(
            "InvalidArgumentException",
            f"Records holds {len(records)} records: a batch is at most {MAX_BATCH_RECORDS}",
        )
    data = [_data(r, f"Records[{i}]") for i, r in enumerate(records)]
    total = sum(len(d) for d in data)
    if total > MAX_BATCH_BYTES:
        raise FirehoseError(
            "InvalidArgumentException",
            f"Records holds {total} bytes: a batch is at most {MAX_BATCH_BYTES} (4 MiB)",
        )
    ids = edge.firehose.put(name, data)
    return json_response(
        {
            "FailedPutCount": 0,
            "Encrypted": False,
            "RequestResponses": [{"RecordId": i} for i in ids],
        },
        media_type=AMZ_JSON_11,
    )


def _s3(destination: S3Destination) -> dict[str, Any]:
    out: dict[str, Any] = {
        "BucketARN": f"arn:aws:s3:::{destination.bucket}",
        "Prefix": destination.prefix,
        "BufferingHints": {
            "SizeInMBs": destination.buffering.size_mb,
            "IntervalInSeconds": destination.buffering.interval_s,
        },
        "CompressionFormat": destination.compression,
        "EncryptionConfiguration": {"NoEncryptionConfig": "NoEncryption"},
    }
    if destination.error_prefix is not None:
        out["ErrorOutputPrefix"] = destination.error_prefix
    return out


def _destination(spec: DeliveryStreamSpec) -> dict[str, Any]:
    out: dict[str, Any] = {"DestinationId": "destinationId-000000000001"}
    destination = spec.destination
    if isinstance(destination, S3Destination):
        s3 = _s3(destination)
        if spec.destination_kind == "ExtendedS3":
            processor = spec.processor
            if processor is not None and processor.arn:
                s3["ProcessingConfiguration"] = {
                    "Enabled": True,
                    "Processors": [
                        {
                            "Type": "Lambda",
                            "Parameters": [
                                {"ParameterName": "LambdaArn", "ParameterValue": processor.arn},
                                {
                                    "ParameterName": "NumberOfRetries",
                                    "ParameterValue": str(processor.retries),
                                },
                            ],
                        }
                    ],
                }
            out["ExtendedS3DestinationDescription"] = s3
        out["S3DestinationDescription"] = _s3(destination)
    elif isinstance(destination, HttpDestination):
        http: dict[str, Any] = {
            "EndpointConfiguration": {"Url": destination.url, "Name": destination.name},
            "BufferingHints": {
                "SizeInMBs": destination.buffering.size_mb,
                "IntervalInSeconds": destination.buffering.interval_s,
            },
            "RequestConfiguration": {"ContentEncoding": "GZIP" if destination.gzip else "NONE"},
            "RetryOptions": {"DurationInSeconds": destination.retry_s},
            "S3BackupMode": "AllData" if destination.backup_all else "FailedDataOnly",
        }
        if destination.backup is not None:
            http["S3DestinationDescription"] = _s3(destination.backup)
        out["HttpEndpointDestinationDescription"] = http
    return out


async def describe_delivery_stream(edge: EdgeBackend, body: dict[str, Any]) -> Response:
    name = _name(body)
    spec = edge.firehose.named(name)
    if spec is None:
        raise FirehoseError("ResourceNotFoundException", f"Firehose {name} not found.")
    description: dict[str, Any] = {
        "DeliveryStreamName": spec.name,
        "DeliveryStreamARN": spec.arn,
        "DeliveryStreamStatus": "ACTIVE",
        "DeliveryStreamType": spec.source,
        "VersionId": "1",
        "CreateTimestamp": edge.firehose.created_ms / 1000,
        "Destinations": [_destination(spec)],
        "HasMoreDestinations": False,
    }
    if spec.kinesis_arn is not None:
        description["Source"] = {
            "KinesisStreamSourceDescription": {
                "KinesisStreamARN": spec.kinesis_arn,
                "DeliveryStartTimestamp": edge.firehose.created_ms / 1000,
            }
        }
    return json_response({"DeliveryStreamDescription": description}, media_type=AMZ_JSON_11)


async def list_delivery_streams(edge: EdgeBackend, body: dict[str, Any]) -> Response:
    limit = body.get("Limit", 10)
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= 10_000:
        raise FirehoseError("InvalidArgumentException", "Limit must be from 1 to 10000")
    kind = body.get("DeliveryStreamType")
    if kind not in (None, *STREAM_TYPES):
        raise FirehoseError(
            "InvalidArgumentException",
            f"DeliveryStreamType {kind!r} is not one of {', '.join(STREAM_TYPES)}"[:300],
        )
    start = body.get("ExclusiveStartDeliveryStreamName")
    names = [
        n
        for n in edge.firehose.names()
        if kind is None or ((s := edge.firehose.named(n)) is not None and s.source == kind)
    ]
    if isinstance(start, str):
        names = [n for n in names if n > start]
    return json_response(
        {"DeliveryStreamNames": names[:limit], "HasMoreDeliveryStreams": len(names) > limit},
        media_type=AMZ_JSON_11,
    )


def _answering(handler: Handler) -> Handler:
    """``handler`` with its refusals answered as Firehose answers them."""

    async def answer(edge: EdgeBackend, body: dict[str, Any]) -> Response:
        try:
            return await handler(edge, body)
        except FirehoseError as exc:  # a stream holding too much: a fault the SDK retries
            busy = exc.code == "ServiceUnavailableException"
            return json_error(exc.code, exc.message, status=500 if busy else 400)

    return answer


OPERATIONS: dict[str, Handler] = {
    name: _answering(handler)
    for name, handler in {
        "PutRecord": put_record,
        "PutRecordBatch": put_record_batch,
        "DescribeDeliveryStream": describe_delivery_stream,
        "ListDeliveryStreams": list_delivery_streams,
    }.items()
}

__all__ = [
    "OPERATIONS",
    "describe_delivery_stream",
    "list_delivery_streams",
    "put_record",
    "put_record_batch",
]
