"""Fixtures: a lakehouse per test on local disk, the bundled mirror standing in for data.gouv.fr."""

from __future__ import annotations

from pathlib import Path

import pytest

from civiclake.config import Settings, load_settings
from civiclake.demo.mirror.server import MirrorServer
from tests.pipeline.lakehouse import Lakehouse, fast_retries


@pytest.fixture
def settings(tmp_path: Path, mirror: MirrorServer) -> Settings:
    return fast_retries(load_settings(environ={"CIVICLAKE_HOME": str(tmp_path / "home")}), mirror)


@pytest.fixture
def lakehouse(settings: Settings) -> Lakehouse:
    return Lakehouse(settings)
