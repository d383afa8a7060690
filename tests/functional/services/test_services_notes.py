"""examples/notes through a real `canaria up`: a Python function with plain boto3 uses the
template's bucket, queues, topic, event bus, parameter and secret in the services engine."""

from __future__ import annotations

import json
import os
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.functional.harness import Canaria, copy_example, eventually


@pytest.fixture
def notes(tmp_path: Path) -> Iterator[Canaria]:
    app = copy_example("notes", tmp_path)
    c = Canaria(app / "template.yaml", tmp_path / "state").start()
    yield c
    c.stop()


def get_json(c: Canaria, path: str) -> tuple[int, Any]:
    status, _, body = c.http("GET", path)
    return status, json.loads(body) if body else None


def test_a_function_uses_every_resource_of_the_template(notes: Canaria) -> None:
    status, _, body = notes.http("PUT", "/notes/n1", b"first note")
    assert status == 201, body
    status, note = get_json(notes, "/notes/n1")
    assert (status, note["text"]) == (200, "first note")
    assert get_json(notes, "/notes/nope")[0] == 404
    # SQS: the job the function queued reaches the worker through its SQS event source
    eventually(lambda: get_json(notes, "/notes/n1")[1]["processed"], "the job processed")
    # SNS: the topic's function subscriber (an SNS event source) heard the announcement
    eventually(lambda: get_json(notes, "/notes/n1")[1]["announced"], "the note announced")
    # EventBridge: the bus's rule for the function (an EventBridgeRule event source)
    eventually(lambda: get_json(notes, "/notes/n1")[1]["seen"], "the note seen on the bus")
    # SNS → SQS (raw delivery) and EventBridge rule → SQS, both into the audit queue
    seen: list[Any] = []

    def audited() -> bool:
        status, got = get_json(notes, "/audit")
        assert status == 200, got
        seen.extend(got)
        return len(seen) >= 2

    eventually(audited, "audit messages")
    by_source = {m.get("via") or m.get("source"): m for m in seen}
    assert by_source["sns"] == {"via": "sns", "note": "n1", "size": 10}
    assert by_source["notes"]["detail-type"] == "NoteSaved"
    assert by_source["notes"]["detail"] == {"note": "n1", "size": 10}
    # SSM parameter and a generated secret
    status, config = get_json(notes, "/config")
    assert status == 200, config
    assert config == {"greeting": "hello", "db_user": "notes", "db_password_length": 24}


def test_jobs_the_worker_fails_go_to_the_dead_letter_queue(notes: Canaria) -> None:
    assert notes.http("PUT", "/notes/bad", b"please fail")[0] == 201
    assert notes.http("PUT", "/notes/good", b"fine")[0] == 201
    eventually(lambda: get_json(notes, "/notes/good")[1]["processed"], "the good job")
    dead: list[Any] = []

    def dead_lettered() -> bool:
        dead.extend(get_json(notes, "/dead-jobs")[1])
        return bool(dead)

    # three receives (visibility timeout 5 s), then the engine's redrive
    eventually(dead_lettered, "the failed job in the dead-letter queue", deadline_s=120)
    assert dead == [{"note": "bad", "size": 11}]
    assert get_json(notes, "/notes/bad")[1]["processed"] is False
    logs = notes.cli("logs", "JobsWorker")
    assert "cannot process note bad (receive #3)" in logs.stdout, logs.stdout[-2000:]


def test_a_deploy_updates_a_changed_parameter(notes: Canaria) -> None:
    r = notes.cli("deploy", "-t", str(notes.template), "--parameter-overrides", "Greeting=bonjour")
    assert r.returncode == 0, r.stderr
    status, config = get_json(notes, "/config")
    assert (status, config["greeting"]) == (200, "bonjour")


def _engine_pid(c: Canaria) -> int:
    assert c.proc is not None
    children = subprocess.run(
        ["pgrep", "-P", str(c.proc.pid)], capture_output=True, text=True
    ).stdout.split()
    for pid in children:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ")
        if b"moto.server" in cmdline:
            return int(pid)
    raise AssertionError(f"no services engine among {children}")


def test_a_killed_engine_restarts_with_the_resources_and_without_their_contents(
    notes: Canaria,
) -> None:
    assert notes.http("PUT", "/notes/n1", b"kept only in memory")[0] == 201
    pid = _engine_pid(notes)
    os.kill(pid, signal.SIGKILL)
    # the same endpoint answers again, the parameter and the bucket exist again
    eventually(lambda: get_json(notes, "/config")[0] == 200, "config after the restart")
    assert _engine_pid(notes) != pid
    status, body = get_json(notes, "/notes/n1")
    assert status == 404, body  # moto keeps objects in memory: they are gone
    assert notes.http("PUT", "/notes/n2", b"again")[0] == 201
    assert get_json(notes, "/notes/n2")[1]["text"] == "again"
