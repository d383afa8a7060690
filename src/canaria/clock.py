"""Clocks. Every component takes one; waits are computed wake-up times, never sleeps.

- ``RealClock``: wall time.
- ``ScaledClock``: virtual time running ``scale`` times faster than the wall
  (``--time-scale 60``: a minute passes in a second).
- ``ManualClock``: time moves only when a test calls ``advance``.

``now()`` is virtual seconds since the epoch. ``wall_delay(seconds)`` converts a virtual
delay into the wall-clock delay an event loop should wait, so a loop that must wake at
virtual time ``t`` waits ``clock.wall_delay(t - clock.now())``.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Protocol


class Clock(Protocol):
    def now(self) -> float: ...

    def wall_delay(self, virtual_seconds: float) -> float: ...

    async def sleep_until(self, when: float) -> None: ...


class RealClock:
    # ``time.time`` itself, not a method calling it: read several times per request
    now = staticmethod(time.time)

    def wall_delay(self, virtual_seconds: float) -> float:
        return max(0.0, virtual_seconds)

    async def sleep_until(self, when: float) -> None:
        await asyncio.sleep(self.wall_delay(when - self.now()))


class ScaledClock:
    """Virtual time that starts at the wall time and runs ``scale`` times faster."""

    def __init__(self, scale: float, start: float | None = None) -> None:
        if scale <= 0:
            raise ValueError(f"time scale must be positive, got {scale}")
        self.scale = scale
        self._wall0 = time.monotonic()
        self._virtual0 = time.time() if start is None else start

    def now(self) -> float:
        return self._virtual0 + (time.monotonic() - self._wall0) * self.scale

    def wall_delay(self, virtual_seconds: float) -> float:
        return max(0.0, virtual_seconds / self.scale)

    async def sleep_until(self, when: float) -> None:
        await asyncio.sleep(self.wall_delay(when - self.now()))


class ManualClock:
    """Time moves only through ``advance``/``set``; sleepers wake when it passes them."""

    def __init__(self, start: float = 1_700_000_000.0) -> None:
        self._now = start
        self._changed: asyncio.Event | None = None
        # told the new time after every move (``canaria.clockstate`` keeps it on disk)
        self.on_advance: Callable[[float], None] | None = None

    def now(self) -> float:
        return self._now

    def wall_delay(self, virtual_seconds: float) -> float:
        # A manual clock never passes by itself; loops poll again soon.
        return 0.01 if virtual_seconds > 0 else 0.0

    def advance(self, seconds: float) -> float:
        if not seconds >= 0 or seconds == float("inf"):  # also refuses NaN
            raise ValueError(f"a clock moves forwards by a finite amount, not {seconds}")
        self._now += seconds
        if self.on_advance is not None:
            self.on_advance(self._now)
        if self._changed is not None:
            self._changed.set()
        return self._now

    def set(self, when: float) -> None:
        self.advance(max(0.0, when - self._now))

    async def sleep_until(self, when: float) -> None:
        while self._now < when:
            if self._changed is None:
                self._changed = asyncio.Event()
            self._changed.clear()
            await self._changed.wait()


def clock_from_scale(scale: float | None) -> Clock:
    """The clock for a ``--time-scale`` option: real when absent or 1."""
    if scale is None or scale == 1:
        return RealClock()
    return ScaledClock(scale)
