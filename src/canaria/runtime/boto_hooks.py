"""What a Python function's botocore (boto3's core) is given in canaria's worker.

- An API Gateway Management API client (``apigatewaymanagementapi``: PostToConnection,
  GetConnection, DeleteConnection) given an API's AWS endpoint, as functions build it from
  their event (``https://<api id>.execute-api.<region>.amazonaws.com/<stage>``), calls
  ``AWS_ENDPOINT_URL`` (canaria's edge) instead: the endpoint's path kept, signed for the
  host it reaches, with an ``x-canaria-api-id`` header naming the API. Any other endpoint
  is left alone, and nothing changes when ``AWS_ENDPOINT_URL`` is unset.

``worker.py`` imports this module by path, as its own (not as ``canaria.runtime...``,
which would import canaria), and calls ``install``: that puts a finder on
``sys.meta_path`` which waits for ``botocore.handlers`` to be imported, whether the
function imports boto3 at once, later or never, and whichever copy (its own, a layer's,
the environment's), then adds the handler to ``BUILTIN_HANDLERS``, which every botocore
session registers when it is created. Until then the cost is one string comparison per
import.

The handler runs on ``before-sign.apigatewaymanagementapi`` (emitted by
``RequestSigner.sign`` with the ``AWSRequest`` about to be signed): SigV4 signs the host
of ``request.url`` when the request has no Host header, so changing the URL there is
enough for the signature to match what is sent.
"""

from __future__ import annotations

import os
import re
import sys
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Sequence
    from importlib.machinery import ModuleSpec
    from types import ModuleType

HANDLERS_MODULE = "botocore.handlers"
MANAGEMENT_API_EVENT = "before-sign.apigatewaymanagementapi"
API_ID_HEADER = "x-canaria-api-id"
# an API's own host on AWS, whose first label is the API's id (compiled when first used)
EXECUTE_API_HOST = r"^([a-z0-9]+)\.execute-api\.[a-z0-9-]+\.amazonaws\.com(\.cn)?$"


def management_api_to_edge(request: Any, **_: Any) -> None:
    """``before-sign.apigatewaymanagementapi``: an API's AWS endpoint becomes
    ``AWS_ENDPOINT_URL`` (scheme, host and port), the path and query kept."""
    edge = os.environ.get("AWS_ENDPOINT_URL")
    if not edge:
        return
    from urllib.parse import urlsplit, urlunsplit

    url = urlsplit(request.url)
    named = re.match(EXECUTE_API_HOST, (url.hostname or "").lower())
    target = urlsplit(edge)
    if named is None or not target.scheme or not target.hostname:
        return
    netloc = target.netloc.rpartition("@")[2]
    request.url = urlunsplit((target.scheme, netloc, url.path, url.query, ""))
    if "host" in request.headers:  # the AWS host's: signed and sent the URL's instead
        del request.headers["host"]
    request.headers[API_ID_HEADER] = named.group(1)


HANDLERS = [(MANAGEMENT_API_EVENT, management_api_to_edge)]


def register(handlers: ModuleType) -> None:
    """Add canaria's handlers to a loaded ``botocore.handlers`` (once)."""
    builtin = getattr(handlers, "BUILTIN_HANDLERS", None)
    if not isinstance(builtin, list):
        return  # not the botocore this knows: leave it alone
    names = {(event, getattr(fn, "__qualname__", "")) for event, fn, *_ in builtin}
    for event, handler in HANDLERS:
        if (event, handler.__qualname__) not in names:
            builtin.append((event, handler))


def install() -> None:
    """Register canaria's handlers when ``botocore.handlers`` is imported (now, if it is)."""
    loaded = sys.modules.get(HANDLERS_MODULE)
    if loaded is not None:
        register(loaded)
    elif not any(getattr(f, "canaria_boto_hooks", False) for f in sys.meta_path):
        sys.meta_path.insert(0, _Finder())


class _Finder:
    """First on ``sys.meta_path`` until ``botocore.handlers`` is imported: it finds that
    module through the finders after it and wraps its loader."""

    canaria_boto_hooks = True

    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> ModuleSpec | None:
        if fullname != HANDLERS_MODULE:
            return None
        for finder in sys.meta_path:
            find = getattr(finder, "find_spec", None)
            if finder is self or find is None:
                continue
            spec: ModuleSpec | None = find(fullname, path, target)
            if spec is not None:
                if spec.loader is not None and hasattr(spec.loader, "exec_module"):
                    spec.loader = _Loader(spec.loader, self)  # type: ignore[assignment]
                return spec
        return None


class _Loader:
    """A loader that runs ``botocore.handlers`` with the loader found for it, then adds
    canaria's handlers to it; anything else is the found loader's."""

    def __init__(self, loader: Any, finder: _Finder) -> None:
        self._loader = loader
        self._finder = finder

    def create_module(self, spec: ModuleSpec) -> ModuleType | None:
        module: ModuleType | None = self._loader.create_module(spec)
        return module

    def exec_module(self, module: ModuleType) -> None:
        self._loader.exec_module(module)
        register(module)
        if self._finder in sys.meta_path:  # its work is done
            sys.meta_path.remove(self._finder)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._loader, name)


__all__ = ["API_ID_HEADER", "install", "management_api_to_edge", "register"]
