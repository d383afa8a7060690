"""Choice rules: parsed and checked at load, evaluated without side effects.

A rule is a :class:`Comparison` (``Variable`` + one operator such as ``NumericEquals`` or
``StringLessThanPath``) or a combination (:class:`And`, :class:`Or`, :class:`Not`).
Values of the wrong type never match (``NumericEquals`` on a string is false); a
``Variable`` that names nothing is a ``States.Runtime`` error except for ``IsPresent``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any, assert_never

from canaria.workflows.errors import RUNTIME, DefinitionError, StatesError
from canaria.workflows.paths import Path, PathNotFound, PathSyntaxError, parse_path, resolve


class Operator(StrEnum):
    STRING_EQUALS = "StringEquals"
    STRING_LESS_THAN = "StringLessThan"
    STRING_GREATER_THAN = "StringGreaterThan"
    STRING_LESS_THAN_EQUALS = "StringLessThanEquals"
    STRING_GREATER_THAN_EQUALS = "StringGreaterThanEquals"
    STRING_MATCHES = "StringMatches"
    NUMERIC_EQUALS = "NumericEquals"
    NUMERIC_LESS_THAN = "NumericLessThan"
    NUMERIC_GREATER_THAN = "NumericGreaterThan"
    NUMERIC_LESS_THAN_EQUALS = "NumericLessThanEquals"
    NUMERIC_GREATER_THAN_EQUALS = "NumericGreaterThanEquals"
    BOOLEAN_EQUALS = "BooleanEquals"
    TIMESTAMP_EQUALS = "TimestampEquals"
    TIMESTAMP_LESS_THAN = "TimestampLessThan"
    TIMESTAMP_GREATER_THAN = "TimestampGreaterThan"
    TIMESTAMP_LESS_THAN_EQUALS = "TimestampLessThanEquals"
    TIMESTAMP_GREATER_THAN_EQUALS = "TimestampGreaterThanEquals"
    IS_NULL = "IsNull"
    IS_PRESENT = "IsPresent"
    IS_NUMERIC = "IsNumeric"
    IS_STRING = "IsString"
    IS_BOOLEAN = "IsBoolean"
    IS_TIMESTAMP = "IsTimestamp"

    @property
    def family(self) -> str:
        for family in ("String", "Numeric", "Boolean", "Timestamp"):
            if self.value.startswith(family):
                return family
        return "Is"

    @property
    def relation(self) -> str:
        return self.value.removeprefix(self.family)


# Operators with a ...Path variant comparing against another node of the input.
_HAS_PATH_VARIANT = frozenset(
    op for op in Operator if op.family != "Is" and op is not Operator.STRING_MATCHES
)


@dataclass(frozen=True)
class Comparison:
    variable: Path
    operator: Operator
    value: Any = None  # the literal operand, when value_path is None
    value_path: Path | None = None  # the ...Path variant's operand


@dataclass(frozen=True)
class And:
    rules: tuple[Rule, ...]


@dataclass(frozen=True)
class Or:
    rules: tuple[Rule, ...]


@dataclass(frozen=True)
class Not:
    rule: Rule


Rule = Comparison | And | Or | Not


@dataclass(frozen=True)
class ChoiceBranch:
    rule: Rule
    next: str


_TIMESTAMP = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})")


def parse_timestamp(value: Any) -> datetime | None:
    """An RFC 3339 timestamp (``2016-03-14T01:59:00Z``) as an aware datetime, else None."""
    if not isinstance(value, str) or _TIMESTAMP.fullmatch(value) is None:
        return None
    text = value[:-1] + "+00:00" if value.endswith("Z") else value
    head, dot, rest = text.partition(".")
    if dot:  # Python wants at most 6 fractional digits
        digits = re.match(r"\d+", rest)
        assert digits is not None
        text = f"{head}.{digits.group()[:6].ljust(6, '0')}{rest[digits.end() :]}"
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        return None


def parse_choice(obj: Any, state: str) -> ChoiceBranch:
    """One entry of ``Choices``: a rule with a ``Next``."""
    if not isinstance(obj, dict):
        raise DefinitionError("each of Choices must be an object", state=state)
    nxt = obj.get("Next")
    if not isinstance(nxt, str):
        raise DefinitionError("a Choice rule at the top level needs a Next", state=state)
    return ChoiceBranch(parse_rule(obj, state, top_level=True), nxt)


def parse_rule(obj: Any, state: str, *, top_level: bool = False) -> Rule:
    if not isinstance(obj, dict):
        raise DefinitionError("a Choice rule must be an object", state=state)
    keys = set(obj) - {"Comment"}
    if top_level:
        keys.discard("Next")
    elif "Next" in obj:
        raise DefinitionError("a nested Choice rule cannot have a Next", state=state)
    if "Assign" in keys:
        raise DefinitionError("Choice rule uses Assign: variables are not supported", state=state)
    for combinator in ("And", "Or", "Not"):
        if combinator in keys:
            if keys != {combinator}:
                extra = ", ".join(sorted(keys - {combinator}))
                raise DefinitionError(f"Choice rule mixes {combinator} with {extra}", state=state)
            return _combination(combinator, obj[combinator], state)
    if "Variable" not in keys:
        raise DefinitionError(
            "Choice rule needs a Variable and an operator, or And / Or / Not", state=state
        )
    variable = _path(obj["Variable"], state, "Variable")
    operators = keys - {"Variable"}
    if len(operators) != 1:
        names = ", ".join(sorted(operators)) or "none"
        raise DefinitionError(f"Choice rule needs exactly one operator, got {names}", state=state)
    (name,) = operators
    return _comparison(variable, name, obj[name], state)


def _combination(combinator: str, value: Any, state: str) -> Rule:
    if combinator == "Not":
        return Not(parse_rule(value, state))
    if not isinstance(value, list) or not value:
        raise DefinitionError(f"Choice rule {combinator} needs a non-empty array", state=state)
    rules = tuple(parse_rule(item, state) for item in value)
    return And(rules) if combinator == "And" else Or(rules)


def _comparison(variable: Path, name: str, value: Any, state: str) -> Comparison:
    by_path = name.endswith("Path") and name != "Path"
    base = name.removesuffix("Path") if by_path else name
    try:
        operator = Operator(base)
    except ValueError:
        raise DefinitionError(f'Choice rule uses unknown operator "{name}"', state=state) from None
    if by_path:
        if operator not in _HAS_PATH_VARIANT:
            raise DefinitionError(f'Choice rule uses unknown operator "{name}"', state=state)
        return Comparison(variable, operator, value_path=_path(value, state, name))
    family = operator.family
    ok = {
        "String": isinstance(value, str),
        "Numeric": isinstance(value, int | float) and not isinstance(value, bool),
        "Boolean": isinstance(value, bool),
        "Timestamp": parse_timestamp(value) is not None,
        "Is": isinstance(value, bool),
    }[family]
    if not ok:
        wanted = {
            "String": "a string",
            "Numeric": "a number",
            "Boolean": "true or false",
            "Timestamp": "an RFC 3339 timestamp such as 2016-03-14T01:59:00Z",
            "Is": "true or false",
        }[family]
        raise DefinitionError(f"Choice operator {name} needs {wanted}, got {value!r}", state=state)
    return Comparison(variable, operator, value=value)


def _path(value: Any, state: str, field: str) -> Path:
    if not isinstance(value, str):
        raise DefinitionError(f"Choice rule {field} must be a path string", state=state)
    try:
        return parse_path(value)
    except PathSyntaxError as exc:
        raise DefinitionError(f"Choice rule {field}: {exc}", state=state) from None


def evaluate(rule: Rule, data: Any, context: Any) -> bool:
    match rule:
        case And(rules):
            return all(evaluate(r, data, context) for r in rules)
        case Or(rules):
            return any(evaluate(r, data, context) for r in rules)
        case Not(inner):
            return not evaluate(inner, data, context)
        case Comparison():
            return _compare(rule, data, context)
        case _:
            assert_never(rule)


def _compare(rule: Comparison, data: Any, context: Any) -> bool:
    try:
        actual = resolve(rule.variable, data, context)
    except PathNotFound:
        if rule.operator is Operator.IS_PRESENT:
            return rule.value is False
        raise StatesError(
            RUNTIME,
            f"Invalid path {rule.variable.text!r}: the choice state's condition path "
            "references an invalid value.",
        ) from None
    if rule.value_path is not None:
        try:
            expected = resolve(rule.value_path, data, context)
        except PathNotFound:
            raise StatesError(
                RUNTIME,
                f"Invalid path {rule.value_path.text!r}: the choice state's condition path "
                "references an invalid value.",
            ) from None
    else:
        expected = rule.value
    return _apply(rule.operator, actual, expected)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _apply(op: Operator, actual: Any, expected: Any) -> bool:
    match op.family:
        case "Is":
            test = {
                Operator.IS_NULL: actual is None,
                Operator.IS_PRESENT: True,
                Operator.IS_NUMERIC: _is_number(actual),
                Operator.IS_STRING: isinstance(actual, str),
                Operator.IS_BOOLEAN: isinstance(actual, bool),
                Operator.IS_TIMESTAMP: parse_timestamp(actual) is not None,
            }[op]
            return test is expected
        case "String":
            if not isinstance(actual, str) or not isinstance(expected, str):
                return False
            if op is Operator.STRING_MATCHES:
                return _wildcard(expected).fullmatch(actual) is not None
            return _relate(op.relation, actual, expected)
        case "Numeric":
            if not _is_number(actual) or not _is_number(expected):
                return False
            return _relate(op.relation, actual, expected)
        case "Boolean":
            return isinstance(actual, bool) and isinstance(expected, bool) and actual is expected
        case "Timestamp":
            left, right = parse_timestamp(actual), parse_timestamp(expected)
            if left is None or right is None:
                return False
            return _relate(op.relation, left, right)
    raise AssertionError(f"unhandled operator family {op.family}")


def _relate(relation: str, a: Any, b: Any) -> bool:
    match relation:
        case "Equals":
            return bool(a == b)
        case "LessThan":
            return bool(a < b)
        case "GreaterThan":
            return bool(a > b)
        case "LessThanEquals":
            return bool(a <= b)
        case "GreaterThanEquals":
            return bool(a >= b)
    raise AssertionError(f"unhandled relation {relation}")


def _wildcard(pattern: str) -> re.Pattern[str]:
    """``StringMatches``: ``*`` matches anything, ``\\*`` a star, ``\\\\`` a backslash."""
    out: list[str] = []
    i = 0
    while i < len(pattern):
        c = pattern[i]
        if c == "\\" and i + 1 < len(pattern) and pattern[i + 1] in "*\\":
            out.append(re.escape(pattern[i + 1]))
            i += 2
            continue
        out.append(".*" if c == "*" else re.escape(c))
        i += 1
    return re.compile("".join(out), re.DOTALL)


__all__ = [
    "And",
    "ChoiceBranch",
    "Comparison",
    "Not",
    "Operator",
    "Or",
    "Rule",
    "evaluate",
    "parse_choice",
    "parse_rule",
    "parse_timestamp",
]
