"""The template's S3, SQS, SNS, SSM, Secrets Manager, EventBridge, Kinesis and Cognito user
pool resources → the requests that create them in canaria's services engine
(``canaria.services``).

What each resource does on AWS beyond existing (bucket notifications, lifecycle rules,
encryption, a rule's delivery to a Lambda function) is not run locally; the properties
that would need it are accepted and named in a warning, so a template written for AWS
loads unchanged. Properties a resource type does not have are refused, naming the
property and the ones that exist.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from typing import Any, assert_never

from canaria.models.services import (
    ApiDestinationSpec,
    BucketNotificationSpec,
    BucketSpec,
    EventBusSpec,
    GeneratedSecret,
    ParameterSpec,
    QueueSpec,
    RuleSpec,
    SecretSpec,
    ServiceResource,
    StreamSpec,
    SubscriptionSpec,
    TopicSpec,
    UserPoolClientSpec,
    UserPoolGroupSpec,
    UserPoolSpec,
)
from canaria.template import api_destinations, eventbridge, streams, user_pools
from canaria.template.bucket_notifications import bucket_notifications
from canaria.template.context import Context
from canaria.template.firehose import delivery_stream_arns
from canaria.template.index import Entry
from canaria.template.intrinsics import NO_VALUE
from canaria.template.nodes import (
    Where,
    as_bool,
    as_int,
    as_list,
    as_map,
    as_str,
    check_keys,
    plain,
)
from canaria.template.service_props import function_of, resource_name, tags_of, warn_function
from canaria.template.service_refs import TYPES as NAMED_TYPES
from canaria.template.user_pool_triggers import with_triggers

TYPES = (*NAMED_TYPES, *user_pools.TYPES)

__all__ = ["TYPES", "build_service_resources", "ordered"]

BUCKET_KEYS = (
    "AbacStatus",
    "AccelerateConfiguration",
    "AccessControl",
    "AnalyticsConfigurations",
    "BucketEncryption",
    "BucketName",
    "CorsConfiguration",
    "IntelligentTieringConfigurations",
    "InventoryConfigurations",
    "LifecycleConfiguration",
    "LoggingConfiguration",
    "MetadataConfiguration",
    "MetadataTableConfiguration",
    "MetricsConfigurations",
    "NotificationConfiguration",
    "ObjectLockConfiguration",
    "ObjectLockEnabled",
    "OwnershipControls",
    "PublicAccessBlockConfiguration",
    "ReplicationConfiguration",
    "Tags",
    "VersioningConfiguration",
    "WebsiteConfiguration",
)
# CloudFormation property → SQS queue attribute (the same name unless listed)
QUEUE_ATTRIBUTES = (
    "ContentBasedDeduplication",
    "DeduplicationScope",
    "DelaySeconds",
    "FifoQueue",
    "FifoThroughputLimit",
    "KmsDataKeyReusePeriodSeconds",
    "KmsMasterKeyId",
    "MaximumMessageSize",
    "MessageRetentionPeriod",
    "ReceiveMessageWaitTimeSeconds",
    "RedriveAllowPolicy",
    "RedrivePolicy",
    "SqsManagedSseEnabled",
    "VisibilityTimeout",
)
QUEUE_KEYS = (*QUEUE_ATTRIBUTES, "QueueName", "Tags")
TOPIC_ATTRIBUTES = (
    "ArchivePolicy",
    "ContentBasedDeduplication",
    "DisplayName",
    "FifoThroughputScope",
    "FifoTopic",
    "KmsMasterKeyId",
    "SignatureVersion",
    "TracingConfig",
)
TOPIC_KEYS = (
    *TOPIC_ATTRIBUTES,
    "DataProtectionPolicy",
    "DeliveryStatusLogging",
    "Subscription",
    "Tags",
    "TopicName",
)
SUBSCRIPTION_ATTRIBUTES = (
    "DeliveryPolicy",
    "FilterPolicy",
    "FilterPolicyScope",
    "RawMessageDelivery",
    "RedrivePolicy",
    "ReplayPolicy",
    "SubscriptionRoleArn",
)
SUBSCRIPTION_KEYS = (*SUBSCRIPTION_ATTRIBUTES, "Endpoint", "Protocol", "Region", "TopicArn")
PROTOCOLS = (
    "application",
    "email",
    "email-json",
    "firehose",
    "http",
    "https",
    "lambda",
    "sms",
    "sqs",
)
# subscriptions whose messages canaria keeps in its outbox instead of sending them
MAILED = ("email", "email-json", "sms")
PARAMETER_KEYS = (
    "AllowedPattern",
    "DataType",
    "Description",
    "Name",
    "Policies",
    "Tags",
    "Tier",
    "Type",
    "Value",
)
PARAMETER_TYPES = ("String", "StringList")
SECRET_KEYS = (
    "Description",
    "GenerateSecretString",
    "KmsKeyId",
    "Name",
    "ReplicaRegions",
    "SecretString",
    "Tags",
)
GENERATE_KEYS = (
    "ExcludeCharacters",
    "ExcludeLowercase",
    "ExcludeNumbers",
    "ExcludePunctuation",
    "ExcludeUppercase",
    "GenerateStringKey",
    "IncludeSpace",
    "PasswordLength",
    "RequireEachIncludedType",
    "SecretStringTemplate",
)
# properties accepted but not acted on locally, and why
_NOT_RUN = {
    "ReplicationConfiguration": "replication is not run",
    "LifecycleConfiguration": "lifecycle rules are not run",
    "WebsiteConfiguration": "the website endpoint is not served",
}
_BUCKET_NAME = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
_QUEUE_NAME = re.compile(r"^[A-Za-z0-9_-]{1,80}$")
_TOPIC_NAME = re.compile(r"^[A-Za-z0-9_-]{1,256}$")
_PARAMETER_NAME = re.compile(r"^/?[A-Za-z0-9_.\-/]{1,2048}$")
_SECRET_NAME = re.compile(r"^[A-Za-z0-9/_+=.@-]{1,512}$")


def build_service_resources(
    ctx: Context,
    entries: list[Entry],
    functions: Mapping[str, str],
    destinations: Mapping[str, ApiDestinationSpec] | None = None,
) -> dict[str, ServiceResource]:
    """Every resource of ``entries`` of a served type, in the order the engine creates
    them: what others refer to (buses, dead-letter queues, topics) before them.
    ``functions`` maps each function's ARN prefix to its logical id, to warn about rule
    targets and subscriptions that would invoke a function; ``destinations``: the API
    destinations (``api_destinations.destinations_of``), read here when not given."""
    out: dict[str, ServiceResource] = {}
    # API destinations and their connections: called by canaria, not created in the engine
    if destinations is None:
        destinations = api_destinations.destinations_of(ctx, entries)
    for e in entries:
        match e.type:
            case "AWS::S3::Bucket":
                bucket = _bucket(ctx, e)
                out[e.logical_id] = bucket
                notifications = bucket_notifications(ctx, e, bucket.name)
                if notifications is not None:
                    out[notifications.logical_id] = notifications
            case "AWS::SQS::Queue":
                out[e.logical_id] = _queue(ctx, e)
            case "AWS::SNS::Topic":
                topic, subscriptions = _topic(ctx, e)
                out[e.logical_id] = topic
                for s in subscriptions:
                    if _delivered(ctx, e, s, functions):
                        out[s.logical_id] = s
            case "AWS::SNS::Subscription":
                sub = _subscription(ctx, e)
                if _delivered(ctx, e, sub, functions):
                    out[e.logical_id] = sub
            case "AWS::SSM::Parameter":
                out[e.logical_id] = _parameter(ctx, e)
            case "AWS::SecretsManager::Secret":
                out[e.logical_id] = _secret(ctx, e)
            case "AWS::Events::EventBus":
                out[e.logical_id] = eventbridge.event_bus(ctx, e)
            case "AWS::Events::Rule":
                out[e.logical_id] = eventbridge.rule(ctx, e, functions, destinations)
            case "AWS::Kinesis::Stream":
                out[e.logical_id] = streams.stream_spec(ctx, e)
            case "AWS::Kinesis::StreamConsumer":
                streams.check_consumer(e)  # named for its events, not created
            case user_pools.POOL | user_pools.CLIENT | user_pools.GROUP:
                user_pools.check(e.type, e.props, e.props_at)
                spec = ctx.index.cognito(e.logical_id)
                pool = spec.pool_id if not isinstance(spec, UserPoolSpec) else spec.id
                if pool not in ctx.index.user_pool_ids():
                    ctx.warn(
                        e,
                        f"its user pool {pool} is not one of the template's: it is not "
                        "created locally (only the template's pools are served)",
                    )
                    continue
                if isinstance(spec, UserPoolClientSpec) and spec.generate_secret:
                    ctx.warn(
                        e,
                        "its secret is drawn when the services engine creates it: "
                        f"!GetAtt {e.logical_id}.ClientSecret gives the placeholder "
                        f"{user_pools.secret_placeholder(e.logical_id)!r}; read the secret "
                        "with DescribeUserPoolClient",
                    )
                out[e.logical_id] = spec
    _unique_names(ctx, entries, out)
    return ordered(with_triggers(ctx, out, functions))


def ordered(resources: Mapping[str, ServiceResource]) -> dict[str, ServiceResource]:
    """``resources`` in the order the engine creates them."""
    return dict(sorted(resources.items(), key=lambda kv: _order(kv[1])))


def _order(resource: ServiceResource) -> int:
    match resource:
        case EventBusSpec():
            return 0
        case BucketSpec() | ParameterSpec() | SecretSpec() | StreamSpec() | UserPoolSpec():
            return 1
        case UserPoolClientSpec() | UserPoolGroupSpec():
            return 2
        case QueueSpec():
            return 3 if "RedrivePolicy" in resource.attributes else 2
        case TopicSpec():
            return 4
        case SubscriptionSpec():
            return 5
        case RuleSpec():
            return 6
        case BucketNotificationSpec():
            return 7
    assert_never(resource)


def _unique_names(ctx: Context, entries: list[Entry], out: Mapping[str, ServiceResource]) -> None:
    seen: dict[tuple[type, str], str] = {}
    by_id = {e.logical_id: e for e in entries}
    for logical_id, r in out.items():
        if isinstance(r, SubscriptionSpec | BucketNotificationSpec | UserPoolClientSpec):
            continue
        match r:
            case RuleSpec():
                name = f"{r.event_bus}|{r.name}"
            case UserPoolGroupSpec():
                name = f"{r.pool_id}|{r.name}"
            case UserPoolSpec():
                name = r.id  # two pools may share a name, not a name and settings
            case _:
                name = r.name
        key = (type(r), name)
        if key in seen and logical_id in by_id:
            e = by_id[logical_id]
            raise e.where.key(e.node, "Properties").error(
                f"{e.type} name {r.name!r} is also the name of {seen[key]}",
                allowed="a unique name",
            )
        seen[key] = logical_id


def _delivered(
    ctx: Context, entry: Entry, sub: SubscriptionSpec, functions: Mapping[str, str]
) -> bool:
    """Whether ``sub`` is delivered: SQS by the engine; a template function, a delivery
    stream, an email address or a phone number by canaria (``event_sources`` puts a queue
    of canaria's own in its place: moto's SNS fails the ``Publish`` call when a Lambda or
    HTTP subscriber cannot be reached); the others get a warning."""
    if sub.protocol in ("sqs", *MAILED):
        return True
    if sub.protocol == "lambda" and function_of(sub.endpoint, functions) is not None:
        return True
    if sub.protocol == "firehose" and sub.endpoint in delivery_stream_arns(ctx):
        return True
    if not warn_function(ctx, entry, sub.endpoint, functions):
        ctx.warn(
            entry,
            f"the {sub.protocol} subscription to {sub.endpoint} is not delivered locally: "
            "topics deliver to SQS queues, the template's functions and delivery streams, "
            "and canaria's outbox (email, email-json, sms)",
        )
    return False


def _warn_not_run(ctx: Context, entry: Entry) -> None:
    for key, reason in _NOT_RUN.items():
        if key in entry.props:
            ctx.warn(entry, f"{key} is accepted but {reason} locally")


def _attribute(value: Any, where: Where) -> str:
    """A queue / topic / subscription attribute: booleans as ``true``/``false``, JSON
    policies (RedrivePolicy, FilterPolicy) as JSON text."""
    if isinstance(value, Mapping | list):
        return json.dumps(plain(value))
    return as_str(value, where)


def _attributes(ctx: Context, entry: Entry, keys: tuple[str, ...]) -> dict[str, str]:
    out: dict[str, str] = {}
    for key in keys:
        value = ctx.get(entry, key)
        if value is not NO_VALUE:
            out[key] = _attribute(value, ctx.at(entry, key))
    return out


# ---- the resource types ------------------------------------------------------------------


def _bucket(ctx: Context, entry: Entry) -> BucketSpec:
    check_keys(entry.props, entry.props_at, BUCKET_KEYS)
    name = resource_name(
        ctx,
        entry,
        _BUCKET_NAME,
        "3 to 63 lower-case letters, digits, dots and hyphens, starting and ending with a "
        "letter or digit",
    )
    _warn_not_run(ctx, entry)
    versioning = False
    raw = ctx.get(entry, "VersioningConfiguration")
    if raw is not NO_VALUE:
        at = ctx.at(entry, "VersioningConfiguration")
        node = as_map(raw, at)
        check_keys(node, at, ("Status", "MfaDelete"), required=("Status",))
        status = as_str(node["Status"], at.key(node, "Status"))
        if status not in ("Enabled", "Suspended"):
            raise at.key(node, "Status").error(
                f"unknown versioning status {status!r}", allowed="Enabled, Suspended"
            )
        versioning = status == "Enabled"
    return BucketSpec(entry.logical_id, name, versioning, tags_of(ctx, entry))


def _fifo_name(
    ctx: Context, entry: Entry, kind: str, pattern: re.Pattern[str], allowed: str
) -> tuple[str, bool]:
    """A queue's or topic's name (``<kind>Name`` or the generated one) and whether it is
    FIFO (``Fifo<kind>``): a FIFO name must end in ``.fifo``, and the rest match
    ``pattern``."""
    fifo = ctx.get(entry, f"Fifo{kind}")
    is_fifo = fifo is not NO_VALUE and as_bool(fifo, ctx.at(entry, f"Fifo{kind}"))
    name = ctx.index.name_of(entry.logical_id)
    stem = name.removesuffix(".fifo") if is_fifo else name
    if not pattern.match(stem) or (is_fifo and not name.endswith(".fifo")):
        key = f"{kind}Name"
        where = ctx.at(entry, key) if key in entry.props else entry.props_at
        raise where.error(
            f"{name!r} is not a valid {'FIFO ' if is_fifo else ''}{kind.lower()} name",
            allowed=allowed + (", ending in .fifo" if is_fifo else ""),
        )
    return name, is_fifo


def _queue(ctx: Context, entry: Entry) -> QueueSpec:
    check_keys(entry.props, entry.props_at, QUEUE_KEYS)
    name, is_fifo = _fifo_name(
        ctx, entry, "Queue", _QUEUE_NAME, "up to 80 letters, digits, hyphens and underscores"
    )
    attributes = _attributes(ctx, entry, QUEUE_ATTRIBUTES)
    if not is_fifo:
        attributes.pop("FifoQueue", None)  # SQS refuses FifoQueue=false on a standard queue
    for key, lo, hi in (
        ("DelaySeconds", 0, 900),
        ("MaximumMessageSize", 1024, 1_048_576),
        ("MessageRetentionPeriod", 60, 1_209_600),
        ("ReceiveMessageWaitTimeSeconds", 0, 20),
        ("VisibilityTimeout", 0, 43_200),
    ):
        if key in attributes:
            as_int(attributes[key], ctx.at(entry, key), lo, hi)
    if "RedrivePolicy" in attributes:
        _check_redrive(ctx, entry)
    return QueueSpec(entry.logical_id, name, attributes, tags_of(ctx, entry))


def _check_redrive(ctx: Context, entry: Entry) -> None:
    at = ctx.at(entry, "RedrivePolicy")
    raw = ctx.get(entry, "RedrivePolicy")
    policy = json.loads(raw) if isinstance(raw, str) else plain(raw)
    if not isinstance(policy, dict):
        raise at.error("RedrivePolicy must be a mapping")
    check_keys(
        policy, at, ("deadLetterTargetArn", "maxReceiveCount"), required=("deadLetterTargetArn",)
    )


def _topic(ctx: Context, entry: Entry) -> tuple[TopicSpec, list[SubscriptionSpec]]:
    check_keys(entry.props, entry.props_at, TOPIC_KEYS)
    name, is_fifo = _fifo_name(
        ctx, entry, "Topic", _TOPIC_NAME, "up to 256 letters, digits, hyphens and underscores"
    )
    attributes = _attributes(ctx, entry, TOPIC_ATTRIBUTES)
    if not is_fifo:
        attributes.pop("FifoTopic", None)
    topic = TopicSpec(entry.logical_id, name, attributes, tags_of(ctx, entry))
    subscriptions: list[SubscriptionSpec] = []
    raw = ctx.get(entry, "Subscription")
    if raw is not NO_VALUE:
        at = ctx.at(entry, "Subscription")
        arn = ctx.index.ref(entry.logical_id, entry.where)
        for i, item in enumerate(as_list(raw, at)):
            iat = at.index(raw, i)
            node = as_map(item, iat)
            check_keys(node, iat, ("Endpoint", "Protocol"), required=("Endpoint", "Protocol"))
            protocol = _protocol(node["Protocol"], iat.key(node, "Protocol"))
            endpoint = as_str(node["Endpoint"], iat.key(node, "Endpoint"))
            subscriptions.append(
                SubscriptionSpec(f"{entry.logical_id}.Subscription[{i}]", arn, protocol, endpoint)
            )
    return topic, subscriptions


def _protocol(value: Any, where: Where) -> str:
    protocol = as_str(value, where)
    if protocol not in PROTOCOLS:
        raise where.error(f"unknown protocol {protocol!r}", allowed=PROTOCOLS)
    return protocol


def _subscription(ctx: Context, entry: Entry) -> SubscriptionSpec:
    check_keys(entry.props, entry.props_at, SUBSCRIPTION_KEYS, required=("Protocol", "TopicArn"))
    text: Callable[[str], str] = lambda key: as_str(ctx.get(entry, key), ctx.at(entry, key))  # noqa: E731
    protocol = _protocol(ctx.get(entry, "Protocol"), ctx.at(entry, "Protocol"))
    if "Endpoint" not in entry.props:
        raise entry.props_at.error(f"Endpoint is required for protocol {protocol}")
    return SubscriptionSpec(
        entry.logical_id,
        text("TopicArn"),
        protocol,
        text("Endpoint"),
        _attributes(ctx, entry, SUBSCRIPTION_ATTRIBUTES),
    )


def _parameter(ctx: Context, entry: Entry) -> ParameterSpec:
    check_keys(entry.props, entry.props_at, PARAMETER_KEYS, required=("Type", "Value"))
    name = resource_name(
        ctx, entry, _PARAMETER_NAME, "letters, digits and . - _ /, up to 2048 characters"
    )
    type_ = as_str(ctx.get(entry, "Type"), ctx.at(entry, "Type"))
    if type_ not in PARAMETER_TYPES:
        hint = (
            " (CloudFormation cannot create SecureString parameters)"
            if type_ == "SecureString"
            else ""
        )
        raise ctx.at(entry, "Type").error(
            f"parameter type {type_!r} is not valid here{hint}", allowed=PARAMETER_TYPES
        )
    value = as_str(ctx.get(entry, "Value"), ctx.at(entry, "Value"))
    pattern = ctx.get(entry, "AllowedPattern")
    if pattern is not NO_VALUE:
        text = as_str(pattern, ctx.at(entry, "AllowedPattern"))
        try:
            compiled = re.compile(text)
        except re.error as exc:  # AWS's patterns are Java's; Python's re reads most of them
            ctx.warn(entry, f"AllowedPattern is not checked: Python cannot read it ({exc})")
            compiled = re.compile(".*", re.S)
        if compiled.fullmatch(value) is None:
            raise ctx.at(entry, "Value").error(
                f"value {value!r} does not match AllowedPattern", allowed=text
            )
    description = ctx.get(entry, "Description")
    return ParameterSpec(
        entry.logical_id,
        name,
        type_,
        value,
        "" if description is NO_VALUE else as_str(description, ctx.at(entry, "Description")),
        tags_of(ctx, entry),
    )


def _secret(ctx: Context, entry: Entry) -> SecretSpec:
    check_keys(entry.props, entry.props_at, SECRET_KEYS)
    name = resource_name(
        ctx, entry, _SECRET_NAME, "letters, digits and /_+=.@-, up to 512 characters"
    )
    if "SecretString" in entry.props and "GenerateSecretString" in entry.props:
        raise entry.props_at.error(
            "a secret takes SecretString or GenerateSecretString, not both",
            allowed="one of SecretString, GenerateSecretString",
        )
    secret_string = None
    if "SecretString" in entry.props:
        secret_string = as_str(ctx.get(entry, "SecretString"), ctx.at(entry, "SecretString"))
    generate = None
    if "GenerateSecretString" in entry.props:
        generate = _generate(
            ctx.get(entry, "GenerateSecretString"), ctx.at(entry, "GenerateSecretString")
        )
    description = ctx.get(entry, "Description")
    return SecretSpec(
        entry.logical_id,
        name,
        secret_string,
        generate,
        "" if description is NO_VALUE else as_str(description, ctx.at(entry, "Description")),
        tags_of(ctx, entry),
    )


def _generate(value: Any, at: Where) -> GeneratedSecret:
    node = as_map(value, at)
    check_keys(node, at, GENERATE_KEYS)

    def flag(key: str, default: bool) -> bool:
        return as_bool(node[key], at.key(node, key)) if key in node else default

    template = key = None
    if ("SecretStringTemplate" in node) != ("GenerateStringKey" in node):
        raise at.error(
            "SecretStringTemplate and GenerateStringKey go together",
            allowed="both (a JSON object and the key of the generated password), or neither",
        )
    if "SecretStringTemplate" in node:
        tat = at.key(node, "SecretStringTemplate")
        template = as_str(node["SecretStringTemplate"], tat)
        try:
            parsed = json.loads(template)
        except json.JSONDecodeError as exc:
            raise tat.error(f"SecretStringTemplate is not JSON: {exc.msg}") from None
        if not isinstance(parsed, dict):
            raise tat.error("SecretStringTemplate must be a JSON object")
        key = as_str(node["GenerateStringKey"], at.key(node, "GenerateStringKey"))
    length = (
        as_int(node["PasswordLength"], at.key(node, "PasswordLength"), 1, 4096)
        if "PasswordLength" in node
        else 32
    )
    exclude = ""
    if "ExcludeCharacters" in node:
        exclude = as_str(node["ExcludeCharacters"], at.key(node, "ExcludeCharacters"))
    generated = GeneratedSecret(
        length=length,
        exclude_characters=exclude,
        exclude_numbers=flag("ExcludeNumbers", False),
        exclude_punctuation=flag("ExcludePunctuation", False),
        exclude_uppercase=flag("ExcludeUppercase", False),
        exclude_lowercase=flag("ExcludeLowercase", False),
        include_space=flag("IncludeSpace", False),
        require_each_included_type=flag("RequireEachIncludedType", True),
        template=template,
        key=key,
    )
    if not generated.classes():
        raise at.error("the exclusions leave no character to generate a password from")
    return generated
