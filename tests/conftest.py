"""Shared fixtures: a clean environment for every test, and paths to the real sample data."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from civiclake.demo.mirror.server import MirrorServer
from civiclake.servers.stack import ClusterServers
from tests.servers.cluster import fresh_cluster_lakehouse, running_cluster_servers

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
