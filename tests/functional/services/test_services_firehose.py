"""Firehose delivery streams through a real `canaria up`: records put with boto3's
Firehose client, read from a Kinesis stream, published to a topic and matched by a rule
reach their bucket, through a Python or a Node.js Lambda processor, as Firehose writes
them (buffered on the platform's clock, objects named by their prefix, GZIP); failed
records land under the error prefix; an HTTP endpoint gets Firehose's request (the
template's own API behind its authorizer, a server of the test's) and what it refuses
goes to the S3 backup; stopping canaria writes what the buffers hold."""

from __future__ import annotations

import base64
import gzip
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.functional.harness import Canaria, eventually, wait_until, write_app

TEMPLATE = """\
Transform: AWS::Serverless-2016-10-31
Parameters:
  Outside: {Type: String}
Resources:
  Landing:
    Type: AWS::S3::Bucket
    Properties: {BucketName: landing}
  Upper:
    Type: AWS::Serverless::Function
    Properties: {Runtime: python3.11, Handler: upper.handler, CodeUri: src/}
  Crashing:
    Type: AWS::Serverless::Function
    Properties: {Runtime: python3.11, Handler: upper.crash, CodeUri: src/}
  Identity:
    Type: AWS::Serverless::Function
    Properties: {Runtime: nodejs20.x, Handler: index.handler, CodeUri: node/}
  Receiver:
    Type: AWS::Serverless::Function
    Properties:
      Runtime: python3.11
      Handler: upper.receive
      CodeUri: src/
      Events:
        Ingest:
          Type: Api
          Properties: {Path: /ingest, Method: POST, RestApiId: !Ref Ingest}
  Ingest:
    Type: AWS::Serverless::Api
    Properties: {StageName: dev}
  Collect:
    Type: AWS::Serverless::Api
    Properties:
      StageName: v1
      DefinitionBody:
        openapi: "3.0.1"
        info: {title: collect, version: "1"}
        paths:
          /events:
            post:
              x-amazon-apigateway-integration:
                type: aws
                httpMethod: POST
                uri: arn:aws:apigateway:us-east-1:firehose:action/PutRecord
                credentials: arn:aws:iam::123456789012:role/apigw
                requestTemplates:
                  application/json: >-
                    {"DeliveryStreamName": "orders",
                     "Record": {"Data": "$util.base64Encode($input.body)"}}
                responses: {default: {statusCode: "200"}}
  Direct:
    Type: AWS::KinesisFirehose::DeliveryStream
    Properties:
      DeliveryStreamName: direct
      ExtendedS3DestinationConfiguration:
        BucketARN: !GetAtt Landing.Arn
        RoleARN: arn:aws:iam::123456789012:role/firehose
        Prefix: direct/
        BufferingHints: {IntervalInSeconds: 60, SizeInMBs: 1}
        CloudWatchLoggingOptions:
          Enabled: true
          LogGroupName: /aws/kinesisfirehose/direct
          LogStreamName: DestinationDelivery
        ProcessingConfiguration:
          Enabled: true
          Processors:
            - Type: Lambda
              Parameters:
                - {ParameterName: LambdaArn, ParameterValue: !GetAtt Upper.Arn}
            - Type: AppendDelimiterToRecord
  Broken:
    Type: AWS::KinesisFirehose::DeliveryStream
    Properties:
      DeliveryStreamName: broken
      ExtendedS3DestinationConfiguration:
        BucketARN: !GetAtt Landing.Arn
        Prefix: broken/
        ErrorOutputPrefix: "errors/!{firehose:error-output-type}/!{timestamp:yyyy}/"
        BufferingHints: {IntervalInSeconds: 0, SizeInMBs: 1}
        ProcessingConfiguration:
          Enabled: true
          Processors:
            - Type: Lambda
              Parameters:
                - {ParameterName: LambdaArn, ParameterValue: !GetAtt Crashing.Arn}
                - {ParameterName: NumberOfRetries, ParameterValue: "1"}
  FromNode:
    Type: AWS::KinesisFirehose::DeliveryStream
    Properties:
      DeliveryStreamName: from-node
      ExtendedS3DestinationConfiguration:
        BucketARN: !GetAtt Landing.Arn
        Prefix: "node/year=!{timestamp:yyyy}/"
        ErrorOutputPrefix: "node-errors/!{firehose:error-output-type}/"
        CompressionFormat: GZIP
        BufferingHints: {IntervalInSeconds: 0, SizeInMBs: 1}
        ProcessingConfiguration:
          Enabled: true
          Processors:
            - Type: Lambda
              Parameters:
                - {ParameterName: LambdaArn, ParameterValue: !GetAtt Identity.Arn}
  Clicks:
    Type: AWS::Kinesis::Stream
    Properties: {Name: clicks, ShardCount: 1}
  FromClicks:
    Type: AWS::KinesisFirehose::DeliveryStream
    Properties:
      DeliveryStreamName: from-clicks
      DeliveryStreamType: KinesisStreamAsSource
      KinesisStreamSourceConfiguration:
        KinesisStreamARN: !GetAtt Clicks.Arn
        RoleARN: arn:aws:iam::123456789012:role/firehose
      S3DestinationConfiguration:
        BucketARN: !GetAtt Landing.Arn
        Prefix: clicks/
        BufferingHints: {IntervalInSeconds: 0, SizeInMBs: 1}
  Notes:
    Type: AWS::SNS::Topic
  NotesArchive:
    Type: AWS::KinesisFirehose::DeliveryStream
    Properties:
      ExtendedS3DestinationConfiguration:
        BucketARN: !GetAtt Landing.Arn
        Prefix: notes/
        BufferingHints: {IntervalInSeconds: 0, SizeInMBs: 1}
  RawNotesArchive:
    Type: AWS::KinesisFirehose::DeliveryStream
    Properties:
      DeliveryStreamName: raw-notes
      ExtendedS3DestinationConfiguration:
        BucketARN: !GetAtt Landing.Arn
        Prefix: raw-notes/
        BufferingHints: {IntervalInSeconds: 0, SizeInMBs: 1}
  NotesToArchive:
    Type: AWS::SNS::Subscription
    Properties:
      Protocol: firehose
      TopicArn: !Ref Notes
      Endpoint: !GetAtt NotesArchive.Arn
      SubscriptionRoleArn: arn:aws:iam::123456789012:role/sns
  NotesToRawArchive:
    Type: AWS::SNS::Subscription
    Properties:
      Protocol: firehose
      TopicArn: !Ref Notes
      Endpoint: !GetAtt RawNotesArchive.Arn
      SubscriptionRoleArn: arn:aws:iam::123456789012:role/sns
      RawMessageDelivery: true
  Orders:
    Type: AWS::Events::Rule
    Properties:
      EventPattern: {source: [shop.orders]}
      Targets:
        - Id: Archive
          Arn: !GetAtt OrderArchive.Arn
          InputPath: $.detail
  OrderArchive:
    Type: AWS::KinesisFirehose::DeliveryStream
    Properties:
      DeliveryStreamName: orders
      ExtendedS3DestinationConfiguration:
        BucketARN: !GetAtt Landing.Arn
        Prefix: orders/
        BufferingHints: {IntervalInSeconds: 0, SizeInMBs: 1}
  ToOwnApi:
    Type: AWS::KinesisFirehose::DeliveryStream
    Properties:
      DeliveryStreamName: to-own-api
      HttpEndpointDestinationConfiguration:
        EndpointConfiguration:
          Url: !Sub https://${Ingest}.execute-api.${AWS::Region}.amazonaws.com/dev/ingest
          AccessKey: let-me-in
        BufferingHints: {IntervalInSeconds: 0, SizeInMBs: 1}
        RetryOptions: {DurationInSeconds: 0}
        S3Configuration:
          BucketARN: !GetAtt Landing.Arn
          ErrorOutputPrefix: own-api-failed/
  ToNowhere:
    Type: AWS::KinesisFirehose::DeliveryStream
    Properties:
      DeliveryStreamName: to-nowhere
      HttpEndpointDestinationConfiguration:
        EndpointConfiguration: {Url: "http://127.0.0.1:9/ingest"}
        BufferingHints: {IntervalInSeconds: 0, SizeInMBs: 1}
        RetryOptions: {DurationInSeconds: 0}
        S3Configuration:
          BucketARN: !GetAtt Landing.Arn
          ErrorOutputPrefix: nowhere/
  Jobs:
    Type: AWS::SQS::Queue
  JobPipe:
    Type: AWS::Pipes::Pipe
    Properties:
      RoleArn: arn:aws:iam::123456789012:role/pipe
      Source: !GetAtt Jobs.Arn
      Target: !GetAtt JobArchive.Arn
      TargetParameters:
        InputTemplate: '{"job": <$.body.id>}'
  JobArchive:
    Type: AWS::KinesisFirehose::DeliveryStream
    Properties:
      ExtendedS3DestinationConfiguration:
        BucketARN: !GetAtt Landing.Arn
        Prefix: jobs/
        BufferingHints: {IntervalInSeconds: 0, SizeInMBs: 1}
  Archiver:
    Type: AWS::Serverless::StateMachine
    Properties:
      Definition:
        StartAt: Put
        States:
          Put:
            Type: Task
            Resource: arn:aws:states:::aws-sdk:firehose:putRecord
            Parameters:
              DeliveryStreamName: orders
              Record: {"Data.$": "States.JsonToString($.order)"}
            End: true
  Talker:
    Type: AWS::Serverless::Function
    Properties: {Runtime: python3.11, Handler: upper.talk, CodeUri: src/}
  TalkerOrders:
    Type: AWS::Logs::SubscriptionFilter
    Properties:
      LogGroupName: /aws/lambda/Talker
      FilterPattern: ORDER
      DestinationArn: !GetAtt LogArchive.Arn
      RoleArn: arn:aws:iam::123456789012:role/logs
  LogArchive:
    Type: AWS::KinesisFirehose::DeliveryStream
    Properties:
      DeliveryStreamName: log-archive
      ExtendedS3DestinationConfiguration:
        BucketARN: !GetAtt Landing.Arn
        Prefix: logs/
        BufferingHints: {IntervalInSeconds: 0, SizeInMBs: 1}
        ProcessingConfiguration:
          Enabled: true
          Processors:
            - Type: Decompression
              Parameters: [{ParameterName: CompressionFormat, ParameterValue: GZIP}]
            - Type: CloudWatchLogProcessing
              Parameters: [{ParameterName: DataMessageExtraction, ParameterValue: "true"}]
  ToOutside:
    Type: AWS::KinesisFirehose::DeliveryStream
    Properties:
      DeliveryStreamName: to-outside
      HttpEndpointDestinationConfiguration:
        EndpointConfiguration: {Url: !Ref Outside, AccessKey: outside-key, Name: outside}
        BufferingHints: {IntervalInSeconds: 900, SizeInMBs: 1}
        RequestConfiguration:
          ContentEncoding: GZIP
          CommonAttributes: [{AttributeName: team, AttributeValue: data}]
        S3Configuration:
          BucketARN: !GetAtt Landing.Arn
"""

UPPER = """\
import base64
import json


def handler(event, context):
    out = []
    for record in event["records"]:
        text = base64.b64decode(record["data"]).decode()
        if text == "drop":
            out.append({"recordId": record["recordId"], "result": "Dropped"})
        elif text == "bad":
            out.append({"recordId": record["recordId"], "result": "ProcessingFailed",
                        "data": record["data"]})
        else:
            data = base64.b64encode(text.upper().encode()).decode()
            out.append({"recordId": record["recordId"], "result": "Ok", "data": data})
    return {"records": out}


def crash(event, context):
    raise RuntimeError("cannot transform")


def talk(event, context):
    print("noise")
    print("ORDER", event["n"])


def receive(event, context):
    if event["headers"].get("X-Amz-Firehose-Access-Key") != "let-me-in":
        return {"statusCode": 403, "body": "{}"}
    body = json.loads(event["body"])
    print("GOT", json.dumps([base64.b64decode(r["data"]).decode() for r in body["records"]]))
    return {"statusCode": 200, "body": json.dumps({"requestId": body["requestId"],
                                                   "timestamp": 0})}
"""

IDENTITY = """\
exports.handler = async (event) => ({
  records: event.records.map((r) => ({ recordId: r.recordId, result: 'Ok', data: r.data })),
});
"""


class Endpoint:
    """An HTTP endpoint of the test's own on loopback: it keeps what Firehose sends."""

    def __init__(self) -> None:
        self.requests: list[tuple[dict[str, str], bytes]] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                outer.requests.append((dict(self.headers), body))
                if self.headers.get("Content-Encoding") == "gzip":
                    body = gzip.decompress(body)
                reply = json.dumps({"requestId": json.loads(body)["requestId"], "timestamp": 1})
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(reply.encode())

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/collect"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture(scope="module")
def outside() -> Iterator[Endpoint]:
    endpoint = Endpoint()
    yield endpoint
    endpoint.close()


def start(tmp: Path, outside: Endpoint) -> Canaria:
    files = {
        "template.yaml": TEMPLATE,
        "src/upper.py": UPPER,
        "node/index.js": IDENTITY,
    }
    app = write_app(tmp / "app", files)
    return Canaria(
        app, tmp / "state", extra=("--parameter-overrides", f"Outside={outside.url}")
    ).start()


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory, outside: Endpoint) -> Iterator[Canaria]:
    c = start(tmp_path_factory.mktemp("firehose"), outside)
    yield c
    c.stop()


def objects(s3: Any, prefix: str) -> list[tuple[str, bytes]]:
    listed = s3.list_objects_v2(Bucket="landing", Prefix=prefix).get("Contents", [])
    return [
        (o["Key"], s3.get_object(Bucket="landing", Key=o["Key"])["Body"].read()) for o in listed
    ]


def wait_objects(s3: Any, prefix: str, count: int = 1) -> list[tuple[str, bytes]]:
    return wait_until(
        lambda: objects(s3, prefix), lambda found: len(found) >= count, f"objects under {prefix}"
    )


def test_records_wait_for_the_buffer_interval_then_go_through_the_processor(
    app: Canaria,
) -> None:
    firehose = app.aws("firehose")
    s3 = app.env_client("s3", "AWS_ENDPOINT_URL_S3")
    put = firehose.put_record(DeliveryStreamName="direct", Record={"Data": b"hello"})
    assert len(put["RecordId"]) >= 40 and put["Encrypted"] is False
    batch = firehose.put_record_batch(
        DeliveryStreamName="direct",
        Records=[{"Data": b"drop"}, {"Data": b"bad"}, {"Data": b"world"}],
    )
    assert batch["FailedPutCount"] == 0 and len(batch["RequestResponses"]) == 3
    assert objects(s3, "direct/") == []  # the interval has not passed
    app.advance(61)
    [(key, body)] = wait_objects(s3, "direct/")
    # Firehose's default time prefix after a plain prefix, then <stream>-1-<time>-<uuid>
    assert key.startswith("direct/") and "/direct-1-" in key
    assert len(key.removeprefix("direct/").split("/")) == 5
    assert body == b"HELLO\nWORLD\n"  # transformed, dropped, failed, delimited
    [(error_key, error_body)] = wait_objects(s3, "processing-failed/")
    assert error_key.startswith("processing-failed/20")
    failed = json.loads(error_body)
    assert failed["errorCode"] == "Lambda.ProcessingFailedStatus"
    assert base64.b64decode(failed["rawData"]) == b"bad"
    assert failed["lambdaArn"].endswith(":function:Upper")
    logs = app.aws("logs")
    lines = eventually(
        lambda: logs.filter_log_events(logGroupName="/aws/kinesisfirehose/direct")["events"],
        "the failure's log line",
    )
    assert lines[0]["logStreamName"] == "DestinationDelivery"
    assert json.loads(lines[0]["message"])["errorCode"] == "Lambda.ProcessingFailedStatus"


def test_a_crashing_processor_sends_its_batch_under_the_error_prefix(app: Canaria) -> None:
    firehose = app.aws("firehose")
    s3 = app.env_client("s3", "AWS_ENDPOINT_URL_S3")
    firehose.put_record_batch(
        DeliveryStreamName="broken", Records=[{"Data": b"one"}, {"Data": b"two"}]
    )
    [(key, body)] = wait_objects(s3, "errors/")
    assert key.startswith("errors/processing-failed/20")
    documents = [json.loads(line) for line in body.splitlines()]
    assert [base64.b64decode(d["rawData"]) for d in documents] == [b"one", b"two"]
    assert {d["errorCode"] for d in documents} == {"Lambda.FunctionError"}
    assert {d["attemptsMade"] for d in documents} == {2}  # NumberOfRetries: 1
    assert objects(s3, "broken/") == []


def test_a_nodejs_processor_and_a_gzip_object_with_a_timestamp_prefix(app: Canaria) -> None:
    s3 = app.env_client("s3", "AWS_ENDPOINT_URL_S3")
    app.aws("firehose").put_record_batch(
        DeliveryStreamName="from-node", Records=[{"Data": b"a,"}, {"Data": b"b"}]
    )
    [(key, body)] = wait_objects(s3, "node/")
    assert key.startswith("node/year=20") and key.endswith(".gz")
    assert gzip.decompress(body) == b"a,b"


def test_a_kinesis_stream_feeds_its_delivery_stream(app: Canaria) -> None:
    kinesis = app.env_client("kinesis", "AWS_ENDPOINT_URL_KINESIS")
    s3 = app.env_client("s3", "AWS_ENDPOINT_URL_S3")
    firehose = app.aws("firehose")
    described = firehose.describe_delivery_stream(DeliveryStreamName="from-clicks")
    description = described["DeliveryStreamDescription"]
    assert description["DeliveryStreamType"] == "KinesisStreamAsSource"
    assert description["Source"]["KinesisStreamSourceDescription"]["KinesisStreamARN"].endswith(
        ":stream/clicks"
    )

    # the reader starts at LATEST: keep putting until one reaches the bucket
    def sent() -> list[tuple[str, bytes]]:
        kinesis.put_record(StreamName="clicks", Data=b"click;", PartitionKey="k")
        return objects(s3, "clicks/")

    found = eventually(sent, "a click in the bucket")
    assert found[0][1].startswith(b"click;")
    with pytest.raises(ClientError) as info:
        firehose.put_record(DeliveryStreamName="from-clicks", Record={"Data": b"x"})
    assert info.value.response["Error"]["Code"] == "InvalidArgumentException"
    assert "KinesisStreamAsSource" in info.value.response["Error"]["Message"]


def test_a_topic_delivers_to_its_firehose_subscribers(app: Canaria) -> None:
    sns = app.env_client("sns", "AWS_ENDPOINT_URL_SNS")
    s3 = app.env_client("s3", "AWS_ENDPOINT_URL_S3")
    topic = next(t["TopicArn"] for t in sns.list_topics()["Topics"] if "Notes" in t["TopicArn"])
    sns.publish(TopicArn=topic, Message="note one", Subject="hi")
    [(_, body)] = wait_objects(s3, "notes/")
    envelope = json.loads(body)
    assert body.endswith(b"\n") and body.count(b"\n") == 1  # one line per notification
    assert envelope["Type"] == "Notification" and envelope["Message"] == "note one"
    assert envelope["Subject"] == "hi" and "Signature" not in envelope
    [(_, raw)] = wait_objects(s3, "raw-notes/")
    assert raw == b"note one\n"


def test_a_rule_puts_its_events_to_a_delivery_stream(app: Canaria) -> None:
    events = app.env_client("events", "AWS_ENDPOINT_URL_EVENTBRIDGE")
    s3 = app.env_client("s3", "AWS_ENDPOINT_URL_S3")
    events.put_events(
        Entries=[{"Source": "shop.orders", "DetailType": "placed", "Detail": '{"id": 7}'}]
    )
    [(_, body)] = wait_objects(s3, "orders/")
    assert json.loads(body) == {"id": 7}


def test_a_state_machine_puts_records_with_the_sdk_integration(app: Canaria) -> None:
    sfn = app.aws("stepfunctions")
    s3 = app.env_client("s3", "AWS_ENDPOINT_URL_S3")
    arn = next(m["stateMachineArn"] for m in sfn.list_state_machines()["stateMachines"])
    run = sfn.start_execution(stateMachineArn=arn, input='{"order": {"id": 9}}')
    done = wait_until(
        lambda: sfn.describe_execution(executionArn=run["executionArn"]),
        lambda d: d["status"] != "RUNNING",
        "the execution's end",
    )
    assert done["status"] == "SUCCEEDED", done
    assert "RecordId" in json.loads(done["output"])
    found = wait_until(
        lambda: objects(s3, "orders/"),
        lambda objs: any(b'{"id":9}' in data for _, data in objs),
        "the state machine's record",
    )
    assert found


def test_an_api_gateway_integration_puts_records(app: Canaria) -> None:
    s3 = app.env_client("s3", "AWS_ENDPOINT_URL_S3")
    status, _, body = app.http(
        "POST", "/v1/events", b'{"id": 8}', {"Content-Type": "application/json"}
    )
    assert status == 200 and b"RecordId" in body
    found = wait_until(
        lambda: objects(s3, "orders/"),
        lambda objs: any(b'{"id": 8}' in data for _, data in objs),
        "the integration's record",
    )
    assert found


def test_an_http_endpoint_gets_firehoses_request(app: Canaria) -> None:
    firehose = app.aws("firehose")
    s3 = app.env_client("s3", "AWS_ENDPOINT_URL_S3")
    firehose.put_record_batch(
        DeliveryStreamName="to-own-api", Records=[{"Data": b"r1"}, {"Data": b"r2"}]
    )
    got = eventually(
        lambda: [line for line in app.cli("logs", "Receiver").stdout.splitlines() if "GOT" in line],
        "the API's function's line",
    )
    assert got[0].endswith('GOT ["r1", "r2"]')
    assert objects(s3, "own-api-failed/") == []
    # an endpoint that cannot be reached: straight to the backup (no retry duration)
    firehose.put_record(DeliveryStreamName="to-nowhere", Record={"Data": b"lost?"})
    [(key, body)] = wait_objects(s3, "nowhere/")
    assert key.startswith("nowhere/http-endpoint-failed/")
    document = json.loads(body)
    assert base64.b64decode(document["rawData"]) == b"lost?"
    assert document["errorCode"] == "HttpEndpoint.RequestFailed"


def test_a_pipe_puts_its_records_to_a_delivery_stream(app: Canaria) -> None:
    sqs = app.env_client("sqs", "AWS_ENDPOINT_URL_SQS")
    s3 = app.env_client("s3", "AWS_ENDPOINT_URL_S3")
    url = next(u for u in sqs.list_queues()["QueueUrls"] if "Jobs" in u)
    sqs.send_message(QueueUrl=url, MessageBody='{"id": 41}')
    [(_, body)] = wait_objects(s3, "jobs/")
    assert json.loads(body) == {"job": 41}


def test_a_log_subscription_filter_archives_its_lines(app: Canaria) -> None:
    s3 = app.env_client("s3", "AWS_ENDPOINT_URL_S3")
    app.aws("lambda").invoke(FunctionName="Talker", Payload=b'{"n": 1}')
    [(_, body)] = wait_objects(s3, "logs/")
    assert body == b"ORDER 1\n"  # decompressed, its messages extracted, the noise filtered


def test_refusals_are_firehoses(app: Canaria) -> None:
    firehose = app.aws("firehose")
    with pytest.raises(ClientError) as info:
        firehose.put_record(DeliveryStreamName="nope", Record={"Data": b"x"})
    assert info.value.response["Error"]["Code"] == "ResourceNotFoundException"
    with pytest.raises(ClientError) as info:
        firehose.put_record(DeliveryStreamName="direct", Record={"Data": b"x" * 1_100_000})
    assert info.value.response["Error"]["Code"] == "InvalidArgumentException"
    with pytest.raises(ClientError) as info:
        firehose.put_record_batch(DeliveryStreamName="direct", Records=[{"Data": b"x"}] * 501)
    assert "at most 500" in info.value.response["Error"]["Message"]
    names = firehose.list_delivery_streams(Limit=3)
    assert names["DeliveryStreamNames"] == ["app-JobArchive", "app-NotesArchive", "broken"]
    assert names["HasMoreDeliveryStreams"] is True
    sourced = firehose.list_delivery_streams(DeliveryStreamType="KinesisStreamAsSource")
    assert sourced["DeliveryStreamNames"] == ["from-clicks"]
    with pytest.raises(ClientError) as info:
        firehose.list_delivery_streams(DeliveryStreamType="Kafka")
    assert info.value.response["Error"]["Code"] == "InvalidArgumentException"


def test_stopping_writes_what_the_buffers_hold(tmp_path: Path, outside: Endpoint) -> None:
    c = start(tmp_path, outside)
    try:
        c.aws("firehose").put_record_batch(
            DeliveryStreamName="to-outside", Records=[{"Data": b"late-1"}, {"Data": b"late-2"}]
        )
        assert outside.requests == []  # 900 s of buffering
    finally:
        c.stop()
    [(headers, body)] = outside.requests
    assert headers["Content-Encoding"] == "gzip"
    assert headers["X-Amz-Firehose-Access-Key"] == "outside-key"
    assert headers["X-Amz-Firehose-Protocol-Version"] == "1.0"
    assert headers["X-Amz-Firehose-Source-Arn"].endswith(":deliverystream/to-outside")
    assert json.loads(headers["X-Amz-Firehose-Common-Attributes"]) == {
        "commonAttributes": {"team": "data"}
    }
    request = json.loads(gzip.decompress(body))
    assert request["requestId"] == headers["X-Amz-Firehose-Request-Id"]
    assert [base64.b64decode(r["data"]) for r in request["records"]] == [b"late-1", b"late-2"]


KEPT = """\
Transform: AWS::Serverless-2016-10-31
Resources:
  Landing:
    Type: AWS::S3::Bucket
    Properties: {BucketName: kept}
  Slow:
    Type: AWS::KinesisFirehose::DeliveryStream
    Properties:
      DeliveryStreamName: slow
      ExtendedS3DestinationConfiguration:
        BucketARN: !GetAtt Landing.Arn
        BufferingHints: {IntervalInSeconds: 900, SizeInMBs: 1}
"""


def test_records_taken_before_a_kill_are_written_after_the_restart(tmp_path: Path) -> None:
    template = write_app(tmp_path / "app", {"template.yaml": KEPT})
    first = Canaria(template, tmp_path / "state").start()
    try:
        first.aws("firehose").put_record_batch(
            DeliveryStreamName="slow", Records=[{"Data": b"kept-1;"}, {"Data": b"kept-2;"}]
        )
    finally:
        first.kill()  # SIGKILL: 900 s of buffering, nothing written
    again = Canaria(template, tmp_path / "state").start()
    try:
        s3 = again.env_client("s3", "AWS_ENDPOINT_URL_S3")
        found = wait_until(
            lambda: s3.list_objects_v2(Bucket="kept").get("Contents", []),
            bool,
            "the records taken before the kill",
        )
        body = s3.get_object(Bucket="kept", Key=found[0]["Key"])["Body"].read()
        assert body == b"kept-1;kept-2;"
        spooled = tmp_path / "state" / "firehose"
        wait_until(lambda: list(spooled.glob("*.jsonl")), lambda left: not left, "the spool")
    finally:
        again.stop()
