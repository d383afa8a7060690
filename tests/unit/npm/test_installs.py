"""install_once: complete or absent, whatever the install does."""

from __future__ import annotations

from pathlib import Path

import pytest

from canaria.installs import install_once
from canaria.npm import SetupError


def ready_at(target: Path) -> str | None:
    done = target / "done"
    return done.read_text() if done.is_file() else None


def test_an_install_fills_once_and_then_finds(tmp_path: Path) -> None:
    target = tmp_path / "share" / "24"
    fills: list[Path] = []

    def fill(work: Path) -> None:
        fills.append(work)
        (work / "done").write_text("v24")

    assert install_once(target, lambda: ready_at(target), fill) == "v24"
    assert install_once(target, lambda: ready_at(target), fill) == "v24"
    assert len(fills) == 1 and not fills[0].exists()


def test_a_failed_install_leaves_nothing_and_a_broken_one_is_replaced(tmp_path: Path) -> None:
    target = tmp_path / "share" / "site"

    def fails(work: Path) -> None:
        (work / "half").write_text("")
        raise SetupError("pip could not install orjson")

    with pytest.raises(SetupError, match="orjson"):
        install_once(target, lambda: ready_at(target), fails)
    assert not target.exists()
    assert [p.name for p in target.parent.iterdir()] == [".site.lock"]

    target.mkdir()  # an earlier install's leftovers, not complete
    (target / "stale").write_text("")
    got = install_once(target, lambda: ready_at(target), lambda w: (w / "done").write_text("ok"))
    assert got == "ok" and not (target / "stale").exists()


def test_a_fill_that_completes_nothing_is_an_error(tmp_path: Path) -> None:
    target = tmp_path / "share" / "22"
    with pytest.raises(SetupError, match="not complete"):
        install_once(target, lambda: ready_at(target), lambda work: None)
