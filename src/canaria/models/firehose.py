"""Firehose delivery streams (``AWS::KinesisFirehose::DeliveryStream``), as canaria runs
them: where records come from, what transforms them, where they are written."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

MIB = 1_048_576


@dataclass(frozen=True)
class Buffering:
    """``BufferingHints``: a batch is written when it holds ``size_mb`` or when
    ``interval_s`` have passed since its first record, whichever comes first."""

    size_mb: int = 5
    interval_s: int = 300

    @property
    def size_bytes(self) -> int:
        return self.size_mb * MIB


@dataclass(frozen=True)
class S3Destination:
    """Where a batch is written in a bucket of the services engine: ``<prefix><suffix>``,
    the suffix ``<stream>-<version>-<yyyy-MM-dd-HH-mm-ss>-<uuid><extension>``."""

    bucket: str
    prefix: str = ""  # evaluated: !{timestamp:...}, !{firehose:...}; else + YYYY/MM/dd/HH/
    error_prefix: str | None = None  # ErrorOutputPrefix, evaluated the same way
    buffering: Buffering = Buffering()
    compression: Literal["UNCOMPRESSED", "GZIP"] = "UNCOMPRESSED"
    extension: str | None = None  # FileExtension; else ".gz" for GZIP, nothing otherwise
    time_zone: str | None = None  # CustomTimeZone of the prefixes and the suffix; else UTC


@dataclass(frozen=True)
class HttpDestination:
    """``HttpEndpointDestinationConfiguration``: each batch POSTed as Firehose's request
    (``requestId``, ``timestamp``, ``records`` of base64 ``data``); a batch not accepted
    within ``retry_s`` goes to ``backup`` (``S3BackupMode`` FailedDataOnly), and with
    ``backup_all`` every batch does (AllData)."""

    url: str
    name: str = ""
    access_key: str | None = None  # X-Amz-Firehose-Access-Key
    gzip: bool = False  # RequestConfiguration.ContentEncoding GZIP
    common_attributes: Mapping[str, str] = field(default_factory=dict)
    retry_s: int = 300  # RetryOptions.DurationInSeconds
    buffering: Buffering = Buffering()
    backup: S3Destination | None = None
    backup_all: bool = False


@dataclass(frozen=True)
class Processor:
    """A stream's ``ProcessingConfiguration``. Its ``Lambda`` processor (``arn`` set): the
    function (its logical id, None when it is not one of the template's, and the
    qualifier the ARN names) each batch is handed to, tried ``retries`` more times when
    the invocation fails, with at most ``size_mb`` of records per invocation. ``steps``:
    the processors canaria applies itself after it, in order (``AppendDelimiterToRecord``
    with its delimiter, ``Decompression`` with its format)."""

    function: str | None = None
    qualifier: str | None = None
    arn: str = ""  # as the template gives it (the failed records' lambdaArn)
    retries: int = 3
    size_mb: float = 1.0  # BufferSizeInMBs
    interval_s: int = 60  # BufferIntervalInSeconds
    steps: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class DeliveryStreamSpec:
    """A delivery stream: records put to it (``DirectPut``) or read from a Kinesis
    stream of the template (``KinesisStreamAsSource``), buffered, handed to its
    processor, then written to its destination. ``destination`` None: a destination
    canaria does not write to (OpenSearch, Redshift, Splunk, ...); records are taken and
    dropped, as the load-time warning says."""

    logical_id: str
    name: str
    arn: str
    source: Literal["DirectPut", "KinesisStreamAsSource"] = "DirectPut"
    kinesis_arn: str | None = None  # the stream it reads
    destination: S3Destination | HttpDestination | None = None
    destination_kind: str = "ExtendedS3"  # as DescribeDeliveryStream names it
    processor: Processor | None = None
    log_group: str | None = None  # CloudWatchLoggingOptions: delivery errors written here
    log_stream: str | None = None

    @property
    def buffering(self) -> Buffering:
        destination = self.destination
        return destination.buffering if destination is not None else Buffering()


def delivery_stream_arn(region: str, account: str, name: str) -> str:
    return f"arn:aws:firehose:{region}:{account}:deliverystream/{name}"


__all__ = [
    "MIB",
    "Buffering",
    "DeliveryStreamSpec",
    "HttpDestination",
    "Processor",
    "S3Destination",
    "delivery_stream_arn",
]
