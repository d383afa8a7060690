"""The outbox: what each kind of subscriber would have been sent, kept as JSON lines."""

from __future__ import annotations

import json
from pathlib import Path

from canaria.services.outbox import FILE, Outbox, read

ENVELOPE = {
    "Type": "Notification",
    "TopicArn": "arn:aws:sns:us-east-1:123456789012:t",
    "Message": "hello",
}


def test_each_protocol_keeps_what_sns_would_send(tmp_path: Path) -> None:
    box = Outbox(tmp_path)
    box.deliver("email", "a@example.com", {**ENVELOPE, "Subject": "Hi"})
    box.deliver("email", "a@example.com", ENVELOPE)
    box.deliver("email-json", "b@example.com", ENVELOPE)
    box.deliver("sms", "+15555550100", {**ENVELOPE, "Subject": "ignored"})
    mail, untitled, machine, sms = read(tmp_path)
    assert (mail["subject"], mail["message"]) == ("Hi", "hello")
    assert untitled["subject"] == "AWS Notification Message"
    assert json.loads(machine["message"]) == ENVELOPE
    assert (sms["subject"], sms["message"], sms["to"]) == ("", "hello", "+15555550100")
    assert [e["message"] for e in read(tmp_path, since=3)] == ["hello"]


def test_a_line_cut_short_is_skipped(tmp_path: Path) -> None:
    Outbox(tmp_path).deliver("email", "a@example.com", ENVELOPE)
    with (tmp_path / FILE).open("a") as f:
        f.write('{"time": 1, "prot')
    assert len(read(tmp_path)) == 1
    assert read(tmp_path / "nowhere") == []
