"""The template's resources of the AWS services canaria serves through its services engine:
S3 buckets, SQS queues, SNS topics and subscriptions, SSM parameters, Secrets Manager
secrets, EventBridge buses and rules, Kinesis streams, Cognito user pools with their app
clients and groups. Each is the request that creates it, resolved; and the event sources
that feed their messages and records to functions."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import Enum
from typing import Any, Literal

from canaria.models.event_transforms import EventTransform

PUNCTUATION = "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~"


@dataclass(frozen=True)
class BucketSpec:
    logical_id: str
    name: str
    versioning: bool = False
    tags: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class QueueSpec:
    logical_id: str
    name: str
    attributes: Mapping[str, str] = field(default_factory=dict)  # CreateQueue Attributes
    tags: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class TopicSpec:
    logical_id: str
    name: str
    attributes: Mapping[str, str] = field(default_factory=dict)  # CreateTopic Attributes
    tags: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class SubscriptionSpec:
    logical_id: str
    topic_arn: str
    protocol: str  # sqs | sns | http | https | email | lambda | ...
    endpoint: str
    attributes: Mapping[str, str] = field(default_factory=dict)  # RawMessageDelivery, ...


@dataclass(frozen=True)
class ParameterSpec:
    logical_id: str
    name: str
    type: str  # String | StringList
    value: str
    description: str = ""
    tags: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class GeneratedSecret:
    """``GenerateSecretString``: a random password, alone or as one key of a JSON object."""

    length: int = 32
    exclude_characters: str = ""
    exclude_numbers: bool = False
    exclude_punctuation: bool = False
    exclude_uppercase: bool = False
    exclude_lowercase: bool = False
    include_space: bool = False
    require_each_included_type: bool = True
    template: str | None = None  # SecretStringTemplate (a JSON object)
    key: str | None = None  # GenerateStringKey

    def classes(self) -> tuple[str, ...]:
        """The character classes a password draws from, exclusions applied; each class a
        password must contain when ``require_each_included_type``."""
        wanted = (
            ("abcdefghijklmnopqrstuvwxyz", self.exclude_lowercase),
            ("ABCDEFGHIJKLMNOPQRSTUVWXYZ", self.exclude_uppercase),
            ("0123456789", self.exclude_numbers),
            (PUNCTUATION, self.exclude_punctuation),
            (" ", not self.include_space),
        )
        out = []
        for chars, excluded in wanted:
            kept = "".join(c for c in chars if c not in self.exclude_characters)
            if not excluded and kept:
                out.append(kept)
        return tuple(out)


@dataclass(frozen=True)
class SecretSpec:
    logical_id: str
    name: str
    secret_string: str | None = None
    generate: GeneratedSecret | None = None
    description: str = ""
    tags: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class EventBusSpec:
    logical_id: str
    name: str
    tags: Mapping[str, str] = field(default_factory=dict)


Pairs = tuple[tuple[str, str], ...]  # HTTP headers, query or body parameters, in order


@dataclass(frozen=True)
class OAuthSpec:
    """A connection's ``OAUTH_CLIENT_CREDENTIALS``: where its token is asked for, and with
    what (the client's id and secret as Basic authorization, and the extra parameters)."""

    endpoint: str
    method: str
    client_id: str
    client_secret: str
    headers: Pairs = ()
    query: Pairs = ()
    body: Pairs = ()


@dataclass(frozen=True)
class ConnectionSpec:
    """An ``AWS::Events::Connection``: how an API destination's requests are authorized,
    and the parameters every one of them carries (``InvocationHttpParameters``)."""

    logical_id: str
    name: str
    authorization: Literal["API_KEY", "BASIC", "OAUTH_CLIENT_CREDENTIALS"]
    api_key: tuple[str, str] | None = None  # (header name, value)
    basic: tuple[str, str] | None = None  # (user, password)
    oauth: OAuthSpec | None = None
    headers: Pairs = ()
    query: Pairs = ()
    body: Pairs = ()


@dataclass(frozen=True)
class ApiDestinationSpec:
    """An ``AWS::Events::ApiDestination``: an HTTP endpoint (``*`` in it filled by a
    target's path parameters) called with its connection's authorization."""

    logical_id: str
    name: str
    arn: str
    endpoint: str
    method: str
    connection: ConnectionSpec
    rate_per_second: int | None = None  # InvocationRateLimitPerSecond


@dataclass(frozen=True)
class HttpParameters:
    """A target's ``HttpParameters``: each value a text, or a ``$.`` path into the event."""

    path_values: tuple[str, ...] = ()
    headers: Pairs = ()
    query: Pairs = ()


@dataclass(frozen=True)
class Delivery:
    """A target's ``RetryPolicy`` and ``DeadLetterConfig``, as EventBridge defaults them."""

    max_attempts: int = 185  # retries after the first try (MaximumRetryAttempts)
    max_age_s: int = 86_400  # MaximumEventAgeInSeconds
    dead_letter_arn: str | None = None  # a standard SQS queue


@dataclass(frozen=True)
class RuleTarget:
    id: str
    arn: str
    transform: EventTransform | None = None  # Input, InputPath or InputTransformer
    message_group_id: str | None = None  # SqsParameters of a FIFO queue target
    destination: ApiDestinationSpec | None = None  # an API destination target
    http: HttpParameters | None = None  # its HttpParameters
    delivery: Delivery = Delivery()
    # an AppSync target: the GraphQL API (its logical id) and AppSyncParameters'
    # GraphQLOperation, run with the target's input as its variables
    graphql: tuple[str, str] | None = None

    @property
    def input(self) -> str | None:
        """The target's constant ``Input``, if it has one."""
        return self.transform.input if self.transform is not None else None


@dataclass(frozen=True)
class RuleSpec:
    logical_id: str
    name: str
    event_bus: str  # "default" or a bus name
    event_pattern: Mapping[str, Any] | None = None
    schedule_expression: str | None = None
    state: str = "ENABLED"
    description: str = ""
    targets: tuple[RuleTarget, ...] = ()
    # targets naming the template's functions: the engine does not invoke them; each
    # gets a queue the rule targets instead, polled for the function (event sources)
    function_targets: tuple[RuleTarget, ...] = ()
    # targets canaria delivers itself (a state machine, a topic, a queue whose input is
    # transformed): each gets a queue the rule targets instead, read and carried on
    relayed_targets: tuple[RuleTarget, ...] = ()


class EventSourceKind(Enum):
    SQS = "SQS"  # the template's queue; batches of SQS records
    SNS = "SNS"  # a queue canaria subscribes to the topic; one SNS record per invocation
    EVENTBRIDGE = "EventBridgeRule"  # a queue a rule targets; one event per invocation
    S3 = "S3"  # a queue a bucket notifies; one S3 notification per invocation


@dataclass(frozen=True)
class QueueEventSource:
    """A function's ``Events: {Type: SQS}`` (or ``SNS``, through a queue canaria adds and
    subscribes to the topic): canaria polls the queue and invokes the function (its
    AutoPublishAlias when it has one) with what Lambda would hand it."""

    function: str
    event: str  # the event's name under Events
    queue_name: str
    queue_arn: str
    batch_size: int = 10
    max_batching_window_s: int = 0
    enabled: bool = True
    report_batch_item_failures: bool = False
    kind: EventSourceKind = EventSourceKind.SQS
    subscription_arn: str = ""  # SNS: the record's EventSubscriptionArn
    filters: tuple[
        str, ...
    ] = ()  # SQS FilterCriteria patterns (JSON); a record matching none is dropped
    # a state machine's EventBridge event: the machine (by name) started with each event,
    # ``function`` then its logical id
    state_machine: str | None = None
    # an EventBridge rule's target: what the target gets of each event, and the rule's
    # ARN and name for the transform's aws.events.* variables
    transform: EventTransform | None = None
    rule_arn: str = ""
    rule_name: str = ""
    # a rule's target canaria carries on to a queue or a topic (``function`` is then
    # the rule's logical id)
    forward: Forward | None = None


@dataclass(frozen=True)
class Forward:
    """Where a rule's relayed event goes: an SQS queue (with the FIFO queue's message
    group), an SNS topic, an API destination, a GraphQL API, a log group or a Firehose
    delivery stream, by ARN; how often it is tried, and where an event it could not take
    goes. Or where a topic's notification goes: a delivery stream of a ``firehose``
    subscription, or for an email address or a phone number canaria's outbox."""

    kind: Literal[
        "queue",
        "topic",
        "api_destination",
        "appsync",
        "log_group",
        "firehose",
        "email",
        "email-json",
        "sms",
    ]
    arn: str  # the target's ARN; an email address or a phone number for the outbox
    message_group_id: str | None = None
    destination: ApiDestinationSpec | None = None
    http: HttpParameters | None = None
    delivery: Delivery = Delivery()
    graphql: tuple[str, str] | None = None  # (the API's logical id, the operation)
    raw: bool = False  # a topic's subscription with RawMessageDelivery: the message alone


@dataclass(frozen=True)
class StreamSpec:
    """An ``AWS::Kinesis::Stream``: provisioned with ``shard_count`` shards, or on demand
    (``shard_count`` None: the engine picks its number)."""

    logical_id: str
    name: str
    shard_count: int | None = 1
    retention_hours: int = 24
    tags: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class UserPoolSpec:
    """An ``AWS::Cognito::UserPool``: ``settings`` is the rest of its ``CreateUserPool``
    request (the API's names and types), ``id`` the id the engine gives it
    (``template.user_pools``)."""

    logical_id: str
    name: str
    id: str
    settings: Mapping[str, Any] = field(default_factory=dict)
    # the Lambda triggers canaria runs: PreSignUp, PostConfirmation, ... → a function's
    # logical id (``template.user_pool_triggers``)
    triggers: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class UserPoolClientSpec:
    """An ``AWS::Cognito::UserPoolClient`` of a pool: ``settings`` is the rest of its
    ``CreateUserPoolClient`` request."""

    logical_id: str
    pool_id: str
    name: str
    id: str
    generate_secret: bool = False
    settings: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class UserPoolGroupSpec:
    """An ``AWS::Cognito::UserPoolGroup``: its members' tokens carry ``cognito:groups``."""

    logical_id: str
    pool_id: str
    name: str
    description: str | None = None
    precedence: int | None = None
    role_arn: str | None = None


class StartingPosition(Enum):
    TRIM_HORIZON = "TRIM_HORIZON"  # the oldest record the stream holds
    LATEST = "LATEST"  # records put after the source starts
    AT_TIMESTAMP = "AT_TIMESTAMP"  # records put at or after ``starting_timestamp``


@dataclass(frozen=True)
class StreamEventSource:
    """A function's ``Events: {Type: Kinesis}`` or ``{Type: DynamoDB}``: each shard read
    in order, its records handed to the function (its AutoPublishAlias when it has one) in
    batches, a failing batch retried before anything behind it, as Lambda's event source
    mapping does."""

    function: str
    event: str  # the event's name under Events
    stream_name: str  # a Kinesis stream's name, or the table's (DynamoDB)
    stream_arn: str
    starting_position: StartingPosition
    starting_timestamp: float | None = None  # epoch seconds, for AT_TIMESTAMP
    batch_size: int = 100
    max_batching_window_s: int = 0
    enabled: bool = True
    report_batch_item_failures: bool = False
    bisect_on_error: bool = False
    max_retry_attempts: int = -1  # -1: until the records expire
    max_record_age_s: int = -1  # -1: until the records expire
    on_failure: str | None = None  # DestinationConfig.OnFailure: a queue or topic ARN
    # FilterCriteria patterns (JSON): over {"data": ...} (Kinesis), the record (DynamoDB)
    filters: tuple[str, ...] = ()
    kind: Literal["kinesis", "dynamodb"] = "kinesis"


@dataclass(frozen=True)
class QueueNotification:
    """One of a bucket's ``QueueConfigurations`` (or ``TopicConfigurations``: the same
    shape, ``arn`` naming a topic)."""

    id: str
    arn: str
    events: tuple[str, ...]  # s3:ObjectCreated:*, ...
    filter_rules: tuple[tuple[str, str], ...] = ()  # (prefix | suffix, value)


@dataclass(frozen=True)
class BucketNotificationSpec:
    """A bucket's notification configuration: the template's own and the queues of the
    functions' S3 events (written whole, after the queues and topics)."""

    logical_id: str
    bucket: str
    queues: tuple[QueueNotification, ...] = ()
    topics: tuple[QueueNotification, ...] = ()
    event_bridge: bool = False  # EventBridgeConfiguration: events to the default bus


ServiceResource = (
    BucketSpec
    | QueueSpec
    | TopicSpec
    | SubscriptionSpec
    | ParameterSpec
    | SecretSpec
    | EventBusSpec
    | RuleSpec
    | BucketNotificationSpec
    | StreamSpec
    | UserPoolSpec
    | UserPoolClientSpec
    | UserPoolGroupSpec
)

EventSource = QueueEventSource | StreamEventSource


@dataclass(frozen=True)
class PipeStep:
    """Where an EventBridge pipe sends its batch: its enrichment (a function) or its
    target. ``name`` is the function's logical id, or the state machine's, event bus's,
    queue's, stream's, delivery stream's or log group's name, or the topic's ARN."""

    kind: Literal[
        "function",
        "state_machine",
        "event_bus",
        "queue",
        "topic",
        "stream",
        "log_group",
        "firehose",
        "api_destination",
    ]
    name: str
    arn: str
    qualifier: str | None = None  # a function's alias or version
    input_template: str | None = None  # InputTemplate, applied to each record
    fire_and_forget: bool = False  # InvocationType FIRE_AND_FORGET
    # the target's own parameters; a value starting "$." is a path into each record
    detail_type: str | None = None
    source: str | None = None
    message_group_id: str | None = None
    message_deduplication_id: str | None = None
    partition_key: str | None = None
    log_stream: str | None = None  # a log group's CloudWatchLogsParameters.LogStreamName
    timestamp: str | None = None  # and its Timestamp (a $. path to epoch milliseconds)
    destination: ApiDestinationSpec | None = None  # an API destination target
    http: HttpParameters | None = None  # ... its HttpParameters


@dataclass(frozen=True)
class PipeSpec:
    """An ``AWS::Pipes::Pipe``: its source is read as an event source is (an entry of
    ``event_sources`` whose ``function`` is the pipe's logical id), each batch then goes
    through the enrichment to the target."""

    logical_id: str
    name: str
    arn: str
    source_arn: str
    source_kind: str  # aws:sqs | aws:kinesis | aws:dynamodb
    target: PipeStep
    enrichment: PipeStep | None = None
