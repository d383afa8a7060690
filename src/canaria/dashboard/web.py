"""The dashboard: one page, live over server-sent events, signed in by the token.

Opening the URL ``canaria up`` prints (``/?token=…``) sets an HttpOnly, SameSite=Strict
cookie and redirects to the page at ``/canaria/`` (so the token leaves the address bar);
without it the page asks for the token. Everything but the sign-in form needs the cookie
or the bearer token: the page, its scripts, the stream. The cookie's path is
``/canaria/``: browsers send cookies to every port of a host, so it is kept off the
gateway's paths (and the gateway drops it if an application route starts with
``/canaria/``: no function ever receives it). The sign-in form refuses a cross-site
post. Charts use uPlot, installed from npm by ``make setup``
and served from ``node_modules`` — nothing third-party is committed, nothing comes from
a CDN.

The stream pushes a whole, bounded snapshot (see ``canaria.dashboard.snapshot``) when it
changes, at most once a second, and a comment line otherwise. Each stream ends after
``STREAM_LIFETIME_S`` and the browser reconnects by itself: a server shutting down never
waits on an open page for longer than that.
"""

from __future__ import annotations

import asyncio
import hmac
import time
from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import parse_qs

import orjson
from starlette.requests import Request
from starlette.responses import (
    FileResponse,
    HTMLResponse,
    RedirectResponse,
    Response,
    StreamingResponse,
)
from starlette.routing import BaseRoute, Route

from canaria.auth import COOKIE, COOKIE_PATH
from canaria.control.routes import authorized, error, foreign_origin
from canaria.dashboard.snapshot import BlastRadius, DashboardSource, snapshot
from canaria.npm import node_package

STATIC = Path(__file__).parent / "static"
OWN_FILES = frozenset({"app.js", "app.css"})


def vendor_files() -> dict[str, Path]:
    dist = node_package("uplot") / "dist"
    return {"uplot.js": dist / "uPlot.iife.min.js", "uplot.css": dist / "uPlot.min.css"}


PUSH_EVERY_S = 1.0
KEEPALIVE_S = 10.0
STREAM_LIFETIME_S = 15.0
SNAPSHOT_TTL_S = 0.5  # several open pages share one snapshot per push
RETRY_MS = 1000

SECURITY_HEADERS = {
    "Cache-Control": "no-store",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
        "img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'"
    ),
}

LOGIN = """<!doctype html><html><head><meta charset="utf-8"><title>canaria — sign in</title>
<style>body{font:15px system-ui;margin:15vh auto;max-width:28em}input{width:100%;padding:.5em}
button{margin-top:.8em;padding:.5em 1.2em}.err{color:#b00}</style></head><body>
<h1>canaria</h1><p>This dashboard needs the control API's token. Open the URL
<code>canaria up</code> printed, or paste the token from the state directory's
<code>token</code> file.</p>
<form method="post" action="/canaria/login"><input name="token" type="password" autofocus
placeholder="token" aria-label="token"><button type="submit">Sign in</button></form>
{error}</body></html>"""


def _same(given: str, token: str) -> bool:
    return bool(given) and hmac.compare_digest(given.encode(), token.encode())


def _login_page(wrong: bool) -> Response:
    note = '<p class="err" role="alert">Wrong token.</p>' if wrong else ""
    return HTMLResponse(LOGIN.replace("{error}", note), status_code=401, headers=SECURITY_HEADERS)


PAGE = COOKIE_PATH  # the dashboard's page: under the cookie's path


def _signed_in(token: str) -> Response:
    resp = RedirectResponse(PAGE, status_code=303, headers={"Cache-Control": "no-store"})
    resp.set_cookie(COOKIE, token, httponly=True, samesite="strict", path=COOKIE_PATH)
    return resp


def _same_origin_form(request: Request) -> bool:
    return foreign_origin(request) is None


class SnapshotCache:
    """One encoded snapshot per focus, reused for ``SNAPSHOT_TTL_S`` by every stream."""

    def __init__(self, source: DashboardSource) -> None:
        self.source = source
        self.blast = BlastRadius(since=source.clock.now())
        self._cache: dict[str | None, tuple[float, bytes]] = {}

    def get(self, focus: str | None) -> bytes:
        now = time.monotonic()
        hit = self._cache.get(focus)
        if hit is not None and now - hit[0] < SNAPSHOT_TTL_S:
            return hit[1]
        body = orjson.dumps(snapshot(self.source, self.blast, focus))
        if len(self._cache) > 16:
            self._cache.clear()
        self._cache[focus] = (now, body)
        return body


def dashboard_routes(p: DashboardSource) -> list[BaseRoute]:
    """The page, its assets, the sign-in form and the stream, guarded by ``p.token``."""
    secret = p.token
    cache = SnapshotCache(p)

    async def root(request: Request) -> Response:
        """``/?token=…`` (the printed URL) signs in; ``/`` leads to the page."""
        given = request.query_params.get("token")
        if given is not None:
            return _signed_in(secret) if _same(given, secret) else _login_page(True)
        return RedirectResponse(PAGE, status_code=303, headers={"Cache-Control": "no-store"})

    async def index(request: Request) -> Response:
        given = request.query_params.get("token")
        if given is not None:
            return _signed_in(secret) if _same(given, secret) else _login_page(True)
        if not authorized(request, secret):
            return _login_page(False)
        return FileResponse(STATIC / "index.html", media_type="text/html", headers=SECURITY_HEADERS)

    async def login(request: Request) -> Response:
        if not _same_origin_form(request):
            return error(403, "Forbidden", "cross-site sign-in refused")
        form = parse_qs((await request.body()).decode(errors="replace"))
        given = (form.get("token") or [""])[0].strip()
        return _signed_in(secret) if _same(given, secret) else _login_page(True)

    async def static(request: Request) -> Response:
        if not authorized(request, secret):
            return error(401, "Unauthorized", "sign in first")
        name = request.path_params["name"]
        path = vendor_files().get(name) or (STATIC / name if name in OWN_FILES else None)
        if path is None:
            return error(404, "NotFound", name)
        if not path.is_file():
            return error(404, "NotFound", f"{path} is missing: run `make setup` (npm ci)")
        return FileResponse(path, headers={"Cache-Control": "no-cache"})

    async def stream(request: Request) -> Response:
        if not authorized(request, secret):
            return error(401, "Unauthorized", "sign in first")
        focus = request.query_params.get("focus") or None

        async def events() -> AsyncIterator[bytes]:
            yield f"retry: {RETRY_MS}\n\n".encode()
            started = last_sent = time.monotonic()
            last = b""
            while time.monotonic() - started < STREAM_LIFETIME_S:
                body = cache.get(focus)
                if body != last:
                    yield b"data: " + body + b"\n\n"
                    last, last_sent = body, time.monotonic()
                elif time.monotonic() - last_sent >= KEEPALIVE_S:
                    yield b": keepalive\n\n"
                    last_sent = time.monotonic()
                await asyncio.sleep(PUSH_EVERY_S)

        return StreamingResponse(
            events(),
            media_type="text/event-stream",
            headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
        )

    async def favicon(request: Request) -> Response:
        return Response(status_code=204)

    return [
        Route("/", root, methods=["GET"]),
        Route(PAGE, index, methods=["GET"]),
        Route("/favicon.ico", favicon, methods=["GET"]),
        Route("/login", login, methods=["POST"]),
        Route(PAGE + "login", login, methods=["POST"]),
        Route(PAGE + "static/{name}", static, methods=["GET"]),
        Route("/canaria/v1/stream", stream, methods=["GET"]),
    ]


__all__ = ["SnapshotCache", "dashboard_routes", "vendor_files"]
