"""Tables built from Python values (JSON objects, GeoJSON features, spreadsheet cells).

Values keep the type their format gave them: numbers stay numbers, strings stay strings (no guessing from
text, unlike CSV). A column whose values disagree becomes text, each value written as its JSON text; nested
objects and arrays become JSON text too. Nothing is dropped.
"""

from __future__ import annotations

import datetime as dt
import json
import math
from abc import abstractmethod
from collections.abc import Hashable, Iterator, Mapping
from functools import cached_property

import pyarrow as pa

from civiclake.errors import FormatError
from civiclake.formats.model import DetectedFormat, TabularPart, field_with_original_name
from civiclake.naming import normalise_column_names

BATCH_ROWS = 10_000
MAX_COLUMNS = 10_000  # objects keyed by dates or ids would otherwise grow one column per record
_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1
_FLOAT_EXACT_INT = 2**53  # above this an integer loses digits in float64

_ARROW_TYPE_OF_KINDS: dict[frozenset[str], pa.DataType] = {
    frozenset({"bool"}): pa.bool_(),
    frozenset({"int"}): pa.int64(),
    frozenset({"float"}): pa.float64(),
    frozenset({"int", "float"}): pa.float64(),
    frozenset({"date"}): pa.date32(),
    frozenset({"datetime"}): pa.timestamp("us"),
    frozenset({"date", "datetime"}): pa.timestamp("us"),
    frozenset({"datetime_tz"}): pa.timestamp("us", tz="UTC"),
}


def kind_of(value: object) -> str:
    # bool before int: True is an int to Python, not to a table.
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int"
    if isinstance(value, float):
        return "float" if math.isfinite(value) else "str"
    if isinstance(value, dict | list):
        return "nested"
    if isinstance(value, dt.datetime):
        return "datetime" if value.tzinfo is None else "datetime_tz"
    if isinstance(value, dt.date):
        return "date"
    return "str"


def as_text(value: object) -> str | None:
    """A value as text that says what it was: JSON for numbers, booleans and nested values, ISO for dates."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, dt.date | dt.time):
        return value.isoformat()
    try:
        return json.dumps(value, ensure_ascii=False, default=str)
    except ValueError:
        return str(value)


class ColumnValues:
    """The kinds of values seen in one column, to decide its Arrow type."""

    def __init__(self) -> None:
        self.kinds: set[str] = set()
        self._largest_int = 0

    def observe(self, value: object) -> None:
        kind = kind_of(value)
        self.kinds.add(kind)
        if kind == "int":
            self._largest_int = max(self._largest_int, abs(value))  # type: ignore[arg-type]

    def arrow_type(self) -> pa.DataType:
        kinds = frozenset(self.kinds - {"null"})
        arrow_type = _ARROW_TYPE_OF_KINDS.get(kinds, pa.string())
        if "int" in kinds:
            if self._largest_int > _INT64_MAX and arrow_type == pa.int64():
                return pa.string()
            if self._largest_int > _FLOAT_EXACT_INT and arrow_type == pa.float64():
                return pa.string()
        return arrow_type


def to_arrow(values: list[object], arrow_type: pa.DataType) -> pa.Array:
    if pa.types.is_string(arrow_type):
        return pa.array([as_text(value) for value in values], type=arrow_type)
    if pa.types.is_timestamp(arrow_type):
        values = [dt.datetime.combine(value, dt.time()) if type(value) is dt.date else value for value in values]
    return pa.array(values, type=arrow_type)


class RecordsPart(TabularPart):
    """A part whose rows come as mappings; subclasses say where the records come from."""

    def __init__(self, name: str | None, detected: DetectedFormat) -> None:
        super().__init__(name, detected)
        self._keys: list[Hashable] = []

    @abstractmethod
    def _records(self) -> Iterator[Mapping[Hashable, object]]: ...

    def _original_name(self, key: Hashable) -> str:
        return str(key)

    def _order_columns(self, keys: list[Hashable]) -> list[Hashable]:
        return keys

    @cached_property
    def schema(self) -> pa.Schema:
        columns: dict[Hashable, ColumnValues] = {}
        row_count = 0
        for record in self._records():
            row_count += 1
            for key, value in record.items():
                column = columns.get(key)
                if column is None:
                    if len(columns) >= MAX_COLUMNS:
                        raise FormatError(f"more than {MAX_COLUMNS} distinct keys: not a table")
                    column = columns[key] = ColumnValues()
                column.observe(value)
        self.rows_read = row_count
        self._keys = self._order_columns(list(columns))
        if not self._keys:
            raise FormatError("no records to take column names from: a table needs at least one column")
        for key in self._keys:
            columns.setdefault(key, ColumnValues())  # a column the subclass always has, even with no rows
        originals = [self._original_name(key) for key in self._keys]
        return pa.schema(
            [
                field_with_original_name(name, columns[key].arrow_type(), original)
                for name, key, original in zip(normalise_column_names(originals), self._keys, originals, strict=True)
            ]
        )

    def batches(self) -> Iterator[pa.RecordBatch]:
        schema = self.schema
        self.rows_read = 0
        pending: list[Mapping[Hashable, object]] = []
        for record in self._records():
            pending.append(record)
            if len(pending) >= BATCH_ROWS:
                yield self._to_batch(pending, schema)
                pending = []
        if pending:
            yield self._to_batch(pending, schema)

    def _to_batch(self, records: list[Mapping[Hashable, object]], schema: pa.Schema) -> pa.RecordBatch:
        arrays = []
        for key, field in zip(self._keys, schema, strict=True):
            try:
                arrays.append(to_arrow([record.get(key) for record in records], field.type))
            except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError) as error:
                raise FormatError(
                    f"column {field.name!r} changed type between two reads of the file: {error}"
                ) from error
        self.rows_read += len(records)
        return pa.RecordBatch.from_arrays(arrays, schema=schema)
