"""The judge settings a deployment request may carry, checked before anything starts."""

from __future__ import annotations

import pytest

from canaria.controller.deployments import judge_override


def test_valid_settings_pass_through_as_numbers() -> None:
    raw = {"enabled": False, "alpha": 0.05, "delta": 1, "slow_tolerance_ms": 0}
    assert judge_override(raw) == {
        "enabled": False,
        "alpha": 0.05,
        "delta": 1.0,
        "slow_tolerance_ms": 0.0,
    }
    assert judge_override({}) == {}


def test_every_problem_is_named_at_once() -> None:
    with pytest.raises(ValueError) as err:
        judge_override({"alpha": 1, "enabled": "yes", "delta": True, "alfa": 0.1})
    message = str(err.value)
    for words in (
        "judge.alpha must be a number in (0, 1)",
        "judge.enabled must be true or false",
        "judge.delta must be a number > 0",
        "judge.alfa is not a judge setting",
    ):
        assert words in message


@pytest.mark.parametrize("raw", [[], "alpha=0.1", 3])
def test_not_an_object(raw: object) -> None:
    with pytest.raises(ValueError, match="judge must be an object"):
        judge_override(raw)


def test_tolerance_must_be_finite_and_not_negative() -> None:
    for bad in (-1, float("inf"), float("nan"), "1"):
        with pytest.raises(ValueError, match="slow_tolerance_ms"):
            judge_override({"slow_tolerance_ms": bad})
