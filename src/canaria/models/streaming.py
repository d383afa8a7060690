"""Lambda's response streaming, as bytes: where a streamed response goes, its HTTP
metadata prelude, and what a caller that does not stream gets instead.

A function streams its response when its runtime posts it to the Runtime API with
``Lambda-Runtime-Function-Response-Mode: streaming`` (chunked): Node.js handlers wrapped in
``awslambda.streamifyResponse``, custom runtimes such as the Lambda Web Adapter. Lambda
passes those bytes on as they arrive to the callers that stream (a ``RESPONSE_STREAM``
function URL, ``InvokeWithResponseStream``) and buffers them for every other caller.

A streamed response with the content type ``application/vnd.awslambda.http-integration-
response`` (what ``awslambda.HttpResponseStream.from`` sets) starts with its HTTP
metadata: a JSON object (``statusCode``, ``headers``, ``cookies``), eight NUL bytes, then
the body. A function URL answers with that status and those headers; a caller that does
not stream gets the proxy response an API route maps (``buffered_payload``).
"""

from __future__ import annotations

import base64
from typing import Any, Protocol

import orjson

HTTP_INTEGRATION = "application/vnd.awslambda.http-integration-response"
DELIMITER = b"\0" * 8  # ends the prelude; JSON text never holds a NUL byte
MAX_PRELUDE_BYTES = 64 * 1024  # more than a status and the headers a response can carry
# what Lambda passes on of one streamed response (a soft limit on AWS); a caller that
# buffers is held to the 6 MB of a synchronous response instead
MAX_STREAMED_BYTES = 200 * 1024 * 1024


class Flow(Protocol):
    """The producing side of a streamed response. A sink whose reader falls behind calls
    ``pause``, and ``resume`` once it has caught up (or is gone): the runtime's writes then
    wait, as a handler's do on Lambda, instead of piling up in canaria's memory."""

    def pause(self) -> None: ...
    def resume(self) -> None: ...


class ResponseSink(Protocol):
    """Where a streamed response goes while the function writes it. ``begin`` comes once,
    before the first ``write``, with the content type the runtime gave (None when it gave
    none) and the stream's ``Flow``; the invocation's result says how it ended. A sink
    that paused the flow resumes it before it lets go of the stream."""

    def begin(self, content_type: str | None, flow: Flow) -> None: ...
    def write(self, data: bytes) -> None: ...


class PreludeError(ValueError):
    """The HTTP metadata prelude is not a JSON object, or never ends."""


class Prelude:
    """Reads the HTTP metadata prelude off the front of a streamed response: ``feed``
    returns None while the prelude is still arriving, then the body bytes that followed it
    (every later byte is body). ``metadata`` is the JSON object once it is read."""

    __slots__ = ("_head", "metadata")

    def __init__(self) -> None:
        self._head = bytearray()
        self.metadata: dict[str, Any] | None = None

    def feed(self, data: bytes) -> bytes | None:
        if self.metadata is not None:
            return data
        start = max(0, len(self._head) - len(DELIMITER) + 1)
        self._head += data
        end = self._head.find(DELIMITER, start)
        if end < 0:
            if len(self._head) > MAX_PRELUDE_BYTES:
                raise PreludeError(
                    f"no end of the HTTP metadata prelude (eight NUL bytes) within its "
                    f"first {MAX_PRELUDE_BYTES} bytes"
                )
            return None
        self.metadata = parse_prelude(bytes(self._head[:end]))
        rest = bytes(self._head[end + len(DELIMITER) :])
        self._head = bytearray()
        return rest


def parse_prelude(text: bytes) -> dict[str, Any]:
    try:
        metadata = orjson.loads(text) if text.strip() else {}
    except orjson.JSONDecodeError as exc:
        raise PreludeError(f"the HTTP metadata prelude is not JSON: {exc}") from None
    if not isinstance(metadata, dict):
        raise PreludeError("the HTTP metadata prelude is not a JSON object")
    return metadata


def buffered_payload(content_type: str | None, body: bytes) -> bytes:
    """What a caller that does not stream gets of a streamed response: the proxy response
    (``statusCode``, ``headers``, ``cookies``, the body, base64 when it is not UTF-8)
    when it carries HTTP metadata, else its bytes as written."""
    if content_type != HTTP_INTEGRATION:
        return body
    prelude = Prelude()
    rest = prelude.feed(body)
    if rest is None:  # no delimiter: all of it is metadata, with no body
        metadata, rest = parse_prelude(body), b""
    else:
        assert prelude.metadata is not None
        metadata = prelude.metadata
    response: dict[str, Any] = {"statusCode": metadata.get("statusCode") or 200}
    for key in ("headers", "cookies"):
        if metadata.get(key):
            response[key] = metadata[key]
    try:
        response["body"] = rest.decode("utf-8")
    except UnicodeDecodeError:
        response["body"] = base64.b64encode(rest).decode("ascii")
        response["isBase64Encoded"] = True
    return orjson.dumps(response)


__all__ = [
    "DELIMITER",
    "HTTP_INTEGRATION",
    "MAX_STREAMED_BYTES",
    "Flow",
    "Prelude",
    "PreludeError",
    "ResponseSink",
    "buffered_payload",
    "parse_prelude",
]
