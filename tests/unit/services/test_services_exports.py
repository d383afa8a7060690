"""Every name the services package and the template's services module export exists."""

from __future__ import annotations

import importlib

import pytest


@pytest.mark.parametrize("name", ["canaria.services", "canaria.template.services"])
def test_all_is_honest(name: str) -> None:
    module = importlib.import_module(name)
    assert module.__all__ and all(hasattr(module, n) for n in module.__all__)
