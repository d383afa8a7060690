"""canaria's ``Fn::ForEach`` expansion over the ``AWS::LanguageExtensions`` transform's own
compatibility templates.

    .venv/bin/python bench/language_extensions_corpus.py DIR [--show 10]

DIR is a checkout of aws/aws-sam-cli (third-party, fetched by whoever runs the bench and
never committed); its ``tests/unit/lib/cfn_language_extensions/compatibility/templates/
forEach/{resources,conditions,outputs}`` hold the transform's test templates: an input,
and, when the transform accepts it, the template it expands to (``…Expected.json`` or
``…Resolved.json``). Each input is read as canaria reads a template (its ``Transform``
set to ``AWS::LanguageExtensions``, its parameters' defaults), its loops expanded with
``canaria.template.language_extensions.expand``, and compared with the expected template
section by section: the same keys, and the same values once a ``Fn::Sub`` whose text names
no variable is read as its text and each ``Fn::FindInMap`` is resolved (the transform
resolves those; canaria resolves them later, with the rest), and an empty section is no
section. An input without an expected template must be refused.

Prints a Markdown table of outcomes per section and the first ``--show`` differences.
"""

from __future__ import annotations

import argparse
import json
import tempfile
from collections import Counter
from pathlib import Path
from typing import Any

from canaria.errors import TemplateError, TemplateErrors
from canaria.template.intrinsics import NO_VALUE
from canaria.template.language_extensions import SECTIONS, TRANSFORM, collections, expand
from canaria.template.nodes import LineMap, Where, plain
from canaria.template.parameters import resolve_parameters
from canaria.template.yamlload import load_document

CORPUS = "tests/unit/lib/cfn_language_extensions/compatibility/templates/forEach"


def pairs(directory: Path) -> list[tuple[Path, Path | None]]:
    out = []
    for path in sorted(directory.glob("*.json")):
        if path.stem.endswith(("Expected", "Resolved")):
            continue
        expected = next(
            (p for p in (directory / f"{path.stem}{s}.json" for s in ("Expected", "Resolved"))
             if p.exists()),
            None,
        )  # fmt: skip
        out.append((path, expected))
    return out


def literal_subs(value: Any) -> Any:
    """``value`` with each ``Fn::Sub`` of a text naming no variable read as that text."""
    if isinstance(value, dict):
        text = value.get("Fn::Sub") if list(value) == ["Fn::Sub"] else None
        if isinstance(text, str) and "${" not in text.replace("${!", ""):
            return text.replace("${!", "${")
        return {k: literal_subs(v) for k, v in value.items()}
    if isinstance(value, list):
        return [literal_subs(v) for v in value]
    return value


def resolve_maps(value: Any, resolve: Any) -> Any:
    """``value`` with each ``Fn::FindInMap`` resolved as canaria resolves it when it reads
    the property (the transform resolves those itself); ``AWS::NoValue`` drops the key."""
    if isinstance(value, dict):
        if list(value) == ["Fn::FindInMap"]:
            return resolve(value)
        out = {}
        for key, inner in value.items():
            resolved = resolve_maps(inner, resolve)
            if resolved is not NO_VALUE:
                out[key] = resolved
        return out
    if isinstance(value, list):
        return [resolve_maps(v, resolve) for v in value]
    return value


def run_one(source: Path, root: Path) -> dict[str, Any]:
    """canaria's expansion of one input: its sections, or the error it gives."""
    template = json.loads(source.read_text())
    template["Transform"] = TRANSFORM
    path = root / source.name
    path.write_text(json.dumps(template))
    doc = load_document(path, source.name, [])
    top = Where(source.name, "", doc.line)
    try:
        params = resolve_parameters(doc.get("Parameters"), top.key(doc, "Parameters"), {}, {}, None)
        resolve = collections(doc, top, params, "stack")
        expand(doc, top, resolve)
        sections = {
            s: resolve_maps(plain(doc[s]), lambda v: plain(resolve(LineMap(v), top)))
            for s in SECTIONS
            if s in doc
        }
    except (TemplateError, TemplateErrors) as exc:
        return {"error": str(exc).splitlines()[0]}
    return {s: literal_subs(v) for s, v in sections.items() if v}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("dir", type=Path)
    parser.add_argument("--show", type=int, default=10)
    args = parser.parse_args()
    counts: Counter[tuple[str, str]] = Counter()
    shown: list[str] = []
    with tempfile.TemporaryDirectory() as tmp:
        for section in ("resources", "conditions", "outputs"):
            for source, expected_path in pairs(args.dir / CORPUS / section):
                ours = run_one(source, Path(tmp))
                if expected_path is None:
                    outcome = "refused, as the transform" if "error" in ours else "accepted wrongly"
                    if "error" not in ours:
                        shown.append(f"{section}/{source.stem}: accepted")
                else:
                    expected = json.loads(expected_path.read_text())
                    wanted = {
                        s: literal_subs(expected[s]) or None for s in SECTIONS if s in expected
                    }
                    if "error" in ours:
                        outcome = "refused wrongly"
                        shown.append(f"{section}/{source.stem}: {ours['error']}")
                    elif ours == wanted:
                        outcome = "expanded as the transform"
                    else:
                        outcome = "expanded differently"
                        diff = [s for s in SECTIONS if ours.get(s) != wanted.get(s)]
                        shown.append(
                            f"{section}/{source.stem}: {diff[0]}: ours "
                            f"{json.dumps(ours.get(diff[0]))[:300]} / theirs "
                            f"{json.dumps(wanted.get(diff[0]))[:300]}"
                        )
                counts[(section, outcome)] += 1
    print("| section | outcome | templates |")
    print("|---|---|---:|")
    for (section, outcome), n in sorted(counts.items()):
        print(f"| {section} | {outcome} | {n} |")
    for line in shown[: args.show]:
        print(f"\n- {line}")


if __name__ == "__main__":
    main()
