"""The erasure tombstones: what a sync must never bring back, held as pseudonyms only.

An erased person is usually still in the source (the shop keeps its customers; civiclake only stops keeping them).
Each erasure adds, per source table, the pseudonyms of the values that found the person's rows there (``users.id``,
``orders.user_id``, ``order_items.order_id`` of their orders...) and of those rows' own keys. Every extraction
drops the rows and keys whose value's pseudonym is listed before anything is written, so neither the raw files nor
bronze nor the key sets ever hold the person again. The list holds HMAC pseudonyms under the lakehouse's key:
without the key, nobody can tell whom it names.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime

import pyarrow as pa
import pyarrow.compute as pc
from pyiceberg.catalog import Catalog
from pyiceberg.exceptions import NoSuchTableError

from civiclake.config import Settings
from civiclake.privacy.keys import pseudonym, pseudonymisation_key
from civiclake.warehouse.catalog import open_catalog

TOMBSTONES_TABLE = ("meta", "privacy_tombstones")
TOMBSTONES_SCHEMA = pa.schema(
    [
        pa.field("source", pa.string(), nullable=False),
        pa.field("table_name", pa.string(), nullable=False),  # the source's own table name
        pa.field("column_name", pa.string(), nullable=False),
        pa.field("value_pseudonym", pa.string(), nullable=False),
        pa.field("erasure_id", pa.string(), nullable=False),
        pa.field("erased_at", pa.timestamp("us", tz="UTC"), nullable=False),
    ]
)


@dataclass
class Tombstones:
    """The pseudonyms to drop, per source table and column."""

    key: str
    by_table: dict[str, dict[str, set[str]]] = field(default_factory=dict)

    @classmethod
    def load(cls, catalog: Catalog, source: str, key: str) -> Tombstones:
        tombstones = cls(key)
        try:
            table = catalog.load_table(TOMBSTONES_TABLE)
        except NoSuchTableError:
            return tombstones
        for row in table.scan().to_arrow().to_pylist():
            if row["source"] == source:
                columns = tombstones.by_table.setdefault(row["table_name"], {})
                columns.setdefault(row["column_name"], set()).add(row["value_pseudonym"])
        return tombstones

    def for_table(self, table: str) -> Mapping[str, set[str]]:
        return self.by_table.get(table, {})

    def erased(self, table: str, column: str, values: Iterable[object]) -> list[bool]:
        """For each value, whether its pseudonym is a tombstone of that table's column (nulls never are)."""
        listed = self.for_table(table).get(column, set())
        return [value is not None and pseudonym(self.key, value) in listed for value in values]

    def filter_batch(self, table: str, batch: pa.RecordBatch) -> pa.RecordBatch:
        """The batch without the rows a tombstone names."""
        columns = self.for_table(table)
        if not columns or batch.num_rows == 0:
            return batch
        drop = [False] * batch.num_rows
        for column, _ in columns.items():
            if column in batch.schema.names:
                hits = self.erased(table, column, batch.column(column).to_pylist())
                drop = [before or hit for before, hit in zip(drop, hits, strict=True)]
        if not any(drop):
            return batch
        return batch.filter(pc.invert(pa.array(drop, pa.bool_())))

    def filter_keys(self, table: str, key_column: str, keys: pa.Array) -> pa.Array:
        if key_column not in self.for_table(table):
            return keys
        hits = self.erased(table, key_column, keys.to_pylist())
        return keys.filter(pc.invert(pa.array(hits, pa.bool_()))) if any(hits) else keys


def tombstone_rows(
    source: str, entries: Mapping[tuple[str, str], set[object]], key: str, erasure_id: str, erased_at: datetime
) -> pa.Table:
    """Rows of ``meta.privacy_tombstones`` for (table, column) -> the erased values (pseudonymised here)."""
    rows = [
        {
            "source": source,
            "table_name": table,
            "column_name": column,
            "value_pseudonym": pseudonym(key, value),
            "erasure_id": erasure_id,
            "erased_at": erased_at,
        }
        for (table, column), values in sorted(entries.items())
        for value in sorted(values, key=str)
    ]
    return pa.Table.from_pylist(rows, schema=TOMBSTONES_SCHEMA)


def append_tombstones(catalog: Catalog, rows: pa.Table) -> None:
    table = catalog.create_table_if_not_exists(TOMBSTONES_TABLE, schema=TOMBSTONES_SCHEMA)
    table.append(rows)


def load_tombstones(settings: Settings, source: str) -> Tombstones | None:
    """The source's tombstones, or None when nobody was ever erased from it (no key needed then)."""
    catalog = open_catalog(settings)
    if not catalog.table_exists(TOMBSTONES_TABLE):
        return None
    tombstones = Tombstones.load(catalog, source, pseudonymisation_key(settings))
    return tombstones if tombstones.by_table else None
