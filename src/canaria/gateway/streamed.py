"""A streamed answer: a ``RESPONSE_STREAM`` function URL, or a REST method whose Lambda
proxy has ``responseTransferMode: STREAM``, passes the function's response on as the
function writes it, as Lambda's function URLs and API Gateway do.

``StreamedAnswer`` is the invocation's ``ResponseSink``. A response with HTTP metadata
(``models.streaming.HTTP_INTEGRATION``) is answered with the prelude's status, headers and
cookies once the prelude has arrived; any other with 200 and the content type the runtime
gave (``application/octet-stream`` when it gave none). Every later byte is written to the
client at once; while the client reads slower than the function writes (the connection's
writes pause), the function's are paused too (its ``Flow``). A response that never
started (the function failed before writing, or never streamed) is answered by the
handler as a buffered one.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Protocol

from canaria.models.streaming import HTTP_INTEGRATION, Flow, Prelude, PreludeError

from .responses import HttpResponse, Malformed, streamed_head
from .types import Request

log = logging.getLogger("canaria.gateway")

OCTET_STREAM = "application/octet-stream"  # a streamed response's type when none is set


class StreamResponder(Protocol):
    def stream_head(
        self, req: Request, head: HttpResponse, extra: tuple[str, str], flow: Flow
    ) -> bool: ...
    def stream_chunk(self, req: Request, data: bytes) -> None: ...
    def stream_end(self, req: Request, *, complete: bool) -> None: ...


class StreamedAnswer:
    """Writes one request's streamed answer through its connection."""

    __slots__ = (
        "_as_sent",
        "_flow",
        "_on_start",
        "_out",
        "_prelude",
        "_req",
        "_rid",
        "failed",
        "started",
        "status",
        "where",
    )

    def __init__(
        self,
        out: StreamResponder,
        req: Request,
        rid: tuple[str, str],
        where: str,
        on_start: Callable[[], object],
        as_sent: Callable[[HttpResponse], HttpResponse] | None = None,
    ) -> None:
        """``on_start`` is called once the head has gone: the integration timeout no
        longer applies (it bounds the wait for the first byte, not the stream).
        ``as_sent`` finishes the head as the route sends every answer (its CORS headers)."""
        self._out = out
        self._on_start = on_start
        self._as_sent = as_sent
        self._req = req
        self._rid = rid
        self._prelude: Prelude | None = None
        self._flow: Flow | None = None
        self.where = where  # the function and version, for the log
        self.started = False  # the head went: the handler ends the body
        self.failed = False  # the prelude was not valid: answered 502 by the handler
        self.status = 200

    def begin(self, content_type: str | None, flow: Flow) -> None:
        self._flow = flow
        if content_type == HTTP_INTEGRATION:
            self._prelude = Prelude()
        else:
            self._head(HttpResponse(200, [("Content-Type", content_type or OCTET_STREAM)], b""))

    def write(self, data: bytes) -> None:
        if self.failed:
            return
        prelude = self._prelude
        if prelude is not None and prelude.metadata is None:
            try:
                rest = prelude.feed(data)
                if rest is None:
                    return
                assert prelude.metadata is not None
                head = streamed_head(prelude.metadata, OCTET_STREAM)
            except (PreludeError, Malformed) as exc:
                log.warning("%s: Malformed streamed response: %s", self.where, exc)
                self.failed = True
                return
            self._head(head)
            data = rest
        if self.started:
            self._out.stream_chunk(self._req, data)

    def _head(self, head: HttpResponse) -> None:
        if self._as_sent is not None:
            head = self._as_sent(head)
        self.status = head.status
        assert self._flow is not None
        self.started = self._out.stream_head(self._req, head, self._rid, self._flow)
        if self.started:
            self._on_start()


__all__ = ["OCTET_STREAM", "StreamResponder", "StreamedAnswer"]
