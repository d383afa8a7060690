"""Virtual time that never runs backwards across restarts.

A scaled clock (``--time-scale 60``) runs ahead of the wall; started afresh after a
restart it would begin again at the wall time, (scale − 1) × uptime in the past: wake-up
times, deployment events and the judge's windows would all lie in the future. So the
state directory keeps the clock's anchor (``clock.json``): the virtual time read at a wall
time, and the scale. The next start continues from it:

- a scaled clock continues as if it had kept running while canaria was down (as the real
  clock does: a deployment's wait passes while the server is stopped);
- a manual clock continues from the last time it was advanced to;
- ``--time-scale 1`` after a scaled run keeps running from the virtual time reached (one
  second per second, so the lead is kept) instead of jumping back to the wall; the plain
  real clock is used when no run got ahead of the wall (delete ``clock.json`` together
  with the store to start over at the wall time).

The file is written when the clock is created and, for the manual clock, on every
advance; it is replaced atomically so a kill leaves the old or the new anchor, never half.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from canaria.clock import Clock, ManualClock, RealClock, ScaledClock

FILE = "clock.json"

ClockKind = Literal["real", "manual"]


@dataclass(frozen=True)
class Anchor:
    """Virtual time ``virtual`` was current at wall time ``wall``; it runs ``scale`` times
    faster than the wall, or not at all (``manual``)."""

    manual: bool
    scale: float
    virtual: float
    wall: float

    def now_at(self, wall: float) -> float:
        if self.manual:
            return self.virtual
        return self.virtual + max(0.0, wall - self.wall) * self.scale


def load_anchor(state_dir: str) -> Anchor | None:
    """The anchor a previous run left, or ``None`` (none, or unreadable: a fresh start)."""
    try:
        raw = json.loads((Path(state_dir) / FILE).read_text())
        anchor = Anchor(
            manual=bool(raw["manual"]),
            scale=float(raw["scale"]),
            virtual=float(raw["virtual"]),
            wall=float(raw["wall"]),
        )
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if not all(math.isfinite(x) for x in (anchor.scale, anchor.virtual, anchor.wall)):
        return None
    return anchor


def save_anchor(state_dir: str, anchor: Anchor) -> None:
    path = Path(state_dir) / FILE
    tmp = path.with_suffix(".tmp")
    tmp.write_text(
        json.dumps(
            {
                "manual": anchor.manual,
                "scale": anchor.scale,
                "virtual": anchor.virtual,
                "wall": anchor.wall,
            }
        )
    )
    os.replace(tmp, path)


def persistent_clock(
    state_dir: str, kind: ClockKind, scale: float, *, wall: float | None = None
) -> Clock:
    """The clock for ``canaria up``: ``kind`` and ``scale`` as asked, starting no earlier
    than the virtual time a previous run of this state directory reached."""
    Path(state_dir).mkdir(parents=True, exist_ok=True)
    wall = time.time() if wall is None else wall
    previous = load_anchor(state_dir)
    start = max(wall, previous.now_at(wall)) if previous is not None else wall
    if kind == "manual":
        manual = ManualClock(start)
        save_anchor(state_dir, Anchor(True, 0.0, start, wall))

        def keep(now: float) -> None:
            save_anchor(state_dir, Anchor(True, 0.0, now, time.time()))

        manual.on_advance = keep
        return manual
    if scale == 1 and start <= wall:
        with contextlib.suppress(FileNotFoundError):
            (Path(state_dir) / FILE).unlink()
        return RealClock()
    save_anchor(state_dir, Anchor(False, scale, start, wall))
    return ScaledClock(scale, start=start)


__all__ = ["Anchor", "ClockKind", "load_anchor", "persistent_clock", "save_anchor"]
