"""One invocation beside a request's own (an authorizer's, a WebSocket route's): invoked,
then recorded whatever happened, as the request path does inline."""

from __future__ import annotations

import logging

from canaria.clock import Clock
from canaria.errors import CanariaError, Throttled
from canaria.models import InvokeResult

from .types import Invoker, Recorder

log = logging.getLogger("canaria.gateway")


async def invoke_recorded(
    invoker: Invoker,
    recorder: Recorder,
    clock: Clock,
    function: str,
    version: int,
    alias: str | None,
    event: bytes,
    what: str,
) -> tuple[InvokeResult | None, float]:
    """The invocation's result (``None`` when throttled or refused by the runtime, which
    is logged naming ``what`` invoked it) and the seconds it took."""
    started = clock.now()
    result: InvokeResult | None = None
    throttled = False
    try:
        result = await invoker.invoke(function, version, event, alias=alias, started=started)
    except Throttled:
        throttled = True
    except CanariaError as exc:
        log.error("%s (%s:%s): %s", what, function, version, exc.message)
    except Exception:
        log.exception("%s (%s:%s) failed", what, function, version)
    finished = clock.now()
    try:
        recorder.record(
            function,
            alias,
            version,
            result,
            throttled=throttled,
            started=started,
            finished=finished,
        )
    except Exception:
        log.exception("recording %s:%s failed", function, version)
    return result, finished - started
