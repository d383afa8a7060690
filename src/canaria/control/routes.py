"""The control API under ``/canaria/v1``: status, deployments, operator commands, invoke,
logs, completion reports. Every route needs ``Authorization: Bearer <token>`` (or the
dashboard's cookie)."""

from __future__ import annotations

import hmac
from collections import deque
from collections.abc import Awaitable, Callable
from itertools import islice
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from canaria import nodejs, pythons
from canaria.auth import COOKIE, Keyring
from canaria.control.backend import ControlSource
from canaria.control.views import (
    alias_view,
    api_key_view,
    deployment_view,
    event_view,
    function_sources,
    hook_view,
    route_view,
    user_pool_views,
    version_view,
    websocket_route_views,
)
from canaria.controller.deployments import judge_override
from canaria.controller.plan import Command
from canaria.errors import CanariaError, InvalidRequest, NotFound
from canaria.guard.views import guarded_detail, guarded_view
from canaria.inputs import bounded_int, name
from canaria.models.deployment import Deployment
from canaria.release import Rollout

MAX_ADVANCE_S = 10 * 365 * 86400
MAX_CLOCK = 253_402_300_799.0  # 9999-12-31T23:59:59Z: dates stay printable
STATE_CHANGING = frozenset({"POST", "PUT", "PATCH", "DELETE"})
MAX_REQUEST_ID = 128  # the store's column; Lambda's request ids are 36-character UUIDs
MAX_REASON = 4096
Endpoint = Callable[[Request], Awaitable[Response]]


def ok(body: Any, status: int = 200) -> Response:
    return Response(orjson.dumps(body), status_code=status, media_type="application/json")


def error(status: int, code: str, message: str) -> Response:
    return ok({"error": {"code": code, "message": message}}, status)


def authorized(request: Request, token: str) -> bool:
    header = request.headers.get("authorization", "")
    given = header[7:] if header.lower().startswith("bearer ") else request.cookies.get(COOKIE, "")
    return bool(given) and hmac.compare_digest(given.encode(), token.encode())


def _function_may(request: Request, keyring: Keyring, fn: str) -> bool:
    """A function's own token (``CANARIA_TOKEN`` in its environment), in the header."""
    header = request.headers.get("authorization", "")
    if not header.lower().startswith("bearer "):
        return False
    principal = keyring.by_token(header[7:])
    return principal is not None and principal.function == fn


def foreign_origin(request: Request) -> str | None:
    """Why a browser's request is from another origin, or ``None``. ``Sec-Fetch-Site``
    decides where the browser sends it (every current one does); else ``Origin``, when
    sent, must be this server's. (The dashboard's ``Referrer-Policy: no-referrer`` makes
    a browser send ``Origin: null`` on its own form posts, so ``Origin`` alone cannot
    decide.)"""
    site = request.headers.get("sec-fetch-site")
    if site is not None:
        if site in ("same-origin", "none"):
            return None
        return f"cross-site request refused: Sec-Fetch-Site {site} (allowed: same-origin)"
    origin = request.headers.get("origin")
    own = f"http://{request.headers.get('host', '')}"
    if origin is not None and origin != own:
        return f"cross-site request refused: Origin {origin} is not {own}"
    return None


def cross_site(request: Request) -> str | None:
    """Why a state-changing request is refused as possibly cross-site, or ``None``.

    A browser sends the dashboard's cookie with any request to this port, whichever page
    made it (a page the gateway serves is on the same site: ports do not count); so a
    request that changes state with the cookie must come from the dashboard's own origin
    (``Origin`` and ``Sec-Fetch-Site``, which browsers send) and carry a JSON body type,
    which another page cannot send without a CORS preflight that this server never
    grants. A request with ``Authorization: Bearer`` cannot be forged by a page (setting
    that header needs the same preflight), so the CLI's and functions' requests pass."""
    if request.method not in STATE_CHANGING:
        return None
    if request.headers.get("authorization", "").lower().startswith("bearer "):
        return None
    refused = foreign_origin(request)
    if refused is not None:
        return refused
    media = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if media != "application/json":
        return (
            f"Content-Type {media or '(none)'} refused: send the body as JSON with "
            "`Content-Type: application/json`"
        )
    return None


def protect(token: str, fn: Endpoint, keyring: Keyring | None = None) -> Endpoint:
    """Only the operator's token (header or dashboard cookie); with ``keyring``, also the
    token of the function the path names (``{fn}``): a function reports its own work.
    State-changing requests must be same-origin JSON (``cross_site``)."""

    async def endpoint(request: Request) -> Response:
        if not authorized(request, token) and not (
            keyring is not None
            and _function_may(request, keyring, str(request.path_params.get("fn", "")))
        ):
            return error(
                401,
                "Unauthorized",
                "missing or wrong token: pass `Authorization: Bearer <token>` "
                "(the token is in the state directory's `token` file)",
            )
        refused = cross_site(request)
        if refused is not None:
            code = "UnsupportedMediaType" if refused.startswith("Content-Type") else "Forbidden"
            return error(415 if code == "UnsupportedMediaType" else 403, code, refused)
        try:
            for key, value in request.path_params.items():
                name(str(value), key)
            return await fn(request)
        except CanariaError as exc:
            return error(exc.http_status, exc.code, exc.message)

    return endpoint


async def json_body(request: Request) -> dict[str, Any]:
    raw = await request.body()
    if not raw:
        return {}
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise InvalidRequest(f"request body is not JSON: {exc}") from exc
    if not isinstance(body, dict):
        raise InvalidRequest("request body must be a JSON object")
    return body


def _str_map(value: Any, name: str) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, dict) or not all(isinstance(k, str) for k in value):
        raise InvalidRequest(f"{name} must be an object of strings")
    return {k: str(v) for k, v in value.items()}


def _opt_str(body: dict[str, Any], key: str) -> str | None:
    value = body.get(key)
    if value is not None and not isinstance(value, str):
        raise InvalidRequest(f"{key} must be a string")
    return value


def _bool(body: dict[str, Any], key: str) -> bool:
    value = body.get(key, False)
    if not isinstance(value, bool):
        raise InvalidRequest(f"{key} must be true or false")
    return value


def control_routes(source: ControlSource) -> list[BaseRoute]:
    p = source

    def _function(request: Request) -> str:
        """The function a path names: its logical id, or its declared ``FunctionName``
        (the name its log group, the stack's resources and Lambda's API know it by)."""
        name = str(request.path_params["fn"])
        app = p.app
        return name if app is None else app.function_named(name)

    def deployment_detail(d: Deployment) -> dict[str, Any]:
        view = deployment_view(d)
        view["events"] = [event_view(e) for e in p.store.events(d.id)]
        view["hook_executions"] = [hook_view(h) for h in p.store.hooks(d.id)]
        view["traffic"] = p.signals.traffic_summary(d, p.clock.now())
        view["alarm_states"] = {a: p.signals.alarm_state(a) for a in d.alarms}
        return view

    async def status(request: Request) -> Response:
        app = p.app
        active = p.store.deployments(active_only=True)
        return ok(
            {
                "application": app.template_path if app else None,
                "now": p.clock.now(),
                "gateway": p.gateway_url,
                "function_urls": p.function_urls(),  # function -> the URL canaria serves it at
                "websockets": p.websocket_apis(),  # WebSocket API -> its URL and connections
                "graphql": p.graphql_apis(),  # GraphQL API -> its URL and its API keys
                # Application Load Balancer listener -> its URL and what it declares
                "load_balancers": p.load_balancer_listeners(),
                "published_metrics": p.published_metrics(),
                # API methods that invoke no function (AWS services, mock, HTTP)
                "integrations": [route_view(r) for r in app.integration_routes] if app else [],
                # REST API keys: what a client sends in x-api-key to a method requiring one
                "api_keys": [api_key_view(k) for k in app.api_keys.values()] if app else [],
                # Cognito user pools: their ids and their app clients' (what a test signs in with)
                "user_pools": user_pool_views(app.services) if app else [],
                # AWS_ENDPOINT_URL and AWS_ENDPOINT_URL_<SERVICE>: what `canaria env` exports
                "endpoints": p.endpoints(),
                "functions": {
                    name: {
                        "aliases": [alias_view(a) for a in p.store.aliases(name)],
                        "versions": [version_view(v) for v in p.store.versions(name)],
                        "routes": [route_view(r) for r in spec.routes],
                        "websocket_routes": websocket_route_views(app.websockets, name)
                        if app
                        else [],
                        "sources": function_sources(app.event_sources, name) if app else [],
                        "runtime": spec.config.runtime,
                        # the Node.js version a nodejsN.x function runs on (its line's)
                        "node": nodejs.version_for(spec.config.runtime),
                        # the Python version a python3.N function runs on
                        "python": pythons.python_for(spec.config.runtime).version
                        if pythons.line_of(spec.config.runtime)
                        else None,
                        # DurableConfig: each invocation starts a durable execution
                        "durable": {
                            "execution_timeout_s": spec.durable.execution_timeout_s,
                            "retention_days": spec.durable.retention_days,
                        }
                        if spec.durable
                        else None,
                        "concurrent_executions": p.runtimes[name].concurrent_executions()
                        if name in p.runtimes
                        else 0,
                        "cold_starts": p.runtimes[name].cold_starts() if name in p.runtimes else 0,
                        # warm execution environments (worker processes) per version
                        "environments": {
                            str(v): n for v, n in sorted(p.runtimes[name].environments().items())
                        }
                        if name in p.runtimes
                        else {},
                    }
                    for name, spec in (app.functions.items() if app else [])
                },
                "alarms": p.signals.alarm_states_view(),
                "deployments": [deployment_detail(d) for d in active],
                "guarded": guarded_view(p.store),
                "skipped": [
                    {"logical_id": s.logical_id, "type": s.type, "reason": s.reason}
                    for s in (app.skipped if app else ())
                ],
                "warnings": list(app.warnings) if app else [],
            }
        )

    async def list_deployments(request: Request) -> Response:
        limit = bounded_int(request.query_params.get("limit"), "limit", 50, 1, 1000)
        return ok({"deployments": [deployment_view(d) for d in p.store.deployments(limit=limit)]})

    async def get_deployment(request: Request) -> Response:
        return ok(deployment_detail(p.store.deployment(request.path_params["id"])))

    async def events(request: Request) -> Response:
        after = bounded_int(request.query_params.get("after"), "after", 0, 0, 2**62)
        d = p.store.deployment(request.path_params["id"])
        return ok(
            {
                "events": [event_view(e) for e in p.store.events(d.id, after)],
                "deployment": deployment_detail(d),
            }
        )

    async def guarded(request: Request) -> Response:
        """An AWS deployment `canaria guard` watched: record, evidence and every event."""
        view = guarded_detail(p.store, request.path_params["id"])
        if view is None:
            raise NotFound(f"canaria guard has not seen deployment {request.path_params['id']}")
        return ok(view)

    async def create_deployment(request: Request) -> Response:
        body = await json_body(request)
        path = _opt_str(body, "template")
        if not path:
            raise InvalidRequest("template is required (the path of a SAM template)")
        try:
            judge = None if body.get("judge") is None else judge_override(body["judge"])
        except ValueError as e:
            raise InvalidRequest(str(e)) from None
        result = await p.releases.deploy(
            path,
            _str_map(body.get("parameter_overrides"), "parameter_overrides"),
            _opt_str(body, "config_env"),
            rollout=Rollout(_bool(body, "ignore_alarms"), _opt_str(body, "config"), judge),
            dry_run=_bool(body, "dry_run"),
            group=_bool(body, "group"),
        )
        return ok(
            {
                "plan": result.plan.describe(),
                "versions": dict(result.plan.versions),
                "deployments": [deployment_view(d) for d in result.deployments],
                "warnings": list(result.warnings),
                "dry_run": _bool(body, "dry_run"),
            },
            201 if result.deployments else 200,
        )

    def command(cmd: Command) -> Endpoint:
        async def endpoint(request: Request) -> Response:
            body = await json_body(request)
            chosen = cmd
            if cmd is Command.PROMOTE and _bool(body, "full"):
                chosen = Command.PROMOTE_FULL
            if cmd is Command.STOP and body.get("rollback") is False:
                chosen = Command.STOP_NO_ROLLBACK
            d = await p.commands.command(request.path_params["id"], chosen)
            return ok(deployment_view(d))

        return endpoint

    async def rollback(request: Request) -> Response:
        d = await p.commands.rollback_function(_function(request))
        return ok({"deployment": deployment_view(d)})

    async def history(request: Request) -> Response:
        fn = _function(request)
        p.function_spec(fn)
        deps = [deployment_view(d) for d in p.store.deployments(limit=1000) if fn in d.functions]
        return ok(
            {
                "function": fn,
                "versions": [version_view(v) for v in p.store.versions(fn)],
                "aliases": [alias_view(a) for a in p.store.aliases(fn)],
                "deployments": deps,
            }
        )

    async def invoke(request: Request) -> Response:
        body = await json_body(request)
        fn = _function(request)
        payload = body.get("payload", {})
        result = await p.invoke_qualified(fn, _opt_str(body, "qualifier"), orjson.dumps(payload))
        return ok(
            {
                "version": result.version,
                "request_id": result.request_id,
                "function_error": result.function_error,
                "error_type": result.error_type,
                "duration_ms": result.duration_ms,
                "cold_start": result.cold_start,
                "payload": orjson.loads(result.payload) if result.payload else None,
                "logs": result.logs,
            }
        )

    async def completions(request: Request) -> Response:
        """``POST /canaria/v1/functions/{fn}/completions``: the work an invocation started
        reports how it ended, for request gates with ``completion: reported``.

        Body: ``{"request_id": "<the invocation's context.aws_request_id>", "status":
        "Succeeded" | "Failed", "reason": "<optional text>"}``. 201 with the report kept;
        200 with the first report when the same status is reported again; 409 when the
        request id already reported the other status; 400 for a bad body; 404 for a
        function the running template does not have.
        """
        fn = _function(request)
        p.function_spec(fn)
        body = await json_body(request)
        unknown = sorted(set(body) - {"request_id", "status", "reason"})
        if unknown:
            raise InvalidRequest(
                f"unknown field(s) {', '.join(unknown)} (allowed: request_id, status, reason)"
            )
        request_id = _opt_str(body, "request_id")
        if not request_id or len(request_id) > MAX_REQUEST_ID:
            raise InvalidRequest(
                "request_id is required: the invocation's context.aws_request_id "
                f"(at most {MAX_REQUEST_ID} characters)"
            )
        status = body.get("status")
        if status not in ("Succeeded", "Failed"):
            raise InvalidRequest(f"status {status!r} (allowed: Succeeded, Failed)")
        reason = _opt_str(body, "reason") or ""
        if len(reason) > MAX_REASON:
            raise InvalidRequest(f"reason is longer than {MAX_REASON} characters")
        report, new = await p.report_completion(fn, request_id, status, reason)
        return ok(
            {
                "function": report.function,
                "request_id": report.request_id,
                "status": report.status,
                "reason": report.reason,
                "reported_at": report.reported_at,
            },
            201 if new else 200,
        )

    async def logs(request: Request) -> Response:
        fn = _function(request)
        p.function_spec(fn)
        since = bounded_int(request.query_params.get("since"), "since", 0, 0, 2**62)
        limit = bounded_int(request.query_params.get("limit"), "limit", 1000, 1, 1000)
        entries = p.logbook.since(fn, since, limit)
        return ok(
            {
                # a page: ask again with since=next for the lines after it
                "next": entries[-1].seq if entries else since,
                "lines": [
                    {
                        "seq": e.seq,
                        "time": e.time,
                        "version": e.version,
                        "request_id": e.request_id,
                        "stream": e.stream,
                        "text": e.text,
                    }
                    for e in entries
                ],
            }
        )

    async def group_lines(request: Request) -> Response:
        group = request.query_params.get("name") or ""
        info = p.log_groups.get(group)
        if info is None:
            kept = ", ".join(p.log_groups.names()) or "none"
            raise NotFound(f"no log group {group!r} (canaria keeps: {kept})")
        since = bounded_int(request.query_params.get("since"), "since", 0, 0, 2**62)
        limit = bounded_int(request.query_params.get("limit"), "limit", 1000, 1, 1000)
        lines = p.log_groups.lines(info, since)
        # a page: with since=0 the last lines, else the first after it
        page = list(deque(lines, maxlen=limit) if since == 0 else islice(lines, limit))
        return ok(
            {
                "next": page[-1][0].seq if page else since,
                "lines": [
                    {
                        "seq": e.seq,
                        "time": e.time,
                        "version": e.version,
                        "request_id": e.request_id,
                        "stream": stream,
                        "text": e.text,
                    }
                    for e, stream in page
                ],
            }
        )

    async def clock(request: Request) -> Response:
        from canaria.clock import ManualClock

        if request.method == "POST":
            if not isinstance(p.clock, ManualClock):
                raise InvalidRequest(
                    "the clock is not manual (start with `canaria up --clock manual`)"
                )
            body = await json_body(request)
            seconds = body.get("advance", 0)
            if (
                not isinstance(seconds, int | float)
                or isinstance(seconds, bool)
                or not 0 <= seconds <= MAX_ADVANCE_S
            ):
                raise InvalidRequest(
                    f"advance must be a number of seconds from 0 to {MAX_ADVANCE_S} (ten years)"
                )
            if p.clock.now() + seconds > MAX_CLOCK:
                raise InvalidRequest("advance would move the clock past the year 9999")
            p.clock.advance(float(seconds))
            p.controller.poke()
        return ok({"now": p.clock.now(), "kind": type(p.clock).__name__})

    base = "/canaria/v1"
    table: list[tuple[str, Endpoint, str]] = [
        ("/status", status, "GET"),
        ("/deployments", list_deployments, "GET"),
        ("/deployments", create_deployment, "POST"),
        ("/deployments/{id}", get_deployment, "GET"),
        ("/deployments/{id}/events", events, "GET"),
        ("/guarded/{id}", guarded, "GET"),
        ("/deployments/{id}/stop", command(Command.STOP), "POST"),
        ("/deployments/{id}/promote", command(Command.PROMOTE), "POST"),
        ("/functions/{fn}/rollback", rollback, "POST"),
        ("/functions/{fn}/history", history, "GET"),
        ("/functions/{fn}/invoke", invoke, "POST"),
        ("/functions/{fn}/logs", logs, "GET"),
        ("/log-groups/lines", group_lines, "GET"),
        ("/functions/{fn}/completions", completions, "POST"),
        ("/clock", clock, "GET"),
        ("/clock", clock, "POST"),
    ]
    return [
        Route(
            base + path,
            protect(p.token, fn, p.keyring if fn is completions else None),
            methods=[m],
        )
        for path, fn, m in table
    ]
