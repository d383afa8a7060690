"""`canaria simulate`'s engine: step lists, determinism, and what each strategy does."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest
from typer.testing import CliRunner

from canaria.analysis.judge import Judge
from canaria.analysis.strategies import (
    DEFAULT_STEPS,
    Strategy,
    parse_steps,
    run_once,
    simulate_release,
    strategies,
)
from canaria.cli.main import app
from canaria.errors import InvalidRequest
from canaria.models import JudgeSettings
from canaria.models.deployment import ManualGate, SetWeight


def test_compact_and_json_step_lists() -> None:
    assert parse_steps("1%:1m,10%:2m,100%") == (
        SetWeight(0.01, 60.0),
        SetWeight(0.10, 120.0),
        SetWeight(1.0),
    )
    assert parse_steps('[{"weight": 5, "duration": "30s"}]') == (
        SetWeight(0.05, 30.0),
        SetWeight(1.0),
    )
    with pytest.raises(InvalidRequest, match="W%:DURATION"):
        parse_steps("ten:1m")


def test_strategies_use_the_controllers_step_lists() -> None:
    got = {s.name: s for s in strategies(parse_steps(DEFAULT_STEPS))}
    assert got["AllAtOnce"].rollout_s == 0.0
    assert got["Canary10Percent5Minutes"].rollout_s == 300.0
    assert got["Canary10Percent5Minutes"].weight_at(299.0) == 0.1
    assert got["Linear10PercentEvery1Minute"].rollout_s == 540.0
    assert got["Linear10PercentEvery1Minute"].weight_at(125.0) == pytest.approx(0.3)
    assert got["canaria steps + judge"].guard == "judge"
    with pytest.raises(InvalidRequest, match="timed steps only"):
        strategies((ManualGate(), SetWeight(1.0)))


def test_the_same_seed_gives_the_same_report() -> None:
    kwargs = dict(steps=parse_steps(DEFAULT_STEPS), trials=3, horizon_s=900, seed=5)
    assert simulate_release(**kwargs).to_json() == simulate_release(**kwargs).to_json()  # type: ignore[arg-type]


def test_round_robin_split_is_exact() -> None:
    s = Strategy("ten", (SetWeight(0.1, 1000.0), SetWeight(1.0)), "alarm")
    run = run_once(
        s,
        rng=random.Random(1),
        judge=Judge(JudgeSettings()),
        rate_rps=20.0,
        error_rate=0.0,
        baseline_error_rate=0.0,
        horizon_s=100,
    )
    assert run.new_requests == 200 and run.failed == 0 and run.rolled_back_s is None


def test_a_release_that_fails_everything() -> None:
    report = simulate_release(
        steps=parse_steps(DEFAULT_STEPS), error_rate=1.0, trials=5, horizon_s=900
    )
    by = {(o.strategy, o.release): o for o in report.outcomes}
    all_at_once = by[("AllAtOnce", "faulty")]
    assert all_at_once.share("rolled_back_s") == 0.0  # nothing watches it after 100 %
    assert all_at_once.median_failed_new == 20 * 900
    canary = by[("Canary10Percent5Minutes", "faulty")]
    assert canary.median_time("rolled_back_s") == 60.0  # the alarm's first period closes
    judged = by[("canaria steps + judge", "faulty")]
    assert judged.share("rolled_back_s") == 1.0
    assert judged.median_failed_new <= 5
    good = by[("canaria steps + judge", "good")]
    assert good.median_time("reached_full_s") == 300.0


def test_cli_prints_table_json_and_chart(tmp_path: Path) -> None:
    chart = tmp_path / "sim.png"
    runner = CliRunner()
    args = ["simulate", "--trials", "2", "--horizon", "900", "--chart", str(chart)]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "Linear10PercentEvery1Minute" in result.output
    assert chart.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    result = runner.invoke(app, ["simulate", "--trials", "2", "--horizon", "900", "--json"])
    body = json.loads(result.output)
    assert len(body["results"]) == 8 and body["seed"] == 1
    bad = runner.invoke(app, ["simulate", "--rate", "0"])
    assert bad.exit_code == 2 and "--rate must be positive" in bad.output
