"""The clock's anchor in the state directory: virtual time never runs backwards across
restarts, whatever clock the next run asks for."""

from __future__ import annotations

from pathlib import Path

from canaria.clock import ManualClock, RealClock, ScaledClock
from canaria.clockstate import FILE, load_anchor, persistent_clock

T0 = 1_800_000_000.0


def test_a_scaled_clock_continues_where_the_previous_run_was(tmp_path: Path) -> None:
    state = str(tmp_path)
    first = persistent_clock(state, "real", 60, wall=T0)
    assert isinstance(first, ScaledClock)
    # 100 wall seconds later (the first run ran, was killed, restarted): 6,000 virtual s
    second = persistent_clock(state, "real", 60, wall=T0 + 100)
    assert isinstance(second, ScaledClock)
    assert second.now() >= T0 + 6000


def test_scale_one_after_a_scaled_run_keeps_the_virtual_time(tmp_path: Path) -> None:
    state = str(tmp_path)
    persistent_clock(state, "real", 60, wall=T0)
    later = persistent_clock(state, "real", 1, wall=T0 + 10)
    assert isinstance(later, ScaledClock) and later.now() >= T0 + 600
    # one second per second from there on: the lead it had is kept, not given back
    again = persistent_clock(state, "real", 1, wall=T0 + 10_000)
    assert again.now() >= T0 + 10_590


def test_the_real_clock_when_no_run_got_ahead_of_the_wall(tmp_path: Path) -> None:
    state = str(tmp_path)
    assert isinstance(persistent_clock(state, "real", 1, wall=T0), RealClock)
    manual = persistent_clock(state, "manual", 1, wall=T0 - 1000)  # an old manual run
    assert isinstance(manual, ManualClock)
    assert isinstance(persistent_clock(state, "real", 1, wall=T0), RealClock)
    assert not (tmp_path / FILE).exists()


def test_a_manual_clock_remembers_every_advance(tmp_path: Path) -> None:
    state = str(tmp_path)
    manual = persistent_clock(state, "manual", 1, wall=T0)
    assert isinstance(manual, ManualClock)
    manual.advance(3600)
    anchor = load_anchor(state)
    assert anchor is not None and anchor.virtual == T0 + 3600
    again = persistent_clock(state, "manual", 1, wall=T0 + 1)
    assert again.now() == T0 + 3600


def test_a_damaged_anchor_is_a_fresh_start(tmp_path: Path) -> None:
    (tmp_path / FILE).write_text('{"manual": false, "scale": "x"')
    assert load_anchor(str(tmp_path)) is None
    (tmp_path / FILE).write_text('{"manual": false, "scale": 1, "virtual": NaN, "wall": 0}')
    assert load_anchor(str(tmp_path)) is None
    assert isinstance(persistent_clock(str(tmp_path), "real", 1, wall=T0), RealClock)
