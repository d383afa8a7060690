"""The few things every reader of canaria's queues does with a received message."""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any


def receive_count(message: dict[str, Any]) -> int:
    """How many times the message was received, this time included."""
    try:
        return int(message.get("Attributes", {}).get("ApproximateReceiveCount", "1"))
    except ValueError:
        return 1


def age_s(message: dict[str, Any]) -> float:
    """Seconds since the message was sent (0 when the engine did not say)."""
    try:
        sent = int(message.get("Attributes", {}).get("SentTimestamp", "0")) / 1000
    except ValueError:
        return 0.0
    return time.time() - sent if sent else 0.0


def come_back_in(client: Any, url: str, message: dict[str, Any], delay_s: float) -> None:
    """Make a received message visible again in ``delay_s`` seconds (blocking)."""
    client.change_message_visibility(
        QueueUrl=url, ReceiptHandle=message["ReceiptHandle"], VisibilityTimeout=int(delay_s)
    )


def delete(client: Any, url: str, messages: Sequence[dict[str, Any]]) -> None:
    """Delete received messages, ten at a time (blocking)."""
    for i in range(0, len(messages), 10):
        chunk = messages[i : i + 10]
        client.delete_message_batch(
            QueueUrl=url,
            Entries=[
                {"Id": str(n), "ReceiptHandle": m["ReceiptHandle"]} for n, m in enumerate(chunk)
            ],
        )


__all__ = ["age_s", "come_back_in", "delete", "receive_count"]
