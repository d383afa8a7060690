"""What canaria makes of a folder of public SAM applications, template by template.

    .venv/bin/python bench/public_templates.py DIR [--json out.json] [--show 25] [--timeout 20]

DIR is a checkout of a collection of SAM applications (aws-samples/serverless-patterns,
aws-samples/aws-sam-cli-app-templates rendered, ...), fetched by whoever runs the bench and
never committed. Every ``template.yaml``/``template.yml``/``template.json`` under it that
declares SAM's transform is loaded in place with ``canaria.template.load``. A parameter
without a ``Default`` gets a value of its type (the first of its ``AllowedValues``, a number,
a list, an id shaped as the AWS type asks), as a user answering ``sam deploy --guided``
would give one.

Prints, as Markdown: how many loaded and how many were refused; the refusals grouped by
their message with ids and numbers blanked; and the warnings grouped the same way, each
kind with the number of templates it appears in. A warning is what canaria reads and does
not run, so the list of kinds, most frequent first, says what public applications use that
canaria skips.
"""

from __future__ import annotations

import argparse
import json
import re
import signal
import sys
from collections import defaultdict
from pathlib import Path
from typing import Any

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from canaria.errors import TemplateError, TemplateErrors
from canaria.template import load

NAMES = ("template.yaml", "template.yml", "template.json")
SKIP = {"node_modules", ".aws-sam", ".git", "cdk.out"}
# an AWS-typed parameter's placeholder, shaped as CloudFormation checks it
TYPED = {
    "Number": "1",
    "List<Number>": "1",
    "CommaDelimitedList": "a,b",
    "AWS::EC2::VPC::Id": "vpc-0123456789abcdef0",
    "AWS::EC2::Subnet::Id": "subnet-0123456789abcdef0",
    "AWS::EC2::SecurityGroup::Id": "sg-0123456789abcdef0",
    "AWS::EC2::KeyPair::KeyName": "key",
    "AWS::EC2::Image::Id": "ami-0123456789abcdef0",
    "AWS::Route53::HostedZone::Id": "Z0123456789ABC",
    "AWS::SSM::Parameter::Value<String>": "/placeholder",
    "List<AWS::EC2::Subnet::Id>": "subnet-0123456789abcdef0,subnet-0123456789abcdef1",
    "List<AWS::EC2::SecurityGroup::Id>": "sg-0123456789abcdef0",
}
_QUOTED = re.compile(r"'[^']*'|\"[^\"]*\"")
_NUMBER = re.compile(r"\b\d+(\.\d+)?\b")
_WHERE = re.compile(r"^\S+?:\d+: ")
_RESOURCE = re.compile(r"\bResources\.[A-Za-z0-9]+")


class Hang(Exception):
    pass


class _Loose(yaml.SafeLoader):
    pass


def _any_tag(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> Any:
    if isinstance(node, yaml.ScalarNode):
        return {suffix: loader.construct_scalar(node)}
    if isinstance(node, yaml.SequenceNode):
        return {suffix: loader.construct_sequence(node, deep=True)}
    assert isinstance(node, yaml.MappingNode)
    return {suffix: loader.construct_mapping(node, deep=True)}


_Loose.add_multi_constructor("!", _any_tag)


def templates(root: Path) -> list[Path]:
    """The SAM templates under ``root``, in path order."""
    found: list[Path] = []
    for path in sorted(root.rglob("template.*")):
        if path.name not in NAMES or SKIP.intersection(path.parts):
            continue
        try:
            text = path.read_text(errors="replace")
        except OSError:
            continue
        if "AWS::Serverless" in text:
            found.append(path)
    return found


def placeholders(path: Path) -> dict[str, str]:
    """A value for each parameter without a ``Default``."""
    try:
        doc = yaml.load(path.read_text(errors="replace"), Loader=_Loose)
    except yaml.YAMLError:
        return {}
    params = doc.get("Parameters") if isinstance(doc, dict) else None
    values: dict[str, str] = {}
    for name, param in params.items() if isinstance(params, dict) else ():
        if not isinstance(param, dict) or "Default" in param:
            continue
        allowed = param.get("AllowedValues")
        if isinstance(allowed, list) and allowed:
            values[str(name)] = str(allowed[0])
        else:
            values[str(name)] = TYPED.get(str(param.get("Type", "String")), f"p{name}".lower())
    return values


def kind(message: str) -> str:
    """A message with its place, names and numbers blanked, to group messages by."""
    first = message.strip().splitlines()[0] if message.strip() else ""
    first = _RESOURCE.sub("Resources.…", _WHERE.sub("", first))
    return _NUMBER.sub("N", _QUOTED.sub("…", first))[:160]


def _alarm(signum: int, frame: object) -> None:
    raise Hang()


def survey(root: Path, timeout: int) -> dict[str, Any]:
    loaded: list[str] = []
    refused: dict[str, list[str]] = defaultdict(list)
    warned: dict[str, set[str]] = defaultdict(set)
    crashes: list[tuple[str, str]] = []
    signal.signal(signal.SIGALRM, _alarm)
    for path in templates(root):
        name = str(path.parent.relative_to(root))
        signal.alarm(timeout)
        try:
            app = load(str(path), placeholders(path))
        except TemplateErrors as exc:
            for error in exc.errors[:1]:
                refused[kind(str(error))].append(name)
            continue
        except TemplateError as exc:
            refused[kind(str(exc))].append(name)
            continue
        except Hang:
            crashes.append((name, f"no answer in {timeout} s"))
            continue
        except Exception as exc:
            crashes.append((name, f"{type(exc).__name__}: {exc}"))
            continue
        finally:
            signal.alarm(0)
        loaded.append(name)
        for warning in app.warnings:
            warned[kind(warning)].add(name)
    return {
        "loaded": loaded,
        "refused": {k: v for k, v in refused.items()},
        "warnings": {k: sorted(v) for k, v in warned.items()},
        "crashes": crashes,
    }


def report(result: dict[str, Any], show: int) -> str:
    loaded, refused = result["loaded"], result["refused"]
    total = len(loaded) + sum(len(v) for v in refused.values()) + len(result["crashes"])
    lines = [
        f"{total} templates: {len(loaded)} loaded, "
        f"{sum(len(v) for v in refused.values())} refused, {len(result['crashes'])} crashed",
        "",
        "| refusals | templates | e.g. |",
        "|---|---:|---|",
    ]
    by_count = sorted(refused.items(), key=lambda kv: -len(kv[1]))
    lines += [f"| {k} | {len(v)} | {v[0]} |" for k, v in by_count[:show]]
    lines += ["", "| warnings (loaded templates) | templates | e.g. |", "|---|---:|---|"]
    warnings = sorted(result["warnings"].items(), key=lambda kv: -len(kv[1]))
    lines += [f"| {k} | {len(v)} | {v[0]} |" for k, v in warnings[:show]]
    if result["crashes"]:
        lines += ["", "Crashes:"] + [f"- {name}: {what}" for name, what in result["crashes"]]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("root", type=Path)
    parser.add_argument("--json", type=Path, help="write every template's outcome here")
    parser.add_argument("--show", type=int, default=25, help="kinds listed per table")
    parser.add_argument("--timeout", type=int, default=20, help="seconds per template")
    args = parser.parse_args()
    result = survey(args.root, args.timeout)
    if args.json:
        args.json.write_text(json.dumps(result, indent=1))
    print(report(result, args.show))


if __name__ == "__main__":
    main()
