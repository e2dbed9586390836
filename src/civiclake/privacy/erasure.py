"""``civiclake privacy erase --subject user_id=42``: one person removed from everything the lakehouse keeps.

The classification in the dbt project says where a subject's rows are (``privacy_erasure`` on source tables). In
this order, each step only once the previous one succeeded:

1. Find the rows in bronze. None: nothing is changed and the command says so.
2. Bronze: delete them (pyiceberg rewrites each data file holding one, copy-on-write), expire every snapshot but
   the new current one, and delete every file of the table that no remaining snapshot references: no earlier
   snapshot, time travel or stale data file still serves the person.
3. Raw zone: every raw file of the tables concerned is read; those holding the person are rewritten without
   their rows in place (same path, so bronze lineage still points at it) and their manifest records the rewrite
   (when, why, rows removed, the previous digest). The key sets kept for hard-delete detection lose the
   person's keys.
4. Silver and gold: rows whose subject key (``user_id``) or whose key is one of the rows erased from bronze
   (``order_id``, ``event_id``, ``crm_contact_id``... as the declaration's ``silver_key`` names them) are deleted
   from every table of both namespaces, with the same expiry and file removal; on the local profile also from
   dbt's DuckDB database. Aggregates hold no person and are recomputed at the next build.
5. Tombstones (``meta.privacy_tombstones``): pseudonyms of what found the person, so the next sync drops their
   rows while the source still has them.
6. ``meta.privacy_erasures`` records what was changed, naming the person by pseudonym only.
"""

from __future__ import annotations

import hashlib
import json
import re
import tempfile
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from pyiceberg.catalog import Catalog
from pyiceberg.exceptions import NoSuchTableError
from pyiceberg.expressions import BooleanExpression, In, Or
from pyiceberg.table import Table
from pyiceberg.types import IntegerType, LongType, StringType

from civiclake.config import Settings
from civiclake.errors import ConfigurationError, TerminalError
from civiclake.lake.filesystem import LakeStorage, lake_storage, warehouse_storage
from civiclake.privacy.classification import ErasureScope, erasure_scopes
from civiclake.privacy.keys import pseudonym, pseudonymisation_key
from civiclake.privacy.tombstones import append_tombstones, tombstone_rows
from civiclake.transform.project import PUBLISHED_SCHEMAS, DbtProject, locate_project_dir
from civiclake.warehouse.catalog import open_catalog
from civiclake.warehouse.locks import TableLocks
from civiclake.warehouse.maintenance import delete_and_purge

ERASURES_TABLE = ("meta", "privacy_erasures")
ERASURES_SCHEMA = pa.schema(
    [
        pa.field("erasure_id", pa.string(), nullable=False),
        pa.field("subject_key", pa.string(), nullable=False),
        pa.field("subject_pseudonym", pa.string(), nullable=False),
        pa.field("started_at", pa.timestamp("us", tz="UTC"), nullable=False),
        pa.field("finished_at", pa.timestamp("us", tz="UTC"), nullable=False),
        pa.field("rows_deleted", pa.int64(), nullable=False),
        pa.field("raw_files_rewritten", pa.int64(), nullable=False),
        pa.field("tombstones", pa.int64(), nullable=False),
        pa.field("changes", pa.string(), nullable=False),  # JSON: tables and files changed, counts only
    ]
)
PARQUET_MAGIC = b"PAR1"
_SUBJECT = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)=(.+)")

Say = Callable[[str], None]


class ErasureError(TerminalError):
    """An erasure that cannot be completed; the message names the resource and why."""


def parse_subject(text: str) -> tuple[str, str]:
    match = _SUBJECT.fullmatch(text.strip())
    if not match:
        raise ConfigurationError(f"--subject must be KEY=VALUE (e.g. user_id=42), got {text!r}")
    return match.group(1), match.group(2)


@dataclass
class TableChange:
    table: str
    rows_deleted: int
    snapshots_expired: int = 0
    files_removed: int = 0


@dataclass
class RawRewrite:
    path: str
    rows_removed: int
    previous_sha256: str
    sha256: str


@dataclass
class ErasureReport:
    erasure_id: str
    subject_key: str
    subject_pseudonym: str
    found: bool = False
    tables: list[TableChange] = field(default_factory=list)
    raw_files: list[RawRewrite] = field(default_factory=list)
    key_files_rewritten: int = 0
    duckdb_rows_deleted: int = 0
    tombstones: int = 0

    @property
    def rows_deleted(self) -> int:
        return sum(change.rows_deleted for change in self.tables)

    def summary(self) -> dict[str, Any]:
        """What changed, by counts, table names and file paths: nothing of the person but their pseudonym."""
        return {
            "command": "privacy erase",
            "status": "erased" if self.found else "not_found",
            "erasure_id": self.erasure_id,
            "subject_key": self.subject_key,
            "subject_pseudonym": self.subject_pseudonym,
            "rows_deleted": self.rows_deleted,
            "tables": [asdict(change) for change in self.tables],
            "raw_files_rewritten": [asdict(rewrite) for rewrite in self.raw_files],
            "key_files_rewritten": self.key_files_rewritten,
            "duckdb_rows_deleted": self.duckdb_rows_deleted,
            "tombstones": self.tombstones,
        }


@dataclass
class _Found:
    scope: ErasureScope
    table: Table
    condition: BooleanExpression
    values: dict[str, list[Any]]  # column -> the person's values it is matched against
    rows: int
    columns: dict[str, set[Any]]  # values of the matched rows, for the key and what other tables look up
    raw_paths: set[str]

    @property
    def keys(self) -> set[Any]:
        return self.columns[self.scope.key]


def erase_subject(settings: Settings, subject_key: str, value: str, say: Say | None = None) -> ErasureReport:
    """Remove the subject everywhere; an unknown subject key is a ConfigurationError (exit 2)."""
    say = say or (lambda _: None)
    project_dir = locate_project_dir(settings)
    scopes = erasure_scopes(project_dir)
    known = sorted({scope.subject for scope in scopes})
    if subject_key not in known:
        raise ConfigurationError(
            f"unknown subject key {subject_key!r}: the classification of {project_dir} declares erasure by "
            f"{', '.join(known) or 'no key'}"
        )
    key = pseudonymisation_key(settings)
    report = ErasureReport(uuid.uuid4().hex, subject_key, pseudonym(key, value))
    started = datetime.now(UTC)
    catalog = open_catalog(settings)
    found = _find(catalog, [scope for scope in scopes if scope.subject == subject_key], value)
    if not any(item.rows for item in found):
        say(f"no row of {subject_key} {report.subject_pseudonym[:12]}… in bronze: nothing changed")
        return report
    report.found = True

    locks = TableLocks(settings.catalog_uri, settings.catalog.name)
    warehouse = warehouse_storage(settings)
    try:
        for item in found:
            if item.rows:
                with locks.hold(item.scope.bronze_table):
                    report.tables.append(_delete_and_purge(catalog, warehouse, item.table, item.condition))
                say(f"bronze {item.scope.bronze_table}: {item.rows} rows deleted, earlier snapshots expired")
        lake = lake_storage(settings)
        for item in found:
            report.raw_files += _rewrite_raw_files(lake, item, report.erasure_id, say)
            report.key_files_rewritten += _rewrite_key_files(lake, item)
        derived = _derived_keys(subject_key, value, found)
        for name in _tables_in(catalog, PUBLISHED_SCHEMAS):
            table = catalog.load_table(name)
            condition = _condition_on(table, derived)
            if condition is None:
                continue
            with locks.hold(name):
                change = _delete_and_purge(catalog, warehouse, table, condition)
            if change.rows_deleted:
                report.tables.append(change)
                say(f"{name}: {change.rows_deleted} rows deleted, earlier snapshots expired")
        if settings.profile == "local":
            report.duckdb_rows_deleted = _delete_from_duckdb(DbtProject.from_settings(settings).duckdb_path, derived)
    finally:
        locks.close()

    now = datetime.now(UTC)
    entries: dict[tuple[str, str], set[Any]] = {}
    sources = set()
    for item in found:
        if item.rows:
            source, table_name = _source_table(item.scope)
            sources.add(source)
            for column, values in item.values.items():
                entries.setdefault((table_name, column), set()).update(values)
            entries.setdefault((table_name, item.scope.key), set()).update(item.keys)
    for source in sorted(sources):
        of_source = {
            (table, column): values
            for (table, column), values in entries.items()
            if any(_source_table(item.scope) == (source, table) for item in found)
        }
        rows = tombstone_rows(source, of_source, key, report.erasure_id, now)
        append_tombstones(catalog, rows)
        report.tombstones += rows.num_rows
    _record(catalog, report, started)
    return report


# --- finding -----------------------------------------------------------------------------------------------------


def _find(catalog: Catalog, scopes: list[ErasureScope], value: str) -> list[_Found]:
    """The person's rows, table by table, parents first: a dependent table is searched with the values of the
    rows found in its parents (the ids of their orders, their e-mail address)."""
    looked_up: dict[str, set[str]] = {}  # table -> its columns other tables look values up in
    for scope in scopes:
        for match in scope.matches:
            if match.table and match.key:
                looked_up.setdefault(match.table, set()).add(match.key)
    found: dict[str, _Found] = {}
    for scope in scopes:
        try:
            table = catalog.load_table(scope.bronze_table)
        except NoSuchTableError:
            continue  # a source not synced into this lakehouse
        values: dict[str, list[Any]] = {}
        for match in scope.matches:
            if match.table is None:
                values.setdefault(match.column, []).append(_typed(table, scope, match.column, value))
            elif match.table in found and match.key:
                parent_values = sorted(found[match.table].columns.get(match.key, set()), key=str)
                if parent_values:
                    values.setdefault(match.column, []).extend(parent_values)
        if not values:
            continue
        conditions = [In(column, column_values) for column, column_values in values.items()]  # type: ignore[call-arg,misc]
        condition: BooleanExpression = conditions[0]
        for other in conditions[1:]:
            condition = Or(condition, other)
        wanted = (scope.key, "_raw_path", *sorted(looked_up.get(scope.table, set())))
        matched = table.scan(row_filter=condition, selected_fields=tuple(dict.fromkeys(wanted))).to_arrow()
        columns = {
            name: {item for item in matched.column(name).to_pylist() if item is not None}
            for name in matched.column_names
            if name != "_raw_path"
        }
        raw_paths = set(matched.column("_raw_path").to_pylist())
        found[scope.table] = _Found(scope, table, condition, values, matched.num_rows, columns, raw_paths)
    return list(found.values())


def _typed(table: Table, scope: ErasureScope, column: str, value: str) -> Any:
    """The subject's value in the column's type: ``user_id=abc`` on a bigint column is a usage error."""
    column_type = table.schema().find_field(column).field_type
    if isinstance(column_type, IntegerType | LongType):
        try:
            return int(value)
        except ValueError:
            raise ConfigurationError(
                f"{scope.subject}={value!r}: {scope.bronze_table}.{column} holds integers"
            ) from None
    if isinstance(column_type, StringType):
        return value
    raise ConfigurationError(f"{scope.bronze_table}.{column} is a {column_type}: erasure matches text or integers")


def _derived_keys(subject_key: str, value: str, found: list[_Found]) -> dict[str, set[Any]]:
    """Column name in silver and gold -> the person's values: the subject key, and the keys of every row erased
    from bronze under their silver name (``order_id`` of their orders, ``crm_contact_id`` of their contacts)."""
    derived: dict[str, set[Any]] = {subject_key: {value}}
    for item in found:
        if item.scope.silver_key and item.keys:
            derived.setdefault(item.scope.silver_key, set()).update(item.keys)
    return derived


def _source_table(scope: ErasureScope) -> tuple[str, str]:
    """(``postgres__shopstream``, ``users``) from ``bronze.postgres__shopstream__users``."""
    source, _, table = scope.bronze_table.partition(".")[2].rpartition("__")
    return source, table


# --- Iceberg -----------------------------------------------------------------------------------------------------


def _tables_in(catalog: Catalog, namespaces: Iterable[str]) -> list[str]:
    names = []
    for namespace in namespaces:
        try:
            names += [".".join(identifier) for identifier in catalog.list_tables(namespace)]
        except Exception:  # a namespace not created yet holds nothing to erase
            continue
    return sorted(names)


def _condition_on(table: Table, derived: Mapping[str, set[Any]]) -> BooleanExpression | None:
    """Rows of the table holding one of the person's values, on the columns it has with a matching type."""
    conditions: list[BooleanExpression] = []
    for column, values in derived.items():
        field_ = table.schema().find_field(column, case_sensitive=False) if _has(table, column) else None
        if field_ is None:
            continue
        typed: list[Any]
        if isinstance(field_.field_type, IntegerType | LongType):
            # ShopStream's integer ids never match another source's text ids (Olist's order_id is text).
            typed = [int(value) for value in values if str(value).lstrip("-").isdigit()]
        else:
            continue
        if typed:
            conditions.append(In(field_.name, typed))  # type: ignore[call-arg,misc]
    if not conditions:
        return None
    condition = conditions[0]
    for other in conditions[1:]:
        condition = Or(condition, other)
    return condition


def _has(table: Table, column: str) -> bool:
    return column.lower() in {name.lower() for name in table.schema().column_names}


def _delete_and_purge(
    catalog: Catalog, warehouse: LakeStorage, table: Table, condition: BooleanExpression
) -> TableChange:
    purge = delete_and_purge(catalog, warehouse, table, condition)
    return TableChange(".".join(table.name()), purge.rows_deleted, purge.snapshots_expired, purge.files_removed)


# --- raw zone ----------------------------------------------------------------------------------------------------


def _relative(lake: LakeStorage, uri: str) -> str | None:
    prefix = lake.uri_prefix.rstrip("/") + "/"
    return uri.removeprefix(prefix) if uri.startswith(prefix) else None


def _resource_folders(lake: LakeStorage, item: _Found) -> set[str]:
    folders = set()
    for uri in item.raw_paths:
        relative = _relative(lake, uri) if uri else None
        if relative and "/extracted_at=" in relative:
            folder = relative.split("/extracted_at=")[0]
            folders.add(folder)
            folders.add("quarantine/" + folder.removeprefix("raw/"))
    return folders


def _rewrite_raw_files(lake: LakeStorage, item: _Found, erasure_id: str, say: Say) -> list[RawRewrite]:
    """Every Parquet raw file of the resource that holds one of the person's rows, rewritten without them."""
    if not item.rows:
        return []
    rewrites = []
    for folder in sorted(_resource_folders(lake, item)):
        for relative in lake.list_files(folder):
            if relative.endswith(".manifest.json") or "/_keys/" in relative:
                continue
            with lake.filesystem.open_input_file(lake.path(relative)) as stream:
                if stream.read(4) != PARQUET_MAGIC:
                    # Never leave the person in a file civiclake cannot rewrite: stop, and say which.
                    raise ErasureError(
                        f"raw file {lake.uri(relative)} of {item.scope.bronze_table} is not Parquet: civiclake "
                        "rewrites Parquet raw files only; nothing of the raw zone was changed after this point"
                    )
            rewrite = _rewrite_one(lake, relative, item, erasure_id)
            if rewrite is not None:
                rewrites.append(rewrite)
                say(f"raw {relative}: rewritten without {rewrite.rows_removed} rows")
    return rewrites


def _matching(item: _Found, table: pa.Table) -> pa.Array:
    hits = pa.array([False] * table.num_rows)
    for column, values in item.values.items():
        if column in table.column_names:
            wanted = pa.array(values).cast(table.schema.field(column).type)
            hits = pc.or_(hits, pc.fill_null(pc.is_in(table.column(column), value_set=wanted), False))
    return hits


def _rewrite_one(lake: LakeStorage, relative: str, item: _Found, erasure_id: str) -> RawRewrite | None:
    with tempfile.TemporaryDirectory(prefix="civiclake-erasure-") as scratch:
        local = Path(scratch) / "original.parquet"
        lake.get_file(relative, local)
        table = pq.read_table(local)
        hits = _matching(item, table)
        removed = pc.sum(hits.cast(pa.int64())).as_py() or 0
        if not removed:
            return None
        rewritten = Path(scratch) / "rewritten.parquet"
        pq.write_table(table.filter(pc.invert(hits)), rewritten)
        manifest_path = f"{relative}.manifest.json"
        manifest = json.loads(lake.read_bytes(manifest_path)) if lake.exists(manifest_path) else {}
        previous = manifest.get("sha256") or _sha256(local)
        digest = _sha256(rewritten)
        lake.put_file(rewritten, relative)  # replaces the original bytes at the same path
        manifest.setdefault("rewrites", []).append(
            {
                "reason": "erasure",
                "erasure_id": erasure_id,
                "rewritten_at": datetime.now(UTC).isoformat(),
                "rows_removed": removed,
                "previous_sha256": previous,
                "previous_size": manifest.get("size"),
            }
        )
        manifest["sha256"], manifest["size"] = digest, rewritten.stat().st_size
        lake.write_bytes(manifest_path, json.dumps(manifest, indent=2, ensure_ascii=False).encode())
        return RawRewrite(relative, removed, previous, digest)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _rewrite_key_files(lake: LakeStorage, item: _Found) -> int:
    """The key sets of hard-delete detection without the person's row keys."""
    if not item.keys:
        return 0
    count = 0
    for folder in sorted(_resource_folders(lake, item)):
        for relative in lake.list_files(f"{folder}/_keys"):
            with tempfile.TemporaryDirectory(prefix="civiclake-erasure-") as scratch:
                local = Path(scratch) / "keys.parquet"
                lake.get_file(relative, local)
                keys = pq.read_table(local)
                column = keys.column(0)
                hits = pc.fill_null(pc.is_in(column, value_set=pa.array(sorted(item.keys)).cast(column.type)), False)
                if not pc.any(hits).as_py():
                    continue
                rewritten = Path(scratch) / "rewritten.parquet"
                pq.write_table(keys.filter(pc.invert(hits)), rewritten)
                lake.put_file(rewritten, relative)
                count += 1
    return count


# --- dbt's DuckDB database (local profile) -----------------------------------------------------------------------


def _delete_from_duckdb(path: Path, derived: Mapping[str, set[Any]]) -> int:
    if not path.exists():
        return 0
    deleted = 0
    connection = duckdb.connect(str(path))
    try:
        columns = connection.execute(
            "SELECT c.table_schema, c.table_name, c.column_name, c.data_type FROM information_schema.columns c "
            "JOIN information_schema.tables t USING (table_catalog, table_schema, table_name) "
            "WHERE t.table_type = 'BASE TABLE' AND c.table_schema IN ('silver', 'gold')"
        ).fetchall()
        for schema, table, column, data_type in columns:
            values = derived.get(column.lower())
            if not values:
                continue
            typed: list[Any]
            numeric = data_type.upper() in ("BIGINT", "INTEGER", "HUGEINT", "SMALLINT")
            typed = (
                [int(value) for value in values if str(value).lstrip("-").isdigit()]
                if numeric
                else [str(value) for value in values]
            )
            if not typed:
                continue
            relation = f'"{schema}"."{table}"'
            placeholders = ", ".join("?" for _ in typed)
            before = _count(connection, relation)
            connection.execute(f'DELETE FROM {relation} WHERE "{column}" IN ({placeholders})', typed)
            deleted += before - _count(connection, relation)
        connection.execute("CHECKPOINT")
    finally:
        connection.close()
    return deleted


def _count(connection: duckdb.DuckDBPyConnection, relation: str) -> int:
    row = connection.execute(f"SELECT count(*) FROM {relation}").fetchone()
    return int(row[0]) if row else 0


# --- the record ----------------------------------------------------------------------------------------------------


def _record(catalog: Catalog, report: ErasureReport, started: datetime) -> None:
    changes = {key: value for key, value in report.summary().items() if key in ("tables", "raw_files_rewritten")}
    row = {
        "erasure_id": report.erasure_id,
        "subject_key": report.subject_key,
        "subject_pseudonym": report.subject_pseudonym,
        "started_at": started,
        "finished_at": datetime.now(UTC),
        "rows_deleted": report.rows_deleted,
        "raw_files_rewritten": len(report.raw_files),
        "tombstones": report.tombstones,
        "changes": json.dumps(changes, sort_keys=True),
    }
    table = catalog.create_table_if_not_exists(ERASURES_TABLE, schema=ERASURES_SCHEMA)
    table.append(pa.Table.from_pylist([row], schema=ERASURES_SCHEMA))
