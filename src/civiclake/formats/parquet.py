"""Parquet: column types are kept as written; only the names are normalised."""

from __future__ import annotations

from collections.abc import Iterator
from functools import cached_property
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from civiclake.errors import FormatError
from civiclake.formats.model import ORIGINAL_NAME_KEY, DetectedFormat, TabularPart
from civiclake.naming import normalise_column_names

_BATCH_ROWS = 64 * 1024
# Change-data columns civiclake's own database connectors write keep their leading underscore, like the lineage
# columns: `_deleted` marks the tombstone rows of hard deletes (sources/postgres).
KEPT_COLUMN_NAMES = frozenset({"_deleted"})


class ParquetPart(TabularPart):
    def __init__(self, path: Path, detected: DetectedFormat, name: str | None) -> None:
        super().__init__(name, detected)
        self._path = path

    def _open(self) -> pq.ParquetFile:
        try:
            return pq.ParquetFile(self._path)
        except (pa.ArrowInvalid, OSError) as error:
            raise FormatError(f"not a readable parquet file: {error}") from error

    @cached_property
    def schema(self) -> pa.Schema:
        with self._open() as parquet_file:
            written = parquet_file.schema_arrow
        names = [
            original if original in KEPT_COLUMN_NAMES else name
            for original, name in zip(written.names, normalise_column_names(written.names), strict=True)
        ]
        fields = [
            field.with_name(name).with_metadata({**(field.metadata or {}), ORIGINAL_NAME_KEY: field.name.encode()})
            for field, name in zip(written, names, strict=True)
        ]
        # Schema-level metadata (pandas' index description...) names the original columns: dropped.
        return pa.schema(fields)

    def batches(self) -> Iterator[pa.RecordBatch]:
        schema = self.schema
        self.rows_read = 0
        with self._open() as parquet_file:
            try:
                for batch in parquet_file.iter_batches(batch_size=_BATCH_ROWS):
                    self.rows_read += batch.num_rows
                    yield pa.RecordBatch.from_arrays(batch.columns, schema=schema)
            except (pa.ArrowInvalid, OSError) as error:
                raise FormatError(f"parquet file cannot be read: {error}") from error
