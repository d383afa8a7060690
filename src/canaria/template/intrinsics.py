"""Intrinsic functions and conditions, resolved to plain values.

``Resolver.resolve`` walks a value and replaces ``Ref``, ``Fn::Sub``, ``Fn::GetAtt``,
``Fn::Join``, ``Fn::Select``, ``Fn::Split``, ``Fn::If``, ``Fn::FindInMap``,
``Fn::Base64``, ``Fn::GetAZs`` (and the condition functions) by what they stand for;
with the ``AWS::LanguageExtensions`` transform, ``Fn::Length``, ``Fn::ToJsonString`` and
``Fn::FindInMap``'s ``DefaultValue`` too (its loops are expanded before:
``language_extensions.py``).
``Ref AWS::NoValue`` removes the key or list item that holds it. What a resource's
``Ref`` or ``Fn::GetAtt`` gives is the business of a ``Resources`` index (``index.py``).
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Iterable, Mapping
from typing import Any, Final, Protocol

from canaria.models.arns import ACCOUNT, REGION, stack_arn
from canaria.template.nodes import (
    LineList,
    LineMap,
    Where,
    as_int,
    as_str,
    choices,
    plain,
    type_name,
)
from canaria.template.parameters import Parameter


class _NoValue:
    def __repr__(self) -> str:
        return "AWS::NoValue"


NO_VALUE: Final = _NoValue()
NO_DEFAULT: Final = object()  # Fn::FindInMap without a DefaultValue

PSEUDO = (
    "AWS::Region",
    "AWS::AccountId",
    "AWS::StackName",
    "AWS::StackId",
    "AWS::Partition",
    "AWS::URLSuffix",
    "AWS::NotificationARNs",
    "AWS::NoValue",
)
INTRINSICS = (
    "Ref",
    "Fn::Sub",
    "Fn::GetAtt",
    "Fn::Join",
    "Fn::Select",
    "Fn::Split",
    "Fn::If",
    "Fn::Equals",
    "Fn::And",
    "Fn::Or",
    "Fn::Not",
    "Fn::FindInMap",
    "Fn::Base64",
    "Fn::GetAZs",
)
UNSUPPORTED = {
    "Fn::ImportValue": "it reads another stack's exports, and canaria runs one template: "
    "pass the value as a parameter instead",
    "Fn::Cidr": "canaria has no VPCs",
    "Fn::Transform": "macros are not run locally",
    "Fn::Length": "it needs the AWS::LanguageExtensions transform",
    "Fn::ToJsonString": "it needs the AWS::LanguageExtensions transform",
    "Fn::ForEach": "it needs the AWS::LanguageExtensions transform",
}
_SUB = re.compile(r"\$\{([^}]*)\}")


def pseudo_parameters(stack_name: str) -> dict[str, Any]:
    return {
        "AWS::Region": REGION,
        "AWS::AccountId": ACCOUNT,
        "AWS::StackName": stack_name,
        "AWS::StackId": stack_arn(stack_name),
        "AWS::Partition": "aws",
        "AWS::URLSuffix": "amazonaws.com",
        "AWS::NotificationARNs": [],
    }


def intrinsic_name(value: Any) -> str | None:
    """``"Ref"`` or ``"Fn::X"`` when ``value`` is an intrinsic function call."""
    if isinstance(value, Mapping) and len(value) == 1:
        (key,) = value
        if key == "Ref" or (isinstance(key, str) and key.startswith("Fn::")):
            return str(key)
    return None


class Resources(Protocol):
    """What resolution needs to know about the template's resources."""

    def __contains__(self, name: object) -> bool: ...

    def names(self) -> Iterable[str]: ...

    def ref(self, name: str, where: Where) -> Any: ...

    def get_att(self, name: str, attr: str, where: Where) -> Any: ...


class _NoResources:
    def __contains__(self, name: object) -> bool:
        return False

    def names(self) -> Iterable[str]:
        return ()

    def ref(self, name: str, where: Where) -> Any:
        raise where.error(f"{name} is not a resource")

    def get_att(self, name: str, attr: str, where: Where) -> Any:
        raise where.error(f"{name} is not a resource")


class Resolver:
    def __init__(
        self,
        params: Mapping[str, Parameter],
        pseudo: Mapping[str, Any],
        mappings: LineMap,
        conditions: LineMap,
        conditions_where: Where,
    ) -> None:
        self.params = params
        self.pseudo = pseudo
        self.mappings = mappings
        self.conditions = conditions
        self.conditions_where = conditions_where
        self.resources: Resources = _NoResources()
        self._condition_values: dict[str, bool] = {}
        # the template declares AWS::LanguageExtensions: Fn::Length, Fn::ToJsonString and
        # Fn::FindInMap's DefaultValue are resolved
        self.extensions = False
        self._evaluating: list[str] = []

    # ---- values --------------------------------------------------------------------------

    def resolve(self, value: Any, where: Where) -> Any:
        """``value`` with every intrinsic function replaced; may be ``NO_VALUE``."""
        name = intrinsic_name(value)
        if name is not None:
            return self._call(name, value[name], where.at(value))
        if isinstance(value, Mapping):
            node = value if isinstance(value, LineMap) else LineMap(value, line=where.line)
            items = ((k, self.resolve(v, where.key(node, k))) for k, v in node.items())
            return node.like((k, v) for k, v in items if v is not NO_VALUE)
        if isinstance(value, list):
            out = LineList(line=getattr(value, "line", where.line))
            for i, item in enumerate(value):
                resolved = self.resolve(item, where.index(value, i))
                if resolved is not NO_VALUE:
                    out.append(resolved)
                    out.lines.append(where.index(value, i).line)
            return out
        return value

    def get(self, node: Mapping[str, Any], key: str, where: Where) -> Any:
        """``node[key]`` resolved, or ``NO_VALUE`` when it is absent or removed."""
        if key not in node:
            return NO_VALUE
        return self.resolve(node[key], where.key(node, key))

    def _call(self, name: str, arg: Any, where: Where) -> Any:
        match name:
            case "Ref":
                if not isinstance(arg, str):
                    raise where.error(f"Ref takes a name, got {type_name(arg)}")
                return self.ref(arg, where)
            case "Fn::GetAtt":
                return self._get_att(arg, where)
            case "Fn::Sub":
                return self._sub(arg, where)
            case "Fn::Join":
                parts = self._args(name, arg, 2, where)
                delimiter = as_str(self.resolve(parts[0], where), where)
                items = self.resolve(parts[1], where)
                if not isinstance(items, list):
                    raise where.error(f"Fn::Join needs a list to join, got {type_name(items)}")
                return delimiter.join(as_str(i, where) for i in items)
            case "Fn::Select":
                parts = self._args(name, arg, 2, where)
                index = as_int(self.resolve(parts[0], where), where, lo=0)
                items = self.resolve(parts[1], where)
                if not isinstance(items, list):
                    raise where.error(f"Fn::Select needs a list, got {type_name(items)}")
                if index >= len(items):
                    raise where.error(
                        f"Fn::Select index {index} is past the end of a list of {len(items)}",
                        allowed=f"0 to {len(items) - 1}" if items else "none: the list is empty",
                    )
                return items[index]
            case "Fn::Split":
                parts = self._args(name, arg, 2, where)
                delimiter = as_str(self.resolve(parts[0], where), where)
                text = as_str(self.resolve(parts[1], where), where)
                return LineList(text.split(delimiter), line=where.line)
            case "Fn::If":
                parts = self._args(name, arg, 3, where)
                if not isinstance(parts[0], str):
                    raise where.error("Fn::If takes a condition name first")
                chosen = parts[1] if self.condition(parts[0], where) else parts[2]
                return self.resolve(chosen, where)
            case "Fn::Equals" | "Fn::And" | "Fn::Or" | "Fn::Not":
                return self.evaluate({name: arg}, where)
            case "Fn::FindInMap":
                return self._find_in_map(arg, where)
            case "Fn::Base64":
                text = as_str(self.resolve(arg, where), where)
                return base64.b64encode(text.encode()).decode()
            case "Fn::GetAZs":
                return LineList([f"{REGION}{z}" for z in "abcdef"], line=where.line)
            case "Fn::Length" if self.extensions:
                items = self.resolve(arg, where)
                if not isinstance(items, list):
                    raise where.error(f"Fn::Length takes a list, got {type_name(items)}")
                return len(items)
            case "Fn::ToJsonString" if self.extensions:
                value = self.resolve(arg, where)
                if not isinstance(value, Mapping | list):
                    raise where.error(
                        f"Fn::ToJsonString takes a mapping or a list, got {type_name(value)}"
                    )
                return json.dumps(plain(value), separators=(",", ":"))
            case _ if name in UNSUPPORTED:
                raise where.error(f"{name} is not supported: {UNSUPPORTED[name]}")
            case _:
                raise where.error(f"unknown intrinsic function {name}", allowed=INTRINSICS)

    def _args(self, name: str, arg: Any, count: int, where: Where) -> list[Any]:
        if not isinstance(arg, list) or len(arg) != count:
            raise where.error(f"{name} takes a list of {count} arguments, got {type_name(arg)}")
        return arg

    def ref(self, name: str, where: Where) -> Any:
        if name in self.params:
            return self.params[name].ref()
        if name == "AWS::NoValue":
            return NO_VALUE
        if name in self.pseudo:
            return self.pseudo[name]
        if name in self.resources:
            return self.resources.ref(name, where)
        raise where.error(
            f"Ref to {name!r}, which is not a parameter, a pseudo parameter or a resource",
            allowed=self._known(name),
        )

    def _known(self, near: str) -> str:
        return choices([*self.params, *self.resources.names()], near=near) + (
            "; AWS::Region, AWS::AccountId, AWS::StackName, ..."
        )

    def _get_att(self, arg: Any, where: Where) -> Any:
        if isinstance(arg, str):
            name, _, attr = arg.partition(".")
        elif isinstance(arg, list) and len(arg) == 2 and isinstance(arg[0], str):
            name = arg[0]
            attr = as_str(self.resolve(arg[1], where), where)
        else:
            raise where.error(
                "Fn::GetAtt takes [Resource, Attribute]", allowed="Resource.Attribute"
            )
        if "." in attr and f"{name}.{attr.split('.')[0]}" in self.resources:
            # !GetAtt Fn.Version.Version: an attribute of a resource SAM generates
            head, _, attr = attr.partition(".")
            name = f"{name}.{head}"
        if name not in self.resources or not attr:
            raise where.error(
                f"Fn::GetAtt names {name!r}, which is not a resource",
                allowed=choices(self.resources.names(), near=name) or "no resources",
            )
        return self.resources.get_att(name, attr, where)

    def _sub(self, arg: Any, where: Where) -> str:
        variables: dict[str, Any] = {}
        if isinstance(arg, list):
            if len(arg) != 2 or not isinstance(arg[1], Mapping):
                raise where.error("Fn::Sub takes a string or [string, {Name: value}]")
            text = as_str(self.resolve(arg[0], where), where)
            for k, v in arg[1].items():
                variables[k] = self.resolve(v, where.key(arg[1], k))
        else:
            text = as_str(arg, where)

        def replace(m: re.Match[str]) -> str:
            inner = m.group(1)
            if inner.startswith("!"):
                return "${" + inner[1:] + "}"
            key = inner.strip()
            if key in variables:
                value = variables[key]
            elif key in self.params or key in self.pseudo or key in self.resources:
                value = self.ref(key, where)
            elif "." in key:
                value = self._get_att(key, where)
            else:
                value = self.ref(key, where)
            if isinstance(value, list | Mapping) or value is NO_VALUE:
                raise where.error(f"Fn::Sub cannot put {type_name(value)} in ${{{key}}}")
            return as_str(value, where)

        return _SUB.sub(replace, text)

    def _find_in_map(self, arg: Any, where: Where) -> Any:
        default: Any = NO_DEFAULT
        if self.extensions and isinstance(arg, list) and len(arg) == 4:
            option = arg[3]
            if not isinstance(option, Mapping) or list(option) != ["DefaultValue"]:
                raise where.error("Fn::FindInMap's fourth argument is {DefaultValue: value}")
            default, arg = option["DefaultValue"], arg[:3]
        parts = self._args("Fn::FindInMap", arg, 3, where)
        keys = [as_str(self.resolve(p, where), where) for p in parts]
        node: Any = self.mappings
        for depth, key in enumerate(keys):
            if not isinstance(node, Mapping) or key not in node:
                if default is not NO_DEFAULT:
                    return self.resolve(default, where)
                level = ("map", "top-level key", "second-level key")[depth]
                options = sorted(node) if isinstance(node, Mapping) else []
                raise where.error(
                    f"Fn::FindInMap: no {level} {key!r}", allowed=", ".join(options) or "none"
                )
            node = node[key]
        return self.resolve(node, where)

    # ---- conditions ----------------------------------------------------------------------

    def condition(self, name: str, where: Where) -> bool:
        """The value of the named condition of the ``Conditions`` section."""
        if name in self._condition_values:
            return self._condition_values[name]
        if name not in self.conditions:
            raise where.error(
                f"unknown condition {name!r}", allowed=", ".join(sorted(self.conditions)) or "none"
            )
        if name in self._evaluating:
            raise where.error(
                "conditions refer to each other in a loop: "
                + " -> ".join([*self._evaluating, name])
            )
        self._evaluating.append(name)
        try:
            at = self.conditions_where.key(self.conditions, name)
            value = self.evaluate(self.conditions[name], at)
        finally:
            self._evaluating.pop()
        self._condition_values[name] = value
        return value

    def evaluate(self, expr: Any, where: Where) -> bool:
        """A condition expression: Fn::Equals, Fn::And, Fn::Or, Fn::Not, Condition."""
        where = where.at(expr)
        if isinstance(expr, Mapping) and len(expr) == 1:
            ((key, arg),) = expr.items()
            if key == "Condition" and isinstance(arg, str):
                return self.condition(arg, where)
            if key == "Fn::Equals":
                a, b = self._args(key, arg, 2, where)
                return _same(self.resolve(a, where), self.resolve(b, where))
            if key in ("Fn::And", "Fn::Or"):
                if not isinstance(arg, list) or not 2 <= len(arg) <= 10:
                    raise where.error(f"{key} takes a list of 2 to 10 conditions")
                values = (self.evaluate(e, where.index(arg, i)) for i, e in enumerate(arg))
                return all(values) if key == "Fn::And" else any(values)
            if key == "Fn::Not":
                (inner,) = self._args(key, arg, 1, where)
                return not self.evaluate(inner, where)
        if isinstance(expr, bool):
            return expr
        raise where.error(
            "a condition must be a condition function",
            allowed="Fn::Equals, Fn::And, Fn::Or, Fn::Not, Condition",
        )


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, list | Mapping) or isinstance(b, list | Mapping):
        return bool(a == b)
    return _text(a) == _text(b)


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)
