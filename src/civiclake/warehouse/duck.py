"""Local SQL: DuckDB reading the Iceberg tables in place.

Each Iceberg table becomes a DuckDB view over ``iceberg_scan(<current metadata file>)``, under a schema
named like its namespace, so ``SELECT * FROM bronze.datagouv__...`` works as it would on Trino. The
iceberg extension comes from PyPI packages and is installed from their files: no network needed.
Measured against registering pyiceberg scans as Arrow: iceberg_scan streams and pushes filters down,
where a registered scan materialises the whole table first.
"""

from __future__ import annotations

import importlib
from pathlib import Path

import duckdb
from pyiceberg.catalog import Catalog

from civiclake.config import Settings

EXTENSIONS = ("avro", "iceberg", "httpfs")  # iceberg needs avro for manifests, httpfs for S3


def load_extensions_offline(connection: duckdb.DuckDBPyConnection, extension_directory: Path) -> None:
    """Install and load the Iceberg extensions from their PyPI packages: DuckDB never downloads anything."""
    extension_directory.mkdir(parents=True, exist_ok=True)
    quoted = str(extension_directory).replace("'", "''")
    connection.execute(f"SET extension_directory = '{quoted}'")
    connection.execute("SET autoinstall_known_extensions = false")
    for name in EXTENSIONS:
        _install_offline(connection, name)


def _install_offline(connection: duckdb.DuckDBPyConnection, name: str) -> None:
    module = importlib.import_module(f"duckdb_extension_{name}")
    version = connection.execute("PRAGMA version").fetchone()[0]  # type: ignore[index]
    extension_file = Path(next(iter(module.__path__))) / "extensions" / version / f"{name}.duckdb_extension"
    connection.execute(f"INSTALL '{extension_file}'")
    connection.execute(f"LOAD {name}")


def connect(settings: Settings, catalog: Catalog) -> duckdb.DuckDBPyConnection:
    connection = duckdb.connect()
    load_extensions_offline(connection, (settings.home / "duckdb_extensions").resolve())
    if settings.profile == "cluster":
        _configure_s3(connection, settings)
    register_iceberg_views(connection, catalog)
    return connection


def register_iceberg_views(connection: duckdb.DuckDBPyConnection, catalog: Catalog) -> list[str]:
    """A view per Iceberg table, pointing at its current snapshot; returns the qualified names."""
    names = []
    for (namespace,) in catalog.list_namespaces():
        connection.execute(f'CREATE SCHEMA IF NOT EXISTS "{namespace}"')
        for identifier in catalog.list_tables(namespace):
            table = catalog.load_table(identifier)
            qualified = f'"{identifier[0]}"."{identifier[1]}"'
            location = table.metadata_location.replace("'", "''")
            connection.execute(f"CREATE OR REPLACE VIEW {qualified} AS SELECT * FROM iceberg_scan('{location}')")
            names.append(".".join(identifier))
    return names


def _configure_s3(connection: duckdb.DuckDBPyConnection, settings: Settings) -> None:
    s3 = settings.s3
    options = {"TYPE": "s3", "REGION": s3.region, "URL_STYLE": "path"}
    if s3.endpoint_url:
        scheme, _, host = s3.endpoint_url.partition("://")
        options.update(ENDPOINT=host.rstrip("/"), USE_SSL="true" if scheme == "https" else "false")
    if s3.access_key_id and s3.secret_access_key:
        options.update(KEY_ID=s3.access_key_id.get_secret_value(), SECRET=s3.secret_access_key.get_secret_value())
    body = ", ".join(
        f"{key} '{value}'" if key not in ("USE_SSL",) else f"{key} {value}" for key, value in options.items()
    )
    connection.execute(f"CREATE OR REPLACE SECRET civiclake_lake ({body})")
