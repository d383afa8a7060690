"""What an Application Load Balancer's listener costs next to an HTTP API route to the
same function.

    .venv/bin/python bench/load_balancers.py [--count 400] [--runs 3] [--wrk-seconds 3]

A real ``canaria up`` (a child process) serves, in the same run:

- ``GET /echo``: an HTTP API's Lambda proxy route to ``Echo`` (the reference);
- ``alb first rule``: a listener whose first rule (priority 1) forwards ``/echo`` to a
  target group of ``Echo``;
- ``alb 21st rule``: the same forward behind 20 rules that do not match (each a
  path-pattern with a wildcard and an http-header condition);
- ``alb fixed``: a rule answering with a fixed response (no function: the listener's own
  cost).

Each is called ``--count`` times in turn on one keep-alive connection after a warm-up;
prints a Markdown table of the medians over ``--runs`` of each one's median latency and
its ratio to the route's. With ``wrk`` on the PATH it also loads the route and the first
rule for ``--wrk-seconds`` each (16 connections, on loopback) and prints requests per
second.
"""

from __future__ import annotations

import argparse
import http.client
import re
import shutil
import statistics
import tempfile
import textwrap
import time
from pathlib import Path

from up import Up, wrk

MISSES = "".join(
    f"""
      Miss{i}:
        Type: AWS::ElasticLoadBalancingV2::ListenerRule
        Properties:
          ListenerArn: !Ref Deep
          Priority: {i}
          Conditions:
            - {{Field: path-pattern, Values: ["/miss{i}/*"]}}
            - {{Field: http-header, HttpHeaderConfig: {{HttpHeaderName: X-Miss, Values: [m{i}]}}}}
          Actions: [{{Type: forward, TargetGroupArn: !Ref Group}}]"""
    for i in range(1, 21)
)
TEMPLATE = textwrap.dedent(
    """
    Transform: AWS::Serverless-2016-10-31
    Resources:
      Echo:
        Type: AWS::Serverless::Function
        Properties:
          Runtime: python3.11
          CodeUri: src
          Handler: app.echo
          AutoPublishAlias: live
          Events:
            Get: {Type: HttpApi, Properties: {Path: /echo, Method: get}}
      LB:
        Type: AWS::ElasticLoadBalancingV2::LoadBalancer
        Properties: {Subnets: [a, b]}
      Group:
        Type: AWS::ElasticLoadBalancingV2::TargetGroup
        Properties: {TargetType: lambda, Targets: [{Id: !GetAtt Echo.Arn}]}
      First:
        Type: AWS::ElasticLoadBalancingV2::Listener
        Properties:
          LoadBalancerArn: !Ref LB
          Port: 80
          DefaultActions: [{Type: fixed-response, FixedResponseConfig: {StatusCode: "404"}}]
      Deep:
        Type: AWS::ElasticLoadBalancingV2::Listener
        Properties:
          LoadBalancerArn: !Ref LB
          Port: 8080
          DefaultActions: [{Type: fixed-response, FixedResponseConfig: {StatusCode: "404"}}]
      Forward:
        Type: AWS::ElasticLoadBalancingV2::ListenerRule
        Properties:
          ListenerArn: !Ref First
          Priority: 1
          Conditions: [{Field: path-pattern, Values: [/echo]}]
          Actions: [{Type: forward, TargetGroupArn: !Ref Group}]
      Fixed:
        Type: AWS::ElasticLoadBalancingV2::ListenerRule
        Properties:
          ListenerArn: !Ref First
          Priority: 2
          Conditions: [{Field: path-pattern, Values: [/fixed]}]
          Actions:
            - {Type: fixed-response, FixedResponseConfig: {StatusCode: "200", MessageBody: ok}}
      DeepForward:
        Type: AWS::ElasticLoadBalancingV2::ListenerRule
        Properties:
          ListenerArn: !Ref Deep
          Priority: 100
          Conditions: [{Field: path-pattern, Values: [/echo]}]
          Actions: [{Type: forward, TargetGroupArn: !Ref Group}]
    """
) + textwrap.indent(textwrap.dedent(MISSES), "  ")
APP = """\
def echo(event, context):
    return {"statusCode": 200, "body": "ok"}
"""
_LISTENER = re.compile(r"^alb +http://127\.0\.0\.1:(\d+)/ +\((\w+) of")


def timed(port: int, path: str, count: int) -> list[float]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    out: list[float] = []
    try:
        for _ in range(count):
            t = time.perf_counter()
            conn.request("GET", path)
            answer = conn.getresponse()
            answer.read()
            if answer.status != 200:
                raise RuntimeError(f"{port}{path}: {answer.status}")
            out.append(time.perf_counter() - t)
    finally:
        conn.close()
    return out


def one_run(count: int, wrk_seconds: int) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as tmp:
        up = Up(Path(tmp), {"template.yaml": TEMPLATE, "src/app.py": APP})
        listeners = {
            found[2]: int(found[1])
            for line in up.starting("alb ")
            if (found := _LISTENER.match(line)) is not None
        }
        try:
            cases = {
                "HTTP API /echo": (up.port, "/echo"),
                "alb first rule": (listeners["First"], "/echo"),
                "alb 21st rule": (listeners["Deep"], "/echo"),
                "alb fixed": (listeners["First"], "/fixed"),
            }
            for port, path in cases.values():
                timed(port, path, 30)  # warm the environment and the connections
            out = {
                n: statistics.median(timed(p, path, count)) * 1000 for n, (p, path) in cases.items()
            }
            if wrk_seconds and shutil.which("wrk"):
                out["wrk HTTP API /echo"] = wrk(up.port, "/echo", wrk_seconds)
                out["wrk alb first rule"] = wrk(listeners["First"], "/echo", wrk_seconds)
        finally:
            up.stop()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=400)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--wrk-seconds", type=int, default=3)
    args = parser.parse_args()
    runs = []
    for i in range(args.runs):
        result = one_run(args.count, args.wrk_seconds)
        runs.append(result)
        print(f"run {i + 1}: " + ", ".join(f"{k} {v:.2f}" for k, v in result.items()))
    print(f"\n{args.runs} runs of {args.count} sequential requests each; medians\n")
    print("| request | median latency (ms) | / HTTP API route |")
    print("|---|---:|---:|")
    ref = statistics.median(r["HTTP API /echo"] for r in runs)
    for name in [n for n in runs[0] if not n.startswith("wrk ")]:
        value = statistics.median(r[name] for r in runs)
        print(f"| {name} | {value:.2f} | {value / ref:.2f} |")
    if "wrk HTTP API /echo" in runs[0]:
        route = statistics.median(r["wrk HTTP API /echo"] for r in runs)
        alb = statistics.median(r["wrk alb first rule"] for r in runs)
        print(f"\nwrk -c16: HTTP API route {route:,.0f} req/s, ALB first rule {alb:,.0f} req/s")
        ratios = [r["wrk alb first rule"] / r["wrk HTTP API /echo"] for r in runs]
        print(f"(ALB / route per run: {', '.join(f'{x:.2f}' for x in ratios)})")


if __name__ == "__main__":
    main()
