"""What a state machine's logging costs its executions, what a log group's reader costs,
and what an API access log line costs a request.

Executions of one machine run on the ASL interpreter with no logging (the reference,
measured in the same run) and with ``Level: ALL`` with and without
``IncludeExecutionData``, each history event written to a log group of the log book as
``canaria.aws.execution_logs`` writes it; then ``FilterLogEvents``-shaped reads of a
group holding a function's lines and its own; then an access log line formatted and
written, against a plain line added to the log book (what a function's ``print`` costs).

    .venv/bin/python bench/log_groups.py [--executions 300] [--states 20] [--runs 5]

In process, no server: the cost measured is canaria's own (building the record, JSON,
the log book), not a network's. Prints a Markdown table of the medians over ``--runs``.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from canaria import workflows
from canaria.analysis.filter_patterns import parse
from canaria.aws.execution_logs import ExecutionLog
from canaria.clock import RealClock
from canaria.gateway.access_logs import AccessLog
from canaria.gateway.routes import compile_route
from canaria.gateway.types import Request
from canaria.log_groups import LogGroups
from canaria.logbook import LogBook
from canaria.models import (
    AccessLogSpec,
    Application,
    ExecutionLogging,
    FunctionConfig,
    FunctionSpec,
    RouteSpec,
)

ARN = "arn:aws:states:us-east-1:123456789012:stateMachine:bench"


def machine(states: int) -> dict[str, Any]:
    names = [f"S{i}" for i in range(states)]
    body: dict[str, Any] = {
        n: {
            "Type": "Pass",
            "Result": {"step": i, "items": list(range(10))},
            "ResultPath": f"$.r{i % 3}",
        }
        for i, n in enumerate(names)
    }
    for a, b in itertools.pairwise(names):
        body[a]["Next"] = b
    body[names[-1]]["End"] = True
    return {"StartAt": names[0], "States": body}


def recorder(
    history: list[workflows.HistoryEvent], log: ExecutionLog
) -> Callable[[workflows.HistoryEvent], None]:
    """What ``StateMachines`` hands the interpreter for a logging machine."""

    def record(event: workflows.HistoryEvent) -> None:
        history.append(event)
        log.write(event)

    return record


async def run(executions: int, definition: Any, logging: ExecutionLogging | None) -> float:
    """Seconds per execution."""
    groups = LogGroups(LogBook(None), time.time)
    clock = RealClock()
    started = time.perf_counter()
    for i in range(executions):
        arn = f"{ARN.replace('stateMachine', 'execution')}:e{i}"
        history: list[workflows.HistoryEvent] = []
        on_event = history.append
        if logging is not None:
            on_event = recorder(history, ExecutionLog(groups, logging, "bench", arn, clock.now()))

        await workflows.execute(
            definition,
            {"order": i, "note": "x" * 200},
            runner=None,  # type: ignore[arg-type]  # Pass states run no task
            clock=clock,
            name=f"e{i}",
            execution_arn=arn,
            state_machine_arn=ARN,
            on_event=on_event,
        )
    return (time.perf_counter() - started) / executions


def reads(lines: int) -> tuple[float, float]:
    """Seconds per line read: a group's lines with no pattern, and with a JSON pattern."""
    book = LogBook(None)
    groups = LogGroups(book, time.time)
    config = FunctionConfig("app.handler", "python3.11", "/code")
    groups.configure(Application("t.yaml", {"Fn": FunctionSpec("Fn", config, log_group="g")}))
    now = time.time()
    for i in range(lines // 2):
        book.add("Fn", 1, f"r{i}", now, "stdout", f'{{"level": "INFO", "n": {i}}}')
        groups.write("g", "s", [(int(now * 1000), f'{{"level": "ERROR", "n": {i}}}')])
    info = groups.get("g")
    assert info is not None
    pattern = parse('{ $.level = "ERROR" }')
    started = time.perf_counter()
    count = sum(1 for _ in groups.lines(info))
    plain = (time.perf_counter() - started) / count
    started = time.perf_counter()
    matched = sum(1 for e, _ in groups.lines(info) if pattern.match(e.text) is not None)
    assert matched == lines // 2
    return plain, (time.perf_counter() - started) / count


ACCESS_FORMAT = (
    '{"requestId":"$context.requestId","ip":"$context.identity.sourceIp",'
    '"requestTime":"$context.requestTime","httpMethod":"$context.httpMethod",'
    '"routeKey":"$context.routeKey","status":"$context.status",'
    '"protocol":"$context.protocol","responseLength":"$context.responseLength",'
    '"integrationLatency":"$context.integrationLatency"}'
)


def access_lines(count: int) -> tuple[float, float]:
    """Seconds per request: an access log line formatted and written to its group, and
    (the reference) one plain line added to the log book, as a function's print is."""
    book = LogBook(None)
    groups = LogGroups(book, time.time)
    spec = RouteSpec("GET", "/items/{id}", "http", "Api", "$default", "Fn")
    route, _ = compile_route(spec)
    access = AccessLog(AccessLogSpec("/access", ACCESS_FORMAT), "Api", "$default")
    req = Request("GET", "/items/7", "", [("User-Agent", "bench")], b"")
    now = time.time()
    started = time.perf_counter()
    for i in range(count):
        line = access.line(req, route, f"req-{i}", 200, 17, now, now + 0.002, 0.001, None)
        groups.write(access.group, access.stream, [(int(now * 1000), line)])
    logged = (time.perf_counter() - started) / count
    started = time.perf_counter()
    for i in range(count):
        book.add("Fn", 1, f"req-{i}", now, "stdout", "a plain line of about the same size")
    return logged, (time.perf_counter() - started) / count


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--executions", type=int, default=300)
    parser.add_argument("--states", type=int, default=20)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    definition = workflows.load_definition(machine(args.states))
    cases = {
        "no logging (reference)": None,
        "ALL, without data": ExecutionLogging("/bench/plain", "ALL", False),
        "ALL, IncludeExecutionData": ExecutionLogging("/bench/data", "ALL", True),
    }
    per: dict[str, list[float]] = {name: [] for name in cases}
    read_plain: list[float] = []
    read_pattern: list[float] = []
    access: list[float] = []
    plain_line: list[float] = []
    for _ in range(args.runs):
        for name, logging in cases.items():  # alternately, so drift hits each alike
            per[name].append(asyncio.run(run(args.executions, definition, logging)))
        plain, matched = reads(5000)
        read_plain.append(plain)
        read_pattern.append(matched)
        logged, reference_line = access_lines(5000)
        access.append(logged)
        plain_line.append(reference_line)
    events = 2 * args.states + 2
    reference = statistics.median(per["no logging (reference)"])
    print(
        f"{args.states} Pass states ({events} history events), {args.executions} executions, "
        f"medians of {args.runs} runs\n"
    )
    print("| case | µs per execution | / reference | µs per history event logged |")
    print("|---|---:|---:|---:|")
    for name, values in per.items():
        m = statistics.median(values)
        extra = "" if name.startswith("no ") else f"{(m - reference) / events * 1e6:.1f}"
        print(f"| {name} | {m * 1e6:,.0f} | {m / reference:.2f} | {extra} |")
    print(
        f"\nreading a group of 5,000 lines (a function's and its own, merged): "
        f"{statistics.median(read_plain) * 1e6:.2f} µs per line, "
        f"{statistics.median(read_pattern) * 1e6:.2f} µs with a JSON filter pattern"
    )
    print(
        f"an API access log line (9 variables, JSON), formatted and written: "
        f"{statistics.median(access) * 1e6:.2f} µs per request; a plain log book line "
        f"(reference): {statistics.median(plain_line) * 1e6:.2f} µs"
    )


if __name__ == "__main__":
    main()
