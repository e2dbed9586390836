"""Every table of the catalog in one query, and their metadata read in parallel, once per commit.

``catalog.load_table`` costs a catalog query and a metadata file read per table: with thousands of bronze tables
(one per resource) ``civiclake tables``, ``status``, ``metrics`` and ``dbt generate`` would spend their time in
round trips. Here the SQL catalog's own table (``iceberg_tables``) is read with one query for every table's
current metadata location; the metadata files are then read by a pool of threads (on S3 each read is a request).

A metadata file never changes once written (a commit writes a new one), so what is read from it is kept, keyed
by its location: a long-running ``civiclake metrics`` reads again only the tables committed to since its last
scrape.
"""

from __future__ import annotations

import json
import threading
from collections import OrderedDict
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

Identifier = tuple[str, str]

# Reads in flight at once: enough to hide S3 latency, few enough for a small object store.
READ_WORKERS = 16
# Summaries kept in memory: one per table is enough; more only keeps tables dropped since.
_CACHE_SIZE = 200_000


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
    """A summary of every table (of one namespace), sorted by name; metadata files read in parallel."""
    locations = table_locations(catalog, namespace)
    io = _file_io(catalog, locations.values())
    missing = [location for location in locations.values() if _cached(location) is None]
    for location, document in zip(missing, _read_all(io, missing), strict=True):
        _remember(location, _summary_fields(document))
    return [
        TableSummary(identifier, location, **_cached(location))  # type: ignore[arg-type]
        for identifier, location in sorted(locations.items())
    ]


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


_lock = threading.Lock()
_summaries: OrderedDict[str, dict[str, Any]] = OrderedDict()


def _cached(location: str) -> dict[str, Any] | None:
    with _lock:
        found = _summaries.get(location)
        if found is not None:
            _summaries.move_to_end(location)
        return found


def _remember(location: str, fields: dict[str, Any]) -> None:
    with _lock:
        _summaries[location] = fields
        while len(_summaries) > _CACHE_SIZE:
            _summaries.popitem(last=False)
