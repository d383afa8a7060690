"""What checking a template costs: canaria's loader against SAM's translator and cfn-lint.

    .venv/bin/python bench/template_checkers.py TEMPLATE... [--runs 5] [--cfn-lint PYTHON]
        [--reference-src DIR]

For each template, in fresh processes (median of ``--runs``):

- ``python``: the interpreter starting and parsing the template with PyYAML (the
  reference every other row is divided by);
- ``canaria load``: ``canaria.template.load`` (canaria's model and checks plus SAM's rules
  through ``aws-sam-translator``), what ``up``, ``deploy`` and ``validate`` pay;
- ``canaria load, reference source``: the same from another source tree given by
  ``--reference-src`` (e.g. an older commit's ``src/``), a template it refuses included;
- ``sam translator``: ``aws-sam-translator`` alone on the same document;
- ``cfn-lint``: ``cfnlint.api.lint`` with the Python given by ``--cfn-lint`` (a separate
  virtual environment, since canaria does not depend on it).

Also the warm time of one more template in the same process (``canaria load`` only), and
the installed size of each checker's packages when ``--sizes`` is given.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

PYTHON = """
import sys, yaml
class L(yaml.SafeLoader): pass
L.add_multi_constructor("!", lambda l, s, n: None)
yaml.load(open(sys.argv[1]), Loader=L)
"""
CANARIA_COLD = """
import sys
sys.path[:0] = sys.argv[2:]
from canaria.errors import TemplateError
from canaria.template import load
try:
    load(sys.argv[1])
except TemplateError:
    pass
"""
CANARIA = """
import sys, time
sys.path[:0] = sys.argv[2:]
from canaria.errors import TemplateError
from canaria.template import load
def once():
    try:
        load(sys.argv[1])
    except TemplateError:
        pass
once()
t = time.perf_counter(); once(); print(time.perf_counter() - t)
"""
TRANSLATOR = """
import sys, yaml, boto3
from samtranslator.translator.translator import Translator
from samtranslator.parser.parser import Parser
class L(yaml.SafeLoader): pass
def tag(l, s, n):
    name = s if s in ("Ref", "Condition") else "Fn::" + s
    if isinstance(n, yaml.ScalarNode):
        v = l.construct_scalar(n)
        return {name: v.split(".", 1) if name == "Fn::GetAtt" else v}
    if isinstance(n, yaml.SequenceNode):
        return {name: l.construct_sequence(n, deep=True)}
    return {name: l.construct_mapping(n, deep=True)}
L.add_multi_constructor("!", tag)
doc = yaml.load(open(sys.argv[1]), Loader=L)
try:
    Translator({}, Parser(), boto_session=boto3.Session(region_name="us-east-1")).translate(doc, {})
except Exception:
    pass
"""
CFN_LINT = """
import sys
from cfnlint.api import lint_all
lint_all(open(sys.argv[1]).read())
"""


def timed(python: str, code: str, template: Path, runs: int, *extra: str) -> float:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run(
            [python, "-c", code, str(template), *extra],
            check=True,
            capture_output=True,
            timeout=120,
        )
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def warm(template: Path, runs: int, *extra: str) -> float:
    out = []
    for _ in range(runs):
        done = subprocess.run(
            [sys.executable, "-c", CANARIA, str(template), *extra],
            check=True,
            capture_output=True,
            text=True,
            timeout=120,
        )
        out.append(float(done.stdout.strip()))
    return statistics.median(out)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("templates", nargs="+", type=Path)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--cfn-lint", help="a Python with cfn-lint installed")
    parser.add_argument(
        "--reference-src", type=Path, help="another canaria source tree (its src/) to compare"
    )
    args = parser.parse_args()
    print("| template | checker | cold, fresh process (s) | ratio to python | warm (ms) |")
    print("|---|---|---|---|---|")
    for template in args.templates:
        base = timed(sys.executable, PYTHON, template, args.runs)
        rows = [
            ("python + PyYAML", base, None),
            (
                "canaria load",
                timed(sys.executable, CANARIA_COLD, template, args.runs),
                warm(template, args.runs),
            ),
            ("sam translator", timed(sys.executable, TRANSLATOR, template, args.runs), None),
        ]
        if args.reference_src:
            src = str(args.reference_src)
            rows.insert(
                1,
                (
                    "canaria load, reference source",
                    timed(sys.executable, CANARIA_COLD, template, args.runs, src),
                    warm(template, args.runs, src),
                ),
            )
        if args.cfn_lint:
            rows.append(("cfn-lint", timed(args.cfn_lint, CFN_LINT, template, args.runs), None))
        for name, seconds, hot in rows:
            hot_ms = "" if hot is None else f"{1000 * hot:.1f}"
            print(
                f"| {template.parent.name}/{template.name} | {name} | {seconds:.2f} "
                f"| {seconds / base:.1f}x | {hot_ms} |"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
