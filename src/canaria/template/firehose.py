"""``AWS::KinesisFirehose::DeliveryStream`` → ``DeliveryStreamSpec``, and the event source
that reads a ``KinesisStreamAsSource`` stream's Kinesis stream.

Run: ``DirectPut`` and ``KinesisStreamAsSource`` streams (the Kinesis stream one of the
template's); ``ExtendedS3DestinationConfiguration`` and ``S3DestinationConfiguration``
into a bucket of the template (prefix expressions, error prefix, buffering hints,
``GZIP``, file extension, time zone); ``HttpEndpointDestinationConfiguration`` (its URL,
access key, GZIP, common attributes, retry duration, its S3 backup); the ``Lambda``,
``AppendDelimiterToRecord``, ``Decompression`` and ``CloudWatchLogProcessing``
processors. Other destinations
(OpenSearch, Redshift, Splunk, Snowflake, Iceberg) and sources (MSK, databases) are a
warning: the stream takes records and drops them. Format conversion and dynamic
partitioning are a warning too.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import replace
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from canaria.models.arns import ACCOUNT, REGION, function_arn
from canaria.models.firehose import (
    Buffering,
    DeliveryStreamSpec,
    HttpDestination,
    Processor,
    S3Destination,
    delivery_stream_arn,
)
from canaria.models.services import (
    BucketSpec,
    ServiceResource,
    StartingPosition,
    StreamEventSource,
    StreamSpec,
)
from canaria.template.context import Context
from canaria.template.index import DELIVERY_STREAM, Entry
from canaria.template.intrinsics import NO_VALUE
from canaria.template.nodes import Where, as_float, as_int, as_list, as_map, as_str, check_keys
from canaria.template.service_props import function_and_qualifier
from canaria.template.service_refs import bucket_arn, stream_arn

KEYS = (
    "DeliveryStreamName",
    "DeliveryStreamType",
    "DeliveryStreamEncryptionConfigurationInput",
    "KinesisStreamSourceConfiguration",
    "DirectPutSourceConfiguration",
    "MSKSourceConfiguration",
    "DatabaseSourceConfiguration",
    "ExtendedS3DestinationConfiguration",
    "S3DestinationConfiguration",
    "HttpEndpointDestinationConfiguration",
    "AmazonopensearchserviceDestinationConfiguration",
    "AmazonOpenSearchServerlessDestinationConfiguration",
    "ElasticsearchDestinationConfiguration",
    "RedshiftDestinationConfiguration",
    "SplunkDestinationConfiguration",
    "SnowflakeDestinationConfiguration",
    "IcebergDestinationConfiguration",
    "Tags",
)
DESTINATIONS = {
    "ExtendedS3DestinationConfiguration": "ExtendedS3",
    "S3DestinationConfiguration": "S3",
    "HttpEndpointDestinationConfiguration": "HttpEndpoint",
    "AmazonopensearchserviceDestinationConfiguration": "AmazonopensearchService",
    "AmazonOpenSearchServerlessDestinationConfiguration": "AmazonOpenSearchServerless",
    "ElasticsearchDestinationConfiguration": "Elasticsearch",
    "RedshiftDestinationConfiguration": "Redshift",
    "SplunkDestinationConfiguration": "Splunk",
    "SnowflakeDestinationConfiguration": "Snowflake",
    "IcebergDestinationConfiguration": "Iceberg",
}
STREAM_TYPES = ("DirectPut", "KinesisStreamAsSource", "MSKAsSource", "DatabaseAsSource")
S3_KEYS = (
    "BucketARN",
    "RoleARN",
    "BufferingHints",
    "CloudWatchLoggingOptions",
    "CompressionFormat",
    "EncryptionConfiguration",
    "ErrorOutputPrefix",
    "Prefix",
)
EXTENDED_S3_KEYS = (
    *S3_KEYS,
    "CustomTimeZone",
    "DataFormatConversionConfiguration",
    "DynamicPartitioningConfiguration",
    "FileExtension",
    "ProcessingConfiguration",
    "S3BackupConfiguration",
    "S3BackupMode",
)
HTTP_KEYS = (
    "EndpointConfiguration",
    "BufferingHints",
    "CloudWatchLoggingOptions",
    "ProcessingConfiguration",
    "RequestConfiguration",
    "RetryOptions",
    "RoleARN",
    "S3BackupMode",
    "S3Configuration",
    "SecretsManagerConfiguration",
)
COMPRESSIONS = ("UNCOMPRESSED", "GZIP", "ZIP", "Snappy", "HADOOP_SNAPPY")
PROCESSORS = (
    "Lambda",
    "AppendDelimiterToRecord",
    "Decompression",
    "RecordDeAggregation",
    "MetadataExtraction",
    "CloudWatchLogProcessing",
)
_NAME = re.compile(r"^[a-zA-Z0-9._-]{1,64}$")
_FILE_EXTENSION = re.compile(r"^$|\.[0-9a-z!\-_.*'()]+$")


def delivery_stream_arns(ctx: Context) -> dict[str, str]:
    """The ARN of each enabled delivery stream of the template → its logical id (what a
    rule's target or a topic's subscription may name before the streams are built)."""
    out: dict[str, str] = {}
    for name in ctx.index.names():
        entry = ctx.index.entries.get(name)
        if entry is not None and entry.type == DELIVERY_STREAM and entry.enabled:
            out[delivery_stream_arn(REGION, ACCOUNT, ctx.index.name_of(name))] = name
    return out


def build_delivery_streams(
    ctx: Context,
    entries: list[Entry],
    services: Mapping[str, ServiceResource],
    functions: list[Entry],
    function_names: Mapping[str, str],
) -> tuple[dict[str, DeliveryStreamSpec], tuple[StreamEventSource, ...]]:
    """Each delivery stream, and the Kinesis readers of the ones reading a stream (a
    processor's function named by its ARN, its logical id's or its ``FunctionName``'s)."""
    out: dict[str, DeliveryStreamSpec] = {}
    sources: list[StreamEventSource] = []
    buckets = {bucket_arn(r.name): r.name for r in services.values() if isinstance(r, BucketSpec)}
    streams = {stream_arn(r.name): r for r in services.values() if isinstance(r, StreamSpec)}
    function_arns = {function_arn(f.logical_id): f.logical_id for f in functions}
    function_arns.update({function_arn(name): lid for name, lid in function_names.items()})
    names: dict[str, str] = {}
    for entry in entries:
        check_keys(entry.props, entry.props_at, KEYS)
        spec, source = _delivery_stream(ctx, entry, buckets, streams, function_arns)
        if spec.name in names:
            raise ctx.at(entry, "DeliveryStreamName").error(
                f"delivery stream name {spec.name!r} is used twice (also by {names[spec.name]})"
            )
        names[spec.name] = entry.logical_id
        out[entry.logical_id] = spec
        if source is not None:
            sources.append(source)
    return out, tuple(sources)


def _delivery_stream(
    ctx: Context,
    entry: Entry,
    buckets: Mapping[str, str],
    streams: Mapping[str, StreamSpec],
    functions: Mapping[str, str],
) -> tuple[DeliveryStreamSpec, StreamEventSource | None]:
    name = ctx.index.name_of(entry.logical_id)
    if not _NAME.match(name):
        raise ctx.at(entry, "DeliveryStreamName").error(
            f"delivery stream name {name!r} is not one Firehose accepts",
            allowed="1 to 64 letters, digits, '.', '_' and '-'",
        )
    arn = delivery_stream_arn(REGION, ACCOUNT, name)
    raw_type = ctx.get(entry, "DeliveryStreamType")
    kind = (
        "DirectPut"
        if raw_type is NO_VALUE
        else as_str(raw_type, ctx.at(entry, "DeliveryStreamType"))
    )
    if kind not in STREAM_TYPES:
        raise ctx.at(entry, "DeliveryStreamType").error(
            f"unknown delivery stream type {kind!r}", allowed=", ".join(STREAM_TYPES)
        )
    given = [k for k in DESTINATIONS if ctx.get(entry, k) is not NO_VALUE]
    if len(given) != 1:
        raise entry.props_at.error(
            "a delivery stream needs exactly one destination configuration"
            + (f", got {', '.join(given)}" if given else ""),
            allowed=", ".join(DESTINATIONS),
        )
    key = given[0]
    at = ctx.at(entry, key)
    config = as_map(ctx.get(entry, key), at)
    destination: S3Destination | HttpDestination | None = None
    processor: Processor | None = None
    logging: tuple[str | None, str | None] = (None, None)
    if key in ("ExtendedS3DestinationConfiguration", "S3DestinationConfiguration"):
        extended = key == "ExtendedS3DestinationConfiguration"
        destination = _s3(ctx, entry, config, at, buckets, extended=extended)
        if extended:
            processor = _processing(ctx, entry, config, at, functions)
            _warn_extended(ctx, entry, config, key)
        logging = _logging(config, at)
    elif key == "HttpEndpointDestinationConfiguration":
        destination = _http(ctx, entry, config, at, buckets)
        processor = _processing(ctx, entry, config, at, functions)
        logging = _logging(config, at)
    else:
        ctx.warn(
            entry,
            f"{key}: canaria does not run {DESTINATIONS[key]} destinations: the delivery "
            "stream takes records (PutRecord, its sources) and drops them",
        )
    source: StreamEventSource | None = None
    kinesis_arn = None
    if kind == "KinesisStreamAsSource":
        sat = ctx.at(entry, "KinesisStreamSourceConfiguration")
        raw = ctx.get(entry, "KinesisStreamSourceConfiguration")
        if raw is NO_VALUE:
            raise sat.error(
                "a KinesisStreamAsSource delivery stream needs its KinesisStreamSourceConfiguration"
            )
        node = as_map(raw, sat)
        check_keys(node, sat, ("KinesisStreamARN", "RoleARN"), required=("KinesisStreamARN",))
        kinesis_arn = as_str(node["KinesisStreamARN"], sat.key(node, "KinesisStreamARN"))
        stream = streams.get(kinesis_arn)
        if stream is None:
            ctx.warn(
                entry,
                f"its source {kinesis_arn} is not a Kinesis stream of this template: nothing "
                "reaches the delivery stream",
            )
        else:
            # Firehose reads a stream from its LATEST position (the records put after it
            # starts), with GetRecords of up to 10,000 records
            source = StreamEventSource(
                entry.logical_id,
                "KinesisStreamSourceConfiguration",
                stream.name,
                kinesis_arn,
                StartingPosition.LATEST,
                batch_size=10_000,
            )
    elif kind in ("MSKAsSource", "DatabaseAsSource"):
        ctx.warn(entry, f"DeliveryStreamType {kind}: canaria does not read this source")
    spec = DeliveryStreamSpec(
        entry.logical_id,
        name,
        arn,
        "KinesisStreamAsSource" if kind == "KinesisStreamAsSource" else "DirectPut",
        kinesis_arn,
        destination,
        DESTINATIONS[key],
        processor,
        *logging,
    )
    return spec, source


def _buffering(config: Mapping[str, Any], at: Where, default: Buffering, max_mb: int) -> Buffering:
    if "BufferingHints" not in config:
        return default
    bat = at.key(config, "BufferingHints")
    node = as_map(config["BufferingHints"], bat)
    check_keys(node, bat, ("IntervalInSeconds", "SizeInMBs"))
    return Buffering(
        as_int(node.get("SizeInMBs", default.size_mb), bat.key(node, "SizeInMBs"), 1, max_mb),
        as_int(
            node.get("IntervalInSeconds", default.interval_s),
            bat.key(node, "IntervalInSeconds"),
            0,
            900,
        ),
    )


def _s3(
    ctx: Context,
    entry: Entry,
    config: Mapping[str, Any],
    at: Where,
    buckets: Mapping[str, str],
    *,
    extended: bool,
) -> S3Destination:
    check_keys(config, at, EXTENDED_S3_KEYS if extended else S3_KEYS, required=("BucketARN",))
    bucket_at = at.key(config, "BucketARN")
    arn = as_str(config["BucketARN"], bucket_at)
    if not arn.startswith("arn:aws:s3:::") or "/" in arn:
        raise bucket_at.error(f"{arn!r} is not a bucket's ARN", allowed="arn:aws:s3:::<bucket>")
    bucket = arn.removeprefix("arn:aws:s3:::")
    if arn not in buckets:
        ctx.warn(
            entry,
            f"{bucket_at.path.split('.', 3)[-1]}: {bucket} is not a bucket of this template: "
            "writing to it fails unless it is created first (the services engine holds only "
            "what the template or your code creates)",
        )

    def text(key: str) -> str | None:
        return as_str(config[key], at.key(config, key)) if key in config else None

    compression = text("CompressionFormat") or "UNCOMPRESSED"
    if compression not in COMPRESSIONS:
        raise at.key(config, "CompressionFormat").error(
            f"unknown compression format {compression!r}", allowed=", ".join(COMPRESSIONS)
        )
    if compression not in ("UNCOMPRESSED", "GZIP"):
        ctx.warn(
            entry,
            f"CompressionFormat {compression} is not applied: objects are written uncompressed",
        )
        compression = "UNCOMPRESSED"
    extension = text("FileExtension")
    if extension is not None and not _FILE_EXTENSION.match(extension):
        raise at.key(config, "FileExtension").error(
            f"file extension {extension!r} is not one Firehose accepts",
            allowed="a '.' then lowercase letters, digits and !-_.*'()",
        )
    zone = text("CustomTimeZone")
    if zone is not None:
        try:
            ZoneInfo(zone)
        except (ZoneInfoNotFoundError, ValueError):
            raise at.key(config, "CustomTimeZone").error(f"unknown time zone {zone!r}") from None
    prefix = text("Prefix") or ""
    error_prefix = text("ErrorOutputPrefix")
    if "!{" in prefix and not error_prefix:
        raise at.key(config, "Prefix").error(
            "a Prefix with expressions needs an ErrorOutputPrefix (Firehose refuses it otherwise)"
        )
    for key, value in (("Prefix", prefix), ("ErrorOutputPrefix", error_prefix or "")):
        for expression in re.findall(r"!\{([^}]*)\}", value):
            namespace = expression.split(":", 1)[0]
            if namespace not in (
                "timestamp",
                "firehose",
                "partitionKeyFromQuery",
                "partitionKeyFromLambda",
            ):
                raise at.key(config, key).error(
                    f"unknown expression !{{{expression}}}",
                    allowed="!{timestamp:<format>}, !{firehose:random-string}, "
                    "!{firehose:error-output-type}, !{partitionKeyFromQuery:<key>}, "
                    "!{partitionKeyFromLambda:<key>}",
                )
    compression_literal: Literal["UNCOMPRESSED", "GZIP"] = (
        "GZIP" if compression == "GZIP" else "UNCOMPRESSED"
    )
    return S3Destination(
        bucket,
        prefix,
        error_prefix,
        _buffering(config, at, Buffering(5, 300), 128),
        compression_literal,
        extension,
        zone,
    )


def _http(
    ctx: Context,
    entry: Entry,
    config: Mapping[str, Any],
    at: Where,
    buckets: Mapping[str, str],
) -> HttpDestination:
    check_keys(config, at, HTTP_KEYS, required=("EndpointConfiguration", "S3Configuration"))
    eat = at.key(config, "EndpointConfiguration")
    endpoint = as_map(config["EndpointConfiguration"], eat)
    check_keys(endpoint, eat, ("Url", "Name", "AccessKey"), required=("Url",))
    url = as_str(endpoint["Url"], eat.key(endpoint, "Url"))
    if not url.startswith(("https://", "http://")):
        raise eat.key(endpoint, "Url").error(
            f"{url!r} is not an HTTP(S) URL", allowed="https://host/path"
        )
    access_key = (
        as_str(endpoint["AccessKey"], eat.key(endpoint, "AccessKey"))
        if "AccessKey" in endpoint
        else None
    )
    gzip = False
    attributes: dict[str, str] = {}
    if "RequestConfiguration" in config:
        rat = at.key(config, "RequestConfiguration")
        request = as_map(config["RequestConfiguration"], rat)
        check_keys(request, rat, ("ContentEncoding", "CommonAttributes"))
        encoding = as_str(
            request.get("ContentEncoding", "NONE"), rat.key(request, "ContentEncoding")
        )
        if encoding not in ("NONE", "GZIP"):
            raise rat.key(request, "ContentEncoding").error(
                f"unknown content encoding {encoding!r}", allowed="NONE, GZIP"
            )
        gzip = encoding == "GZIP"
        attributes = _pairs(request, rat, "CommonAttributes", "AttributeName", "AttributeValue")
    retry_s = 300
    if "RetryOptions" in config:
        oat = at.key(config, "RetryOptions")
        options = as_map(config["RetryOptions"], oat)
        check_keys(options, oat, ("DurationInSeconds",))
        retry_s = as_int(
            options.get("DurationInSeconds", 300), oat.key(options, "DurationInSeconds"), 0, 7200
        )
    if "SecretsManagerConfiguration" in config:
        ctx.warn(
            entry,
            "HttpEndpointDestinationConfiguration.SecretsManagerConfiguration is not applied: "
            "give the endpoint's AccessKey",
        )
    mode = as_str(config.get("S3BackupMode", "FailedDataOnly"), at.key(config, "S3BackupMode"))
    if mode not in ("FailedDataOnly", "AllData"):
        raise at.key(config, "S3BackupMode").error(
            f"unknown S3BackupMode {mode!r}", allowed="FailedDataOnly, AllData"
        )
    sat = at.key(config, "S3Configuration")
    backup = _s3(ctx, entry, as_map(config["S3Configuration"], sat), sat, buckets, extended=False)
    return HttpDestination(
        url,
        as_str(endpoint.get("Name", ""), eat.key(endpoint, "Name")),
        access_key,
        gzip,
        attributes,
        retry_s,
        _buffering(config, at, Buffering(5, 300), 64),
        backup,
        mode == "AllData",
    )


def _processing(
    ctx: Context,
    entry: Entry,
    config: Mapping[str, Any],
    at: Where,
    functions: Mapping[str, str],
) -> Processor | None:
    """The stream's processors: a ``Lambda`` one (its function of the template), and
    the ones canaria applies itself, kept on the processor as flags."""
    if "ProcessingConfiguration" not in config:
        return None
    pat = at.key(config, "ProcessingConfiguration")
    node = as_map(config["ProcessingConfiguration"], pat)
    check_keys(node, pat, ("Enabled", "Processors"))
    enabled = node.get("Enabled", True)
    if enabled is False or (isinstance(enabled, str) and enabled.lower() == "false"):
        return None
    raw = node.get("Processors", [])
    lat = pat.key(node, "Processors")
    out: Processor | None = None
    steps: list[tuple[str, str]] = []  # (processor type, its parameter) canaria applies
    for i, item in enumerate(as_list(raw, lat)):
        iat = lat.index(raw, i)
        proc = as_map(item, iat)
        check_keys(proc, iat, ("Type", "Parameters"), required=("Type",))
        kind = as_str(proc["Type"], iat.key(proc, "Type"))
        if kind not in PROCESSORS:
            raise iat.key(proc, "Type").error(
                f"unknown processor type {kind!r}", allowed=", ".join(PROCESSORS)
            )
        paat = iat.key(proc, "Parameters")
        params = _pairs(proc, iat, "Parameters", "ParameterName", "ParameterValue")
        if kind == "Lambda":
            if "LambdaArn" not in params:
                raise paat.error("a Lambda processor needs its LambdaArn parameter")
            arn = params["LambdaArn"]
            found = function_and_qualifier(arn, functions)
            function, qualifier = found if found is not None else (None, None)
            if qualifier == "$LATEST":
                qualifier = None
            retries = params.get("NumberOfRetries", "3")
            if not retries.isdigit() or int(retries) > 300:
                raise paat.error(f"NumberOfRetries {retries!r} is out of range", allowed="0 to 300")
            size = as_float(params.get("BufferSizeInMBs", "1"), paat)
            if not 0.2 <= size <= 3:
                raise paat.error(f"BufferSizeInMBs {size:g} is out of range", allowed="0.2 to 3")
            interval = params.get("BufferIntervalInSeconds", "60")
            if not interval.isdigit() or not 60 <= int(interval) <= 900:
                raise paat.error(
                    f"BufferIntervalInSeconds {interval!r} is out of range", allowed="60 to 900"
                )
            if function is None:
                ctx.warn(
                    entry,
                    f"the Lambda processor {arn} is not a function of this template: every "
                    "batch fails to process and is written under the error prefix",
                )
            out = Processor(function, qualifier, arn, int(retries), size, int(interval))
        elif kind == "AppendDelimiterToRecord":
            steps.append((kind, params.get("Delimiter", "\\n")))
        elif kind == "Decompression":
            steps.append((kind, params.get("CompressionFormat", "GZIP")))
        elif kind == "CloudWatchLogProcessing":
            steps.append((kind, params.get("DataMessageExtraction", "false").lower()))
        else:
            ctx.warn(entry, f"the {kind} processor is not applied by canaria")
    if steps:
        out = replace(out or Processor(), steps=tuple(steps))
    return out


def _warn_extended(ctx: Context, entry: Entry, config: Mapping[str, Any], key: str) -> None:
    for name, what in (
        ("DataFormatConversionConfiguration", "records are written as they are"),
        ("DynamicPartitioningConfiguration", "partition keys are not evaluated"),
        ("S3BackupConfiguration", "source records are not backed up"),
    ):
        if name in config:
            ctx.warn(entry, f"{key}.{name} is not applied: {what}")


def _pairs(node: Mapping[str, Any], at: Where, key: str, name: str, value: str) -> dict[str, str]:
    """``node[key]``, a list of ``{name: ..., value: ...}`` (a processor's ``Parameters``,
    an endpoint's ``CommonAttributes``), as a mapping."""
    raw = node.get(key, [])
    lat = at.key(node, key)
    out: dict[str, str] = {}
    for i, item in enumerate(as_list(raw, lat)):
        iat = lat.index(raw, i)
        pair = as_map(item, iat)
        check_keys(pair, iat, (name, value), required=(name, value))
        out[as_str(pair[name], iat.key(pair, name))] = as_str(pair[value], iat.key(pair, value))
    return out


def _logging(config: Mapping[str, Any], at: Where) -> tuple[str | None, str | None]:
    """``CloudWatchLoggingOptions``: the group and stream delivery errors are written
    to, when enabled."""
    if "CloudWatchLoggingOptions" not in config:
        return None, None
    lat = at.key(config, "CloudWatchLoggingOptions")
    node = as_map(config["CloudWatchLoggingOptions"], lat)
    check_keys(node, lat, ("Enabled", "LogGroupName", "LogStreamName"))
    enabled = node.get("Enabled", False)
    if not (enabled is True or (isinstance(enabled, str) and enabled.lower() == "true")):
        return None, None
    group = node.get("LogGroupName")
    if group is None:
        return None, None
    stream = node.get("LogStreamName")
    return as_str(group, lat.key(node, "LogGroupName")), (
        as_str(stream, lat.key(node, "LogStreamName")) if stream is not None else None
    )


__all__ = ["DELIVERY_STREAM", "build_delivery_streams", "delivery_stream_arns"]
