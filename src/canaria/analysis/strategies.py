"""Replaying one release under several deployment strategies (``canaria simulate``).

Pure and seeded: virtual time in 1-second ticks, no I/O, the same ``Judge`` the controller
runs and the same step lists (``canaria.models.configs.steps_for``). Per tick:

- the weight in force comes from the strategy's steps (``SetWeight`` only; gates need an
  operator or real requests and are refused);
- ``rate`` requests arrive and are split as the gateway's deterministic round-robin does
  (the new version's share of every tick is within one request of ``rate·w``);
- each request of the new version fails with the release's error rate, each request of
  the stable version with the baseline rate (binomial draws from a seeded generator);
- the rollback mechanism looks at the tick: the judge (1-second ticks, as the controller
  runs it) for canaria's step lists, and for CodeDeploy's configs a CloudWatch-style
  ``Errors Sum > 0`` alarm on the new version with 60-second periods, evaluated the moment
  a period closes (no ingestion delay: the alarm's most favourable case). Like CodeDeploy,
  a deployment watches its alarms only until it has shifted all traffic: an
  ``AllAtOnce`` deployment is over at once, and nothing rolls it back.

A rollback takes effect at the next tick (canaria's decision-to-stable is under one tick).
Failed user requests are counted over the whole horizon, on both versions.
"""

from __future__ import annotations

import math
import random
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

from canaria.analysis.judge import Judge, TickCounts, Verdict
from canaria.analysis.simulation import binomial
from canaria.errors import InvalidRequest
from canaria.models import JudgeSettings
from canaria.models.configs import parse_duration, parse_step_list, steps_for
from canaria.models.deployment import ManualGate, RequestGate, SetWeight, Step

__all__ = [
    "DEFAULT_STEPS",
    "STRATEGIES",
    "Outcome",
    "Report",
    "Run",
    "Strategy",
    "parse_steps",
    "run_once",
    "simulate_release",
    "strategies",
]

STRATEGIES = ("AllAtOnce", "Canary10Percent5Minutes", "Linear10PercentEvery1Minute")
DEFAULT_STEPS = "1%:1m,10%:2m,50%:2m,100%"
ALARM_PERIOD_S = 60.0

Guard = Literal["judge", "alarm"]


@dataclass(frozen=True)
class Strategy:
    name: str
    steps: tuple[SetWeight, ...]
    guard: Guard  # what rolls a bad release back

    @property
    def rollout_s(self) -> float:
        """Seconds until 100 % when nothing goes wrong."""
        return math.fsum(s.duration_s for s in self.steps if s.weight < 1.0)

    def weight_at(self, t: float) -> float:
        start = 0.0
        for s in self.steps:
            if s.weight >= 1.0 or t < start + s.duration_s:
                return s.weight
            start += s.duration_s
        return 1.0


@dataclass(frozen=True)
class Run:
    """One seeded replay of one release under one strategy."""

    failed: int  # failed user requests over the horizon, both versions
    failed_new: int  # of which on the new version
    new_requests: int  # requests the new version served
    reached_full_s: float | None  # when 100 % went to the new version (None: never)
    rolled_back_s: float | None  # when traffic went back to the stable version
    weights: tuple[float, ...]  # the new version's weight in force, per tick
    failed_cumulative: tuple[int, ...]  # failed requests so far, per tick


@dataclass(frozen=True)
class Outcome:
    strategy: str
    release: Literal["good", "faulty"]
    runs: tuple[Run, ...]

    @property
    def median_failed(self) -> float:
        return statistics.median(r.failed for r in self.runs)

    @property
    def median_failed_new(self) -> float:
        return statistics.median(r.failed_new for r in self.runs)

    def share(self, attr: Literal["reached_full_s", "rolled_back_s"]) -> float:
        return sum(getattr(r, attr) is not None for r in self.runs) / len(self.runs)

    def median_time(self, attr: Literal["reached_full_s", "rolled_back_s"]) -> float | None:
        """Median over runs, a run that never got there counting as infinitely late."""
        times = sorted(
            math.inf if getattr(r, attr) is None else float(getattr(r, attr)) for r in self.runs
        )
        m = statistics.median(times)
        return None if math.isinf(m) else m


@dataclass(frozen=True)
class Report:
    rate_rps: float
    baseline_error_rate: float
    error_rate: float
    horizon_s: float
    seed: int
    trials: int
    alpha: float
    outcomes: tuple[Outcome, ...] = field(default_factory=tuple)

    def to_json(self) -> dict[str, object]:
        rows = []
        for o in self.outcomes:
            rows.append(
                {
                    "strategy": o.strategy,
                    "release": o.release,
                    "failed_requests_median": o.median_failed,
                    "failed_on_new_version_median": o.median_failed_new,
                    "reached_100_percent_share": o.share("reached_full_s"),
                    "reached_100_percent_s_median": o.median_time("reached_full_s"),
                    "rolled_back_share": o.share("rolled_back_s"),
                    "rolled_back_s_median": o.median_time("rolled_back_s"),
                }
            )
        return {
            "rate_rps": self.rate_rps,
            "baseline_error_rate": self.baseline_error_rate,
            "error_rate": self.error_rate,
            "horizon_s": self.horizon_s,
            "seed": self.seed,
            "trials": self.trials,
            "alpha": self.alpha,
            "results": rows,
        }


# ---- strategies ----------------------------------------------------------------------


_COMPACT = "W%:DURATION items separated by commas, e.g. '1%:1m,10%:2m,50%:2m,100%'"


def parse_steps(text: str) -> tuple[Step, ...]:
    """A step list from ``--steps``: the compact ``1%:1m,10%:2m,100%`` or a JSON list as in a
    template (``[{"weight": 1, "duration": "1m"}, ...]``)."""
    import json

    text = text.strip()
    if text.startswith("["):
        try:
            raw = json.loads(text)
        except json.JSONDecodeError as e:
            raise InvalidRequest(f"--steps: not a JSON list ({e.msg})") from None
        return parse_step_list(raw, where="--steps")
    entries: list[dict[str, object]] = []
    for i, item in enumerate(p.strip() for p in text.split(",")):
        at = f"--steps: item {i + 1} {item!r}"
        head, _, duration = item.partition(":")
        head = head.strip().removesuffix("%").strip()
        try:
            pct = float(head)
        except ValueError:
            raise InvalidRequest(f"{at} (allowed: {_COMPACT})") from None
        entry: dict[str, object] = {"weight": int(pct) if pct.is_integer() else pct}
        if duration.strip():
            entry["duration"] = parse_duration(duration.strip(), at)
        entries.append(entry)
    return parse_step_list(entries, where="--steps")


def _timed(name: str, steps: Sequence[Step]) -> tuple[SetWeight, ...]:
    out: list[SetWeight] = []
    for s in steps:
        match s:
            case SetWeight():
                out.append(s)
            case ManualGate() | RequestGate():
                raise InvalidRequest(
                    f"{name}: simulate replays timed steps only ({s.kind} needs an operator or "
                    "real requests); use {weight, duration} steps"
                )
    return tuple(out)


def strategies(steps: Sequence[Step]) -> tuple[Strategy, ...]:
    """CodeDeploy's three shapes (guarded by the alarm) and canaria's steps (by the judge)."""
    out = [Strategy(n, _timed(n, steps_for(n, {})), "alarm") for n in STRATEGIES]
    out.append(Strategy("canaria steps + judge", _timed("--steps", steps), "judge"))
    return tuple(out)


# ---- one replay ----------------------------------------------------------------------


def run_once(
    strategy: Strategy,
    *,
    rng: random.Random,
    judge: Judge,
    rate_rps: float,
    error_rate: float,
    baseline_error_rate: float,
    horizon_s: int,
) -> Run:
    failed = failed_new = new_requests = 0
    arrivals = new_share = 0.0
    reached: float | None = None
    rolled_back: float | None = None
    state = judge.initial_state()
    alarm_errors = 0
    weights: list[float] = []
    cumulative: list[int] = []
    for tick in range(horizon_s):
        t = float(tick)
        if rolled_back is not None:
            w = 0.0
        elif reached is not None:
            w = 1.0  # stays there (also after an early promotion by the judge)
        else:
            w = strategy.weight_at(t)
        if w >= 1.0 and reached is None:
            reached = t
        watching = rolled_back is None and reached is None
        arrivals += rate_rps
        n = math.floor(arrivals)
        arrivals -= n
        new_share += n * w
        n_new = min(n, math.floor(new_share + 1e-9))
        new_share -= n_new
        e_new = binomial(rng, n_new, error_rate)
        e_old = binomial(rng, n - n_new, baseline_error_rate)
        failed += e_new + e_old
        failed_new += e_new
        new_requests += n_new
        weights.append(w)
        cumulative.append(failed)
        if not watching:
            continue
        end = t + 1.0
        match strategy.guard:
            case "judge":
                counts = TickCounts(n_new, n - n_new, e_new, e_old, 0, 0, 0, 0)
                state, verdict = judge.update(state, counts)
                if verdict is Verdict.ROLLBACK:
                    rolled_back = end
                elif verdict is Verdict.PROMOTE:
                    reached = end
            case "alarm":
                alarm_errors += e_new
                if end % ALARM_PERIOD_S == 0.0:
                    if alarm_errors > 0:
                        rolled_back = end
                    alarm_errors = 0
    return Run(
        failed,
        failed_new,
        new_requests,
        reached,
        rolled_back,
        tuple(weights),
        tuple(cumulative),
    )


def simulate_release(
    *,
    steps: Sequence[Step],
    rate_rps: float = 20.0,
    error_rate: float = 0.05,
    baseline_error_rate: float = 0.001,
    seed: int = 1,
    trials: int = 21,
    horizon_s: int = 1800,
    judge_settings: JudgeSettings | None = None,
) -> Report:
    """Every strategy on a good release (the baseline error rate) and a faulty one
    (``error_rate``); ``trials`` seeded replays of each, the same seeds for every strategy."""
    if rate_rps <= 0:
        raise InvalidRequest(f"--rate must be positive, got {rate_rps}")
    for name, p in (("--error-rate", error_rate), ("--baseline-error-rate", baseline_error_rate)):
        if not 0.0 <= p <= 1.0:
            raise InvalidRequest(f"{name} must be in [0, 1], got {p}")
    if trials < 1 or horizon_s < 1:
        raise InvalidRequest("--trials and --horizon must be at least 1")
    settings = judge_settings or JudgeSettings()
    judge = Judge(settings)
    outcomes: list[Outcome] = []
    releases: Mapping[Literal["good", "faulty"], float] = {
        "good": baseline_error_rate,
        "faulty": error_rate,
    }
    for strategy in strategies(steps):
        if strategy.rollout_s >= horizon_s:
            raise InvalidRequest(
                f"{strategy.name} takes {strategy.rollout_s:g} s, longer than the horizon "
                f"({horizon_s} s): raise --horizon"
            )
        for release, p in releases.items():
            runs = tuple(
                run_once(
                    strategy,
                    rng=random.Random(f"{seed}/{release}/{trial}"),
                    judge=judge,
                    rate_rps=rate_rps,
                    error_rate=p,
                    baseline_error_rate=baseline_error_rate,
                    horizon_s=horizon_s,
                )
                for trial in range(trials)
            )
            outcomes.append(Outcome(strategy.name, release, runs))
    return Report(
        rate_rps,
        baseline_error_rate,
        error_rate,
        float(horizon_s),
        seed,
        trials,
        settings.alpha,
        tuple(outcomes),
    )
