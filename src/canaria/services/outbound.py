"""The gateway's integration requests, sent: an AWS service's API call to the engine that
serves that service on this machine, SigV4-signed with canaria's own keys (the edge checks
signatures; the engines accept them), or a request to an HTTP integration's URL.

Sent with urllib3 (botocore's own HTTP client) on a worker thread: integrations that call
services are not on the Lambda proxy's hot path, and botocore's signer is synchronous.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urlencode

import urllib3
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from canaria.errors import CanariaError
from canaria.gateway.types import Inbound, Outbound
from canaria.models.arns import REGION

_THREADS = 32  # integration requests in flight at once


class Unreachable(CanariaError):
    http_status = 502
    code = "IntegrationUnreachable"


class SignedBackends:
    """``Backends`` for the gateway. ``endpoint_of(service)``: the URL serving a service
    (the name in an integration's URI), None for one canaria does not serve."""

    def __init__(
        self, endpoint_of: Callable[[str], str | None], access_key: str, secret_key: str
    ) -> None:
        self._endpoint_of = endpoint_of
        self._credentials = Credentials(access_key, secret_key)
        self._pool = urllib3.PoolManager(maxsize=_THREADS, block=False)
        # threads of their own: a slow backend does not hold the loop's default executor
        # (six threads on two cores), which the controller's store I/O runs on
        self._threads = ThreadPoolExecutor(_THREADS, thread_name_prefix="canaria-integration")

    def close(self) -> None:
        """Stop the threads (a request still in flight ends first) and the connections."""
        self._threads.shutdown(wait=False, cancel_futures=True)
        self._pool.clear()

    async def send(self, request: Outbound, timeout_s: float) -> Inbound:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._threads, self._send, request, timeout_s)

    def _send(self, request: Outbound, timeout_s: float) -> Inbound:
        headers = dict(request.headers)
        body = request.body
        if request.service is not None:
            endpoint = self._endpoint_of(request.service)
            if endpoint is None:
                raise Unreachable(f"canaria does not serve {request.service}")
            url = endpoint.rstrip("/") + request.path
            if request.query:
                url += "?" + urlencode(request.query)
            signed = AWSRequest(request.method, url, data=body, headers=headers)
            SigV4Auth(self._credentials, request.service, REGION).add_auth(signed)
            prepared = signed.prepare()
            url, headers = prepared.url, dict(prepared.headers)
        else:
            assert request.url is not None
            url = request.url
            if request.query:
                url += ("&" if "?" in url else "?") + urlencode(request.query)
        try:
            answer = self._pool.request(
                request.method,
                url,
                body=body or None,
                headers=headers,
                timeout=urllib3.Timeout(connect=min(timeout_s, 5.0), read=timeout_s),
                retries=False,
                redirect=False,
                preload_content=True,
            )
        except urllib3.exceptions.NewConnectionError as exc:  # refused: urllib3 makes it a
            raise Unreachable(f"{url}: {exc}") from None  # ConnectTimeoutError, not a timeout
        except urllib3.exceptions.TimeoutError:
            raise TimeoutError(f"{url}: no answer within {timeout_s:g} s") from None
        except urllib3.exceptions.HTTPError as exc:
            raise Unreachable(f"{url}: {exc}") from None
        return Inbound(answer.status, list(answer.headers.items()), answer.data)


__all__ = ["SignedBackends", "Unreachable"]
