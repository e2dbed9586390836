"""The ingest image run as the chart's pipeline pods run it: `civiclake sync` against the suite's MinIO and PostgreSQL
catalog (the ``cluster`` fixture, configured from the chart), as the image's non-root user, with a read-only root
file system and emptyDirs for CIVICLAKE_HOME and /tmp, on the host's network (the servers listen on 127.0.0.1).

The source is the bundled data.gouv.fr mirror, which the test serves on 127.0.0.1, and the registry is the one the
image ships. The sync writes to a bucket and a catalog database of this module: the chart's catalog belongs to the
tests that build the warehouse."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest
from pyiceberg.catalog import Catalog

from civiclake.config import load_settings
from civiclake.demo.mirror.server import MirrorServer
from civiclake.servers.images import BuiltImage, ContainerRun, Podman, repository_root, run_container
from civiclake.servers.stack import ClusterServers
from civiclake.warehouse.catalog import open_catalog

pytestmark = pytest.mark.integration

# Fréquentation en gares (SNCF Voyageurs), registered in dags/datasets.yaml: two CSV resources in the mirror.
DATASET = "5ce572bf226c7f3345dfbc63"
CIVICLAKE = Path(sys.executable).with_name("civiclake")  # the checkout's command, for the expected tables


def bronze(catalog: Catalog) -> dict[str, tuple[int, list[str]]]:
    """Each bronze table's row count and column names."""
    found = {}
    for identifier in catalog.list_tables("bronze"):
        table = catalog.load_table(identifier)
        found[identifier[-1]] = (len(table.scan().to_arrow()), [field.name for field in table.schema().fields])
    return found


def synced_by_the_checkout(mirror: MirrorServer, home: Path) -> dict[str, tuple[int, list[str]]]:
    """The same sync by the checkout's civiclake on the local profile: the tables and rows the image must give."""
    environment = {name: value for name, value in os.environ.items() if not name.startswith("CIVICLAKE")}
    environment |= {
        "CIVICLAKE_HOME": str(home),
        "CIVICLAKE__DATAGOUV__API_URL": mirror.api_url,
        "CIVICLAKE__REGISTRY__PATH": str(repository_root() / "dags" / "datasets.yaml"),
    }
    result = subprocess.run(
        [str(CIVICLAKE), "sync", "--source", "datagouv", "--dataset", DATASET],
        env=environment,
        capture_output=True,
        text=True,
        check=False,
        timeout=600,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return bronze(open_catalog(load_settings(environ={"CIVICLAKE_HOME": str(home)})))


def test_the_ingest_image_syncs_a_dataset_into_minio_and_the_postgresql_catalog_as_a_read_only_non_root_pod(
    cluster: ClusterServers, built_image: Callable[[str], BuiltImage], engine: Podman, tmp_path: Path
) -> None:
    image = built_image("ingest")
    lake = f"image{uuid.uuid4().hex[:10]}"
    cluster.minio.create_bucket(lake)
    cluster.postgres.create_database(lake)
    environment = {
        **cluster.environment,
        "CIVICLAKE__S3__BUCKET": lake,
        "CIVICLAKE__CATALOG__URI": cluster.postgres.sqlalchemy_url(lake),
    }
    with MirrorServer() as mirror:
        result = run_container(
            engine,
            ContainerRun(
                image.tag,
                ["sync", "--source", "datagouv", "--dataset", DATASET],
                environment={**environment, "CIVICLAKE__DATAGOUV__API_URL": mirror.api_url},
            ),
            timeout=900,
        )
        expected = synced_by_the_checkout(mirror, tmp_path / "checkout")
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]
    assert "loaded" in result.stdout

    settings = load_settings(environ={**environment, "CIVICLAKE_HOME": str(tmp_path / "reader")})
    catalog = open_catalog(settings)
    assert len(expected) == 2 and all(rows > 1000 for rows, _ in expected.values())
    assert bronze(catalog) == expected
    # The raw files are in the module's bucket on MinIO, where each row's lineage points.
    for identifier in catalog.list_tables("bronze"):
        paths = set(catalog.load_table(identifier).scan(selected_fields=("_raw_path",)).to_arrow()["_raw_path"])
        assert paths and all(str(path).startswith(f"s3://{lake}/raw/datagouv/") for path in paths), paths
        assert all(raw_file_exists(cluster, str(path)) for path in paths)


def raw_file_exists(cluster: ClusterServers, s3_path: str) -> bool:
    from pyarrow import fs

    info = cluster.minio.filesystem().get_file_info(s3_path.removeprefix("s3://"))
    return bool(info.type == fs.FileType.File and info.size > 0)


def test_the_ingest_image_exits_2_naming_the_missing_catalog_setting(
    cluster: ClusterServers, built_image: Callable[[str], BuiltImage], engine: Podman
) -> None:
    environment = {k: v for k, v in cluster.environment.items() if k != "CIVICLAKE__CATALOG__URI"}
    result = run_container(
        engine, ContainerRun(built_image("ingest").tag, ["sync"], environment=environment), timeout=300
    )
    assert result.returncode == 2, result.stdout + result.stderr
    assert "CIVICLAKE__CATALOG__URI" in result.stderr
