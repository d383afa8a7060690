"""API Gateway (REST API) mapping templates: Velocity templates rendered with API Gateway's
variables.

A request or response template of a non-proxy integration is Velocity (VTL) text rendered
with ``$input`` (the payload and the request parameters), ``$util``, ``$context`` and
``$stageVariables``. :func:`render` renders one with the maintained ``airspeed`` library
(Velocity) and ``jsonpath-ng`` (the JSONPath of ``$input.path`` / ``$input.json``), and
returns the text plus what the template set in ``$context.requestOverride`` and
``$context.responseOverride``. Templates are compiled once (a bounded cache on their text).

Variables, as AWS's "Variables for data transformations" reference describes them:

* ``$input.body`` the payload as text; an empty payload is ``{}`` (what API Gateway hands a
  template, whatever the content type).
* ``$input.json(x)`` the JSONPath result as JSON text (compact, ``{"a":1}``);
  ``$input.json('$')`` of an empty payload is ``{}``.
* ``$input.path(x)`` the JSONPath result as an object VTL can walk (maps, lists, strings
  with ``.size()``, ``.keySet()``, ``.get(k)``, ``.length()``, ``#foreach`` ...).
* ``$input.params()`` a map of ``path``, ``querystring`` and ``header`` maps;
  ``$input.params(x)`` the parameter named x from the path, else the query string, else the
  headers (header names matched without regard to case), else ``""``.
* ``$util.escapeJavaScript/parseJson/urlEncode/urlDecode/base64Encode/base64Decode``.
* ``$context.*`` (from :class:`TemplateInput`), ``$stageVariables.*``;
  ``#set($context.requestOverride.header|querystring|path.<name> = ...)`` and
  ``#set($context.responseOverride.status|header.<name> = ...)`` are collected into
  :class:`Rendered`.

What the Java engine API Gateway runs does and airspeed (a Python Velocity) did not, and how
it is covered here:

* A reference whose value is null renders as the empty string in API Gateway (``$foo``,
  ``$context.nope``, ``$input.path('$.missing')`` all render ``""``), not as its own text
  as stock Velocity does. Java values render as Java prints them: ``true``/``false``,
  maps as ``{a=1, b=x}``; lists from the payload as JSON (``[{"c":5}]``, what AWS prints
  for ``$input.path``), other lists as ``[a, b]``. Both are done by replacing airspeed's
  ``FormalReference.evaluate_raw`` with a version that behaves this way only while one of
  *these* templates renders (a marker in the namespace); other airspeed users see no change.
* ``#break`` (airspeed has none): a directive registered through airspeed's own extension
  point (``UserDefinedDirective.DIRECTIVES``) ends the innermost ``#foreach`` (or, outside a
  loop, the template) by wrapping ``ForeachDirective.evaluate_raw``. Outside these
  templates ``#break`` renders as text, as before.
* String literals: airspeed reads ``\\n``, ``\\'`` ... escapes in them and rejects
  ``'\\d'``; Velocity 1.7 keeps backslashes as they are (so AWS's documented
  ``.replaceAll("\\\\'", "'")`` works). While these templates are parsed (a context
  variable), ``StringLiteral.parse`` reads literals the Velocity 1.7 way.
* Java methods: airspeed maps a few (``length``, ``size``, ``keySet`` ...) by exact Python
  type in ``airspeed.__additional_methods__``; the missing ones (``toLowerCase``, ``trim``,
  ``substring``, ``equals``, ``isEmpty``, ``containsKey``, ``indexOf`` ...) are *added*
  there (never replacing airspeed's). Strings handed to the template are a ``str`` subclass
  whose ``split``/``replace``/``replaceAll``/``matches`` follow Java (regular expressions,
  ``$1`` in replacements, trailing empty strings dropped by ``split``).
* Names: Velocity 1.7's identifiers take hyphens (``$elem.partition-key``,
  ``#set($context.requestOverride.header.X-Amz-Target = ...)``); airspeed's do not. While
  these templates are parsed, ``NameOrCall.parse`` and ``SetDirective.parse`` read them
  the Velocity 1.7 way.
* The payload is parsed once per render: what ``$input.path`` returns is part of it, so
  a change a template makes (``$body.put(...)``) shows in a later ``$input.json``.

Known deviations from AWS:

* ``#if`` uses Python truth: ``""``, ``0`` and empty lists/maps are false (Velocity 1.7
  treats every non-null, non-false value as true). ``#set`` to a null value sets it
  (Velocity leaves the variable unchanged).
* Strings written in the template itself (``"a,b"``) are plain Python strings:
  their ``split``/``replace`` are Python's (literal separators), not Java's.
  ``$list.add(x)`` on a list written in the template renders ``""`` (airspeed's own
  ``add``, kept), where Java prints ``true``; on lists from the payload it prints ``true``.
* Numbers print as Python prints them (``1e+20``, Java ``1.0E20``); ``/`` between integers
  is integer division, as in Java.
* JSONPath: a path with no match is null for ``$input.path`` and ``""`` for
  ``$input.json`` (AWS's choice here is not documented). A path with a wildcard, a filter,
  a slice, a union or ``..`` always gives a list (Jayway's rule); others give the value.
* A payload that is not JSON: its JSONPath root ``$`` is the payload as a string
  (``$input.path('$')`` is the raw text, the form-post idiom
  ``$input.path('$').split('&')`` works); any other path on it has no match.
  ``$input.json('$')`` of it is that string as JSON (quoted).
* ``#include``/``#parse`` have nothing to load and fail; ``$util`` has only the six
  documented functions.

A template that cannot be parsed, or fails while rendering (a method on null, bad JSON in
``$util.parseJson`` ...), raises :class:`MappingTemplateError` (HTTP 500: what API Gateway
answers) saying where: line and column.
"""

from __future__ import annotations

import base64
import contextlib
import contextvars
import functools
import json
import re
import urllib.parse
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import airspeed  # type: ignore[import-untyped]
from jsonpath_ng import JSONPath
from jsonpath_ng.ext.parser import parse as _parse_jsonpath

from canaria.errors import CanariaError

__all__ = ["MappingTemplateError", "Rendered", "TemplateInput", "compile_check", "render"]

_CACHE_SIZE = 512
# Not a VTL identifier, so no template can read or shadow it.
_MARKER = ":canaria-apigw"


class MappingTemplateError(CanariaError):
    """A template that cannot be parsed or rendered; message says what and where (line/column
    when airspeed gives it)."""

    http_status = 500
    code = "MappingTemplateError"

    def __init__(self, message: str, *, line: int | None = None, column: int | None = None) -> None:
        super().__init__(message)
        self.line = line
        self.column = column


@dataclass(frozen=True)
class TemplateInput:
    body: str  # the payload as text ($input.body)
    path: Mapping[str, str]  # path parameters
    querystring: Mapping[str, str]
    header: Mapping[str, str]  # request headers (names as sent)
    context: Mapping[str, Any]  # $context variables (nested dicts)
    stage_variables: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Rendered:
    text: str
    status: int | None  # $context.responseOverride.status, when set to an int 100..599
    headers: Mapping[str, str]  # $context.responseOverride.header.<name>
    request_headers: Mapping[str, str]  # $context.requestOverride.header.<name>
    request_querystring: Mapping[str, str]  # $context.requestOverride.querystring.<name>
    request_path: Mapping[str, str]  # $context.requestOverride.path.<name>


# --------------------------------------------------------------------------- Java values


def _java_replacement(repl: str) -> str:
    r"""Java's replacement syntax ($1, \$) as Python's (\1, $)."""
    out: list[str] = []
    i = 0
    while i < len(repl):
        ch = repl[i]
        if ch == "\\" and i + 1 < len(repl):
            nxt = repl[i + 1]
            out.append("\\\\" if nxt == "\\" else nxt)
            i += 2
        elif ch == "$" and i + 1 < len(repl) and repl[i + 1] == "{":
            end = repl.index("}", i)
            out.append(f"\\g<{repl[i + 2 : end]}>")
            i = end + 1
        elif ch == "$":
            j = i + 1
            while j < len(repl) and repl[j].isdigit():
                j += 1
            out.append(f"\\g<{repl[i + 1 : j]}>")
            i = j
        else:
            out.append(ch)
            i += 1
    return "".join(out)


class _JavaString(str):
    """A string handed to a template: the Java ``String`` methods whose Python namesakes
    differ (the others come from airspeed's method table, see ``_register``)."""

    __slots__ = ()

    def split(self, regex: str = " ", limit: int = 0) -> list[_JavaString]:  # type: ignore[override]
        pieces: list[str] = []
        last = 0
        matched = False
        for m in re.finditer(str(regex), self):
            if limit > 0 and len(pieces) == limit - 1:
                break
            matched = True
            if m.end() == 0:
                continue  # a zero-width match at the start makes no leading ""
            pieces.append(self[last : m.start()])
            last = m.end()
        if not matched:
            return [_s(self)]
        pieces.append(self[last:])
        if limit == 0:
            while pieces and pieces[-1] == "":
                pieces.pop()
        return [_s(p) for p in pieces]

    def replace(self, old: str, new: str, count: int = -1, /) -> _JavaString:  # type: ignore[override]
        return _JavaString(str.replace(self, str(old), str(new), count))


def _s(value: str) -> _JavaString:
    return value if isinstance(value, _JavaString) else _JavaString(value)


def _replace_all(self: str, regex: str, repl: str) -> _JavaString:
    return _s(re.sub(str(regex), _java_replacement(str(repl)), self))


def _replace_first(self: str, regex: str, repl: str) -> _JavaString:
    return _s(re.sub(str(regex), _java_replacement(str(repl)), self, count=1))


def _matches(self: str, regex: str) -> bool:
    return re.fullmatch(str(regex), self) is not None


def _substring(self: str, begin: int, end: int | None = None) -> _JavaString:
    stop = len(self) if end is None else end
    if begin < 0 or stop > len(self) or begin > stop:
        raise IndexError(f"substring({begin}, {stop}) out of range for length {len(self)}")
    return _s(self[begin:stop])


def _index_of(self: str, sub: str, start: int = 0) -> int:
    return self.find(str(sub), start)


def _last_index_of(self: str, sub: str) -> int:
    return self.rfind(str(sub))


def _char_at(self: str, index: int) -> _JavaString:
    return _s(self[index])


_STRING_METHODS: dict[str, Callable[..., Any]] = {
    "length": len,
    "isEmpty": lambda self: len(self) == 0,
    "toLowerCase": lambda self: _s(self.lower()),
    "toUpperCase": lambda self: _s(self.upper()),
    "trim": lambda self: _s(self.strip(" \t\n\r\x0b\x0c\x00")),
    "strip": lambda self: _s(self.strip()),
    "substring": _substring,
    "equals": lambda self, other: isinstance(other, str) and str(self) == str(other),
    "equalsIgnoreCase": lambda self, other: (
        isinstance(other, str) and self.casefold() == other.casefold()
    ),
    "contains": lambda self, sub: str(sub) in self,
    "startsWith": lambda self, prefix: self.startswith(str(prefix)),
    "endsWith": lambda self, suffix: self.endswith(str(suffix)),
    "indexOf": _index_of,
    "lastIndexOf": _last_index_of,
    "charAt": _char_at,
    "concat": lambda self, other: _s(self + str(other)),
    "replaceAll": _replace_all,
    "replaceFirst": _replace_first,
    "matches": _matches,
    "toString": lambda self: _s(self),
}


def _list_add(self: list[Any], *args: Any) -> bool | None:
    if len(args) == 2:
        self.insert(args[0], args[1])
        return None
    self.append(args[0])
    return True


def _list_remove(self: list[Any], item: Any) -> Any:
    if isinstance(item, int) and not isinstance(item, bool):
        return self.pop(item)  # Java's remove(int index)
    if item in self:
        self.remove(item)
        return True
    return False


_LIST_METHODS: dict[str, Callable[..., Any]] = {
    "size": len,
    "isEmpty": lambda self: len(self) == 0,
    "get": lambda self, index: self[index],
    "contains": lambda self, value: value in self,
    "add": _list_add,
    "addAll": lambda self, values: self.extend(values) or True,
    "remove": _list_remove,
    "indexOf": lambda self, value: self.index(value) if value in self else -1,
    "toString": lambda self: _s(_to_text(self)),
}

_MAP_METHODS: dict[str, Callable[..., Any]] = {
    "size": len,
    "isEmpty": lambda self: len(self) == 0,
    "containsKey": lambda self, key: key in self,
    "containsValue": lambda self, value: value in self.values(),
    "keySet": lambda self: self.keys(),
    "entrySet": lambda self: [{"key": k, "value": v} for k, v in self.items()],
    "put": lambda self, key, value: _map_put(self, key, value),
    "putAll": lambda self, values: self.update(values),
    "remove": lambda self, key: self.pop(key, None),
    "toString": lambda self: _s(_to_text(self)),
}

_VIEW_METHODS: dict[str, Callable[..., Any]] = {
    "size": len,
    "isEmpty": lambda self: len(self) == 0,
    "contains": lambda self, value: value in self,
    "toString": lambda self: _s(_to_text(self)),
}


def _map_put(self: dict[Any, Any], key: Any, value: Any) -> Any:
    previous = self.get(key)
    self[key] = value
    return previous


class _JsonList(list[Any]):
    """A list from the payload: prints as JSON, as API Gateway prints ``$input.path`` lists."""

    __slots__ = ()


def _to_text(value: Any, *, nested: bool = False) -> str:
    """How Java's ``toString`` prints a value (null: "" at the top, ``null`` inside)."""
    if value is None:
        return "null" if nested else ""
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, str):
        return str.__str__(value)
    if isinstance(value, _JsonList):
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    if isinstance(value, Mapping):
        inner = ", ".join(
            f"{_to_text(k, nested=True)}={_to_text(v, nested=True)}" for k, v in value.items()
        )
        return "{" + inner + "}"
    if isinstance(value, list | tuple | type({}.keys()) | type({}.values())):
        return "[" + ", ".join(_to_text(v, nested=True) for v in value) + "]"
    return str(value)


def _from_json(value: Any) -> Any:
    """JSON data as the objects a template walks."""
    if isinstance(value, dict):
        return {str(k): _from_json(v) for k, v in value.items()}
    if isinstance(value, list):
        return _JsonList(_from_json(v) for v in value)
    if isinstance(value, str):
        return _s(value)
    return value


def _from_python(value: Any) -> Any:
    """Caller data ($context, parameters) as the objects a template walks (a copy)."""
    if isinstance(value, Mapping):
        return {str(k): _from_python(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_from_python(v) for v in value]
    if isinstance(value, str):
        return _s(value)
    return value


def _register() -> None:
    """Adds the Java methods airspeed lacks to its method table (never replacing one)."""
    table: dict[type, dict[str, Callable[..., Any]]] = airspeed.__additional_methods__
    for kind, methods in (
        (str, _STRING_METHODS),
        (list, _LIST_METHODS),
        (dict, _MAP_METHODS),
    ):
        own = table.setdefault(kind, {})
        for name, fn in methods.items():
            if not hasattr(kind, name):
                own.setdefault(name, fn)
    # our own types: airspeed looks methods up by exact type
    table[_JavaString] = dict(_STRING_METHODS)
    table[_JsonList] = {**table[list], **_LIST_METHODS}
    views: tuple[type, ...] = (type({}.keys()), type({}.values()))
    for view in views:
        own = table.setdefault(view, {})
        for name, fn in _VIEW_METHODS.items():
            own.setdefault(name, fn)


# --------------------------------------------------------------------------- airspeed hooks


class _Break(Exception):
    """#break: ends the innermost #foreach (or the template)."""


def _ours(namespace: Any) -> bool:
    top = namespace.top() if isinstance(namespace, airspeed.LocalNamespace) else namespace
    return isinstance(top, dict) and _MARKER in top


class _BreakDirective(airspeed._Element):  # type: ignore[misc]
    START = re.compile(r"#(?:break\b|\{break\})", re.I)

    def parse(self) -> None:
        self.identity_match(self.START)

    def evaluate_raw(self, stream: Any, namespace: Any, loader: Any) -> None:
        if not _ours(namespace):
            stream.write(self.my_text())
            return
        raise _Break


_PARSING = contextvars.ContextVar("canaria_apigw_parsing", default=False)
# Velocity 1.7 string literals: no backslash escapes ("\\'" stays three characters, so
# the documented replaceAll("\\'", "'") works; '\d+' is a regular expression).
_SINGLE_QUOTED = re.compile(r"'([^']*)'", re.S)
_DOUBLE_QUOTED = re.compile(r'"([^"]*)"', re.S)
_VELOCITY_NAME = re.compile(r"([_a-z][a-z0-9_-]*)", re.S | re.I)
_VELOCITY_PLACE = re.compile(r"\s*\$([a-z_][a-z0-9_-]*(?:\.[a-z_][a-z0-9_-]*)*)", re.S | re.I)


def _is_break(error: BaseException) -> bool:
    cause: BaseException | None = error
    while cause is not None:
        if isinstance(cause, _Break):
            return True
        cause = cause.__cause__
    return False


def _install() -> None:
    """Hooks this module's behaviour into airspeed, once (see the module docstring)."""
    if getattr(airspeed, "_canaria_apigw_installed", False):
        return
    airspeed._canaria_apigw_installed = True
    _register()
    airspeed.UserDefinedDirective.DIRECTIVES.append(_BreakDirective)

    original_reference = airspeed.FormalReference.evaluate_raw

    def evaluate_reference(self: Any, stream: Any, namespace: Any, loader: Any) -> None:
        if self.expression is None or not _ours(namespace):
            original_reference(self, stream, namespace, loader)
            return
        value = self.expression.calculate(namespace, loader)
        if value is None and self.alternate is not None:
            value = self.alternate.calculate(namespace, loader)
        stream.write(_to_text(value))

    airspeed.FormalReference.evaluate_raw = evaluate_reference

    original_foreach = airspeed.ForeachDirective.evaluate_raw

    def evaluate_foreach(self: Any, stream: Any, namespace: Any, loader: Any) -> None:
        try:
            original_foreach(self, stream, namespace, loader)
        except (_Break, airspeed.TemplateExecutionError) as e:
            if not _is_break(e):
                raise

    airspeed.ForeachDirective.evaluate_raw = evaluate_foreach

    original_literal = airspeed.StringLiteral.parse

    def parse_literal(self: Any) -> None:
        if not _PARSING.get():
            original_literal(self)
            return
        interpolated = isinstance(self, airspeed.InterpolatedStringLiteral)
        (self.value,) = self.identity_match(_DOUBLE_QUOTED if interpolated else _SINGLE_QUOTED)

    airspeed.StringLiteral.parse = parse_literal

    original_name = airspeed.NameOrCall.parse

    def parse_name(self: Any) -> None:
        if not _PARSING.get():
            original_name(self)
            return
        # Velocity 1.7's identifiers take hyphens: ``$elem.partition-key``,
        # ``#set($context.requestOverride.header.X-Amz-Target = ...)``
        (self.name,) = self.identity_match(_VELOCITY_NAME)
        try:
            self.parameters = self.next_element(airspeed.ParameterList)
        except airspeed.NoMatch:
            with contextlib.suppress(airspeed.NoMatch):
                self.index = self.next_element(airspeed.ArrayIndex)

    airspeed.NameOrCall.parse = parse_name

    original_set = airspeed.SetDirective.parse

    def parse_set(self: Any) -> None:
        if not _PARSING.get():
            original_set(self)
            return
        self.identity_match(self.START)
        (place,) = self.require_match(_VELOCITY_PLACE, "place")
        self.terms = place.split(".")
        self.require_match(self.EQUALS, "=")
        self.value = self.require_next_element(airspeed.Expression, "expression")
        self.require_match(self.END, "closing paren")

    airspeed.SetDirective.parse = parse_set


_install()


# --------------------------------------------------------------------------- $input, $util

_INDEFINITE = re.compile(r"\*|\.\.|\?\(|\[[^\]]*[,:][^\]]*\]")
_NO_MATCH = object()


@functools.lru_cache(maxsize=_CACHE_SIZE)
def _jsonpath(expression: str) -> tuple[JSONPath, bool]:
    try:
        compiled = _parse_jsonpath(expression)
    except Exception as e:  # jsonpath-ng raises several kinds
        raise ValueError(f"invalid JSONPath {expression!r}: {e}") from None
    return compiled, _INDEFINITE.search(expression) is not None


class _Input:
    """``$input``."""

    def __init__(self, given: TemplateInput) -> None:
        self._raw = given.body
        self._parsed: Any = _NO_MATCH
        self._params = {
            "path": _from_python(given.path),
            "querystring": _from_python(given.querystring),
            "header": _from_python(given.header),
        }

    @property
    def body(self) -> _JavaString:
        return _s(self._raw if self._raw else "{}")

    def _root(self) -> Any:
        """The payload parsed once per render, as the objects templates walk: what
        ``$input.path`` returns is part of it, so a change a template makes to it
        (``$body.put(...)``) shows in a later ``$input.json``, as in API Gateway."""
        if self._parsed is _NO_MATCH:
            if not self._raw.strip():
                self._parsed = {}
            else:
                try:
                    self._parsed = _from_json(json.loads(self._raw))
                except ValueError:
                    self._parsed = _s(self._raw)  # not JSON: the root is the text itself
        return self._parsed

    def _select(self, expression: Any) -> Any:
        expression = "$" if expression is None else str(expression)
        compiled, indefinite = _jsonpath(expression)
        matches = [m.value for m in compiled.find(self._root())]
        if indefinite:
            return matches
        return matches[0] if matches else _NO_MATCH

    def path(self, expression: Any = "$") -> Any:
        found = self._select(expression)
        if found is _NO_MATCH:
            return None
        if isinstance(found, list) and not isinstance(found, _JsonList):
            return _JsonList(found)  # an indefinite path's matches
        return found

    def json(self, expression: Any = "$") -> _JavaString:
        found = self._select(expression)
        if found is _NO_MATCH:
            return _s("")
        return _s(json.dumps(found, ensure_ascii=False, separators=(",", ":")))

    def params(self, name: Any = None) -> Any:
        if name is None:
            return self._params
        key = str(name)
        for kind in ("path", "querystring"):
            if key in self._params[kind]:
                return self._params[kind][key]
        headers = self._params["header"]
        if key in headers:
            return headers[key]
        lowered = key.lower()
        for header, value in headers.items():
            if header.lower() == lowered:
                return value
        return _s("")


def _escape_javascript(value: Any) -> _JavaString:
    """Apache Commons' ``StringEscapeUtils.escapeJavaScript``: quotes (both), backslash and
    ``/`` escaped, control characters and everything outside ASCII as ``\\uXXXX``."""
    if value is None:
        return _s("")
    text = value if isinstance(value, str) else _to_text(value)
    out: list[str] = []
    simple = {"\b": "\\b", "\n": "\\n", "\t": "\\t", "\f": "\\f", "\r": "\\r"}
    for ch in text:
        code = ord(ch)
        if ch in "'\"\\/":
            out.append("\\" + ch)
        elif ch in simple:
            out.append(simple[ch])
        elif code < 32 or code > 0x7F:
            if code > 0xFFFF:  # a Java char is a UTF-16 unit: a surrogate pair
                code -= 0x10000
                out.append(f"\\u{0xD800 + (code >> 10):04X}\\u{0xDC00 + (code & 0x3FF):04X}")
            else:
                out.append(f"\\u{code:04X}")
        else:
            out.append(ch)
    return _s("".join(out))


class _Util:
    """``$util``."""

    @staticmethod
    def escapeJavaScript(value: Any) -> _JavaString:
        return _escape_javascript(value)

    @staticmethod
    def parseJson(value: Any) -> Any:
        try:
            return _from_json(json.loads(_to_text(value)))
        except ValueError as e:
            raise ValueError(f"$util.parseJson: not JSON: {e}") from None

    @staticmethod
    def urlEncode(value: Any) -> _JavaString:
        # java.net.URLEncoder: space as +, only [A-Za-z0-9.-*_] left as they are
        return _s(urllib.parse.quote_plus(_to_text(value), safe="*").replace("~", "%7E"))

    @staticmethod
    def urlDecode(value: Any) -> _JavaString:
        return _s(urllib.parse.unquote_plus(_to_text(value)))

    @staticmethod
    def base64Encode(value: Any) -> _JavaString:
        return _s(base64.b64encode(_to_text(value).encode()).decode("ascii"))

    @staticmethod
    def base64Decode(value: Any) -> _JavaString:
        data = base64.b64decode(_to_text(value), validate=False)
        return _s(data.decode("utf-8", errors="replace"))


_UTIL = _Util()


# --------------------------------------------------------------------------- rendering


def _position(text: str, offset: int) -> tuple[int, int]:
    before = text[:offset]
    return before.count("\n") + 1, offset - (before.rfind("\n") + 1) + 1


def compile_check(template: str) -> None:
    """Raise ``MappingTemplateError`` when ``template`` does not parse (``canaria
    validate``'s check; a parsed template is kept for its first render)."""
    _compile(template)


@functools.lru_cache(maxsize=_CACHE_SIZE)
def _compile(template: str) -> Any:
    compiled = airspeed.Template(template, filename="mapping template")
    token = _PARSING.set(True)
    try:
        compiled.ensure_compiled()
    except airspeed.TemplateSyntaxError as e:
        raise MappingTemplateError(
            f"mapping template does not parse: {e}", line=e.line, column=e.column
        ) from None
    except RecursionError:
        raise MappingTemplateError("mapping template is nested too deeply to parse") from None
    finally:
        _PARSING.reset(token)
    return compiled


def _strings(values: Any) -> dict[str, str]:
    if not isinstance(values, Mapping):
        return {}
    return {str(k): _to_text(v) for k, v in values.items() if v is not None}


def _overrides(context: Mapping[str, Any], name: str, parts: Iterable[str]) -> dict[str, Any]:
    given = context.get(name)
    out: dict[str, Any] = dict(given) if isinstance(given, Mapping) else {}
    for part in parts:
        current = out.get(part)
        out[part] = dict(current) if isinstance(current, Mapping) else {}
    return out


def render(template: str, given: TemplateInput) -> Rendered:
    """Renders a mapping template with API Gateway's variables for ``given``."""
    compiled = _compile(template)
    context: dict[str, Any] = _from_python(given.context)
    context["requestOverride"] = _overrides(
        context, "requestOverride", ("header", "querystring", "path")
    )
    context["responseOverride"] = _overrides(context, "responseOverride", ("header",))
    namespace: dict[str, Any] = {
        _MARKER: True,
        "input": _Input(given),
        "util": _UTIL,
        "context": context,
        "stageVariables": _from_python(given.stage_variables),
    }
    stream = airspeed.StoppableStream()
    try:
        compiled.merge_to(namespace, stream)
    except airspeed.TemplateExecutionError as e:
        if not _is_break(e):
            line, column = _position(template, e.start)
            cause = e.__cause__
            raise MappingTemplateError(
                f"mapping template failed at line {line}, column {column} "
                f"in {e.element.my_text()!r}: {type(cause).__name__}: {cause}",
                line=line,
                column=column,
            ) from cause
    except _Break:
        pass
    except RecursionError:
        raise MappingTemplateError("mapping template recursed too deeply") from None

    response = context.get("responseOverride") or {}
    request = context.get("requestOverride") or {}
    status = response.get("status") if isinstance(response, Mapping) else None
    if isinstance(status, bool) or not isinstance(status, int) or not 100 <= status <= 599:
        status = None
    return Rendered(
        text=stream.getvalue(),
        status=status,
        headers=_strings(response.get("header") if isinstance(response, Mapping) else None),
        request_headers=_strings(request.get("header") if isinstance(request, Mapping) else None),
        request_querystring=_strings(
            request.get("querystring") if isinstance(request, Mapping) else None
        ),
        request_path=_strings(request.get("path") if isinstance(request, Mapping) else None),
    )
