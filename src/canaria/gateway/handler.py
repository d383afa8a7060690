"""One request through the data plane: route → authorizer (Lambda, JWT, ``AWS_IAM``) → API
key and usage plan → request validator → version choice → event → invoke → record →
answer (with CORS and gateway responses, ``as_sent``).
Independent of the HTTP connection, which it answers through ``Responder``. An HTTP API's
CORS preflight and a REST API's preflight route are answered without a function.

The version is chosen once, before the invocation, from the routing state of that
moment; a routing change in flight affects only later requests.

API Gateway's integration timeout (29 s) answers the client without cancelling the
invocation, as on AWS, where the function keeps running: its result is still recorded
when it arrives. One sweep looks for requests past it every second (every quarter of a
shorter timeout) while any is in flight, instead of a timer per request: the answer comes
at most that late.
"""

from __future__ import annotations

import asyncio
import logging
from functools import partial
from typing import Protocol

import orjson

from canaria.clock import Clock
from canaria.errors import CanariaError, InvalidRequest, NotFound, Throttled
from canaria.models import InvokeResult
from canaria.models.app import ApiKind

from .access_logs import AccessLog, WriteLog
from .api_keys import INVALID_API_KEY, UsageMeter, api_key_of
from .authorizers import Authorizers, TokenKeys
from .cors import PREFLIGHT_HEAD, http_preflight, with_cors
from .events import build_event, new_request_id
from .iam import Signatures
from .integrations import Integrations
from .responses import (
    Failure,
    HttpResponse,
    Malformed,
    client_error,
    customized,
    gateway_answer,
    map_result,
)
from .routes import NoRoute, Route
from .streamed import OCTET_STREAM, StreamedAnswer, StreamResponder
from .types import ApiMeter, Backends, Invoker, Recorder, Request, RouteSource
from .validation import refusal

log = logging.getLogger("canaria.gateway")


INTEGRATION_TIMEOUT_S = 29.0
PIN_HEADER = "x-canaria-version"
PIN_COOKIE = "canaria-version"


class Responder(StreamResponder, Protocol):
    def respond(
        self,
        req: Request,
        response: HttpResponse,
        extra: tuple[str, str],
        *,
        early: bool = False,
    ) -> None:
        """Send ``response`` plus the ``extra`` header (the request id) to ``req``; ignored
        when the connection is gone or ``req`` has already been answered. ``early``: the
        answer comes before the handler finished (the integration timeout), which goes on
        and is recorded."""
        ...


def request_id_header(kind: ApiKind) -> str:
    return "apigw-requestid" if kind == "http" else "x-amzn-RequestId"


def find_pin(req: Request) -> str | None:
    """The routing pin of a request: header ``X-Canaria-Version``, else cookie
    ``canaria-version``."""
    pin = None
    cookie = None
    for name, value in req.headers:
        n = len(name)
        if n == 17 and name.lower() == PIN_HEADER:
            pin = value
        elif n == 6 and name.lower() == "cookie":
            cookie = value if cookie is None else f"{cookie}; {value}"
    if pin is not None:
        return pin
    if cookie is not None and PIN_COOKIE in cookie:
        for part in cookie.split(";"):
            key, _, value = part.strip().partition("=")
            if key == PIN_COOKIE:
                return value.strip().strip('"')
    return None


def as_sent(response: HttpResponse, route: Route, req: Request) -> HttpResponse:
    """The answer as the route's API sends it: changed by its ``GatewayResponses`` when
    it is one of API Gateway's own, with its CORS headers."""
    if route.gateway_responses is not None:
        response = customized(response, route.gateway_responses)
    if route.cors is not None:
        response = with_cors(response, route, req)
    return response


def _as_sent_to(route: Route, req: Request, response: HttpResponse) -> HttpResponse:
    return as_sent(response, route, req)


class Handler:
    def __init__(
        self,
        routing: RouteSource,
        invoker: Invoker,
        recorder: Recorder,
        clock: Clock,
        *,
        integration_timeout_s: float = INTEGRATION_TIMEOUT_S,
        backends: Backends | None = None,
        signatures: Signatures | None = None,
        token_keys: TokenKeys | None = None,
        api_meter: ApiMeter | None = None,
    ) -> None:
        self.routing = routing
        self.api_meter = api_meter  # AWS/ApiGateway metrics of each answered request
        self.invoker = invoker
        self.recorder = recorder
        self.write_log: WriteLog | None = None  # stages' access log lines (the platform's)
        self.clock = clock
        self.integration_timeout_s = integration_timeout_s
        self.authorizers = Authorizers(routing, invoker, recorder, clock, signatures, token_keys)
        self.usage = UsageMeter()  # API keys' usage plan quotas and throttles
        # methods that are not Lambda proxies (AWS services, mock, HTTP, mapping templates)
        self.integrations = Integrations(routing, invoker, recorder, clock, backends, find_pin)
        # requests invoking: their deadline (loop time) and how to answer them
        self._in_flight: dict[Request, tuple[float, Responder, Route, tuple[str, str]]] = {}
        self._sweep: asyncio.TimerHandle | None = None
        self._sweep_every_s = min(1.0, integration_timeout_s / 4)
        self._loop: asyncio.AbstractEventLoop | None = None

    def _running_loop(self) -> asyncio.AbstractEventLoop:
        """The event loop this handler serves on, looked up once: each
        ``asyncio.get_running_loop()`` costs a ``getpid`` system call (its fork check),
        and the request path used to make three."""
        loop = self._loop
        if loop is None or loop.is_closed():
            loop = self._loop = asyncio.get_running_loop()
        return loop

    async def handle(self, req: Request, out: Responder) -> None:
        """Answer ``req`` through ``out``, exactly once (one coroutine per request: each
        layer of coroutines is walked again every time the request resumes)."""
        try:
            router = self.routing.router
            if router.by_api:  # two APIs share a path: the Host may name one
                router = router.for_host(req.host)
            if req.method == "OPTIONS":
                preflight = http_preflight(router, req)
                if preflight is not None:
                    out.respond(req, preflight, ("apigw-requestid", new_request_id()))
                    return
            match = router.match(req.method, req.path)
            if isinstance(match, NoRoute):
                answer = gateway_answer(match.api_kind, Failure.NOT_FOUND)
                rid = (request_id_header(match.api_kind), new_request_id())
                out.respond(req, answer, rid)
                unmatched = match.unmatched
                if unmatched is not None and unmatched.access_log is not None:  # logged stage
                    message = _own_message(answer)
                    now = self.clock.now()
                    self._access(
                        unmatched.access_log,
                        unmatched,
                        req,
                        rid[1],
                        answer.status,
                        len(answer.body),
                        now,
                        message,
                    )
                return
            route = match.route
            request_id = new_request_id()
            rid = (request_id_header(route.api_kind), request_id)
            clock = self.clock
            started = arrived = clock.now()
            epoch_ms = int(started * 1000)
            granted = None
            if route.authorizer is not None:
                checked = await self.authorizers.check(req, match, request_id, epoch_ms)
                if isinstance(checked, HttpResponse):
                    self._respond(out, req, route, arrived, as_sent(checked, route, req), rid)
                    return
                granted = checked
                started = clock.now()  # the function's invocation starts now
            api_key = None
            if route.api_keys is not None:  # ApiKeyRequired: checked after authorization
                api_key = api_key_of(req, route.api_keys)
                if api_key is None:
                    self._respond(
                        out, req, route, arrived, as_sent(INVALID_API_KEY, route, req), rid
                    )
                    return
                limited = route.api_key_limits
                if limited is not None and api_key[1] in limited:  # its usage plan's limits
                    over = self.usage.admit(limited[api_key[1]], api_key[1], clock.now())
                    if over is not None:
                        self._respond(out, req, route, arrived, as_sent(over, route, req), rid)
                        return
            if route.validation is not None:  # a REST method's request validator
                invalid = refusal(route.validation, req, match)
                if invalid is not None:
                    self._respond(out, req, route, arrived, as_sent(invalid, route, req), rid)
                    return
            if route.preflight is not None:  # a REST API's CORS preflight (a mock)
                headers = [*PREFLIGHT_HEAD, *route.preflight]
                self._respond(out, req, route, arrived, HttpResponse(200, headers, b"{}"), rid)
                return
            if route.integration is not None:  # not a Lambda proxy
                answer = await self.integrations.answer(
                    req, match, request_id, epoch_ms, granted, api_key
                )
                if route.gateway_responses is not None or route.cors is not None:
                    answer = as_sent(answer, route, req)
                self._respond(out, req, route, arrived, answer, rid)
                return
            try:
                version, alias = self.routing.choose(route.function, pin=find_pin(req))
            except InvalidRequest as exc:
                self._respond(out, req, route, arrived, client_error(exc.message), rid)
                return
            except NotFound as exc:
                log.error("%s %s: %s", req.method, req.path, exc.message)
                refused = gateway_answer(route.api_kind, Failure.INVOKE_REFUSED)
                self._respond(out, req, route, arrived, as_sent(refused, route, req), rid)
                return
            event = build_event(req, match, request_id, epoch_ms, granted, api_key)
            streamed = None
            if route.raw_stream:  # a streamed answer, passed on as the function writes it
                where = f"{route.function}:{version}"
                on_start = partial(self._in_flight.pop, req, None)
                finish = None
                if route.gateway_responses is not None or route.cors is not None:
                    finish = partial(_as_sent_to, route, req)
                streamed = StreamedAnswer(out, req, rid, where, on_start, finish)
            loop = self._running_loop()
            self._in_flight[req] = (loop.time() + self.integration_timeout_s, out, route, rid)
            if self._sweep is None:
                self._sweep = loop.call_later(self._sweep_every_s, self._sweep_timeouts)
            result: InvokeResult | None = None
            failure: Failure | None = None
            try:
                if streamed is None:
                    result = await self.invoker.invoke(
                        route.function, version, event, alias=alias, started=started
                    )
                else:
                    result = await self.invoker.invoke(
                        route.function,
                        version,
                        event,
                        alias=alias,
                        started=started,
                        stream=streamed,
                    )
            except Throttled:
                failure = Failure.THROTTLED
            except CanariaError as exc:
                log.error("invoking %s:%s failed: %s", route.function, version, exc.message)
                failure = Failure.INVOKE_REFUSED
            except Exception:
                log.exception("invoking %s:%s failed", route.function, version)
                failure = Failure.INVOKE_REFUSED
            finally:
                answered = self._in_flight.pop(req, None) is None  # a 504 has gone already
            finished = clock.now()
            try:
                self.recorder.record(
                    route.function,
                    alias,
                    version,
                    result,
                    throttled=failure is Failure.THROTTLED,
                    started=started,
                    finished=finished,
                )
            except Exception:
                log.exception("recording %s:%s failed", route.function, version)
            if streamed is not None and streamed.started:
                ok = result is not None and result.function_error is None
                out.stream_end(req, complete=ok)
                self._count(route, streamed.status, arrived, finished - started)
                if route.access_log is not None:
                    self._access(
                        route.access_log,
                        route,
                        req,
                        request_id,
                        streamed.status,
                        None,
                        arrived,
                        None,
                        finished - started,
                    )
                return
            if result is not None:
                answer = self._answer(route, result)
            else:
                assert failure is not None
                answer = gateway_answer(route.api_kind, failure)
            if route.gateway_responses is not None or route.cors is not None:
                answer = as_sent(answer, route, req)
            if answered:  # the answer goes nowhere; the 504 was counted
                out.respond(req, answer, rid)
            else:
                self._respond(out, req, route, arrived, answer, rid, finished - started)
        except Exception:
            log.exception("%s %s: gateway error", req.method, req.path)
            out.respond(
                req,
                client_error("Internal Server Error", 500),
                ("x-amzn-RequestId", new_request_id()),
            )

    def _respond(
        self,
        out: Responder,
        req: Request,
        route: Route,
        arrived: float,
        answer: HttpResponse,
        rid: tuple[str, str],
        integration_s: float | None = None,
    ) -> None:
        """Answer, count the answer in the API's metrics, and log it where its stage
        keeps access logs."""
        out.respond(req, answer, rid)
        self._count(route, answer.status, arrived, integration_s)
        access = route.access_log
        if access is not None:
            error = _own_message(answer) if answer.kind is not None else None
            length = len(answer.body)
            self._access(
                access, route, req, rid[1], answer.status, length, arrived, error, integration_s
            )

    def _access(
        self,
        access: AccessLog,
        route: Route,
        req: Request,
        request_id: str,
        status: int,
        length: int | None,
        arrived: float,
        error: str | None,
        integration_s: float | None = None,
    ) -> None:
        write = self.write_log
        if write is None:
            return
        now = self.clock.now()
        try:
            line = access.line(
                req, route, request_id, status, length, arrived, now, integration_s, error
            )
            write(access.group, access.stream, [(int(now * 1000), line)])
        except Exception:  # a log line never costs the answer
            log.exception("access log of %s %s", req.method, req.path)

    def _count(
        self, route: Route, status: int, arrived: float, integration_s: float | None
    ) -> None:
        """Count an answer in the API's metrics."""
        meter = self.api_meter
        if meter is not None:
            now = self.clock.now()
            integration_ms = None if integration_s is None else integration_s * 1000.0
            meter.record(
                now,
                route.api_id,
                route.stage,
                status,
                (now - arrived) * 1000.0,
                integration_ms,
            )

    def _answer(self, route: Route, result: InvokeResult) -> HttpResponse:
        if result.function_error is not None:
            log.info(
                "%s:%s: Lambda execution failed due to customer function error (%s)",
                route.function,
                result.version,
                result.error_type or result.function_error,
            )
            return gateway_answer(route.api_kind, Failure.INTEGRATION_ERROR)
        try:
            return map_result(route.api_kind, result.payload, v1=route.payload_v1)
        except Malformed as exc:
            if route.raw_stream and result.payload:  # a buffered response's bytes, as written
                return HttpResponse(200, [("Content-Type", OCTET_STREAM)], result.payload)
            log.warning(
                "%s:%s: Malformed Lambda proxy response: %s", route.function, result.version, exc
            )
            return gateway_answer(route.api_kind, Failure.INTEGRATION_ERROR)

    def _sweep_timeouts(self) -> None:
        """Answer the requests past the integration timeout; look again while any is left."""
        self._sweep = None
        in_flight = self._in_flight
        if not in_flight:
            return
        loop = self._running_loop()
        now = loop.time()
        for req, (deadline, out, route, rid) in list(in_flight.items()):
            if deadline <= now:
                del in_flight[req]
                self._timed_out(req, out, route, rid)
        if in_flight:
            self._sweep = loop.call_later(self._sweep_every_s, self._sweep_timeouts)

    def _timed_out(self, req: Request, out: Responder, route: Route, rid: tuple[str, str]) -> None:
        log.warning(
            "%s %s: integration timed out after %.0f s",
            req.method,
            req.path,
            self.integration_timeout_s,
        )
        timeout = as_sent(gateway_answer(route.api_kind, Failure.TIMEOUT), route, req)
        out.respond(req, timeout, rid, early=True)
        if self.api_meter is not None:
            waited_ms = self.integration_timeout_s * 1000.0
            now = self.clock.now()
            self.api_meter.record(now, route.api_id, route.stage, timeout.status, waited_ms, None)


def _own_message(answer: HttpResponse) -> str | None:
    """The ``message`` of one of API Gateway's own answers (``$context.error.message``)."""
    try:
        body = orjson.loads(answer.body)
    except orjson.JSONDecodeError:
        return None
    message = body.get("message") if isinstance(body, dict) else None
    return message if isinstance(message, str) else None
