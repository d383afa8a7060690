"""URLs of the application's own APIs on AWS, called on this machine instead.

``https://<api-id>.execute-api.<region>.amazonaws.com/<stage>/<path>`` is one of the
template's APIs: canaria's gateway serves it, by path, and by host when the ``Host``
header names the API. Firehose's HTTP endpoints and EventBridge's API destinations that
name such a URL reach the gateway; any other URL is left as it is.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

EXECUTE_API = re.compile(r"^[a-z0-9-]+\.execute-api\.[a-z0-9-]+\.amazonaws\.com$")


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


__all__ = ["EXECUTE_API", "on_this_machine"]
