"""Where canaria finds the npm packages it runs or serves (dynalite, uPlot, the AWS SDKs
that Node.js functions get as Lambda provides them).

One place answers, so that every package asks the same question the same way:
``CANARIA_NODE_MODULES`` when set, else the ``node_modules`` folder that ``make setup``
fills next to ``package.json``.
"""

from __future__ import annotations

import os
from pathlib import Path

_CHECKOUT_NODE_MODULES = Path(__file__).resolve().parents[2] / "node_modules"


def node_modules() -> Path:
    """The ``node_modules`` directory canaria's npm packages are installed in."""
    env = os.environ.get("CANARIA_NODE_MODULES")
    if env:
        return Path(env)
    return _CHECKOUT_NODE_MODULES


def node_package(name: str) -> Path:
    """The directory of one installed npm package (it may not exist: callers check)."""
    return node_modules() / name


__all__ = ["node_modules", "node_package"]
