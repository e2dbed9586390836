"""Fixtures: a lakehouse per test on local disk, the bundled mirror standing in for data.gouv.fr."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from civiclake.config import Settings, load_settings
from civiclake.demo.mirror.server import MirrorServer
from civiclake.servers.stack import ClusterServers
from tests.pipeline.lakehouse import Lakehouse, fast_retries


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
    name = f"lake{uuid.uuid4().hex[:12]}"
    cluster.minio.create_bucket(name)
    cluster.postgres.create_database(name)
    environ = {
        "CIVICLAKE_PROFILE": "cluster",
        "CIVICLAKE_HOME": str(tmp_path / "scratch"),
        "CIVICLAKE__S3__ENDPOINT_URL": cluster.minio.endpoint_url,
        "CIVICLAKE__S3__BUCKET": name,
        "CIVICLAKE__S3__REGION": cluster.minio.region,
        "CIVICLAKE__S3__ACCESS_KEY_ID": cluster.minio.access_key_id,
        "CIVICLAKE__S3__SECRET_ACCESS_KEY": cluster.minio.secret_access_key,
        "CIVICLAKE__CATALOG__URI": cluster.postgres.sqlalchemy_url(name),
    }
    return fast_retries(load_settings(environ=environ), mirror)
