"""Thousands of tables, read without one catalog round trip per table: the catalog queries of `civiclake tables`,
`status` and the DuckDB views are counted on a real catalog (SQLite with files on disk, PostgreSQL with files in
MinIO) with SQLAlchemy's statement events, and do not grow with the number of tables; metadata files are read
once per commit."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime

import pyarrow as pa
import pytest
import sqlalchemy as sa
from pyiceberg.catalog.sql import SqlCatalog

from civiclake.catalog_views import dataset_statuses, list_tables
from civiclake.config import Settings, load_settings
from civiclake.warehouse import catalog_index
from civiclake.warehouse.catalog import open_catalog
from civiclake.warehouse.catalog_index import load_tables, table_summaries
from civiclake.warehouse.duck import connect
from civiclake.warehouse.state import SyncState

SCHEMA = pa.schema([("id", pa.int64()), ("label", pa.string())])


@pytest.fixture
def settings(backend_environment: dict[str, str]) -> Settings:
    return load_settings(environ=backend_environment)


@pytest.fixture
def catalog(settings: Settings) -> SqlCatalog:
    return open_catalog(settings)


def add_bronze_tables(catalog: SqlCatalog, state: SyncState, first: int, count: int) -> None:
    """Tables as a sync leaves them: lineage properties, one small commit, and a sync-state row each."""
    for number in range(first, first + count):
        dataset_id, resource_id = f"dataset-{number}", f"resource-{number}"
        table = catalog.create_table(
            ("bronze", f"datagouv__d{number}__r"),
            schema=SCHEMA,
            properties={
                "civiclake.source": "datagouv",
                "civiclake.dataset-id": dataset_id,
                "civiclake.resource-id": resource_id,
            },
        )
        table.append(pa.table({"id": list(range(number + 1)), "label": ["x"] * (number + 1)}, schema=SCHEMA))
        state.assign_names("datagouv", dataset_id, resource_id, f"d{number}", "r")
        state.record("datagouv", resource_id, status="loaded", change_marker="m")


@contextmanager
def counted_statements(*engines: sa.Engine) -> Iterator[list[str]]:
    """Every SQL statement the engines send while the block runs."""
    statements: list[str] = []

    def count(_conn: object, _cursor: object, statement: str, *_args: object) -> None:
        statements.append(statement)

    for engine in engines:
        sa.event.listen(engine, "before_cursor_execute", count)
    try:
        yield statements
    finally:
        for engine in engines:
            sa.event.remove(engine, "before_cursor_execute", count)


def test_listing_tables_costs_the_same_catalog_queries_for_3_or_30_tables(
    catalog: SqlCatalog, settings: Settings
) -> None:
    state = SyncState(settings.catalog_uri)
    add_bronze_tables(catalog, state, 0, 3)
    list_tables(catalog)  # the first call creates the summary table
    add_bronze_tables(catalog, state, 3, 3)
    with counted_statements(catalog.engine) as few_new:
        assert len(list_tables(catalog)) == 6
    add_bronze_tables(catalog, state, 6, 24)
    with counted_statements(catalog.engine) as many_new:
        assert len(list_tables(catalog)) == 30
    with counted_statements(catalog.engine) as none_new:
        found = list_tables(catalog)
    state.close()
    # Tables never read before: one query, then one statement to forget stale summaries and one to store new ones.
    assert len(many_new) == len(few_new) == 3
    assert len(none_new) == 1
    by_name = {info.name: info for info in found}
    assert by_name["bronze.datagouv__d29__r"].rows == 30
    assert by_name["bronze.datagouv__d29__r"].dataset_id == "dataset-29"
    assert by_name["bronze.datagouv__d29__r"].snapshots == 1


def test_status_costs_the_same_catalog_and_state_queries_for_3_or_30_datasets(
    catalog: SqlCatalog, settings: Settings
) -> None:
    state = SyncState(settings.catalog_uri)
    add_bronze_tables(catalog, state, 0, 3)
    now = datetime.now(UTC)
    dataset_statuses(catalog, state, now)  # the first call creates the empty meta tables and the summary table
    add_bronze_tables(catalog, state, 3, 3)
    with counted_statements(catalog.engine, state.engine) as few:
        assert len(dataset_statuses(catalog, state, now)) == 6
    add_bronze_tables(catalog, state, 6, 24)
    with counted_statements(catalog.engine, state.engine) as many:
        statuses = dataset_statuses(catalog, state, now)
    state.close()
    assert len(statuses) == 30
    assert len(many) == len(few)
    assert {status.rows for status in statuses} == set(range(1, 31))


def test_duckdb_views_of_30_tables_cost_two_catalog_queries(catalog: SqlCatalog, settings: Settings) -> None:
    state = SyncState(settings.catalog_uri)
    add_bronze_tables(catalog, state, 0, 30)
    state.close()
    with counted_statements(catalog.engine) as statements:
        connection = connect(settings, catalog)
    # One for the namespaces (a schema each, empty ones too), one for every table's metadata location.
    assert len(statements) == 2
    assert connection.execute('SELECT count(*) FROM bronze."datagouv__d29__r"').fetchone() == (30,)


def test_a_metadata_file_is_read_again_only_after_its_table_changed(
    catalog: SqlCatalog, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    state = SyncState(settings.catalog_uri)
    add_bronze_tables(catalog, state, 0, 5)
    state.close()
    read: list[str] = []
    original = catalog_index._read_all

    def counting(io: object, locations: list[str]) -> list[dict[str, object]]:
        read.extend(locations)
        return original(io, locations)  # type: ignore[arg-type]

    monkeypatch.setattr(catalog_index, "_read_all", counting)
    table_summaries(catalog, "bronze")
    read.clear()
    table_summaries(catalog, "bronze")
    # Another process (another catalog object on the same database) reads nothing either.
    table_summaries(open_catalog(settings), "bronze")
    assert read == []
    changed = catalog.load_table(("bronze", "datagouv__d2__r"))
    changed.append(pa.table({"id": [99], "label": ["y"]}, schema=SCHEMA))
    summaries = {summary.identifier: summary for summary in table_summaries(catalog, "bronze")}
    assert read == [changed.metadata_location]
    assert summaries[("bronze", "datagouv__d2__r")].totals["total-records"] == "4"


def test_tables_loaded_at_once_are_those_load_table_gives(catalog: SqlCatalog, settings: Settings) -> None:
    state = SyncState(settings.catalog_uri)
    add_bronze_tables(catalog, state, 0, 4)
    state.close()
    loaded = load_tables(catalog, [("bronze", "datagouv__d1__r"), ("bronze", "datagouv__d3__r")])
    assert sorted(loaded) == [("bronze", "datagouv__d1__r"), ("bronze", "datagouv__d3__r")]
    for identifier, table in loaded.items():
        one = catalog.load_table(identifier)
        assert table.metadata == one.metadata
        assert table.metadata_location == one.metadata_location
        assert table.scan().to_arrow().num_rows == one.scan().to_arrow().num_rows
    with pytest.raises(KeyError, match=r"bronze\.missing"):
        load_tables(catalog, [("bronze", "missing")])
