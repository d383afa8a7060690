"""S3, SQS, SNS, SSM, Secrets Manager and EventBridge resources: specs, names, Ref and
GetAtt as CloudFormation documents them, and bad input named where it is."""

from __future__ import annotations

from pathlib import Path

import pytest

from canaria.models import (
    BucketNotificationSpec,
    BucketSpec,
    EventBusSpec,
    EventSourceKind,
    ParameterSpec,
    QueueEventSource,
    QueueNotification,
    QueueSpec,
    RuleSpec,
    SecretSpec,
    SubscriptionSpec,
    TopicSpec,
)
from canaria.template import load
from canaria.template.service_refs import queue_arn
from tests.unit.template.template_helpers import fails, function, line_of, resources, write

ACCOUNT_REGION = "us-east-1:123456789012"

APP = resources(
    function(
        "Fn",
        """\
        Environment:
          Variables:
            BUCKET: !Ref Uploads
            BUCKET_ARN: !GetAtt Uploads.Arn
            BUCKET_DOMAIN: !GetAtt Uploads.RegionalDomainName
            QUEUE_URL: !Ref Jobs
            QUEUE_ARN: !GetAtt Jobs.Arn
            QUEUE_NAME: !GetAtt Jobs.QueueName
            FIFO_URL: !GetAtt Orders.QueueUrl
            TOPIC: !Ref Alerts
            TOPIC_NAME: !GetAtt Alerts.TopicName
            PARAM: !Ref Setting
            PARAM_VALUE: !GetAtt Setting.Value
            SECRET: !Ref DbSecret
            SECRET_ID: !GetAtt DbSecret.Id
            BUS: !Ref Bus
            BUS_ARN: !GetAtt Bus.Arn
            RULE: !Ref OnOrder
            RULE_ARN: !GetAtt OnOrder.Arn
        """,
    ),
    """\
  Uploads:
    Type: AWS::S3::Bucket
    Properties:
      VersioningConfiguration: {Status: Enabled}
      Tags: [{Key: team, Value: core}]
  Jobs:
    Type: AWS::SQS::Queue
    Properties:
      VisibilityTimeout: 30
      RedrivePolicy:
        deadLetterTargetArn: !GetAtt JobsDlq.Arn
        maxReceiveCount: 3
  JobsDlq:
    Type: AWS::SQS::Queue
  Orders:
    Type: AWS::SQS::Queue
    Properties:
      FifoQueue: true
      ContentBasedDeduplication: true
  Alerts:
    Type: AWS::SNS::Topic
    Properties:
      TopicName: alerts
      Subscription:
        - Protocol: sqs
          Endpoint: !GetAtt Jobs.Arn
  Setting:
    Type: AWS::SSM::Parameter
    Properties:
      Name: /app/setting
      Type: String
      Value: blue
  DbSecret:
    Type: AWS::SecretsManager::Secret
    Properties:
      GenerateSecretString:
        SecretStringTemplate: '{"username": "admin"}'
        GenerateStringKey: password
        PasswordLength: 16
        ExcludeCharacters: '"@/\\'
  Bus:
    Type: AWS::Events::EventBus
    Properties:
      Name: orders
  OnOrder:
    Type: AWS::Events::Rule
    Properties:
      EventBusName: !Ref Bus
      EventPattern:
        source: [shop]
      Targets:
        - Id: toQueue
          Arn: !GetAtt Jobs.Arn
""",
)


def test_resources_become_specs_in_creation_order(tmp_path: Path) -> None:
    app = load(write(tmp_path, APP))
    s = app.services
    assert s["Uploads"] == BucketSpec("Uploads", "app-uploads", True, {"team": "core"})
    jobs = s["Jobs"]
    assert isinstance(jobs, QueueSpec) and jobs.name == "app-Jobs"
    assert jobs.attributes["VisibilityTimeout"] == "30"
    assert (
        '"deadLetterTargetArn": "arn:aws:sqs:us-east-1:123456789012:app-JobsDlq"'
        in (jobs.attributes["RedrivePolicy"])
    )
    orders = s["Orders"]
    assert isinstance(orders, QueueSpec) and orders.name == "app-Orders.fifo"
    assert orders.attributes["FifoQueue"] == "true"
    assert s["Alerts"] == TopicSpec("Alerts", "alerts")
    assert s["Alerts.Subscription[0]"] == SubscriptionSpec(
        "Alerts.Subscription[0]",
        f"arn:aws:sns:{ACCOUNT_REGION}:alerts",
        "sqs",
        f"arn:aws:sqs:{ACCOUNT_REGION}:app-Jobs",
    )
    assert s["Setting"] == ParameterSpec("Setting", "/app/setting", "String", "blue")
    secret = s["DbSecret"]
    assert isinstance(secret, SecretSpec) and secret.generate is not None
    assert secret.generate.length == 16 and secret.generate.key == "password"
    assert s["Bus"] == EventBusSpec("Bus", "orders")
    rule = s["OnOrder"]
    assert isinstance(rule, RuleSpec) and rule.event_bus == "orders"
    assert rule.event_pattern == {"source": ["shop"]}
    order = list(s)
    # the bus before its rule, a dead-letter queue before the queue that names it, topics
    # before their subscriptions
    assert order.index("Bus") < order.index("OnOrder")
    assert order.index("JobsDlq") < order.index("Jobs")
    assert order.index("Alerts") < order.index("Alerts.Subscription[0]")
    assert not [w for w in app.warnings if "skipped" in w]


def test_ref_and_getatt_give_cloudformation_return_values(tmp_path: Path) -> None:
    env = load(write(tmp_path, APP)).functions["Fn"].config.environment
    assert env == {
        "BUCKET": "app-uploads",
        "BUCKET_ARN": "arn:aws:s3:::app-uploads",
        "BUCKET_DOMAIN": "app-uploads.s3.us-east-1.amazonaws.com",
        "QUEUE_URL": "https://sqs.us-east-1.amazonaws.com/123456789012/app-Jobs",
        "QUEUE_ARN": f"arn:aws:sqs:{ACCOUNT_REGION}:app-Jobs",
        "QUEUE_NAME": "app-Jobs",
        "FIFO_URL": "https://sqs.us-east-1.amazonaws.com/123456789012/app-Orders.fifo",
        "TOPIC": f"arn:aws:sns:{ACCOUNT_REGION}:alerts",
        "TOPIC_NAME": "alerts",
        "PARAM": "/app/setting",
        "PARAM_VALUE": "blue",
        "SECRET": f"arn:aws:secretsmanager:{ACCOUNT_REGION}:secret:app-DbSecret",
        "SECRET_ID": f"arn:aws:secretsmanager:{ACCOUNT_REGION}:secret:app-DbSecret",
        "BUS": "orders",
        "BUS_ARN": f"arn:aws:events:{ACCOUNT_REGION}:event-bus/orders",
        "RULE": "orders|app-OnOrder",
        "RULE_ARN": f"arn:aws:events:{ACCOUNT_REGION}:rule/orders/app-OnOrder",
    }


@pytest.mark.parametrize(
    ("resource", "needle", "prop", "words"),
    [
        (
            "Type: AWS::S3::Bucket\n    Properties: {BucketName: My_Bucket}",
            "My_Bucket",
            "BucketName",
            "not a valid AWS::S3::Bucket name",
        ),
        (
            "Type: AWS::S3::Bucket\n    Properties: {BucketNam: x}",
            "BucketNam",
            "BucketNam",
            "unknown property 'BucketNam'",
        ),
        (
            "Type: AWS::SQS::Queue\n    Properties: {QueueName: jobs, FifoQueue: true}",
            "QueueName",
            "QueueName",
            "not a valid FIFO queue name",
        ),
        (
            "Type: AWS::SQS::Queue\n    Properties: {VisibilityTimeout: 99999}",
            "VisibilityTimeout",
            "VisibilityTimeout",
            "out of range",
        ),
        (
            "Type: AWS::SSM::Parameter\n    Properties: {Type: SecureString, Value: x}",
            "SecureString",
            "Type",
            "cannot create SecureString",
        ),
        (
            "Type: AWS::SSM::Parameter\n    Properties: {Type: String}",
            "Type: String",
            "",
            "Value is required",
        ),
        (
            "Type: AWS::SSM::Parameter\n"
            "    Properties: {Type: String, Value: abc, AllowedPattern: '[0-9]+'}",
            "AllowedPattern",
            "Value",
            "does not match AllowedPattern",
        ),
        (
            "Type: AWS::SecretsManager::Secret\n"
            "    Properties: {SecretString: x, GenerateSecretString: {}}",
            "SecretString",
            "",
            "not both",
        ),
        (
            "Type: AWS::SecretsManager::Secret\n"
            "    Properties: {GenerateSecretString: {GenerateStringKey: password}}",
            "GenerateStringKey",
            "GenerateSecretString",
            "go together",
        ),
        (
            "Type: AWS::Events::Rule\n    Properties: {State: ENABLED}",
            "State",
            "",
            "EventPattern or a ScheduleExpression",
        ),
        (
            "Type: AWS::Events::Rule\n    Properties: {ScheduleExpression: 'every 5 minutes'}",
            "ScheduleExpression",
            "ScheduleExpression",
            "rate(...) or cron(...)",
        ),
        (
            "Type: AWS::SNS::Subscription\n"
            "    Properties: {TopicArn: arn:aws:sns:us-east-1:1:t, Protocol: pigeon, Endpoint: x}",
            "pigeon",
            "Protocol",
            "unknown protocol 'pigeon'",
        ),
    ],
)
def test_bad_input_names_the_property_and_line(
    tmp_path: Path, resource: str, needle: str, prop: str, words: str
) -> None:
    path = write(tmp_path, resources(function(), f"  Thing:\n    {resource}\n"))
    err = fails(path)
    assert words in str(err)
    assert err.line == line_of(path, needle)
    if prop:
        assert err.prop == f"Resources.Thing.Properties.{prop}"


def test_same_name_twice_is_refused(tmp_path: Path) -> None:
    body = resources(
        function(),
        "  A:\n    Type: AWS::SQS::Queue\n    Properties: {QueueName: jobs}\n"
        "  B:\n    Type: AWS::SQS::Queue\n    Properties: {QueueName: jobs}\n",
    )
    err = fails(write(tmp_path, body))
    assert "'jobs' is also the name of A" in str(err)


def test_what_is_not_run_locally_is_a_warning(tmp_path: Path) -> None:
    body = resources(
        function(),
        """\
  Uploads:
    Type: AWS::S3::Bucket
    Properties:
      NotificationConfiguration:
        LambdaConfigurations:
          - Event: s3:ObjectCreated:*
            Function: !GetAtt Fn.Arn
  Alerts:
    Type: AWS::SNS::Topic
    Properties:
      Subscription:
        - {Protocol: lambda, Endpoint: !GetAtt Fn.Arn}
        - {Protocol: https, Endpoint: 'https://example.com/hook'}
  Tick:
    Type: AWS::Events::Rule
    Properties:
      ScheduleExpression: rate(5 minutes)
      Targets: [{Id: fn, Arn: !GetAtt Fn.Arn}]
""",
    )
    app = load(write(tmp_path, body))
    warnings = "\n".join(app.warnings)
    assert "NotificationConfiguration.LambdaConfigurations is not delivered locally" in warnings
    assert "the https subscription to https://example.com/hook is not delivered" in warnings
    # the topic's lambda subscription is delivered through a queue of the function's own
    assert "delivery to function Fn" not in warnings
    # a scheduled rule's function target is fired on time: no queue, no event source
    assert sorted(app.services) == [
        "Alerts",
        "Alerts.Subscription[0]",
        "Alerts.Subscription[0].Queue",
        "Tick",
        "Uploads",
    ]
    sub = app.services["Alerts.Subscription[0]"]
    assert isinstance(sub, SubscriptionSpec)
    assert (sub.protocol, sub.endpoint) == ("sqs", queue_arn("canaria-Fn-Alerts-Subscription-0-"))
    assert [(s.function, s.kind) for s in app.event_sources] == [("Fn", EventSourceKind.SNS)]
    (schedule,) = app.schedules
    assert (schedule.target, schedule.name, schedule.expression) == (
        "Fn",
        "Tick.fn",
        "rate(5 minutes)",
    )


def test_rule_targets_not_delivered_locally_are_left_out_with_a_warning(
    tmp_path: Path,
) -> None:
    body = resources(
        function(),
        """\
  Fifo:
    Type: AWS::SQS::Queue
    Properties: {FifoQueue: true}
  Bucket:
    Type: AWS::S3::Bucket
    Properties: {AccessControl: Private}
  Param:
    Type: AWS::SSM::Parameter
    Properties: {Type: String, Value: abc, AllowedPattern: '^\\p{Print}+$'}
  Rule:
    Type: AWS::Events::Rule
    Properties:
      EventPattern: {source: [x]}
      Targets:
        - {Id: queue, Arn: !GetAtt Fifo.Arn, SqsParameters: {MessageGroupId: g1}}
        - {Id: batch, Arn: arn:aws:batch:us-east-1:123456789012:job-queue/q}
        - {Id: fn, Arn: !GetAtt Fn.Arn}
        - {Id: topic, Arn: !Ref Topic}
        - {Id: bus, Arn: !GetAtt Bus.Arn}
  Topic:
    Type: AWS::SNS::Topic
  Bus:
    Type: AWS::Events::EventBus
    Properties: {Name: other}
""",
    )
    app = load(write(tmp_path, body))
    rule = app.services["Rule"]
    assert isinstance(rule, RuleSpec)
    assert [t.id for t in rule.targets] == [
        "bus",  # the engine delivers to buses
        "fn",  # through the queue canaria adds for the function
        "queue",  # through a queue canaria reads and sends on from
        "topic",  # ... and publishes from
    ]
    assert rule.targets[-1].arn.endswith(":canaria-Rule-topic")
    (relayed,) = [s for s in app.event_sources if s.event == "Rule.queue"]
    assert isinstance(relayed, QueueEventSource) and relayed.forward is not None
    assert relayed.forward.message_group_id == "g1"
    warnings = "\n".join(app.warnings)
    assert "Targets[1] (arn:aws:batch:us-east-1:123456789012:job-queue/q) is not delivered" in (
        warnings
    )
    assert "delivery to function Fn" not in warnings  # delivered through a queue of its own
    assert "Topic" not in warnings
    assert "AllowedPattern is not checked" in warnings
    assert isinstance(app.services["Bucket"], BucketSpec)


def queue_and_consumer(queue_props: str, event_props: str, timeout: int = 3) -> str:
    return resources(
        function(
            "Worker",
            f"Timeout: {timeout}\nEvents:\n  Jobs:\n    Type: SQS\n    Properties:\n"
            "      Queue: !GetAtt Jobs.Arn\n"
            + "".join(f"      {line}\n" for line in event_props.splitlines()),
        ),
        "  Jobs:\n    Type: AWS::SQS::Queue\n    Properties: {" + queue_props + "}\n",
    )


def test_sqs_events_become_queue_event_sources(tmp_path: Path) -> None:
    body = queue_and_consumer(
        "VisibilityTimeout: 60",
        "BatchSize: 25\nMaximumBatchingWindowInSeconds: 2\n"
        "FunctionResponseTypes: [ReportBatchItemFailures]",
        timeout=30,
    )
    app = load(write(tmp_path, body))
    assert app.event_sources == (
        QueueEventSource(
            "Worker",
            "Jobs",
            "app-Jobs",
            f"arn:aws:sqs:{ACCOUNT_REGION}:app-Jobs",
            batch_size=25,
            max_batching_window_s=2,
            report_batch_item_failures=True,
        ),
    )
    assert not [w for w in app.warnings if "Jobs" in w]


def test_sqs_filter_criteria_are_kept_as_json_patterns(tmp_path: Path) -> None:
    body = queue_and_consumer(
        "",
        'FilterCriteria:\n  Filters:\n    - Pattern: \'{"body": {"kind": ["order"]}}\'\n'
        "    - Pattern: {body: [{prefix: URGENT}]}",
    )
    (source,) = load(write(tmp_path, body)).event_sources
    assert source.filters == (
        '{"body": {"kind": ["order"]}}',
        '{"body": [{"prefix": "URGENT"}]}',
    )


@pytest.mark.parametrize(
    ("queue_props", "event_props", "timeout", "words"),
    [
        ("VisibilityTimeout: 10", "", 30, "VisibilityTimeout (10 s) is less than Worker's Timeout"),
        ("", "", 31, "VisibilityTimeout (30 s) is less than"),
        ("", "BatchSize: 50", 3, "needs MaximumBatchingWindowInSeconds"),
        ("", "BatchSize: 0", 3, "out of range"),
        ("", "FunctionResponseTypes: [Partial]", 3, "unknown response type 'Partial'"),
        ("", "FilterCriteria: {Filters: [{Pattern: '{oops'}]}", 3, "the pattern is not JSON"),
        ("", "FilterCriteria: {Filters: [{Pattern: {body: x}}]}", 3, "an object or an array"),
        ("", "FilterCriteria: {Filters: [" + "{Pattern: {a: [1]}}, " * 6 + "]}", 3, "6 filters"),
    ],
)
def test_sqs_events_lambda_would_refuse_are_refused(
    tmp_path: Path, queue_props: str, event_props: str, timeout: int, words: str
) -> None:
    err = fails(write(tmp_path, queue_and_consumer(queue_props, event_props, timeout)))
    assert words in str(err)
    assert err.prop is not None and err.prop.startswith("Resources.Worker.Properties.Events.Jobs")


def test_an_sns_event_gets_a_queue_subscribed_to_its_topic(tmp_path: Path) -> None:
    body = resources(
        function(
            "Listener",
            "Events:\n  Heard:\n    Type: SNS\n    Properties:\n      Topic: !Ref Alerts\n"
            "      FilterPolicy: {level: [high]}\n"
            "  Elsewhere:\n    Type: SNS\n    Properties:\n"
            "      Topic: arn:aws:sns:us-east-1:123456789012:not-here\n",
        ),
        "  Alerts:\n    Type: AWS::SNS::Topic\n",
    )
    app = load(write(tmp_path, body))
    (source,) = app.event_sources
    assert source.kind is EventSourceKind.SNS and source.batch_size == 1
    assert source.queue_name == "canaria-Listener-Heard"
    queue = app.services["Listener.Events.Heard.Queue"]
    subscription = app.services["Listener.Events.Heard.Subscription"]
    assert isinstance(queue, QueueSpec) and queue.attributes == {"VisibilityTimeout": "4"}
    assert subscription == SubscriptionSpec(
        "Listener.Events.Heard.Subscription",
        f"arn:aws:sns:{ACCOUNT_REGION}:app-Alerts",
        "sqs",
        f"arn:aws:sqs:{ACCOUNT_REGION}:canaria-Listener-Heard",
        {"FilterPolicy": '{"level": ["high"]}'},
    )
    order = list(app.services)
    assert order.index("Alerts") < order.index("Listener.Events.Heard.Subscription")
    assert order.index("Listener.Events.Heard.Queue") < order.index(
        "Listener.Events.Heard.Subscription"
    )
    assert any("event Elsewhere (SNS) is not delivered" in w for w in app.warnings)


def test_an_eventbridge_event_gets_a_queue_a_rule_targets(tmp_path: Path) -> None:
    body = resources(
        function(
            "Listener",
            "Timeout: 10\nEvents:\n  Saved:\n    Type: EventBridgeRule\n    Properties:\n"
            "      EventBusName: !Ref Bus\n      Pattern: {source: [shop]}\n"
            "      Target: {Id: toListener}\n"
            "  Old:\n    Type: CloudWatchEvent\n    Properties:\n"
            "      Pattern: {source: [aws.ec2]}\n      State: DISABLED\n"
            "  Lost:\n    Type: EventBridgeRule\n    Properties:\n"
            "      EventBusName: somebody-elses\n      Pattern: {source: [x]}\n",
        ),
        "  Bus:\n    Type: AWS::Events::EventBus\n    Properties: {Name: shop}\n",
    )
    app = load(write(tmp_path, body))
    saved, old = app.event_sources
    assert (saved.kind, saved.enabled, old.enabled) == (EventSourceKind.EVENTBRIDGE, True, False)
    queue = app.services["Listener.Events.Saved.Queue"]
    assert queue == QueueSpec(
        "Listener.Events.Saved.Queue", "canaria-Listener-Saved", {"VisibilityTimeout": "11"}
    )
    rule = app.services["Listener.Events.Saved.Rule"]
    assert isinstance(rule, RuleSpec)
    assert (rule.event_bus, rule.event_pattern) == ("shop", {"source": ["shop"]})
    assert [(t.id, t.arn) for t in rule.targets] == [
        ("toListener", f"arn:aws:sqs:{ACCOUNT_REGION}:canaria-Listener-Saved")
    ]
    old_rule = app.services["Listener.Events.Old.Rule"]
    assert isinstance(old_rule, RuleSpec) and old_rule.event_bus == "default"
    assert any("bus 'somebody-elses' is not one this template declares" in w for w in app.warnings)


def s3_consumer(event_props: str) -> str:
    return resources(
        function(
            "Copier",
            "Events:\n  Arrived:\n    Type: S3\n    Properties:\n"
            + "".join(f"      {line}\n" for line in event_props.splitlines()),
        ),
        "  Inbox:\n    Type: AWS::S3::Bucket\n",
    )


def test_an_s3_event_gets_a_queue_the_bucket_notifies(tmp_path: Path) -> None:
    body = s3_consumer(
        "Bucket: !Ref Inbox\nEvents: [s3:ObjectCreated:*, s3:ObjectRemoved:Delete]\n"
        "Filter: {S3Key: {Rules: [{Name: Prefix, Value: in/}, {Name: suffix, Value: .txt}]}}"
    )
    app = load(write(tmp_path, body))
    (source,) = app.event_sources
    assert source.kind is EventSourceKind.S3
    assert app.services["Inbox.Notifications"] == BucketNotificationSpec(
        "Inbox.Notifications",
        "app-inbox",
        (
            QueueNotification(
                "CopierArrived",
                f"arn:aws:sqs:{ACCOUNT_REGION}:canaria-Copier-Arrived",
                ("s3:ObjectCreated:*", "s3:ObjectRemoved:Delete"),
                (("prefix", "in/"), ("suffix", ".txt")),
            ),
        ),
    )
    assert list(app.services)[-1] == "Inbox.Notifications"  # after the bucket and the queue


@pytest.mark.parametrize(
    ("props", "prop", "words"),
    [
        ("Bucket: other-bucket\nEvents: s3:ObjectCreated:*", "Bucket", "a bucket of this"),
        ("Bucket: !Ref Inbox\nEvents: ObjectCreated", "Events", "not an S3 event type"),
        (
            "Bucket: !Ref Inbox\nEvents: s3:ObjectCreated:*\n"
            "Filter: {S3Key: {Rules: [{Name: middle, Value: x}]}}",
            "Filter.S3Key.Rules[0].Name",
            "unknown filter rule 'middle'",
        ),
    ],
)
def test_s3_events_lambda_would_refuse_are_refused(
    tmp_path: Path, props: str, prop: str, words: str
) -> None:
    err = fails(write(tmp_path, s3_consumer(props)))
    assert words in str(err)
    assert err.prop == f"Resources.Copier.Properties.Events.Arrived.Properties.{prop}"


def test_a_buckets_own_notifications_are_kept_beside_its_s3_events(tmp_path: Path) -> None:
    body = resources(
        function(
            "Copier",
            "Events:\n  Arrived:\n    Type: S3\n    Properties:\n"
            "      Bucket: !Ref Inbox\n      Events: s3:ObjectCreated:*\n",
        ),
        """\
  Inbox:
    Type: AWS::S3::Bucket
    Properties:
      NotificationConfiguration:
        EventBridgeConfiguration: {EventBridgeEnabled: true}
        QueueConfigurations:
          - Event: s3:ObjectRemoved:*
            Queue: !GetAtt Removed.Arn
            Filter: {S3Key: {Rules: [{Name: suffix, Value: .txt}]}}
        TopicConfigurations:
          - {Event: s3:ObjectCreated:Put, Topic: !Ref Created}
  Removed:
    Type: AWS::SQS::Queue
  Created:
    Type: AWS::SNS::Topic
""",
    )
    app = load(write(tmp_path, body))
    spec = app.services["Inbox.Notifications"]
    assert isinstance(spec, BucketNotificationSpec) and spec.event_bridge
    assert [(q.id, q.arn, q.events, q.filter_rules) for q in spec.queues] == [
        (
            "InboxQueue0",
            f"arn:aws:sqs:{ACCOUNT_REGION}:app-Removed",
            ("s3:ObjectRemoved:*",),
            (("suffix", ".txt"),),
        ),
        (
            "CopierArrived",
            f"arn:aws:sqs:{ACCOUNT_REGION}:canaria-Copier-Arrived",
            ("s3:ObjectCreated:*",),
            (),
        ),
    ]
    assert [t.arn for t in spec.topics] == [f"arn:aws:sns:{ACCOUNT_REGION}:app-Created"]
    assert list(app.services)[-1] == "Inbox.Notifications"  # after the queues and the topic


def test_generated_names_of_a_long_stack_stay_distinct(tmp_path: Path) -> None:
    """A stack (the template's folder) named at length: names CloudFormation would generate
    are cut to each service's limit and stay two names for two resources."""
    body = resources(
        function(),
        "  EncryptedBucket:\n    Type: AWS::S3::Bucket\n"
        "  UnencryptedBucket:\n    Type: AWS::S3::Bucket\n"
        "  QueueA:\n    Type: AWS::SQS::Queue\n"
        "  QueueB:\n    Type: AWS::SQS::Queue\n    Properties: {FifoQueue: true}\n",
    )
    written = Path(write(tmp_path, body))
    stack = written.parent.rename(tmp_path / ("evolutionary-serverless-architectures-" * 3))
    app = load(str(stack / written.name))
    names = {k: s.name for k, s in app.services.items()}  # type: ignore[union-attr]
    assert len(set(names.values())) == 4
    assert all(len(n) <= 63 for k, n in names.items() if "Bucket" in k)
    assert names["EncryptedBucket"].startswith("evolutionary-serverless-")
    assert len(names["QueueA"]) == 80
    assert names["QueueB"].endswith(".fifo") and len(names["QueueB"]) == 80


def rule_with_target(target: str) -> str:
    return resources(
        function(),
        "  Inbox:\n    Type: AWS::SQS::Queue\n"
        "  Rule:\n    Type: AWS::Events::Rule\n    Properties:\n"
        "      EventPattern: {source: [x]}\n      Targets:\n"
        f"        - {{Id: t, Arn: !GetAtt Inbox.Arn, {target}}}\n",
    )


@pytest.mark.parametrize(
    ("target", "message"),
    [
        (
            "Input: '{}', InputPath: $.detail",
            "Input and InputPath are both given",
        ),
        (
            "InputTransformer: {InputPathsMap: {a: $.detail.a}, InputTemplate: '\"<b>\"'}",
            "InputTemplate uses <b>, which is neither a variable of InputPathsMap",
        ),
        (
            "InputTransformer: {InputPathsMap: {a: detail.a}, InputTemplate: '\"<a>\"'}",
            "InputPathsMap.a: 'detail.a' is not a JSON path",
        ),
        ("InputTransformer: {InputPathsMap: {a: $.a}}", "InputTemplate"),
        ("InputPath: detail", "'detail' is not a JSON path"),
        ("Input: 'not json'", "Input is not JSON"),
    ],
)
def test_a_target_input_eventbridge_refuses_is_refused_at_its_line(
    tmp_path: Path, target: str, message: str
) -> None:
    path = write(tmp_path, rule_with_target(target))
    error = fails(path)
    assert message in str(error)
    assert error.line == line_of(path, "Id: t")


def test_a_queue_target_with_a_transform_is_read_by_canaria(tmp_path: Path) -> None:
    body = rule_with_target(
        "InputTransformer: {InputPathsMap: {a: $.detail.a}, InputTemplate: '{\"a\": <a>}'}"
    )
    app = load(write(tmp_path, body))
    rule = app.services["Rule"]
    assert isinstance(rule, RuleSpec)
    (target,) = rule.targets  # the engine delivers to canaria's queue, not to Inbox
    assert target.arn == queue_arn("canaria-Rule-t")
    (source,) = [s for s in app.event_sources if s.event == "Rule.t"]
    assert isinstance(source, QueueEventSource)
    assert source.forward is not None and source.forward.arn == queue_arn("app-Inbox")
    assert source.transform is not None and source.transform.paths == (("a", "$.detail.a"),)
    assert source.rule_arn.endswith(":rule/app-Rule")


def test_a_sam_eventbridge_event_carries_its_transform(tmp_path: Path) -> None:
    events = (
        "Events:\n  Placed:\n    Type: EventBridgeRule\n    Properties:\n"
        "      Pattern: {source: [x]}\n      InputPath: $.detail\n"
    )
    app = load(write(tmp_path, resources(function(extra=events))))
    (source,) = app.event_sources
    assert isinstance(source, QueueEventSource)
    assert source.transform is not None and source.transform.input_path == "$.detail"
    assert "InputPath is not applied" not in "\n".join(app.warnings)


def destination_template(connection: str, destination: str, target: str = "") -> str:
    return resources(
        "  Conn:\n    Type: AWS::Events::Connection\n    Properties:\n"
        + "".join(f"      {line}\n" for line in connection.splitlines())
        + "  Dest:\n    Type: AWS::Events::ApiDestination\n    Properties:\n"
        + "".join(f"      {line}\n" for line in destination.splitlines())
        + "  Rule:\n    Type: AWS::Events::Rule\n    Properties:\n"
        "      EventPattern: {source: [x]}\n      Targets:\n"
        f"        - {{Id: t, Arn: !GetAtt Dest.Arn{target}}}\n"
    )


API_KEY = (
    "AuthorizationType: API_KEY\n"
    "AuthParameters: {ApiKeyAuthParameters: {ApiKeyName: k, ApiKeyValue: v}}"
)
DEST = (
    "ConnectionArn: !GetAtt Conn.Arn\nInvocationEndpoint: https://example.com/*\nHttpMethod: POST"
)


def test_an_api_destination_target_is_called_by_canaria(tmp_path: Path) -> None:
    target = (
        ", HttpParameters: {PathParameterValues: [$.detail.id]}, "
        "RetryPolicy: {MaximumRetryAttempts: 2}"
    )
    app = load(write(tmp_path, destination_template(API_KEY, DEST, target)))
    (source,) = app.event_sources
    assert isinstance(source, QueueEventSource)
    forward = source.forward
    assert forward is not None and forward.kind == "api_destination"
    assert forward.destination is not None
    assert forward.destination.arn.startswith(
        "arn:aws:events:us-east-1:123456789012:api-destination/app-Dest/"
    )
    assert forward.destination.connection.api_key == ("k", "v")
    assert forward.http is not None and forward.http.path_values == ("$.detail.id",)
    assert forward.delivery.max_attempts == 2
    assert not [w for w in app.warnings if "Dest" in w or "Conn" in w]


@pytest.mark.parametrize(
    ("connection", "destination", "target", "message"),
    [
        (
            "AuthorizationType: BASIC\nAuthParameters: {}",
            DEST,
            "",
            "BASIC needs BasicAuthParameters",
        ),
        (
            "AuthorizationType: TOKEN\nAuthParameters: {}",
            DEST,
            "",
            "unknown AuthorizationType 'TOKEN'",
        ),
        (API_KEY, DEST.replace("POST", "TRACE"), "", "unknown HttpMethod 'TRACE'"),
        (
            API_KEY,
            DEST,
            ", RetryPolicy: {MaximumRetryAttempts: 186}",
            "MaximumRetryAttempts 186 is over 185",
        ),
        (
            API_KEY,
            DEST,
            ", DeadLetterConfig: {Arn: arn:aws:sns:us-east-1:1:t}",
            "not a standard SQS queue",
        ),
    ],
)
def test_a_connection_destination_or_target_eventbridge_refuses_is_refused(
    tmp_path: Path, connection: str, destination: str, target: str, message: str
) -> None:
    error = fails(write(tmp_path, destination_template(connection, destination, target)))
    assert message in str(error)


def test_a_destination_whose_endpoint_is_no_url_is_not_called(tmp_path: Path) -> None:
    body = destination_template(API_KEY, DEST.replace("https://example.com/*", "pendpoint"))
    app = load(write(tmp_path, body))
    assert not app.event_sources
    warnings = "\n".join(app.warnings)
    assert "InvocationEndpoint 'pendpoint' is not an HTTP(S) URL" in warnings
    assert "Resources.Rule: Targets[0] (arn:aws:events:" in warnings
    assert "is not delivered locally" in warnings


def test_policies_and_keys_are_skipped_for_what_they_are(tmp_path: Path) -> None:
    body = resources(
        function(),
        """\
  Queue:
    Type: AWS::SQS::Queue
  QueuePolicy:
    Type: AWS::SQS::QueuePolicy
    Properties:
      Queues: [!Ref Queue]
      PolicyDocument: {Statement: [{Effect: Allow, Principal: '*', Action: 'sqs:*'}]}
  Key:
    Type: AWS::KMS::Key
    Properties: {KeyPolicy: {Statement: []}}
  Widget:
    Type: AWS::Example::Widget
""",
    )
    warnings = "\n".join(load(write(tmp_path, body)).warnings)
    assert (
        "Resources.QueuePolicy: AWS::SQS::QueuePolicy is skipped: resource policies are not "
        "enforced locally"
    ) in warnings
    assert "AWS::KMS::Key is skipped: encryption keys are not used locally" in warnings
    assert "AWS::Example::Widget is skipped: canaria does not run this resource type" in warnings


GRAPHQL = """\
  Updates:
    Type: AWS::Serverless::GraphQLApi
    Properties:
      SchemaInline: 'type Query { ping: String }'
      Auth: {Type: AWS_IAM}
  Rule:
    Type: AWS::Events::Rule
    Properties:
      EventPattern: {source: [x]}
      Targets:
        - {Id: api, Arn: !GetAtt Updates.GraphQLEndpointArn%s}
"""


def test_an_appsync_target_runs_its_operation_on_the_templates_api(tmp_path: Path) -> None:
    operation = ", AppSyncParameters: {GraphQLOperation: 'mutation { ping }'}"
    app = load(write(tmp_path, resources(GRAPHQL % operation)))
    (source,) = [s for s in app.event_sources if isinstance(s, QueueEventSource)]
    assert source.forward is not None and source.forward.kind == "appsync"
    assert source.forward.graphql == ("Updates", "mutation { ping }")
    assert source.forward.arn.endswith(":endpoints/graphql-api/updates")


def test_an_appsync_target_without_its_operation_is_refused(tmp_path: Path) -> None:
    path = write(tmp_path, resources(GRAPHQL % ""))
    error = fails(path)
    assert "an AppSync target needs AppSyncParameters with its GraphQLOperation" in str(error)
