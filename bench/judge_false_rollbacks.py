"""The judge against a CloudWatch-style alarm on the same simulated traffic.

    .venv/bin/python bench/judge_false_rollbacks.py [--trials 2000] [--blast-trials 1001]
                                                    [--seed 1]

Traffic: 100 requests/s routed by weight; every request of either version is "slow"
(above the stable version's p99) with probability 1 % unless the scenario says otherwise,
and fails with the stable version's error rate, 0.1 %. The simulation draws events
(errors, slow requests), not every request, so it is exact and fast
(``canaria.analysis.simulation``). Observers on the same stream:

- judge, event level: one tick per event (what the judge can do with per-request data);
- judge, 1-second ticks: as canaria's controller ran it before it judged each request
  as it finished (metrics at 1-second resolution);
- judge, 2 ms slots, round-robin: as canaria runs it now (``canaria.analysis.live``):
  requests routed by the gateway's own deterministic splitter
  (``canaria.gateway.splitter.AliasSplit``, reset at every weight change as an alias
  change resets it), grouped by the 2 ms slot they start in, a slot merged into the next
  while only one version served it, each interval judged once the slot after it has
  passed (no request latency); requests are drawn one by one for the routing, events
  by geometric gaps per version;
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
import bisect
import heapq
import math
import random
import statistics
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

from canaria.analysis.judge import Judge, TickCounts, Verdict
from canaria.analysis.live import SLOT_S
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
from canaria.gateway.splitter import AliasSplit
from canaria.models import Alias, JudgeSettings

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


@dataclass
class Routed:
    """A schedule's requests at a fixed rate as the gateway's round-robin routes them, and
    the live judge's intervals over them: where each ends, its invocation counts, and
    the request index before which it is judged (the end of the slot after its last)."""

    rate: float
    canary_at: list[int] = field(default_factory=list)  # request indices, in order
    stable_at: list[int] = field(default_factory=list)
    ends: list[int] = field(default_factory=list)  # index after the interval's last request
    sizes: list[tuple[int, int]] = field(default_factory=list)  # (canary, stable) invocations
    judged_before: list[int] = field(default_factory=list)


def route(steps: list[Step], rate: float) -> Routed:
    out = Routed(rate)
    ci = si = 0
    slot = 0
    i = 0

    def close(last_slot: int) -> None:
        nonlocal ci, si
        if ci and si:  # one version alone: merged into the next slot
            out.ends.append(i)
            out.sizes.append((ci, si))
            out.judged_before.append(math.ceil((last_slot + 2) * SLOT_S * rate))
            ci = si = 0

    for step in steps:
        split = AliasSplit(Alias("Fn", "live", 1, 2, step.weight), "deterministic", random.Random())
        for _ in range(round(step.duration_s * rate)):
            now_slot = math.floor(i / rate / SLOT_S)
            if now_slot != slot:
                close(slot)
                slot = now_slot
            if split.pick() == 2:
                out.canary_at.append(i)
                ci += 1
            else:
                out.stable_at.append(i)
                si += 1
            i += 1
    close(slot)
    return out


def _events(
    rng: random.Random, at: list[int], arm: Arm, on_canary: bool
) -> Iterator[tuple[int, bool, bool, bool]]:
    """(request index, on the canary, error, slow) of each event among the requests
    ``at``, in order, drawn lazily (geometric gaps)."""
    p = arm.event
    if p <= 0.0:
        return
    k = -1
    log_quiet = math.log1p(-p) if p < 1.0 else -math.inf
    while True:
        k += 1 if p >= 1.0 else int(math.log(1.0 - rng.random()) / log_quiet) + 1
        if k >= len(at):
            return
        error = rng.random() * p < arm.error
        yield at[k], on_canary, error, (not error) or rng.random() < arm.slow


def slot_judge(
    judge: Judge, routed: Routed, canary: Arm, stable: Arm, rng: random.Random
) -> Stop | None:
    """Run the live judge over one draw of ``routed``'s events; where it stopped, if it did.
    Intervals without events are skipped: they leave the e-processes where they are."""
    events = heapq.merge(
        _events(rng, routed.canary_at, canary, True), _events(rng, routed.stable_at, stable, False)
    )
    state = judge.initial_state()
    seen: list[tuple[int, bool, bool, bool]] = []  # the canary's events so far
    pending = next(events, None)
    while pending is not None:
        k = bisect.bisect_right(routed.ends, pending[0])
        if k >= len(routed.ends):
            return None
        counts = [0, 0, 0, 0]  # canary errors, stable errors, canary slow, stable slow
        while pending is not None and pending[0] < routed.ends[k]:
            _, on_canary, error, slow = pending
            side = 0 if on_canary else 1
            counts[side] += error
            counts[2 + side] += slow
            if on_canary:
                seen.append(pending)
            pending = next(events, None)
        ci, si = routed.sizes[k]
        ce, se, cs, ss = counts
        state, verdict = judge.update(state, TickCounts(ci, si, ce, se, 0, 0, cs, ss))
        if verdict is not Verdict.CONTINUE:
            before = routed.judged_before[k]
            # canary events among requests started before the interval was judged
            while pending is not None and pending[0] < before:
                if pending[1]:
                    seen.append(pending)
                pending = next(events, None)
            failed = [e for e in seen if e[0] < before]
            return Stop(
                verdict,
                before / routed.rate,
                bisect.bisect_left(routed.canary_at, before),
                sum(e[2] for e in failed),
                sum(e[3] for e in failed),
            )
    return None


def observers(judge: Judge, rng: random.Random, alarm: str) -> tuple[list[Observer], float]:
    phase = rng.random() * PERIOD
    watch: Observer = ErrorsAlarm(PERIOD, phase) if alarm == "errors" else P99Alarm(PERIOD, phase)
    return [EventJudge(judge), TickJudge(judge), watch], phase


def healthy(trials: int, seed: int) -> list[str]:
    judge = Judge(JudgeSettings())
    same = Arm(error=STABLE_ERROR, slow=BASE_SLOW)
    rows = [
        "| schedule | trials | judge, event level | judge, 1 s ticks "
        "| judge, 2 ms slots, round-robin | `Errors Sum > 0`, 60 s |",
        "|---|---|---|---|---|---|",
    ]
    for name, (steps, rate) in SCHEDULES.items():
        rng = random.Random(seed)
        stopped = [0, 0, 0, 0]
        routed = route(steps, rate)
        for _ in range(trials):
            live = slot_judge(judge, routed, same, same, rng)
            stopped[3] += live is not None and live.verdict is Verdict.ROLLBACK
            obs, phase = observers(judge, rng, "errors")
            simulate(
                rng, steps, rate, same, same, obs, boundaries_every_s=((1.0, 0.0), (PERIOD, phase))
            )
            for i, o in enumerate(obs):
                stopped[i] += o.stop is not None
        cells = " | ".join(f"{_rate(stopped[k], trials)}" for k in (0, 1, 3, 2))
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
    live_rates = (RATE, 10 * RATE)
    routes = {r: route([Step(0.10, 3600.0 * RATE / r)], r) for r in live_rates}
    for sc in scenarios:
        rng = random.Random(seed)
        stops: list[list[Stop]] = [[], [], []]
        live: dict[float, list[Stop]] = {r: [] for r in live_rates}
        for _ in range(trials):
            for r in live_rates:
                got = slot_judge(judge, routes[r], sc.canary, stable, rng)
                if got is not None:
                    live[r].append(got)
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
        labels = [*names, *(f"judge, 2 ms slots, round-robin, {r:g} req/s" for r in live_rates)]
        for label, got in zip(
            (*labels, alarm_name), (*stops[:2], *live.values(), stops[2]), strict=True
        ):
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
