"""HTTP data sources: a resolver's request (``method``, ``resourcePath``, ``params`` with
``query``, ``headers`` and ``body``) sent to the data source's endpoint, its answer the
resolver's ``ctx.result`` (``statusCode``, ``headers``, ``body`` as text), as AppSync
sends and reads it.

An endpoint on AWS is this machine's: ``https://<service>.<region>.amazonaws.com`` (and
``sync-<service>``, Step Functions' synchronous endpoint) goes to the engine that serves
that service here (the edge for Step Functions, Lambda, CloudWatch Logs and Firehose; the
services engine for S3, SQS, SNS, EventBridge, ...), ``https://<api>.execute-api...`` to
canaria's gateway, each signed with canaria's own keys for the service the data source's
``AwsIamConfig`` names (or the host's); any other endpoint is called as it is, unsigned.
A body that is not text is sent as JSON (the APPSYNC_JS runtime hands objects on).
"""

from __future__ import annotations

import json
import re
from collections.abc import Awaitable, Callable, Mapping
from typing import Any
from urllib.parse import urlsplit

from canaria.errors import CanariaError
from canaria.gateway.types import Inbound, Outbound
from canaria.models.appsync import DataSourceSpec

Send = Callable[[Outbound, float], Awaitable[Inbound]]

TIMEOUT_S = 10.0  # AppSync waits this long for an HTTP data source
_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS")
_AWS_HOST = re.compile(r"^(?:[a-z0-9]+\.)?([a-z0-9-]+)\.[a-z0-9-]+\.amazonaws\.com(?:\.cn)?$")


class RequestError(Exception):
    """A resolver's request that is not an HTTP data source's (a template's mistake)."""


def service_of(endpoint: str, signing: str | None) -> str | None:
    """The AWS service an endpoint's host names (``sync-states`` is Step Functions'), the
    signing service when the data source names one; None for a host not on AWS."""
    host = urlsplit(endpoint).hostname or ""
    match = _AWS_HOST.match(host)
    if match is None:
        return None
    service = match.group(1).removeprefix("sync-")
    return signing or service


def outbound(source: DataSourceSpec, asked: Any) -> Outbound:
    """The request a resolver's ``asked`` makes of ``source``."""
    if not isinstance(asked, Mapping):
        raise RequestError("an HTTP request must be an object with a method and resourcePath")
    method = str(asked.get("method", "")).upper()
    if method not in _METHODS:
        raise RequestError(f"method {asked.get('method')!r} is not one of {', '.join(_METHODS)}")
    path = asked.get("resourcePath")
    if not isinstance(path, str) or not path.startswith("/"):
        raise RequestError(f"resourcePath must be a path starting with '/', got {path!r}")
    params = asked.get("params") or {}
    if not isinstance(params, Mapping):
        raise RequestError("params must be an object of query, headers and body")
    query = params.get("query") or {}
    headers = params.get("headers") or {}
    if not isinstance(query, Mapping) or not isinstance(headers, Mapping):
        raise RequestError("params.query and params.headers must be objects")
    body = params.get("body")
    data = (
        b""
        if body is None
        else body.encode()
        if isinstance(body, str)
        else json.dumps(body).encode()
    )
    pairs = [(str(k), str(v)) for k, v in query.items()]
    sent = {str(k): str(v) for k, v in headers.items()}
    assert source.endpoint is not None
    service = service_of(source.endpoint, source.signing_service)
    if service is not None:
        return Outbound(method, service=service, path=path, query=pairs, headers=sent, body=data)
    url = source.endpoint.rstrip("/") + path
    return Outbound(method, url=url, query=pairs, headers=sent, body=data)


async def call(send: Send, source: DataSourceSpec, asked: Any) -> tuple[Any, Any]:
    """(``ctx.result``, None), or (None, ``ctx.error``) when no answer came."""
    try:
        request = outbound(source, asked)
    except RequestError as exc:
        return None, {"message": str(exc), "type": "HTTP:BadRequest"}
    try:
        answer = await send(request, TIMEOUT_S)
    except TimeoutError as exc:
        return None, {"message": str(exc), "type": "HTTP:Timeout"}
    except CanariaError as exc:
        return None, {"message": exc.message, "type": "HTTP:Unreachable"}
    return {
        "statusCode": answer.status,
        "headers": dict(answer.headers),
        "body": answer.body.decode("utf-8", "replace"),
    }, None


__all__ = ["TIMEOUT_S", "RequestError", "Send", "call", "outbound", "service_of"]
