"""The control API under ``/canaria/v1``: status, deployments, operator commands, invoke,
logs, completion reports. Every route needs ``Authorization: Bearer <token>`` (or the
dashboard's cookie)."""

from __future__ import annotations

import hmac
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from canaria.control.views import (
    alias_view,
    deployment_view,
    event_view,
    hook_view,
    route_view,
    version_view,
)
from canaria.controller.deployments import judge_override
from canaria.controller.plan import Command
from canaria.errors import CanariaError, InvalidRequest
from canaria.models.deployment import Deployment

if TYPE_CHECKING:
    from canaria.platform import Platform

COOKIE = "canaria_token"
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


def protect(token: str, fn: Endpoint) -> Endpoint:
    async def endpoint(request: Request) -> Response:
        if not authorized(request, token):
            return error(
                401,
                "Unauthorized",
                "missing or wrong token: pass `Authorization: Bearer <token>` "
                "(the token is in the state directory's `token` file)",
            )
        try:
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


def control_routes(platform: Platform) -> list[BaseRoute]:
    p = platform

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
                "gateway": f"http://{p.options.host}:{p.gateway.port}",
                # AWS_ENDPOINT_URL and AWS_ENDPOINT_URL_<SERVICE>: what `canaria env` exports
                "endpoints": {
                    k: v
                    for k, v in p.function_environment().items()
                    if k.startswith("AWS_ENDPOINT_URL")
                },
                "functions": {
                    name: {
                        "aliases": [alias_view(a) for a in p.store.aliases(name)],
                        "versions": [version_view(v) for v in p.store.versions(name)],
                        "routes": [route_view(r) for r in spec.routes],
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
                "skipped": [
                    {"logical_id": s.logical_id, "type": s.type, "reason": s.reason}
                    for s in (app.skipped if app else ())
                ],
                "warnings": list(app.warnings) if app else [],
            }
        )

    async def list_deployments(request: Request) -> Response:
        try:
            limit = int(request.query_params.get("limit", "50"))
        except ValueError as exc:
            raise InvalidRequest("limit must be an integer") from exc
        return ok({"deployments": [deployment_view(d) for d in p.store.deployments(limit=limit)]})

    async def get_deployment(request: Request) -> Response:
        return ok(deployment_detail(p.store.deployment(request.path_params["id"])))

    async def events(request: Request) -> Response:
        try:
            after = int(request.query_params.get("after", "0"))
        except ValueError as exc:
            raise InvalidRequest("after must be an integer") from exc
        d = p.store.deployment(request.path_params["id"])
        return ok(
            {
                "events": [event_view(e) for e in p.store.events(d.id, after)],
                "deployment": deployment_detail(d),
            }
        )

    async def create_deployment(request: Request) -> Response:
        body = await json_body(request)
        path = _opt_str(body, "template")
        if not path:
            raise InvalidRequest("template is required (the path of a SAM template)")
        try:
            judge = None if body.get("judge") is None else judge_override(body["judge"])
        except ValueError as e:
            raise InvalidRequest(str(e)) from None
        result = await p.deploy(
            path,
            _str_map(body.get("parameter_overrides"), "parameter_overrides"),
            _opt_str(body, "config_env"),
            ignore_alarms=_bool(body, "ignore_alarms"),
            dry_run=_bool(body, "dry_run"),
            group=_bool(body, "group"),
            config=_opt_str(body, "config"),
            judge=judge,
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
            d = await p.command(request.path_params["id"], chosen)
            return ok(deployment_view(d))

        return endpoint

    async def rollback(request: Request) -> Response:
        d = await p.rollback_function(request.path_params["fn"])
        return ok({"deployment": deployment_view(d)})

    async def history(request: Request) -> Response:
        fn = request.path_params["fn"]
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
        fn = request.path_params["fn"]
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
        fn = request.path_params["fn"]
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
        fn = request.path_params["fn"]
        p.function_spec(fn)
        try:
            since = int(request.query_params.get("since", "0"))
        except ValueError as exc:
            raise InvalidRequest("since must be an integer") from exc
        entries = p.logbook.since(fn, since)
        return ok(
            {
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
                ]
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
            if not isinstance(seconds, int | float) or isinstance(seconds, bool) or seconds < 0:
                raise InvalidRequest("advance must be a non-negative number of seconds")
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
        ("/deployments/{id}/stop", command(Command.STOP), "POST"),
        ("/deployments/{id}/promote", command(Command.PROMOTE), "POST"),
        ("/functions/{fn}/rollback", rollback, "POST"),
        ("/functions/{fn}/history", history, "GET"),
        ("/functions/{fn}/invoke", invoke, "POST"),
        ("/functions/{fn}/logs", logs, "GET"),
        ("/functions/{fn}/completions", completions, "POST"),
        ("/clock", clock, "GET"),
        ("/clock", clock, "POST"),
    ]
    return [Route(base + path, protect(p.token, fn), methods=[m]) for path, fn, m in table]
