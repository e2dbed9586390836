"""Publishing a DuckDB relation to Iceberg: one commit per table, any schema change, bad types refused."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest
from pyiceberg.catalog.sql import SqlCatalog
from pyiceberg.types import DateType, LongType, StringType

from civiclake.config import Settings, load_settings
from civiclake.lake.filesystem import warehouse_storage
from civiclake.transform.project import TransformError
from civiclake.transform.publish import Relation, publish_relations
from civiclake.warehouse.catalog import open_catalog


@pytest.fixture
def settings(backend_environment: dict[str, str]) -> Settings:
    return load_settings(environ=backend_environment)


@pytest.fixture
def catalog(settings: Settings) -> SqlCatalog:
    """The profile's catalog: SQLite with files on disk, or PostgreSQL with files in MinIO."""
    catalog = open_catalog(settings)
    catalog.create_namespace("gold")
    return catalog


def build(database: Path, statement: str) -> None:
    connection = duckdb.connect(str(database))
    try:
        connection.execute("CREATE SCHEMA IF NOT EXISTS gold")
        connection.execute(statement)
    finally:
        connection.close()


def publish(catalog: SqlCatalog, tmp_path: Path, **descriptions: str) -> None:
    relation = Relation("gold", "sales", "model.civiclake.sales", "Sales per day.", descriptions)
    publish_relations(catalog, tmp_path / "warehouse.duckdb", tmp_path / "extensions", [relation])


def test_a_new_version_replaces_rows_and_schema_in_one_commit(
    catalog: SqlCatalog, settings: Settings, tmp_path: Path
) -> None:
    database = tmp_path / "warehouse.duckdb"
    build(database, "CREATE TABLE gold.sales AS SELECT 1::INTEGER AS day, 'a' AS label, 2.5::DOUBLE AS amount")
    publish(catalog, tmp_path, day="Day number.")
    table = catalog.load_table(("gold", "sales"))
    assert table.location().startswith(warehouse_storage(settings).uri_prefix)  # s3:// on the cluster profile
    assert table.scan().to_arrow().to_pylist() == [{"day": 1, "label": "a", "amount": 2.5}]
    assert table.schema().find_field("day").doc == "Day number."
    assert table.properties["comment"] == "Sales per day."
    commits = len(table.metadata.metadata_log)

    # the model changed: a column dropped, one retyped (text to date), one added in front, rows replaced
    build(
        database,
        "CREATE OR REPLACE TABLE gold.sales AS SELECT 7::BIGINT AS id, DATE '2024-01-02' AS day, 3.5::DOUBLE AS amount "
        "UNION ALL SELECT 8, DATE '2024-01-03', 4.0",
    )
    publish(catalog, tmp_path)
    table = catalog.load_table(("gold", "sales"))
    assert [field.name for field in table.schema().fields] == ["id", "day", "amount"]
    assert isinstance(table.schema().find_field("id").field_type, LongType)
    assert isinstance(table.schema().find_field("day").field_type, DateType)
    assert sorted(row["id"] for row in table.scan().to_arrow().to_pylist()) == [7, 8]
    assert len(table.metadata.metadata_log) == commits + 1  # one commit: readers never see a half-done table


def test_an_empty_relation_publishes_an_empty_table(catalog: SqlCatalog, tmp_path: Path) -> None:
    build(tmp_path / "warehouse.duckdb", "CREATE TABLE gold.sales AS SELECT 'x' AS label WHERE false")
    publish(catalog, tmp_path)
    table = catalog.load_table(("gold", "sales"))
    assert table.scan().to_arrow().num_rows == 0
    assert isinstance(table.schema().find_field("label").field_type, StringType)


def test_a_type_iceberg_cannot_hold_is_refused_and_the_table_kept(catalog: SqlCatalog, tmp_path: Path) -> None:
    database = tmp_path / "warehouse.duckdb"
    build(database, "CREATE TABLE gold.sales AS SELECT 1 AS day")
    publish(catalog, tmp_path)
    before = catalog.load_table(("gold", "sales")).current_snapshot()
    build(database, "CREATE OR REPLACE TABLE gold.sales AS SELECT INTERVAL 3 DAY AS lag")
    with pytest.raises(TransformError, match=r"model.civiclake.sales: column 'lag' has type .*cast it in the model"):
        publish(catalog, tmp_path)
    after = catalog.load_table(("gold", "sales"))
    assert after.current_snapshot() == before
    assert after.scan().to_arrow().to_pylist() == [{"day": 1}]
