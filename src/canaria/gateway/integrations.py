"""A REST API method that is not a Lambda proxy, run as API Gateway runs it: the method
request mapped to an integration request, sent to its backend, and the backend's answer
mapped to the method response.

1. **Integration request.** The mapping template for the request's ``Content-Type``
   (``application/json`` when it has none) renders the body (``mapping_templates``).
   With no template for that type, ``PassthroughBehavior`` decides: ``WHEN_NO_MATCH`` (the
   default) passes the body through, ``WHEN_NO_TEMPLATES`` only when the method has no
   template at all, ``NEVER`` not: 415 ``Unsupported Media Type``. ``RequestParameters``
   set the integration's headers, query string and path variables from the method
   request (``method.request.header.X``, ``...querystring.X``, ``...path.X``,
   ``method.request.body[.a.b]``), ``'literals'``, ``context.X`` and ``stageVariables.X``.
2. **Backend.** ``MOCK``: the rendered template's ``statusCode`` (200 without one).
   A function: invoked with the rendered body through the alias its routes use, and
   recorded, so the judge sees it as any request. An AWS service: an ``action/<Action>``
   URI is a call of that action (``X-Amz-Target`` added for JSON-protocol services,
   ``Action`` in the query string for SQS and SNS), a ``path/`` URI a request to that
   path; sent to the engine that serves the service, signed. Query-protocol answers in
   XML are turned into the JSON API Gateway receives
   (``{"SendMessageResponse": {"SendMessageResult": ...}}``). ``HTTP``: the URL.
   ``HTTP_PROXY``: the whole request forwarded and its answer returned as it is.
3. **Integration response.** The first response whose ``SelectionPattern`` matches the
   whole selection value (a function's ``errorMessage``, else the backend's status code),
   else the default one; none: 500 ``Internal server error``, as API Gateway answers a
   configuration error. Its template for the client's ``Accept`` type (else
   ``application/json``, else its first) renders the body, its ``ResponseParameters``
   set the headers, and ``$context.responseOverride`` may change both.

Past the integration's timeout (``TimeoutInMillis``, 29 s by default) the client gets
504 ``Endpoint request timed out``; a function invoked keeps running and is recorded.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import parse_qsl, quote, urlencode

import orjson

from canaria.clock import Clock
from canaria.errors import CanariaError, InvalidRequest, NotFound
from canaria.models.integrations import SUBTYPES, IntegrationResponseSpec, IntegrationSpec

from .events import event_v1, grant, with_api_key
from .mapping_templates import MappingTemplateError, Rendered, TemplateInput, render
from .recorded import invoke_recorded
from .responses import JSON, Failure, HttpResponse, gateway_answer, json_answer
from .routes import RouteMatch
from .service_wire import QUERY_SERVICES, action_body, json_of_query_answer, json_target
from .types import Backends, Inbound, Invoker, Outbound, Recorder, Request, RouteSource

log = logging.getLogger("canaria.gateway")

_HOP_BY_HOP = frozenset(
    {"connection", "keep-alive", "transfer-encoding", "content-length", "host", "upgrade"}
)
_PLACEHOLDER = re.compile(r"\{([A-Za-z0-9._-]+)\+?\}")


def unsupported_media_type() -> HttpResponse:
    return json_answer(415, {"message": "Unsupported Media Type"}, kind="UNSUPPORTED_MEDIA_TYPE")


def configuration_error() -> HttpResponse:
    return json_answer(500, {"message": "Internal server error"}, kind="DEFAULT_5XX")


def timed_out() -> HttpResponse:
    return json_answer(504, {"message": "Endpoint request timed out"}, kind="INTEGRATION_TIMEOUT")


class Integrations:
    def __init__(
        self,
        routing: RouteSource,
        invoker: Invoker,
        recorder: Recorder,
        clock: Clock,
        backends: Backends | None,
        pin_of: Callable[[Request], str | None],
    ) -> None:
        self.routing = routing
        self.invoker = invoker
        self.recorder = recorder
        self.clock = clock
        self.backends = backends
        self._pin_of = pin_of
        self._running: set[asyncio.Task[Any]] = set()

    async def answer(
        self,
        req: Request,
        match: RouteMatch,
        request_id: str,
        epoch_ms: int,
        granted: dict[str, Any] | None,
        api_key: tuple[str, str] | None = None,
    ) -> HttpResponse:
        """The answer to a REST or HTTP API method whose integration is not a proxy
        (``api_key``: the key the request presented, when the method requires one)."""
        route = match.route
        spec = route.integration
        assert spec is not None
        context = _context(req, match, request_id, epoch_ms, granted, api_key)
        headers = {name: value for name, value in req.headers}
        query = dict(parse_qsl(req.query, keep_blank_values=True))
        sources = _Sources(
            req.body, match.params, query, headers, context, route.stage_variables or {}
        )
        if spec.kind == "http_proxy":
            return await self._proxy(spec, req, match, query)
        if spec.kind == "service":
            return await self._service(spec, sources)
        template_key = (req.header("content-type") or JSON).split(";", 1)[0].strip().lower()
        return await self.run(
            spec,
            sources,
            template_key or JSON,
            pin=self._pin_of(req),
            accept=req.header("accept"),
            where=f"{req.method} {req.path}",
        )

    async def message(
        self,
        spec: IntegrationSpec,
        body: bytes,
        template_key: str,
        *,
        headers: Mapping[str, str],
        query: Mapping[str, str],
        context: Mapping[str, Any],
        stage_variables: Mapping[str, str],
        pin: str | None,
        where: str,
    ) -> HttpResponse:
        """A WebSocket route's integration run for one message (``$connect`` and
        ``$disconnect`` too: no body); ``template_key``: what its
        ``TemplateSelectionExpression`` selects."""
        sources = _Sources(body, {}, query, headers, context, stage_variables)
        return await self.run(spec, sources, template_key, pin=pin, accept=None, where=where)

    async def run(
        self,
        spec: IntegrationSpec,
        sources: _Sources,
        template_key: str,
        *,
        pin: str | None,
        accept: str | None,
        where: str,
    ) -> HttpResponse:
        """The integration request (template ``template_key``: the request's content type,
        or a WebSocket route's template selection), its backend, and the integration
        response mapped: for a REST method and a WebSocket route alike."""
        given = sources.template_input()
        body = sources.body
        rendered: Rendered | None = None
        template = _template_for(spec.request_templates, template_key)
        if template == "":  # an empty template passes the body through
            pass
        elif template is None:
            if spec.passthrough == "NEVER" or (
                spec.passthrough == "WHEN_NO_TEMPLATES" and spec.request_templates
            ):
                return unsupported_media_type()
        else:
            try:
                rendered = render(template, given)
            except MappingTemplateError as exc:
                log.error("%s: request mapping template: %s", where, exc)
                return configuration_error()
            body = rendered.text.encode()
        out_headers, out_query, out_path = sources.request_parameters(spec.request_parameters)
        if rendered is not None:
            out_headers.update(rendered.request_headers)
            out_query.update(rendered.request_querystring)
            out_path.update(rendered.request_path)
        error_message: str | None = None
        try:
            if spec.kind == "mock":
                endpoint = Inbound(_mock_status(body if template else b""), [], b"")
            elif spec.kind == "lambda":
                asynchronous = _invocation_type(out_headers) == "Event"
                endpoint, error_message = await self._invoke(spec, pin, body, where, asynchronous)
            else:
                outbound = _outbound(spec, body, out_headers, out_query, out_path)
                endpoint = await self._send(outbound, spec.timeout_s)
                if spec.aws is not None and spec.aws.service in QUERY_SERVICES:
                    action = spec.aws.action or _form_action(outbound)
                    endpoint = json_of_query_answer(endpoint, spec.aws.service, action)
        except TimeoutError:
            log.warning("%s: integration timed out", where)
            return timed_out()
        except _Refused as exc:
            return exc.answer
        selection = error_message if error_message is not None else str(endpoint.status)
        chosen = _select(spec.responses, selection)
        if chosen is None:
            log.error(
                "%s: no integration response matches %r and none is the default",
                where,
                selection,
            )
            return configuration_error()
        return _method_response(chosen, endpoint, accept, sources, where)

    # ---- backends ----------------------------------------------------------------------

    async def _send(self, outbound: Outbound, timeout_s: float) -> Inbound:
        if self.backends is None:
            raise _Refused(configuration_error())
        try:
            return await self.backends.send(outbound, timeout_s)
        except CanariaError as exc:
            log.error("integration request to %s failed: %s", outbound.service or outbound.url, exc)
            raise _Refused(configuration_error()) from None

    async def _proxy(
        self, spec: IntegrationSpec, req: Request, match: RouteMatch, query: Mapping[str, str]
    ) -> HttpResponse:
        assert spec.url is not None
        url = _fill(spec.url, dict(match.params))
        headers = {k: v for k, v in req.headers if k.lower() not in _HOP_BY_HOP}
        outbound = Outbound(
            req.method if spec.http_method == "ANY" else spec.http_method,
            url=url,
            query=list(query.items()),
            headers=headers,
            body=req.body,
        )
        try:
            answer = await self._send(outbound, spec.timeout_s)
        except TimeoutError:
            return timed_out()
        except _Refused as exc:
            return exc.answer
        kept = [(k, v) for k, v in answer.headers if k.lower() not in _HOP_BY_HOP]
        return HttpResponse(answer.status, kept, answer.body)

    async def _service(self, spec: IntegrationSpec, sources: _Sources) -> HttpResponse:
        """An HTTP API's AWS service integration: the action called with the parameters its
        mapping expressions give; the service's answer returned as it is."""
        assert spec.subtype is not None
        service, action = SUBTYPES[spec.subtype]
        params = {name: sources.expression(value) for name, value in spec.request_parameters}
        if service in QUERY_SERVICES:  # SQS's query API: a form, and its XML answer
            form = [("Action", action), *((k, v) for k, v in params.items() if k != "Region")]
            outbound = Outbound(
                "POST",
                service=service,
                headers={"Content-Type": "application/x-www-form-urlencoded"},
                body=urlencode(form).encode(),
            )
        else:
            prefix, version = json_target(service) or ("", "1.0")
            outbound = Outbound(
                "POST",
                service=service,
                headers={
                    "X-Amz-Target": f"{prefix}.{action}",
                    "Content-Type": f"application/x-amz-json-{version}",
                },
                body=orjson.dumps(action_body(spec.subtype, params)),
            )
        try:
            answer = await self._send(outbound, spec.timeout_s)
        except TimeoutError:
            return json_answer(503, {"message": "Service Unavailable"})
        except _Refused:
            return gateway_answer("http", Failure.INTEGRATION_ERROR)
        media = answer.header("content-type") or JSON
        return HttpResponse(answer.status, [("Content-Type", media)], answer.body)

    async def _invoke(
        self,
        spec: IntegrationSpec,
        pin: str | None,
        event: bytes,
        where: str,
        asynchronous: bool = False,
    ) -> tuple[Inbound, str | None]:
        """The function's answer as the endpoint response (200, its payload), and its
        ``errorMessage`` when it failed; ``asynchronous`` (the integration request's
        ``X-Amz-Invocation-Type: Event``): Lambda's 202 with no body, at once."""
        function = spec.function
        assert function is not None
        try:
            if spec.qualifier is not None:
                version, alias = self.routing.target(function, spec.qualifier)
            else:
                version, alias = self.routing.choose(function, pin=pin)
        except InvalidRequest as exc:
            raise _Refused(json_answer(400, {"message": exc.message})) from None
        except NotFound as exc:
            log.error("%s: %s", where, exc.message)
            raise _Refused(gateway_answer("rest", Failure.INVOKE_REFUSED)) from None
        if asynchronous:
            try:
                await self.invoker.invoke_event(function, version, event, alias=alias)
            except CanariaError as exc:
                log.error("%s: %s", where, exc.message)
                raise _Refused(gateway_answer("rest", Failure.INVOKE_REFUSED)) from None
            return Inbound(202, [], b""), None
        task = asyncio.ensure_future(
            invoke_recorded(
                self.invoker, self.recorder, self.clock, function, version, alias, event, where
            )
        )
        # past the timeout the client is answered; the invocation goes on and is recorded
        self._running.add(task)
        task.add_done_callback(self._running.discard)
        result, _ = await asyncio.wait_for(asyncio.shield(task), spec.timeout_s)
        if result is None:  # throttled, or refused by the runtime
            raise _Refused(gateway_answer("rest", Failure.INVOKE_REFUSED))
        if result.function_error is None:
            return Inbound(200, [("Content-Type", JSON)], result.payload), None
        message = ""
        try:
            data = orjson.loads(result.payload)
            if isinstance(data, dict):
                message = str(data.get("errorMessage", ""))
        except orjson.JSONDecodeError:
            pass
        return Inbound(200, [("Content-Type", JSON)], result.payload), message


def _invocation_type(headers: Mapping[str, str]) -> str | None:
    """The ``X-Amz-Invocation-Type`` an integration request sets (header names are not
    case-sensitive)."""
    for name, value in headers.items():
        if name.lower() == "x-amz-invocation-type":
            return value
    return None


class _Refused(Exception):
    """The integration ends with this answer (the backend could not be reached)."""

    def __init__(self, answer: HttpResponse) -> None:
        super().__init__(answer.status)
        self.answer = answer


# ---- the integration request ---------------------------------------------------------------


def _context(
    req: Request,
    match: RouteMatch,
    request_id: str,
    epoch_ms: int,
    granted: dict[str, Any] | None,
    api_key: tuple[str, str] | None = None,
) -> dict[str, Any]:
    """``$context``: the proxy event's request context (and what an authorizer granted,
    and the API key presented: ``$context.identity.apiKey``)."""
    context: dict[str, Any] = event_v1(req, match, request_id, epoch_ms, forwarded=False)[
        "requestContext"
    ]
    if granted is not None:
        grant(context, granted, True)
    if api_key is not None:
        with_api_key(context, api_key)
    return context


def _template_for(templates: tuple[tuple[str, str], ...], key: str) -> str | None:
    """The request template for ``key`` (a content type, or a WebSocket route's template
    selection value); a WebSocket integration's ``$default`` template when none has it."""
    if not templates:
        return None
    wanted = key.lower()
    for media, template in templates:
        if media.lower() == wanted:
            return template
    for media, template in templates:
        if media.removeprefix("\\") == "$default":
            return template
    return None


def _form_action(outbound: Outbound) -> str | None:
    """The ``Action`` a query-protocol request names (in its query string or its form)."""
    for key, value in outbound.query:
        if key == "Action":
            return value
    try:
        form = dict(parse_qsl(outbound.body.decode("utf-8", "replace")))
    except ValueError:
        return None
    return form.get("Action")


def _mock_status(rendered: bytes) -> int:
    """A mock's status: the ``statusCode`` its request template renders (200 without)."""
    try:
        data = orjson.loads(rendered) if rendered.strip() else {}
    except orjson.JSONDecodeError:
        return 200
    status = data.get("statusCode") if isinstance(data, dict) else None
    if isinstance(status, int) and not isinstance(status, bool):
        return status
    if isinstance(status, str) and status.isdigit():
        return int(status)
    return 200


class _Sources:
    """What templates and parameter mappings read: the method (or WebSocket route)
    request, ``context``, ``stageVariables``."""

    def __init__(
        self,
        body: bytes,
        path: Mapping[str, str],
        query: Mapping[str, str],
        headers: Mapping[str, str],
        context: Mapping[str, Any],
        stage_variables: Mapping[str, str],
    ) -> None:
        self.body = body
        self.path = path
        self.query = query
        self.headers = headers
        self.lower_headers = {k.lower(): v for k, v in headers.items()}
        self.context = context
        self.stage_variables = stage_variables

    def template_input(self, body: bytes | None = None) -> TemplateInput:
        return TemplateInput(
            body=(self.body if body is None else body).decode("utf-8", "replace"),
            path=self.path,
            querystring=self.query,
            header=self.headers,
            context=self.context,
            stage_variables=self.stage_variables,
        )

    def value(self, expression: str, response: Inbound | None = None) -> str | None:
        """The value of a mapping's source expression, None when it names nothing."""
        text = expression.strip()
        if len(text) >= 2 and text[0] == text[-1] == "'":
            return text[1:-1]
        if text.startswith("context."):
            return _text(_walk(self.context, text.removeprefix("context.").split(".")))
        if text.startswith("stageVariables."):
            return self.stage_variables.get(text.removeprefix("stageVariables."))
        for prefix in ("method.request.", "route.request."):
            if text.startswith(prefix):
                return self._method_request(text.removeprefix(prefix))
        if response is not None and text.startswith("integration.response."):
            rest = text.removeprefix("integration.response.")
            kind, _, name = rest.partition(".")
            if kind in ("header", "multivalueheader"):
                return response.header(name.lower())
            if kind == "body":
                return _body_value(response.body, name)
        return None

    def expression(self, value: str) -> str:
        """An HTTP API parameter mapping's value: ``$request.body.a``, ``$request.header.x``,
        ``$request.querystring.x``, ``$request.path.x``, ``$context.x``,
        ``$stageVariables.x`` (each also as ``${...}`` inside text), or a static value."""

        def one(name: str) -> str:
            kind, _, rest = name.partition(".")
            if kind == "request":
                where, _, key = rest.partition(".")
                found = self._method_request(
                    f"{'querystring' if where == 'querystring' else where}.{key}".rstrip(".")
                )
            elif kind == "context":
                found = _text(_walk(self.context, rest.split(".")))
            elif kind == "stageVariables":
                found = self.stage_variables.get(rest)
            else:
                return "$" + name
            return found if found is not None else ""

        if _WHOLE.fullmatch(value):
            return one(value[1:])
        return _EMBEDDED.sub(lambda m: one(m.group(1) or m.group(2)), value)

    def _method_request(self, rest: str) -> str | None:
        kind, _, name = rest.partition(".")
        if kind == "path":
            return self.path.get(name)
        if kind in ("querystring", "multivaluequerystring"):
            return self.query.get(name)
        if kind in ("header", "multivalueheader"):
            return self.lower_headers.get(name.lower())
        if kind == "body":
            return _body_value(self.body, name)
        return None

    def request_parameters(
        self, mappings: tuple[tuple[str, str], ...]
    ) -> tuple[dict[str, str], dict[str, str], dict[str, str]]:
        """(headers, query string, path variables) of the integration request."""
        headers: dict[str, str] = {}
        query: dict[str, str] = {}
        path: dict[str, str] = {}
        for target, source in mappings:
            value = self.value(source)
            if value is None:
                continue
            kind, _, name = target.removeprefix("integration.request.").partition(".")
            if kind in ("header", "multivalueheader"):
                headers[name] = value
            elif kind in ("querystring", "multivaluequerystring"):
                query[name] = value
            elif kind == "path":
                path[name] = value
        return headers, query, path


_WHOLE = re.compile(r"\$(?:request|context|stageVariables)\.[A-Za-z0-9_.-]+")
# ``${request.path.id}``, or ``$request.path.id`` within other text
_EMBEDDED = re.compile(
    r"\$\{((?:request|context|stageVariables)\.[A-Za-z0-9_.-]+)\}"
    r"|\$((?:request|context|stageVariables)(?:\.[A-Za-z0-9_-]+)+)"
)


def _walk(value: Any, keys: list[str]) -> Any:
    for key in keys:
        if not isinstance(value, Mapping) or key not in value:
            return None
        value = value[key]
    return value


def _text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, str):
        return value
    return orjson.dumps(value).decode()


def _body_value(body: bytes, path: str) -> str | None:
    """``...body`` (the whole body) or ``...body.a.b`` (a JSON field of it)."""
    if not path:
        return body.decode("utf-8", "replace")
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError:
        return None
    return _text(_walk(data, path.split(".")))


def _fill(template: str, values: Mapping[str, str]) -> str:
    """``{name}`` / ``{name+}`` placeholders of a URI replaced by ``values`` (a greedy
    path's slashes kept, as API Gateway keeps them)."""

    def one(m: re.Match[str]) -> str:
        value = values.get(m.group(1))
        if value is None:
            return m.group(0)
        return quote(value, safe="/")

    return _PLACEHOLDER.sub(one, template)


def _outbound(
    spec: IntegrationSpec,
    body: bytes,
    headers: dict[str, str],
    query: dict[str, str],
    path: dict[str, str],
) -> Outbound:
    if spec.kind == "http":
        assert spec.url is not None
        return Outbound(
            spec.http_method,
            url=_fill(spec.url, path),
            query=list(query.items()),
            headers=headers,
            body=body,
        )
    target = spec.aws
    assert target is not None
    lower = {k.lower() for k in headers}
    if target.path is not None:
        return Outbound(
            spec.http_method,
            service=target.service,
            path="/" + _fill(target.path, path).lstrip("/"),
            query=list(query.items()),
            headers=headers,
            body=body,
        )
    assert target.action is not None
    items = list(query.items())
    json_protocol = json_target(target.service)
    if json_protocol is not None and "x-amz-target" not in lower:
        prefix, version = json_protocol
        headers["X-Amz-Target"] = f"{prefix}.{target.action}"
        if "content-type" not in lower:
            headers["Content-Type"] = f"application/x-amz-json-{version}"
    if json_protocol is None or target.service in QUERY_SERVICES:
        items = [("Action", target.action), *((k, v) for k, v in items if k != "Action")]
    return Outbound(
        spec.http_method, service=target.service, path="/", query=items, headers=headers, body=body
    )


# ---- the method response ---------------------------------------------------------------


def _select(
    responses: tuple[IntegrationResponseSpec, ...], selection: str
) -> IntegrationResponseSpec | None:
    default = None
    for response in responses:
        if response.pattern is None:
            default = default or response
            continue
        if re.fullmatch(response.pattern, selection):  # checked when the template loads
            return response
    return default


def _method_response(
    chosen: IntegrationResponseSpec,
    endpoint: Inbound,
    accept: str | None,
    sources: _Sources,
    where: str,
) -> HttpResponse:
    body = endpoint.body
    status = chosen.status or endpoint.status  # 0: a WebSocket response keeps the backend's
    headers: dict[str, str] = {}
    template = _response_template(chosen.templates, accept)
    overrides: Mapping[str, str] = {}
    if template:  # an empty template passes the body through, as no template does
        try:
            rendered = render(template, sources.template_input(body))
        except MappingTemplateError as exc:
            log.error("%s: response mapping template: %s", where, exc)
            return configuration_error()
        body = rendered.text.encode()
        status = rendered.status or status
        overrides = rendered.headers
    for target, source in chosen.parameters:
        name = target.removeprefix("method.response.header.")
        if name == target or name.lower() in _HOP_BY_HOP:
            continue  # the gateway writes its own framing headers
        value = sources.value(source, endpoint)
        if value is not None:
            headers[name] = value
    headers.update(overrides)
    if not any(k.lower() == "content-type" for k in headers):
        headers["Content-Type"] = JSON
    return HttpResponse(status, list(headers.items()), body)


def _response_template(templates: tuple[tuple[str, str], ...], accept: str | None) -> str | None:
    if not templates:
        return None
    by_type = {media.lower(): template for media, template in templates}
    if accept:
        for media in accept.split(","):
            found = by_type.get(media.split(";", 1)[0].strip().lower())
            if found is not None:
                return found
    return by_type.get(JSON) or by_type.get("$default") or templates[0][1]


__all__ = [
    "Integrations",
    "configuration_error",
    "timed_out",
    "unsupported_media_type",
]
