"""canaria.gateway — the HTTP data plane.

A request: ``HttpProtocol`` (httptools on asyncio) → ``Router.match`` (API Gateway's
precedence, with and without the stage prefix) → ``Routing.choose`` (the alias's split:
smooth weighted round-robin or seeded random, or a pin) → payload 1.0 / 2.0 event →
``Invoker.invoke`` → ``Recorder.record`` → API Gateway's response mapping.
"""

from canaria.gateway.handler import Handler, find_pin
from canaria.gateway.responses import Failure, HttpResponse, Malformed, gateway_answer, map_result
from canaria.gateway.routes import NoRoute, Route, RouteMatch, Router
from canaria.gateway.routing import Routing
from canaria.gateway.server import GatewayServer
from canaria.gateway.splitter import AliasSplit
from canaria.gateway.types import Invoker, Recorder, Request, SplitMode

__all__ = [
    "AliasSplit",
    "Failure",
    "GatewayServer",
    "Handler",
    "HttpResponse",
    "Invoker",
    "Malformed",
    "NoRoute",
    "Recorder",
    "Request",
    "Route",
    "RouteMatch",
    "Router",
    "Routing",
    "SplitMode",
    "find_pin",
    "gateway_answer",
    "map_result",
]
