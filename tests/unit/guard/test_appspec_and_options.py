"""Reading a Lambda target from an AppSpec revision; options refused before any call."""

from __future__ import annotations

import json

import pytest

from canaria.guard.aws import GuardError, appspec_target
from canaria.guard.model import LambdaTarget, Mode
from canaria.guard.runner import GuardOptions

YAML = """
version: 0.0
Resources:
  - myLambdaFunction:
      Type: AWS::Lambda::Function
      Properties:
        Name: "my-app-Hello-AbC"
        Alias: "live"
        CurrentVersion: "1"
        TargetVersion: "2"
Hooks:
  - BeforeAllowTraffic: "PreTraffic"
"""


def test_appspec_yaml_and_json() -> None:
    expected = LambdaTarget("my-app-Hello-AbC", "live", "1", "2")
    assert (
        appspec_target({"revisionType": "AppSpecContent", "appSpecContent": {"content": YAML}})
        == expected
    )
    as_json = json.dumps(
        {
            "Resources": [
                {
                    "f": {
                        "Properties": {
                            "Name": "my-app-Hello-AbC",
                            "Alias": "live",
                            "CurrentVersion": 1,
                            "TargetVersion": 2,
                        }
                    }
                }
            ]
        }
    )
    assert appspec_target({"string": {"content": as_json}}) == expected


@pytest.mark.parametrize(
    "revision",
    [{}, {"appSpecContent": {"content": ": not yaml ["}}, {"appSpecContent": {"content": "[]"}},
     {"appSpecContent": {"content": "Resources: [{f: {Properties: {Name: x}}}]"}}],
)  # fmt: skip
def test_revisions_without_a_lambda_target(revision: dict[str, object]) -> None:
    assert appspec_target(revision) is None


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({}, "exactly one of --stack or --application"),
        ({"stack": "s", "application": "a"}, "exactly one of --stack or --application"),
        ({"stack": "s", "groups": ("g",)}, "--group needs --application"),
        ({"stack": "s", "mode": Mode.ALARM}, "--act alarm needs --alarm-name"),
        ({"stack": "s", "poll_s": 0}, "--poll must be positive"),
        ({"stack": "s", "webhooks": ("ftp://x",)}, "http:// or https://"),
    ],
)
def test_bad_options_are_refused(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(GuardError, match=message.replace("-", r"\-")):
        GuardOptions(**kwargs)  # type: ignore[arg-type]
