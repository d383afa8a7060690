"""Calls to EventBridge API destinations: one rule event, sent to the destination's
endpoint as EventBridge sends it.

- The URL is the destination's ``InvocationEndpoint`` with each ``*`` replaced by the
  target's ``PathParameterValues`` in turn; the query is the connection's
  ``InvocationHttpParameters`` and then the target's ``QueryStringParameters``. A target
  parameter that starts with ``$.`` is read from the event (the original one, not the
  transformed body).
- The headers are the connection's, then the target's, then EventBridge's own
  (``User-Agent: Amazon/EventBridge/ApiDestinations``, ``Range: bytes=0-1048575``,
  ``Accept-Encoding: gzip,deflate``, ``Connection: close``), ``Content-Type:
  application/json; charset=utf-8`` unless one of the others set it, and the
  connection's authorization: its API key header, Basic credentials, or a Bearer token
  asked for at the OAuth endpoint with the client's id and secret as Basic credentials
  and kept until it expires or the endpoint answers 401.
- The body is what the target's transform made of the event, with the connection's
  ``BodyParameters`` added when it is a JSON object.
- The destination's ``InvocationRateLimitPerSecond`` spaces its calls.
- An ``https://<api>.execute-api...`` endpoint is the template's own API: called on
  canaria's gateway (``local_urls``).

A call that takes more than 5 seconds, a 429 or a 5xx, and a connection that fails may
be tried again (``CallFailed.retryable``, with ``after_s`` from a ``Retry-After`` header);
any other status of 300 and over may not. Blocking: the pollers call it from their pool's threads.
"""

from __future__ import annotations

import base64
import json
import threading
import time
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote, urlencode

import urllib3

from canaria.models.event_transforms import MISSING, check_path, lookup
from canaria.models.services import ApiDestinationSpec, ConnectionSpec, HttpParameters, Pairs
from canaria.services.local_urls import on_this_machine

TIMEOUT_S = 5.0  # EventBridge gives an endpoint 5 seconds to answer
FIXED_HEADERS = {
    "User-Agent": "Amazon/EventBridge/ApiDestinations",
    "Range": "bytes=0-1048575",
    "Accept-Encoding": "gzip,deflate",
    "Connection": "close",
}
CONTENT_TYPE = "application/json; charset=utf-8"
_TOKEN_MARGIN_S = 30.0  # a token is asked for again this long before it expires


class CallFailed(Exception):
    """The destination did not take the event: ``code`` and ``message`` as a dead-letter
    queue's message says them; ``retryable`` as EventBridge decides it."""

    def __init__(
        self, code: str, message: str, *, retryable: bool, after_s: float | None = None
    ) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.retryable = retryable
        self.after_s = after_s


def _value(value: str, event: Mapping[str, Any]) -> str:
    """A target parameter: a ``$.`` path into the event, or the value itself."""
    if not value.startswith("$.") or check_path(value) is not None:
        return value
    found = lookup(event, value)
    if isinstance(found, str):
        return found
    return "" if found is MISSING or found is None else json.dumps(found)


def url_of(
    destination: ApiDestinationSpec, http: HttpParameters | None, event: Mapping[str, Any]
) -> str:
    url = destination.endpoint
    values = list(http.path_values) if http is not None else []
    while "*" in url and values:
        url = url.replace("*", quote(_value(values.pop(0), event), safe=""), 1)
    query: list[tuple[str, str]] = list(destination.connection.query)
    if http is not None:
        query += [(k, _value(v, event)) for k, v in http.query]
    if query:
        url += ("&" if "?" in url else "?") + urlencode(query)
    return url


def _retry_after(response: urllib3.BaseHTTPResponse) -> float | None:
    raw = response.headers.get("Retry-After")
    try:
        return float(raw) if raw is not None else None
    except ValueError:
        return None


class ApiDestinations:
    """The calls of every API destination of the running application."""

    def __init__(self) -> None:
        self._http = urllib3.PoolManager(
            retries=False, timeout=urllib3.Timeout(total=TIMEOUT_S), maxsize=4
        )
        self._lock = threading.Lock()
        self._tokens: dict[str, tuple[str, float]] = {}  # connection → (token, expiry)
        self._next_call: dict[str, float] = {}  # destination → earliest next call
        self.gateway: tuple[str, int] | None = None  # where execute-api URLs are served

    def call(
        self,
        destination: ApiDestinationSpec,
        http: HttpParameters | None,
        body: bytes,
        event: Mapping[str, Any],
    ) -> int:
        """Send one event; the status it was answered with (under 300). Raises
        ``CallFailed`` otherwise."""
        self._pace(destination)
        connection = destination.connection
        headers = dict(connection.headers)
        if http is not None:
            for key, value in http.headers:
                headers[key] = _value(value, event)
        if not any(k.lower() == "content-type" for k in headers):
            headers["Content-Type"] = CONTENT_TYPE
        headers.update(FIXED_HEADERS)
        headers.update(self._authorization(connection))
        payload = _with_body_parameters(body, connection.body)
        url, host = on_this_machine(url_of(destination, http, event), self.gateway)
        if host is not None:  # one of the template's APIs, on canaria's gateway
            headers["Host"] = host
        try:
            response = self._http.request(
                destination.method, url, body=payload, headers=headers, redirect=False
            )
        except urllib3.exceptions.HTTPError as exc:
            raise CallFailed("SDK_CLIENT_ERROR", f"{url}: {exc}", retryable=True) from None
        status = response.status
        if status < 300:
            return status
        message = f"{destination.method} {url} answered {status}"
        if status == 401 and connection.oauth is not None:
            with self._lock:
                self._tokens.pop(connection.name, None)  # asked for anew next time
        retryable = status == 429 or status >= 500
        raise CallFailed(
            "ERROR_FROM_TARGET", message, retryable=retryable, after_s=_retry_after(response)
        )

    def _pace(self, destination: ApiDestinationSpec) -> None:
        if destination.rate_per_second is None:
            return
        gap = 1.0 / destination.rate_per_second
        with self._lock:
            now = time.monotonic()
            at = max(now, self._next_call.get(destination.arn, now))
            self._next_call[destination.arn] = at + gap
        if at > now:
            time.sleep(at - now)

    def _authorization(self, connection: ConnectionSpec) -> dict[str, str]:
        if connection.api_key is not None:
            name, value = connection.api_key
            return {name: value}
        if connection.basic is not None:
            return {"Authorization": _basic(*connection.basic)}
        return {"Authorization": f"Bearer {self._token(connection)}"}

    def _token(self, connection: ConnectionSpec) -> str:
        oauth = connection.oauth
        assert oauth is not None
        with self._lock:
            kept = self._tokens.get(connection.name)
        if kept is not None and kept[1] > time.monotonic():
            return kept[0]
        headers = {"Authorization": _basic(oauth.client_id, oauth.client_secret)}
        headers.update(dict(oauth.headers))
        url = oauth.endpoint
        if oauth.query:
            url += ("&" if "?" in url else "?") + urlencode(oauth.query)
        body = None
        if oauth.body:
            body = urlencode(oauth.body)
            if not any(k.lower() == "content-type" for k in headers):
                headers["Content-Type"] = "application/x-www-form-urlencoded"
        try:
            response = self._http.request(oauth.method, url, body=body, headers=headers)
        except urllib3.exceptions.HTTPError as exc:
            raise CallFailed(
                "SDK_CLIENT_ERROR", f"OAuth endpoint {url}: {exc}", retryable=True
            ) from None
        try:
            answer = json.loads(response.data or b"null")
        except ValueError:
            answer = None
        token = answer.get("access_token") if isinstance(answer, dict) else None
        if response.status >= 300 or not isinstance(token, str):
            raise CallFailed(
                "ERROR_FROM_TARGET",
                f"OAuth endpoint {url} answered {response.status} without an access_token",
                retryable=response.status == 429 or response.status >= 500,
            )
        expires = answer.get("expires_in") if isinstance(answer, dict) else None
        lifetime = float(expires) if isinstance(expires, (int, float)) else 3600.0
        with self._lock:
            self._tokens[connection.name] = (
                token,
                time.monotonic() + max(lifetime - _TOKEN_MARGIN_S, 1.0),
            )
        return token

    def close(self) -> None:
        self._http.clear()


def _basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def _with_body_parameters(body: bytes, parameters: Pairs) -> bytes:
    if not parameters:
        return body
    try:
        value = json.loads(body)
    except ValueError:
        return body
    if not isinstance(value, dict):
        return body
    value.update(dict(parameters))
    return json.dumps(value, separators=(",", ":")).encode()


__all__ = ["ApiDestinations", "CallFailed", "url_of"]
