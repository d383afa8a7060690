"""An access log line: the Format's $context variables filled for one request, an
unknown or empty one written "-", aliases read as their variable; the Common Log Format
a stage gets without a Format."""

from __future__ import annotations

from canaria.gateway.access_logs import AccessLog
from canaria.gateway.routes import compile_route
from canaria.gateway.types import Request
from canaria.models import AccessLogSpec, RouteSpec
from canaria.template.access_logs import CLF

ARRIVED = 1_700_000_000.25  # 14/Nov/2023:22:13:20 +0000


def line(fmt: str, kind: str = "rest", **kw: object) -> str:
    spec = RouteSpec("GET", "/items/{id}", kind, "Shop", "prod", "Fn")  # type: ignore[arg-type]
    route, _ = compile_route(spec)
    req = Request("GET", "/prod/items/7", "", [("User-Agent", "curl/8")], b"", source_ip="10.0.0.9")
    log = AccessLog(AccessLogSpec("/g", fmt), "Shop", "prod")
    args = {"status": 200, "length": 17, "integration_s": 0.0123, "error": None} | kw
    return log.line(
        req,
        route,
        "rid-1",
        int(args["status"]),  # type: ignore[call-overload]
        args["length"],  # type: ignore[arg-type]
        ARRIVED,
        ARRIVED + 0.02,
        args["integration_s"],  # type: ignore[arg-type]
        args["error"],  # type: ignore[arg-type]
    )


def test_the_common_log_format() -> None:
    assert line(CLF) == (
        '10.0.0.9 - - [14/Nov/2023:22:13:20 +0000] "GET /items/{id} HTTP/1.1" 200 17 rid-1'
    )


def test_variables_aliases_and_dashes() -> None:
    fmt = (
        "$context.integration.latency|$context.integrationLatency|$context.responseLatency|"
        "$context.identity.userAgent|$context.routeKey|$context.waf.error|"
        "$context.error.messageString|$context.requestTimeEpoch"
    )
    assert line(fmt) == "12|12|20|curl/8|-|-|-|1700000000250"
    http = line("$context.routeKey $context.resourcePath", kind="http")
    assert http == "GET /items/{id} -"
    refused = line(
        "$context.status $context.error.message $context.integrationLatency",
        status=403,
        integration_s=None,
        error="Missing Authentication Token",
    )
    assert refused == "403 Missing Authentication Token -"
