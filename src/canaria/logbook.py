"""Function logs: the last lines per function in memory, and files on disk.

Workers hand each captured line to ``LogBook.add``; ``canaria logs FN [--follow]`` reads
``since`` a sequence number, so following is a cheap poll without missing lines.

Everything is bounded, whatever a handler prints:

- a line is cut at ``MAX_LINE_BYTES`` (256 KB, CloudWatch Logs' largest event), saying
  how much was cut;
- memory keeps, per function, the last ``keep`` lines and at most ``MAX_MEMORY_BYTES``
  of text;
- on disk, ``logs/<function>.log`` is rotated at ``MAX_FILE_BYTES`` into ``.log.1`` …
  ``.log.<KEEP_FILES>`` (the oldest is dropped);
- a read returns at most ``limit`` lines and ``MAX_PAGE_BYTES`` of text: a page, with
  the sequence number to ask ``since`` for the next one.

Files are written ``FLUSH_S`` (0.2 s) after the first unwritten line, all lines since
in one go, not line by line: a request adds three platform lines (START, END, REPORT),
and formatting, encoding and writing each as it came was the largest share of the
platform's own work per request (4 µs a line, hot; ``add`` now only keeps the line in
memory and queues it). Called outside an event loop, ``add`` writes at once.

A reader given to ``tap`` is handed lines as they are added, as CloudWatch Logs hands a
log group's events to its metric filters and reads embedded-metric-format objects in
them: every line of the functions it names, and any other line holding its mark.
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import threading
import time
from collections import deque
from collections.abc import Callable, Collection
from pathlib import Path
from typing import BinaryIO, NamedTuple
from urllib.parse import quote

MAX_LINE_BYTES = 256 * 1024
MAX_MEMORY_BYTES = 8 * 1024 * 1024
MAX_FILE_BYTES = 32 * 1024 * 1024
KEEP_FILES = 3
MAX_PAGE_BYTES = 1024 * 1024
FLUSH_S = 0.2


CLIP_FROM = MAX_LINE_BYTES // 4  # a shorter line cannot exceed the limit: not looked at


def clip(text: str, limit: int = MAX_LINE_BYTES) -> str:
    """``text`` cut to about ``limit`` bytes of UTF-8, saying how much was cut."""
    if len(text) <= limit // 4:
        return text  # fast path: cannot exceed the limit even at 4 bytes a character
    raw = text.encode("utf-8", "replace")
    if len(raw) <= limit:
        return text
    kept = raw[:limit].decode("utf-8", "ignore")
    return f"{kept}… [{len(raw) - limit} bytes cut]"


class LogEntry(NamedTuple):
    seq: int
    function: str
    version: int
    request_id: str
    time: float
    stream: str
    text: str


_new_entry = tuple.__new__  # a LogEntry from a tuple without the generated ``__new__`` call


def stream_name(entry: LogEntry) -> str:
    """The CloudWatch Logs stream a line belongs to, as Lambda names an environment's:
    the day, the version in brackets, an id (here, of the line's request)."""
    return _stream_name(int(entry.time // 86400), entry.version, entry.request_id)


@functools.lru_cache(maxsize=4096)  # a request's lines come together: one name for them all
def _stream_name(day: int, version: int, request_id: str) -> str:
    date = time.strftime("%Y/%m/%d", time.gmtime(day * 86400))
    env = hashlib.md5(request_id.encode(), usedforsecurity=False).hexdigest()
    return f"{date}/[{version}]{env}"


class LogBook:
    def __init__(
        self, directory: str | None, keep: int = 5000, max_file_bytes: int = MAX_FILE_BYTES
    ) -> None:
        self._max_file_bytes = max_file_bytes
        self._dir = Path(directory) if directory else None
        if self._dir is not None:
            self._dir.mkdir(parents=True, exist_ok=True)
        self._keep = keep
        self._lines: dict[str, deque[LogEntry]] = {}
        self._bytes: dict[str, int] = {}
        self._files: dict[str, BinaryIO] = {}
        self._file_bytes: dict[str, int] = {}
        self._unwritten: list[LogEntry] = []  # lines for the files, written by ``flush``
        self._seq = 0
        self._lock = threading.Lock()
        self._flush_pending = False
        self._reader: Callable[[LogEntry], None] | None = None
        self._read_all: frozenset[str] = frozenset()
        self._mark = ""

    def tap(
        self, reader: Callable[[LogEntry], None], functions: Collection[str], mark: str
    ) -> None:
        """Hand ``reader`` each line added from now on that is a line of one of
        ``functions`` or holds ``mark`` (once per line, after it is kept)."""
        self._read_all = frozenset(functions)
        self._mark = mark
        self._reader = reader

    def add(
        self, function: str, version: int, request_id: str, time: float, stream: str, text: str
    ) -> None:
        self.add_line((function, version, request_id, time, stream, text))

    def add_line(self, line: tuple[str, int, str, float, str, str]) -> None:
        """``add`` for a line as one tuple, (function, version, request id, time, stream,
        text): a runtime's ``LogLine`` is one, so ``add_line`` can be its ``on_log`` and a
        line costs one call here (a request logs at least three)."""
        text = line[5]
        if len(text) > CLIP_FROM:
            line = (*line[:5], clip(text))
        with self._lock:
            seq = self._seq = self._seq + 1
            entry = _new_entry(LogEntry, (seq, *line))
            function = line[0]
            lines = self._lines.get(function)
            if lines is None:
                lines = self._lines[function] = deque()
            lines.append(entry)
            size = self._bytes.get(function, 0) + len(entry.text)
            if len(lines) > self._keep:  # one in, one out once full (none kept with keep=0)
                size -= len(lines.popleft().text)
            while size > MAX_MEMORY_BYTES and lines:
                size -= len(lines.popleft().text)
            self._bytes[function] = size
            if self._dir is not None:
                self._unwritten.append(entry)
                if not self._flush_pending:
                    self._flush_soon()
        reader = self._reader
        if reader is not None and (function in self._read_all or self._mark in entry.text):
            reader(entry)

    def _flush_soon(self) -> None:
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # no event loop in this thread: nothing would flush later
            self._flush_files()
            return
        self._flush_pending = True
        loop.call_later(FLUSH_S, self.flush)

    def flush(self) -> None:
        """Write the lines added since the last flush to the files."""
        with self._lock:
            self._flush_pending = False
            self._flush_files()

    def _flush_files(self) -> None:
        unwritten, self._unwritten = self._unwritten, []
        by_function: dict[str, list[bytes]] = {}
        for e in unwritten:
            record = f"{e.time:.3f} {e.version} {e.request_id} {e.stream} {e.text.rstrip()}\n"
            by_function.setdefault(e.function, []).append(record.encode("utf-8", "replace"))
        for function, records in by_function.items():
            self._write(function, records)
        for f in self._files.values():
            f.flush()

    def _write(self, function: str, records: list[bytes]) -> None:
        """Append ``records`` to the function's file, rotating it where the next record
        would take it past ``max_file_bytes``."""
        assert self._dir is not None
        path = self._dir / f"{quote(function, safe='')}.log"  # a group's name has slashes
        f = self._files.get(function)
        if f is None:
            f = self._files[function] = open(path, "ab")  # noqa: SIM115 - kept open while serving
            self._file_bytes[function] = path.stat().st_size
        size = self._file_bytes[function]
        chunk: list[bytes] = []
        for data in records:
            if size + len(data) > self._max_file_bytes and (chunk or size):
                f.write(b"".join(chunk))
                chunk.clear()
                f.close()
                for i in range(KEEP_FILES - 1, 0, -1):
                    older = path.with_name(f"{path.name}.{i}")
                    if older.exists():
                        older.replace(path.with_name(f"{path.name}.{i + 1}"))
                path.replace(path.with_name(f"{path.name}.1"))
                f = self._files[function] = open(path, "ab")  # noqa: SIM115 - as above
                size = 0
            chunk.append(data)
            size += len(data)
        f.write(b"".join(chunk))
        self._file_bytes[function] = size

    def since(self, function: str, seq: int = 0, limit: int = 1000) -> list[LogEntry]:
        """A page: with ``seq`` 0, the last lines; else the first lines after ``seq``
        (ask again with the last one's ``seq`` for the next page). At most ``limit``
        lines and ``MAX_PAGE_BYTES`` of text."""
        with self._lock:
            lines = [e for e in self._lines.get(function, ()) if e.seq > seq]
        lines = lines[-limit:] if seq == 0 else lines[:limit]
        page: list[LogEntry] = []
        size = 0
        for e in lines if seq else reversed(lines):
            size += len(e.text)
            if page and size > MAX_PAGE_BYTES:
                break
            page.append(e)
        return page if seq else page[::-1]

    def close(self) -> None:
        with self._lock:
            if self._unwritten:
                self._flush_files()
            for f in self._files.values():
                f.close()
            self._files.clear()
            self._flush_pending = False
