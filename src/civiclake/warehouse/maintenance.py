"""Iceberg upkeep: small-file compaction, snapshot expiry and orphan-file removal, table by table.

Bronze and meta tables grow one small commit per raw file, so their partitions fill with small files and their
metadata with snapshots. Three actions keep them fast and bounded, run by ``civiclake maintain`` (the
``lake_maintenance`` DAG) through the engine of the active profile:

- ``pyiceberg`` (local profile): civiclake rewrites the files itself. Compaction bins the small files of a
  partition into files of about ``target_file_bytes`` and swaps them in one commit (rows and lineage columns
  unchanged). Expiry drops snapshots older than a cutoff but always keeps the newest ``retain_last`` of the
  current history and every branch or tag head. Orphan removal deletes files under the table's location that no
  remaining snapshot or metadata file references and that are older than a grace period (a sync in flight writes
  its Parquet before it commits: the grace period protects it).
- ``trino`` (cluster profile): the same three actions as Trino's Iceberg procedures (``ALTER TABLE ... EXECUTE
  optimize | expire_snapshots | remove_orphan_files``), distributed over the Trino workers, reaching Trino as the
  dbt pods do (``TRINO_HOST``, ``TRINO_PORT``, ``TRINO_USER``, ``TRINO_CATALOG``, ``TRINO_HTTP_SCHEME``). The
  session sets the catalog's minimum retentions to civiclake's thresholds, and the counts are measured around each
  call (Trino's procedures return none).

One table's failure is reported with its name and the reason; the other tables are still maintained.
"""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

import pyarrow.fs as pafs
import pyarrow.parquet as pq
from pyiceberg.catalog import Catalog
from pyiceberg.expressions import AlwaysTrue, BooleanExpression
from pyiceberg.io.pyarrow import ArrowScan, parquet_file_to_data_file, schema_to_pyarrow
from pyiceberg.manifest import DataFile
from pyiceberg.table import FileScanTask, Table

from civiclake.config import Settings
from civiclake.errors import ConfigurationError
from civiclake.lake.filesystem import LakeStorage, warehouse_storage

Action = Literal["compact", "expire-snapshots", "remove-orphans"]
Engine = Literal["pyiceberg", "trino"]
ACTIONS: tuple[Action, ...] = ("compact", "expire-snapshots", "remove-orphans")
MAINTENANCE_PROPERTY = "civiclake.maintenance"
MAX_SNAPSHOT_AGE_PROPERTY = "history.expire.max-snapshot-age-ms"
_MB = 1024 * 1024


@dataclass(frozen=True)
class MaintenanceOptions:
    small_file_bytes: int = 32 * _MB
    target_file_bytes: int = 128 * _MB
    min_input_files: int = 5
    snapshot_older_than: timedelta = timedelta(days=7)
    retain_last: int = 5
    orphan_older_than: timedelta = timedelta(days=7)
    dry_run: bool = False


@dataclass
class TableOutcome:
    table: str
    action: Action
    status: str  # changed | unchanged | failed
    files_removed: int = 0
    files_added: int = 0
    snapshots_expired: int = 0
    bytes_removed: int = 0
    rows: int = 0
    error: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {key: value for key, value in asdict(self).items() if value not in (None, 0) or key == "status"}


@dataclass
class MaintenanceReport:
    action: Action
    engine: Engine
    outcomes: list[TableOutcome] = field(default_factory=list)

    @property
    def failed(self) -> list[TableOutcome]:
        return [outcome for outcome in self.outcomes if outcome.status == "failed"]

    @property
    def exit_code(self) -> int:
        return 1 if self.failed else 0

    def summary(self) -> dict[str, Any]:
        """The JSON summary (Airflow XCom): what changed, and what failed with why."""
        changed = [outcome.table for outcome in self.outcomes if outcome.status == "changed"]
        return {
            "command": f"maintain {self.action}",
            "engine": self.engine,
            "status": "failed" if self.failed else "success",
            "exit_code": self.exit_code,
            "tables": changed,
            "tables_checked": len(self.outcomes),
            "files_removed": sum(outcome.files_removed for outcome in self.outcomes),
            "files_added": sum(outcome.files_added for outcome in self.outcomes),
            "snapshots_expired": sum(outcome.snapshots_expired for outcome in self.outcomes),
            "bytes_removed": sum(outcome.bytes_removed for outcome in self.outcomes),
            "errors": [{"table": outcome.table, "error": outcome.error} for outcome in self.failed],
        }


def table_names(catalog: Catalog, only: Iterable[str] = ()) -> list[str]:
    """``namespace.table`` of every table in the catalog, or of those asked for (an unknown one is an error)."""
    found = sorted(
        ".".join(ident) for namespace in catalog.list_namespaces() for ident in catalog.list_tables(namespace)
    )
    wanted = list(only)
    unknown = sorted(set(wanted) - set(found))
    if unknown:
        raise ConfigurationError(f"no such table: {', '.join(unknown)} (civiclake tables lists them)")
    return [name for name in found if name in wanted] if wanted else found


def run_maintenance(
    action: Action,
    names: list[str],
    maintain_one: Callable[[str], TableOutcome],
    engine: Engine,
) -> MaintenanceReport:
    """Run one action on every table; a failure is recorded against its table and the others go on."""
    report = MaintenanceReport(action, engine)
    for name in names:
        try:
            report.outcomes.append(maintain_one(name))
        except Exception as error:  # one broken table must not stop the upkeep of the others
            report.outcomes.append(TableOutcome(name, action, "failed", error=f"{type(error).__name__}: {error}"))
    return report


# --- pyiceberg engine (local profile) --------------------------------------------------------------------------


class PyicebergMaintenance:
    """The three actions done by civiclake itself on the catalog's tables."""

    def __init__(self, catalog: Catalog, warehouse: LakeStorage, options: MaintenanceOptions) -> None:
        self.catalog = catalog
        self.warehouse = warehouse
        self.options = options

    def run(self, action: Action, name: str) -> TableOutcome:
        table = self.catalog.load_table(name)
        if action == "compact":
            return self.compact(name, table)
        if action == "expire-snapshots":
            return self.expire_snapshots(name, table)
        return self.remove_orphans(name, table)

    # compaction

    def compact(self, name: str, table: Table) -> TableOutcome:
        outcome = TableOutcome(name, "compact", "unchanged")
        if table.current_snapshot() is None:
            return outcome
        bins = list(self._bins(table))
        if not bins or self.options.dry_run:
            outcome.files_removed = sum(len(tasks) for tasks in bins)
            return outcome
        written: list[str] = []
        try:
            replaced: list[DataFile] = []
            added: list[DataFile] = []
            for tasks in bins:
                data_file, rows = self._rewrite(table, tasks, written)
                replaced += [task.file for task in tasks]
                added.append(data_file)
                outcome.rows += rows
            properties = {MAINTENANCE_PROPERTY: "compact"}
            with (
                table.transaction() as transaction,
                transaction.update_snapshot(snapshot_properties=properties).overwrite() as overwrite,
            ):
                for data_file in replaced:
                    overwrite.delete_data_file(data_file)
                for data_file in added:
                    overwrite.append_data_file(data_file)
        except BaseException:
            for uri in written:
                self._delete_quietly(uri)
            raise
        outcome.status = "changed"
        outcome.files_removed, outcome.files_added = len(replaced), len(added)
        return outcome

    def _bins(self, table: Table) -> Iterator[list[FileScanTask]]:
        """Groups of small files of one partition, each group at most about one target file large."""
        by_partition: dict[tuple[int, str], list[FileScanTask]] = {}
        for task in table.scan().plan_files():
            if task.delete_files:
                return  # rows deleted by delete files: leave such a table to an engine that applies them
            if task.file.file_size_in_bytes < self.options.small_file_bytes:
                by_partition.setdefault((task.file.spec_id, repr(task.file.partition)), []).append(task)
        for tasks in by_partition.values():
            if len(tasks) < self.options.min_input_files:
                continue
            group: list[FileScanTask] = []
            size = 0
            for task in sorted(tasks, key=lambda item: item.file.file_path):
                if group and size + task.file.file_size_in_bytes > self.options.target_file_bytes:
                    if len(group) > 1:
                        yield group
                    group, size = [], 0
                group.append(task)
                size += task.file.file_size_in_bytes
            if len(group) > 1:
                yield group

    def _rewrite(self, table: Table, tasks: list[FileScanTask], written: list[str]) -> tuple[DataFile, int]:
        schema = table.schema()
        rows = ArrowScan(table.metadata, table.io, schema, AlwaysTrue()).to_table(tasks)
        # With field ids: readable whether the table resolves columns by id (pyiceberg appends) or by its name
        # mapping (files registered with add_files, as the bronze loader does).
        target = schema_to_pyarrow(schema, include_field_ids=True)
        rows = rows.cast(target) if rows.schema != target else rows
        first = tasks[0].file.file_path
        uri = f"{first.rsplit('/', 1)[0]}/compacted-{uuid.uuid4().hex}.parquet"
        written.append(uri)
        path = self._fs_path(uri)
        with pq.ParquetWriter(path, target, filesystem=self.warehouse.filesystem) as writer:
            writer.write_table(rows)
        data_file = parquet_file_to_data_file(table.io, table.metadata, uri)
        if data_file.record_count != sum(task.file.record_count for task in tasks):
            raise RuntimeError(f"compaction of {len(tasks)} files read a different number of rows: nothing replaced")
        return data_file, rows.num_rows

    # snapshot expiry

    def expire_snapshots(self, name: str, table: Table) -> TableOutcome:
        outcome = TableOutcome(name, "expire-snapshots", "unchanged")
        cutoff_ms = int((datetime.now(UTC) - snapshot_retention(table, self.options)).timestamp() * 1000)
        metadata = table.metadata
        protected = {ref.snapshot_id for ref in metadata.refs.values()}
        current_history: list[int] = []
        snapshot = table.current_snapshot()
        while snapshot is not None and len(current_history) < self.options.retain_last:
            current_history.append(snapshot.snapshot_id)
            snapshot = metadata.snapshot_by_id(snapshot.parent_snapshot_id) if snapshot.parent_snapshot_id else None
        keep = protected | set(current_history)
        expired = [
            item.snapshot_id
            for item in metadata.snapshots
            if item.timestamp_ms < cutoff_ms and item.snapshot_id not in keep
        ]
        if expired and not self.options.dry_run:
            table.maintenance.expire_snapshots().by_ids(expired).commit()
        if expired:
            outcome.status = "changed" if not self.options.dry_run else "unchanged"
            outcome.snapshots_expired = len(expired)
        return outcome

    # orphan files

    def remove_orphans(self, name: str, table: Table) -> TableOutcome:
        outcome = TableOutcome(name, "remove-orphans", "unchanged")
        referenced = referenced_files(table)
        cutoff = datetime.now(UTC) - self.options.orphan_older_than
        root = self._fs_path(table.location()).rstrip("/")
        selector = pafs.FileSelector(root, recursive=True, allow_not_found=True)
        for info in self.warehouse.filesystem.get_file_info(selector):
            if not info.is_file or _normalise(info.path) in referenced:
                continue
            modified = info.mtime if info.mtime is None or info.mtime.tzinfo else info.mtime.replace(tzinfo=UTC)
            if modified is None or modified >= cutoff:
                continue  # maybe a write in flight: only old unreferenced files are orphans
            if not self.options.dry_run:
                self.warehouse.filesystem.delete_file(info.path)
            outcome.files_removed += 1
            outcome.bytes_removed += info.size or 0
        if outcome.files_removed and not self.options.dry_run:
            outcome.status = "changed"
        return outcome

    def _fs_path(self, uri: str) -> str:
        for scheme in ("file://", "s3://", "s3a://"):
            if uri.startswith(scheme):
                return uri[len(scheme) :]
        return uri

    def _delete_quietly(self, uri: str) -> None:
        with contextlib.suppress(OSError):  # never written: nothing to clean
            self.warehouse.filesystem.delete_file(self._fs_path(uri))


def snapshot_retention(table: Table, options: MaintenanceOptions) -> timedelta:
    """How old a snapshot of ``table`` may get: the option's age, or less when the table asks for less with
    Iceberg's ``history.expire.max-snapshot-age-ms`` (the meta tables keep one day: they are logs)."""
    asked = table.properties.get(MAX_SNAPSHOT_AGE_PROPERTY)
    try:
        own = timedelta(milliseconds=int(asked)) if asked else None
    except ValueError:
        own = None  # not a number: the table's property is ignored, the option rules
    return min(options.snapshot_older_than, own) if own is not None else options.snapshot_older_than


def referenced_files(table: Table, *, removed_entries: bool = True) -> set[str]:
    """Every file the table's metadata still points to: metadata files, manifest lists, manifests, data and delete
    files of every remaining snapshot, statistics files. Paths without their scheme. ``removed_entries=False``
    leaves out the data files manifests list only as removed by their snapshot: once the snapshots before it are
    expired, no snapshot reads them."""
    metadata = table.metadata
    found = {_normalise(table.metadata_location)}
    found |= {_normalise(entry.metadata_file) for entry in metadata.metadata_log}
    found |= {_normalise(item.statistics_path) for item in metadata.statistics}
    found |= {_normalise(item.statistics_path) for item in metadata.partition_statistics}
    read_manifests: set[str] = set()
    for snapshot in metadata.snapshots:
        found.add(_normalise(snapshot.manifest_list))
        for manifest in snapshot.manifests(table.io):
            path = _normalise(manifest.manifest_path)
            found.add(path)
            if path in read_manifests:
                continue
            read_manifests.add(path)
            for entry in manifest.fetch_manifest_entry(table.io, discard_deleted=not removed_entries):
                found.add(_normalise(entry.data_file.file_path))
    return found


def _normalise(location: str) -> str:
    for scheme in ("file://", "s3://", "s3a://"):
        if location.startswith(scheme):
            return location[len(scheme) :].replace("//", "/")
    return location.replace("//", "/")


# --- Trino engine (cluster profile) ----------------------------------------------------------------------------


@dataclass(frozen=True)
class TrinoEndpoint:
    host: str
    port: int
    user: str
    catalog: str
    http_scheme: str

    @classmethod
    def from_environment(cls, environ: dict[str, str] | None = None) -> TrinoEndpoint:
        """The Trino the dbt pods use (the chart sets these variables in the dbt pod template)."""
        environ = dict(os.environ) if environ is None else environ
        if not environ.get("TRINO_HOST"):
            raise ConfigurationError(
                "the trino maintenance engine needs TRINO_HOST (and TRINO_PORT, TRINO_USER, TRINO_CATALOG): "
                "run it in the dbt pod template, or pass --engine pyiceberg"
            )
        try:
            port = int(environ.get("TRINO_PORT", "8080"))
        except ValueError:
            raise ConfigurationError(f"TRINO_PORT={environ['TRINO_PORT']!r} is not a port number") from None
        return cls(
            host=environ["TRINO_HOST"],
            port=port,
            user=environ.get("TRINO_USER", "civiclake-maintenance"),
            catalog=environ.get("TRINO_CATALOG", "iceberg"),
            http_scheme=environ.get("TRINO_HTTP_SCHEME", "http"),
        )


def _quote(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'


def _duration(delta: timedelta) -> str:
    """A Trino duration literal to the second: whole hours as hours (``'168h'``), anything else in seconds
    (``'5400s'``, ``'0s'``). Never negative."""
    seconds = max(0, int(delta.total_seconds()))
    if seconds and seconds % 3600 == 0:
        return f"{seconds // 3600}h"
    return f"{seconds}s"


def _target(catalog: str, name: str, suffix: str = "") -> str:
    namespace, table = name.split(".", 1)
    return f"{_quote(catalog)}.{_quote(namespace)}.{_quote(table + suffix)}"


def trino_statement(action: Action, catalog: str, name: str, options: MaintenanceOptions) -> str:
    """The Trino Iceberg procedure call for one action on one ``namespace.table``."""
    target = _target(catalog, name)
    if action == "compact":
        threshold = f"{max(1, options.small_file_bytes // _MB)}MB"
        return f"ALTER TABLE {target} EXECUTE optimize(file_size_threshold => '{threshold}')"
    if action == "expire-snapshots":
        retention = _duration(options.snapshot_older_than)
        return f"ALTER TABLE {target} EXECUTE expire_snapshots(retention_threshold => '{retention}')"
    retention = _duration(options.orphan_older_than)
    return f"ALTER TABLE {target} EXECUTE remove_orphan_files(retention_threshold => '{retention}')"


def trino_session_properties(catalog: str, options: MaintenanceOptions) -> dict[str, str]:
    """Trino refuses a retention threshold below its catalog's minimum (``iceberg.expire-snapshots.min-retention``
    and ``iceberg.remove-orphan-files.min-retention``, 7 days unless configured): the session lowers (or raises)
    that minimum to the threshold civiclake asks for, so that ``--older-than-days``/``--older-than-hours`` rule
    on both engines."""
    return {
        f"{catalog}.expire_snapshots_min_retention": _duration(options.snapshot_older_than),
        f"{catalog}.remove_orphan_files_min_retention": _duration(options.orphan_older_than),
    }


class TrinoMaintenance:
    """The three actions as Trino procedures, one statement per table. Trino's procedures return no counts: what
    changed is measured around each call, from the table's metadata tables (``$files``, ``$snapshots``) and, for
    the files a procedure deletes, by listing the table's location before and after."""

    def __init__(
        self,
        endpoint: TrinoEndpoint,
        options: MaintenanceOptions,
        catalog: Catalog,
        warehouse: LakeStorage,
    ) -> None:
        # Imported here: trino_client reads TrinoEndpoint from this module.
        from civiclake.warehouse.trino_client import connect_trino

        self.endpoint = endpoint
        self.options = options
        self.catalog = catalog
        self.warehouse = warehouse
        self.connection = connect_trino(
            endpoint, "civiclake-maintain", trino_session_properties(endpoint.catalog, options)
        )

    def run(self, action: Action, name: str) -> TableOutcome:
        statement = trino_statement(action, self.endpoint.catalog, name, self.options)
        if self.options.dry_run:
            return TableOutcome(name, action, "unchanged")
        if action == "compact":
            return self._compact(name, statement)
        if action == "expire-snapshots":
            return self._expire_snapshots(name, statement)
        return self._remove_orphans(name, statement)

    def _compact(self, name: str, statement: str) -> TableOutcome:
        outcome = TableOutcome(name, "compact", "unchanged")
        before = self._data_files(name)
        self._execute(statement)
        after = self._data_files(name)
        removed = before.keys() - after.keys()
        outcome.files_removed, outcome.files_added = len(removed), len(after.keys() - before.keys())
        outcome.rows = sum(before[path] for path in removed)
        if removed or outcome.files_added:
            outcome.status = "changed"
        return outcome

    def _expire_snapshots(self, name: str, statement: str) -> TableOutcome:
        outcome = TableOutcome(name, "expire-snapshots", "unchanged")
        snapshots_before, files_before = self._snapshots(name), self._stored_files(name)
        self._execute(statement)
        snapshots_after, files_after = self._snapshots(name), self._stored_files(name)
        outcome.snapshots_expired = len(snapshots_before - snapshots_after)
        # Trino deletes the files only the expired snapshots referenced.
        deleted = files_before.keys() - files_after.keys()
        outcome.files_removed, outcome.bytes_removed = len(deleted), sum(files_before[path] for path in deleted)
        if outcome.snapshots_expired or deleted:
            outcome.status = "changed"
        return outcome

    def _remove_orphans(self, name: str, statement: str) -> TableOutcome:
        outcome = TableOutcome(name, "remove-orphans", "unchanged")
        before = self._stored_files(name)
        self._execute(statement)
        deleted = before.keys() - self._stored_files(name).keys()
        outcome.files_removed, outcome.bytes_removed = len(deleted), sum(before[path] for path in deleted)
        if deleted:
            outcome.status = "changed"
        return outcome

    def _execute(self, statement: str) -> list[Any]:
        cursor = self.connection.cursor()
        try:
            cursor.execute(statement)
            return list(cursor.fetchall())
        finally:
            cursor.close()

    def _data_files(self, name: str) -> dict[str, int]:
        """The table's current data files (content 0: not delete files), with their row counts."""
        rows = self._execute(
            f"SELECT file_path, record_count FROM {_target(self.endpoint.catalog, name, '$files')} WHERE content = 0"
        )
        return {str(path): int(count) for path, count in rows}

    def _snapshots(self, name: str) -> set[int]:
        rows = self._execute(f"SELECT snapshot_id FROM {_target(self.endpoint.catalog, name, '$snapshots')}")
        return {int(snapshot_id) for (snapshot_id,) in rows}

    def _stored_files(self, name: str) -> dict[str, int]:
        """Every object under the table's location (data, metadata, strays), with its size."""
        root = _normalise(self.catalog.load_table(name).location()).rstrip("/")
        selector = pafs.FileSelector(root, recursive=True, allow_not_found=True)
        return {info.path: info.size or 0 for info in self.warehouse.filesystem.get_file_info(selector) if info.is_file}

    def close(self) -> None:
        self.connection.close()


def run_maintenance_command(
    settings: Settings,
    catalog: Catalog,
    action: str,
    *,
    tables: list[str],
    engine: str = "auto",
    dry_run: bool = False,
    **options: Any,
) -> MaintenanceReport:
    """``civiclake maintain <action>``: pick the engine of the profile (or the one asked for) and run it."""
    if action not in ACTIONS:
        raise ConfigurationError(f"unknown maintenance action {action!r}: expected one of {', '.join(ACTIONS)}")
    chosen: Engine = ("trino" if settings.profile == "cluster" else "pyiceberg") if engine == "auto" else engine  # type: ignore[assignment]
    names = table_names(catalog, tables)
    settings_options = MaintenanceOptions(dry_run=dry_run, **options)
    if chosen == "trino":
        trino_engine = TrinoMaintenance(
            TrinoEndpoint.from_environment(), settings_options, catalog, warehouse_storage(settings)
        )
        try:
            return run_maintenance(action, names, lambda name: trino_engine.run(action, name), "trino")  # type: ignore[arg-type]
        finally:
            trino_engine.close()
    local = PyicebergMaintenance(catalog, warehouse_storage(settings), settings_options)
    return run_maintenance(action, names, lambda name: local.run(action, name), "pyiceberg")  # type: ignore[arg-type]


@dataclass
class Purge:
    rows_deleted: int = 0
    snapshots_expired: int = 0
    files_removed: int = 0


def delete_and_purge(catalog: Catalog, warehouse: LakeStorage, table: Table, condition: BooleanExpression) -> Purge:
    """Delete the rows ``condition`` matches, so that nothing still serves them: every snapshot but the new current
    one expired, whatever its age, and every file under the table that no remaining snapshot reads deleted at once,
    the data files the delete replaced included. For rows that must be gone (an erasure, a retention), not for
    routine maintenance: the caller holds the table (no write of another in flight)."""
    name = ".".join(table.name())
    rows = table.scan(row_filter=condition).count() if table.current_snapshot() else 0
    if rows == 0:
        return Purge()
    table.delete(condition)
    maintenance = PyicebergMaintenance(
        catalog, warehouse, MaintenanceOptions(snapshot_older_than=timedelta(0), retain_last=1)
    )
    expired = maintenance.expire_snapshots(name, catalog.load_table(name)).snapshots_expired
    return Purge(rows, expired, _remove_unread_files(warehouse, catalog.load_table(name)))


def _remove_unread_files(warehouse: LakeStorage, table: Table) -> int:
    """Orphan removal without a grace period, which also removes the data files a delete replaced (its manifests
    still list them, as removed)."""
    live = referenced_files(table, removed_entries=False)
    root = table.location()
    for scheme in ("file://", "s3://", "s3a://"):
        root = root.removeprefix(scheme)
    removed = 0
    selector = pafs.FileSelector(root.rstrip("/"), recursive=True, allow_not_found=True)
    for info in warehouse.filesystem.get_file_info(selector):
        if info.is_file and info.path.replace("//", "/") not in live:
            warehouse.filesystem.delete_file(info.path)
            removed += 1
    return removed
