"""Application Load Balancers: each listener of the template served on a port of its own.

A request is matched against the listener's rules by priority, lowest first (their
conditions ANDed, a condition's values ORed), else the default actions run. A forward
picks one of its target groups by weight and invokes the group's function as ALB invokes
a Lambda target: through the alias its ARN names (an unqualified ARN: the alias the
function's routes use, so that a canary is judged on the load balancer's traffic too, as
function URLs and event sources are), with ALB's event (lower-case header names, query
parameters as sent, undecoded, the body Base64-encoded unless its type is text) and ALB's
reading of the answer (``statusCode``, ``headers`` or ``multiValueHeaders``, ``body``).

ALB's own answers, as it documents them: 502 for a function error, a malformed answer
or one over 1 MB; 503 for a group without a Lambda target; 413 for a body over 1 MB; 400
for a WebSocket upgrade. A throttled or refused invocation is answered 503 (canaria's
choice, as the gateway's 429 is). An authenticate action is not run (nothing it guards
is let through unless it says ``allow``). A redirect to another listener of the same
load balancer (``#{host}`` kept, another port) goes to that listener's local port.

A listener keeps its port across restarts while the port is free (the ports are kept in
the state directory); otherwise the OS picks one.
"""

from __future__ import annotations

import base64
import functools
import ipaddress
import logging
import os
import random
import re
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import unquote_plus

import orjson

from canaria.clock import Clock
from canaria.errors import CanariaError, InvalidRequest, NotFound, Throttled
from canaria.models import InvokeResult
from canaria.models.load_balancers import (
    HOST_HEADER,
    HTTP_HEADER,
    HTTP_REQUEST_METHOD,
    PATH_PATTERN,
    QUERY_STRING,
    ActionSpec,
    ConditionSpec,
    ListenerSpec,
    RedirectSpec,
    TargetGroupSpec,
)
from canaria.ports import known_ports, save_ports

from .events import without_session_cookie
from .handler import Responder, find_pin
from .responses import HttpResponse, Malformed, client_error, map_alb_result
from .routing import Routing
from .server import HttpListener, listen_again
from .types import Invoker, Recorder, Request

log = logging.getLogger("canaria.gateway")

MAX_BODY = 1024 * 1024  # a Lambda target's request body, and its answer's JSON
SERVER = ("Server", "awselb/2.0")
_AS_IS = ("application/json", "application/javascript", "application/xml")
LocalPort = Callable[[str, int], int | None]  # (load balancer, declared port) → local port


def error_page(status: int, reason: str) -> HttpResponse:
    """One of ALB's own HTML error answers."""
    title = f"{status} {reason}"
    body = (
        f"<html>\r\n<head><title>{title}</title></head>\r\n<body>\r\n"
        f"<center><h1>{title}</h1></center>\r\n</body>\r\n</html>\r\n"
    )
    return HttpResponse(status, [("Content-Type", "text/html")], body.encode())


BAD_GATEWAY = error_page(502, "Bad Gateway")
UNAVAILABLE = error_page(503, "Service Temporarily Unavailable")
TOO_LARGE = error_page(413, "Request Entity Too Large")
UNAUTHORIZED = error_page(401, "Authorization Required")
UPGRADE_REFUSED = error_page(400, "Bad Request")


# ---- matching ----------------------------------------------------------------------------


@functools.lru_cache(maxsize=1024)
def wildcard(pattern: str, ignore_case: bool) -> re.Pattern[str]:
    """ALB's ``*`` (any characters) and ``?`` (one character), matching the whole value."""
    body = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.compile(body, re.IGNORECASE | re.DOTALL if ignore_case else re.DOTALL)


def _any(patterns: tuple[str, ...], value: str, ignore_case: bool) -> bool:
    return any(wildcard(p, ignore_case).fullmatch(value) for p in patterns)


def query_pairs(query: str) -> list[tuple[str, str]]:
    """The query string's (key, value) pairs as sent: not percent-decoded, as ALB passes
    them (a key without ``=`` has the value ``""``)."""
    pairs = []
    for part in query.split("&"):
        if part:
            key, _, value = part.partition("=")
            pairs.append((key, value))
    return pairs


def host_of(req: Request) -> str:
    """The request's host name, without its port."""
    host = req.host
    if host.startswith("["):  # an IPv6 address
        return host[: host.find("]") + 1]
    return host.partition(":")[0]


def matches(condition: ConditionSpec, req: Request) -> bool:
    """Whether ``req`` meets one rule condition."""
    field = condition.field
    if field == PATH_PATTERN:
        return _any(condition.values, req.path, False)
    if field == HOST_HEADER:
        return _any(condition.values, host_of(req), True)
    if field == HTTP_REQUEST_METHOD:
        return req.method in condition.values
    if field == HTTP_HEADER:
        assert condition.header is not None
        name = condition.header.lower()
        return any(_any(condition.values, v, True) for k, v in req.headers if k.lower() == name)
    if field == QUERY_STRING:
        pairs = [(unquote_plus(k), unquote_plus(v)) for k, v in query_pairs(req.query)]
        return any(
            (key is None or wildcard(key, True).fullmatch(k)) and wildcard(value, True).fullmatch(v)
            for key, value in condition.pairs
            for k, v in pairs
        )
    # source-ip: the client's own address (not X-Forwarded-For), as ALB reads it
    try:
        client = ipaddress.ip_address(req.source_ip)
    except ValueError:
        return False
    return any(client in ipaddress.ip_network(v, strict=False) for v in condition.values)


def actions_for(listener: ListenerSpec, req: Request) -> tuple[ActionSpec, ...]:
    """The actions of the first rule ``req`` meets, else the listener's defaults."""
    for rule in listener.rules:
        if all(matches(c, req) for c in rule.conditions):
            return rule.actions
    return listener.default_actions


# ---- ALB's event -------------------------------------------------------------------------


def _trace_id() -> str:
    return f"Root=1-{int(time.time()):08x}-{os.urandom(12).hex()}"


def alb_event(req: Request, group: TargetGroupSpec, listener: ListenerSpec) -> bytes:
    """The event ALB sends a Lambda target for ``req``."""
    names: list[str] = []
    values: dict[str, list[str]] = {}
    for name, value in req.headers:
        lower = name.lower()
        if lower == "cookie":
            kept = without_session_cookie(value)  # canaria's dashboard session stays here
            if kept is None:
                continue
            value = kept
        if lower not in values:
            names.append(lower)
            values[lower] = []
        values[lower].append(value)
    forwarded = values.get("x-forwarded-for")
    added = {
        "x-forwarded-for": f"{forwarded[-1]}, {req.source_ip}" if forwarded else req.source_ip,
        "x-forwarded-port": str(listener.port),
        "x-forwarded-proto": listener.protocol.lower(),
        "x-amzn-trace-id": _trace_id(),
    }
    for name, value in added.items():
        if name not in values:
            names.append(name)
        values[name] = [value]
    content_type = values.get("content-type", [None])[-1]
    body, encoded = _event_body(req.body, content_type)
    event: dict[str, Any] = {
        "requestContext": {"elb": {"targetGroupArn": group.arn}},
        "httpMethod": req.method,
        "path": req.path,
    }
    pairs = query_pairs(req.query)
    if group.multi_value_headers:
        multi_query: dict[str, list[str]] = {}
        for key, value in pairs:
            multi_query.setdefault(key, []).append(value)
        event["multiValueQueryStringParameters"] = multi_query
        event["multiValueHeaders"] = {n: values[n] for n in names}
    else:
        event["queryStringParameters"] = dict(pairs)  # the last value of a repeated key
        event["headers"] = {n: values[n][-1] for n in names}
    event["body"] = body
    event["isBase64Encoded"] = encoded
    return orjson.dumps(event)


def _event_body(body: bytes, content_type: str | None) -> tuple[str, bool]:
    """ALB passes text/*, JSON, JavaScript and XML bodies as they are; others in Base64."""
    if not body:
        return "", False
    media = (content_type or "").split(";", 1)[0].strip().lower()
    if media.startswith("text/") or media in _AS_IS:
        try:
            return body.decode("utf-8"), False
        except UnicodeDecodeError:
            pass
    return base64.b64encode(body).decode("ascii"), True


# ---- redirects ---------------------------------------------------------------------------


def redirect_location(
    spec: RedirectSpec, req: Request, listener: ListenerSpec, local_port: LocalPort
) -> str:
    """Where ALB's redirect sends ``req``; a redirect to another listener of the same load
    balancer, by the request's host and that listener's port, goes to its local port."""
    protocol = listener.protocol
    host = host_of(req)
    port = str(listener.port)
    path = req.path[1:]
    query = req.query

    def fill(text: str) -> str:
        return (
            text.replace("#{protocol}", protocol)
            .replace("#{host}", host)
            .replace("#{port}", port)
            .replace("#{path}", path)
            .replace("#{query}", query)
        )

    scheme = fill(spec.protocol).lower()
    to_host = fill(spec.host)
    to_port = fill(spec.port)
    to_path = fill(spec.path)
    to_query = fill(spec.query)
    if to_host == host and to_port.isdigit():
        local = local_port(listener.load_balancer, int(to_port))
        if local is not None:  # a listener canaria serves: its port here, plain HTTP
            scheme, to_port = "http", str(local)
    default = {"http": "80", "https": "443"}.get(scheme)
    netloc = to_host if to_port == default else f"{to_host}:{to_port}"
    return f"{scheme}://{netloc}{to_path}" + (f"?{to_query}" if to_query else "")


# ---- the handler -------------------------------------------------------------------------


class ListenerHandler:
    """Answers one listener's requests."""

    def __init__(
        self,
        listener: ListenerSpec,
        routing: Routing,
        invoker: Invoker,
        recorder: Recorder,
        clock: Clock,
        local_port: LocalPort,
    ) -> None:
        self.listener = listener
        self._routing = routing
        self._invoker = invoker
        self._recorder = recorder
        self._clock = clock
        self._local_port = local_port
        self._random = random.Random()

    async def handle(self, req: Request, conn: Responder) -> None:
        try:
            answer = await self._answer(req)
        except Exception:
            log.exception("%s %s: load balancer error", req.method, req.path)
            answer = error_page(500, "Internal Server Error")
        conn.respond(req, answer, SERVER)

    async def _answer(self, req: Request) -> HttpResponse:
        if any(n.lower() == "upgrade" for n, _ in req.headers):
            return UPGRADE_REFUSED  # Lambda targets take no WebSockets
        listener = self.listener
        for action in actions_for(listener, req):
            match action.kind:
                case "authenticate":
                    if action.on_unauthenticated != "allow":
                        return UNAUTHORIZED
                case "fixed-response":
                    headers = [("Content-Type", action.content_type)] if action.content_type else []
                    return HttpResponse(action.status, headers, action.body.encode())
                case "redirect":
                    assert action.redirect is not None
                    location = redirect_location(action.redirect, req, listener, self._local_port)
                    return HttpResponse(action.redirect.status, [("Location", location)])
                case "forward":
                    return await self._forward(req, self._pick(action))
        return UNAVAILABLE  # not reached: the template reader ends every list with one

    def _pick(self, action: ActionSpec) -> TargetGroupSpec:
        if len(action.targets) == 1:
            return action.targets[0][0]
        groups = [g for g, _ in action.targets]
        weights = [w for _, w in action.targets]
        return self._random.choices(groups, weights)[0]

    async def _forward(self, req: Request, group: TargetGroupSpec) -> HttpResponse:
        function = group.function
        if function is None:
            return UNAVAILABLE
        if len(req.body) > MAX_BODY:
            return TOO_LARGE
        try:
            version, alias = self._version(function, group.qualifier, find_pin(req))
        except InvalidRequest as exc:
            return client_error(exc.message)
        except NotFound as exc:
            log.error("%s %s: %s", req.method, req.path, exc.message)
            return UNAVAILABLE
        event = alb_event(req, group, self.listener)
        clock = self._clock
        started = clock.now()
        result: InvokeResult | None = None
        throttled = False
        try:
            result = await self._invoker.invoke(
                function, version, event, alias=alias, started=started
            )
        except Throttled:
            throttled = True
        except CanariaError as exc:
            log.error("invoking %s:%s failed: %s", function, version, exc.message)
        finally:
            try:
                self._recorder.record(
                    function,
                    alias,
                    version,
                    result,
                    throttled=throttled,
                    started=started,
                    finished=clock.now(),
                )
            except Exception:
                log.exception("recording %s:%s failed", function, version)
        if result is None:
            return UNAVAILABLE
        if result.function_error is not None:
            return BAD_GATEWAY
        if len(result.payload) > MAX_BODY:
            log.warning("%s:%s: the answer is over 1 MB", function, version)
            return BAD_GATEWAY
        try:
            return map_alb_result(result.payload, multi_value=group.multi_value_headers)
        except Malformed as exc:
            log.warning("%s:%s: malformed answer for the load balancer: %s", function, version, exc)
            return BAD_GATEWAY

    def _version(
        self, function: str, qualifier: str | None, pin: str | None
    ) -> tuple[int, str | None]:
        """The version one request runs: the alias the target's ARN names (by its split),
        the version it names, or (unqualified) the alias the function's routes use."""
        if qualifier is None:
            return self._routing.choose(function, pin=pin)
        if qualifier.isdigit():
            return int(qualifier), None
        return self._routing.choose_alias(function, qualifier, pin=pin), qualifier


# ---- the listeners being served -----------------------------------------------------------


class LoadBalancers:
    """The listeners being served, kept in step with the application's template."""

    def __init__(
        self,
        routing: Routing,
        invoker: Invoker,
        recorder: Recorder,
        clock: Clock,
        *,
        host: str,
        ports_file: Path | None = None,
    ) -> None:
        self._routing = routing
        self._invoker = invoker
        self._recorder = recorder
        self._clock = clock
        self._host = host
        self._ports_file = ports_file
        self._served: dict[str, tuple[ListenerHandler, HttpListener]] = {}

    def endpoints(self) -> dict[str, dict[str, Any]]:
        """Each listener: its URL here, its load balancer and what it declares."""
        out = {}
        for name, (handler, server) in sorted(self._served.items()):
            spec = handler.listener
            out[name] = {
                "url": f"http://{self._host}:{server.port}/",
                "load_balancer": spec.load_balancer,
                "listener": f"{spec.protocol}:{spec.port}",
            }
        return out

    def local_port(self, load_balancer: str, declared: int) -> int | None:
        """The port here of ``load_balancer``'s listener that declares ``declared``."""
        for handler, server in self._served.values():
            spec = handler.listener
            if spec.load_balancer == load_balancer and spec.port == declared:
                return server.port
        return None

    async def serve(self, listeners: Mapping[str, ListenerSpec]) -> None:
        """Serve exactly ``listeners``: stop the others, start the new ones."""
        for name in [n for n in self._served if n not in listeners]:
            await self._served.pop(name)[1].stop()
        known = known_ports(self._ports_file) if self._ports_file is not None else {}
        for name, spec in listeners.items():
            served = self._served.get(name)
            if served is not None:
                served[0].listener = spec  # the next request reads the new rules
                continue
            handler = ListenerHandler(
                spec, self._routing, self._invoker, self._recorder, self._clock, self.local_port
            )
            self._served[name] = (handler, await self._start(handler, known.get(name, 0)))
        if self._ports_file is not None:
            save_ports(self._ports_file, {n: s.port for n, (_, s) in self._served.items()})

    async def stop(self) -> None:
        for _, server in self._served.values():
            await server.stop()
        self._served.clear()

    async def _start(self, handler: ListenerHandler, port: int) -> HttpListener:
        """A listener on ``port`` (its earlier one), else on a port the OS picks."""

        def make(at: int) -> HttpListener:
            return HttpListener(handler, host=self._host, port=at)

        return await listen_again(make, port, handler.listener.logical_id)
