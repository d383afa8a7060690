"""Planning what to create in the services engine, without any I/O; and generated secrets."""

from __future__ import annotations

import json

from canaria.models import (
    BucketSpec,
    GeneratedSecret,
    ParameterSpec,
    QueueSpec,
    RuleSpec,
    RuleTarget,
    SubscriptionSpec,
    TopicSpec,
)
from canaria.services import Observed, plan
from canaria.services.provision import Create, UpdateParameter, UpdateRule, rule_shape
from canaria.services.secrets import generate_password, secret_string

TOPIC = "arn:aws:sns:us-east-1:123456789012:t"
RESOURCES = {
    "B": BucketSpec("B", "bucket-one"),
    "Q": QueueSpec("Q", "q"),
    "T": TopicSpec("T", "t"),
    "S": SubscriptionSpec("S", TOPIC, "sqs", "arn:aws:sqs:us-east-1:123456789012:q"),
    "P": ParameterSpec("P", "/p", "String", "new"),
    "P2": ParameterSpec("P2", "/same", "String", "v"),
}


def test_everything_missing_is_created_in_order() -> None:
    assert plan(RESOURCES, Observed()) == tuple(Create(r) for r in RESOURCES.values())


def test_what_exists_is_kept_and_a_changed_parameter_is_overwritten() -> None:
    observed = Observed(
        buckets=frozenset({"bucket-one"}),
        queues=frozenset({"q"}),
        topics=frozenset({TOPIC}),
        subscriptions=frozenset({(TOPIC, "sqs", "arn:aws:sqs:us-east-1:123456789012:q")}),
        parameters={"/p": "old", "/same": "v"},
    )
    assert plan(RESOURCES, observed) == (UpdateParameter(RESOURCES["P"]),)  # type: ignore[arg-type]


def test_a_rule_the_engine_holds_otherwise_is_written_again() -> None:
    queue = "arn:aws:sqs:us-east-1:123456789012:q"
    rule = RuleSpec("R", "r", "default", {"source": ["a"]}, targets=(RuleTarget("t", queue),))
    same = rule_shape('{"source": ["a"]}', None, "ENABLED", [{"Id": "t", "Arn": queue}])
    assert plan({"R": rule}, Observed(rules={("default", "r"): same})) == ()
    other_pattern = rule_shape('{"source": ["b"]}', None, "ENABLED", [{"Id": "t", "Arn": queue}])
    assert plan({"R": rule}, Observed(rules={("default", "r"): other_pattern})) == (
        UpdateRule(rule),
    )
    more_targets = rule_shape(
        '{"source": ["a"]}', None, "ENABLED", [{"Id": "t", "Arn": queue}, {"Id": "u", "Arn": queue}]
    )
    assert plan({"R": rule}, Observed(rules={("default", "r"): more_targets})) == (
        UpdateRule(rule),
    )


def test_generated_passwords_follow_the_rules() -> None:
    spec = GeneratedSecret(length=40, exclude_characters="abc", exclude_punctuation=True)
    for _ in range(50):
        password = generate_password(spec)
        assert len(password) == 40
        assert not set(password) & set("abc")
        assert password.isalnum()
        assert any(c.isupper() for c in password) and any(c.isdigit() for c in password)
        assert any(c.islower() for c in password)
    only_digits = GeneratedSecret(
        length=8, exclude_lowercase=True, exclude_uppercase=True, exclude_punctuation=True
    )
    assert generate_password(only_digits).isdigit()


def test_a_secret_template_gets_the_password_under_its_key() -> None:
    spec = GeneratedSecret(length=12, template='{"username": "admin"}', key="password")
    body = json.loads(secret_string(spec))
    assert body["username"] == "admin" and len(body["password"]) == 12
