"""Incremental extraction of PostgreSQL tables into Parquet files, one resource per table.

One run reads every table in a single REPEATABLE READ, READ ONLY transaction, opened on the first fetch and
closed by ``close()``: all tables come from one consistent snapshot, so an order extracted in this run never
points at a user that only the next run will see. Each table is read inside a savepoint, so a table that fails
(dropped, unreadable) does not abort the transaction for the tables after it.

Per table, rows with ``(updated_at, id)`` greater than the saved cursor are streamed, in that order, through a
server-side cursor into a Parquet file whose schema comes from the table's column types; memory holds one
batch at a time whatever the table's size. Tables configured for hard-delete detection also get tombstone
rows (``_deleted = true``) for keys that disappeared since the last successful extraction (see ``keys.py``).

The cursor handed back (``Download.cursor``) is a small JSON document: the last ``(updated_at, id)`` written
and the key-set file. The pipeline saves it only when the load succeeds.

Rows whose ``updated_at`` is set by a transaction that commits *after* our snapshot but carries an earlier
timestamp than rows already extracted are the known blind spot of any ``updated_at`` cursor; tables written
by long transactions need a trigger-maintained ``updated_at`` (set at commit) or logical replication.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import psycopg2
import pyarrow as pa
import pyarrow.parquet as pq
from psycopg2 import sql
from psycopg2.extensions import ISOLATION_LEVEL_REPEATABLE_READ
from psycopg2.extensions import connection as Connection

from civiclake.config import PostgresSettings, Settings
from civiclake.errors import ConfigurationError, NotFoundError, SourceError, TransientError
from civiclake.lake.filesystem import LakeStorage, lake_storage
from civiclake.privacy.tombstones import Tombstones, load_tombstones
from civiclake.sources.base import DatasetInfo, DiscoveredDataset, DiscoveryFailure, Resource
from civiclake.sources.http import Download, ProgressCallback
from civiclake.sources.postgres.columns import TIMESTAMP_UTC, Column, read_columns, record_batch, select_list
from civiclake.sources.postgres.keys import KeyFiles, deleted_keys, same_key_set
from civiclake.warehouse.state import name_part

SOURCE = "postgres"
DELETED_COLUMN = "_deleted"
PARQUET_MEDIA_TYPE = "application/vnd.apache.parquet"
CURSOR_VERSION = 1
_HASH_CHUNK = 1024 * 1024


class PostgresUnavailableError(SourceError, TransientError):
    """The database cannot be reached (down, refusing connections, wrong credentials)."""


@dataclass(frozen=True)
class ExtractionCursor:
    """Where a table's next extraction starts, and which key set it compares against."""

    columns: tuple[str, str]  # (cursor column, key column)
    after: tuple[Any, Any] | None  # the last (cursor value, key) written; None: from the beginning
    keys: str | None  # key-set file of this extraction, relative to the lake root

    def dumps(self) -> str:
        after = None if self.after is None else [_json_value(self.after[0]), _json_value(self.after[1])]
        document = {"version": CURSOR_VERSION, "columns": list(self.columns), "after": after, "keys": self.keys}
        return json.dumps(document, separators=(",", ":"))

    @classmethod
    def loads(cls, text: str, expected_columns: tuple[str, str], what: str) -> ExtractionCursor:
        try:
            document = json.loads(text)
            columns = tuple(document["columns"])
            after = document["after"]
            keys = document.get("keys")
        except (ValueError, KeyError, TypeError) as error:
            raise SourceError(
                f"the saved cursor of {what} is not readable ({error}): rerun with --full-refresh"
            ) from None
        if columns != expected_columns:
            raise SourceError(
                f"the saved cursor of {what} follows {columns}, the settings now say {expected_columns}: "
                "rerun with --full-refresh"
            )
        return cls(expected_columns, None if after is None else (after[0], after[1]), keys)


def _json_value(value: Any) -> Any:
    return value.isoformat() if isinstance(value, datetime) else value


class PostgresConnector:
    source = SOURCE

    def __init__(self, settings: PostgresSettings, lake: LakeStorage, tombstones: Tombstones | None = None) -> None:
        if not settings.host:
            raise ConfigurationError("the postgres source needs a database host: set CIVICLAKE__POSTGRES__HOST")
        self.settings = settings
        self.keys = KeyFiles(lake, SOURCE, settings.dataset)
        # How errors name the database: never with the user's password, which lives only in _connect().
        self.where = f"{settings.host}:{settings.port}/{settings.database}"
        self._connection: Connection | None = None
        self._snapshot_at: datetime | None = None
        self._unavailable: PostgresUnavailableError | None = None
        self._tables: dict[str, str] = {}
        # Erased people (``civiclake privacy erase``) the source still holds: their rows are never extracted again.
        self.tombstones = tombstones

    @classmethod
    def from_settings(cls, settings: Settings) -> PostgresConnector:
        source = f"{SOURCE}__{name_part(settings.postgres.dataset, 'dataset')}"
        return cls(settings.postgres, lake_storage(settings), load_tombstones(settings, source))

    # -- Connector protocol -------------------------------------------------------------------------------------

    def discover(self) -> Iterator[DiscoveredDataset | DiscoveryFailure]:
        """The configured tables, without connecting: a database that is down fails each table, visibly."""
        settings = self.settings
        resources = []
        for table in settings.tables:
            resource = Resource(
                source=SOURCE,
                dataset_id=settings.database,
                dataset_slug=settings.dataset,
                resource_id=f"{settings.database}.{settings.schema_name}.{table}",
                title=table,
                url=self.table_url(table),
                declared_format="parquet",
                incremental=True,
            )
            self._tables[resource.resource_id] = table
            resources.append(resource)
        info = DatasetInfo(
            source=SOURCE,
            dataset_id=settings.database,
            slug=settings.dataset,
            title=f"{settings.dataset} ({settings.schema_name} schema of {settings.database})",
            organization=None,
            frequency=settings.frequency,
            last_modified=None,
            page_url=None,
            raw={"url": f"postgresql://{self.where}", "schema": settings.schema_name, "tables": list(settings.tables)},
        )
        yield DiscoveredDataset(info, resources, skipped=[], name=settings.dataset)

    def fetch(
        self, resource: Resource, destination: Path, on_progress: ProgressCallback | None, cursor: str | None
    ) -> Download:
        table = self._tables.get(resource.resource_id)
        if table is None:
            raise SourceError(f"{resource.resource_id} is not a table this connector discovered")
        what = f"table {self.settings.schema_name}.{table} of {self.where}"
        columns_pair = (self.settings.cursor_column, self.settings.key_column)
        previous = ExtractionCursor.loads(cursor, columns_pair, what) if cursor else None
        connection = self._open_snapshot()
        with self._savepoint(connection, what):
            extraction = self._extract(connection, table, what, previous, destination, on_progress)
        size, sha256 = _size_and_sha256(destination)
        return Download(
            url=resource.url,
            final_url=resource.url,
            status=200,
            headers={"content-type": PARQUET_MEDIA_TYPE},
            size=size,
            sha256=sha256,
            cursor=extraction.cursor.dumps(),
            records=extraction.rows + extraction.tombstones,
        )

    def close(self) -> None:
        if self._connection is not None:
            with contextlib.suppress(psycopg2.Error):  # a connection the server already dropped
                self._connection.rollback()
            self._connection.close()
            self._connection = None

    def table_url(self, table: str) -> str:
        """The table's address, without credentials: ``postgresql://host:port/db/schema.table``."""
        return f"postgresql://{self.where}/{self.settings.schema_name}.{table}"

    # -- one snapshot for the whole run -------------------------------------------------------------------------

    def _open_snapshot(self) -> Connection:
        if self._unavailable is not None:
            raise self._unavailable  # tried once this run: every table reports the same reason, quickly
        if self._connection is not None:
            if self._connection.closed:
                raise PostgresUnavailableError(f"the connection to PostgreSQL at {self.where} was lost during the run")
            return self._connection
        try:
            connection = self._connect()
        except psycopg2.Error as error:
            self._unavailable = PostgresUnavailableError(
                f"cannot connect to PostgreSQL at {self.settings.host}:{self.settings.port}, database "
                f"{self.settings.database!r} as {self.settings.user!r}: {self._reason(error)}"
            )
            raise self._unavailable from None
        try:
            connection.set_session(isolation_level=ISOLATION_LEVEL_REPEATABLE_READ, readonly=True)
            with connection.cursor() as cursor:
                # The first statement takes the snapshot; its time stamps the tombstones of this run.
                cursor.execute("SELECT now()")
                self._snapshot_at = cursor.fetchone()[0]
        except psycopg2.Error as error:
            connection.close()
            raise PostgresUnavailableError(f"cannot open a snapshot on {self.where}: {self._reason(error)}") from None
        self._connection = connection
        return connection

    def _connect(self) -> Connection:
        settings = self.settings
        return psycopg2.connect(
            host=settings.host,
            port=settings.port,
            dbname=settings.database,
            user=settings.user,
            password=settings.password.get_secret_value() if settings.password else None,
            sslmode=settings.sslmode,
            connect_timeout=settings.connect_timeout_seconds,
            application_name="civiclake",
            # UTC timestamps whatever the server's default; and the snapshot must survive the pauses while the
            # pipeline loads each table into bronze, whatever idle timeout the server sets.
            options="-c TimeZone=UTC -c idle_in_transaction_session_timeout=0",
        )

    def _reason(self, error: psycopg2.Error) -> str:
        reason = " ".join(str(error).split()) or type(error).__name__
        password = self.settings.password.get_secret_value() if self.settings.password else ""
        # libpq does not echo passwords; this guards against a server or driver that one day would.
        return reason.replace(password, "***") if len(password) >= 4 else reason

    @contextlib.contextmanager
    def _savepoint(self, connection: Connection, what: str) -> Iterator[None]:
        with connection.cursor() as cursor:
            cursor.execute("SAVEPOINT civiclake_table")
        try:
            yield
        except psycopg2.Error as error:
            self._roll_back_to_savepoint(connection)
            raise SourceError(f"reading {what} failed: {self._reason(error)}") from None
        except BaseException:
            self._roll_back_to_savepoint(connection)
            raise
        with connection.cursor() as cursor:
            cursor.execute("RELEASE SAVEPOINT civiclake_table")

    def _roll_back_to_savepoint(self, connection: Connection) -> None:
        try:
            with connection.cursor() as cursor:
                cursor.execute("ROLLBACK TO SAVEPOINT civiclake_table")
        except psycopg2.Error:
            # The connection itself is gone: the tables after this one report it instead of a confusing error.
            connection.close()

    # -- one table ----------------------------------------------------------------------------------------------

    def _extract(
        self,
        connection: Connection,
        table: str,
        what: str,
        previous: ExtractionCursor | None,
        destination: Path,
        on_progress: ProgressCallback | None,
    ) -> _Extraction:
        settings = self.settings
        with connection.cursor() as cursor:
            columns = read_columns(cursor, settings.schema_name, table)
        if not columns:
            raise NotFoundError(f"{what}: no such table (or no privilege to see its columns)")
        by_name = {column.name: column for column in columns}
        for needed in (settings.cursor_column, settings.key_column):
            if needed not in by_name:
                raise SourceError(
                    f"{what} has no column {needed!r}: incremental extraction follows "
                    f"({settings.cursor_column}, {settings.key_column})"
                )
        if DELETED_COLUMN in by_name:
            raise SourceError(f"{what} has a column named {DELETED_COLUMN!r}, which civiclake uses for tombstones")
        schema = pa.schema([column.field() for column in columns] + [pa.field(DELETED_COLUMN, pa.bool_())])

        with destination.open("wb") as sink, pq.ParquetWriter(sink, schema) as writer:
            rows, last = self._write_changed_rows(
                connection, table, columns, schema, previous, writer, sink, on_progress
            )
            tombstones, keys_file = 0, None
            if table in settings.hard_delete_tables:
                tombstones, keys_file = self._write_tombstones(
                    connection, table, by_name, schema, previous, writer, destination, what
                )
        after = last if last is not None else (previous.after if previous else None)
        cursor = ExtractionCursor((settings.cursor_column, settings.key_column), after, keys_file)
        return _Extraction(rows, tombstones, cursor)

    def _write_changed_rows(
        self,
        connection: Connection,
        table: str,
        columns: list[Column],
        schema: pa.Schema,
        previous: ExtractionCursor | None,
        writer: pq.ParquetWriter,
        sink: Any,
        on_progress: ProgressCallback | None,
    ) -> tuple[int, tuple[Any, Any] | None]:
        settings = self.settings
        order = sql.SQL("{}, {}").format(sql.Identifier(settings.cursor_column), sql.Identifier(settings.key_column))
        query = sql.SQL("SELECT {} FROM {}").format(select_list(columns), sql.Identifier(settings.schema_name, table))
        params: tuple[Any, ...] = ()
        if previous is not None and previous.after is not None:
            query += sql.SQL(" WHERE ({}) > (%s, %s)").format(order)
            params = previous.after
        query += sql.SQL(" ORDER BY {}").format(order)

        names = [column.name for column in columns]
        cursor_index, key_index = names.index(settings.cursor_column), names.index(settings.key_column)
        rows, last, written_bytes = 0, None, 0
        # A named cursor is a server-side cursor: PostgreSQL hands rows over one batch at a time.
        with connection.cursor(name="civiclake_rows") as server_cursor:
            server_cursor.itersize = settings.fetch_batch_size
            server_cursor.execute(query, params)
            while batch := server_cursor.fetchmany(settings.fetch_batch_size):
                records = record_batch(batch, columns, schema)
                if self.tombstones is not None:
                    records = self.tombstones.filter_batch(table, records)
                writer.write_batch(records)
                rows += records.num_rows
                # The cursor moves past erased rows too: they are skipped, not waited for.
                last = (columns[cursor_index].cursor_value(batch[-1][cursor_index]), batch[-1][key_index])
                if on_progress is not None:
                    position = sink.tell()
                    on_progress(position - written_bytes)
                    written_bytes = position
        return rows, last

    def _write_tombstones(
        self,
        connection: Connection,
        table: str,
        by_name: dict[str, Column],
        schema: pa.Schema,
        previous: ExtractionCursor | None,
        writer: pq.ParquetWriter,
        destination: Path,
        what: str,
    ) -> tuple[int, str]:
        settings = self.settings
        key = by_name[settings.key_column]
        current = self._current_keys(connection, table, key)
        if self.tombstones is not None:
            current = self.tombstones.filter_keys(table, key.name, current)
        if previous is None or previous.keys is None:
            # A first (or full) extraction: the baseline later runs compare against, nothing to tombstone.
            keys_file = self.keys.write(table, current, destination)
            return 0, keys_file
        saved = self.keys.read(previous.keys, what)
        deleted = deleted_keys(saved, current)
        if same_key_set(saved, current, deleted):
            keys_file = previous.keys
        else:
            keys_file = self.keys.write(table, current, destination)
        # Files older than the last success, and those of runs that failed since, are no longer needed.
        self.keys.prune(table, keep={previous.keys, keys_file})
        if len(deleted):
            writer.write_batch(self._tombstone_batch(deleted, key, schema))
        return len(deleted), keys_file

    def _current_keys(self, connection: Connection, table: str, key: Column) -> pa.Array:
        query = sql.SQL("SELECT {} FROM {} ORDER BY 1").format(
            sql.Identifier(key.name), sql.Identifier(self.settings.schema_name, table)
        )
        chunks = []
        with connection.cursor(name="civiclake_keys") as server_cursor:
            server_cursor.itersize = self.settings.fetch_batch_size
            server_cursor.execute(query)
            while batch := server_cursor.fetchmany(self.settings.fetch_batch_size * 10):
                chunks.append(pa.array([row[0] for row in batch], type=key.arrow_type))
        return pa.concat_arrays(chunks) if chunks else pa.array([], type=key.arrow_type)

    def _tombstone_batch(self, deleted: pa.Array, key: Column, schema: pa.Schema) -> pa.RecordBatch:
        """The deleted keys, stamped with the snapshot's time, every other column null."""
        count = len(deleted)
        arrays = []
        for field in schema:
            if field.name == key.name:
                arrays.append(deleted.cast(field.type))
            elif field.name == DELETED_COLUMN:
                arrays.append(pa.array([True] * count, pa.bool_()))
            elif field.name == self.settings.cursor_column and pa.types.is_timestamp(field.type):
                arrays.append(pa.array([self._snapshot_at] * count, TIMESTAMP_UTC).cast(field.type))
            else:
                arrays.append(pa.nulls(count, field.type))
        return pa.RecordBatch.from_arrays(arrays, schema=schema)


@dataclass(frozen=True)
class _Extraction:
    rows: int
    tombstones: int
    cursor: ExtractionCursor


def _size_and_sha256(path: Path) -> tuple[int, str]:
    digest, size = hashlib.sha256(), 0
    with path.open("rb") as stream:
        while chunk := stream.read(_HASH_CHUNK):
            digest.update(chunk)
            size += len(chunk)
    return size, digest.hexdigest()
