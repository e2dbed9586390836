"""Tests of the cluster profile on real servers: the suite's ``cluster`` fixture (tests/conftest.py) runs
PostgreSQL, MinIO and Trino as `civiclake dev up` does, configured from the Helm chart."""

from __future__ import annotations

from pathlib import Path

import pytest

# The warehouse built on Trino and on DuckDB from the same sources, shared by the modules that test it.
from tests.cluster.warehouse import builds_after_changes, engine_sources, first_builds  # noqa: F401


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    # Every test here starts real servers (a conftest's own pytestmark would mark nothing).
    here = Path(__file__).parent
    for item in items:
        if item.path.is_relative_to(here):
            item.add_marker(pytest.mark.integration)
