"""kill -9 while a PreTraffic hook runs: on restart the hook is invoked again and the
deployment goes on. Before, it waited out the hook's one-hour limit."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.functional.harness import Canaria, copy_example
from tests.functional.platform.test_platform_resilience import deploy

BLOCKING_HOOK = """
import os
import time

MARK = {mark!r}

_real = handler  # the example's hook, defined above


def handler(event, context):
    if not os.path.exists(MARK):
        with open(MARK, "w") as f:
            f.write(event["LifecycleEventHookExecutionId"])
        time.sleep(600)  # the server is killed while this runs
    return _real(event, context)
"""


@pytest.fixture
def hello(tmp_path: Path) -> Iterator[Canaria]:
    app = copy_example("hello", tmp_path)
    hook = app / "hooks" / "pre_traffic.py"
    hook.write_text(hook.read_text() + BLOCKING_HOOK.format(mark=str(tmp_path / "hook-ran")))
    c = Canaria(app / "template.yaml", tmp_path / "state").start()
    yield c
    if c.proc is not None and c.proc.poll() is None:
        c.stop()


def test_a_hook_cut_short_by_a_kill_is_invoked_again(hello: Canaria, tmp_path: Path) -> None:
    dep = deploy(hello, "v2")
    mark = tmp_path / "hook-ran"
    deadline = time.monotonic() + 60
    while not mark.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert mark.exists(), "the hook never ran"
    hello.kill()
    hello.start()
    # well within the hook's one-hour limit: the hook runs again and reports
    d = hello.wait_deployment(dep, step=5.0, limit=900.0)
    assert d["state"] == "Succeeded", d
    assert hello.alias("HelloFunction")["split"] == {"2": 1.0}


RECORDING_HOOK = """
import os
import time

MARK = {mark!r}
SEEN = {seen!r}

_real = handler  # the example's hook, defined above


def handler(event, context):
    with open(SEEN, "a") as f:
        f.write(os.environ["NewVersion"] + "\\n")
    if not os.path.exists(MARK):
        open(MARK, "w").close()
        time.sleep(600)  # the server is killed while this runs
    return _real(event, context)
"""


def test_the_hook_invoked_again_is_the_release_s_own(tmp_path: Path) -> None:
    """After a restart canaria runs the template it was started with (here v1), whose
    hook checks another version. The hook invoked again must be the one of the release
    being deployed: before, a company v5 (which its PreTraffic hook refuses) reached
    traffic after a kill, its hook re-run against a fresh v1 version."""
    app = copy_example("hello", tmp_path)
    hook = app / "hooks" / "pre_traffic.py"
    mark, seen = tmp_path / "hook-ran", tmp_path / "seen"
    hook.write_text(hook.read_text() + RECORDING_HOOK.format(mark=str(mark), seen=str(seen)))
    c = Canaria(app / "template.yaml", tmp_path / "state").start()
    try:
        dep = deploy(c, "v2")
        deadline = time.monotonic() + 60
        while not mark.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert mark.exists(), "the hook never ran"
        c.kill()
        c.start()  # the v1 template again: a version with v1's code is published
        versions = c.api().get("/functions/HelloFunction/history")["versions"]
        assert len(versions) == 3, versions
        d = c.wait_deployment(dep, step=5.0, limit=900.0)
        assert d["state"] == "Succeeded", d
        assert d["targets"][0]["to_version"] == 2
        first, again = seen.read_text().split()
        assert first.endswith(":2") and again.endswith(":2"), (first, again)
        assert c.alias("HelloFunction")["split"] == {"2": 1.0}
    finally:
        if c.proc is not None and c.proc.poll() is None:
            c.stop()
