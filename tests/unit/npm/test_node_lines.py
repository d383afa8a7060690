"""Which Node.js runs a ``nodejs<N>.x`` function, and the flags Lambda gives each line."""

from __future__ import annotations

from pathlib import Path

import pytest

from canaria import nodejs, runtimes
from canaria.npm import SetupError


@pytest.mark.parametrize(
    ("runtime", "release", "own", "flags"),
    [
        # Lambda switches require(esm) off on 20 and 22, syntax detection on 22
        ("nodejs20.x", (20, 19), "", ["--no-experimental-require-module"]),
        (
            "nodejs22.x",
            (22, 21),
            "",
            ["--no-experimental-require-module", "--no-experimental-detect-module"],
        ),
        ("nodejs24.x", (24, 11), "", []),
        ("nodejs18.x", (18, 20), "", []),
        # the function's own NODE_OPTIONS switches one back on
        (
            "nodejs22.x",
            (22, 21),
            "--max-old-space-size=100 --experimental-detect-module",
            ["--no-experimental-require-module"],
        ),
        # a node too old to know a flag is not given it (node would refuse to start)
        ("nodejs20.x", (20, 9), "", []),
        ("nodejs22.x", (20, 12), "", ["--no-experimental-detect-module"]),
        # the runtime's line decides, whichever node runs it
        ("nodejs24.x", (20, 19), "", []),
    ],
)
def test_lambda_node_flags(
    runtime: str, release: tuple[int, int], own: str, flags: list[str]
) -> None:
    assert runtimes.lambda_node_flags(runtime, release, own) == flags


def test_release_of_a_version() -> None:
    assert runtimes.NodeInstall("/x/node", "v22.21.1").release == (22, 21)


def test_nothing_installed_falls_back_to_the_node_on_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CANARIA_NODE_MODULES", str(tmp_path / "share" / "node_modules"))
    assert nodejs.home(24) == tmp_path / "share" / "node" / "24"
    assert nodejs.installed(24) is None
    assert nodejs.node_for("nodejs24.x") == runtimes.installed_node()


def test_a_half_written_install_is_not_taken(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CANARIA_NODE_MODULES", str(tmp_path / "share" / "node_modules"))
    name = nodejs.package_name()
    assert name is not None
    package = nodejs.home(24) / "node_modules" / name
    package.mkdir(parents=True)
    (package / "package.json").write_text('{"version": "24.1.0"}')
    assert nodejs.installed(24) is None  # no bin/node
    (package / "bin").mkdir()
    (package / "bin" / "node").write_text("")
    assert nodejs.installed(24) == runtimes.NodeInstall(str(package / "bin" / "node"), "v24.1.0")
    (package / "package.json").write_text('{"version": "22.1.0"}')
    assert nodejs.installed(24) is None  # another line's release


def test_lines_older_than_18_are_not_installed() -> None:
    with pytest.raises(SetupError, match=r"Node\.js 18 or newer"):
        nodejs.install(16)
