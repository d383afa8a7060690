"""Where a topic's ``email``, ``email-json`` and ``sms`` subscribers' messages go: a file
of the state directory, one JSON line per message, that ``canaria outbox`` prints.

On AWS such a message leaves for a mailbox or a phone. A rehearsal must not mail anyone,
but what would have been sent is often what the user needs next: a human-approval step
mails a link carrying a task token. Each line holds when it was sent, the protocol, the
address, the subject and the text as SNS would send it (the message itself by email and
SMS, the notification's JSON by ``email-json``).
"""

from __future__ import annotations

import json
import os
import threading
import time
from pathlib import Path
from typing import Any

FILE = "outbox.jsonl"
DEFAULT_SUBJECT = "AWS Notification Message"


class Outbox:
    """Appends messages to ``state_dir/outbox.jsonl`` (from any thread)."""

    def __init__(self, state_dir: str | Path) -> None:
        self.path = Path(state_dir) / FILE
        self._lock = threading.Lock()

    def deliver(self, protocol: str, endpoint: str, envelope: dict[str, Any]) -> dict[str, Any]:
        """One SNS notification (the envelope a topic sends) to ``endpoint``; the line
        written."""
        message = str(envelope.get("Message", ""))
        if protocol == "email-json":
            message = json.dumps(envelope, indent=2)
        entry = {
            "time": time.time(),
            "protocol": protocol,
            "to": endpoint,
            "subject": "" if protocol == "sms" else envelope.get("Subject") or DEFAULT_SUBJECT,
            "message": message,
            "topic": envelope.get("TopicArn", ""),
        }
        line = json.dumps(entry) + "\n"
        with self._lock:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
            try:
                os.write(fd, line.encode())
            finally:
                os.close(fd)
        return entry


def read(state_dir: str | Path, since: int = 0) -> list[dict[str, Any]]:
    """The messages from the ``since``-th on (a line that is not JSON, the tail of a
    write cut short, is skipped)."""
    path = Path(state_dir) / FILE
    if not path.exists():
        return []
    out: list[dict[str, Any]] = []
    for line in path.read_text(errors="replace").splitlines()[since:]:
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        if isinstance(entry, dict):
            out.append(entry)
    return out


__all__ = ["FILE", "Outbox", "read"]
