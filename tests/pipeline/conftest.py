"""Fixtures: a lakehouse per test on local disk, the bundled mirror standing in for data.gouv.fr."""

from __future__ import annotations

from pathlib import Path

import pytest

from civiclake.config import Settings, load_settings
from civiclake.demo.mirror.server import MirrorServer
from civiclake.servers.stack import ClusterServers
from tests.pipeline.lakehouse import Lakehouse, fast_retries
from tests.servers.cluster import fresh_cluster_lakehouse


@pytest.fixture
def settings(tmp_path: Path, mirror: MirrorServer) -> Settings:
    return fast_retries(load_settings(environ={"CIVICLAKE_HOME": str(tmp_path / "home")}), mirror)


@pytest.fixture
def lakehouse(settings: Settings) -> Lakehouse:
    return Lakehouse(settings)


@pytest.fixture
def cluster_settings(cluster: ClusterServers, mirror: MirrorServer, tmp_path: Path) -> Settings:
    """The cluster profile on the suite's MinIO and PostgreSQL: lake and warehouse in a fresh bucket, catalog in a
    fresh PostgreSQL database, so each test starts from an empty lakehouse."""
    environ = {**fresh_cluster_lakehouse(cluster), "CIVICLAKE_HOME": str(tmp_path / "scratch")}
    return fast_retries(load_settings(environ=environ), mirror)
