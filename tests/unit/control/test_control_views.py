"""What ``status`` says feeds a function besides its routes."""

from __future__ import annotations

from canaria.cli.render import source_text
from canaria.control.views import function_sources
from canaria.models import EventSourceKind, QueueEventSource, StartingPosition, StreamEventSource

QUEUE = "arn:aws:sqs:us-east-1:123456789012"
SOURCES = (
    QueueEventSource("Fn", "Jobs", "jobs", f"{QUEUE}:jobs"),
    QueueEventSource("Fn", "Notify", "canaria-Fn-Notify", f"{QUEUE}:x", kind=EventSourceKind.SNS),
    StreamEventSource("Fn", "Read", "clicks", "arn", StartingPosition.LATEST, enabled=False),
    QueueEventSource("Other", "Jobs", "jobs", f"{QUEUE}:jobs"),
    QueueEventSource("Machine", "Placed", "q", f"{QUEUE}:q", state_machine="orders"),
)


def test_a_functions_sources_as_status_shows_them() -> None:
    views = function_sources(SOURCES, "Fn")
    assert views == [
        {"kind": "SQS", "event": "Jobs", "source": "jobs", "enabled": True},
        {"kind": "SNS", "event": "Notify", "source": None, "enabled": True},
        {"kind": "Kinesis", "event": "Read", "source": "clicks", "enabled": False},
    ]
    assert [source_text(v) for v in views] == [
        "SQS jobs",
        "SNS event Notify",
        "Kinesis clicks (disabled)",
    ]
    assert function_sources(SOURCES, "Machine") == []  # a state machine's, not a function's
