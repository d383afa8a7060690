"""Schedule expressions, checked as EventBridge checks them."""

from __future__ import annotations

import pytest

from canaria.models.schedules import ScheduleKind, check_expression, check_timezone, rate_seconds

RULE, SCHEDULER = ScheduleKind.RULE, ScheduleKind.SCHEDULER


@pytest.mark.parametrize(
    "expression",
    [
        "rate(1 minute)",
        "rate(5 minutes)",
        "rate(1 hour)",
        "rate(12 hours)",
        "rate(7 days)",
        "cron(0 10 * * ? *)",
        "cron(0/15 * ? * MON-FRI *)",
        "cron(0 10 L * ? *)",
        "cron(0 9 ? * 2#1 *)",
    ],
)
def test_what_eventbridge_takes(expression: str) -> None:
    assert check_expression(expression, RULE) is None
    assert check_expression(expression, SCHEDULER) is None


@pytest.mark.parametrize(
    ("expression", "words"),
    [
        ("rate(1 minutes)", "must be written rate(1 minute)"),
        ("rate(5 minute)", "must be written rate(5 minutes)"),
        ("rate(0 days)", "positive"),
        ("rate(3 weeks)", "unknown rate unit 'weeks'"),
        ("cron(0 10 * * *)", "6 required, 5 provided"),
        ("cron(61 * * * ? *)", "Invalid minute value '61'"),
        ("cron(0 10 * * MON *)", "One must be a question mark"),
        ("every day", "is not a schedule expression"),
    ],
)
def test_what_it_refuses_says_why(expression: str, words: str) -> None:
    problem = check_expression(expression, RULE)
    assert problem is not None and words in problem


def test_the_scheduler_does_not_hold_a_rates_unit_to_its_value() -> None:
    assert check_expression("rate(5 minute)", SCHEDULER) is None
    assert check_expression("rate(1 hours)", SCHEDULER) is None
    assert "unknown rate unit" in (check_expression("rate(5 weeks)", SCHEDULER) or "")


def test_a_one_time_schedule_is_for_the_scheduler_only() -> None:
    assert check_expression("at(2030-01-01T09:00:00)", SCHEDULER) is None
    assert "ScheduleV2" in (check_expression("at(2030-01-01T09:00:00)", RULE) or "")
    assert "month must be in 1..12" in (
        check_expression("at(2030-13-01T09:00:00)", SCHEDULER) or ""
    )


def test_time_zones_and_rates() -> None:
    assert check_timezone("Europe/Paris") is None
    assert "unknown time zone 'Mars/Base'" in (check_timezone("Mars/Base") or "")
    assert rate_seconds("rate(2 hours)") == 7200
    assert rate_seconds("cron(0 10 * * ? *)") is None
