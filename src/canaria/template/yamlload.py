"""Reading YAML and JSON templates with line marks and CloudFormation's short-form tags.

A ``SafeLoader`` subclass builds ``LineMap``/``LineList`` and turns ``!Ref X`` into
``{"Ref": "X"}``, ``!GetAtt A.B`` into ``{"Fn::GetAtt": ["A", "B"]}``, ``!Sub ...`` into
``{"Fn::Sub": ...}`` and so on. Dates stay strings (CloudFormation reads
``AWSTemplateFormatVersion: 2010-09-09`` as text). A key written twice in a template
keeps its last value, as CloudFormation and SAM keep it, and is reported so that the
caller can warn; elsewhere (a state machine's definition) it is an error.
JSON is read by the same loader (JSON is YAML), so JSON templates get line marks too.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml

from canaria.errors import TemplateError
from canaria.template.nodes import LineList, LineMap

# short form → long form; "Ref" and "Condition" have no Fn:: prefix
SHORT_TAGS = (
    "Ref",
    "Condition",
    "Sub",
    "GetAtt",
    "If",
    "Join",
    "Select",
    "Split",
    "Equals",
    "And",
    "Or",
    "Not",
    "FindInMap",
    "Base64",
    "GetAZs",
    "ImportValue",
    "Cidr",
    "Length",  # AWS::LanguageExtensions
    "ToJsonString",
    "Transform",
)


Repeated = list[tuple[str, int, int]]  # (key, its first line, the line that replaced it)


class _Loader(yaml.SafeLoader):
    file = ""
    repeated: Repeated | None = None  # None: a key written twice is an error


def _key_text(key: Any) -> str:
    if isinstance(key, bool):
        return "true" if key else "false"
    return str(key)


def _mapping(loader: _Loader, node: yaml.MappingNode) -> LineMap:
    loader.flatten_mapping(node)
    out = LineMap(line=node.start_mark.line + 1)
    for key_node, value_node in node.value:
        key = _key_text(loader.construct_object(key_node, deep=True))
        line = key_node.start_mark.line + 1
        if key in out:
            if loader.repeated is None:
                raise TemplateError(
                    f"key {key!r} is written twice (first on line {out.lines[key]})",
                    file=loader.file,
                    line=line,
                )
            loader.repeated.append((key, out.lines[key], line))
        out[key] = loader.construct_object(value_node, deep=True)
        out.lines[key] = line
    return out


def _sequence(loader: _Loader, node: yaml.SequenceNode) -> LineList:
    out = LineList(line=node.start_mark.line + 1)
    for item in node.value:
        out.append(loader.construct_object(item, deep=True))
        out.lines.append(item.start_mark.line + 1)
    return out


def _short_form(name: str) -> Any:
    long_name = name if name in ("Ref", "Condition") else f"Fn::{name}"

    def construct(loader: _Loader, node: yaml.Node) -> LineMap:
        value: Any
        if isinstance(node, yaml.ScalarNode):
            value = loader.construct_scalar(node)
            if name == "GetAtt":
                text = str(value)
                if "." not in text:
                    raise TemplateError(
                        f"!GetAtt {text!r} must name a resource and an attribute",
                        file=loader.file,
                        line=node.start_mark.line + 1,
                        allowed="!GetAtt Resource.Attribute",
                    )
                head, _, attr = text.partition(".")
                value = LineList([head, attr], line=node.start_mark.line + 1)
        elif isinstance(node, yaml.SequenceNode):
            value = _sequence(loader, node)
        else:
            assert isinstance(node, yaml.MappingNode)
            value = _mapping(loader, node)
        out = LineMap({long_name: value}, line=node.start_mark.line + 1)
        out.lines[long_name] = node.start_mark.line + 1
        return out

    return construct


def _timestamp(loader: _Loader, node: yaml.ScalarNode) -> str:
    return str(loader.construct_scalar(node))


def _unknown_tag(loader: _Loader, suffix: str, node: yaml.Node) -> Any:
    raise TemplateError(
        f"unknown tag !{suffix}",
        file=loader.file,
        line=node.start_mark.line + 1,
        allowed=" ".join(f"!{t}" for t in SHORT_TAGS),
    )


_Loader.add_constructor("tag:yaml.org,2002:map", _mapping)
_Loader.add_constructor("tag:yaml.org,2002:seq", _sequence)
_Loader.add_constructor("tag:yaml.org,2002:timestamp", _timestamp)
for _tag in SHORT_TAGS:
    _Loader.add_constructor(f"!{_tag}", _short_form(_tag))
_Loader.add_multi_constructor("!", _unknown_tag)


def parse_text(text: str, file: str, repeated: Repeated | None = None) -> Any:
    """The document in ``text``; syntax errors become ``TemplateError`` with the line.
    With ``repeated``, a key written twice keeps its last value and is listed there."""
    loader = _Loader(text)
    loader.file = file
    loader.repeated = repeated
    try:
        return loader.get_single_data()
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else None
        problem = exc.problem or exc.context or "malformed"
        raise TemplateError(f"invalid YAML: {problem}", file=file, line=line) from None
    except yaml.YAMLError as exc:
        raise TemplateError(f"invalid YAML: {exc}", file=file) from None
    finally:
        loader.dispose()


def load_document(path: Path, display: str, repeated: Repeated | None = None) -> LineMap:
    """The template at ``path`` (YAML or JSON) as a ``LineMap`` (``repeated``: as for
    ``parse_text``)."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise TemplateError("template file not found", file=display) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise TemplateError(f"cannot read the template: {exc}", file=display) from None
    if path.suffix.lower() == ".json" or text.lstrip().startswith("{"):
        try:  # strict JSON first: YAML would accept more
            json.loads(text)
        except json.JSONDecodeError as exc:
            if path.suffix.lower() == ".json":
                raise TemplateError(
                    f"invalid JSON: {exc.msg}", file=display, line=exc.lineno
                ) from None
        else:  # valid JSON has tabs only as whitespace, which YAML refuses
            text = text.replace("\t", " ")
    doc = parse_text(text, display, repeated)
    if not isinstance(doc, LineMap):
        raise TemplateError("a template must be a mapping with a Resources section", file=display)
    return doc
