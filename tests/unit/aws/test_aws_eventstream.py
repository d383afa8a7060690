"""canaria's event stream frames, read back by botocore's own decoder."""

from __future__ import annotations

import orjson
from botocore.eventstream import EventStreamBuffer
from hypothesis import given
from hypothesis import strategies as st

from canaria.aws import eventstream


def decoded(data: bytes) -> list[tuple[dict[str, object], bytes]]:
    buffer = EventStreamBuffer()
    buffer.add_data(data)
    return [(message.headers, message.payload) for message in buffer]


@given(st.binary(max_size=4096))
def test_a_payload_chunk_decodes_to_its_bytes(data: bytes) -> None:
    assert decoded(eventstream.payload_chunk(data)) == [
        (
            {
                ":event-type": "PayloadChunk",
                ":content-type": "application/octet-stream",
                ":message-type": "event",
            },
            data,
        )
    ]


def test_invoke_complete_carries_only_what_it_has() -> None:
    frames = eventstream.invoke_complete(None, None, None) + eventstream.invoke_complete(
        "TypeError", "stream broke", "bG9n"
    )
    (headers, first), (_, second) = decoded(frames)
    assert headers[":event-type"] == "InvokeComplete"
    assert orjson.loads(first) == {}
    assert orjson.loads(second) == {
        "ErrorCode": "TypeError",
        "ErrorDetails": "stream broke",
        "LogResult": "bG9n",
    }


def test_non_ascii_header_values_keep_their_byte_length() -> None:
    ((headers, payload),) = decoded(eventstream.message({"x-name": "é✓"}, b"p"))
    assert headers == {"x-name": "é✓"}
    assert payload == b"p"
