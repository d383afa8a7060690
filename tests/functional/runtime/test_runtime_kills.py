"""An idle worker killed from outside: the next request gets a fresh environment (a cold
start), not ``Runtime.ExitError``. Before, the dead worker was taken from the idle pool
and the request failed, counted against the version by the judge and the alarms."""

from __future__ import annotations

import asyncio
import os
import signal
import time

from tests.functional.harness import alive
from tests.functional.runtime.test_runtime_workers import Env, env, payload

__all__ = ["env"]  # the fixture, imported for pytest


def wait_dead(pid: int) -> None:
    """Until the kernel has ended ``pid`` (a zombie: its socket is closed), without
    letting the event loop run, so it has not seen the EOF yet."""
    deadline = time.monotonic() + 30
    while alive(pid) and time.monotonic() < deadline:
        time.sleep(0.005)
    assert not alive(pid)


async def test_an_idle_worker_killed_before_the_loop_noticed(env: Env) -> None:
    v = env.version("pid")
    first = await env.call(v)
    os.kill(payload(first), signal.SIGKILL)
    wait_dead(payload(first))
    again = await env.call(v)
    assert again.ok, again.payload
    assert again.cold_start and payload(again) != payload(first)


async def test_an_idle_worker_killed_long_before(env: Env) -> None:

    v = env.version("pid")
    first = await env.call(v)
    os.kill(payload(first), signal.SIGKILL)
    wait_dead(payload(first))
    for _ in range(100):  # the loop sees the EOF now
        await asyncio.sleep(0.01)
    again = await env.call(v)
    assert again.ok and again.cold_start
