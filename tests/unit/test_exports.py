"""Every module of canaria that declares ``__all__`` keeps it honest: each exported name
exists, and every public class or function the module defines is exported."""

from __future__ import annotations

import importlib
import inspect
import pkgutil

import pytest

import canaria

WALKED = sorted(
    info.name
    for info in pkgutil.walk_packages(canaria.__path__, "canaria.")
    if ".migrations" not in info.name and ".examples" not in info.name
)
MODULES = [name for name in WALKED if hasattr(importlib.import_module(name), "__all__")]


def test_every_package_is_walked() -> None:
    assert {"canaria.analysis.judge", "canaria.guard", "canaria.services"} <= set(MODULES)


@pytest.mark.parametrize("name", MODULES)
def test_all_is_honest(name: str) -> None:
    module = importlib.import_module(name)
    exported = set(module.__all__)
    assert {n for n in exported if not hasattr(module, n)} == set()
    defined_here = {
        n
        for n, obj in vars(module).items()
        if not n.startswith("_")
        and (inspect.isclass(obj) or inspect.isfunction(obj))
        and obj.__module__ == name
    }
    assert defined_here <= exported, defined_here - exported
