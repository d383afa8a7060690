"""What reading a nested application costs next to the same resources in one template.

    .venv/bin/python bench/nested_templates.py [--children 4] [--functions 10] [--runs 5]

Writes, in a temporary directory, an application of ``--children`` nested applications
(``AWS::Serverless::Application`` with a local ``Location``), each holding ``--functions``
functions with an API event, a table and an output the parent passes on, and the same
application written as one template (every resource under the name canaria gives it:
``<Child><LogicalId>``, each child's implicit API written as the API it stands for). Loads each with
``canaria.template.load`` (what ``up``, ``deploy`` and ``validate`` do) in turn, 20 times
per run after a warm-up, and prints a Markdown table of the medians over ``--runs`` of each
one's median load time, and the nested one's ratio to the flat one's.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from canaria.template import load

HEAD = "Transform: AWS::Serverless-2016-10-31\n"
RUNTIME = f"python{sys.version_info.major}.{sys.version_info.minor}"


def function(name: str, table: str, path: str, indent: str) -> str:
    return (
        f"{indent}{name}:\n"
        f"{indent}  Type: AWS::Serverless::Function\n"
        f"{indent}  Properties:\n"
        f"{indent}    Handler: app.handler\n"
        f"{indent}    Runtime: {RUNTIME}\n"
        f"{indent}    CodeUri: src\n"
        f"{indent}    Environment: {{Variables: {{TABLE: !Ref {table}, STAGE: !Ref Stage}}}}\n"
        f"{indent}    Events:\n"
        f"{indent}      Get: {{Type: Api, Properties: {{Path: {path}, Method: get}}}}\n"
    )


def write(root: Path, children: int, functions: int) -> tuple[Path, Path]:
    """The nested application and its flat twin, each with its code folders."""
    nested, flat = root / "nested", root / "flat"
    for d in (nested, flat):
        (d / "src").mkdir(parents=True)
        (d / "src" / "app.py").write_text("def handler(event, context):\n    return {}\n")
    parent = [HEAD, "Parameters:\n  Stage: {Type: String, Default: dev}\nResources:\n"]
    flat_text = [HEAD, "Parameters:\n  Stage: {Type: String, Default: dev}\nResources:\n"]
    for c in range(children):
        name = f"Part{c}"
        parent.append(
            f"  {name}:\n    Type: AWS::Serverless::Application\n    Properties:\n"
            f"      Location: {name.lower()}/template.yaml\n"
            "      Parameters: {Stage: !Ref Stage}\n"
        )
        child = [HEAD, "Parameters:\n  Stage: {Type: String}\nResources:\n"]
        child.append("  Table: {Type: AWS::Serverless::SimpleTable}\n")
        flat_text.append(f"  {name}Table: {{Type: AWS::Serverless::SimpleTable}}\n")
        flat_text.append(f"  {name}ServerlessRestApi:\n    Type: AWS::Serverless::Api\n"
                         "    Properties: {StageName: Prod}\n")  # fmt: skip
        for f in range(functions):
            path = f"/{name.lower()}/f{f}"
            child.append(function(f"Fn{f}", "Table", path, "  "))
            twin = function(f"{name}Fn{f}", f"{name}Table", path, "  ")
            twin = twin.replace(
                "Method: get}", f"Method: get, RestApiId: !Ref {name}ServerlessRestApi}}"
            )
            flat_text.append(twin)
        child.append("Outputs:\n  TableName: {Value: !Ref Table}\n")
        folder = nested / name.lower()
        (folder / "src").mkdir(parents=True)
        (folder / "src" / "app.py").write_text("def handler(event, context):\n    return {}\n")
        (folder / "template.yaml").write_text("".join(child))
    (nested / "template.yaml").write_text("".join(parent))
    (flat / "template.yaml").write_text("".join(flat_text))
    return nested / "template.yaml", flat / "template.yaml"


def median_load(path: Path, times: int = 20) -> float:
    load(str(path))  # warm-up
    samples = []
    for _ in range(times):
        start = time.perf_counter()
        load(str(path))
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--children", type=int, default=4)
    parser.add_argument("--functions", type=int, default=10)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        nested, flat = write(Path(tmp), args.children, args.functions)
        a, b = load(str(nested)), load(str(flat))
        assert sorted(a.functions) == sorted(b.functions), "the two are not the same application"
        nested_runs, flat_runs = [], []
        for _ in range(args.runs):  # alternately, so that both see the same machine
            flat_runs.append(median_load(flat))
            nested_runs.append(median_load(nested))
    n, f = statistics.median(nested_runs), statistics.median(flat_runs)
    total = args.children * args.functions
    print(f"{args.children} nested applications, {total} functions, medians of {args.runs} runs")
    print()
    print("| template | load, ms | per-run medians, ms | ratio to flat |")
    print("|---|---:|---|---:|")
    for label, value, runs in (("one flat template (reference)", f, flat_runs),
                               ("parent + nested templates", n, nested_runs)):  # fmt: skip
        shown = ", ".join(f"{r * 1000:.1f}" for r in runs)
        print(f"| {label} | {value * 1000:.1f} | {shown} | {value / f:.2f} |")


if __name__ == "__main__":
    main()
