"""Firehose delivery streams in a template: specs, names, Ref and GetAtt, a Kinesis
source's reader, processors, refusals at their line, and warnings for what canaria does
not run."""

from __future__ import annotations

from pathlib import Path

from canaria.models import StartingPosition, StreamEventSource
from canaria.models.firehose import Buffering, HttpDestination, Processor, S3Destination
from canaria.template import load
from tests.unit.template.template_helpers import fails, function, line_of, resources, write

ARN = "arn:aws:firehose:us-east-1:123456789012:deliverystream"
BUCKET = "  Landing:\n    Type: AWS::S3::Bucket\n    Properties: {BucketName: landing}\n"


def delivery(name: str = "Hose", props: str = "") -> str:
    body = "".join(f"      {line}\n" for line in props.splitlines())
    return f"  {name}:\n    Type: AWS::KinesisFirehose::DeliveryStream\n    Properties:\n{body}"


S3 = "ExtendedS3DestinationConfiguration:\n  BucketARN: !GetAtt Landing.Arn\n"


def test_a_stream_is_named_referenced_and_written_to_its_bucket(tmp_path: Path) -> None:
    env = "Environment:\n  Variables:\n    NAME: !Ref Hose\n    ARN: !GetAtt Hose.Arn\n"
    props = (
        S3 + "  Prefix: raw/\n  ErrorOutputPrefix: 'bad/!{firehose:error-output-type}/'\n"
        "  CompressionFormat: GZIP\n  BufferingHints: {SizeInMBs: 2, IntervalInSeconds: 30}\n"
        "  CustomTimeZone: Asia/Tokyo\n"
        "  ProcessingConfiguration:\n    Enabled: true\n    Processors:\n"
        "      - Type: Lambda\n        Parameters:\n"
        "          - {ParameterName: LambdaArn, ParameterValue: !Sub '${Fn.Arn}:live'}\n"
        "          - {ParameterName: NumberOfRetries, ParameterValue: '5'}\n"
        "      - {Type: AppendDelimiterToRecord}\n"
    )
    app = load(
        write(
            tmp_path,
            resources(function(extra=env), BUCKET, delivery(props=props), delivery("Plain", S3)),
        )
    )
    spec = app.delivery_streams["Hose"]
    assert spec.name == "app-Hose" and spec.arn == f"{ARN}/app-Hose"
    assert spec.source == "DirectPut" and spec.kinesis_arn is None
    assert spec.destination == S3Destination(
        "landing",
        "raw/",
        "bad/!{firehose:error-output-type}/",
        Buffering(2, 30),
        "GZIP",
        None,
        "Asia/Tokyo",
    )
    assert spec.processor == Processor(
        "Fn",
        "live",
        "arn:aws:lambda:us-east-1:123456789012:function:Fn:live",
        5,
        steps=(("AppendDelimiterToRecord", "\\n"),),
    )
    assert app.functions["Fn"].config.environment == {"NAME": "app-Hose", "ARN": f"{ARN}/app-Hose"}
    assert app.delivery_streams["Plain"].buffering == Buffering(5, 300)  # Firehose's defaults
    assert not any("DeliveryStream is skipped" in w for w in app.warnings)


def test_a_kinesis_sourced_stream_reads_its_stream_from_latest(tmp_path: Path) -> None:
    kinesis = "  Clicks:\n    Type: AWS::Kinesis::Stream\n    Properties: {Name: clicks}\n"
    props = (
        "DeliveryStreamName: from-clicks\nDeliveryStreamType: KinesisStreamAsSource\n"
        "KinesisStreamSourceConfiguration:\n  KinesisStreamARN: !GetAtt Clicks.Arn\n"
        "  RoleARN: arn:aws:iam::123456789012:role/r\n" + S3
    )
    app = load(write(tmp_path, resources(function(), BUCKET, kinesis, delivery(props=props))))
    [source] = [s for s in app.event_sources if s.function == "Hose"]
    assert isinstance(source, StreamEventSource)
    assert source.stream_name == "clicks"
    assert source.starting_position is StartingPosition.LATEST
    assert (
        app.delivery_streams["Hose"].kinesis_arn
        == "arn:aws:kinesis:us-east-1:123456789012:stream/clicks"
    )


def test_an_http_endpoint_and_its_backup(tmp_path: Path) -> None:
    props = (
        "HttpEndpointDestinationConfiguration:\n"
        "  EndpointConfiguration: {Url: 'https://example.com/in', AccessKey: k, Name: ex}\n"
        "  RequestConfiguration:\n    ContentEncoding: GZIP\n"
        "    CommonAttributes: [{AttributeName: a, AttributeValue: b}]\n"
        "  RetryOptions: {DurationInSeconds: 60}\n  S3BackupMode: AllData\n"
        "  S3Configuration:\n    BucketARN: !GetAtt Landing.Arn\n    ErrorOutputPrefix: failed/\n"
    )
    app = load(write(tmp_path, resources(function(), BUCKET, delivery(props=props))))
    destination = app.delivery_streams["Hose"].destination
    assert isinstance(destination, HttpDestination)
    assert (destination.url, destination.access_key, destination.gzip) == (
        "https://example.com/in",
        "k",
        True,
    )
    assert destination.common_attributes == {"a": "b"} and destination.retry_s == 60
    assert destination.backup_all and destination.backup is not None
    assert destination.backup.error_prefix == "failed/"


def test_refusals_name_the_property(tmp_path: Path) -> None:
    two = S3 + "S3DestinationConfiguration:\n  BucketARN: !GetAtt Landing.Arn\n"
    err = fails(write(tmp_path, resources(function(), BUCKET, delivery(props=two))))
    assert "exactly one destination" in err.message
    path = write(
        tmp_path, resources(function(), BUCKET, delivery(props="DeliveryStreamName: 'a b'\n" + S3))
    )
    err = fails(path)
    assert err.prop == "Resources.Hose.Properties.DeliveryStreamName"
    assert err.line == line_of(path, "DeliveryStreamName:")
    expression = S3 + "  Prefix: 'x/!{timestamp:yyyy}/'\n"
    err = fails(write(tmp_path, resources(function(), BUCKET, delivery(props=expression))))
    assert "needs an ErrorOutputPrefix" in err.message
    unknown = S3 + "  Prefix: 'x/!{nope:a}/'\n  ErrorOutputPrefix: e/\n"
    err = fails(write(tmp_path, resources(function(), BUCKET, delivery(props=unknown))))
    assert "unknown expression !{nope:a}" in err.message
    size = (
        S3 + "  ProcessingConfiguration:\n    Processors:\n      - Type: Lambda\n"
        "        Parameters:\n"
        "          - {ParameterName: LambdaArn, ParameterValue: !GetAtt Fn.Arn}\n"
        "          - {ParameterName: BufferSizeInMBs, ParameterValue: '9'}\n"
    )
    err = fails(write(tmp_path, resources(function(), BUCKET, delivery(props=size))))
    assert "BufferSizeInMBs 9 is out of range" in err.message
    hints = S3 + "  BufferingHints: {SizeInMBs: 200}\n"
    err = fails(write(tmp_path, resources(function(), BUCKET, delivery(props=hints))))
    assert err.prop.endswith("BufferingHints.SizeInMBs")


def test_what_canaria_does_not_run_is_a_warning(tmp_path: Path) -> None:
    opensearch = (
        "AmazonOpenSearchServerlessDestinationConfiguration:\n  IndexName: i\n"
        "  S3Configuration: {BucketARN: !GetAtt Landing.Arn}\n"
    )
    elsewhere = "ExtendedS3DestinationConfiguration:\n  BucketARN: arn:aws:s3:::not-mine\n"
    outside = (
        S3 + "  ProcessingConfiguration:\n    Processors:\n      - Type: Lambda\n"
        "        Parameters:\n          - {ParameterName: LambdaArn, ParameterValue: "
        "arn:aws:lambda:us-east-1:123456789012:function:other}\n"
    )
    app = load(
        write(
            tmp_path,
            resources(
                function(),
                BUCKET,
                delivery("Search", opensearch),
                delivery("Elsewhere", elsewhere),
                delivery("Outside", outside),
            ),
        )
    )
    text = "\n".join(app.warnings)
    assert "does not run AmazonOpenSearchServerless destinations" in text
    assert "not-mine is not a bucket of this template" in text
    assert "function:other is not a function of this template" in text
    assert app.delivery_streams["Search"].destination is None
    assert app.delivery_streams["Outside"].processor == Processor(
        None, None, "arn:aws:lambda:us-east-1:123456789012:function:other"
    )


def test_a_log_subscription_filter_may_deliver_to_a_delivery_stream(tmp_path: Path) -> None:
    subscription = (
        "  Archive:\n    Type: AWS::Logs::SubscriptionFilter\n    Properties:\n"
        "      LogGroupName: /aws/lambda/Fn\n      FilterPattern: ''\n"
        "      DestinationArn: !GetAtt Hose.Arn\n"
    )
    app = load(write(tmp_path, resources(function(), BUCKET, delivery(props=S3), subscription)))
    [spec] = app.log_subscriptions
    assert (spec.source, spec.destination, spec.delivery_stream) == ("Fn", "", f"{ARN}/app-Hose")
