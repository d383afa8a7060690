"""Where the npm packages are, and what `canaria setup` says when it cannot install them."""

from __future__ import annotations

import json
import sysconfig
from pathlib import Path

import pytest

from canaria.npm import SetupError, install, manifest_files, node_modules, node_package


def test_the_default_location_is_in_this_python_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("CANARIA_NODE_MODULES", raising=False)
    expected = Path(sysconfig.get_path("data")) / "share" / "canaria" / "node_modules"
    assert node_modules() == expected
    assert node_package("uplot") == expected / "uplot"


def test_the_environment_variable_wins(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("CANARIA_NODE_MODULES", str(tmp_path / "node_modules"))
    assert node_package("dynalite") == tmp_path / "node_modules" / "dynalite"


def test_the_manifest_ships_with_the_package() -> None:
    files = manifest_files()
    deps = json.loads(files["package.json"])["dependencies"]
    assert {"dynalite", "uplot"} <= set(deps)
    assert json.loads(files["package-lock.json"])["packages"]


def test_setup_refuses_what_it_cannot_do_and_writes_nothing(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("CANARIA_NODE_MODULES", str(tmp_path / "modules"))
    with pytest.raises(SetupError, match="must name a node_modules directory"):
        install()
    monkeypatch.setenv("CANARIA_NODE_MODULES", str(tmp_path / "node_modules"))
    with pytest.raises(SetupError, match=r"no-such-npm is not on PATH: install Node\.js"):
        install("no-such-npm")
    assert list(tmp_path.iterdir()) == []
