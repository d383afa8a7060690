"""What expanding ``Fn::ForEach`` costs when a template loads.

    .venv/bin/python bench/language_extensions_cost.py [--functions 20] [--loads 20] [--runs 5]

Writes two templates declaring the same ``--functions`` functions (each with an HTTP API
route and an environment): one with a ``Fn::ForEach`` loop over their names (the
``AWS::LanguageExtensions`` transform), one with every function written out (the
reference); loads each with ``canaria.template.load`` ``--loads`` times in turn per run
and prints the medians over ``--runs`` of each one's median load time, and their ratio.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import textwrap
import time
from pathlib import Path

from canaria.template import load

FUNCTION = """\
  {name}Function:
    Type: AWS::Serverless::Function
    Properties:
      Handler: app.handler
      Runtime: python3.11
      CodeUri: src
      AutoPublishAlias: live
      Environment: {{Variables: {{NAME: {name}}}}}
      Events:
        Get: {{Type: HttpApi, Properties: {{Path: /{name}, Method: get}}}}
"""
LOOP = """\
  Fn::ForEach::Functions:
    - Name
    - [{names}]
    - ${{Name}}Function:
        Type: AWS::Serverless::Function
        Properties:
          Handler: app.handler
          Runtime: python3.11
          CodeUri: src
          AutoPublishAlias: live
          Environment: {{Variables: {{NAME: !Ref Name}}}}
          Events:
            Get:
              Type: HttpApi
              Properties: {{Path: "/${{Name}}", Method: get}}
"""


def write(root: Path, count: int) -> tuple[str, str]:
    (root / "src").mkdir(parents=True)
    (root / "src" / "app.py").write_text("def handler(event, context):\n    return 'ok'\n")
    names = [f"F{i}" for i in range(count)]
    flat = root / "flat.yaml"
    flat.write_text(
        "Transform: AWS::Serverless-2016-10-31\nResources:\n"
        + "".join(FUNCTION.format(name=n) for n in names)
    )
    looped = root / "looped.yaml"
    looped.write_text(
        "Transform: [AWS::LanguageExtensions, AWS::Serverless-2016-10-31]\nResources:\n"
        + LOOP.format(names=", ".join(names))
    )
    assert set(load(str(flat)).functions) == set(load(str(looped)).functions)
    return str(flat), str(looped)


def median_load(path: str, loads: int) -> float:
    times = []
    for _ in range(loads):
        start = time.perf_counter()
        load(path)
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--functions", type=int, default=20)
    parser.add_argument("--loads", type=int, default=20)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        flat, looped = write(Path(tmp), args.functions)
        runs = []
        for i in range(args.runs):
            result = (median_load(flat, args.loads), median_load(looped, args.loads))
            runs.append(result)
            print(f"run {i + 1}: written out {result[0]:.1f} ms, loop {result[1]:.1f} ms")
    flat_ms = statistics.median(r[0] for r in runs)
    loop_ms = statistics.median(r[1] for r in runs)
    print(
        textwrap.dedent(
            f"""
            | {args.functions} functions | median load (ms) | ratio |
            |---|---:|---:|
            | written out (reference) | {flat_ms:.1f} | 1.00 |
            | one Fn::ForEach loop | {loop_ms:.1f} | {loop_ms / flat_ms:.2f} |"""
        )
    )


if __name__ == "__main__":
    main()
