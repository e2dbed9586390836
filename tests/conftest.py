"""Shared fixtures: a clean environment for every test, and the throwaway servers the tests share."""

from __future__ import annotations

import os
import secrets
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg2
import pytest
from psycopg2.extensions import connection as Connection

from civiclake.demo.mirror.server import MirrorServer
from civiclake.servers.chart import chart_versions
from civiclake.servers.minio import MinioServer, install_minio, running_minio
from civiclake.servers.stack import ClusterServers
from tests.servers.cluster import fresh_cluster_lakehouse, running_cluster_servers
from tests.servers.postgres import PostgresServer, running_postgres

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


@pytest.fixture(scope="session")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ClusterServers]:
    """PostgreSQL, MinIO and Trino configured as the Helm chart configures them, once per test run (Trino takes
    about 20 s to start). Tests that only need pyiceberg take a fresh bucket and catalog database of their own;
    tests on Trino use the chart's catalog (database ``iceberg``) with namespaces of their own."""
    with running_cluster_servers(tmp_path_factory.mktemp("cluster")) as servers:
        yield servers


@pytest.fixture(scope="session")
def postgres_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PostgresServer]:
    """One throwaway PostgreSQL for the run; each test takes a database of its own (``database``)."""
    with running_postgres(tmp_path_factory.mktemp("postgres")) as server:
        yield server


@pytest.fixture
def database(postgres_server: PostgresServer) -> str:
    name = f"db_{uuid.uuid4().hex[:10]}"
    postgres_server.create_database(name)
    return name


@pytest.fixture
def connection(postgres_server: PostgresServer, database: str) -> Iterator[Connection]:
    connection = psycopg2.connect(postgres_server.database_dsn(database))
    yield connection
    connection.close()


@pytest.fixture(scope="session")
def minio_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MinioServer]:
    """A MinIO of the chart's version on its own (it starts in under a second), for tests that need only S3; each
    test takes buckets of its own."""
    binary = install_minio(chart_versions().minio)
    data_dir = tmp_path_factory.mktemp("minio") / "data"
    with running_minio(
        binary, data_dir, access_key_id="civiclake-tests", secret_access_key=secrets.token_urlsafe(24)
    ) as server:
        yield server


@pytest.fixture(
    params=[
        pytest.param("sqlite-local", id="sqlite-local"),
        pytest.param("postgresql-minio", id="postgresql-minio", marks=pytest.mark.integration),
    ]
)
def backend_environment(request: pytest.FixtureRequest, tmp_path: Path) -> dict[str, str]:
    """The variables of an empty lakehouse on each pair of backends a profile uses: a SQLite catalog with files on
    local disk (local profile), a PostgreSQL catalog with files in MinIO (cluster profile, on the suite's
    servers). A test taking it runs once per pair, with one body."""
    environment = {"CIVICLAKE_HOME": str(tmp_path / "home")}
    if request.param == "postgresql-minio":
        environment |= fresh_cluster_lakehouse(request.getfixturevalue("cluster"))
    return environment
