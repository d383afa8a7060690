"""`canaria setup`'s runtime options as a user runs them: a real process, its exit code."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path


def setup(share: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "canaria.cli.main", "setup", *args],
        env=dict(os.environ, CANARIA_NODE_MODULES=str(share / "node_modules")),
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_a_python_version_not_written_as_3_n_is_refused_before_anything_installs(
    tmp_path: Path,
) -> None:
    for bad in ("3", "python3.13", "3.13.1"):
        done = setup(tmp_path / "share", "--python", bad)
        assert done.returncode == 2, done.stderr
        assert f"--python {bad}: give a Python version as 3.N (e.g. 3.13)" in done.stderr
    assert not (tmp_path / "share").exists()


def test_a_node_line_canaria_does_not_install_is_refused_before_anything_installs(
    tmp_path: Path,
) -> None:
    done = setup(tmp_path / "share", "--node", "latest")
    assert done.returncode == 2 and "--node" in done.stderr
    done = setup(tmp_path / "share", "--node", "16")
    assert done.returncode == 2, done.stderr
    assert "--node 16: canaria installs Node.js 18 or newer" in done.stderr
    assert not (tmp_path / "share").exists()
