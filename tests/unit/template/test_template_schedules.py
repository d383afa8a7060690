"""Functions' Schedule and ScheduleV2 events → the schedules canaria fires."""

from __future__ import annotations

from pathlib import Path

import pytest

from canaria.models import QueueEventSource, RuleSpec
from canaria.models.schedules import ScheduleKind, ScheduleTarget
from canaria.template import load
from tests.unit.template.template_helpers import fails, function, line_of, resources, write

EVENTS = """\
Events:
  Nightly:
    Type: Schedule
    Properties:
      Schedule: cron(0 3 * * ? *)
      Input: '{"job": "cleanup"}'
  Every5:
    Type: Schedule
    Properties:
      Schedule: rate(5 minutes)
      Name: every-five
      Enabled: false
  Report:
    Type: ScheduleV2
    Properties:
      ScheduleExpression: cron(0 9 ? * MON *)
      ScheduleExpressionTimezone: Europe/Paris
      Input: {report: weekly}
      RetryPolicy: {MaximumRetryAttempts: 0}
"""


def test_schedule_events_become_schedules(tmp_path: Path) -> None:
    app = load(write(tmp_path, resources(function("Fn", EVENTS))))
    nightly, every5, report = app.schedules
    assert (nightly.target, nightly.name, nightly.expression) == (
        "Fn",
        "Nightly",
        "cron(0 3 * * ? *)",
    )
    assert nightly.kind is ScheduleKind.RULE and nightly.input == '{"job": "cleanup"}'
    assert nightly.rule_arn == "arn:aws:events:us-east-1:123456789012:rule/FnNightly"
    assert every5.rule_arn.endswith(":rule/every-five") and not every5.enabled
    assert report.kind is ScheduleKind.SCHEDULER and report.timezone == "Europe/Paris"
    assert report.input == '{"report": "weekly"}'
    assert report.rule_arn.endswith(":schedule/default/FnReport")
    warnings = "\n".join(app.warnings)
    assert "event Report: RetryPolicy is accepted but not applied locally" in warnings
    assert "not triggered by canaria" not in warnings


@pytest.mark.parametrize(
    ("event", "needle", "words"),
    [
        ("{Type: Schedule, Properties: {Schedule: rate(1 minutes)}}", "rate(", "rate(1 minute)"),
        ("{Type: Schedule, Properties: {Schedule: cron(0 10 * * *)}}", "cron(", "6 required"),
        (
            "{Type: Schedule, Properties: {Schedule: 'at(2030-01-01T00:00:00)'}}",
            "at(",
            "ScheduleV2",
        ),
        (
            "{Type: ScheduleV2, Properties: {ScheduleExpression: rate(1 day),"
            " ScheduleExpressionTimezone: Mars/Base}}",
            "Mars",
            "unknown time zone",
        ),
        (
            "{Type: Schedule, Properties: {Schedule: rate(1 day), Input: 'not json'}}",
            "not json",
            "Input is not JSON",
        ),
        (
            "{Type: ScheduleV2, Properties: {ScheduleExpression: rate(1 day), State: PAUSED}}",
            "State",
            "unknown State 'PAUSED'",
        ),
    ],
)
def test_a_bad_schedule_is_refused_at_its_line(
    tmp_path: Path, event: str, needle: str, words: str
) -> None:
    path = write(tmp_path, resources(function("Fn", f"Events:\n  Tick: {event}\n")))
    err = fails(path)
    assert words in str(err)
    assert err.line == line_of(path, needle)


def test_a_state_machines_schedule_starts_it_and_its_other_events_are_named(
    tmp_path: Path,
) -> None:
    body = resources(
        """\
  Sync:
    Type: AWS::Serverless::StateMachine
    Properties:
      Name: orders-sync
      Definition: {StartAt: Done, States: {Done: {Type: Succeed}}}
      Events:
        Nightly:
          Type: ScheduleV2
          Properties: {ScheduleExpression: 'cron(0 3 * * ? *)', Input: '{"full": true}'}
        Orders:
          Type: EventBridgeRule
          Properties: {Pattern: {source: [shop]}}
        Start:
          Type: Api
          Properties: {Path: /start, Method: post}
"""
    )
    app = load(write(tmp_path, body))
    (nightly,) = app.schedules
    assert (nightly.target, nightly.target_type) == ("orders-sync", ScheduleTarget.STATE_MACHINE)
    assert nightly.input == '{"full": true}'
    # an EventBridge event starts the machine through a queue its rule targets
    (orders,) = app.event_sources
    assert isinstance(orders, QueueEventSource) and orders.state_machine == "orders-sync"
    rules = [r for r in app.services.values() if isinstance(r, RuleSpec)]
    assert [r.targets[0].arn.rsplit(":", 1)[-1] for r in rules] == [orders.queue_name]
    assert not any("(EventBridgeRule) is not triggered" in w for w in app.warnings)
    assert any("event Start (Api) is not triggered" in w for w in app.warnings)


def test_a_scheduled_rule_starts_its_state_machine_targets_with_their_transform(
    tmp_path: Path,
) -> None:
    body = resources(
        """\
  Machine:
    Type: AWS::StepFunctions::StateMachine
    Properties:
      StateMachineName: nightly
      RoleArn: arn:aws:iam::123456789012:role/r
      Definition: {StartAt: Done, States: {Done: {Type: Pass, End: true}}}
  Queue:
    Type: AWS::SQS::Queue
  Nightly:
    Type: AWS::Events::Rule
    Properties:
      ScheduleExpression: cron(0 3 * * ? *)
      Targets:
        - Id: machine
          Arn: !Ref Machine
          InputTransformer: {InputPathsMap: {at: $.time}, InputTemplate: '{"at": <at>}'}
        - {Id: queue, Arn: !GetAtt Queue.Arn}
"""
    )
    app = load(write(tmp_path, body))
    schedule, relayed = app.schedules
    assert schedule.target == "nightly" and schedule.target_type is ScheduleTarget.STATE_MACHINE
    assert schedule.transform is not None and schedule.transform.paths == (("at", "$.time"),)
    # the queue gets the event through a relay queue of canaria's, read as a matched
    # event's is (its transform applied there)
    assert relayed.target_type is ScheduleTarget.QUEUE and relayed.transform is None
    (source,) = [s for s in app.event_sources if getattr(s, "queue_name", "") == relayed.target]
    assert source.forward is not None and source.forward.arn.endswith(":app-Queue")
    assert not [w for w in app.warnings if "nothing on schedule" in w]


def test_a_scheduler_resource_sends_its_input_to_a_standard_queue(tmp_path: Path) -> None:
    """serverless-patterns' eventbridge-schedule-to-sqs-sam: a text Input (a queue's
    message body may be any text) sent to the queue on schedule; a FIFO queue target is
    not run (a warning), a function target's Input must still be JSON."""
    body = resources(
        """\
  Jobs:
    Type: AWS::SQS::Queue
    Properties: {QueueName: EventBridgeTargetQueue}
  Ordered:
    Type: AWS::SQS::Queue
    Properties: {FifoQueue: true}
  ToQueue:
    Type: AWS::Scheduler::Schedule
    Properties:
      ScheduleExpression: rate(5 minutes)
      FlexibleTimeWindow: {Mode: "OFF"}
      Target:
        Arn: !GetAtt Jobs.Arn
        RoleArn: arn:aws:iam::123456789012:role/r
        Input: This message was sent using EventBridge Scheduler!
  ToFifo:
    Type: AWS::Scheduler::Schedule
    Properties:
      ScheduleExpression: rate(5 minutes)
      FlexibleTimeWindow: {Mode: "OFF"}
      Target: {Arn: !GetAtt Ordered.Arn, RoleArn: arn:aws:iam::123456789012:role/r}
"""
    )
    app = load(write(tmp_path, body))
    (schedule,) = app.schedules
    assert (schedule.target, schedule.target_type) == (
        "EventBridgeTargetQueue",
        ScheduleTarget.QUEUE,
    )
    assert schedule.input == "This message was sent using EventBridge Scheduler!"
    assert any("ToFifo: the schedule is not run" in w for w in app.warnings)
