"""Fixtures for the files source: a lakehouse per test with its own landing folder."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.sources.files.lakehouse import FilesLakehouse, olist_samples


@pytest.fixture
def lakehouse(tmp_path: Path) -> FilesLakehouse:
    return FilesLakehouse.at(tmp_path)


@pytest.fixture
def samples() -> Path:
    return olist_samples()
