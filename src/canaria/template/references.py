"""Every ``Ref``, ``Fn::GetAtt`` and ``${...}`` in ``Fn::Sub`` must name something that exists.

CloudFormation refuses a template whose references do not resolve ("Unresolved resource
dependencies"); canaria resolves only the properties it runs, so this walks the whole
template (Globals, Resources, Conditions, Outputs) and reports every reference to a name
that is not a parameter, a pseudo parameter, a resource of the template or one SAM
generates (``FnRole``, ``ServerlessRestApi``, ``Fn.Version``, ...), at its line. A
``Fn.Version`` SAM left as written (``Fn`` has no AutoPublishAlias) names nothing either.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

from canaria.errors import TemplateError
from canaria.template.nodes import LineList, LineMap, Where, choices

SECTIONS = ("Globals", "Resources", "Conditions", "Outputs")
_SUB = re.compile(r"\$\{([^}]*)\}")
# what makes SAM generate ``X.<name>``
_NEEDS = {
    "Alias": "AutoPublishAlias",
    "Version": "AutoPublishAlias",
    "DeploymentGroup": "a DeploymentPreference",
    "DomainName": "a Domain",
    "Stage": "a StageName",
    "Deployment": "a StageName",
}


def reference_errors(
    doc: LineMap,
    top: Where,
    known: Iterable[str],
    resources: Iterable[str],
    unresolved: Iterable[str] = (),
) -> list[TemplateError]:
    """Errors for references to names outside ``known`` (parameters, pseudo parameters and
    every resource, generated ones included); ``resources`` are the template's own, whose
    ``Name.Sub`` forms SAM resolves, except the ``unresolved`` ones (``Fn.Version`` of a
    function without AutoPublishAlias)."""
    names = set(known)
    own = set(resources)
    left = set(unresolved)
    errors: list[TemplateError] = []

    def exists(name: str) -> bool:
        if name in names or name.startswith("AWS::"):
            return True
        head, dot, tail = name.partition(".")
        generated = f"{head}.{tail.split('.')[0]}"
        return bool(dot) and (head in own or head in names) and generated not in left

    def check(name: Any, at: Where, what: str) -> None:
        if isinstance(name, str) and name in left:
            head, _, tail = name.partition(".")
            needs = _NEEDS.get(tail, tail)
            errors.append(
                at.error(
                    f"{what} names {name!r}, which SAM generates only when {head} has "
                    f"{needs} (CloudFormation refuses unresolved references)",
                    allowed=f"{head} itself, or {needs} on {head}",
                )
            )
        elif isinstance(name, str) and not exists(name):
            errors.append(
                at.error(
                    f"{what} names {name!r}, which is not a parameter or a resource of the "
                    "template (CloudFormation refuses unresolved references)",
                    allowed=choices((n for n in names if not n.startswith("AWS::")), near=name)
                    or "none",
                )
            )

    def walk(node: Any, at: Where, local: frozenset[str]) -> None:
        if isinstance(node, Mapping):
            if len(node) == 1:
                key, arg = next(iter(node.items()))
                if key == "Ref":
                    check(arg, at, "Ref")
                    return
                if key == "Fn::GetAtt":
                    _get_att(arg, at)
                    return
                if key == "Fn::Sub":
                    _sub(arg, at, local)
                    return
            for key, value in node.items():
                walk(value, at.key(node, key), local)
        elif isinstance(node, list):
            for i, value in enumerate(node):
                walk(value, at.index(node, i), local)

    def _get_att(arg: Any, at: Where) -> None:
        if isinstance(arg, str):
            name, _, attr = arg.partition(".")
            dotted = f"{name}.{attr.split('.')[0]}"
            if "." in attr and (dotted in names or dotted in left):
                name = dotted
            check(name, at, "Fn::GetAtt")
        elif isinstance(arg, list) and arg:
            name = arg[0]
            if len(arg) > 1 and isinstance(name, str) and isinstance(arg[1], str):
                dotted = f"{name}.{arg[1].split('.')[0]}"
                name = dotted if "." in arg[1] and dotted in left else name
            check(name, at, "Fn::GetAtt")
            for i, value in enumerate(arg[1:], 1):
                walk(value, at.index(arg, i), frozenset())

    def _sub(arg: Any, at: Where, local: frozenset[str]) -> None:
        text = arg
        variables: frozenset[str] = frozenset()
        if isinstance(arg, list) and len(arg) == 2 and isinstance(arg[1], Mapping):
            text, variables = arg[0], frozenset(arg[1])
            for key, value in arg[1].items():
                walk(value, at.key(arg[1], key), local)
        if not isinstance(text, str):
            return
        for match in _SUB.finditer(text):
            inner = match.group(1).strip()
            if inner.startswith("!") or inner in variables or inner in local:
                continue
            head, dot, tail = inner.partition(".")
            if dot and not exists(inner):
                sub = f"{head}.{tail.split('.')[0]}"
                check(sub if sub in names or sub in left else head, at, "Fn::Sub")
            else:
                check(inner, at, "Fn::Sub")

    for section in SECTIONS:
        if isinstance(doc.get(section), LineMap | LineList | Mapping):
            walk(doc[section], top.key(doc, section), frozenset())
    return errors
