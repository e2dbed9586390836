"""Silver and gold as Iceberg tables: what dbt built in DuckDB, copied to the lakehouse's catalog.

Each relation becomes ``silver.<name>`` or ``gold.<name>`` (the namespace is the dbt schema). Its previous
content is replaced in one Iceberg transaction — schema change, delete of the old rows, append of the new —
so Trino, ``civiclake sql`` and every other reader see either the previous version or the new one, never a
half-written table. Because the old rows go in the same commit, any schema change is allowed: columns dropped,
added, retyped or moved. Rows stream from DuckDB in batches; the transaction holds the data files written,
not the rows.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pyarrow as pa
from pyiceberg.catalog import Catalog
from pyiceberg.exceptions import NoSuchTableError
from pyiceberg.expressions import AlwaysTrue
from pyiceberg.io.pyarrow import _ConvertToIcebergWithoutIDs, visit_pyarrow
from pyiceberg.schema import Schema
from pyiceberg.table import Table, Transaction

from civiclake.transform.duckdb_database import open_database
from civiclake.transform.project import TransformError

BATCH_ROWS = 250_000
# DuckDB types Iceberg has no equivalent for, as the Arrow types they are written as.
_UNSIGNED_TO_SIGNED = {
    pa.uint8(): pa.int16(),
    pa.uint16(): pa.int32(),
    pa.uint32(): pa.int64(),
    pa.uint64(): pa.decimal128(20, 0),
}


@dataclass(frozen=True)
class Relation:
    """A table or view dbt built, to publish."""

    schema: str
    name: str
    unique_id: str
    description: str = ""
    column_descriptions: Mapping[str, str] | None = None


@dataclass(frozen=True)
class PublishedTable:
    identifier: str
    rows: int
    snapshot_id: int | None


def publish_relations(
    catalog: Catalog, database: Path, extensions_dir: Path, relations: list[Relation]
) -> list[PublishedTable]:
    """Copy each relation from the DuckDB file to its Iceberg table, one commit per table."""
    connection = open_database(database, extensions_dir, read_only=True)
    try:
        return [_publish(catalog, connection, relation) for relation in relations]
    finally:
        connection.close()


def _publish(catalog: Catalog, connection: duckdb.DuckDBPyConnection, relation: Relation) -> PublishedTable:
    identifier = (relation.schema, relation.name)
    qualified = f'"{relation.schema}"."{relation.name}"'
    try:
        reader = connection.execute(f"SELECT * FROM {qualified}").to_arrow_reader(BATCH_ROWS)
    except duckdb.Error as error:
        raise TransformError(f"{relation.unique_id}: cannot read {qualified} from DuckDB: {error}") from error
    arrow_schema = _iceberg_ready(reader.schema, relation)
    catalog.create_namespace_if_not_exists(relation.schema)
    properties = {"comment": relation.description, "civiclake.dbt-node": relation.unique_id}
    try:
        table = catalog.load_table(identifier)
    except NoSuchTableError:
        table = catalog.create_table(identifier, schema=arrow_schema, properties=properties)
    rows = 0
    with table.transaction() as transaction:
        _replace_schema(transaction, table, arrow_schema)
        with warnings.catch_warnings():  # replacing an empty table is no cause for a warning
            warnings.filterwarnings("ignore", message="Delete operation did not match any records")
            transaction.delete(AlwaysTrue())
        for batch in _batches(reader, arrow_schema):
            transaction.append(batch)
            rows += batch.num_rows
        transaction.set_properties(properties)
    snapshot = table.current_snapshot()
    return PublishedTable(".".join(identifier), rows, snapshot.snapshot_id if snapshot else None)


def _iceberg_ready(schema: pa.Schema, relation: Relation) -> pa.Schema:
    """The Arrow schema to write: column descriptions as field docs, types Iceberg can hold."""
    descriptions = relation.column_descriptions or {}
    fields = []
    for field in schema:
        field_type = field.type
        if field_type in _UNSIGNED_TO_SIGNED:
            field_type = _UNSIGNED_TO_SIGNED[field_type]
        elif pa.types.is_timestamp(field_type) and field_type.tz is not None:
            field_type = pa.timestamp("us", tz="UTC")
        elif pa.types.is_timestamp(field_type):
            field_type = pa.timestamp("us")
        elif pa.types.is_string_view(field_type) or pa.types.is_large_string(field_type):
            field_type = pa.string()
        elif not _supported(field_type):
            raise TransformError(
                f"{relation.unique_id}: column {field.name!r} has type {field_type}, which Iceberg cannot hold; "
                "cast it in the model"
            )
        metadata = {b"doc": descriptions[field.name].encode()} if descriptions.get(field.name) else None
        fields.append(pa.field(field.name, field_type, nullable=True, metadata=metadata))
    return pa.schema(fields)


def _supported(field_type: pa.DataType) -> bool:
    return any(
        check(field_type)
        for check in (
            pa.types.is_boolean,
            pa.types.is_integer,
            pa.types.is_floating,
            pa.types.is_decimal,
            pa.types.is_string,
            pa.types.is_binary,
            pa.types.is_date,
            pa.types.is_time,
            pa.types.is_timestamp,
            pa.types.is_list,
            pa.types.is_struct,
            pa.types.is_map,
        )
    )


def _replace_schema(transaction: Transaction, table: Table, incoming: pa.Schema) -> None:
    """Make the table's schema exactly ``incoming`` (names, types, order, docs) inside the transaction."""
    wanted = _to_iceberg(incoming)
    current = table.schema()
    if _same_columns(current, wanted):
        return
    wanted_types = {field.name: field.field_type for field in wanted.fields}
    dropped = [
        field.name
        for field in current.fields
        if field.name not in wanted_types or field.field_type != wanted_types[field.name]
    ]
    # The table's rows are all replaced in this same commit, so even a type Iceberg cannot promote (a text
    # column becoming a number) is a drop and an add.
    if dropped:
        with transaction.update_schema(allow_incompatible_changes=True) as update:
            for name in dropped:
                update.delete_column(name)
    with transaction.update_schema() as update:
        update.union_by_name(incoming)
        kept_docs = {field.name: field.doc for field in current.fields if field.name not in dropped}
        for field in wanted.fields:
            if field.name in kept_docs and kept_docs[field.name] != field.doc:
                update.update_column(field.name, doc=field.doc)
        previous = None
        for field in wanted.fields:
            if previous is None:
                update.move_first(field.name)
            else:
                update.move_after(field.name, previous)
            previous = field.name


def _to_iceberg(schema: pa.Schema) -> Schema:
    """The Iceberg schema an Arrow schema converts to, without field ids (compared by name, type and doc)."""
    converted = visit_pyarrow(schema, _ConvertToIcebergWithoutIDs())
    assert isinstance(converted, Schema)
    return converted


def _same_columns(current: Schema, wanted: Schema) -> bool:
    return [(f.name, f.field_type, f.doc) for f in current.fields] == [
        (f.name, f.field_type, f.doc) for f in wanted.fields
    ]


def _batches(reader: pa.RecordBatchReader, schema: pa.Schema) -> Iterator[pa.Table]:
    for batch in reader:
        if batch.num_rows:
            yield pa.Table.from_batches([batch]).cast(schema)
