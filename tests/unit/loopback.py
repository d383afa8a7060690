"""Routes served by a real uvicorn on loopback, and a plain HTTP client for them."""

from __future__ import annotations

import asyncio
import contextlib
import http.client
import socket
from collections.abc import AsyncIterator, Sequence
from urllib.parse import urlsplit

import uvicorn
from starlette.applications import Starlette
from starlette.routing import BaseRoute


@contextlib.asynccontextmanager
async def serve(routes: Sequence[BaseRoute]) -> AsyncIterator[str]:
    """``routes`` on a real uvicorn on loopback; yields the base URL."""
    app = Starlette(routes=list(routes))
    sock = socket.create_server(("127.0.0.1", 0))  # the port is the one bound, not a guess
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
    task = asyncio.ensure_future(server.serve(sockets=[sock]))
    while not server.started:
        if task.done():
            task.result()
        await asyncio.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task
        sock.close()


def _request(
    base: str,
    method: str,
    path: str,
    body: bytes | None = None,
    headers: dict[str, str] | None = None,
) -> tuple[int, dict[str, str], bytes]:
    u = urlsplit(base)
    conn = http.client.HTTPConnection(u.hostname or "", u.port, timeout=10)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        resp = conn.getresponse()
        return resp.status, {k.lower(): v for k, v in resp.getheaders()}, resp.read()
    finally:
        conn.close()


async def call(
    base: str, method: str, path: str, body: bytes | None = None, **headers: str
) -> tuple[int, dict[str, str], bytes]:
    """One request off the event loop (the server runs on it); ``content_type=`` → the
    ``content-type`` header."""
    hdrs = {k.replace("_", "-"): v for k, v in headers.items()}
    return await asyncio.to_thread(_request, base, method, path, body, hdrs)
