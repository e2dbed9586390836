"""Fixtures: the incidents service, and a lakehouse on local disk whose ``rest`` source points at it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from civiclake.config import Settings, load_settings
from civiclake.demo.incidents import IncidentsServer
from tests.sources.rest.helpers import fast_retries


@pytest.fixture
def api() -> Iterator[IncidentsServer]:
    """300 incidents: several pages at the tests' page size, still a fraction of a second to load."""
    with IncidentsServer(incidents=300, seed=7) as server:
        yield server


@pytest.fixture
def settings(tmp_path: Path, api: IncidentsServer) -> Settings:
    base = load_settings(environ={"CIVICLAKE_HOME": str(tmp_path / "home")})
    return fast_retries(base.with_overrides(**api.settings_overrides())).with_overrides(
        rest={"endpoints": [{"name": "incidents", "page_size": 50}]}
    )
