"""Debian's headless Chromium driven by Playwright, for the browser tests."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import BrowserContext, sync_playwright

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
WAIT_MS = 30_000


@contextmanager
def chromium(profile: Path, **options: Any) -> Iterator[BrowserContext]:
    """A browser context on an empty profile directory (``--user-data-dir``)."""
    if not CHROMIUM.is_file():
        pytest.fail(
            f"{CHROMIUM} is missing: the browser tests drive Debian's chromium, which "
            "`make setup` installs (`make browser`: apt-get install chromium); "
            "Playwright must not download a browser"
        )
    pw = sync_playwright().start()
    try:
        context = pw.chromium.launch_persistent_context(
            str(profile), executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, **options
        )
        context.set_default_timeout(WAIT_MS)
        try:
            yield context
        finally:
            context.close()
    finally:
        pw.stop()
