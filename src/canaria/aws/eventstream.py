"""AWS's event stream encoding (``application/vnd.amazon.eventstream``): the frames
``InvokeWithResponseStream`` answers with.

One message is its total length and its headers' length (big-endian 32-bit), the CRC32
of those eight bytes, the headers, the payload, and the CRC32 of everything before it. A
header is its name's length (one byte), the name, its type (7: a string) and the value's
length (two bytes) and value. botocore and the AWS SDKs decode it; neither ships an
encoder (the C runtime's is an optional dependency), and the format is these few lines.
"""

from __future__ import annotations

import struct
import zlib

import orjson

_STRING = 7
_PRELUDE = struct.Struct(">II")
_CRC = struct.Struct(">I")


def message(headers: dict[str, str], payload: bytes) -> bytes:
    """One event stream message with string ``headers`` and ``payload``."""
    encoded = bytearray()
    for name, value in headers.items():
        raw_name, raw_value = name.encode("utf-8"), value.encode("utf-8")
        encoded += bytes((len(raw_name),)) + raw_name
        encoded += bytes((_STRING,)) + struct.pack(">H", len(raw_value)) + raw_value
    total = _PRELUDE.size + _CRC.size + len(encoded) + len(payload) + _CRC.size
    prelude = _PRELUDE.pack(total, len(encoded))
    body = prelude + _CRC.pack(zlib.crc32(prelude)) + bytes(encoded) + payload
    return body + _CRC.pack(zlib.crc32(body))


def event(event_type: str, payload: bytes, content_type: str) -> bytes:
    return message(
        {
            ":event-type": event_type,
            ":content-type": content_type,
            ":message-type": "event",
        },
        payload,
    )


def payload_chunk(data: bytes) -> bytes:
    """``InvokeWithResponseStream``'s ``PayloadChunk``: bytes of the response."""
    return event("PayloadChunk", data, "application/octet-stream")


def invoke_complete(
    error_code: str | None, error_details: str | None, log_result: str | None
) -> bytes:
    """``InvokeWithResponseStream``'s last event, ``InvokeComplete``."""
    fields = {"ErrorCode": error_code, "ErrorDetails": error_details, "LogResult": log_result}
    body = {key: value for key, value in fields.items() if value is not None}
    return event("InvokeComplete", orjson.dumps(body), "application/json")


__all__ = ["event", "invoke_complete", "message", "payload_chunk"]
