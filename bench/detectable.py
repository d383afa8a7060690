"""Is the judge's "detectable failure rate" honest? Seeded simulation, no I/O.

For a canary at a given weight and a number of canary requests N, the judge reports the
smallest failure rate it would have caught after N requests (``Judge.detectable``, from
what a quiet run of that traffic leaves in its state). This bench then replays the same
traffic with a canary failing at exactly that rate, and at half of it, ``--trials`` times
each, and counts how often the judge rolled it back within those N canary requests. The
claim is "19 times out of 20" at the reported rate.

    .venv/bin/python bench/detectable.py [--trials 2000] [--seed 1] [--stable-rate 0.001]
"""

from __future__ import annotations

import argparse
import random
import time

from canaria.analysis.judge import Judge, TickCounts, Verdict
from canaria.models import JudgeSettings

# (canary weight, requests per interval, canary requests in all)
CASES = [(0.1, 10, 13), (0.1, 10, 40), (0.1, 10, 100), (0.1, 100, 1000), (0.5, 20, 200)]


def split(per_interval: int, weight: float) -> tuple[int, int]:
    canary = max(1, round(per_interval * weight))
    return canary, per_interval - canary


def binomial(rng: random.Random, n: int, p: float) -> int:
    return sum(rng.random() < p for _ in range(n))


def caught(judge: Judge, rng: random.Random, intervals: int, ci: int, si: int, p: float,
           p0: float) -> bool:  # fmt: skip
    state = judge.initial_state()
    for _ in range(intervals):
        counts = TickCounts(ci, si, binomial(rng, ci, p), binomial(rng, si, p0), 0, 0, 0, 0)
        state, verdict = judge.update(state, counts)
        if verdict is Verdict.ROLLBACK:
            return True
    return False


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--trials", type=int, default=2000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--stable-rate", type=float, default=0.001)
    args = ap.parse_args()
    judge = Judge(JudgeSettings())
    rng = random.Random(args.seed)
    started = time.monotonic()
    print("| weight | canary requests | reported detectable | caught at it | caught at half |")
    print("|---:|---:|---:|---:|---:|")
    for weight, per, total in CASES:
        ci, si = split(per, weight)
        intervals = max(1, total // ci)
        state = judge.initial_state()
        for _ in range(intervals):
            b = binomial(rng, si, args.stable_rate)
            state, _ = judge.update(state, TickCounts(ci, si, 0, b, 0, 0, 0, 0))
        rate = judge.detectable(state)
        if rate is None:
            print(f"| {weight:.0%} | {intervals * ci} | not even 100 % | - | - |")
            continue
        p0 = args.stable_rate
        hit = sum(caught(judge, rng, intervals, ci, si, rate, p0) for _ in range(args.trials))
        half = sum(caught(judge, rng, intervals, ci, si, rate / 2, p0) for _ in range(args.trials))
        print(
            f"| {weight:.0%} | {intervals * ci} | {rate:.1%} | {hit / args.trials:.1%} | "
            f"{half / args.trials:.1%} |"
        )
    print(f"\n{args.trials} trials per cell, seed {args.seed}, {time.monotonic() - started:.0f} s")


if __name__ == "__main__":
    main()
