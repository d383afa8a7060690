"""AppSync's VTL resolver mapping templates: the request and response mapping templates of
unit resolvers and pipeline functions, and a pipeline resolver's before and after templates.

    render(template, ctx, which="request" | "response")  ->  VtlOutcome
                                                           | raises VtlError

A template is Velocity (VTL) text rendered with ``$context`` (also ``$ctx``) and ``$util``
(also ``$utils``); what it renders is JSON: a request template's is the request sent to the
data source, a response template's the field's value. The Velocity engine is the one API
Gateway's mapping templates use (:mod:`canaria.gateway.mapping_templates`: null references
render as ``""``, Java's string, list and map methods, ``#break``, Velocity 1.7 literals and
hyphenated names) with AppSync's additions (:mod:`.engine`): ``#return``, Velocity 1.7's
truth, arithmetic and equality, ``#foreach`` over a map's values.

``$context``: ``arguments`` (also ``args``, the same map), ``identity``, ``source``,
``result``, ``error`` (``message``, ``type``), ``prev`` (``result``), ``stash``, ``request``
(``headers``, ...), ``info`` (``fieldName``, ``parentTypeName``, ``variables``,
``selectionSetList``, ``selectionSetGraphQL``) and ``env``, as the caller gives them. The
stash is a map the template may change (``$ctx.stash.put(k, v)``, ``#set($ctx.stash.k =
v)``); the outcome carries it as the template left it.

``$util`` (:mod:`.util`) is AppSync's: ``toJson``, ``parseJson``, ``autoId``, ``autoUlid``,
``autoKsuid``, ``error``, ``appendError``, ``unauthorized``, ``validate``, the null and type
checks (``isNull`` ... ``typeOf``), ``matches``, ``authType``, ``escapeJavaScript``,
``urlEncode``/``urlDecode``, ``base64Encode``/``base64Decode``, ``quiet``/``qr``,
``log.info``/``log.debug``/``log.error``, and ``time``, ``dynamodb``, ``list``, ``map``,
``str``, ``math`` and ``transform``. ``$util.error`` (and ``unauthorized``, a failed
``validate``) ends the template: the outcome carries the error and no value. ``#return``
ends it too, its value being ``#return``'s argument. Not served: ``$util.rds``,
``$util.xml``, ``$util.http``, ``$util.transform.toElasticsearchQueryDSL`` and
``toSubscriptionFilter``, ``$extensions``.

The rendered text is read as JSON the way AppSync reads it: strictly, except that a comma
before a closing ``}`` or ``]`` is allowed (AppSync takes such templates).

Known deviations from AWS: numbers print as Python prints them (``1e+20``, Java
``1.0E20``); ``$list.add(x)`` and ``$map.put(k, v)`` print nothing where Java prints
``true`` and the previous value (templates wrap them in ``$util.qr`` anyway); ``#set`` to
null sets the variable (Velocity leaves it as it was); ``data`` of an error is not filtered
by the query's selection set; a map key that is also a Python
``dict`` method (``items``, ``keys``, ``values``, ``get`` ...) and is missing or null reads
as that method, which ``$util.toJson`` writes as null.

    CanariaError
    └── VtlError    the template does not parse, fails while rendering (a ``$util`` helper
                    given what it cannot take) or renders text that is not JSON; the
                    message names the template (request or response), the line and column,
                    and the text there
"""

from __future__ import annotations

import functools
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import airspeed  # type: ignore[import-untyped]

from canaria.errors import CanariaError
from canaria.gateway.mapping_templates import _MARKER, _Break, _from_python, _position

from .data import json_value
from .engine import Returned, compile_template
from .util import RaisedError, State, Util

__all__ = ["VtlError", "VtlOutcome", "render"]

_SHOWN = 80  # characters of a template, or of what it rendered, quoted in an error


@dataclass(frozen=True)
class VtlOutcome:
    """What rendering one template gave: it ran to its end, to ``#return`` or to
    ``$util.error``."""

    value: Any  # the rendered JSON (None when only whitespace), or #return's argument
    stash: dict[str, Any]  # $ctx.stash as the template left it
    errors: list[dict[str, Any]]  # $util.appendError: {"message", "errorType", "data", "errorInfo"}
    error: dict[str, Any] | None  # $util.error / unauthorized / validate (same keys), else None
    returned: bool  # the template ended with #return
    logs: list[str]  # $util.log.* lines


class VtlError(CanariaError):
    """A mapping template that does not parse, fails while it renders or renders text that
    is not JSON. ``line`` and ``column`` place it in the template, or in the rendered text
    when ``rendered`` (that text) is set."""

    code = "MappingTemplate"
    error_type = "MappingTemplate"  # the errorType AppSync reports for such a field

    def __init__(
        self,
        message: str,
        *,
        which: str,
        line: int | None = None,
        column: int | None = None,
        rendered: str | None = None,
    ) -> None:
        super().__init__(message)
        self.which = which
        self.line = line
        self.column = column
        self.rendered = rendered


def render(
    template: str,
    ctx: Mapping[str, Any],
    *,
    which: str = "request",
    now_ms: int | None = None,
    auth_type: str | None = None,
) -> VtlOutcome:
    """Render ``template``, the ``which`` mapping template, with AppSync's ``$context`` made
    of ``ctx`` (arguments, identity, source, result, error, prev, stash, request, info, env;
    any may be absent). ``now_ms`` is the time ``$util.time`` tells (default: the
    machine's); ``auth_type`` (API_KEY, AWS_IAM, AMAZON_COGNITO_USER_POOLS, OPENID_CONNECT,
    AWS_LAMBDA) is what ``$util.authType()`` describes, else the identity's shape tells."""
    if which not in ("request", "response"):
        raise ValueError(f"which must be 'request' or 'response', not {which!r}")
    try:
        compiled = compile_template(template)
    except airspeed.TemplateSyntaxError as e:
        raise _syntax_error(which, template, e) from None
    except RecursionError:
        raise VtlError(
            f"the {which} mapping template is nested too deeply to parse", which=which
        ) from None
    context = _context(ctx)
    state = State(
        now_ms=now_ms,
        auth_type=auth_type,
        identity=context.get("identity"),
        info=context.get("info"),
    )
    util = Util(state)
    namespace = {_MARKER: True, "context": context, "ctx": context, "util": util, "utils": util}
    stream = airspeed.StoppableStream()
    ended: BaseException | None = None
    try:
        compiled.merge_to(namespace, stream)
    except airspeed.TemplateExecutionError as e:
        ended = _innermost(e)
        if not isinstance(ended, Returned | RaisedError | _Break):
            raise _failure(which, compiled.content, e) from ended
    except RecursionError:
        raise VtlError(f"the {which} mapping template recursed too deeply", which=which) from None

    stash = context.get("stash")
    outcome = functools.partial(
        VtlOutcome,
        stash=json_value(stash) if isinstance(stash, Mapping) else {},
        errors=state.errors,
        logs=state.logs,
    )
    if isinstance(ended, RaisedError):
        return outcome(value=None, error=ended.record, returned=False)
    if isinstance(ended, Returned):
        return outcome(value=json_value(ended.value), error=None, returned=True)
    return outcome(value=_document(which, stream.getvalue()), error=None, returned=False)


def _context(ctx: Mapping[str, Any]) -> dict[str, Any]:
    """``$context``: a copy of ``ctx`` as the objects a template walks."""
    context: dict[str, Any] = {str(k): _from_python(v) for k, v in ctx.items()}
    arguments = context.get("arguments")
    if not isinstance(arguments, dict):
        arguments = {}
    context["arguments"] = context["args"] = arguments
    if not isinstance(context.get("stash"), dict):
        context["stash"] = {}
    return context


def _innermost(error: BaseException) -> BaseException:
    while isinstance(error, airspeed.TemplateExecutionError) and error.__cause__ is not None:
        error = error.__cause__
    return error


# --------------------------------------------------------------------------- the output


def _without_trailing_commas(text: str) -> str:
    """``text`` less each comma (outside strings) that only whitespace separates from a
    closing ``}`` or ``]``."""
    out: list[str] = []
    in_string = escaped = False
    for i, ch in enumerate(text):
        if escaped:
            escaped = False
        elif in_string:
            escaped = ch == "\\"
            in_string = ch != '"'
        elif ch == '"':
            in_string = True
        elif ch == ",":
            following = i + 1
            while following < len(text) and text[following] in " \t\r\n":
                following += 1
            if text[following : following + 1] in ("}", "]"):
                continue
        out.append(ch)
    return "".join(out)


def _document(which: str, text: str) -> Any:
    """The rendered text as JSON; None when it is only whitespace."""
    if not text.strip():
        return None
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        pass
    lenient = _without_trailing_commas(text)
    try:
        return json.loads(lenient)
    except json.JSONDecodeError as e:
        near = lenient[max(0, e.pos - _SHOWN // 2) : e.pos + _SHOWN // 2]
        raise VtlError(
            f"the {which} mapping template rendered text that is not JSON: {e.msg} at line "
            f"{e.lineno}, column {e.colno} of the rendered text, near {near!r}",
            which=which,
            line=e.lineno,
            column=e.colno,
            rendered=text,
        ) from None


# --------------------------------------------------------------------------- errors


def _shown(text: str) -> str:
    return text if len(text) <= _SHOWN else text[: _SHOWN - 4] + " ..."


def _syntax_error(which: str, template: str, error: Any) -> VtlError:
    line, column = int(error.line), int(error.column)
    lines = template.splitlines()
    text_line = lines[line - 1] if 0 < line <= len(lines) else ""
    expected = " ".join(str(error).split(": ", 1)[-1].split()).removesuffix(" ...")
    return VtlError(
        f"the {which} mapping template does not parse at line {line}, column {column}: "
        f"{expected}\n  {_shown(text_line)}\n  {' ' * min(column - 1, _SHOWN)}^",
        which=which,
        line=line,
        column=column,
    )


def _failure(which: str, template: str, error: BaseException) -> VtlError:
    """A failure while rendering, placed at the innermost element of the template's own
    text (a failure inside a string literal is placed at the literal)."""
    element = None
    cause: BaseException | None = error
    while isinstance(cause, airspeed.TemplateExecutionError):
        if cause.element.full_text() is template:
            element = cause.element
        cause = cause.__cause__
    where, line, column = "", None, None
    if element is not None:
        line, column = _position(template, element.start)
        where = f" at line {line}, column {column} in {_shown(element.my_text())!r}"
    reason = f"{type(cause).__name__}: {cause}" if cause is not None else str(error)
    return VtlError(
        f"the {which} mapping template failed{where}: {reason}",
        which=which,
        line=line,
        column=column,
    )
