"""Create the template's S3, SQS, SNS, SSM, Secrets Manager, EventBridge, Kinesis and Cognito
user pool resources in the services engine: observe what exists, plan what to create or
update, then execute.

Resources that exist are kept with their contents (objects, messages); a parameter whose
``Value`` changed in the template is overwritten, as a stack update would. Nothing is
deleted when a resource leaves the template.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, assert_never

from canaria.errors import TemplateError
from canaria.models.arns import REGION
from canaria.models.services import (
    BucketNotificationSpec,
    BucketSpec,
    EventBusSpec,
    ParameterSpec,
    QueueNotification,
    QueueSpec,
    RuleSpec,
    RuleTarget,
    SecretSpec,
    ServiceResource,
    StreamSpec,
    SubscriptionSpec,
    TopicSpec,
    UserPoolClientSpec,
    UserPoolGroupSpec,
    UserPoolSpec,
)
from canaria.services.secrets import secret_string
from canaria.template.service_refs import topic_arn


@dataclass(frozen=True)
class Observed:
    """What the engine holds, by kind, as the names the template uses."""

    buckets: frozenset[str] = frozenset()
    queues: frozenset[str] = frozenset()
    topics: frozenset[str] = frozenset()  # ARNs
    subscriptions: frozenset[tuple[str, str, str]] = frozenset()  # (topic ARN, protocol, endpoint)
    parameters: Mapping[str, str] | None = None  # name → value (of the template's only)
    secrets: frozenset[str] = frozenset()
    buses: frozenset[str] = frozenset()
    # (bus, name) → what the engine holds of the rule, as ``rule_shape`` writes it
    rules: Mapping[tuple[str, str], RuleShape] | None = None
    streams: frozenset[str] = frozenset()
    user_pools: frozenset[str] = frozenset()  # ids
    clients: frozenset[tuple[str, str]] = frozenset()  # (pool id, client id)
    groups: frozenset[tuple[str, str]] = frozenset()  # (pool id, group name)


@dataclass(frozen=True)
class Create:
    resource: ServiceResource


@dataclass(frozen=True)
class UpdateParameter:
    resource: ParameterSpec


@dataclass(frozen=True)
class UpdateRule:
    """A rule the engine holds with another pattern, schedule, state or targets than the
    template's: written again, its other targets removed."""

    resource: RuleSpec


Instruction = Create | UpdateParameter | UpdateRule
# a rule's pattern (JSON, keys sorted), schedule, state and targets (id, ARN, group)
RuleShape = tuple[str, str, str, frozenset[tuple[str, str, str]]]


def rule_shape(
    pattern: str | None, schedule: str | None, state: str, targets: Iterable[dict[str, Any]]
) -> RuleShape:
    """What matters of a rule, as written in the template or as the engine answers."""
    normal = json.dumps(json.loads(pattern), sort_keys=True) if pattern else ""
    return (
        normal,
        schedule or "",
        state,
        frozenset(
            (t["Id"], t["Arn"], t.get("SqsParameters", {}).get("MessageGroupId", ""))
            for t in targets
        ),
    )


def _wanted_shape(r: RuleSpec) -> RuleShape:
    pattern = json.dumps(r.event_pattern) if r.event_pattern is not None else None
    return rule_shape(pattern, r.schedule_expression, r.state, [_target(t) for t in r.targets])


def plan(resources: Mapping[str, ServiceResource], observed: Observed) -> tuple[Instruction, ...]:
    """What to do so that every resource of the template exists, in creation order."""
    out: list[Instruction] = []
    for r in resources.values():
        match r:
            case BucketSpec():
                exists = r.name in observed.buckets
            case QueueSpec():
                exists = r.name in observed.queues
            case TopicSpec():
                exists = topic_arn(r.name) in observed.topics
            case SubscriptionSpec():
                exists = (r.topic_arn, r.protocol, r.endpoint) in observed.subscriptions
            case ParameterSpec():
                values = observed.parameters or {}
                if r.name in values:
                    if values[r.name] != r.value:
                        out.append(UpdateParameter(r))
                    continue
                exists = False
            case SecretSpec():
                exists = r.name in observed.secrets
            case EventBusSpec():
                exists = r.name in observed.buses
            case RuleSpec():
                held = (observed.rules or {}).get((r.event_bus, r.name))
                if held is not None and held != _wanted_shape(r):
                    out.append(UpdateRule(r))
                exists = held is not None
            case BucketNotificationSpec():
                exists = False  # written whole each time: the put is idempotent
            case StreamSpec():
                exists = r.name in observed.streams
            case UserPoolSpec():
                exists = r.id in observed.user_pools
            case UserPoolClientSpec():
                exists = (r.pool_id, r.id) in observed.clients
            case UserPoolGroupSpec():
                exists = (r.pool_id, r.name) in observed.groups
            case _:
                assert_never(r)
        if not exists:
            out.append(Create(r))
    return tuple(out)


class Provisioner:
    """Observes and changes the engine with boto3 (blocking: run it in a thread)."""

    def __init__(self, endpoint: str, access_key: str = "canaria", secret_key: str = "canaria"):
        import boto3
        from botocore.config import Config

        self._session = boto3.session.Session(
            aws_access_key_id=access_key, aws_secret_access_key=secret_key, region_name=REGION
        )
        self._endpoint = endpoint
        self._config = Config(retries={"max_attempts": 2, "mode": "standard"})
        self._clients: dict[str, Any] = {}

    def client(self, name: str) -> Any:
        """The service's client, made at its first use (one costs tens of milliseconds;
        a deployment trigger's publish needs SNS alone)."""
        client = self._clients.get(name)
        if client is None:
            client = self._clients[name] = self._session.client(
                name, endpoint_url=self._endpoint, config=self._config
            )
        return client

    def observe(self, resources: Mapping[str, ServiceResource]) -> Observed:
        kinds = {type(r) for r in resources.values()}
        c = self.client
        buckets = queues = topics = secrets = buses = frozenset[str]()
        subscriptions = frozenset[tuple[str, str, str]]()
        rules: dict[tuple[str, str], RuleShape] = {}
        parameters: dict[str, str] = {}
        if BucketSpec in kinds:
            buckets = frozenset(b["Name"] for b in c("s3").list_buckets().get("Buckets", []))
        if QueueSpec in kinds:
            urls = c("sqs").list_queues().get("QueueUrls", [])
            queues = frozenset(u.rsplit("/", 1)[-1] for u in urls)
        if TopicSpec in kinds or SubscriptionSpec in kinds:
            pages = c("sns").get_paginator("list_topics").paginate()
            topics = frozenset(t["TopicArn"] for p in pages for t in p.get("Topics", []))
            pages = c("sns").get_paginator("list_subscriptions").paginate()
            subscriptions = frozenset(
                (s["TopicArn"], s["Protocol"], s["Endpoint"])
                for p in pages
                for s in p.get("Subscriptions", [])
            )
        if ParameterSpec in kinds:
            names = [r.name for r in resources.values() if isinstance(r, ParameterSpec)]
            for i in range(0, len(names), 10):
                got = c("ssm").get_parameters(Names=names[i : i + 10])
                parameters.update({p["Name"]: p["Value"] for p in got.get("Parameters", [])})
        if SecretSpec in kinds:
            pages = c("secretsmanager").get_paginator("list_secrets").paginate()
            secrets = frozenset(s["Name"] for p in pages for s in p.get("SecretList", []))
        if EventBusSpec in kinds or RuleSpec in kinds:
            buses = frozenset(b["Name"] for b in c("events").list_event_buses()["EventBuses"])
            wanted = {(r.event_bus, r.name) for r in resources.values() if isinstance(r, RuleSpec)}
            for bus in buses:
                for rule in c("events").list_rules(EventBusName=bus).get("Rules", []):
                    key = (bus, rule["Name"])
                    if key not in wanted:
                        continue
                    targets = c("events").list_targets_by_rule(Rule=rule["Name"], EventBusName=bus)
                    rules[key] = rule_shape(
                        rule.get("EventPattern"),
                        rule.get("ScheduleExpression"),
                        rule.get("State", "ENABLED"),
                        targets.get("Targets", []),
                    )
        streams = frozenset[str]()
        if StreamSpec in kinds:
            pages = c("kinesis").get_paginator("list_streams").paginate()
            streams = frozenset(n for p in pages for n in p.get("StreamNames", []))
        pools, clients, groups = self._observe_pools(resources)
        return Observed(
            buckets,
            queues,
            topics,
            subscriptions,
            parameters,
            secrets,
            buses,
            rules,
            streams,
            pools,
            clients,
            groups,
        )

    def _observe_pools(
        self, resources: Mapping[str, ServiceResource]
    ) -> tuple[frozenset[str], frozenset[tuple[str, str]], frozenset[tuple[str, str]]]:
        wanted = {
            r.id if isinstance(r, UserPoolSpec) else r.pool_id
            for r in resources.values()
            if isinstance(r, UserPoolSpec | UserPoolClientSpec | UserPoolGroupSpec)
        }
        if not wanted:
            return frozenset(), frozenset(), frozenset()
        idp = self.client("cognito-idp")
        pages = idp.get_paginator("list_user_pools").paginate(MaxResults=60)
        pools = frozenset(p["Id"] for page in pages for p in page.get("UserPools", []))
        clients: set[tuple[str, str]] = set()
        groups: set[tuple[str, str]] = set()
        for pool in wanted & pools:
            pages = idp.get_paginator("list_user_pool_clients").paginate(UserPoolId=pool)
            clients |= {(pool, c["ClientId"]) for p in pages for c in p["UserPoolClients"]}
            pages = idp.get_paginator("list_groups").paginate(UserPoolId=pool)
            groups |= {(pool, g["GroupName"]) for p in pages for g in p["Groups"]}
        return pools, frozenset(clients), frozenset(groups)

    def execute(self, instructions: tuple[Instruction, ...]) -> list[str]:
        """Carry the plan out; return one line per change, for the user."""
        from botocore.exceptions import ClientError

        done: list[str] = []
        for i in instructions:
            r = i.resource
            try:
                match i:
                    case Create():
                        done.append(self._create(r))
                    case UpdateParameter(resource=p):
                        self.client("ssm").put_parameter(
                            Name=p.name, Value=p.value, Type=p.type, Overwrite=True
                        )
                        done.append(f"updated SSM parameter {p.name}")
                    case UpdateRule(resource=rule):
                        done.append(self._update_rule(rule))
            except ClientError as exc:
                err = exc.response.get("Error", {})
                raise TemplateError(
                    f"{r.logical_id}: the services engine refused it: "
                    f"{err.get('Code')}: {err.get('Message')}",
                    prop=f"Resources.{r.logical_id.split('.')[0]}",
                ) from None
        return done

    def _update_rule(self, r: RuleSpec) -> str:
        """Write the rule again (``PutRule`` replaces its pattern, schedule and state),
        remove the targets the template no longer names and put the others."""
        events = self.client("events")
        self._put_rule(r)
        held = events.list_targets_by_rule(Rule=r.name, EventBusName=r.event_bus)
        gone = [
            t["Id"] for t in held.get("Targets", []) if t["Id"] not in {x.id for x in r.targets}
        ]
        if gone:
            events.remove_targets(Rule=r.name, EventBusName=r.event_bus, Ids=gone)
        if r.targets:
            events.put_targets(
                Rule=r.name, EventBusName=r.event_bus, Targets=[_target(t) for t in r.targets]
            )
        return f"updated rule {r.name} on event bus {r.event_bus}"

    def _put_rule(self, r: RuleSpec) -> None:
        kwargs = {"Name": r.name, "EventBusName": r.event_bus, "State": r.state}
        if r.event_pattern is not None:
            kwargs["EventPattern"] = json.dumps(r.event_pattern)
        if r.schedule_expression is not None:
            kwargs["ScheduleExpression"] = r.schedule_expression
        if r.description:
            kwargs["Description"] = r.description
        self.client("events").put_rule(**kwargs)

    def _create(self, r: ServiceResource) -> str:
        c = self.client
        match r:
            case BucketSpec():
                c("s3").create_bucket(Bucket=r.name)
                if r.versioning:
                    c("s3").put_bucket_versioning(
                        Bucket=r.name, VersioningConfiguration={"Status": "Enabled"}
                    )
                if r.tags:
                    c("s3").put_bucket_tagging(Bucket=r.name, Tagging={"TagSet": _tag_list(r.tags)})
                return f"created S3 bucket {r.name}"
            case QueueSpec():
                c("sqs").create_queue(
                    QueueName=r.name, Attributes=dict(r.attributes), tags=dict(r.tags)
                )
                return f"created SQS queue {r.name}"
            case TopicSpec():
                kwargs: dict[str, Any] = {"Name": r.name, "Attributes": dict(r.attributes)}
                if r.tags:
                    kwargs["Tags"] = _tag_list(r.tags)
                c("sns").create_topic(**kwargs)
                return f"created SNS topic {r.name}"
            case SubscriptionSpec():
                c("sns").subscribe(
                    TopicArn=r.topic_arn,
                    Protocol=r.protocol,
                    Endpoint=r.endpoint,
                    Attributes=dict(r.attributes),
                )
                return f"subscribed {r.protocol} {r.endpoint} to {r.topic_arn.rsplit(':', 1)[-1]}"
            case ParameterSpec():
                kwargs = {"Name": r.name, "Value": r.value, "Type": r.type}
                if r.description:
                    kwargs["Description"] = r.description
                if r.tags:
                    kwargs["Tags"] = _tag_list(r.tags)
                c("ssm").put_parameter(**kwargs)
                return f"created SSM parameter {r.name}"
            case SecretSpec():
                kwargs = {"Name": r.name}
                if r.description:
                    kwargs["Description"] = r.description
                if r.tags:
                    kwargs["Tags"] = _tag_list(r.tags)
                if r.secret_string is not None:
                    kwargs["SecretString"] = r.secret_string
                elif r.generate is not None:
                    kwargs["SecretString"] = secret_string(r.generate)
                c("secretsmanager").create_secret(**kwargs)
                return f"created secret {r.name}"
            case EventBusSpec():
                kwargs = {"Name": r.name}
                if r.tags:
                    kwargs["Tags"] = _tag_list(r.tags)
                c("events").create_event_bus(**kwargs)
                return f"created event bus {r.name}"
            case RuleSpec():
                self._put_rule(r)
                if r.targets:
                    c("events").put_targets(
                        Rule=r.name,
                        EventBusName=r.event_bus,
                        Targets=[_target(t) for t in r.targets],
                    )
                return f"created rule {r.name} on event bus {r.event_bus}"
            case BucketNotificationSpec():
                config: dict[str, Any] = {
                    "QueueConfigurations": [_notification(q, "QueueArn") for q in r.queues],
                    "TopicConfigurations": [_notification(t, "TopicArn") for t in r.topics],
                }
                if r.event_bridge:
                    config["EventBridgeConfiguration"] = {}
                c("s3").put_bucket_notification_configuration(
                    Bucket=r.bucket, NotificationConfiguration=config
                )
                return f"set the notifications of S3 bucket {r.bucket}"
            case StreamSpec():
                if r.shard_count is None:
                    mode: dict[str, Any] = {"StreamModeDetails": {"StreamMode": "ON_DEMAND"}}
                else:
                    mode = {"ShardCount": r.shard_count}
                c("kinesis").create_stream(StreamName=r.name, **mode)
                if r.retention_hours > 24:
                    c("kinesis").increase_stream_retention_period(
                        StreamName=r.name, RetentionPeriodHours=r.retention_hours
                    )
                if r.tags:
                    c("kinesis").add_tags_to_stream(StreamName=r.name, Tags=dict(r.tags))
                return f"created Kinesis stream {r.name}"
            case UserPoolSpec():
                got = c("cognito-idp").create_user_pool(PoolName=r.name, **r.settings)
                _same_id(r.logical_id, got["UserPool"]["Id"], r.id)
                return f"created Cognito user pool {r.name} ({r.id})"
            case UserPoolClientSpec():
                got = c("cognito-idp").create_user_pool_client(
                    UserPoolId=r.pool_id,
                    GenerateSecret=r.generate_secret,
                    ClientName=r.name,
                    **r.settings,
                )
                _same_id(r.logical_id, got["UserPoolClient"]["ClientId"], r.id)
                return f"created Cognito app client {r.name} ({r.id})"
            case UserPoolGroupSpec():
                group: dict[str, Any] = {"GroupName": r.name, "UserPoolId": r.pool_id}
                if r.description is not None:
                    group["Description"] = r.description
                if r.precedence is not None:
                    group["Precedence"] = r.precedence
                if r.role_arn is not None:
                    group["RoleArn"] = r.role_arn
                c("cognito-idp").create_group(**group)
                return f"created Cognito group {r.name} in {r.pool_id}"
        assert_never(r)


def _same_id(logical_id: str, got: str, expected: str) -> None:
    """The engine named a pool or client as ``template.user_pools`` computed, or the
    template's references to it would name nothing."""
    if got != expected:
        raise TemplateError(
            f"the services engine created it as {got!r}, not {expected!r}, "
            "the id the template's references were given: the installed moto names user "
            "pools differently from the version canaria was written for",
            prop=f"Resources.{logical_id}",
        )


def _notification(q: QueueNotification, arn_key: str) -> dict[str, Any]:
    out: dict[str, Any] = {"Id": q.id, arn_key: q.arn, "Events": list(q.events)}
    if q.filter_rules:
        rules = [{"Name": name, "Value": value} for name, value in q.filter_rules]
        out["Filter"] = {"Key": {"FilterRules": rules}}
    return out


def _target(t: RuleTarget) -> dict[str, Any]:
    # the engine gets the event as it is: a target whose input is transformed is one of
    # canaria's own queues (template.event_sources), and canaria transforms it
    out: dict[str, Any] = {"Id": t.id, "Arn": t.arn}
    if t.message_group_id is not None:
        out["SqsParameters"] = {"MessageGroupId": t.message_group_id}
    return out


def _tag_list(tags: Mapping[str, str]) -> list[dict[str, str]]:
    return [{"Key": k, "Value": v} for k, v in tags.items()]


async def provision(endpoint: str, resources: Mapping[str, ServiceResource]) -> list[str]:
    """Observe, plan and execute against the engine at ``endpoint`` (off the event loop)."""
    import asyncio

    def run() -> list[str]:
        provisioner = Provisioner(endpoint)
        return provisioner.execute(plan(resources, provisioner.observe(resources)))

    return await asyncio.to_thread(run)
