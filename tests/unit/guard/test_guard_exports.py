"""Every name a module of canaria.guard exports exists, and nothing public is left out."""

from __future__ import annotations

import importlib
import inspect

import pytest

MODULES = [
    "canaria.guard",
    "canaria.guard.aws",
    "canaria.guard.model",
    "canaria.guard.logsignals",
    "canaria.guard.metricsignals",
    "canaria.guard.plan",
    "canaria.guard.records",
    "canaria.guard.runner",
    "canaria.guard.notify",
    "canaria.guard.background",
    "canaria.guard.views",
]


@pytest.mark.parametrize("name", MODULES)
def test_all_is_honest(name: str) -> None:
    module = importlib.import_module(name)
    exported = set(module.__all__)
    assert all(hasattr(module, n) for n in exported)
    defined_here = {
        n
        for n, obj in vars(module).items()
        if not n.startswith("_")
        and (inspect.isclass(obj) or inspect.isfunction(obj))
        and obj.__module__ == name
    }
    assert defined_here <= exported, defined_here - exported
