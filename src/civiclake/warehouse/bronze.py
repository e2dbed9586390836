"""Bronze loading: one tabular part of a raw file becomes one Iceberg commit.

The loader writes Parquet itself, in a stream (so memory stays flat whatever the file size), into the
table's data folder, then registers the files with ``add_files`` in a single transaction that also
carries any schema evolution. A part that can hand its rows over as a polars query (a large CSV) is
written by polars on every core, lineage columns included; any other part streams its record batches
through pyarrow, one row group per batch. A failure before the commit deletes the files it wrote: the table
never shows part of a file. A raw file already present in the table (same sha256) is not loaded again; that
check holds only if no other writer loads the table between it and the commit, so callers hold the table's lock
(``civiclake.warehouse.locks``) around ``load``.

Schema evolution: a new column is added; a column whose new values do not fit the table's type is
widened to string (Iceberg cannot promote long to string, so the table's files are rewritten with the
column as text, in the same commit) and the change is recorded in ``meta.schema_changes``.
"""

from __future__ import annotations

import contextlib
import shutil
import tempfile
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Final

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from pyiceberg.catalog import Catalog
from pyiceberg.exceptions import NoSuchTableError
from pyiceberg.expressions import AlwaysTrue, EqualTo
from pyiceberg.io.pyarrow import schema_to_pyarrow
from pyiceberg.manifest import ManifestEntryStatus
from pyiceberg.table import Table
from pyiceberg.transforms import DayTransform
from pyiceberg.types import StringType

from civiclake.errors import FormatError, SchemaConflictError
from civiclake.formats import TabularPart
from civiclake.formats.csv import CsvPart
from civiclake.formats.model import ORIGINAL_NAME_KEY
from civiclake.lake.filesystem import LakeStorage
from civiclake.naming import bound_length
from civiclake.warehouse.meta import SchemaChangeRecord

if TYPE_CHECKING:
    import polars as pl

NAMESPACE = "bronze"
_TS = pa.timestamp("us", tz="UTC")
LINEAGE_SCHEMA = pa.schema(
    [
        pa.field("_source", pa.string(), metadata={b"doc": b"Source connector (datagouv, postgres, files, rest)"}),
        pa.field("_dataset_id", pa.string(), metadata={b"doc": b"Dataset id at the source"}),
        pa.field("_resource_id", pa.string(), metadata={b"doc": b"Resource id at the source"}),
        pa.field("_extracted_at", _TS, metadata={b"doc": b"When the raw file was downloaded"}),
        pa.field("_ingested_at", _TS, metadata={b"doc": b"When the row was committed to bronze"}),
        pa.field("_raw_path", pa.string(), metadata={b"doc": b"Raw file in the lake this row comes from"}),
        pa.field("_raw_sha256", pa.string(), metadata={b"doc": b"SHA-256 of the raw file"}),
        pa.field("_batch_id", pa.string(), metadata={b"doc": b"Sync run that loaded the row"}),
        pa.field("_row_number", pa.int64(), metadata={b"doc": b"1-based row number within the file part"}),
    ]
)
LINEAGE_COLUMNS = frozenset(LINEAGE_SCHEMA.names)
RAW_SHA_PROPERTY = "civiclake.raw-sha256"
_ORIGINAL_NAME_DOC = b"original name: "  # a data column's doc: the header it came from
# Casts that keep every value: the table's type can take the new values as they are.
_SAFE_CASTS = {(pa.int64(), pa.float64()), (pa.date32(), pa.timestamp("us")), (pa.date32(), _TS)}
# Every bronze file, whichever writer: zstd at level 1 (Arrow's default level). On the 1 GiB benchmark file
# polars' default level 3 made files 9% smaller for 11% more CPU in the write; bronze is written once per
# download and compacted later, so the write's speed matters more.
_PARQUET_COMPRESSION: Final = "zstd"
_PARQUET_COMPRESSION_LEVEL: Final = 1


@dataclass(frozen=True)
class Lineage:
    source: str
    dataset_id: str
    resource_id: str
    extracted_at: datetime
    ingested_at: datetime
    raw_path: str
    raw_sha256: str
    batch_id: str


@dataclass
class LoadResult:
    table_name: str
    rows: int
    status: str  # loaded | unchanged (the table already holds this raw file)
    schema_changes: list[SchemaChangeRecord] = field(default_factory=list)


@dataclass(frozen=True)
class CommittedFile:
    """What a table's rows say about the load of one raw file: the run, the file kept, the count, the moments."""

    batch_id: str
    raw_path: str
    rows: int
    extracted_at: datetime
    ingested_at: datetime


@dataclass(frozen=True)
class _Plan:
    """How an incoming part meets the table: columns to add, columns to widen, the final schema, and the
    table's data columns the part does not have (null in its rows)."""

    added: list[pa.Field]
    widened: list[str]
    target: pa.Schema
    absent: list[str] = field(default_factory=list)


class BronzeLoader:
    def __init__(self, catalog: Catalog, warehouse: LakeStorage, scratch_dir: Path | None = None) -> None:
        self.catalog = catalog
        self.warehouse = warehouse
        # Where a file bound for an object store is written first: the run's scratch folder, sized for
        # downloads (a pod's /tmp may not be), else the system's temporary folder.
        self.scratch_dir = scratch_dir

    def load(self, table_name: str, part: TabularPart, lineage: Lineage, properties: dict[str, str]) -> LoadResult:
        identifier = (NAMESPACE, table_name)
        try:
            table: Table | None = self.catalog.load_table(identifier)
        except NoSuchTableError:
            table = None
        if table is not None and self.holds_raw_file(table, lineage.raw_sha256):
            return LoadResult(table_name, 0, "unchanged")
        try:
            return self._load(identifier, table, part, lineage, properties)
        except _SampleRefuted:
            # A row past the sample broke a type the sample had decided: the part checks every row and the
            # write starts again, from a schema that may differ (the first attempt's file is gone).
            assert isinstance(part, CsvPart)  # the only part whose types can come from a sample
            part.settle()
            return self._load(identifier, table, part, lineage, properties)

    def _load(
        self,
        identifier: tuple[str, str],
        table: Table | None,
        part: TabularPart,
        lineage: Lineage,
        properties: dict[str, str],
    ) -> LoadResult:
        incoming = _with_lineage(part.schema)
        current = schema_to_pyarrow(table.schema(), include_field_ids=False) if table else None
        renames: dict[str, str] = {}
        if current is not None:
            incoming, renames = _bind_to_table_columns(current, incoming)
        plan = _plan(current, incoming)
        location = table.location() if table else self.catalog_location(identifier)
        written: list[str] = []
        try:
            data_file, rows = self._write_part(location, part, lineage, plan.target, written, renames)
            changes = self._commit(identifier, table, plan, incoming, [data_file], lineage, properties, written)
        except BaseException:
            for uri in written:
                self._delete_quietly(uri)
            raise
        return LoadResult(identifier[1], rows, "loaded", changes)

    def holds_raw_file(self, table: Table, sha256: str) -> bool:
        """True when some row of the table came from this raw file: the data is the record."""
        row_filter = EqualTo("_raw_sha256", sha256)  # type: ignore[call-arg,arg-type,misc]  # pyiceberg's overloads
        scan = table.scan(row_filter=row_filter, selected_fields=("_raw_sha256",), limit=1)
        return scan.to_arrow().num_rows > 0

    def committed_file(self, table_name: str, sha256: str) -> CommittedFile | None:
        """The load of raw file ``sha256`` into ``table_name`` (``bronze.x``) as its rows record it, or None."""
        table = self.catalog.load_table(table_name)
        row_filter = EqualTo("_raw_sha256", sha256)  # type: ignore[call-arg,arg-type,misc]  # pyiceberg's overloads
        columns = ("_batch_id", "_raw_path", "_extracted_at", "_ingested_at")
        found: CommittedFile | None = None
        rows = 0
        for batch in table.scan(row_filter=row_filter, selected_fields=columns).to_arrow_batch_reader():
            if batch.num_rows == 0:
                continue
            rows += batch.num_rows
            if found is None:
                first = batch.slice(0, 1).to_pylist()[0]
                found = CommittedFile(
                    first["_batch_id"], first["_raw_path"], 0, first["_extracted_at"], first["_ingested_at"]
                )
        return None if found is None else replace(found, rows=rows)

    def catalog_location(self, identifier: tuple[str, str]) -> str:
        return self.warehouse.uri(f"{identifier[0]}/{identifier[1]}")

    def _write_part(
        self,
        location: str,
        part: TabularPart,
        lineage: Lineage,
        target: pa.Schema,
        written: list[str],
        renames: dict[str, str],
    ) -> tuple[str, int]:
        """Write the part in the table's layout; ``renames`` maps a part's column to the table column it fills."""
        day = lineage.extracted_at.date()
        uri = _data_file_uri(location, day, lineage.batch_id)
        written.append(uri)
        query = _polars_query(part, lineage, target, renames)
        if query is not None:
            try:
                return uri, self._sink(query, uri)
            except _QueryFailed as error:
                if isinstance(part, CsvPart) and part.types_from_sample:
                    raise _SampleRefuted from error
                # Checked types only fail when the file no longer has the values they came from.
                raise FormatError(f"the file changed while it was read, or cannot be written: {error}") from error
        rows = 0
        with self._parquet_writer(uri, target) as writer:
            for batch in part.batches():
                if batch.num_rows == 0:
                    continue
                writer.write_batch(_conform(batch, target, lineage, first_row=rows + 1, renames=renames))
                rows += batch.num_rows
        return uri, rows

    def _sink(self, query: pl.LazyFrame, uri: str) -> int:
        """Run the query into the Parquet file at ``uri``; polars writes straight into a local warehouse, and
        into a local file that is then uploaded for an object store."""
        import polars as pl  # imported by the fast path only: runs without a large CSV never load it

        path = self._fs_path(uri)
        filesystem = self.warehouse.filesystem
        local = (
            Path(path)
            if self.warehouse.is_local
            else Path(tempfile.mkdtemp(prefix="civiclake-bronze-", dir=self.scratch_dir)) / "part"
        )
        try:
            local.parent.mkdir(parents=True, exist_ok=True)
            try:
                query.sink_parquet(
                    local,
                    compression=_PARQUET_COMPRESSION,
                    compression_level=_PARQUET_COMPRESSION_LEVEL,
                    statistics=True,
                )
            except pl.exceptions.PolarsError as error:
                raise _QueryFailed(str(error)) from error
            rows = pq.read_metadata(local).num_rows
            if not self.warehouse.is_local:
                filesystem.create_dir(path.rsplit("/", 1)[0], recursive=True)
                with local.open("rb") as source, filesystem.open_output_stream(path) as sink:
                    shutil.copyfileobj(source, sink, 8 * 1024 * 1024)
        finally:
            if not self.warehouse.is_local:
                shutil.rmtree(local.parent, ignore_errors=True)
        return rows

    def _commit(
        self,
        identifier: tuple[str, str],
        table: Table | None,
        plan: _Plan,
        incoming: pa.Schema,
        data_files: list[str],
        lineage: Lineage,
        properties: dict[str, str],
        written: list[str],
    ) -> list[SchemaChangeRecord]:
        snapshot_properties = {RAW_SHA_PROPERTY: lineage.raw_sha256, "civiclake.batch-id": lineage.batch_id}
        if table is None:
            with self.catalog.create_table_transaction(
                identifier, schema=incoming, properties=properties
            ) as transaction:
                with transaction.update_spec() as spec:
                    spec.add_field("_extracted_at", DayTransform(), "_extracted_at_day")
                transaction.add_files(data_files, snapshot_properties=snapshot_properties)
            return []

        changes = self._schema_changes(identifier, table, plan, lineage)
        rewritten = self._rewrite_widened(table, plan, lineage, written) if plan.widened else []
        with table.transaction() as transaction:
            if plan.widened:
                with transaction.update_schema() as update:
                    for name in plan.widened:
                        update.delete_column(name)
                with transaction.update_schema() as update:
                    for name in plan.widened:
                        update.add_column(name, StringType(), doc=_doc(incoming.field(name)))
                transaction.delete(AlwaysTrue(), snapshot_properties=snapshot_properties)
            if plan.added:
                with transaction.update_schema() as update:
                    update.union_by_name(pa.schema(plan.added))
            transaction.add_files(rewritten + data_files, snapshot_properties=snapshot_properties)
            transaction.set_properties(properties)
        return changes

    def _rewrite_widened(self, table: Table, plan: _Plan, lineage: Lineage, written: list[str]) -> list[str]:
        """Copy the table's rows into new files with the widened columns as text, one file per day."""
        writers: dict[date, tuple[str, pq.ParquetWriter]] = {}
        try:
            for batch in table.scan().to_arrow_batch_reader():
                days = pc.cast(batch.column("_extracted_at"), pa.date32())
                for day in pc.unique(days).to_pylist():
                    rows = batch.filter(pc.equal(days, pa.scalar(day, pa.date32())))
                    if day not in writers:
                        uri = _data_file_uri(table.location(), day, f"{lineage.batch_id}-rewrite")
                        written.append(uri)
                        writers[day] = (uri, self._parquet_writer(uri, plan.target))
                    writers[day][1].write_batch(_cast_to(rows, plan.target))
        finally:
            for _, writer in writers.values():
                writer.close()
        return [uri for uri, _ in writers.values()]

    def _schema_changes(
        self, identifier: tuple[str, str], table: Table, plan: _Plan, lineage: Lineage
    ) -> list[SchemaChangeRecord]:
        current = schema_to_pyarrow(table.schema(), include_field_ids=False)
        name = ".".join(identifier)
        changes = [
            SchemaChangeRecord(
                lineage.ingested_at,
                lineage.batch_id,
                name,
                added.name,
                "added",
                None,
                str(added.type),
                lineage.raw_path,
            )
            for added in plan.added
        ]
        changes += [
            SchemaChangeRecord(
                lineage.ingested_at,
                lineage.batch_id,
                name,
                column,
                "widened_to_string",
                str(current.field(column).type),
                "string",
                lineage.raw_path,
            )
            for column in plan.widened
        ]
        # A column is removed when the part lacks it and the table's last load had it; later loads without it
        # say nothing new. A renamed column shows as one removed and one added in the same load.
        last_loaded = _columns_with_values_in_last_load(table) if plan.absent else set()
        changes += [
            SchemaChangeRecord(
                lineage.ingested_at,
                lineage.batch_id,
                name,
                column,
                "removed",
                str(current.field(column).type).replace("large_string", "string"),
                str(current.field(column).type).replace("large_string", "string"),
                lineage.raw_path,
            )
            for column in plan.absent
            if column in last_loaded
        ]
        return changes

    def _parquet_writer(self, uri: str, schema: pa.Schema) -> pq.ParquetWriter:
        path = self._fs_path(uri)
        self.warehouse.filesystem.create_dir(path.rsplit("/", 1)[0], recursive=True)
        return pq.ParquetWriter(
            path,
            schema,
            filesystem=self.warehouse.filesystem,
            compression=_PARQUET_COMPRESSION,
            compression_level=_PARQUET_COMPRESSION_LEVEL,
        )

    def _fs_path(self, uri: str) -> str:
        for scheme in ("file://", "s3://", "s3a://"):
            if uri.startswith(scheme):
                return uri[len(scheme) :]
        return uri

    def _delete_quietly(self, uri: str) -> None:
        with contextlib.suppress(OSError):  # never written, or gone: nothing was committed either way
            self.warehouse.filesystem.delete_file(self._fs_path(uri))


class _QueryFailed(Exception):
    """polars stopped the write: a strict conversion refused a value, or the file could not be read."""


class _SampleRefuted(Exception):
    """A part whose types came from its sample failed its write: a later row refuted them."""


def _columns_with_values_in_last_load(table: Table) -> set[str]:
    """Columns with a non-null value in the files the table's current snapshot added, from their statistics."""
    snapshot = table.current_snapshot()
    if snapshot is None:
        return set()
    schema = table.schema()
    found: set[str] = set()
    for manifest in snapshot.manifests(table.io):
        if manifest.added_snapshot_id != snapshot.snapshot_id:
            continue
        for entry in manifest.fetch_manifest_entry(table.io, discard_deleted=True):
            if entry.status != ManifestEntryStatus.ADDED:
                continue
            data_file = entry.data_file
            nulls = data_file.null_value_counts or {}
            for field_id, name in ((item.field_id, item.name) for item in schema.fields):
                # No statistics for a column: count it as loaded rather than miss a removal.
                if nulls.get(field_id, 0) < data_file.record_count:
                    found.add(name)
    return found


def _data_file_uri(location: str, day: date, batch_id: str) -> str:
    return f"{location.rstrip('/')}/data/_extracted_at_day={day.isoformat()}/{batch_id}-{uuid.uuid4().hex}.parquet"


def _with_lineage(schema: pa.Schema) -> pa.Schema:
    clash = LINEAGE_COLUMNS.intersection(schema.names)
    if clash:
        raise SchemaConflictError(f"the file has columns named like lineage columns: {sorted(clash)}")
    fields = []
    for item in schema:
        metadata = dict(item.metadata or {})
        if ORIGINAL_NAME_KEY in metadata and b"doc" not in metadata:
            metadata[b"doc"] = _ORIGINAL_NAME_DOC + metadata[ORIGINAL_NAME_KEY]
        fields.append(item.with_metadata(metadata).with_nullable(True))
    return pa.schema([*fields, *LINEAGE_SCHEMA])


def _original_name(item: pa.Field) -> str | None:
    """The header a column came from: the part's own metadata, or the doc the table keeps for it."""
    metadata = item.metadata or {}
    if ORIGINAL_NAME_KEY in metadata:
        return metadata[ORIGINAL_NAME_KEY].decode()
    doc = metadata.get(b"doc", b"")
    return doc[len(_ORIGINAL_NAME_DOC) :].decode() if doc.startswith(_ORIGINAL_NAME_DOC) else None


def _bind_to_table_columns(current: pa.Schema, incoming: pa.Schema) -> tuple[pa.Schema, dict[str, str]]:
    """The incoming schema renamed to the table's columns, and the renames (part column -> table column).

    Normalised names depend on the order of the headers that collide: ``Code postal;code_postal`` gives
    ``code_postal, code_postal_2`` and ``code_postal;Code postal`` the reverse. A header the table already knows
    (by the original name its column's doc keeps) goes to that column; any other keeps its name when that is
    free, else takes the next free suffix. Original names that repeat, in the table or in the part, bind by
    name as before: they cannot tell their columns apart.
    """
    table_originals = Counter(_original_name(item) for item in current)
    part_originals = Counter(_original_name(item) for item in incoming)
    by_original = {
        original: item.name
        for item in current
        if (original := _original_name(item)) is not None and table_originals[original] == 1
    }
    bound: dict[str, str] = {}
    for item in incoming:
        original = _original_name(item)
        if original in by_original and part_originals[original] == 1:
            bound[item.name] = by_original[original]
    taken = set(bound.values())
    unbound = [item.name for item in incoming if item.name not in bound]
    for name in unbound:
        if name not in taken:
            bound[name] = name
            taken.add(name)
    for name in unbound:
        if name in bound:
            continue
        suffix = 2
        while (candidate := bound_length(f"{name}_{suffix}")) in taken or candidate in current.names:
            suffix += 1
        bound[name] = candidate
        taken.add(candidate)
    renamed = pa.schema([item.with_name(bound[item.name]) for item in incoming])
    return renamed, {name: target for name, target in bound.items() if name != target}


def _columns_by_table_name(part_columns: list[str], renames: dict[str, str]) -> dict[str, str]:
    """Table column -> the part's column that fills it."""
    return {renames.get(name, name): name for name in part_columns}


def _doc(item: pa.Field) -> str | None:
    doc = (item.metadata or {}).get(b"doc")
    return doc.decode() if doc else None


def _plan(current: pa.Schema | None, incoming: pa.Schema) -> _Plan:
    if current is None:
        return _Plan([], [], _strip_metadata(incoming))
    added = [item for item in incoming if item.name not in current.names]
    widened = []
    for item in incoming:
        if item.name not in current.names:
            continue
        existing = current.field(item.name).type
        # A text column takes any value as text (Iceberg's string reads back as Arrow's large_string).
        if existing == item.type or _is_text(existing) or (item.type, existing) in _SAFE_CASTS:
            continue
        widened.append(item.name)
    absent = [name for name in current.names if name not in incoming.names and name not in LINEAGE_COLUMNS]
    # Iceberg re-adds a widened column at the end; the Parquet layout follows the same order.
    kept = [item.remove_metadata() for item in current if item.name not in widened]
    target = pa.schema(kept + [item.remove_metadata() for item in added] + [pa.field(n, pa.string()) for n in widened])
    return _Plan(added, widened, target, absent)


def _is_text(data_type: pa.DataType) -> bool:
    return pa.types.is_string(data_type) or pa.types.is_large_string(data_type)


def _strip_metadata(schema: pa.Schema) -> pa.Schema:
    return pa.schema([item.remove_metadata() for item in schema])


def _conform(
    batch: pa.RecordBatch, target: pa.Schema, lineage: Lineage, first_row: int, renames: dict[str, str]
) -> pa.RecordBatch:
    """The batch in the table's layout: file columns cast, lineage filled in, absent columns null."""
    size = batch.num_rows
    sources = _columns_by_table_name(batch.schema.names, renames)
    constants = {
        "_source": lineage.source,
        "_dataset_id": lineage.dataset_id,
        "_resource_id": lineage.resource_id,
        "_extracted_at": lineage.extracted_at,
        "_ingested_at": lineage.ingested_at,
        "_raw_path": lineage.raw_path,
        "_raw_sha256": lineage.raw_sha256,
        "_batch_id": lineage.batch_id,
    }
    columns = []
    for item in target:
        if item.name == "_row_number":
            columns.append(pa.array(range(first_row, first_row + size), pa.int64()))
        elif item.name in constants:
            columns.append(pa.repeat(pa.scalar(constants[item.name], item.type), size))
        elif item.name in sources:
            columns.append(_cast_column(batch.column(sources[item.name]), item.type))
        else:
            columns.append(pa.nulls(size, item.type))
    return pa.RecordBatch.from_arrays(columns, schema=target)


def _polars_query(
    part: TabularPart, lineage: Lineage, target: pa.Schema, renames: dict[str, str]
) -> pl.LazyFrame | None:
    """The part's rows in the table's layout as a polars query, or None when they must stream through pyarrow.

    Only columns whose type is already the table's go this way: a column to cast (a table that widened it,
    say) takes the pyarrow path, whose casts are the ones the rest of the loader uses.
    """
    frame = part.lazy_frame() if isinstance(part, CsvPart) else None
    if frame is None:
        return None
    import polars as pl

    # Column types polars writes as the table has them; a table column of another type takes the pyarrow path.
    polars_types: dict[pa.DataType, pl.DataType] = {
        pa.string(): pl.String(),
        pa.large_string(): pl.String(),
        pa.int64(): pl.Int64(),
        pa.float64(): pl.Float64(),
        pa.bool_(): pl.Boolean(),
        pa.date32(): pl.Date(),
        pa.timestamp("us"): pl.Datetime("us"),
        _TS: pl.Datetime("us", "UTC"),
    }
    constants = {
        "_source": lineage.source,
        "_dataset_id": lineage.dataset_id,
        "_resource_id": lineage.resource_id,
        "_raw_path": lineage.raw_path,
        "_raw_sha256": lineage.raw_sha256,
        "_batch_id": lineage.batch_id,
    }
    instants = {"_extracted_at": lineage.extracted_at, "_ingested_at": lineage.ingested_at}
    file_schema = part.schema
    sources = _columns_by_table_name(file_schema.names, renames)
    columns: list[pl.Expr] = []
    for item in target:
        polars_type = polars_types.get(item.type)
        if polars_type is None:
            return None
        if item.name == "_row_number":
            columns.append(pl.col("_row_number").cast(pl.Int64))
        elif item.name in constants:
            columns.append(pl.lit(constants[item.name], dtype=pl.String).alias(item.name))
        elif item.name in instants:
            columns.append(pl.lit(instants[item.name], dtype=polars_type).alias(item.name))
        elif item.name in sources:
            if polars_types.get(file_schema.field(sources[item.name]).type) != polars_type:
                return None
            columns.append(pl.col(sources[item.name]).alias(item.name))
        else:
            columns.append(pl.lit(None, dtype=polars_type).alias(item.name))
    # 1-based row numbers within the part, as the batch path counts them.
    return frame.with_row_index("_row_number", offset=1).select(columns)


def _cast_to(batch: pa.RecordBatch, target: pa.Schema) -> pa.RecordBatch:
    columns = [
        _cast_column(batch.column(item.name), item.type)
        if item.name in batch.schema.names
        else pa.nulls(batch.num_rows, item.type)
        for item in target
    ]
    return pa.RecordBatch.from_arrays(columns, schema=target)


def _cast_column(column: pa.Array, target_type: pa.DataType) -> pa.Array:
    if column.type == target_type:
        return column
    if _is_text(target_type) and (pa.types.is_date(column.type) or pa.types.is_timestamp(column.type)):
        return pc.cast(pc.cast(column, pa.string()), target_type)
    return pc.cast(column, target_type)


def iter_rows(table: Table) -> Iterator[dict[str, object]]:
    """Every row of a bronze table, for tests and small tools."""
    for batch in table.scan().to_arrow_batch_reader():
        yield from batch.to_pylist()
