"""Logs stay bounded whatever a handler prints: lines are cut, memory per function is
capped, files rotate, reads come in pages. Before, 20 lines of 10 MB stayed in memory
(210 MB never released) and one read returned all of them."""

from __future__ import annotations

import asyncio
from pathlib import Path

from canaria import logbook
from canaria.logbook import LogBook


def test_a_huge_line_is_cut_and_says_so(tmp_path: Path) -> None:
    book = LogBook(str(tmp_path))
    book.add("Fn", 1, "r", 0.0, "stdout", "x" * (10 * 1024 * 1024))
    (entry,) = book.since("Fn")
    assert len(entry.text.encode()) < logbook.MAX_LINE_BYTES + 100
    assert entry.text.endswith("bytes cut]")
    book.close()


def test_memory_per_function_is_capped(tmp_path: Path) -> None:
    book = LogBook(None)
    for i in range(100):
        book.add("Fn", 1, f"r{i}", 0.0, "stdout", "y" * (200 * 1024))
    kept = book.since("Fn", 0, 1000)
    assert sum(len(e.text) for e in kept) <= logbook.MAX_PAGE_BYTES
    assert kept[-1].request_id == "r99"  # the newest are the ones kept
    everything = []
    seq = kept[0].seq - 1
    while page := book.since("Fn", seq, 1000):  # pages forward from there
        everything.extend(page)
        seq = page[-1].seq
    assert sum(len(e.text) for e in everything) <= logbook.MAX_MEMORY_BYTES
    assert everything[-1].request_id == "r99"


def test_files_rotate(tmp_path: Path) -> None:
    book = LogBook(str(tmp_path), max_file_bytes=10_000)
    for i in range(100):
        book.add("Fn", 1, f"r{i}", 0.0, "stdout", "z" * 500)
    book.close()
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == ["Fn.log", "Fn.log.1", "Fn.log.2", "Fn.log.3"]
    assert all(p.stat().st_size <= 10_000 for p in tmp_path.iterdir())
    assert "r99" in (tmp_path / "Fn.log").read_text()


async def test_files_are_flushed_soon_after_a_line_not_per_line(tmp_path: Path) -> None:
    book = LogBook(str(tmp_path))
    for i in range(3):
        book.add("Fn", 1, f"r{i}", 0.0, "platform", f"line {i}")
    await asyncio.sleep(logbook.FLUSH_S * 2)  # the flush timer was set before this one
    assert (tmp_path / "Fn.log").read_text().count("line ") == 3
    book.add("Fn", 1, "r3", 0.0, "platform", "line 3")
    book.flush()
    assert "line 3" in (tmp_path / "Fn.log").read_text()
    book.close()


def test_outside_an_event_loop_a_line_is_in_the_file_at_once(tmp_path: Path) -> None:
    book = LogBook(str(tmp_path))
    book.add("Fn", 1, "r", 0.0, "stdout", "now")
    assert "now" in (tmp_path / "Fn.log").read_text()
    book.close()
