"""Fixtures: a lakehouse per test on local disk, the bundled mirror standing in for data.gouv.fr."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from civiclake.config import Settings, load_settings
from civiclake.demo.mirror.server import MirrorServer
from tests.pipeline.lakehouse import Lakehouse, fast_retries
from tests.servers.postgres import PostgresServer, running_postgres
from tests.servers.radosgw import S3Server, running_radosgw


@pytest.fixture
def settings(tmp_path: Path, mirror: MirrorServer) -> Settings:
    return fast_retries(load_settings(environ={"CIVICLAKE_HOME": str(tmp_path / "home")}), mirror)


@pytest.fixture
def lakehouse(settings: Settings) -> Lakehouse:
    return Lakehouse(settings)


@pytest.fixture(scope="session")
def cluster_servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[PostgresServer, S3Server]]:
    """A real PostgreSQL (the Iceberg JDBC catalog's database) and a real S3 server (Ceph radosgw), once per run."""
    base = tmp_path_factory.mktemp("cluster")
    with running_postgres(base / "pg") as postgres, running_radosgw(base / "rgw") as s3:
        yield postgres, s3


@pytest.fixture
def cluster_settings(
    cluster_servers: tuple[PostgresServer, S3Server], mirror: MirrorServer, tmp_path: Path
) -> Settings:
    """The cluster profile: lake and warehouse in a fresh bucket, catalog in a fresh PostgreSQL database."""
    postgres, s3 = cluster_servers
    name = f"lake{uuid.uuid4().hex[:12]}"
    s3.create_bucket(name)
    postgres.create_database(name)
    environ = {
        "CIVICLAKE_PROFILE": "cluster",
        "CIVICLAKE_HOME": str(tmp_path / "scratch"),
        "CIVICLAKE__S3__ENDPOINT_URL": s3.endpoint_url,
        "CIVICLAKE__S3__BUCKET": name,
        "CIVICLAKE__S3__REGION": s3.region,
        "CIVICLAKE__S3__ACCESS_KEY_ID": s3.access_key_id,
        "CIVICLAKE__S3__SECRET_ACCESS_KEY": s3.secret_access_key,
        "CIVICLAKE__CATALOG__URI": postgres.sqlalchemy_url(name),
    }
    return fast_retries(load_settings(environ=environ), mirror)
