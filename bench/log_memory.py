"""Memory and disk after 1 GB of function logs through ``canaria.logbook.LogBook``.

    .venv/bin/python bench/log_memory.py [--gigabytes 1] [--line-mb 1] [--functions 4]

Writes lines of ``--line-mb`` MB (and as many 100-byte lines in between) for
``--functions`` functions into a LogBook on a temporary directory, as workers hand them
over, and prints the process's RSS before and after (the reference: the same process
before any log), the bytes kept in memory, the files on disk and the size of one
``GET …/logs`` page. Removes its directory at the end.
"""

from __future__ import annotations

import argparse
import gc
import tempfile
from pathlib import Path

from canaria.logbook import LogBook


def rss_mb() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--gigabytes", type=float, default=1.0)
    parser.add_argument("--line-mb", type=float, default=1.0)
    parser.add_argument("--functions", type=int, default=4)
    args = parser.parse_args()
    big = "x" * int(args.line_mb * 1024 * 1024)
    small = "y" * 100
    lines = int(args.gigabytes * 1024 / args.line_mb)
    with tempfile.TemporaryDirectory(prefix="canaria-logs-") as tmp:
        book = LogBook(tmp)
        gc.collect()
        before = rss_mb()
        for i in range(lines):
            fn = f"Fn{i % args.functions}"
            book.add(fn, 1, f"r{i}", float(i), "stdout", big)
            book.add(fn, 1, f"r{i}", float(i), "stdout", small)
        gc.collect()
        after = rss_mb()
        page = book.since("Fn0")
        kept = sum(len(e.text) for fn in range(args.functions) for e in book.since(f"Fn{fn}"))
        disk = sum(p.stat().st_size for p in Path(tmp).iterdir())
        files = len(list(Path(tmp).iterdir()))
        book.close()
    print(
        f"{lines} lines of {args.line_mb:g} MB (+ as many small ones), {args.functions} functions\n"
    )
    print("| RSS before | RSS after | text in one page per function | on disk | files |")
    print("|---|---|---|---|---|")
    print(
        f"| {before:.0f} MB | {after:.0f} MB | {kept / 2**20:.1f} MB "
        f"({len(page)} lines for Fn0) | {disk / 2**20:.0f} MB | {files} |"
    )


if __name__ == "__main__":
    main()
