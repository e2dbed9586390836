"""Local SQL: DuckDB reading the Iceberg tables in place.

Each Iceberg table becomes a DuckDB view over ``iceberg_scan(<current metadata file>)``, under a schema
named like its namespace, so ``SELECT * FROM bronze.datagouv__...`` works as it would on Trino. The
iceberg extension comes from PyPI packages and is installed from their files: no network needed.
Measured against registering pyiceberg scans as Arrow: iceberg_scan streams and pushes filters down,
where a registered scan materialises the whole table first.
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Iterable
from pathlib import Path
from urllib.parse import unquote, urlsplit

import duckdb
from pyiceberg.catalog import Catalog

from civiclake.config import Settings
from civiclake.errors import TerminalError
from civiclake.warehouse.catalog_index import load_tables

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
    return list(_register_views(connection, catalog))


def _register_views(connection: duckdb.DuckDBPyConnection, catalog: Catalog) -> dict[str, str]:
    """The views, as ``{qualified name: the table's location}``."""
    locations = {}
    for (namespace,) in catalog.list_namespaces():
        connection.execute(f'CREATE SCHEMA IF NOT EXISTS "{namespace}"')
    # One catalog query for every table, their metadata files read in parallel (not one round trip per table).
    for identifier, table in load_tables(catalog).items():
        qualified = f'"{identifier[0]}"."{identifier[1]}"'
        location = table.metadata_location.replace("'", "''")
        connection.execute(f"CREATE OR REPLACE VIEW {qualified} AS SELECT * FROM iceberg_scan('{location}')")
        locations[".".join(identifier)] = table.location()
    return locations


class ReadOnlyConsoleError(TerminalError):
    """A statement other than a query was given to the read-only SQL console."""


# What the console runs: DuckDB parses DESCRIBE, SHOW, SUMMARIZE, FROM-first, VALUES, PIVOT with its values
# listed and the PRAGMAs that only read (``PRAGMA version``) into SELECT statements.
_QUERY_TYPES = frozenset({duckdb.StatementType.SELECT})
# EXPLAIN ANALYZE runs the statement it explains: what follows EXPLAIN must itself be a query.
_EXPLAIN_PREFIX = re.compile(r"\s*explain\s+(?:\([^()]*\)\s*)?(?:analy[sz]e\s+)?(?:\([^()]*\)\s*)?", re.IGNORECASE)
READ_ONLY_HINT = (
    "the SQL console is read-only: run queries only (SELECT, WITH, FROM, DESCRIBE, SHOW, SUMMARIZE, EXPLAIN)"
)


def connect_read_only(settings: Settings, catalog: Catalog) -> duckdb.DuckDBPyConnection:
    """A session over the lakehouse's tables that reads nothing else and writes nowhere.

    After the views are made, DuckDB's external access is turned off except for the tables' locations
    (where ``iceberg_scan`` reads metadata and data files), and the configuration is locked so that no
    statement can turn it back on or load an extension. The session's own database is in memory."""
    connection = duckdb.connect()
    load_extensions_offline(connection, (settings.home / "duckdb_extensions").resolve())
    if settings.profile == "cluster":
        _configure_s3(connection, settings)
    locations = _register_views(connection, catalog)
    connection.execute("SET allowed_directories = ?", [_allowed_directories(locations.values())])
    connection.execute("SET enable_external_access = false")
    connection.execute("SET lock_configuration = true")
    return connection


def _allowed_directories(locations: Iterable[str]) -> list[str]:
    allowed: dict[str, None] = {}
    for table_location in locations:
        location = table_location.rstrip("/") + "/"  # a prefix: bronze/t/ must not also allow bronze/t2/
        allowed[location] = None
        if location.startswith("file:"):
            # Iceberg metadata names its files as file:// URIs or plain paths, depending on the writer.
            allowed[unquote(urlsplit(location).path)] = None
    return list(allowed)


def check_read_only(connection: duckdb.DuckDBPyConnection, sql: str) -> None:
    """Raise ``ReadOnlyConsoleError`` unless every statement of ``sql`` is a query.

    The connection should be one from ``connect_read_only``: DuckDB does some work while parsing (IMPORT
    DATABASE reads its files), which the locked session confines. A syntax error is DuckDB's own error."""
    statements = connection.extract_statements(sql)
    if not statements:
        raise ReadOnlyConsoleError(f"no statement to run; {READ_ONLY_HINT}")
    for statement in statements:
        if statement.type in _QUERY_TYPES:
            continue
        if statement.type == duckdb.StatementType.EXPLAIN and _explains_a_query(connection, statement):
            continue
        kind = statement.type.name.replace("_", " ")
        refused = "an EXPLAIN of a statement that is not a query" if kind == "EXPLAIN" else f"a {kind} statement"
        raise ReadOnlyConsoleError(f"refused {refused}: {READ_ONLY_HINT}")


def _explains_a_query(connection: duckdb.DuckDBPyConnection, statement: duckdb.Statement) -> bool:
    try:
        text = statement.query
    except (IndexError, RuntimeError):  # DuckDB cannot always give back a statement's text
        return False
    prefix = _EXPLAIN_PREFIX.match(text)
    if prefix is None:
        return False
    try:
        explained = connection.extract_statements(text[prefix.end() :])
    except duckdb.Error:
        return False
    return len(explained) == 1 and explained[0].type in _QUERY_TYPES


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
