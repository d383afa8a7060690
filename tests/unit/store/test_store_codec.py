"""The deployment row's JSON: the typed judge keeps the flat shape rows have always had."""

from __future__ import annotations

import orjson

from canaria.models import JudgeSettings, Undetectable
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
    # written back with the settings and progress added since, at their defaults
    assert judge_to_dict(judge) == {
        **old,
        "slow_tolerance_ms": 2.0,
        "threshold": 60.0,
        "min_detectable": None,
        "max_hold_s": None,
        "undetectable": "fail",
        "rehearsal_scale": 1.0,
        "detectable": None,
        "canary_requests": 0,
    }


def test_the_detectable_rate_and_its_requirement_round_trip() -> None:
    judge = DeploymentJudge(
        JudgeSettings(min_detectable=0.05, max_hold_s=600.0, undetectable=Undetectable.PROMOTE),
        JudgeProgress(
            evidence={"errors": 2.0}, threshold=300.0, detectable=0.2, canary_requests=40
        ),
    )
    assert judge_from_dict(orjson.loads(orjson.dumps(judge_to_dict(judge)))) == judge


def test_a_judge_that_never_looked_has_no_threshold_and_defaults() -> None:
    assert judge_from_dict({}) == DeploymentJudge()
    assert "threshold" not in judge_to_dict(DeploymentJudge())
    assert judge_from_dict({"enabled": False}).settings.enabled is False
    assert ErrorCode("TIMEOUT") is ErrorCode.TIMEOUT
