"""The DuckDB database dbt builds in on the local profile.

A file in ``CIVICLAKE_HOME/dbt`` whose ``bronze`` and ``meta`` schemas hold one view per Iceberg table, over
``iceberg_scan`` of the table's current metadata file: dbt reads bronze in place, without a copy, and sees
the snapshot that was current when the transform started even if a sync commits meanwhile. dbt writes silver
and gold as DuckDB tables in the same file (its incremental state lives there between runs); ``publish``
then copies them to Iceberg.
"""

from __future__ import annotations

from pathlib import Path

import duckdb
from pyiceberg.catalog import Catalog

from civiclake.warehouse.duck import load_extensions_offline

SOURCE_NAMESPACES = ("bronze", "meta")


def prepare_duckdb_database(catalog: Catalog, database: Path, extensions_dir: Path) -> list[str]:
    """Create or refresh the views over the bronze and meta tables; returns their qualified names.

    The extensions are installed into ``extensions_dir`` from their PyPI packages, where dbt (the profile
    names it, and ``transform.duckdb_plugin`` loads them) finds them without a network.
    """
    database.parent.mkdir(parents=True, exist_ok=True)
    connection = open_database(database, extensions_dir)
    try:
        names = []
        for namespace in SOURCE_NAMESPACES:
            connection.execute(f'CREATE SCHEMA IF NOT EXISTS "{namespace}"')
            current = {identifier[1] for identifier in catalog.list_tables(namespace)}
            for stale in _views(connection, namespace) - current:
                connection.execute(f'DROP VIEW "{namespace}"."{stale}"')
            for name in sorted(current):
                location = _sql_text(catalog.load_table((namespace, name)).metadata_location)
                connection.execute(
                    f'CREATE OR REPLACE VIEW "{namespace}"."{name}" AS SELECT * FROM iceberg_scan(\'{location}\')'
                )
                names.append(f"{namespace}.{name}")
        return names
    finally:
        connection.close()


def open_database(database: Path, extensions_dir: Path, *, read_only: bool = False) -> duckdb.DuckDBPyConnection:
    """A connection to the file with the Iceberg extensions loaded (its staging views read bronze through them)."""
    connection = duckdb.connect(str(database), read_only=read_only)
    try:
        connection.execute("SET TimeZone = 'UTC'")  # timestamptz values leave in UTC, as Iceberg stores them
        load_extensions_offline(connection, extensions_dir)
    except BaseException:
        connection.close()
        raise
    return connection


def _views(connection: duckdb.DuckDBPyConnection, schema: str) -> set[str]:
    rows = connection.execute(
        "SELECT view_name FROM duckdb_views() WHERE schema_name = ? AND database_name = current_database()",
        [schema],
    ).fetchall()
    return {row[0] for row in rows}


def _sql_text(value: str) -> str:
    return value.replace("'", "''")
