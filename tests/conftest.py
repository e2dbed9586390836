"""Shared fixtures: a clean environment for every test, and paths to the real sample data."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from civiclake.demo.mirror.server import MirrorServer

REPO_ROOT = Path(__file__).resolve().parents[1]


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--board-pictures", default=None, help="Folder for the Grafana board pictures (docs/img).")


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    """No CIVICLAKE_* variable of the machine leaks into a test, and no test writes in the checkout."""
    for name in list(os.environ):
        if name.startswith("CIVICLAKE"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("CIVICLAKE_SECRETS_DIR", str(tmp_path / "no-secrets"))
    monkeypatch.chdir(tmp_path)
    yield


@pytest.fixture
def mirror() -> Iterator[MirrorServer]:
    with MirrorServer() as server:
        yield server
