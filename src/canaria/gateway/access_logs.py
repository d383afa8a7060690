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
variable. The lines go to the stage's log group, one stream per API stage.
"""

from __future__ import annotations

import hashlib
import re
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

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


class AccessLog:
    """One stage's access log: its compiled format and where its lines go."""

    def __init__(self, spec: AccessLogSpec, api_id: str, stage: str) -> None:
        self.group = spec.group
        digest = hashlib.md5(f"{api_id}/{stage}".encode(), usedforsecurity=False).hexdigest()
        self.stream = digest
        parts = _VARIABLE.split(spec.format)
        self._texts = parts[0::2]  # text, variable, text, ..., text
        self._names = [_ALIASES.get(n, n) for n in parts[1::2]]

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
        values = _values(req, route, request_id, status, length, arrived, now, integration_s)
        values["error.message"] = error
        out = [self._texts[0]]
        for name, text in zip(self._names, self._texts[1:], strict=True):
            value = values.get(name)
            out.append("-" if value is None or value == "" else str(value))
            out.append(text)
        return "".join(out)


def _values(
    req: Request,
    route: Route,
    request_id: str,
    status: int,
    length: int | None,
    arrived: float,
    now: float,
    integration_s: float | None,
) -> dict[str, Any]:
    rest = route.api_kind == "rest"
    host = req.host or ""
    values: dict[str, Any] = {
        "requestId": request_id,
        "extendedRequestId": request_id,
        "apiId": route.api_id.lower(),
        "stage": route.stage,
        "domainName": host,
        "domainPrefix": host.split(".", 1)[0],
        "httpMethod": req.method,
        "path": req.path,
        "protocol": req.protocol,
        "status": status,
        "responseLength": length,
        "responseLatency": round((now - arrived) * 1000),
        "requestTime": time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(arrived)),
        "requestTimeEpoch": int(arrived * 1000),
        "identity.sourceIp": req.source_ip,
        "identity.userAgent": next((v for k, v in req.headers if k.lower() == "user-agent"), None),
        "accountId": ACCOUNT,
    }
    if rest:
        values["resourcePath"] = route.path
    else:
        values["routeKey"] = route.route_key
    if integration_s is not None:
        values["integrationLatency"] = round(integration_s * 1000)
        values["integrationStatus"] = 200
    return values
