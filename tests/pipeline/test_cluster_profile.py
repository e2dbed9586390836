"""The cluster profile for real: raw zone and Iceberg warehouse on an S3 server, catalog on PostgreSQL.

MinIO (the release the chart deploys) holds the lake; the catalog is pyiceberg's SQL catalog on PostgreSQL, the
schema of Iceberg's JDBC catalog that Trino reads on the cluster.
"""

from __future__ import annotations

import json

import pyarrow.fs as pafs
import pytest
import sqlalchemy as sa

from civiclake.config import Settings
from civiclake.demo.mirror.server import Fault, MirrorServer
from civiclake.lake.filesystem import lake_storage
from civiclake.warehouse.catalog import open_catalog
from civiclake.warehouse.duck import connect
from tests.pipeline.lakehouse import ACCIDENTS, CODES_POSTAUX, CODES_POSTAUX_CSV, MIRROR_FILES, Lakehouse

pytestmark = pytest.mark.integration

CODES_POSTAUX_TABLE = "bronze.datagouv__base_officielle_des_codes_postaux__base_officielle_des_codes_postaux"


def test_sync_lands_raw_files_and_iceberg_tables_on_s3_with_a_postgresql_catalog(
    cluster_settings: Settings, mirror: MirrorServer
) -> None:
    lakehouse = Lakehouse(cluster_settings)
    report = lakehouse.sync(CODES_POSTAUX, ACCIDENTS)
    assert report.exit_code == 0, [outcome.error for outcome in report.failed]

    # Raw files and manifests are objects in the bucket.
    storage = lake_storage(cluster_settings)
    assert isinstance(storage.filesystem, pafs.S3FileSystem)
    raw = [path for path in storage.list_files("raw/datagouv") if path.endswith("019HexaSmal.csv")]
    assert len(raw) == 1
    assert storage.read_bytes(raw[0]) == (MIRROR_FILES / "019HexaSmal.csv").read_bytes()
    assert json.loads(storage.read_bytes(raw[0] + ".manifest.json"))["resource_id"] == CODES_POSTAUX_CSV

    # The table's metadata and data files live under s3://<bucket>/warehouse, its pointer in PostgreSQL.
    table = open_catalog(cluster_settings).load_table(CODES_POSTAUX_TABLE)
    assert table.metadata_location.startswith(f"s3://{cluster_settings.s3.bucket}/warehouse/bronze/")
    engine = sa.create_engine(cluster_settings.catalog_uri)
    with engine.connect() as connection:
        catalogued = connection.execute(
            sa.text("SELECT catalog_name, table_namespace, table_name FROM iceberg_tables ORDER BY table_name")
        ).all()
    engine.dispose()
    assert ("civiclake", "bronze", CODES_POSTAUX_TABLE.split(".")[1]) in catalogued
    codes = lakehouse.table(CODES_POSTAUX_TABLE)
    assert "01001" in codes.column("code_commune_insee").to_pylist()

    # DuckDB reads the same tables from S3, as `civiclake sql` does on this profile.
    duck = connect(cluster_settings, open_catalog(cluster_settings))
    (count,) = duck.execute(f"SELECT count(*) FROM {CODES_POSTAUX_TABLE}").fetchone()  # type: ignore[misc]
    assert count == codes.num_rows

    # A rerun adds nothing; a failing resource on S3 fails alone.
    assert {outcome.status for outcome in lakehouse.sync(CODES_POSTAUX).outcomes} == {"unchanged"}
    assert lakehouse.table(CODES_POSTAUX_TABLE).num_rows == codes.num_rows
    mirror.inject_fault("17ede5d7-693c-44cf-b0ac-38cff71a1136", Fault.corrupted(), times=None)
    again = lakehouse.sync(ACCIDENTS, full_refresh=True)
    assert [outcome.resource_id for outcome in again.failed] == ["17ede5d7-693c-44cf-b0ac-38cff71a1136"]
    assert [path for path in storage.list_files("quarantine") if path.endswith("caract-2023.csv")]


def test_the_sql_console_reads_the_tables_on_s3_and_nothing_else_in_the_bucket(
    cluster_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    from click.testing import CliRunner

    from civiclake.cli.main import cli

    assert Lakehouse(cluster_settings).sync(CODES_POSTAUX).exit_code == 0
    s3 = cluster_settings.s3
    environment = {
        "CIVICLAKE_PROFILE": "cluster",
        "CIVICLAKE_HOME": str(cluster_settings.home),
        "CIVICLAKE__S3__ENDPOINT_URL": s3.endpoint_url,
        "CIVICLAKE__S3__BUCKET": s3.bucket,
        "CIVICLAKE__S3__REGION": s3.region,
        "CIVICLAKE__S3__ACCESS_KEY_ID": s3.access_key_id.get_secret_value(),  # type: ignore[union-attr]
        "CIVICLAKE__S3__SECRET_ACCESS_KEY": s3.secret_access_key.get_secret_value(),  # type: ignore[union-attr]
        "CIVICLAKE__CATALOG__URI": cluster_settings.catalog_uri,
    }
    for name, value in environment.items():
        monkeypatch.setenv(name, str(value))

    def sql(statement: str) -> tuple[int, str]:
        result = CliRunner().invoke(cli, ["sql", statement, "--format", "csv"], obj={}, catch_exceptions=False)
        return result.exit_code, result.output

    code, output = sql(f"SELECT count(*) AS n FROM {CODES_POSTAUX_TABLE} WHERE code_commune_insee = '01001'")
    assert (code, output.splitlines()) == (0, ["n", "1"]), output
    # The raw zone is in the same bucket, but no table's files: out of the console's reach, as is the local disk.
    raw = next(path for path in lake_storage(cluster_settings).list_files("raw/datagouv") if path.endswith(".csv"))
    for statement in [
        f"SELECT * FROM read_text('s3://{s3.bucket}/{raw}')",
        "SELECT * FROM read_csv('/etc/passwd')",
        f"COPY (SELECT 1) TO 's3://{s3.bucket}/warehouse/planted.csv'",
    ]:
        code, output = sql(statement)
        assert code == 2 and "read-only" in output, (statement, output)
    assert not [path for path in lake_storage(cluster_settings).list_files("warehouse") if "planted" in path]
