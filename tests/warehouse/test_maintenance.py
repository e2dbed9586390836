"""Iceberg upkeep on real tables, on both profiles' backends (pyiceberg's SQL catalog on SQLite with files on
disk, and on PostgreSQL with files in MinIO): compaction keeps every row, expiry keeps what it must, orphan removal
never touches a referenced file nor a young one, and one broken table does not stop the others. The Trino
engine's statements are checked here by parsing them as Trino SQL; tests/cluster runs them on Trino."""

from __future__ import annotations

import json
import re
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pyarrow as pa
import pyarrow.fs as pafs
import pyarrow.parquet as pq
import pytest
import sqlglot
from click.testing import CliRunner
from pyiceberg.catalog.sql import SqlCatalog
from pyiceberg.table import Table
from pyiceberg.transforms import DayTransform
from sqlglot import exp

from civiclake.cli.main import cli
from civiclake.config import Settings, load_settings
from civiclake.errors import ConfigurationError
from civiclake.lake.filesystem import warehouse_storage
from civiclake.warehouse.catalog import open_catalog
from civiclake.warehouse.duck import connect
from civiclake.warehouse.maintenance import (
    ACTIONS,
    MaintenanceOptions,
    PyicebergMaintenance,
    TrinoEndpoint,
    referenced_files,
    run_maintenance,
    run_maintenance_command,
    snapshot_retention,
    trino_statement,
)
from civiclake.warehouse.meta import META_TABLE_PROPERTIES, META_TABLES, DatasetRecord, MetaTables
from civiclake.warehouse.meta import _schema as meta_schema

SCHEMA = pa.schema([("id", pa.int64()), ("label", pa.string()), ("_extracted_at", pa.timestamp("us", tz="UTC"))])
DAY_ONE = datetime(2025, 1, 1, 8, tzinfo=UTC)
DAY_TWO = datetime(2025, 1, 2, 8, tzinfo=UTC)
EVERYTHING_OLD = MaintenanceOptions(
    min_input_files=3, snapshot_older_than=timedelta(0), retain_last=1, orphan_older_than=timedelta(0)
)


@pytest.fixture
def settings(backend_environment: dict[str, str]) -> Settings:
    return load_settings(environ=backend_environment)


@pytest.fixture
def local_settings(tmp_path: Path) -> Settings:
    """For the tests that need no table: the local profile only."""
    return load_settings(environ={"CIVICLAKE_HOME": str(tmp_path / "home")})


@pytest.fixture
def catalog(settings: Settings) -> SqlCatalog:
    return open_catalog(settings)


def batch(first: int, count: int, when: datetime) -> pa.Table:
    ids = list(range(first, first + count))
    return pa.table({"id": ids, "label": [f"row {i}" for i in ids], "_extracted_at": [when] * count}, schema=SCHEMA)


def day_partitioned(catalog: SqlCatalog, name: str) -> Table:
    table = catalog.create_table(name, schema=SCHEMA)
    with table.update_spec() as spec:
        spec.add_field("_extracted_at", DayTransform(), "_extracted_at_day")
    return table


def appended(catalog: SqlCatalog, name: str, batches: list[pa.Table]) -> Table:
    """A table written like meta tables are: one pyiceberg append (one small file, one snapshot) per batch."""
    table = day_partitioned(catalog, name)
    for rows in batches:
        table.append(rows)
    return catalog.load_table(name)


def registered(catalog: SqlCatalog, name: str, batches: list[pa.Table], settings: Settings) -> Table:
    """A table written like bronze is: plain Parquet files (no field ids) in the warehouse, registered with
    add_files."""
    table = day_partitioned(catalog, name)
    storage = warehouse_storage(settings)
    for index, rows in enumerate(batches):
        relative = f"incoming/{name}/part-{index}.parquet"
        storage.filesystem.create_dir(storage.path(relative).rsplit("/", 1)[0], recursive=True)
        pq.write_table(rows, storage.path(relative), filesystem=storage.filesystem)
        table.add_files([storage.uri(relative)])
    return catalog.load_table(name)


def ids(table: Table) -> list[int]:
    return sorted(table.scan().to_arrow()["id"].to_pylist())


def data_files(table: Table) -> list[str]:
    return sorted(task.file.file_path for task in table.scan().plan_files())


def engine(
    catalog: SqlCatalog, settings: Settings, options: MaintenanceOptions = EVERYTHING_OLD
) -> PyicebergMaintenance:
    return PyicebergMaintenance(catalog, warehouse_storage(settings), options)


def stored_files(settings: Settings, location: str) -> dict[str, datetime]:
    """Every file under a table's location, as its file system names it (``/abs/path`` or ``bucket/key``), with
    the time it was last written."""
    root = location.split("://", 1)[-1].rstrip("/")
    selector = pafs.FileSelector(root, recursive=True, allow_not_found=True)
    return {
        info.path: info.mtime.astimezone(UTC) if info.mtime.tzinfo else info.mtime.replace(tzinfo=UTC)
        for info in warehouse_storage(settings).filesystem.get_file_info(selector)
        if info.is_file
    }


def older_than_all_but(newest_old: datetime, margin: timedelta = timedelta(milliseconds=50)) -> timedelta:
    """An orphan age limit that makes files written up to ``newest_old`` old and later ones young: the limit is
    measured back from the moment maintenance runs (an instant after this), and nothing can set an object's
    modification time on an S3 server, so the young file is written a while after the old ones."""
    return datetime.now(UTC) - (newest_old + margin)


def test_compaction_rewrites_small_files_of_a_partition_and_keeps_every_row(
    catalog: SqlCatalog, settings: Settings
) -> None:
    table = appended(
        catalog,
        "meta.events",
        [batch(i * 10, 10, DAY_ONE) for i in range(6)] + [batch(100, 5, DAY_TWO), batch(105, 5, DAY_TWO)],
    )
    before = ids(table)
    assert len(data_files(table)) == 8

    outcome = engine(catalog, settings).run("compact", "meta.events")

    table = catalog.load_table("meta.events")
    assert (outcome.status, outcome.files_removed, outcome.files_added, outcome.rows) == ("changed", 6, 1, 60)
    # Day two has two small files, under min_input_files: left alone.
    assert len(data_files(table)) == 3
    assert ids(table) == before
    assert table.current_snapshot().summary["civiclake.maintenance"] == "compact"
    # The SQL engine of the local profile reads the rewritten table.
    duck = connect(settings, catalog)
    assert duck.execute("SELECT count(*), count(DISTINCT id) FROM meta.events").fetchone() == (70, 70)
    assert engine(catalog, settings).run("compact", "meta.events").status == "unchanged"


def test_compaction_of_a_table_registered_like_bronze(catalog: SqlCatalog, settings: Settings) -> None:
    table = registered(catalog, "bronze.registered", [batch(i * 3, 3, DAY_ONE) for i in range(4)], settings)
    outcome = engine(catalog, settings).run("compact", "bronze.registered")
    table = catalog.load_table("bronze.registered")
    assert (outcome.status, outcome.files_removed, outcome.files_added) == ("changed", 4, 1)
    assert ids(table) == list(range(12))
    assert table.scan().to_arrow().column("label").to_pylist()[0].startswith("row ")


def test_expiry_keeps_the_newest_snapshots_and_young_ones(catalog: SqlCatalog, settings: Settings) -> None:
    table = appended(catalog, "meta.runs", [batch(i, 1, DAY_ONE) for i in range(5)])
    newest = [snapshot.snapshot_id for snapshot in table.metadata.snapshots][-2:]

    young = MaintenanceOptions(snapshot_older_than=timedelta(days=1), retain_last=1)
    assert engine(catalog, settings, young).run("expire-snapshots", "meta.runs").status == "unchanged"

    keep_two = MaintenanceOptions(snapshot_older_than=timedelta(0), retain_last=2)
    outcome = engine(catalog, settings, keep_two).run("expire-snapshots", "meta.runs")
    table = catalog.load_table("meta.runs")
    assert (outcome.status, outcome.snapshots_expired) == ("changed", 3)
    assert [snapshot.snapshot_id for snapshot in table.metadata.snapshots] == newest
    assert ids(table) == list(range(5))


def test_orphan_removal_deletes_only_old_unreferenced_files(catalog: SqlCatalog, settings: Settings) -> None:
    table = appended(catalog, "meta.files", [batch(i * 10, 10, DAY_ONE) for i in range(4)])
    maintenance = engine(catalog, settings)
    maintenance.run("compact", "meta.files")
    maintenance.run("expire-snapshots", "meta.files")
    table = catalog.load_table("meta.files")
    everything = stored_files(settings, table.location())
    referenced = referenced_files(table)
    unreferenced = set(everything) - referenced
    assert len(unreferenced) >= 4, "the four compacted files and their manifests are no longer referenced"
    newest_old = max(everything.values())
    time.sleep(2)  # the young file is written well after the old ones: their ages differ by that much
    storage = warehouse_storage(settings)
    young_stray = f"{table.location().split('://', 1)[-1].rstrip('/')}/data/in-flight.parquet"
    with storage.filesystem.open_output_stream(young_stray) as stream:
        stream.write(b"written by a sync that has not committed yet")
    assert stored_files(settings, table.location())[young_stray] > newest_old + timedelta(seconds=1)

    dry = MaintenanceOptions(dry_run=True, orphan_older_than=older_than_all_but(newest_old))
    assert engine(catalog, settings, dry).run("remove-orphans", "meta.files").files_removed == len(unreferenced)
    assert set(stored_files(settings, table.location())) == set(everything) | {young_stray}

    limit = MaintenanceOptions(orphan_older_than=older_than_all_but(newest_old))
    outcome = engine(catalog, settings, limit).run("remove-orphans", "meta.files")

    assert outcome.status == "changed" and outcome.files_removed == len(unreferenced)
    remaining = set(stored_files(settings, table.location()))
    assert remaining == (set(everything) - unreferenced) | {young_stray}, "younger than the limit: maybe in flight"
    assert referenced <= remaining, "every file the table points to is still there"
    assert ids(catalog.load_table("meta.files")) == list(range(40))


def test_a_broken_table_is_reported_and_the_others_are_still_maintained(
    catalog: SqlCatalog, settings: Settings
) -> None:
    appended(catalog, "meta.good", [batch(i * 10, 10, DAY_ONE) for i in range(3)])
    broken = appended(catalog, "meta.broken", [batch(i * 10, 10, DAY_ONE) for i in range(3)])
    warehouse_storage(settings).filesystem.delete_file(broken.current_snapshot().manifest_list.split("://", 1)[-1])

    maintenance = engine(catalog, settings)
    report = run_maintenance(
        "compact", ["meta.broken", "meta.good"], lambda name: maintenance.run("compact", name), "pyiceberg"
    )

    assert report.exit_code == 1
    (failure,) = report.failed
    assert failure.table == "meta.broken" and "FileNotFoundError" in (failure.error or "")
    summary = report.summary()
    assert summary["status"] == "failed" and summary["tables"] == ["meta.good"]
    assert summary["errors"][0]["table"] == "meta.broken"
    assert len(data_files(catalog.load_table("meta.good"))) == 1


def test_an_unknown_table_is_a_usage_error(local_settings: Settings) -> None:
    with pytest.raises(ConfigurationError, match=r"no such table: bronze\.nope"):
        run_maintenance_command(local_settings, open_catalog(local_settings), "compact", tables=["bronze.nope"])


def test_civiclake_maintain_runs_the_three_actions_and_writes_its_summary(
    catalog: SqlCatalog,
    backend_environment: dict[str, str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    appended(catalog, "meta.cli", [batch(i * 10, 10, DAY_ONE) for i in range(5)])
    for name, value in backend_environment.items():
        monkeypatch.setenv(name, value)
    summary = tmp_path / "summary.json"
    runner = CliRunner()
    # pyiceberg's engine on both profiles: Trino's (the cluster profile's default) is run in tests/cluster.
    result = runner.invoke(
        cli,
        ["maintain", "--engine", "pyiceberg", "--summary-json", str(summary), "compact", "--min-files", "2"],
        obj={},
    )
    assert result.exit_code == 0, result.output
    assert json.loads(summary.read_text())["tables"] == ["meta.cli"]

    # Without a subcommand: compaction, expiry and orphan removal in that order, each with its defaults.
    result = runner.invoke(
        cli, ["maintain", "--engine", "pyiceberg", "--table", "meta.cli", "--summary-json", str(summary)], obj={}
    )
    assert result.exit_code == 0, result.output
    assert json.loads(summary.read_text())["command"] == "maintain remove-orphans"
    assert ids(catalog.load_table("meta.cli")) == list(range(50))

    result = runner.invoke(cli, ["maintain", "--engine", "pyiceberg", "--table", "meta.nope", "compact"], obj={})
    assert result.exit_code == 2 and "no such table" in result.output


def test_trino_statements_name_the_table_safely_and_call_the_iceberg_procedures() -> None:
    options = MaintenanceOptions(small_file_bytes=32 * 1024 * 1024, snapshot_older_than=timedelta(days=7))
    statements = {action: trino_statement(action, "iceberg", 'bronze.odd"name', options) for action in ACTIONS}
    target = '"iceberg"."bronze"."odd""name"'
    assert statements == {
        "compact": f"ALTER TABLE {target} EXECUTE optimize(file_size_threshold => '32MB')",
        "expire-snapshots": f"ALTER TABLE {target} EXECUTE expire_snapshots(retention_threshold => '168h')",
        "remove-orphans": f"ALTER TABLE {target} EXECUTE remove_orphan_files(retention_threshold => '168h')",
    }
    for statement in statements.values():
        found = re.fullmatch(r"ALTER TABLE (?P<table>.+) EXECUTE (?P<procedure>\w+)\((?P<arguments>.*)\)", statement)
        assert found is not None
        # sqlglot has no grammar for ALTER TABLE ... EXECUTE: the table reference is parsed on its own.
        table = sqlglot.parse_one(found["table"], read="trino", into=exp.Table)
        assert (table.catalog, table.db, table.name) == ("iceberg", "bronze", 'odd"name')
        assert re.fullmatch(r"\w+ => '\d+(MB|h)'", found["arguments"])


def test_the_cluster_profile_maintains_through_trino_and_says_what_is_missing(
    local_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("TRINO_HOST", raising=False)
    with pytest.raises(ConfigurationError, match="TRINO_HOST"):
        TrinoEndpoint.from_environment({})
    with pytest.raises(ConfigurationError, match="TRINO_PORT"):
        TrinoEndpoint.from_environment({"TRINO_HOST": "trino", "TRINO_PORT": "http"})
    endpoint = TrinoEndpoint.from_environment({"TRINO_HOST": "civiclake-trino", "TRINO_PORT": "8080"})
    assert (endpoint.catalog, endpoint.http_scheme) == ("iceberg", "http")
    with pytest.raises(ConfigurationError, match="TRINO_HOST"):
        run_maintenance_command(local_settings, open_catalog(local_settings), "compact", tables=[], engine="trino")


def test_a_table_asking_for_a_shorter_history_has_its_old_snapshots_expired_sooner(
    catalog: SqlCatalog, settings: Settings
) -> None:
    short = appended(catalog, "meta.short_history", [batch(i, 1, DAY_ONE) for i in range(5)])
    with short.transaction() as transaction:
        transaction.set_properties({"history.expire.max-snapshot-age-ms": "1"})
    appended(catalog, "meta.default_history", [batch(i, 1, DAY_ONE) for i in range(5)])
    time.sleep(0.01)  # every snapshot is now older than one millisecond

    week = MaintenanceOptions(snapshot_older_than=timedelta(days=7), retain_last=2)
    shortened = engine(catalog, settings, week).run("expire-snapshots", "meta.short_history")
    default = engine(catalog, settings, week).run("expire-snapshots", "meta.default_history")
    assert (shortened.status, shortened.snapshots_expired) == ("changed", 3)
    assert default.status == "unchanged"
    assert len(catalog.load_table("meta.short_history").metadata.snapshots) == 2
    assert ids(catalog.load_table("meta.short_history")) == list(range(5))


def test_meta_tables_keep_their_last_metadata_files_only_and_one_day_of_history(
    catalog: SqlCatalog, settings: Settings
) -> None:
    # A meta table made by an earlier civiclake, without the properties: it gets them at its next use.
    catalog.create_table("meta.datasets", schema=meta_schema(META_TABLES["datasets"]))
    meta = MetaTables(catalog)
    for number in range(25):
        now = DAY_ONE + timedelta(hours=number)
        record = DatasetRecord("b", now, "datagouv", f"d{number}", "s", "t", None, "daily", None, None, 1, 0)
        meta.append("datasets", [record])
    table = catalog.load_table("meta.datasets")
    assert {key: table.properties.get(key) for key in META_TABLE_PROPERTIES} == META_TABLE_PROPERTIES
    metadata_files = [path for path in stored_files(settings, table.location()) if path.endswith(".metadata.json")]
    assert len(table.metadata.snapshots) == 25
    assert len(metadata_files) <= 11, "the current metadata file and the ten before it"
    assert snapshot_retention(table, MaintenanceOptions()) == timedelta(days=1)
    assert meta.read("datasets").num_rows == 25
