"""URLs of the application's own APIs on AWS, called on this machine instead.

``https://<api-id>.execute-api.<region>.amazonaws.com/<stage>/<path>`` is one of the
template's APIs: canaria's gateway serves it, by path, and by host when the ``Host``
header names the API. Firehose's HTTP endpoints and EventBridge's API destinations that
name such a URL reach the gateway; any other URL is left as it is. The stack's outputs
(``DescribeStacks``) give such URLs as the gateway's own (``localized``), so a test that
reads its API's URL from the stack calls canaria.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Mapping
from urllib.parse import urlsplit

from canaria.models.arns import function_url_id

EXECUTE_API = re.compile(r"^[a-z0-9-]+\.execute-api\.[a-z0-9-]+\.amazonaws\.com$")
# an API's URL as a template writes it: https://<id>.execute-api.<region>.amazonaws.com,
# wss:// for a WebSocket API, an explicit :443 allowed; a function URL's
_END = r"(?::443)?(?=[/?#\s\"',]|$)"
_API_URL = re.compile(
    rf"\b(https|wss)://([A-Za-z0-9-]+)\.execute-api\.[a-z0-9-]+\.amazonaws\.com{_END}"
)
_FUNCTION_URL = re.compile(rf"\bhttps://([a-z0-9]+)\.lambda-url\.[a-z0-9-]+\.on\.aws{_END}")


def on_this_machine(url: str, gateway: tuple[str, int] | None) -> tuple[str, str | None]:
    """(the URL to call, the ``Host`` header it needs, or None): an execute-api URL goes
    to ``gateway`` (host, port), its host kept as the ``Host`` header."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if gateway is None or not EXECUTE_API.match(host):
        return url, None
    address, port = gateway
    local = f"http://{address}:{port}{parts.path or '/'}"
    return (f"{local}?{parts.query}" if parts.query else local), host


def localized(
    text: str,
    gateway: tuple[str, int],
    api_ids: Collection[str],
    function_urls: Mapping[str, str],
    load_balancers: Mapping[str, Mapping[int, int]] | None = None,
) -> str:
    """``text`` with the URL of each of the template's APIs (its id in ``api_ids``)
    replaced by the gateway's (``http://`` for ``https://``, ``ws://`` for a WebSocket
    API's ``wss://``), each function URL by where canaria serves it (``function_urls``:
    function → its local URL), and each load balancer's DNS name by its listener's address
    here (``load_balancers``: DNS name → the port a listener declares → its port here; the
    port the URL names, else 80 or 443 by its scheme, else the balancer's only listener);
    the path after it is kept, so ``https://<id>.execute-api.<region>.amazonaws.com/Prod/x``
    becomes ``http://127.0.0.1:3000/Prod/x``. A wildcard address is given as 127.0.0.1."""
    address, port = gateway
    if address in ("0.0.0.0", "", "::"):
        address = "127.0.0.1"
    elif ":" in address:
        address = f"[{address}]"

    def api(m: re.Match[str]) -> str:
        if m.group(2).lower() not in api_ids:
            return m.group(0)
        scheme = "ws" if m.group(1) == "wss" else "http"
        return f"{scheme}://{address}:{port}"

    served = {function_url_id(f): url.rstrip("/") for f, url in function_urls.items()}

    def function(m: re.Match[str]) -> str:
        return served.get(m.group(1), m.group(0))

    text = _FUNCTION_URL.sub(function, _API_URL.sub(api, text))
    for dns, ports in (load_balancers or {}).items():
        text = _balancer(dns).sub(_listener(ports, address), text)
    return text


def _balancer(dns: str) -> re.Pattern[str]:
    return re.compile(rf"\b(?:(https?)://)?{re.escape(dns)}(?::(\d+))?(?![\w.-])", re.IGNORECASE)


def _listener(ports: Mapping[int, int], address: str) -> Callable[[re.Match[str]], str]:
    def local(m: re.Match[str]) -> str:
        scheme, named = m.group(1), m.group(2)
        declared = int(named) if named else 443 if scheme == "https" else 80
        port = ports.get(declared)
        if port is None and len(ports) == 1:
            port = next(iter(ports.values()))
        if port is None:
            return m.group(0)
        return f"http://{address}:{port}" if scheme else f"{address}:{port}"

    return local


__all__ = ["EXECUTE_API", "localized", "on_this_machine"]
