"""Velocity as AppSync runs it: airspeed, made to render as Java's engine by
:mod:`canaria.gateway.mapping_templates`, plus what AppSync's templates need on top. Each
addition is a parse-time hook that applies only while :func:`compile_template` parses (API
Gateway's templates are parsed as before):

* ``#return`` and ``#return($value)`` raise :class:`Returned`: the template ends there.
* Velocity 1.7's truth in ``#if``, ``#elseif``, ``&&``, ``||`` and ``!``: only null and
  ``false`` are false; an empty string, ``0`` and an empty map are true (the templates
  Amplify generates rely on ``#if($map && $map.size() == 0)``).
* Velocity 1.7's arithmetic, comparisons and equality: ``+`` joins a string and anything
  else as text; ``/`` and ``%`` of integers truncate as Java's do; arithmetic on what is not
  a number (null included), or dividing by zero, gives null; ``<``, ``>``, ``<=``, ``>=``
  compare numbers only, anything else is false (``$ctx.args.limit > 10`` with no limit);
  ``==`` between values of different kinds compares their text (``$flag == "true"``).
* ``#foreach`` over a map walks its values, as Velocity 1.7 does.
* A ``#`` right before a reference is text (``"#${entry.key}"`` is ``#`` then the key).
"""

from __future__ import annotations

import contextlib
import contextvars
import functools
import math
import operator
import re
from collections.abc import Callable, Mapping
from typing import Any

import airspeed  # type: ignore[import-untyped]

from canaria.gateway.mapping_templates import _PARSING, _to_text

__all__ = ["Returned", "compile_template"]

_CACHE_SIZE = 512

# While one of these templates is parsed (see _install); the API Gateway module's own
# parsing flag is set too, for its Velocity 1.7 literals and names.
_VTL_PARSING = contextvars.ContextVar("canaria_appsync_vtl_parsing", default=False)

# airspeed's Text, except that a "#" right before "$" is text of its own
_TEXT = re.compile(
    r"((?:[^\\\$#]+|\\[\$#])+|\$[^!\{a-z0-9_]|\$$|#$|#(?=\$)|#[^\{\}a-zA-Z0-9#\*\$]+|\\.)",
    re.S | re.I,
)


class Returned(Exception):
    """#return: ends the template with ``value``."""

    def __init__(self, value: Any) -> None:
        super().__init__("#return")
        self.value = value


class _ReturnDirective(airspeed._Element):  # type: ignore[misc]
    """``#return`` / ``#return($value)``; only in AppSync templates."""

    START = re.compile(r"#(?:return\b|\{return\})", re.I)
    OPEN = re.compile(r"[ \t]*\(\s*", re.S)
    CLOSE = re.compile(r"\s*\)", re.S)
    value: Any = None

    def parse(self) -> None:
        if not _VTL_PARSING.get():
            raise airspeed.NoMatch
        self.identity_match(self.START)
        if self.optional_match(self.OPEN):
            with contextlib.suppress(airspeed.NoMatch):
                self.value = self.next_element(airspeed.Value)
            self.require_match(self.CLOSE, ")")

    def evaluate_raw(self, stream: Any, namespace: Any, loader: Any) -> None:
        raise Returned(None if self.value is None else self.value.calculate(namespace, loader))


def _truth(value: Any) -> bool:
    """Velocity 1.7: only null and false are false."""
    return value is not None and value is not False


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _equals(left: Any, right: Any) -> bool:
    """Velocity 1.7's ``==``: numbers by value, values of different kinds by their text."""
    if left is None or right is None:
        return left is right
    if _is_number(left) and _is_number(right):
        return bool(left == right)
    if isinstance(left, str) and isinstance(right, str):
        return str.__eq__(left, right)
    if type(left) is type(right):
        return bool(left == right)
    return _to_text(left) == _to_text(right)


def _numbers(left: Any, right: Any) -> bool:
    return _is_number(left) and _is_number(right)


def _plus(left: Any, right: Any) -> Any:
    if isinstance(left, str) or isinstance(right, str):
        return _to_text(left, nested=True) + _to_text(right, nested=True)
    return left + right if _numbers(left, right) else None


def _divide(left: Any, right: Any) -> Any:
    if not _numbers(left, right) or right == 0:
        return None  # Velocity 1.7 logs the mistake and gives null
    if isinstance(left, int) and isinstance(right, int):
        quotient = abs(left) // abs(right)
        return quotient if (left < 0) == (right < 0) else -quotient
    return left / right


def _remainder(left: Any, right: Any) -> Any:
    if not _numbers(left, right) or right == 0:
        return None
    if isinstance(left, int) and isinstance(right, int):
        rest = abs(left) % abs(right)
        return rest if left >= 0 else -rest
    return math.fmod(left, right)


def _arithmetic(operation: Callable[[Any, Any], Any]) -> Callable[[Any, Any], Any]:
    """``-`` and ``*``: numbers only, else null."""
    return lambda left, right: operation(left, right) if _numbers(left, right) else None


def _comparison(operation: Callable[[Any, Any], Any]) -> Callable[[Any, Any], bool]:
    """``<``, ``>``, ``<=``, ``>=``: numbers only, else false (``$ctx.args.limit > 10``
    with no limit is false)."""
    return lambda left, right: _numbers(left, right) and bool(operation(left, right))


_OPERATORS: dict[str, Callable[[Any, Any], Any]] = {
    "&&": lambda a, b: _truth(a) and _truth(b),
    "and": lambda a, b: _truth(a) and _truth(b),
    "||": lambda a, b: _truth(a) or _truth(b),
    "or": lambda a, b: _truth(a) or _truth(b),
    "==": _equals,
    "eq": _equals,
    "!=": lambda a, b: not _equals(a, b),
    "ne": lambda a, b: not _equals(a, b),
    "+": _plus,
    "-": _arithmetic(operator.sub),
    "*": _arithmetic(operator.mul),
    "/": _divide,
    "%": _remainder,
    ">": _comparison(operator.gt),
    "gt": _comparison(operator.gt),
    ">=": _comparison(operator.ge),
    "ge": _comparison(operator.ge),
    "<": _comparison(operator.lt),
    "lt": _comparison(operator.lt),
    "<=": _comparison(operator.le),
    "le": _comparison(operator.le),
}


class _MapValues:
    """A ``#foreach`` source: a map's values, as Velocity 1.7 walks a map."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner

    def calculate(self, namespace: Any, loader: Any) -> Any:
        value = self.inner.calculate(namespace, loader)
        return list(value.values()) if isinstance(value, Mapping) else value


def _install() -> None:
    """Hooks AppSync's behaviour into airspeed, once (see the module docstring)."""
    if getattr(airspeed, "_canaria_appsync_vtl_installed", False):
        return
    airspeed._canaria_appsync_vtl_installed = True
    airspeed.UserDefinedDirective.DIRECTIVES.append(_ReturnDirective)

    original_condition = airspeed.Condition.parse

    def parse_condition(self: Any) -> None:
        original_condition(self)
        if _VTL_PARSING.get():
            inner = self.calculate
            self.calculate = lambda namespace, loader: _truth(inner(namespace, loader))

    airspeed.Condition.parse = parse_condition

    original_operator = airspeed.BinaryOperator.parse

    def parse_operator(self: Any) -> None:
        original_operator(self)
        if _VTL_PARSING.get():
            self.apply_to = _OPERATORS.get(self.my_text().strip(), self.apply_to)

    airspeed.BinaryOperator.parse = parse_operator

    original_unary = airspeed.UnaryOperatorValue.parse

    def parse_unary(self: Any) -> None:
        original_unary(self)
        if _VTL_PARSING.get():
            self.op = lambda value: not _truth(value)

    airspeed.UnaryOperatorValue.parse = parse_unary

    original_foreach = airspeed.ForeachDirective.parse

    def parse_foreach(self: Any) -> None:
        original_foreach(self)
        if _VTL_PARSING.get():
            self.value = _MapValues(self.value)

    airspeed.ForeachDirective.parse = parse_foreach

    original_text = airspeed.Text.parse

    def parse_text(self: Any) -> None:
        if not _VTL_PARSING.get():
            original_text(self)
            return
        (raw,) = self.identity_match(_TEXT)
        self.text = airspeed.Text.ESCAPED_CHAR.sub(lambda m: m.group(1), raw)

    airspeed.Text.parse = parse_text


_install()


@functools.lru_cache(maxsize=_CACHE_SIZE)
def compile_template(template: str) -> Any:
    """The parsed template (raises airspeed's TemplateSyntaxError)."""
    compiled = airspeed.Template(template, filename="mapping template")
    tokens = (_PARSING.set(True), _VTL_PARSING.set(True))
    try:
        compiled.ensure_compiled()
    finally:
        _VTL_PARSING.reset(tokens[1])
        _PARSING.reset(tokens[0])
    return compiled
