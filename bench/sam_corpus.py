"""canaria's template loader over the SAM translator's own test inputs.

    .venv/bin/python bench/sam_corpus.py DIR [--json out.json] [--worst 10] [--timeout 20]

DIR is a checkout (or extract) of aws/serverless-application-model holding
``tests/translator/input/`` and ``tests/translator/output/``; it is third-party data, fetched
by whoever runs the bench and never committed. Every input is copied to a temporary
directory with its local ``CodeUri`` / ``ContentUri`` folders and ``DefinitionUri`` files
created (the corpus names paths that do not exist), then loaded with ``canaria.template.load``.

Inputs named ``error_*`` are invalid (SAM's expected message is in ``output/error_*.json``);
every other input is valid. Outcomes:

- ``valid loaded`` / ``valid refused``: a valid template loaded, or refused wrongly;
- ``valid refused: limit <name>``: refused for one of canaria's named limits (a runtime it
  does not run yet, code in S3, a container image), which the README lists;
- ``valid refused: cloudformation-refuses``: refused for what CloudFormation refuses too
  (SAM's tests translate their inputs, never deploy them): a reference to nothing, an
  unknown property of a CloudFormation resource type, ...;
- ``error refused`` (and whether the message names a resource SAM's message names) /
  ``error accepted``;
- ``crash`` (any exception other than ``TemplateError``) and ``hang`` (``--timeout``).

Prints a Markdown table of counts, the load time per template (median, p95, max) and the
worst messages (the longest, those with Python reprs, every crash).
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import signal
import statistics
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from canaria.errors import TemplateError
from canaria.template import load

LIMITS = {
    "runtime": re.compile(r"runtime '[^']*' is not supported|Runtime.*not supported"),
    "s3-code": re.compile(
        r"(CodeUri|DefinitionUri|ContentUri).*(S3|s3)|SchemaUri: 'https://.*not a local file"
    ),
    "image": re.compile(r"container image functions are not supported"),
    "language-extensions": re.compile(r"transform 'AWS::LanguageExtensions' is not supported"),
    # a DeploymentPreference naming a config or an alarm the template does not declare:
    # it exists in an AWS account; canaria cannot know its traffic shape or metric
    "undeclared-config": re.compile(r"unknown deployment configuration"),
    "undeclared-alarm": re.compile(r"is not an AWS::CloudWatch::Alarm of this template"),
    # a resource of another type named like SAM's implicit API, and events that need it
    "implicit-api-name-taken": re.compile(r"this event needs the implicit API"),
}
# inputs of SAM's translator tests are translated, never deployed: some are templates
# CloudFormation itself refuses (a reference to nothing, a table without KeySchema, a
# resource without Type, a transform name made up for a test), which canaria refuses too
CLOUDFORMATION = re.compile(
    r"refuses unresolved references|which is not a parameter, a pseudo parameter or a resource"
    r"|which is not a resource|KeySchema is required|ProvisionedThroughput is required"
    r"|the resource has no Type|\.Type: expected a string|unknown parameter type 'List<String>'"
    r"|transform 'AWS::Serverless-2016-10-31-test'|is used twice"
    r"|the definition must be a mapping with StartAt and States"
    r"|needs exactly one definition|bad path variable '\{proxy\+\+\}'"
    r"|is not an AWS::Serverless::(Http)?Api of this template"
    r"|which is not a parameter or a resource|is also the name of"  # EventBridge: one name per bus
    r"|unknown filter rule|is not a valid AWS::S3::Bucket name"  # S3's own checks
    r"|a rule needs an EventPattern or a ScheduleExpression"
    r"|FilterCriteria.*the pattern is not valid"  # Lambda: a pattern's leaves are arrays
    r"|FilterCriteria\.Filters: expected a list"  # CloudFormation: Filters is a list
    r"|MaximumRecordAgeInSeconds of \d+ "  # Lambda: -1, or 60 s and more
    r"|is not valid GraphQL"  # AppSync: a schema naming types it does not define
)
UNKNOWN_PROPERTY = re.compile(
    r"Resources\.([A-Za-z0-9]+)\.Properties\.[A-Za-z0-9]+: unknown property"
)
TRANSFORM = "AWS::Serverless-2016-10-31"
REPR = re.compile(r"\['|\{'|\"\[|OrderedDict|LineMap|<[a-z_.]+ object")


class Hang(Exception):
    pass


@dataclass
class Result:
    name: str
    valid: bool
    outcome: str
    message: str = ""
    seconds: float = 0.0


class _Loose(yaml.SafeLoader):
    pass


def _any_tag(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> Any:
    name = suffix if suffix in ("Ref", "Condition") else f"Fn::{suffix}"
    if isinstance(node, yaml.ScalarNode):
        value: Any = loader.construct_scalar(node)
        if name == "Fn::GetAtt":
            value = value.split(".", 1)
        return {name: value}
    if isinstance(node, yaml.SequenceNode):
        return {name: loader.construct_sequence(node, deep=True)}
    assert isinstance(node, yaml.MappingNode)
    return {name: loader.construct_mapping(node, deep=True)}


def _set_limits_aside(doc: dict[str, Any]) -> bool:
    """Rewrite what only canaria's named limits refuse (another runtime, code in S3) so
    the rest of the template is checked; True when something changed."""
    changed = False
    runtime = f"python{sys.version_info.major}.{sys.version_info.minor}"
    globals_ = doc.get("Globals")
    blocks: list[Any] = [globals_.get("Function")] if isinstance(globals_, dict) else []
    resources = doc.get("Resources")
    if isinstance(resources, dict):
        blocks += [
            r.get("Properties")
            for r in resources.values()
            if isinstance(r, dict) and r.get("Type") == "AWS::Serverless::Function"
        ]
    for props in blocks:
        if not isinstance(props, dict):
            continue
        value = props.get("Runtime")
        if isinstance(value, str) and not value.startswith("python3"):
            props["Runtime"], changed = runtime, True
        code = props.get("CodeUri")
        if isinstance(code, dict) or (isinstance(code, str) and code.startswith("s3://")):
            props["CodeUri"], changed = "src", True
    return changed


_Loose.add_multi_constructor("!", _any_tag)


def _local_paths(doc: Any) -> tuple[set[str], set[str]]:
    """Folders (CodeUri, ContentUri) and files (DefinitionUri) the template names locally."""
    dirs: set[str] = set()
    files: set[str] = set()

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                if isinstance(value, str) and not value.startswith("s3://") and "${" not in value:
                    if key in ("CodeUri", "ContentUri"):
                        dirs.add(value)
                    elif key == "DefinitionUri":
                        files.add(value)
                walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(doc)
    return dirs, files


def _stage(source: Path, work: Path) -> tuple[Path, dict[str, str]]:
    """The template copied to ``work`` with its local paths, and values for parameters
    without a Default (SAM's tests translate without asking for them)."""
    text = source.read_text()
    target = work / source.name
    try:
        doc = yaml.load(text, Loader=_Loose)
    except yaml.YAMLError:
        target.write_text(text)
        return target, {}
    if isinstance(doc, dict) and _set_limits_aside(doc):
        text = json.dumps({"Transform": TRANSFORM, **doc}, indent=1, default=str)
    elif isinstance(doc, dict) and "Transform" not in doc:
        # SAM's tests translate every input; the transform line is implied
        text = (
            json.dumps({"Transform": TRANSFORM, **doc}, indent=1, default=str)
            if source.suffix == ".json"
            else f"Transform: {TRANSFORM}\n{text}"
        )
    target.write_text(text)
    overrides: dict[str, str] = {}
    params = doc.get("Parameters") if isinstance(doc, dict) else None
    for name, param in (params or {}).items() if isinstance(params, dict) else ():
        if isinstance(param, dict) and "Default" not in param:
            allowed = param.get("AllowedValues")
            overrides[str(name)] = str(allowed[0]) if isinstance(allowed, list) and allowed else "1"
    dirs, files = _local_paths(doc)
    for d in dirs:
        p = (work / d).resolve()
        if p.is_relative_to(work) and not p.exists():
            p.mkdir(parents=True, exist_ok=True)
    for f in files:
        p = (work / f).resolve()
        if p.is_relative_to(work) and not p.exists():
            p.parent.mkdir(parents=True, exist_ok=True)
            p.write_text('{"StartAt": "Done", "States": {"Done": {"Type": "Pass", "End": true}}}')
    return target, overrides


def _types(path: Path) -> dict[str, str]:
    """Logical id → type of the staged template's resources."""
    try:
        doc = yaml.load(path.read_text(), Loader=_Loose)
    except yaml.YAMLError:
        return {}
    resources = doc.get("Resources") if isinstance(doc, dict) else None
    if not isinstance(resources, dict):
        return {}
    return {
        str(k): v["Type"]
        for k, v in resources.items()
        if isinstance(v, dict) and isinstance(v.get("Type"), str)
    }


def _cloudformation_property(line: str, types: dict[str, str]) -> bool:
    """An unknown property of a CloudFormation (not SAM) resource type: CloudFormation's
    resource schemas allow no other properties (cfn-lint's E3002 says the same)."""
    found = UNKNOWN_PROPERTY.search(line)
    return bool(found) and not types.get(found.group(1), "AWS::Serverless::").startswith(
        "AWS::Serverless::"
    )


def _refusal(message: str, types: dict[str, str]) -> str:
    """The outcome of a valid template refused: a named limit when every error is one."""
    lines = [m for m in message.splitlines() if not m.endswith("problems in the template:")]
    kinds = set()
    for line in lines:
        limit = next((n for n, r in LIMITS.items() if r.search(line)), None)
        if limit is None and (CLOUDFORMATION.search(line) or _cloudformation_property(line, types)):
            limit = "cloudformation-refuses"
        kinds.add(limit)
    if None in kinds:
        return "valid refused"
    return "valid refused: " + "+".join(sorted(k for k in kinds if k))


def _alarm(signum: int, frame: Any) -> None:
    raise Hang()


def run_one(source: Path, timeout: int) -> Result:
    valid = not source.name.startswith("error_")
    work = Path(tempfile.mkdtemp(prefix="sam-corpus-"))
    try:
        path, overrides = _stage(source, work)
        signal.signal(signal.SIGALRM, _alarm)
        signal.alarm(timeout)
        started = time.perf_counter()
        try:
            load(str(path), overrides)
            outcome, message = ("valid loaded" if valid else "error accepted"), ""
        except TemplateError as exc:
            message = exc.message
            outcome = _refusal(message, _types(path)) if valid else "error refused"
        except Hang:
            outcome, message = "hang", f"no answer in {timeout} s"
        except Exception as exc:  # the bench counts crashes
            outcome, message = "crash", f"{type(exc).__name__}: {exc}"
        finally:
            signal.alarm(0)
        return Result(source.stem, valid, outcome, message, time.perf_counter() - started)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _expected(root: Path, name: str) -> str:
    out = root / "output" / f"{name}.json"
    if not out.exists():
        return ""
    try:
        data = json.loads(out.read_text())
    except ValueError:
        return ""
    return str(data.get("errorMessage", "")) if isinstance(data, dict) else ""


_IDS = re.compile(r"\[([A-Za-z0-9]+)\]")


def same_resource(expected: str, message: str) -> bool:
    ids = set(_IDS.findall(expected))
    return bool(ids) and any(re.search(rf"\b{i}\b", message) for i in ids)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("dir", type=Path)
    parser.add_argument("--json", type=Path)
    parser.add_argument("--worst", type=int, default=8)
    parser.add_argument("--timeout", type=int, default=20)
    parser.add_argument("--only", help="regular expression on input names")
    args = parser.parse_args()
    root = args.dir / "tests" / "translator" if (args.dir / "tests").exists() else args.dir
    inputs = sorted((root / "input").glob("*.yaml")) + sorted((root / "input").glob("*.json"))
    if args.only:
        inputs = [p for p in inputs if re.search(args.only, p.stem)]
    if not inputs:
        print(f"no inputs under {root / 'input'}", file=sys.stderr)
        return 2
    results = [run_one(p, args.timeout) for p in inputs]
    counts = Counter(r.outcome for r in results)
    same = sum(
        1
        for r in results
        if r.outcome == "error refused" and same_resource(_expected(root, r.name), r.message)
    )
    valid = sum(r.valid for r in results)
    errors = len(results) - valid
    print("| outcome | templates | of |\n|---|---|---|")
    for outcome, n in sorted(counts.items()):
        kind = outcome.split()[0]
        of = valid if kind == "valid" else errors if kind == "error" else len(results)
        print(f"| {outcome} | {n} | {of} |")
    refused = counts["error refused"]
    print(f"\nerror inputs refused: {refused}/{errors} ({100 * refused / max(errors, 1):.1f} %),")
    print(f"naming a resource SAM's message names: {same}/{refused}")
    times = sorted(r.seconds for r in results)
    p95 = times[int(0.95 * (len(times) - 1))]
    print(
        f"load time per template: median {1000 * statistics.median(times):.1f} ms, "
        f"p95 {1000 * p95:.1f} ms, max {1000 * times[-1]:.1f} ms"
    )
    print("\nworst messages:")
    bad = [r for r in results if r.outcome in ("crash", "hang", "valid refused")]
    reprs = [r for r in results if REPR.search(r.message)]
    longest = sorted(results, key=lambda r: -len(r.message))[:3]
    seen: set[str] = set()
    for r in [*bad, *reprs, *longest][: args.worst + len(bad)]:
        if r.name in seen:
            continue
        seen.add(r.name)
        text = r.message if len(r.message) < 300 else r.message[:300] + f"… ({len(r.message)})"
        print(f"- {r.name} [{r.outcome}]: {text}")
    if args.json:
        args.json.write_text(json.dumps([r.__dict__ for r in results], indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
