"""Every table of the catalog in one query, and their metadata read in parallel, once per commit.

``catalog.load_table`` costs a catalog query and a metadata file read per table: with thousands of bronze tables
(one per resource) ``civiclake tables``, ``status``, ``metrics`` and ``dbt generate`` would spend their time in
round trips. Here the SQL catalog's own table (``iceberg_tables``) is read with one query for every table's
current metadata location; the metadata files are then read by a pool of threads (on S3 each read is a request).

A metadata file never changes once written (a commit writes a new one), so what ``tables``, ``status`` and
``metrics`` need of it is kept in the catalog's database (``civiclake_table_summary``, keyed by the metadata
location) and read in the same query as the locations: each command reads again only the metadata files of tables
committed to since any command last looked, and every process and pod shares what the others read. It is a cache:
a row whose file is no longer any table's current metadata is dropped, and losing it costs one read per table.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from pyiceberg.catalog import Catalog
from pyiceberg.catalog.sql import IcebergTables, SqlCatalog
from pyiceberg.io import FileIO, load_file_io
from pyiceberg.serializers import Compressor, FromInputFile
from pyiceberg.table import Table

from civiclake.warehouse.catalog import first_setup_retried

Identifier = tuple[str, str]

# Reads in flight at once: enough to hide S3 latency, few enough for a small object store.
READ_WORKERS = 16

_metadata = sa.MetaData()
table_summary = sa.Table(
    "civiclake_table_summary",
    _metadata,
    sa.Column("metadata_location", sa.String(1000), primary_key=True),
    sa.Column("summary", sa.Text, nullable=False),  # JSON: TableSummary's fields read from that metadata file
)
_ready: set[str] = set()  # catalog databases where the summary table is known to exist, by URL


@dataclass(frozen=True)
class TableSummary:
    """What ``civiclake tables`` and ``status`` need of a table's metadata file, without the rest of it."""

    identifier: Identifier
    metadata_location: str
    properties: dict[str, str]
    snapshot_id: int | None
    timestamp_ms: int | None
    totals: dict[str, str]  # the current snapshot's summary: total-records, total-data-files, ...
    snapshots: int


def table_locations(catalog: Catalog, namespace: str | None = None) -> dict[Identifier, str]:
    """``(namespace, table) -> current metadata location`` of every table (of one namespace), in one query."""
    if not isinstance(catalog, SqlCatalog):
        # Another catalog kind has no table to read at once: ask it table by table.
        namespaces = [namespace] if namespace else [item[0] for item in catalog.list_namespaces()]
        return {
            (identifier[0], identifier[1]): catalog.load_table(identifier).metadata_location
            for name in namespaces
            for identifier in catalog.list_tables(name)
        }
    columns = (IcebergTables.table_namespace, IcebergTables.table_name, IcebergTables.metadata_location)
    statement = sa.select(*columns).where(
        IcebergTables.catalog_name == catalog.name, IcebergTables.metadata_location.is_not(None)
    )
    if namespace is not None:
        statement = statement.where(IcebergTables.table_namespace == namespace)
    # Views share the table in newer catalogs (iceberg_type 'VIEW'); they have no Iceberg table metadata.
    type_filter = catalog._iceberg_type_filter()
    if type_filter is not None:
        statement = statement.where(type_filter)
    with catalog.engine.connect() as connection:
        return {(row[0], row[1]): str(row[2]) for row in connection.execute(statement)}


def table_summaries(catalog: Catalog, namespace: str | None = None) -> list[TableSummary]:
    """A summary of every table (of one namespace), sorted by name: one catalog query when every table's current
    metadata file was read before; the others' files are read in parallel, and remembered."""
    if not isinstance(catalog, SqlCatalog):
        locations = table_locations(catalog, namespace)
        known: dict[str, dict[str, Any]] = {}
    else:
        locations, known = _locations_and_summaries(catalog, namespace)
    missing = sorted({location for location in locations.values() if location not in known})
    if missing:
        read = {
            location: _summary_fields(document)
            for location, document in zip(missing, _read_all(_file_io(catalog, missing), missing), strict=True)
        }
        known.update(read)
        if isinstance(catalog, SqlCatalog):
            _store(catalog, read)
    return [TableSummary(identifier, location, **known[location]) for identifier, location in sorted(locations.items())]


def _locations_and_summaries(
    catalog: SqlCatalog, namespace: str | None
) -> tuple[dict[Identifier, str], dict[str, dict[str, Any]]]:
    _create_summary_table(catalog)
    statement = (
        sa.select(
            IcebergTables.table_namespace,
            IcebergTables.table_name,
            IcebergTables.metadata_location,
            table_summary.c.summary,
        )
        .outerjoin(table_summary, table_summary.c.metadata_location == IcebergTables.metadata_location)
        .where(IcebergTables.catalog_name == catalog.name, IcebergTables.metadata_location.is_not(None))
    )
    if namespace is not None:
        statement = statement.where(IcebergTables.table_namespace == namespace)
    type_filter = catalog._iceberg_type_filter()
    if type_filter is not None:
        statement = statement.where(type_filter)
    locations: dict[Identifier, str] = {}
    known: dict[str, dict[str, Any]] = {}
    with catalog.engine.connect() as connection:
        for row in connection.execute(statement):
            location = str(row[2])
            locations[(str(row[0]), str(row[1]))] = location
            if row[3] is not None:
                known[location] = json.loads(str(row[3]))
    return locations, known


def _create_summary_table(catalog: SqlCatalog) -> None:
    url = str(catalog.engine.url)
    if url not in _ready:
        first_setup_retried(lambda: _metadata.create_all(catalog.engine))
        _ready.add(url)


def _store(catalog: SqlCatalog, read: dict[str, dict[str, Any]]) -> None:
    """Remember what was read, and forget the files that are no longer any table's current metadata."""
    rows = [{"metadata_location": location, "summary": json.dumps(fields)} for location, fields in read.items()]
    current = sa.select(IcebergTables.metadata_location).where(IcebergTables.metadata_location.is_not(None))
    try:
        with catalog.engine.begin() as connection:
            connection.execute(table_summary.delete().where(table_summary.c.metadata_location.not_in(current)))
            connection.execute(table_summary.insert(), rows)
    except sa.exc.SQLAlchemyError:
        # Another command stored the same files a moment earlier, or this database user may only read: the
        # summaries are only a cache, this command has what it read.
        pass


def load_tables(catalog: Catalog, identifiers: Iterable[Identifier] | None = None) -> dict[Identifier, Table]:
    """Tables as ``catalog.load_table`` gives them (schema, properties, snapshots), for many at once."""
    locations = table_locations(catalog)
    if identifiers is not None:
        wanted = set(identifiers)
        unknown = wanted - locations.keys()
        if unknown:
            raise KeyError(f"no such table: {', '.join(sorted('.'.join(item) for item in unknown))}")
        locations = {identifier: location for identifier, location in locations.items() if identifier in wanted}
    io = _file_io(catalog, locations.values())
    ordered = sorted(locations.items())

    def load(item: tuple[Identifier, str]) -> Table:
        identifier, location = item
        metadata = FromInputFile.table_metadata(io.new_input(location))
        return Table(identifier=identifier, metadata=metadata, metadata_location=location, io=io, catalog=catalog)

    with ThreadPoolExecutor(max_workers=READ_WORKERS) as pool:
        return {identifier: table for (identifier, _), table in zip(ordered, pool.map(load, ordered), strict=True)}


def _file_io(catalog: Catalog, locations: Iterable[str]) -> FileIO:
    # One FileIO for every read: on S3 it holds one client, where one per table would open a connection each.
    first = next(iter(locations), None)
    return load_file_io(dict(catalog.properties), first)


def _read_all(io: FileIO, locations: list[str]) -> list[dict[str, Any]]:
    def read(location: str) -> dict[str, Any]:
        # pyiceberg names gzip-compressed metadata files *.gz.metadata.json (write.metadata.compression-codec).
        compressor = Compressor.get_compressor(location)
        with io.new_input(location).open() as raw, compressor.stream_decompressor(raw) as stream:
            document: dict[str, Any] = json.load(stream)
            return document

    with ThreadPoolExecutor(max_workers=READ_WORKERS) as pool:
        return list(pool.map(read, locations))


def _summary_fields(document: dict[str, Any]) -> dict[str, Any]:
    snapshots = document.get("snapshots") or []
    current_id = document.get("current-snapshot-id")
    if current_id == -1:  # format v1 says "no snapshot" this way
        current_id = None
    current = next((item for item in snapshots if item.get("snapshot-id") == current_id), None)
    totals = dict(current.get("summary") or {}) if current else {}
    totals.pop("operation", None)
    return {
        "properties": dict(document.get("properties") or {}),
        "snapshot_id": current_id if current else None,
        "timestamp_ms": current.get("timestamp-ms") if current else None,
        "totals": totals,
        "snapshots": len(snapshots),
    }
