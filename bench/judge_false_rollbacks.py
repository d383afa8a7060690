"""The judge against a CloudWatch-style alarm on the same simulated traffic.

    .venv/bin/python bench/judge_false_rollbacks.py [--trials 2000] [--blast-trials 1001]
                                                    [--seed 1]

Traffic: 100 requests/s routed by weight; every request of either version is "slow"
(above the stable version's p99) with probability 1 % unless the scenario says otherwise,
and fails with the stable version's error rate, 0.1 %. The simulation draws events
(errors, slow requests), not every request, so it is exact and fast
(``canaria.analysis.simulation``). Observers on the same stream:

- judge, event level: one tick per event (what the judge can do with per-request data);
- judge, 1-second ticks: as canaria's controller runs it (metrics at 1-second resolution);
- ``Errors Sum > 0`` on the canary, period 60 s, 1 datapoint (the SAM/CodeDeploy
  practice alarm), firing the moment the minute closes — no ingestion or polling delay,
  the most favourable case for the alarm; minutes start at a random phase;
- for the latency case, ``Duration p99 > stable p99`` on the canary, same period.

Part 1, false rollbacks: a healthy canary (same error and slow rates as the stable
version) through two CodeDeploy schedules. Part 2, blast radius: a faulty canary held at
10 % for up to an hour; medians over trials of the failed (or slow) canary requests and
of all canary requests when each observer rolled back.
"""

from __future__ import annotations

import argparse
import math
import random
import statistics
import time
from dataclasses import dataclass

from canaria.analysis.judge import Judge
from canaria.analysis.simulation import (
    Arm,
    ErrorsAlarm,
    EventJudge,
    Observer,
    P99Alarm,
    Step,
    Stop,
    TickJudge,
    simulate,
)
from canaria.models import JudgeSettings

RATE = 100.0
STABLE_ERROR = 0.001
BASE_SLOW = 0.01  # by definition of the stable version's p99
PERIOD = 60.0

# name -> (steps, requests per second)
SCHEDULES: dict[str, tuple[list[Step], float]] = {
    "Linear10PercentEvery1Minute": ([Step(w / 10, 60.0) for w in range(1, 10)], RATE),
    "Canary10Percent5Minutes": ([Step(0.10, 300.0)], RATE),
    "steps 1 % 2 min, 10 % 5 min, 50 % 5 min": (
        [Step(0.01, 120.0), Step(0.10, 300.0), Step(0.50, 300.0)],
        RATE,
    ),
    # watched long, weights moving up and down every 5 minutes for 2 hours (10 req/s)
    "2 h, weight changing every 5 min (1→50→5 % …), 10 req/s": (
        [Step(w / 100, 300.0) for w in (1, 10, 50, 5, 25, 2, 40, 10, 1, 30, 50, 20) * 2],
        10.0,
    ),
}


def slow_share_when_slower(factor: float, sigma: float = 0.5) -> float:
    """P(factor·X > p99(X)) for lognormal durations with log-sd ``sigma``."""
    z99 = 2.3263478740408408
    z = (z99 * sigma - math.log(factor)) / sigma
    return 0.5 * math.erfc(z / math.sqrt(2.0))


@dataclass(frozen=True)
class Scenario:
    name: str
    canary: Arm
    alarm: str  # "errors" | "p99"


def observers(judge: Judge, rng: random.Random, alarm: str) -> tuple[list[Observer], float]:
    phase = rng.random() * PERIOD
    watch: Observer = ErrorsAlarm(PERIOD, phase) if alarm == "errors" else P99Alarm(PERIOD, phase)
    return [EventJudge(judge), TickJudge(judge), watch], phase


def healthy(trials: int, seed: int) -> list[str]:
    judge = Judge(JudgeSettings())
    same = Arm(error=STABLE_ERROR, slow=BASE_SLOW)
    rows = [
        "| schedule | trials | judge, event level | judge, 1 s ticks | `Errors Sum > 0`, 60 s |",
        "|---|---|---|---|---|",
    ]
    for name, (steps, rate) in SCHEDULES.items():
        rng = random.Random(seed)
        stopped = [0, 0, 0]
        for _ in range(trials):
            obs, phase = observers(judge, rng, "errors")
            simulate(
                rng, steps, rate, same, same, obs, boundaries_every_s=((1.0, 0.0), (PERIOD, phase))
            )
            for i, o in enumerate(obs):
                stopped[i] += o.stop is not None
        cells = " | ".join(f"{_rate(k, trials)}" for k in stopped)
        rows.append(f"| {name} | {trials} | {cells} |")
    return rows


def _rate(k: int, n: int) -> str:
    """``k / n`` as a percentage with its 95 % Wilson score interval."""
    z = 1.96
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return f"{100 * p:.2f} % [{100 * max(0.0, centre - half):.2f}, {100 * (centre + half):.2f}]"


def blast(trials: int, seed: int) -> list[str]:
    judge = Judge(JudgeSettings())
    stable = Arm(error=STABLE_ERROR, slow=BASE_SLOW)
    three_x = slow_share_when_slower(3.0)
    scenarios = [
        Scenario("fails 100 %", Arm(error=1.0, slow=BASE_SLOW), "errors"),
        Scenario("fails 50 %", Arm(error=0.5, slow=BASE_SLOW), "errors"),
        Scenario("fails 5 %", Arm(error=0.05, slow=BASE_SLOW), "errors"),
        Scenario("fails 1 %", Arm(error=0.01, slow=BASE_SLOW), "errors"),
        Scenario(
            f"3× slower ({100 * three_x:.0f} % above stable p99)",
            Arm(error=STABLE_ERROR, slow=three_x),
            "p99",
        ),
    ]
    rows = [
        "| canary | observer | rolled back | failed canary requests (median) "
        "| canary requests (median) | seconds (median) |",
        "|---|---|---|---|---|---|",
    ]
    names = ("judge, event level", "judge, 1 s ticks")
    for sc in scenarios:
        rng = random.Random(seed)
        stops: list[list[Stop]] = [[], [], []]
        for _ in range(trials):
            obs, phase = observers(judge, rng, sc.alarm)
            simulate(
                rng,
                [Step(0.10, 3600.0)],
                RATE,
                sc.canary,
                stable,
                obs,
                boundaries_every_s=((1.0, 0.0), (PERIOD, phase)),
            )
            for i, o in enumerate(obs):
                if o.stop is not None:
                    stops[i].append(o.stop)
        alarm_name = (
            "`Errors Sum > 0`, 60 s" if sc.alarm == "errors" else "`p99 > stable p99`, 60 s"
        )
        for label, got in zip((*names[:2], alarm_name), stops, strict=True):
            share = f"{100 * len(got) / trials:.1f} %"
            if not got:
                rows.append(f"| {sc.name} | {label} | {share} | – | – | – |")
                continue
            failed = [s.canary_errors if sc.alarm == "errors" else s.canary_slow for s in got]
            requests = [s.canary_requests for s in got]
            seconds = [s.time_s for s in got]
            rows.append(
                f"| {sc.name} | {label} | {share} | {statistics.median(failed):g} | "
                f"{statistics.median(requests):g} | {statistics.median(seconds):.1f} |"
            )
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--trials", type=int, default=2000)
    ap.add_argument("--blast-trials", type=int, default=1001)
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    t0 = time.perf_counter()
    print("## False rollbacks of a healthy canary (judge α = 0.01, three metrics)\n")
    print(
        f"100 req/s unless said, both versions: {100 * STABLE_ERROR:g} % errors, "
        f"{100 * BASE_SLOW:g} % above the stable p99; 95 % Wilson intervals.\n"
    )
    print("\n".join(healthy(args.trials, args.seed)))
    print("\n## Blast radius: canary held at 10 %, 100 req/s, stable errors 0.1 %\n")
    print("\n".join(blast(args.blast_trials, args.seed)))
    print(f"\n_seed {args.seed}, {time.perf_counter() - t0:.0f} s_")


if __name__ == "__main__":
    main()
