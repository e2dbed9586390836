"""The meta tables: what was loaded or refused, what the catalogue said, how schemas changed.

They are Iceberg tables like the others (``meta.ingestions``, ``meta.datasets``,
``meta.schema_changes``), so the same SQL engines and dbt models read them on both profiles.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, fields
from datetime import datetime
from typing import Any

import pyarrow as pa
from pyiceberg.catalog import Catalog
from pyiceberg.exceptions import CommitFailedException, NoSuchTableError
from pyiceberg.expressions import And, EqualTo
from pyiceberg.table import Table

from civiclake.redaction import redact_text

_TS = pa.timestamp("us", tz="UTC")


# The resource_id of a dataset-level row: the dataset itself failed (404 at the source) or had nothing to load.
DATASET_LEVEL = ""


@dataclass(frozen=True)
class IngestionRecord:
    """One raw file loaded or refused (or one part of it: a ZIP member, a sheet), or a dataset as a whole
    (``resource_id`` is ``DATASET_LEVEL``: status failed, or skipped when it has nothing to load)."""

    batch_id: str
    source: str
    dataset_id: str
    dataset_slug: str
    resource_id: str
    resource_title: str
    part: str | None
    table_name: str | None
    raw_path: str | None
    raw_sha256: str | None
    raw_bytes: int | None
    format: str | None
    encoding: str | None
    rows: int
    status: str  # loaded | unchanged | failed | refused; skipped for a dataset with nothing to load
    error: str | None
    extracted_at: datetime | None
    started_at: datetime
    finished_at: datetime
    download_seconds: float | None
    load_seconds: float | None


@dataclass(frozen=True)
class DatasetRecord:
    batch_id: str
    synced_at: datetime
    source: str
    dataset_id: str
    slug: str
    title: str
    organization: str | None
    frequency: str | None
    last_modified: str | None
    page_url: str | None
    resources_selected: int
    resources_skipped: int


@dataclass(frozen=True)
class SchemaChangeRecord:
    changed_at: datetime
    batch_id: str
    table_name: str
    column_name: str
    change: str  # added | widened_to_string | removed (old_type and new_type: the column's type)
    old_type: str | None
    new_type: str
    raw_path: str


_ARROW_TYPES = {
    "str": pa.string(),
    "str | None": pa.string(),
    "int": pa.int64(),
    "int | None": pa.int64(),
    "float | None": pa.float64(),
    "datetime": _TS,
    "datetime | None": _TS,
}


def _schema(record_type: type) -> pa.Schema:
    return pa.schema(
        [
            pa.field(f.name, _ARROW_TYPES[str(f.type)], nullable=str(f.type).endswith("None"))
            for f in fields(record_type)
        ]
    )


META_TABLES: dict[str, type] = {
    "ingestions": IngestionRecord,
    "datasets": DatasetRecord,
    "schema_changes": SchemaChangeRecord,
}


# The meta tables are logs, read at their current snapshot: a sync appends to them once per resource, so their
# history grows by thousands of snapshots a day. Their metadata keeps the last few metadata files only (older ones
# are deleted at each commit), and snapshot expiry (``civiclake maintain``) keeps one day of their history.
META_TABLE_PROPERTIES = {
    "write.metadata.delete-after-commit.enabled": "true",
    "write.metadata.previous-versions-max": "10",
    "history.expire.max-snapshot-age-ms": str(24 * 60 * 60 * 1000),
}


class MetaTables:
    def __init__(self, catalog: Catalog) -> None:
        self.catalog = catalog
        self._tables: dict[str, Table] = {}

    def table(self, name: str) -> Table:
        if name not in self._tables:
            identifier = ("meta", name)
            try:
                table = self.catalog.load_table(identifier)
            except NoSuchTableError:
                table = self.catalog.create_table_if_not_exists(
                    identifier, schema=_schema(META_TABLES[name]), properties=META_TABLE_PROPERTIES
                )
            self._tables[name] = _with_meta_properties(self.catalog, identifier, table)
        return self._tables[name]

    def append(self, name: str, records: Sequence[Any]) -> None:
        """One commit for all the records given."""
        if not records:
            return
        schema = _schema(META_TABLES[name])
        # Errors and page URLs quote URLs a source gave: none is recorded with its credentials.
        rows = [
            {key: redact_text(value) if isinstance(value, str) else value for key, value in asdict(record).items()}
            for record in records
        ]
        self.table(name).append(pa.Table.from_pylist(rows, schema=schema))

    def records_load(self, table_name: str, sha256: str) -> bool:
        """True when ``meta.ingestions`` records raw file ``sha256`` as loaded into ``table_name``, by any run."""
        condition = And(
            EqualTo("table_name", table_name),  # type: ignore[call-arg,arg-type,misc]  # pyiceberg's overloads
            EqualTo("raw_sha256", sha256),  # type: ignore[call-arg,arg-type,misc]
            EqualTo("status", "loaded"),  # type: ignore[call-arg,arg-type,misc]
        )
        scan = self.table("ingestions").refresh().scan(row_filter=condition, selected_fields=("status",), limit=1)
        return scan.to_arrow().num_rows > 0

    def read(self, name: str) -> pa.Table:
        return self.table(name).refresh().scan().to_arrow()


def _with_meta_properties(catalog: Catalog, identifier: tuple[str, str], table: Table) -> Table:
    """The table, given META_TABLE_PROPERTIES if it was created without them (by an earlier civiclake)."""
    if all(table.properties.get(key) == value for key, value in META_TABLE_PROPERTIES.items()):
        return table
    try:
        with table.transaction() as transaction:
            transaction.set_properties(META_TABLE_PROPERTIES)
    except CommitFailedException:
        # Another run set them (or appended) at the same moment: the table as it now is.
        return catalog.load_table(identifier)
    return table
