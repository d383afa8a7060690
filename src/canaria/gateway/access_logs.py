"""An API stage's access log line: its ``Format`` with the ``$context`` variables of one
request filled in, as API Gateway writes it after answering.

The format is split once into text and variables (``AccessLog``); a request then costs one
join. Variables canaria knows: ``requestId``, ``extendedRequestId``, ``apiId``, ``stage``,
``domainName``, ``domainPrefix``, ``httpMethod``, ``path``, ``resourcePath``,
``routeKey``, ``protocol``, ``status``, ``responseLength``, ``responseLatency``,
``integrationLatency`` / ``integration.latency``, ``integrationStatus`` /
``integration.status``, ``requestTime``, ``requestTimeEpoch``, ``identity.sourceIp``,
``identity.userAgent``, ``accountId``, ``error.message`` / ``error.messageString``
(API Gateway's own answers: ``Missing Authentication Token``, ``Internal server error``,
...). Any other,
or one without a value for this request, is ``-``, as API Gateway writes an empty
variable. The lines go to the stage's log group, one stream per API stage (named by a
digest of the API and the stage: canaria's naming; AWS does not document its own).
"""

from __future__ import annotations

import hashlib
import re
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, NamedTuple

from canaria.gateway.types import Request
from canaria.models import AccessLogSpec
from canaria.models.arns import ACCOUNT

if TYPE_CHECKING:
    from canaria.gateway.routes import Route

__all__ = ["AccessLog", "WriteLog"]

# (group, stream, [(timestamp ms, message)])
WriteLog = Callable[[str, str, list[tuple[int, str]]], None]
_VARIABLE = re.compile(r"\$context\.([A-Za-z][A-Za-z0-9_.-]*[A-Za-z0-9])")
_ALIASES = {
    "integration.latency": "integrationLatency",
    "integration.status": "integrationStatus",
    "error.messageString": "error.message",
}


class _Request(NamedTuple):
    """What one answered request gives its log line."""

    req: Request
    route: Route
    request_id: str
    status: int
    length: int | None
    arrived: float
    now: float
    integration_s: float | None
    error: str | None


def _header(name: str) -> Callable[[_Request], str | None]:
    def read(r: _Request) -> str | None:
        return next((v for k, v in r.req.headers if k.lower() == name), None)

    return read


def _integration(r: _Request) -> int | None:
    return None if r.integration_s is None else round(r.integration_s * 1000)


# each variable canaria fills, from the request (a variable not here is "-")
_VALUES: dict[str, Callable[[_Request], Any]] = {
    "requestId": lambda r: r.request_id,
    "extendedRequestId": lambda r: r.request_id,
    "apiId": lambda r: r.route.api_id.lower(),
    "stage": lambda r: r.route.stage,
    "domainName": lambda r: r.req.host,
    "domainPrefix": lambda r: (r.req.host or "").split(".", 1)[0],
    "httpMethod": lambda r: r.req.method,
    "path": lambda r: r.req.path,
    "resourcePath": lambda r: r.route.path if r.route.api_kind == "rest" else None,
    "routeKey": lambda r: r.route.route_key if r.route.api_kind == "http" else None,
    "protocol": lambda r: r.req.protocol,
    "status": lambda r: r.status,
    "responseLength": lambda r: r.length,
    "responseLatency": lambda r: round((r.now - r.arrived) * 1000),
    "integrationLatency": _integration,
    "integrationStatus": lambda r: None if r.integration_s is None else 200,
    "requestTime": lambda r: time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(r.arrived)),
    "requestTimeEpoch": lambda r: int(r.arrived * 1000),
    "identity.sourceIp": lambda r: r.req.source_ip,
    "identity.userAgent": _header("user-agent"),
    "accountId": lambda r: ACCOUNT,
    "error.message": lambda r: r.error,
}


def _unknown(r: _Request) -> None:
    return None


class AccessLog:
    """One stage's access log: its compiled format and where its lines go."""

    def __init__(self, spec: AccessLogSpec, api_id: str, stage: str) -> None:
        self.group = spec.group
        digest = hashlib.md5(f"{api_id}/{stage}".encode(), usedforsecurity=False).hexdigest()
        self.stream = digest
        parts = _VARIABLE.split(spec.format)
        self._first = parts[0]
        # (what fills the variable, the text after it)
        self._parts = [
            (_VALUES.get(_ALIASES.get(name, name), _unknown), text)
            for name, text in zip(parts[1::2], parts[2::2], strict=True)
        ]

    def line(
        self,
        req: Request,
        route: Route,
        request_id: str,
        status: int,
        length: int | None,
        arrived: float,
        now: float,
        integration_s: float | None,
        error: str | None,
    ) -> str:
        r = _Request(req, route, request_id, status, length, arrived, now, integration_s, error)
        out = [self._first]
        for value_of, text in self._parts:
            value = value_of(r)
            out.append("-" if value is None or value == "" else str(value))
            out.append(text)
        return "".join(out)
