"""Iceberg upkeep on real tables (pyiceberg SQL catalog on SQLite, files on disk): compaction keeps every row,
expiry keeps what it must, orphan removal never touches a referenced file, and one broken table does not stop the
others. The Trino engine's statements are checked by parsing them as Trino SQL (no Trino server runs here)."""

from __future__ import annotations

import json
import os
import re
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pyarrow as pa
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
    trino_statement,
)

SCHEMA = pa.schema([("id", pa.int64()), ("label", pa.string()), ("_extracted_at", pa.timestamp("us", tz="UTC"))])
DAY_ONE = datetime(2025, 1, 1, 8, tzinfo=UTC)
DAY_TWO = datetime(2025, 1, 2, 8, tzinfo=UTC)
EVERYTHING_OLD = MaintenanceOptions(
    min_input_files=3, snapshot_older_than=timedelta(0), retain_last=1, orphan_older_than=timedelta(0)
)


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
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


def registered(catalog: SqlCatalog, name: str, batches: list[pa.Table], folder: Path) -> Table:
    """A table written like bronze is: plain Parquet files (no field ids) registered with add_files."""
    table = day_partitioned(catalog, name)
    for index, rows in enumerate(batches):
        path = folder / f"part-{index}.parquet"
        path.parent.mkdir(parents=True, exist_ok=True)
        pq.write_table(rows, path)
        table.add_files([path.as_uri()])
    return catalog.load_table(name)


def ids(table: Table) -> list[int]:
    return sorted(table.scan().to_arrow()["id"].to_pylist())


def data_files(table: Table) -> list[str]:
    return sorted(task.file.file_path for task in table.scan().plan_files())


def engine(
    catalog: SqlCatalog, settings: Settings, options: MaintenanceOptions = EVERYTHING_OLD
) -> PyicebergMaintenance:
    return PyicebergMaintenance(catalog, warehouse_storage(settings), options)


def age(path: Path, hours: float) -> None:
    then = time.time() - hours * 3600
    os.utime(path, (then, then))


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


def test_compaction_of_a_table_registered_like_bronze(catalog: SqlCatalog, settings: Settings, tmp_path: Path) -> None:
    table = registered(catalog, "bronze.registered", [batch(i * 3, 3, DAY_ONE) for i in range(4)], tmp_path / "files")
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
    root = Path(table.location().removeprefix("file://"))
    everything = {path for path in root.rglob("*") if path.is_file()}
    referenced = {Path(path) for path in referenced_files(table)}
    unreferenced = everything - referenced
    assert len(unreferenced) >= 4, "the four compacted files and their manifests are no longer referenced"
    young_stray = root / "data" / "in-flight.parquet"
    young_stray.write_bytes(b"written by a sync that has not committed yet")
    for path in everything:
        age(path, 200)

    dry = PyicebergMaintenance(catalog, warehouse_storage(settings), MaintenanceOptions(dry_run=True))
    assert dry.run("remove-orphans", "meta.files").files_removed == len(unreferenced)
    assert all(path.exists() for path in everything)

    week = MaintenanceOptions(orphan_older_than=timedelta(days=7))
    outcome = engine(catalog, settings, week).run("remove-orphans", "meta.files")

    assert outcome.status == "changed" and outcome.files_removed == len(unreferenced)
    assert all(not path.exists() for path in unreferenced)
    assert all(path.exists() for path in referenced if path.is_relative_to(root))
    assert young_stray.exists(), "younger than the grace period: maybe a write in flight"
    assert ids(catalog.load_table("meta.files")) == list(range(40))


def test_a_broken_table_is_reported_and_the_others_are_still_maintained(
    catalog: SqlCatalog, settings: Settings
) -> None:
    appended(catalog, "meta.good", [batch(i * 10, 10, DAY_ONE) for i in range(3)])
    broken = appended(catalog, "meta.broken", [batch(i * 10, 10, DAY_ONE) for i in range(3)])
    Path(broken.current_snapshot().manifest_list.removeprefix("file://")).unlink()

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


def test_an_unknown_table_is_a_usage_error(catalog: SqlCatalog, settings: Settings) -> None:
    with pytest.raises(ConfigurationError, match=r"no such table: bronze\.nope"):
        run_maintenance_command(settings, catalog, "compact", tables=["bronze.nope"])


def test_civiclake_maintain_runs_the_three_actions_and_writes_its_summary(
    catalog: SqlCatalog, settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    appended(catalog, "meta.cli", [batch(i * 10, 10, DAY_ONE) for i in range(5)])
    monkeypatch.setenv("CIVICLAKE_HOME", str(settings.home))
    summary = tmp_path / "summary.json"
    runner = CliRunner()
    result = runner.invoke(cli, ["maintain", "--summary-json", str(summary), "compact", "--min-files", "2"], obj={})
    assert result.exit_code == 0, result.output
    assert json.loads(summary.read_text())["tables"] == ["meta.cli"]

    # Without a subcommand: compaction, expiry and orphan removal in that order, each with its defaults.
    result = runner.invoke(cli, ["maintain", "--table", "meta.cli", "--summary-json", str(summary)], obj={})
    assert result.exit_code == 0, result.output
    assert json.loads(summary.read_text())["command"] == "maintain remove-orphans"
    assert ids(catalog.load_table("meta.cli")) == list(range(50))

    result = runner.invoke(cli, ["maintain", "--table", "meta.nope", "compact"], obj={})
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
    settings: Settings, catalog: SqlCatalog, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("TRINO_HOST", raising=False)
    with pytest.raises(ConfigurationError, match="TRINO_HOST"):
        TrinoEndpoint.from_environment({})
    with pytest.raises(ConfigurationError, match="TRINO_PORT"):
        TrinoEndpoint.from_environment({"TRINO_HOST": "trino", "TRINO_PORT": "http"})
    endpoint = TrinoEndpoint.from_environment({"TRINO_HOST": "civiclake-trino", "TRINO_PORT": "8080"})
    assert (endpoint.catalog, endpoint.http_scheme) == ("iceberg", "http")
    with pytest.raises(ConfigurationError, match="TRINO_HOST"):
        run_maintenance_command(settings, catalog, "compact", tables=[], engine="trino")
