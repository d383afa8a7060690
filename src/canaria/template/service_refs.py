"""Names, ``Ref`` and ``Fn::GetAtt`` of the resources canaria's services engine serves.

The values are CloudFormation's documented return values, shaped as on AWS (the engine
answers to the same names and ARNs), with two differences, both deterministic so that a
template resolves the same way each time it loads: a name CloudFormation would generate
(``stack-Logical-RANDOM``) is ``stack-Logical`` (lower case for a bucket; cut to the
service's limit and ended by a digest of the whole when it is longer), and a secret's
``Ref`` is its partial ARN (without the random six-character suffix, which only the engine
knows once the secret exists; Secrets Manager accepts a partial ARN wherever it accepts
an ARN).
"""

from __future__ import annotations

import hashlib
import re
import uuid
from collections.abc import Callable
from typing import Any

from canaria.models.arns import ACCOUNT, REGION

BUCKET = "AWS::S3::Bucket"
QUEUE = "AWS::SQS::Queue"
TOPIC = "AWS::SNS::Topic"
SUBSCRIPTION = "AWS::SNS::Subscription"
PARAMETER = "AWS::SSM::Parameter"
SECRET = "AWS::SecretsManager::Secret"
EVENT_BUS = "AWS::Events::EventBus"
RULE = "AWS::Events::Rule"
# an API destination and its connection: called by canaria itself, not created in the engine
CONNECTION = "AWS::Events::Connection"
API_DESTINATION = "AWS::Events::ApiDestination"
STREAM = "AWS::Kinesis::Stream"
# an enhanced fan-out consumer: named for its Kinesis events (which read its stream), not
# created in the engine
CONSUMER = "AWS::Kinesis::StreamConsumer"

TYPES = (
    BUCKET,
    QUEUE,
    TOPIC,
    SUBSCRIPTION,
    PARAMETER,
    SECRET,
    EVENT_BUS,
    RULE,
    CONNECTION,
    API_DESTINATION,
    STREAM,
    CONSUMER,
)

ATTRS: dict[str, tuple[str, ...]] = {
    BUCKET: ("Arn", "DomainName", "DualStackDomainName", "RegionalDomainName", "WebsiteURL"),
    QUEUE: ("Arn", "QueueName", "QueueUrl"),
    TOPIC: ("TopicArn", "TopicName"),
    SUBSCRIPTION: ("Arn",),
    PARAMETER: ("Type", "Value"),
    SECRET: ("Id",),
    EVENT_BUS: ("Arn", "Name"),
    RULE: ("Arn",),
    CONNECTION: ("Arn", "ArnForPolicy", "SecretArn"),
    API_DESTINATION: ("Arn", "ArnForPolicy"),
    STREAM: ("Arn",),
    CONSUMER: (
        "ConsumerARN",
        "ConsumerCreationTimestamp",
        "ConsumerName",
        "ConsumerStatus",
        "StreamARN",
    ),
}

# the property that names each resource; a subscription has no name
NAME_KEYS = {
    BUCKET: "BucketName",
    QUEUE: "QueueName",
    TOPIC: "TopicName",
    PARAMETER: "Name",
    SECRET: "Name",
    EVENT_BUS: "Name",
    RULE: "Name",
    CONNECTION: "Name",
    API_DESTINATION: "Name",
    STREAM: "Name",
    CONSUMER: "ConsumerName",
}

Prop = Callable[[str], Any]  # a resolved property of the resource, or NO_VALUE


def _truthy(value: Any) -> bool:
    return value is True or (isinstance(value, str) and value.lower() == "true")


def naming(type_: str, stack: str, logical_id: str, prop: Prop) -> tuple[str, str]:
    """The property that names a resource, and its name when the template does not."""
    return NAME_KEYS[type_], default_name(type_, stack, logical_id, prop)


def default_name(type_: str, stack: str, logical_id: str, prop: Prop) -> str:
    """The name of a resource whose template does not name it."""
    base = f"{stack}-{logical_id}"
    match type_:
        case "AWS::S3::Bucket":
            name = re.sub(r"[^a-z0-9.-]+", "-", base.lower()).strip("-.")
            return _fit(name, base, 63)
        case "AWS::SQS::Queue":
            name = re.sub(r"[^A-Za-z0-9_-]+", "-", base)
            if _truthy(prop("FifoQueue")):
                return _fit(name, base, 75) + ".fifo"
            return _fit(name, base, 80)
        case "AWS::SNS::Topic":
            name = re.sub(r"[^A-Za-z0-9_-]+", "-", base)
            if _truthy(prop("FifoTopic")):
                return _fit(name, base, 251) + ".fifo"
            return _fit(name, base, 256)
        case _:
            return _fit(re.sub(r"[^A-Za-z0-9_.-]+", "-", base), base, 64)


def _fit(name: str, base: str, limit: int) -> str:
    """``name`` within ``limit`` characters. A longer one is cut and ends in a digest of
    ``base`` (where CloudFormation puts its random suffix), so that two resources of a stack
    whose name is long still get two names."""
    if len(name) <= limit:
        return name
    digest = hashlib.sha256(base.encode()).hexdigest()[:8]
    return name[: limit - len(digest) - 1].rstrip("-.") + "-" + digest


def bucket_arn(name: str) -> str:
    return f"arn:aws:s3:::{name}"


def queue_url(name: str) -> str:
    return f"https://sqs.{REGION}.amazonaws.com/{ACCOUNT}/{name}"


def queue_arn(name: str) -> str:
    return f"arn:aws:sqs:{REGION}:{ACCOUNT}:{name}"


def topic_arn(name: str) -> str:
    return f"arn:aws:sns:{REGION}:{ACCOUNT}:{name}"


def secret_arn(name: str) -> str:
    return f"arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:{name}"


def event_bus_arn(name: str) -> str:
    return f"arn:aws:events:{REGION}:{ACCOUNT}:event-bus/{name}"


def stream_arn(name: str) -> str:
    return f"arn:aws:kinesis:{REGION}:{ACCOUNT}:stream/{name}"


CONSUMER_CREATED = 1_700_000_000  # the creation time in a consumer's ARN: fixed, not random


def consumer_arn(stream: Any, name: str) -> str:
    return f"{stream if isinstance(stream, str) else ''}/consumer/{name}:{CONSUMER_CREATED}"


def bus_name(value: str) -> str:
    """A bus named by name or by ARN → its name."""
    return value.rsplit("event-bus/", 1)[-1] if value.startswith("arn:") else value


def rule_bus(prop: Prop) -> str:
    value = prop("EventBusName")
    return bus_name(value) if isinstance(value, str) and value else "default"


def rule_arn(name: str, bus: str) -> str:
    path = name if bus == "default" else f"{bus}/{name}"
    return f"arn:aws:events:{REGION}:{ACCOUNT}:rule/{path}"


def connection_arn(name: str) -> str:
    return f"arn:aws:events:{REGION}:{ACCOUNT}:connection/{name}/{_resource_id(name)}"


def api_destination_arn(name: str) -> str:
    return f"arn:aws:events:{REGION}:{ACCOUNT}:api-destination/{name}/{_resource_id(name)}"


def _resource_id(name: str) -> str:
    """The id EventBridge appends to a connection's or destination's ARN: fixed by name
    here, so a reference reads the same on every load."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"canaria:events:{name}"))


def subscription_arn(logical_id: str, topic: str) -> str:
    return f"{topic}:{uuid.uuid5(uuid.NAMESPACE_URL, 'canaria:' + logical_id)}"


def ref(type_: str, logical_id: str, name: str, prop: Prop) -> str:
    """``!Ref`` of a resource named ``name`` (``""`` for a subscription)."""
    match type_:
        case (
            "AWS::S3::Bucket"
            | "AWS::SSM::Parameter"
            | "AWS::Events::EventBus"
            | "AWS::Events::Connection"
            | "AWS::Events::ApiDestination"
            | "AWS::Kinesis::Stream"
        ):
            return name
        case "AWS::SQS::Queue":
            return queue_url(name)
        case "AWS::SNS::Topic":
            return topic_arn(name)
        case "AWS::SNS::Subscription":
            topic = prop("TopicArn")
            return subscription_arn(logical_id, topic if isinstance(topic, str) else "")
        case "AWS::SecretsManager::Secret":
            return secret_arn(name)
        case "AWS::Events::Rule":
            bus = rule_bus(prop)
            return name if bus == "default" else f"{bus}|{name}"
        case "AWS::Kinesis::StreamConsumer":
            return consumer_arn(prop("StreamARN"), name)
    raise AssertionError(type_)  # pragma: no cover


def get_att(type_: str, logical_id: str, name: str, attr: str, prop: Prop) -> Any:
    """``!GetAtt`` of a resource; ``attr`` is one of ``ATTRS[type_]``."""
    match (type_, attr):
        case ("AWS::S3::Bucket", "Arn"):
            return bucket_arn(name)
        case ("AWS::S3::Bucket", "DomainName"):
            return f"{name}.s3.amazonaws.com"
        case ("AWS::S3::Bucket", "DualStackDomainName"):
            return f"{name}.s3.dualstack.{REGION}.amazonaws.com"
        case ("AWS::S3::Bucket", "RegionalDomainName"):
            return f"{name}.s3.{REGION}.amazonaws.com"
        case ("AWS::S3::Bucket", "WebsiteURL"):
            return f"http://{name}.s3-website-{REGION}.amazonaws.com"
        case ("AWS::SQS::Queue", "Arn"):
            return queue_arn(name)
        case ("AWS::SQS::Queue", "QueueName") | ("AWS::SNS::Topic", "TopicName"):
            return name
        case ("AWS::SQS::Queue", "QueueUrl"):
            return queue_url(name)
        case ("AWS::SNS::Topic", "TopicArn"):
            return topic_arn(name)
        case ("AWS::SNS::Subscription", "Arn") | ("AWS::SecretsManager::Secret", "Id"):
            return ref(type_, logical_id, name, prop)
        case ("AWS::SSM::Parameter", "Type"):
            value = prop("Type")
            return value if isinstance(value, str) else "String"
        case ("AWS::SSM::Parameter", "Value"):
            return prop("Value")
        case ("AWS::Events::EventBus", "Arn"):
            return event_bus_arn(name)
        case ("AWS::Events::EventBus", "Name"):
            return name
        case ("AWS::Events::Rule", "Arn"):
            return rule_arn(name, rule_bus(prop))
        case ("AWS::Events::Connection", "Arn"):
            return connection_arn(name)
        case ("AWS::Events::Connection", "ArnForPolicy"):
            return f"arn:aws:events:{REGION}:{ACCOUNT}:connection/{name}"
        case ("AWS::Events::Connection", "SecretArn"):
            return f"{secret_arn(f'events!connection/{name}/{_resource_id(name)}')}"
        case ("AWS::Events::ApiDestination", "Arn"):
            return api_destination_arn(name)
        case ("AWS::Events::ApiDestination", "ArnForPolicy"):
            return f"arn:aws:events:{REGION}:{ACCOUNT}:api-destination/{name}"
        case ("AWS::Kinesis::Stream", "Arn"):
            return stream_arn(name)
        case ("AWS::Kinesis::StreamConsumer", "ConsumerARN"):
            return consumer_arn(prop("StreamARN"), name)
        case ("AWS::Kinesis::StreamConsumer", "ConsumerCreationTimestamp"):
            return str(CONSUMER_CREATED)
        case ("AWS::Kinesis::StreamConsumer", "ConsumerName"):
            return name
        case ("AWS::Kinesis::StreamConsumer", "ConsumerStatus"):
            return "ACTIVE"
        case ("AWS::Kinesis::StreamConsumer", "StreamARN"):
            return prop("StreamARN")
    raise AssertionError((type_, attr))  # pragma: no cover
