"""CORS as API Gateway applies an API's configuration (``RouteSpec.cors``).

- REST: a preflight is the mock ``OPTIONS`` route SAM adds to each path without one
  (``routes.preflight_routes``): 200, ``{}``, the configured headers, through the default
  authorizer unless ``AddDefaultAuthorizerToCorsPreflight: false``. Other answers are the
  function's own: API Gateway adds nothing to a Lambda proxy's response.
- HTTP API: an ``OPTIONS`` request with ``Origin`` and ``Access-Control-Request-Method``
  to a path the API serves is answered by the gateway itself (204, no authorizer, no
  function). The function's own ``Access-Control-*`` headers are dropped, as API Gateway
  ignores them, and an answer to an allowed origin carries ``Access-Control-Allow-Origin``
  (and the credentials and exposed headers configured). An origin that is not allowed gets
  no CORS header, so the browser refuses the answer, as on AWS.
"""

from __future__ import annotations

import fnmatch

from canaria.models import CorsSpec

from .responses import JSON, HttpResponse
from .routes import ALL_METHODS, Route, RouteMatch, Router
from .types import Request

PREFLIGHT_HEAD = (("Content-Type", JSON),)


def allowed_origin(cors: CorsSpec, origin: str | None) -> str | None:
    """What ``Access-Control-Allow-Origin`` says to ``origin`` (None: not allowed)."""
    if origin is None:
        return None
    for allowed in cors.allow_origins:
        if allowed == "*":
            return origin if cors.allow_credentials else "*"
        if allowed == origin or ("*" in allowed and fnmatch.fnmatchcase(origin, allowed)):
            return origin
    return None


def _http_headers(cors: CorsSpec, origin: str) -> list[tuple[str, str]]:
    headers = [("Access-Control-Allow-Origin", origin)]
    if cors.allow_credentials:
        headers.append(("Access-Control-Allow-Credentials", "true"))
    if cors.expose_headers:
        headers.append(("Access-Control-Expose-Headers", ",".join(cors.expose_headers)))
    return headers


def http_preflight(router: Router, req: Request) -> HttpResponse | None:
    """An HTTP API's answer to a CORS preflight, None when ``req`` is not one (or its API
    has no CORS configuration): then it is routed like any request."""
    wanted = req.header("access-control-request-method")
    origin = req.header("origin")
    if not wanted or origin is None:
        return None
    route = _route_on_path(router, wanted.upper(), req.path)
    if route is None or route.api_kind != "http" or route.cors is None:
        return None
    cors = route.cors
    allowed = allowed_origin(cors, origin)
    if allowed is None:
        return HttpResponse(204)
    headers = _http_headers(cors, allowed)
    if cors.allow_methods:
        headers.append(("Access-Control-Allow-Methods", ",".join(cors.allow_methods)))
    if cors.allow_headers:
        headers.append(("Access-Control-Allow-Headers", ",".join(cors.allow_headers)))
    if cors.max_age is not None:
        headers.append(("Access-Control-Max-Age", str(cors.max_age)))
    return HttpResponse(204, headers)


def _route_on_path(router: Router, method: str, path: str) -> Route | None:
    """The route the preflighted request would take, else any route on its path."""
    for candidate in (method, *ALL_METHODS):
        match = router.match(candidate, path)
        if isinstance(match, RouteMatch):
            return match.route
    return None


def with_cors(response: HttpResponse, route: Route, req: Request) -> HttpResponse:
    """An HTTP API's answer with the CORS headers its configuration gives ``req``'s
    origin, in place of the function's own; any other answer as it is."""
    cors = route.cors
    if cors is None or route.api_kind != "http":
        return response
    kept = [(k, v) for k, v in response.headers if not k.lower().startswith("access-control-")]
    allowed = allowed_origin(cors, req.header("origin"))
    if allowed is not None:
        kept += _http_headers(cors, allowed)
    return HttpResponse(response.status, kept, response.body)
