"""PostgreSQL column types to Arrow types, and fetched rows to Arrow record batches.

The Parquet file of an extraction has an explicit schema taken from the table's catalog, never inferred from
values: an all-null column keeps its type, numerics keep their precision and scale (decimal128), and
timestamptz becomes timestamp[us, UTC]. Types with no faithful Arrow equivalent (uuid, json, jsonb, arrays,
enums, intervals, unbounded numeric...) are kept as text, so nothing is lost and nothing is guessed.

Values travel in the cheapest exact form for psycopg2 to parse and Arrow to convert (measured: half the time of
datetimes and Decimals): timestamps as integer microseconds since 1970, numerics as text cast by Arrow.
Timestamps of ±infinity have no such form: their table fails ("cannot convert infinity to bigint").
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pyarrow as pa
from psycopg2 import sql
from psycopg2.extensions import cursor as Cursor

TIMESTAMP_UTC = pa.timestamp("us", tz="UTC")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
MAX_DECIMAL128_PRECISION = 38

# udt_name (information_schema) -> Arrow type, for the types with an exact Arrow equivalent.
_NATIVE_TYPES: dict[str, pa.DataType] = {
    "int8": pa.int64(),
    "int4": pa.int32(),
    "int2": pa.int16(),
    "bool": pa.bool_(),
    "float8": pa.float64(),
    "float4": pa.float32(),
    "timestamptz": TIMESTAMP_UTC,
    "timestamp": pa.timestamp("us"),
    "date": pa.date32(),
    "text": pa.string(),
    "varchar": pa.string(),
    "bpchar": pa.string(),
    "name": pa.string(),
}


@dataclass(frozen=True)
class Column:
    name: str
    database_type: str  # information_schema's udt_name: int8, numeric, timestamptz, jsonb...
    arrow_type: pa.DataType  # the column's type in the Parquet file
    # How the value travels from the server: "value" (psycopg2's Python value), "text" (``::text``), or
    # "epoch_us" (timestamps as microseconds since 1970: a bigint parses far faster than a datetime).
    wire: str = "value"

    def field(self) -> pa.Field:
        return pa.field(self.name, self.arrow_type, nullable=True)

    @property
    def wire_type(self) -> pa.DataType:
        return {"text": pa.string(), "epoch_us": pa.int64()}.get(self.wire, self.arrow_type)

    def selected(self) -> sql.Composable:
        column = sql.Identifier(self.name)
        if self.wire == "text":
            return sql.SQL("{}::text AS {}").format(column, column)
        if self.wire == "epoch_us":
            # Whole seconds and the microseconds apart, both integers: exact on every server version (before
            # PostgreSQL 14, extract(epoch) is a double, which cannot hold today's microsecond epochs exactly).
            return sql.SQL(
                "(extract(epoch FROM date_trunc('second', {0}))::int8 * 1000000"
                " + mod(extract(microseconds FROM {0})::int8, 1000000)) AS {0}"
            ).format(column)
        return column

    def to_arrow(self, values: Sequence[Any]) -> pa.Array:
        array = pa.array(values, type=self.wire_type)
        return array if self.wire_type == self.arrow_type else array.cast(self.arrow_type)

    def cursor_value(self, wire_value: Any) -> Any:
        """A fetched value as the cursor saves it: timestamps back as datetimes (ISO text in the cursor)."""
        if self.wire == "epoch_us" and wire_value is not None:
            moment = _EPOCH + timedelta(microseconds=wire_value)
            return moment if self.arrow_type.tz else moment.replace(tzinfo=None)
        return wire_value


def arrow_column(name: str, udt_name: str, precision: int | None, scale: int | None) -> Column:
    """How a column is selected and typed in the extraction's Parquet file."""
    if udt_name == "numeric" and precision is not None and precision <= MAX_DECIMAL128_PRECISION:
        # As text, cast by Arrow: cheaper than a Python Decimal per value, and exact.
        return Column(name, udt_name, pa.decimal128(precision, scale or 0), wire="text")
    if udt_name in ("timestamptz", "timestamp"):
        return Column(name, udt_name, _NATIVE_TYPES[udt_name], wire="epoch_us")
    native = _NATIVE_TYPES.get(udt_name)
    if native is not None:
        return Column(name, udt_name, native)
    return Column(name, udt_name, pa.string(), wire="text")


def read_columns(cursor: Cursor, schema: str, table: str) -> list[Column]:
    """The table's columns in order; an empty list when the table does not exist (or is not visible)."""
    cursor.execute(
        """
        SELECT column_name, udt_name, numeric_precision, numeric_scale
        FROM information_schema.columns
        WHERE table_schema = %s AND table_name = %s
        ORDER BY ordinal_position
        """,
        (schema, table),
    )
    # information_schema reports the precision of integer types too: only numeric's is a declared one.
    return [
        arrow_column(name, udt, precision if udt == "numeric" else None, scale)
        for name, udt, precision, scale in cursor
    ]


def select_list(columns: Sequence[Column]) -> sql.Composable:
    return sql.SQL(", ").join(column.selected() for column in columns)


def record_batch(rows: Sequence[tuple[Any, ...]], columns: Sequence[Column], schema: pa.Schema) -> pa.RecordBatch:
    """Fetched rows as a batch of ``schema`` (the columns, then ``_deleted`` false)."""
    values = list(zip(*rows, strict=True)) if rows else [() for _ in columns]
    arrays = [column.to_arrow(column_values) for column_values, column in zip(values, columns, strict=True)]
    arrays.append(pa.array([False] * len(rows), pa.bool_()))
    return pa.RecordBatch.from_arrays(arrays, schema=schema)
