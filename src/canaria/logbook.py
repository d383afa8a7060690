"""Function logs: the last lines per function in memory, everything in files.

Workers hand each captured line to ``LogBook.add``; ``canaria logs FN [--follow]`` reads
``since`` a sequence number, so following is a cheap poll without missing lines.
"""

from __future__ import annotations

import threading
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO


@dataclass(frozen=True)
class LogEntry:
    seq: int
    function: str
    version: int
    request_id: str
    time: float
    stream: str
    text: str


class LogBook:
    def __init__(self, directory: str | None, keep: int = 5000) -> None:
        self._dir = Path(directory) if directory else None
        if self._dir is not None:
            self._dir.mkdir(parents=True, exist_ok=True)
        self._keep = keep
        self._lines: dict[str, deque[LogEntry]] = {}
        self._files: dict[str, TextIO] = {}
        self._seq = 0
        self._lock = threading.Lock()

    def add(
        self, function: str, version: int, request_id: str, time: float, stream: str, text: str
    ) -> None:
        with self._lock:
            self._seq += 1
            entry = LogEntry(self._seq, function, version, request_id, time, stream, text)
            self._lines.setdefault(function, deque(maxlen=self._keep)).append(entry)
            if self._dir is not None:
                f = self._files.get(function)
                if f is None:
                    f = self._files[function] = open(  # noqa: SIM115 - kept open while serving
                        self._dir / f"{function}.log", "a", encoding="utf-8"
                    )
                f.write(f"{time:.3f} {version} {request_id} {stream} {text.rstrip()}\n")
                f.flush()

    def since(self, function: str, seq: int = 0, limit: int = 1000) -> list[LogEntry]:
        with self._lock:
            lines = [e for e in self._lines.get(function, ()) if e.seq > seq]
        return lines[-limit:]

    def close(self) -> None:
        with self._lock:
            for f in self._files.values():
                f.close()
            self._files.clear()
