"""Kinesis streams and functions' Kinesis events: specs, Ref and GetAtt, defaults, Lambda's
checks of an event source mapping, and warnings for what canaria does not apply."""

from __future__ import annotations

from pathlib import Path

from canaria.models import StartingPosition, StreamEventSource, StreamSpec
from canaria.template import load
from tests.unit.template.template_helpers import fails, function, line_of, resources, write

ARN = "arn:aws:kinesis:us-east-1:123456789012:stream"


def stream(name: str = "Clicks", props: str = "ShardCount: 2") -> str:
    body = "".join(f"      {line}\n" for line in props.splitlines())
    return f"  {name}:\n    Type: AWS::Kinesis::Stream\n    Properties:\n{body}"


def kinesis_event(props: str) -> str:
    body = "".join(f"      {line}\n" for line in props.splitlines())
    return f"Events:\n  Read:\n    Type: Kinesis\n    Properties:\n{body}"


def test_a_stream_is_provisioned_named_and_referenced(tmp_path: Path) -> None:
    env = "Environment:\n  Variables:\n    NAME: !Ref Clicks\n    ARN: !GetAtt Clicks.Arn\n"
    app = load(
        write(
            tmp_path,
            resources(
                function(extra=env),
                stream(props="Name: clicks\nShardCount: 2\nRetentionPeriodHours: 48"),
                stream("Orders", "StreamModeDetails: {StreamMode: ON_DEMAND}"),
                stream("Plain", "Tags: [{Key: team, Value: web}]"),
            ),
        )
    )
    assert app.services["Clicks"] == StreamSpec("Clicks", "clicks", 2, 48)
    assert app.services["Orders"] == StreamSpec("Orders", app.services["Orders"].name, None)
    assert app.services["Plain"] == StreamSpec("Plain", "app-Plain", 1, 24, {"team": "web"})
    assert app.functions["Fn"].config.environment == {"NAME": "clicks", "ARN": f"{ARN}/clicks"}


def test_bad_stream_properties_are_named(tmp_path: Path) -> None:
    err = fails(write(tmp_path, resources(function(), stream(props="ShardCount: 0"))))
    assert err.prop == "Resources.Clicks.Properties.ShardCount"
    both = "ShardCount: 1\nStreamModeDetails: {StreamMode: ON_DEMAND}"
    err = fails(write(tmp_path, resources(function(), stream(props=both))))
    assert "ON_DEMAND" in err.message
    err = fails(write(tmp_path, resources(function(), stream(props="Shards: 1"))))
    assert err.prop == "Resources.Clicks.Properties.Shards" and err.allowed
    assert "ShardCount" in err.allowed


def test_a_kinesis_event_reads_the_stream_with_lambdas_defaults(tmp_path: Path) -> None:
    # an empty DestinationConfig is none (SAM's own tests write one)
    event = kinesis_event(
        "Stream: !GetAtt Clicks.Arn\nStartingPosition: TRIM_HORIZON\nDestinationConfig:"
    )
    app = load(write(tmp_path, resources(function(extra=event), stream(props="Name: clicks"))))
    assert app.event_sources == (
        StreamEventSource("Fn", "Read", "clicks", f"{ARN}/clicks", StartingPosition.TRIM_HORIZON),
    )
    assert not [w for w in app.warnings if "Kinesis" in w]


def test_every_setting_of_a_kinesis_event(tmp_path: Path) -> None:
    event = kinesis_event(
        "Stream: !GetAtt Clicks.Arn\n"
        "StartingPosition: AT_TIMESTAMP\n"
        "StartingPositionTimestamp: 1700000000\n"
        "BatchSize: 7\n"
        "MaximumBatchingWindowInSeconds: 2\n"
        "BisectBatchOnFunctionError: true\n"
        "MaximumRetryAttempts: 3\n"
        "MaximumRecordAgeInSeconds: 120\n"
        "FunctionResponseTypes: [ReportBatchItemFailures]\n"
        "DestinationConfig: {OnFailure: {Type: SQS, Destination: !GetAtt Failed.Arn}}\n"
        'FilterCriteria: {Filters: [{Pattern: \'{"data": {"kind": ["click"]}}\'}]}\n'
        "ParallelizationFactor: 4\n"
        "Enabled: false"
    )
    queue = "  Failed:\n    Type: AWS::SQS::Queue\n    Properties: {QueueName: failed}\n"
    app = load(write(tmp_path, resources(function(extra=event), stream(props="Name: c"), queue)))
    (source,) = app.event_sources
    assert isinstance(source, StreamEventSource)
    assert (source.starting_position, source.starting_timestamp) == (
        StartingPosition.AT_TIMESTAMP,
        1_700_000_000.0,
    )
    assert (source.batch_size, source.max_batching_window_s, source.enabled) == (7, 2, False)
    assert source.bisect_on_error and source.report_batch_item_failures
    assert (source.max_retry_attempts, source.max_record_age_s) == (3, 120)
    assert source.on_failure == "arn:aws:sqs:us-east-1:123456789012:failed"
    assert source.filters == ('{"data": {"kind": ["click"]}}',)
    (warning,) = [w for w in app.warnings if "ParallelizationFactor" in w]
    assert "one batch in flight" in warning


def test_lambdas_checks_of_a_kinesis_event(tmp_path: Path) -> None:
    base = "Stream: !GetAtt Clicks.Arn\n"
    cases = {
        "": "Read.Properties",  # StartingPosition is required
        "StartingPosition: OLDEST": "StartingPosition",
        "StartingPosition: AT_TIMESTAMP": "StartingPositionTimestamp",
        "StartingPosition: LATEST\nBatchSize: 10001": "BatchSize",
        "StartingPosition: LATEST\nMaximumRecordAgeInSeconds: 30": "MaximumRecordAgeInSeconds",
        "StartingPosition: LATEST\nMaximumRetryAttempts: -2": "MaximumRetryAttempts",
        "StartingPosition: LATEST\nFunctionResponseTypes: [Partial]": "FunctionResponseTypes",
        "StartingPosition: LATEST\nTumblingWindow: 5": "TumblingWindow",
    }
    for props, where in cases.items():
        path = write(tmp_path, resources(function(extra=kinesis_event(base + props)), stream()))
        err = fails(path)
        assert err.prop is not None and err.prop.endswith(where), (props, err.prop)
        assert err.line is not None and err.line >= line_of(path, "Type: Kinesis")


def test_a_stream_the_template_does_not_declare_is_a_warning(tmp_path: Path) -> None:
    elsewhere = f"Stream: {ARN}/elsewhere\nStartingPosition: LATEST"
    gone = (
        "Stream: !GetAtt Clicks.Arn\nStartingPosition: LATEST\n"
        "DestinationConfig: {OnFailure: {Destination: arn:aws:sqs:us-east-1:1:gone}}"
    )
    fn = function(extra=kinesis_event(elsewhere)) + function("Other", kinesis_event(gone))
    app = load(write(tmp_path, resources(fn, stream())))
    assert [s.function for s in app.event_sources] == ["Other"]
    assert any("is not read" in w and "elsewhere" in w for w in app.warnings)
    assert any("OnFailure destination" in w and "gone" in w for w in app.warnings)
    assert app.event_sources[0].on_failure is None  # type: ignore[union-attr]


def test_an_enhanced_fan_out_consumers_event_reads_its_stream(tmp_path: Path) -> None:
    consumer = (
        "  Fanout:\n    Type: AWS::Kinesis::StreamConsumer\n"
        "    Properties: {StreamARN: !GetAtt Clicks.Arn, ConsumerName: app-reader}\n"
    )
    event = kinesis_event("Stream: !GetAtt Fanout.ConsumerARN\nStartingPosition: LATEST")
    env = "Environment:\n  Variables:\n    CONSUMER: !Ref Fanout\n"
    fn = function(extra=env + event)
    app = load(write(tmp_path, resources(fn, stream(props="Name: clicks"), consumer)))
    (source,) = app.event_sources
    assert isinstance(source, StreamEventSource) and source.stream_name == "clicks"
    consumer_arn = app.functions["Fn"].config.environment["CONSUMER"]
    assert consumer_arn.startswith(f"{ARN}/clicks/consumer/app-reader:")
    assert not app.skipped
    bad = consumer.replace("ConsumerName: app-reader", "Name: x")
    err = fails(write(tmp_path, resources(function(), stream(), bad)))
    assert err.prop is not None and err.prop.startswith("Resources.Fanout.Properties")


def table(name: str = "Orders", stream_spec: str = "{StreamViewType: NEW_IMAGE}") -> str:
    spec = f"      StreamSpecification: {stream_spec}\n" if stream_spec else ""
    return (
        f"  {name}:\n    Type: AWS::DynamoDB::Table\n    Properties:\n"
        "      BillingMode: PAY_PER_REQUEST\n"
        "      AttributeDefinitions: [{AttributeName: id, AttributeType: S}]\n"
        "      KeySchema: [{AttributeName: id, KeyType: HASH}]\n" + spec
    )


def dynamodb_event(props: str) -> str:
    body = "".join(f"      {line}\n" for line in props.splitlines())
    return f"Events:\n  Changes:\n    Type: DynamoDB\n    Properties:\n{body}"


TABLE_STREAM = "arn:aws:dynamodb:us-east-1:123456789012:table/app-Orders/stream/"


def test_a_dynamodb_event_reads_its_tables_stream(tmp_path: Path) -> None:
    event = dynamodb_event(
        "Stream: !GetAtt Orders.StreamArn\nStartingPosition: LATEST\nBatchSize: 5\n"
        'FilterCriteria: {Filters: [{Pattern: \'{"eventName": ["INSERT"]}\'}]}'
    )
    app = load(write(tmp_path, resources(function(extra=event), table())))
    (source,) = app.event_sources
    assert isinstance(source, StreamEventSource)
    assert source.kind == "dynamodb" and source.stream_name == "app-Orders"
    assert source.stream_arn.startswith(TABLE_STREAM)
    assert source.starting_position is StartingPosition.LATEST and source.batch_size == 5
    assert source.filters == ('{"eventName": ["INSERT"]}',)
    assert not [w for w in app.warnings if "DynamoDB" in w]
    # a literal ARN of the same table reads it too
    literal = dynamodb_event(
        f"Stream: {TABLE_STREAM}2024-01-01T00:00:00.000\nStartingPosition: LATEST"
    )
    again = load(write(tmp_path, resources(function(extra=literal), table())))
    assert [s.stream_name for s in again.event_sources] == ["app-Orders"]  # type: ignore[union-attr]


def test_a_dynamodb_event_is_checked_as_lambda_checks_it(tmp_path: Path) -> None:
    # a table without a stream has none to read
    event = dynamodb_event("Stream: !GetAtt Orders.StreamArn\nStartingPosition: LATEST")
    path = write(tmp_path, resources(function(extra=event), table(stream_spec="")))
    err = fails(path)
    assert "has no stream" in err.message and "StreamSpecification" in err.message
    assert err.prop is not None and err.prop.endswith("Events.Changes.Properties.Stream")
    assert f"template.yaml:{line_of(path, 'Stream: !GetAtt')}:" in str(err)
    # DynamoDB streams have no AT_TIMESTAMP
    event = dynamodb_event("Stream: !GetAtt Orders.StreamArn\nStartingPosition: AT_TIMESTAMP")
    err = fails(write(tmp_path, resources(function(extra=event), table())))
    assert "DynamoDB" in err.message and err.allowed == "TRIM_HORIZON, LATEST"
    # another account's table: nothing here writes to it
    other = "arn:aws:dynamodb:us-east-1:999999999999:table/theirs/stream/2024-01-01T00:00:00.000"
    event = dynamodb_event(f"Stream: {other}\nStartingPosition: LATEST")
    app = load(write(tmp_path, resources(function(extra=event), table())))
    assert app.event_sources == ()
    assert any("Changes (DynamoDB) is not read" in w for w in app.warnings)


def pipe(props: str) -> str:
    body = "".join(f"      {line}\n" for line in props.splitlines())
    return f"  Pipe:\n    Type: AWS::Pipes::Pipe\n    Properties:\n{body}"


QUEUE = "  Inbox:\n    Type: AWS::SQS::Queue\n"


def test_a_pipe_reads_its_source_as_an_event_source(tmp_path: Path) -> None:
    from canaria.models import QueueEventSource

    props = (
        "RoleArn: r\nSource: !GetAtt Inbox.Arn\nTarget: !GetAtt Fn.Arn\n"
        "SourceParameters: {SqsQueueParameters: {BatchSize: 5}}\n"
        "TargetParameters: {LambdaFunctionParameters: {InvocationType: FIRE_AND_FORGET}}"
    )
    app = load(write(tmp_path, resources(function(), QUEUE, pipe(props))))
    spec = app.pipes["Pipe"]
    assert spec.source_kind == "aws:sqs" and spec.name == "app-Pipe"
    assert spec.target.kind == "function" and spec.target.name == "Fn"
    assert spec.target.fire_and_forget
    (source,) = app.event_sources
    assert isinstance(source, QueueEventSource)
    assert source.function == "Pipe" and source.batch_size == 5
    # a table's stream: its parameters are required
    streamed = pipe("RoleArn: r\nSource: !GetAtt Orders.StreamArn\nTarget: !GetAtt Fn.Arn")
    err = fails(write(tmp_path, resources(function(), table(), streamed)))
    assert "DynamoDBStreamParameters" in err.message


def test_a_pipe_canaria_cannot_run_is_a_warning_and_not_run(tmp_path: Path) -> None:
    batch = "arn:aws:batch:us-east-1:123456789012:job-queue/x"
    props = f"RoleArn: r\nSource: !GetAtt Inbox.Arn\nTarget: {batch}"
    app = load(write(tmp_path, resources(function(), QUEUE, pipe(props))))
    assert app.pipes == {} and app.event_sources == ()
    assert any("the pipe is not run: its target" in w for w in app.warnings)
    stopped = "RoleArn: r\nDesiredState: STOPPED\nSource: !GetAtt Inbox.Arn\nTarget: !GetAtt Fn.Arn"
    app = load(write(tmp_path, resources(function(), QUEUE, pipe(stopped))))
    assert app.pipes == {} and any("STOPPED" in w for w in app.warnings)


def mapping(props: str) -> str:
    body = "".join(f"      {line}\n" for line in props.splitlines())
    return f"  Mapping:\n    Type: AWS::Lambda::EventSourceMapping\n    Properties:\n{body}"


def test_an_event_source_mapping_is_read_as_the_event_it_declares(tmp_path: Path) -> None:
    from canaria.models import QueueEventSource

    queue = mapping("FunctionName: !Ref Fn\nEventSourceArn: !GetAtt Inbox.Arn\nBatchSize: 4")
    app = load(write(tmp_path, resources(function(), QUEUE, queue)))
    (source,) = app.event_sources
    assert isinstance(source, QueueEventSource)
    assert (source.function, source.event, source.batch_size) == ("Fn", "Mapping", 4)
    changes = mapping(
        "FunctionName: !GetAtt Fn.Arn\nEventSourceArn: !GetAtt Orders.StreamArn\n"
        "StartingPosition: TRIM_HORIZON\nMaximumRetryAttempts: 2"
    )
    app = load(write(tmp_path, resources(function(), table(), changes)))
    (source,) = app.event_sources
    assert isinstance(source, StreamEventSource)
    assert source.kind == "dynamodb" and source.max_retry_attempts == 2
    # Lambda's checks, at the mapping's own properties
    no_position = mapping("FunctionName: Fn\nEventSourceArn: !GetAtt Orders.StreamArn")
    err = fails(write(tmp_path, resources(function(), table(), no_position)))
    assert err.prop == "Resources.Mapping.Properties.StartingPosition"
    wrong = mapping("FunctionName: Fn\nEventSourceArn: !GetAtt Inbox.Arn\nStartingPosition: LATEST")
    err = fails(write(tmp_path, resources(function(), QUEUE, wrong)))
    assert "StartingPosition is not a setting of a queue's" in err.message
    # another function's, or Kafka's: a warning
    other = mapping("FunctionName: elsewhere\nEventSourceArn: !GetAtt Inbox.Arn")
    app = load(write(tmp_path, resources(function(), QUEUE, other)))
    assert app.event_sources == () and any("not a function of this" in w for w in app.warnings)
