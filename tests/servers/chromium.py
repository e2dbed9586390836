"""Debian's headless chromium, driven by Playwright for Python.

Playwright's own browser download cannot run here (and a test suite should not fetch a browser build): the
system package is launched through ``executable_path``. The flags keep chromium off the network it would reach
at start (component updates, sync, background requests), which a closed machine refuses many times over.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from playwright.sync_api import BrowserContext, sync_playwright

from tests.servers.debian import ensure_debian_packages

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",  # tests run as root, where chromium's sandbox refuses to start
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@contextmanager
def running_chromium(user_data_dir: Path) -> Iterator[BrowserContext]:
    """A headless chromium with a new, empty profile in ``user_data_dir`` (installed first when missing)."""
    ensure_debian_packages(["chromium"], [CHROMIUM])
    user_data_dir.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(user_data_dir), executable_path=CHROMIUM, headless=True, args=CHROMIUM_FLAGS
        )
        try:
            yield context
        finally:
            context.close()
