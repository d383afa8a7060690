"""The deployment row's JSON: the typed judge keeps the flat shape rows have always had."""

from __future__ import annotations

from canaria.models import JudgeSettings
from canaria.models.deployment import DeploymentJudge, ErrorCode, JudgeProgress
from canaria.store.codec import judge_from_dict, judge_to_dict


def test_a_row_written_before_the_judge_was_typed_reads_the_same() -> None:
    old = {
        "enabled": True,
        "alpha": 0.05,
        "early_promotion": False,
        "delta": 0.5,
        "slow_tolerance_ms": 2,
        "state": {"Fn": {"errors": [0.5, 1.5]}},
        "since": {"Fn": 1200},
        "evidence": {"errors": 12.5},
        "threshold": 60,
    }
    judge = judge_from_dict(old)
    assert judge == DeploymentJudge(
        JudgeSettings(alpha=0.05, slow_tolerance_ms=2.0),
        JudgeProgress(
            states={"Fn": {"errors": [0.5, 1.5]}},
            since={"Fn": 1200.0},
            evidence={"errors": 12.5},
            threshold=60.0,
        ),
    )
    assert judge_to_dict(judge) == {**old, "slow_tolerance_ms": 2.0, "threshold": 60.0}


def test_a_judge_that_never_looked_has_no_threshold_and_defaults() -> None:
    assert judge_from_dict({}) == DeploymentJudge()
    assert "threshold" not in judge_to_dict(DeploymentJudge())
    assert judge_from_dict({"enabled": False}).settings.enabled is False
    assert ErrorCode("TIMEOUT") is ErrorCode.TIMEOUT
