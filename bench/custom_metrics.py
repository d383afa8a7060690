"""What the application's own metrics cost: a log line read for metrics, an alarm on a
metric math expression, and a request whose function prints an EMF line.

    .venv/bin/python bench/custom_metrics.py [--runs 5] [--lines 50000] [--wrk-seconds 3]

In process, medians over ``--runs``:

- **a log line** added to the log book (``LogBook.add_line``, what every line a function
  prints costs): with no reader (the reference); with the metrics reader tapped and a
  plain line; an EMF line as AWS Lambda Powertools prints it (parsed and recorded); a
  JSON line of a function whose log group has a metric filter (``{ $.level = "ERROR" }``,
  matching one line in two, the value read from ``$.latency``); a line of a function whose
  log group a subscription filter delivers (``ERROR``, one line in two kept for delivery);
- **a request counted in its API's metrics** (``ApiMetrics.record``, what the gateway
  adds to every answer for AWS/ApiGateway), in µs per request;
- **an alarm evaluation** (once per second per alarm) over metrics holding a minute of
  20 requests a second: one AWS/Lambda metric (the reference); the error rate as metric
  math, ``100 * FILL(errors, 0) / invocations``; one metric the application published.

Through a real ``canaria up`` (with ``wrk`` on the PATH): the same function printing, per
request, a plain JSON line (the reference) or an EMF line of the same size, each loaded for
``--wrk-seconds`` with 16 connections, alternately.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from up import Up, wrk

from canaria.analysis.alarms import AlarmState, evaluate
from canaria.analysis.api_metrics import ApiMetrics
from canaria.analysis.log_metrics import EMF_MARK, LogMetrics
from canaria.analysis.metrics import Metrics
from canaria.analysis.published import PublishedMetrics, Sample, metric_key
from canaria.clock import RealClock
from canaria.logbook import LogBook, LogEntry
from canaria.models import (
    AlarmSpec,
    InvokeResult,
    LogSubscriptionSpec,
    MetricFilterSpec,
    MetricQuerySpec,
    MetricStatSpec,
    MetricTransformationSpec,
)
from canaria.services.log_subscriptions import LogSubscriptions

EMF = json.dumps(
    {
        "_aws": {
            "Timestamp": 1700000000000,
            "CloudWatchMetrics": [
                {
                    "Namespace": "Orders",
                    "Dimensions": [["service"]],
                    "Metrics": [{"Name": "OrderFailed", "Unit": "Count"}],
                }
            ],
        },
        "service": "orders",
        "OrderFailed": [1.0],
    },
    separators=(",", ":"),
)
PLAIN = json.dumps({"level": "INFO", "message": "x" * (len(EMF) - 30)}, separators=(",", ":"))
FILTERED = ['{"level":"ERROR","latency":12}', '{"level":"INFO","latency":12}']
SUBSCRIBED = ["ERROR payment failed for order 7", "INFO order 7 placed"]


def per_line(lines: int, tap: str) -> float:
    """Microseconds per ``add_line`` of ``lines`` lines."""
    return asyncio.run(_per_line(lines, tap))


async def _per_line(lines: int, tap: str) -> float:
    book = LogBook(None)
    reader = LogMetrics(PublishedMetrics())
    if tap == "filter":
        transformation = MetricTransformationSpec("App", "Latency", "$.latency")
        reader.configure([MetricFilterSpec("F", "fn", '{ $.level = "ERROR" }', (transformation,))])
    if tap == "subscribed":  # what the release taps: both readers, a subscription on fn

        async def nowhere(function: str, event: bytes) -> InvokeResult:
            raise AssertionError("the bench adds lines only")

        deliver = LogSubscriptions(RealClock(), nowhere, flush_every_s=3600)
        deliver.configure([LogSubscriptionSpec("S", "/aws/lambda/fn", "fn", "ERROR", "sink")])

        def both(entry: LogEntry) -> None:
            reader.read(entry)
            deliver.read(entry)

        book.tap(both, deliver.functions, EMF_MARK)
    elif tap != "none":
        book.tap(reader.read, reader.functions, EMF_MARK)
    texts = {"none": [PLAIN], "plain": [PLAIN], "emf": [EMF], "filter": FILTERED}.get(
        tap, SUBSCRIBED
    )
    start = time.perf_counter()
    for i in range(lines):
        book.add_line(("fn", 1, "r", i / 1000.0, "stdout", texts[i % len(texts)]))
    took = (time.perf_counter() - start) / lines * 1e6
    if tap == "subscribed":
        deliver.configure([])  # nothing is sent: the lines kept are let go
    return took


def per_api_request(requests: int = 200_000) -> float:
    meter = ApiMetrics()
    meter.configure({"Api": ("http", "api")})
    start = time.perf_counter()
    for i in range(requests):  # 5,000 requests a second
        meter.record(i / 5000.0, "Api", "$default", 200, 1.234, 1.0)
    return (time.perf_counter() - start) / requests * 1e6


def per_evaluation(kind: str, evaluations: int = 2000) -> float:
    metrics, published = Metrics(), PublishedMetrics()
    key = metric_key("Orders", "OrderFailed", {"service": "orders"})
    for i in range(1200):  # a minute at 20 requests a second
        t = i / 20.0
        metrics.record(t, "fn", 2, "live", duration_ms=3.0, error=i % 10 == 0)
        published.put(t, [Sample(key, ((float(i % 10 == 0), 1),))])
    lam = {"FunctionName": "fn", "Resource": "fn:live"}
    common = {
        "name": "a",
        "period_s": 10,
        "evaluation_periods": 3,
        "threshold": 5,
        "comparison_operator": "GreaterThanThreshold",
    }
    match kind:
        case "lambda":
            spec = AlarmSpec(metric_name="Errors", dimensions=lam, statistic="Sum", **common)  # type: ignore[arg-type]
        case "math":
            queries = (
                MetricQuerySpec("rate", expression="100 * FILL(errors, 0) / invocations"),
                MetricQuerySpec(
                    "errors",
                    MetricStatSpec("AWS/Lambda", "Errors", lam, 10, "Sum"),
                    return_data=False,
                ),
                MetricQuerySpec(
                    "invocations",
                    MetricStatSpec("AWS/Lambda", "Invocations", lam, 10, "Sum"),
                    return_data=False,
                ),
            )
            spec = AlarmSpec(metric_name="", dimensions={}, namespace="", queries=queries, **common)  # type: ignore[arg-type]
        case _:
            spec = AlarmSpec(
                metric_name="OrderFailed",
                dimensions={"service": "orders"},
                statistic="Sum",
                namespace="Orders",
                **common,  # type: ignore[arg-type]
            )
    start = time.perf_counter()
    for i in range(evaluations):
        evaluate(spec, metrics, 40.0 + i % 20, AlarmState.OK, published=published)
    return (time.perf_counter() - start) / evaluations * 1e6


TEMPLATE = """\
Transform: AWS::Serverless-2016-10-31
Resources:
  Plain:
    Type: AWS::Serverless::Function
    Properties:
      Runtime: python3.11
      CodeUri: src
      Handler: app.plain
      Events:
        Get: {Type: HttpApi, Properties: {Path: /plain, Method: get}}
  Emf:
    Type: AWS::Serverless::Function
    Properties:
      Runtime: python3.11
      CodeUri: src
      Handler: app.emf
      Events:
        Get: {Type: HttpApi, Properties: {Path: /emf, Method: get}}
"""
APP = f"""\
PLAIN = {PLAIN!r}
EMF = {EMF!r}


def plain(event, context):
    print(PLAIN)
    return {{"statusCode": 200, "body": "ok"}}


def emf(event, context):
    print(EMF)
    return {{"statusCode": 200, "body": "ok"}}
"""


def served(seconds: int, runs: int) -> list[tuple[float, float, float, float]]:
    """Per run: requests per second, plain then EMF, and the CPU the platform (canaria
    up and its workers) spent per request, in µs, plain then EMF."""
    out = []
    with tempfile.TemporaryDirectory() as tmp:
        up = Up(Path(tmp), {"template.yaml": TEMPLATE, "src/app.py": APP})

        def load(path: str) -> tuple[float, float]:
            before = up.cpu_seconds()
            rate = wrk(up.port, path, seconds)
            return rate, (up.cpu_seconds() - before) / (rate * seconds) * 1e6

        try:
            wrk(up.port, "/plain", 1)  # warm both
            wrk(up.port, "/emf", 1)
            for _ in range(runs):
                (plain, plain_cpu), (emf, emf_cpu) = load("/plain"), load("/emf")
                out.append((plain, emf, plain_cpu, emf_cpu))
        finally:
            up.stop()
    return out


def median_of(runs: int, f: Callable[[], float]) -> tuple[float, list[float]]:
    values = [f() for _ in range(runs)]
    return statistics.median(values), values


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--lines", type=int, default=50_000)
    parser.add_argument("--wrk-seconds", type=int, default=3)
    args = parser.parse_args()

    print("| a log line | µs per line | / no reader |")
    print("|---|---:|---:|")
    cases = {
        "no reader (reference)": "none",
        "reader tapped, plain line": "plain",
        "EMF line (Powertools' shape)": "emf",
        "metric filter, JSON pattern": "filter",
        "log subscription (`ERROR`, every other line kept)": "subscribed",
    }
    ref = 0.0
    for name, tap in cases.items():
        value, _ = median_of(args.runs, lambda tap=tap: per_line(args.lines, tap))  # type: ignore[misc]
        ref = ref or value
        print(f"| {name} | {value:.2f} | {value / ref:.2f} |")

    value, _ = median_of(args.runs, per_api_request)
    print(f"\na request counted in its API's AWS/ApiGateway metrics: {value:.2f} µs")

    print("\n| an alarm evaluation | µs | / one AWS/Lambda metric |")
    print("|---|---:|---:|")
    ref = 0.0
    for name, kind in {
        "one AWS/Lambda metric (reference)": "lambda",
        "metric math: error rate of 2 metrics": "math",
        "one published metric": "published",
    }.items():
        value, _ = median_of(args.runs, lambda kind=kind: per_evaluation(kind))  # type: ignore[misc]
        ref = ref or value
        print(f"| {name} | {value:.1f} | {value / ref:.2f} |")

    if args.wrk_seconds and shutil.which("wrk"):
        runs = served(args.wrk_seconds, args.runs)
        plain, emf = (statistics.median(r[i] for r in runs) for i in (0, 1))
        plain_cpu, emf_cpu = (statistics.median(r[i] for r in runs) for i in (2, 3))
        ratios = ", ".join(f"{r[3] / r[2]:.2f}" for r in runs)
        print(
            f"\nwrk -c16, {args.runs} alternating runs: a plain line {plain:,.0f} req/s, "
            f"an EMF line {emf:,.0f} req/s; CPU per request {plain_cpu:.0f} µs and "
            f"{emf_cpu:.0f} µs ({emf_cpu / plain_cpu:.2f}; per run {ratios})"
        )


if __name__ == "__main__":
    main()
