"""Access to the page: the token signs a browser in with a cookie; nothing without it.
A real uvicorn on loopback serves the dashboard's routes over a real world."""

from __future__ import annotations

import asyncio
import http.client
from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import urlsplit

import orjson
import pytest

from canaria.dashboard import web
from tests.unit.dashboard.world import TOKEN, World, serve
from tests.unit.loopback import call


@pytest.fixture
async def base(tmp_path: Path) -> AsyncIterator[str]:
    world = World(tmp_path)
    async with serve(world) as url:
        yield url
    world.close()


async def test_without_the_token_the_page_asks_for_it(base: str) -> None:
    status, headers, _ = await call(base, "GET", "/")
    assert status == 303 and headers["location"] == "/canaria/"
    status, _, body = await call(base, "GET", "/canaria/")
    assert status == 401 and b'name="token"' in body and b"canaria up" in body
    for path in (
        "/canaria/static/app.js",
        "/canaria/static/uplot.js",
        "/canaria/v1/stream",
        "/metrics",
    ):
        status, _, body = await call(base, "GET", path)
        assert status == 401, path
        assert b"uPlot" not in body and b"data:" not in body


async def test_a_wrong_token_is_refused(base: str) -> None:
    status, headers, body = await call(base, "GET", "/?token=nope")
    assert status == 401 and b"Wrong token" in body and "set-cookie" not in headers
    status, headers, _ = await call(
        base, "POST", "/login", b"token=nope", content_type="application/x-www-form-urlencoded"
    )
    assert status == 401 and "set-cookie" not in headers
    status, _, _ = await call(base, "GET", "/canaria/", cookie=f"{web.COOKIE}=nope")
    assert status == 401


async def test_the_printed_url_signs_in_with_a_cookie(base: str) -> None:
    status, headers, _ = await call(base, "GET", f"/?token={TOKEN}")
    # the token leaves the address bar
    assert status == 303 and headers["location"] == "/canaria/"
    cookie = headers["set-cookie"]
    assert cookie.startswith(f"{web.COOKIE}={TOKEN}")
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie
    assert "Path=/canaria/" in cookie  # never sent to the gateway's paths
    jar = cookie.split(";", 1)[0]
    status, headers, body = await call(base, "GET", "/canaria/", cookie=jar)
    assert status == 200 and b"/canaria/static/uplot.js" in body
    assert "default-src 'self'" in headers["content-security-policy"]
    assert b"http://" not in body and b"https://" not in body  # nothing from a CDN
    status, _, js = await call(base, "GET", "/canaria/static/app.js", cookie=jar)
    assert status == 200 and b"EventSource" in js


async def test_the_form_signs_in_too(base: str) -> None:
    status, headers, _ = await call(
        base,
        "POST",
        "/canaria/login",
        f"token={TOKEN}".encode(),
        content_type="application/x-www-form-urlencoded",
    )
    assert status == 303 and headers["set-cookie"].startswith(f"{web.COOKIE}={TOKEN}")


async def test_charts_come_from_node_modules(base: str) -> None:
    uplot = web.vendor_files()["uplot.js"]
    assert uplot.is_file(), "uPlot is missing: run `make setup` (npm ci)"
    bearer = f"Bearer {TOKEN}"
    status, _, body = await call(base, "GET", "/canaria/static/uplot.js", authorization=bearer)
    assert status == 200 and body == uplot.read_bytes()
    status, _, _ = await call(base, "GET", "/canaria/static/../web.py", authorization=bearer)
    assert status == 404


async def test_the_stream_pushes_a_snapshot(base: str) -> None:
    def first_event() -> dict[str, object]:
        u = urlsplit(base)
        conn = http.client.HTTPConnection(u.hostname or "", u.port, timeout=10)
        try:
            conn.request("GET", "/canaria/v1/stream", headers={"Authorization": f"Bearer {TOKEN}"})
            resp = conn.getresponse()
            assert resp.status == 200
            assert resp.getheader("content-type", "").startswith("text/event-stream")
            while True:
                line = resp.fp.readline()
                if line.startswith(b"data: "):
                    return orjson.loads(line[6:])  # type: ignore[no-any-return]
        finally:
            conn.close()

    snap = await asyncio.to_thread(first_event)
    assert "Hello" in snap["functions"]  # type: ignore[operator]


async def test_a_cross_site_sign_in_is_refused(base: str) -> None:
    status, headers, _ = await call(
        base,
        "POST",
        "/canaria/login",
        f"token={TOKEN}".encode(),
        content_type="application/x-www-form-urlencoded",
        origin="http://evil.example",
    )
    assert status == 403 and "set-cookie" not in headers
