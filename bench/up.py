"""A ``canaria up`` child process for the benchmarks, and ``wrk`` on loopback.

    up = Up(root, {"template.yaml": TEMPLATE, "src/app.py": APP})
    ...  # up.port is the gateway's; up.lines holds what `up` printed (its URLs)
    up.stop()

The child runs in ``root`` on ports the OS picks, with its state in ``root/.canaria``;
``Up`` returns once ``up`` has printed its last address line, and ``stop`` ends it (and
the workers it started) by its PID.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

__all__ = ["Up", "cpu_seconds", "process_tree", "wrk"]


class Up:
    """One ``canaria up`` child on free ports, in ``root`` holding ``files``."""

    def __init__(self, root: Path, files: Mapping[str, str], *args: str) -> None:
        for name, text in files.items():
            (root / name).parent.mkdir(parents=True, exist_ok=True)
            (root / name).write_text(text)
        env = dict(os.environ, CANARIA_STATE=str(root / ".canaria"), PYTHONUNBUFFERED="1")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "canaria.cli.main", "up", "--port", "0",
             "--control-port", "0", *args],
            cwd=root, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        )  # fmt: skip
        self.port = 0
        self.lines: list[str] = []
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.append(line)
            if line.startswith("gateway "):
                self.port = int(line.rsplit(":", 1)[1])
            elif line.startswith("dynamodb "):  # the last address `up` prints
                break
        if not self.port:
            self.stop()
            raise RuntimeError("canaria up did not start:\n" + "".join(self.lines))

    def starting(self, prefix: str) -> list[str]:
        """The lines ``up`` printed that start with ``prefix``."""
        return [line for line in self.lines if line.startswith(prefix)]

    def cpu_seconds(self) -> float:
        """CPU time the child and its workers have used so far."""
        return cpu_seconds(self.proc.pid)

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=30)


def wrk(port: int, path: str, seconds: int, connections: int = 16) -> float:
    """Requests per second ``wrk`` sees on loopback (2 threads); an error answer fails."""
    done = subprocess.run(
        ["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", f"http://127.0.0.1:{port}{path}"],
        capture_output=True, text=True, check=True, timeout=seconds + 30,
    )  # fmt: skip
    if "Non-2xx" in done.stdout:
        raise RuntimeError(f"wrk saw errors:\n{done.stdout}")
    found = re.search(r"Requests/sec:\s+([\d.]+)", done.stdout)
    if found is None:
        raise RuntimeError(f"wrk printed no rate:\n{done.stdout}")
    return float(found[1])


def process_tree(pid: int) -> list[int]:
    """``pid`` and every process below it, from the parent links in /proc."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    ppid = int(f.read().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(entry))
    tree, todo = [], [pid]
    while todo:
        p = todo.pop()
        tree.append(p)
        todo.extend(children.get(p, ()))
    return tree


def own_cpu_seconds(pid: int) -> float:
    """utime + stime of ``pid`` alone (not its children)."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def serving_process(pid: int) -> int:
    """The process of ``pid``'s tree that started the most others: the gateway, whose
    children are its workers (``pid`` itself when none started any)."""
    tree = process_tree(pid)
    parents: dict[int, int] = {}
    for p in tree:
        try:
            with open(f"/proc/{p}/stat") as f:
                ppid = int(f.read().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        parents[ppid] = parents.get(ppid, 0) + 1
    return max(tree, key=lambda p: (parents.get(p, 0), p == pid))


def cpu_seconds(pid: int) -> float:
    """CPU time (user + system) used so far by ``pid``'s process tree, including the
    processes in it that have exited and were reaped (a worker stopped during a run)."""
    ticks = 0
    for p in process_tree(pid):
        try:
            with open(f"/proc/{p}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        ticks += sum(int(x) for x in fields[11:15])  # utime, stime, cutime, cstime
    return ticks / os.sysconf("SC_CLK_TCK")
