"""A Kinesis application through a real `canaria up`: an API function puts records with
boto3 (its SDK pointed at canaria's services engine), the stream's consumer gets them as
Lambda's Kinesis event, through its alias, and a record it cannot process goes to the
OnFailure queue alone (the batch bisected) once its retries run out."""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.functional.harness import Canaria, write_app

PY = f"python{sys.version_info.major}.{sys.version_info.minor}"

TEMPLATE = f"""\
Transform: AWS::Serverless-2016-10-31
Globals:
  Function: {{Runtime: {PY}, CodeUri: src, Timeout: 10}}
Resources:
  Clicks:
    Type: AWS::Kinesis::Stream
    Properties: {{ShardCount: 2}}
  Failed:
    Type: AWS::SQS::Queue
  Producer:
    Type: AWS::Serverless::Function
    Properties:
      Handler: app.produce
      Environment: {{Variables: {{STREAM: !Ref Clicks}}}}
      Events:
        Put: {{Type: HttpApi, Properties: {{Path: /clicks, Method: POST}}}}
  NodeProducer:
    Type: AWS::Serverless::Function
    Properties:
      Runtime: nodejs20.x
      CodeUri: node
      Handler: index.produce
      Environment: {{Variables: {{STREAM: !Ref Clicks}}}}
      Events:
        Put: {{Type: HttpApi, Properties: {{Path: /node-clicks, Method: POST}}}}
  Consumer:
    Type: AWS::Serverless::Function
    Properties:
      Handler: app.consume
      AutoPublishAlias: live
      Events:
        Read:
          Type: Kinesis
          Properties:
            Stream: !GetAtt Clicks.Arn
            StartingPosition: TRIM_HORIZON
            BatchSize: 10
            BisectBatchOnFunctionError: true
            MaximumRetryAttempts: 1
            DestinationConfig:
              OnFailure: {{Type: SQS, Destination: !GetAtt Failed.Arn}}
"""

HANDLERS = """\
import base64, json, os
import boto3

def produce(event, context):
    kinesis = boto3.client("kinesis")
    body = json.loads(event["body"])
    for page in body["pages"]:
        kinesis.put_record(
            StreamName=os.environ["STREAM"],
            Data=json.dumps({"page": page}).encode(),
            PartitionKey=page,
        )
    return {"statusCode": 202, "body": json.dumps({"put": len(body["pages"])})}

def consume(event, context):
    for r in event["Records"]:
        page = json.loads(base64.b64decode(r["kinesis"]["data"]))["page"]
        if page == "/broken":
            raise ValueError("cannot count " + page)
        version = os.environ["AWS_LAMBDA_FUNCTION_VERSION"]
        print("COUNTED " + page + " " + r["eventSourceARN"] + " " + version)
"""


# the SDK v3 Kinesis client speaks HTTP/2 (h2c) to the services relay
NODE_PRODUCER = """\
const { KinesisClient, PutRecordCommand } = require('@aws-sdk/client-kinesis');
const kinesis = new KinesisClient();
exports.produce = async (event) => {
  const { pages } = JSON.parse(event.body);
  for (const page of pages) {
    await kinesis.send(new PutRecordCommand({
      StreamName: process.env.STREAM,
      PartitionKey: page,
      Data: Buffer.from(JSON.stringify({ page })),
    }));
  }
  return { statusCode: 202, body: JSON.stringify({ put: pages.length }) };
};
"""


@pytest.fixture
def app(tmp_path: Path) -> Iterator[Canaria]:
    files = {"template.yaml": TEMPLATE, "src/app.py": HANDLERS, "node/index.js": NODE_PRODUCER}
    root = write_app(tmp_path / "app", files)
    c = Canaria(root, tmp_path / "state").start()
    yield c
    c.stop()


def counted(c: Canaria) -> list[list[str]]:
    lines = c.api().get("/functions/Consumer/logs")["lines"]
    return [x["text"].split()[1:] for x in lines if x["text"].startswith("COUNTED ")]


def test_records_put_by_one_function_reach_the_streams_consumer(app: Canaria) -> None:
    # status says what feeds the consumer
    sources = app.status()["functions"]["Consumer"]["sources"]
    assert sources == [
        {"kind": "Kinesis", "event": "Read", "source": "app-Clicks", "enabled": True}
    ]
    shown = app.cli("status")
    assert shown.returncode == 0 and "Kinesis" in shown.stdout, shown.stdout
    assert "app-Clicks" in shown.stdout.replace("\n", ""), shown.stdout
    pages = ["/home", "/about", "/broken", "/pricing"]
    status, _, body = app.http("POST", "/clicks", json.dumps({"pages": pages}).encode())
    assert status == 202 and json.loads(body) == {"put": 4}
    deadline = time.monotonic() + 60
    while sorted(p for p, *_ in counted(app)) != ["/about", "/home", "/pricing"]:
        assert time.monotonic() < deadline, counted(app)
        time.sleep(0.2)
    arn = "arn:aws:kinesis:us-east-1:123456789012:stream/app-Clicks"
    assert all(rest == [arn, "1"] for _, *rest in counted(app))  # through live → version 1
    sqs = app.env_client("sqs", "AWS_ENDPOINT_URL_SQS")
    url = sqs.get_queue_url(QueueName="app-Failed")["QueueUrl"]
    messages = []
    while not messages:
        assert time.monotonic() < deadline
        messages = sqs.receive_message(QueueUrl=url, WaitTimeSeconds=1).get("Messages", [])
    failure = json.loads(messages[0]["Body"])
    assert failure["requestContext"]["condition"] == "RetryAttemptsExhausted"
    assert failure["requestContext"]["approximateInvokeCount"] == 2
    assert failure["KinesisBatchInfo"]["streamArn"] == arn
    # a Node.js producer with the SDK v3 client Lambda provides
    status, _, body = app.http("POST", "/node-clicks", json.dumps({"pages": ["/node"]}).encode())
    assert status == 202, body
    while "/node" not in [p for p, *_ in counted(app)]:
        assert time.monotonic() < deadline, counted(app)
        time.sleep(0.2)


CANARY_TEMPLATE = f"""\
Transform: AWS::Serverless-2016-10-31
Parameters:
  Mode: {{Type: String, Default: good}}
Resources:
  Clicks:
    Type: AWS::Kinesis::Stream
    Properties: {{Name: clicks, ShardCount: 1}}
  Consumer:
    Type: AWS::Serverless::Function
    Properties:
      Runtime: {PY}
      CodeUri: src
      Handler: app.consume
      AutoPublishAlias: live
      DeploymentPreference: {{Type: Canary10Percent5Minutes}}
      Environment: {{Variables: {{MODE: !Ref Mode}}}}
      Events:
        Read:
          Type: Kinesis
          Properties:
            Stream: !GetAtt Clicks.Arn
            StartingPosition: TRIM_HORIZON
            BatchSize: 1
"""

CANARY_HANDLER = """\
import base64, os

def consume(event, context):
    if os.environ["MODE"] == "broken":
        raise RuntimeError("the new parser rejects every record")
    for r in event["Records"]:
        n = base64.b64decode(r["kinesis"]["data"]).decode()
        print("COUNTED " + n + " " + os.environ["AWS_LAMBDA_FUNCTION_VERSION"])
"""


def test_a_consumers_bad_release_is_judged_on_its_batches_and_nothing_is_lost(
    tmp_path: Path,
) -> None:
    root = write_app(
        tmp_path / "app", {"template.yaml": CANARY_TEMPLATE, "src/app.py": CANARY_HANDLER}
    )
    c = Canaria(root, tmp_path / "state").start()
    try:
        r = c.cli("deploy", "-t", str(c.template), "--parameter-overrides", "Mode=broken", "--json")
        assert r.returncode == 0, r.stdout + r.stderr
        (deployment,) = json.loads(r.stdout)["deployments"]
        kinesis = c.env_client("kinesis", "AWS_ENDPOINT_URL_KINESIS")
        put = 0
        for _ in range(600):  # the canary step lasts 300 virtual seconds
            d = c.api().get(f"/deployments/{deployment['id']}")
            if d["completed"]:
                break
            if d["state"] == "AllowTraffic" and put < 200:
                for _ in range(10):
                    kinesis.put_record(
                        StreamName="clicks", Data=str(put).encode(), PartitionKey="k"
                    )
                    put += 1
                # the clock moves on only once these are counted (a failure on the
                # canary is tried again, through the alias): as many batches per
                # virtual second however loaded the machine is
                deadline = time.monotonic() + 60
                while len(counted(c)) < put:
                    assert time.monotonic() < deadline, (len(counted(c)), put)
                    time.sleep(0.05)
            c.advance(1)
        assert d["state"] == "Stopped" and d["rolled_back"], d
        assert d["stopped_by"].startswith("judge"), d
        assert c.alias("Consumer")["split"] == {"1": 1.0}
        # every record failed on the canary was tried again, through the alias, and
        # counted by the stable version: none lost, none out of order
        deadline = time.monotonic() + 60
        while len(counted(c)) < put:
            assert time.monotonic() < deadline, (len(counted(c)), put)
            time.sleep(0.2)
        numbers = [int(n) for n, _ in counted(c)]
        assert numbers == list(range(put))
        assert {v for _, v in counted(c)} == {"1"}
    finally:
        c.stop()


# a test or a script of the user's (not a function): the SDK v3 Kinesis client as it is,
# HTTP/2 with prior knowledge, many requests at once on one connection, an answer larger
# than HTTP/2's initial flow-control window
EXEC_SCRIPT = """\
const { KinesisClient, PutRecordsCommand, GetShardIteratorCommand, GetRecordsCommand,
        ListShardsCommand } = require(process.argv[2]);
const kinesis = new KinesisClient({});
const StreamName = process.argv[3];
(async () => {
  const batches = [];
  for (let b = 0; b < 4; b++) {
    const Records = [];
    for (let i = 0; i < 100; i++) {
      Records.push({ PartitionKey: `k${b}-${i}`, Data: Buffer.alloc(1024, 97 + b) });
    }
    batches.push(kinesis.send(new PutRecordsCommand({ StreamName, Records })));
  }
  const put = await Promise.all(batches);
  let read = 0;
  const { Shards } = await kinesis.send(new ListShardsCommand({ StreamName }));
  for (const { ShardId } of Shards) {
    const { ShardIterator } = await kinesis.send(new GetShardIteratorCommand(
      { StreamName, ShardId, ShardIteratorType: 'TRIM_HORIZON' }));
    const got = await kinesis.send(new GetRecordsCommand({ ShardIterator, Limit: 1000 }));
    read += got.Records.filter((r) => r.Data.length === 1024).length;
  }
  console.log(JSON.stringify({ failed: put.map((p) => p.FailedRecordCount), read }));
})().catch((e) => { console.error(e); process.exit(1); });
"""


def test_a_node_script_puts_and_reads_records_over_http2(app: Canaria, tmp_path: Path) -> None:
    from canaria.npm import node_package

    script = tmp_path / "put.js"
    script.write_text(EXEC_SCRIPT)
    client = node_package("@aws-sdk/client-kinesis")
    r = app.cli("exec", "--", "node", str(script), str(client), "app-Clicks", timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr
    result = json.loads(r.stdout.strip().splitlines()[-1])
    assert result == {"failed": [0, 0, 0, 0], "read": 400}  # each shard's answer > 64 KiB
