"""`make bench-scale`, a month of daily runs: what 30 days of syncs leave in Iceberg, and what `civiclake maintain`
leaves of it.

    python -m benchmarks.scale_month [--datasets 300] [--days 30] [--changed 0.1] [--quick]

A local lakehouse receives, day after day, the commits `civiclake sync` makes (pipeline.py): on the first day every
dataset's bronze table is created with its file; on each later day a share of the datasets publishes a new
version (one bronze commit: an append of the new rows, partitioned by extraction day); every resource gets its
`meta.ingestions` record, committed a batch at a time as the pipeline's record batch does (a commit when the batch
holds `BATCH_MAX_LOCKS` loaded tables or `BATCH_MAX_RECORDS` records; its time limit is left out: the simulation
has no downloads to wait for), and the run its `meta.datasets` snapshot (one commit). The clock is simulated:
snapshots carry the day's timestamp (the run starts 30 days ago), so snapshot expiry sees a month of history.
Files on disk carry the real time, so orphan removal runs with `--older-than-hours 0` (as it would once its grace
period has passed).

Counted per table before and after `civiclake maintain compact`, `expire-snapshots` (its defaults: 7 days, the
newest 5 kept) and `remove-orphans`: snapshots, current data files (and the most in one partition), metadata
files, all files and bytes under the table; the catalog database's size. Figures go to
benchmarks/results/scale_month.json and the `month` block of docs/scalability.md. Nothing is asserted.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import tempfile
import time
import types
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyiceberg.table.snapshots as iceberg_snapshots
from pyiceberg.table import Table
from pyiceberg.transforms import DayTransform

from benchmarks.sections import write_section
from benchmarks.sync_throughput import run_child
from civiclake.config import load_settings
from civiclake.pipeline import BATCH_MAX_LOCKS, BATCH_MAX_RECORDS
from civiclake.warehouse.catalog import open_catalog
from civiclake.warehouse.meta import DatasetRecord, IngestionRecord, MetaTables

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results" / "scale_month.json"
DOC = ROOT / "docs" / "scalability.md"
CIVICLAKE = str(Path(sys.executable).with_name("civiclake"))
_TS = pa.timestamp("us", tz="UTC")
BRONZE = pa.schema(
    [
        ("code_commune", pa.string()),
        ("valeur", pa.float64()),
        ("_source", pa.string()),
        ("_dataset_id", pa.string()),
        ("_resource_id", pa.string()),
        ("_extracted_at", _TS),
        ("_ingested_at", _TS),
        ("_raw_sha256", pa.string()),
        ("_batch_id", pa.string()),
        ("_row_number", pa.int64()),
    ]
)


def log(message: str) -> None:
    print(f"[scale_month] {message}", file=sys.stderr, flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", type=int, default=300)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--changed", type=float, default=0.1, help="share of datasets changed each day")
    parser.add_argument("--rows", type=int, default=200, help="rows of each version of a dataset's file")
    parser.add_argument("--quick", action="store_true", help="20 datasets over 10 days (a check of the harness)")
    parser.add_argument("--results", type=Path, default=RESULTS)
    parser.add_argument("--doc", type=Path, default=DOC)
    # make bench-scale passes the same arguments to every scale benchmark: the others' are not ours.
    arguments, _ = parser.parse_known_args()
    if arguments.quick:
        arguments.datasets, arguments.days = 20, 10
    with tempfile.TemporaryDirectory(prefix="civiclake-scale-month-") as work:
        result = simulate(Path(work), arguments.datasets, arguments.days, arguments.changed, arguments.rows)
    arguments.results.parent.mkdir(parents=True, exist_ok=True)
    arguments.results.write_text(json.dumps(result, indent=2) + "\n")
    write_section(arguments.doc, "month", render_markdown(result))
    log(f"wrote {arguments.results} and the month block of {arguments.doc}")


class SimulatedClock:
    """pyiceberg stamps a snapshot with ``time.time()`` of its snapshots module: that clock runs ``offset`` late."""

    def __init__(self) -> None:
        self.offset = 0.0
        iceberg_snapshots.time = types.SimpleNamespace(time=lambda: time.time() - self.offset)  # type: ignore[attr-defined]

    def set_day(self, now: datetime) -> None:
        self.offset = (datetime.now(UTC) - now).total_seconds()


def simulate(work: Path, datasets: int, days: int, changed: float, rows: int) -> dict[str, Any]:
    home = work / "home"
    settings = load_settings(environ={"CIVICLAKE_HOME": str(home)})
    catalog = open_catalog(settings)
    meta = MetaTables(catalog)
    clock = SimulatedClock()
    randomness = random.Random(20260101)
    start = datetime.now(UTC).replace(hour=6, minute=0, second=0, microsecond=0) - timedelta(days=days)
    tables: dict[int, Table] = {}
    daily: list[dict[str, Any]] = []
    for day in range(days):
        now = start + timedelta(days=day)
        clock.set_day(now)
        batch = f"{now:%Y%m%d}-run"
        began = time.perf_counter()
        due = range(datasets) if day == 0 else randomness.sample(range(datasets), max(1, int(datasets * changed)))
        for number in due:
            table = tables.get(number) or create_bronze(catalog, number)
            table.append(version(number, now, batch, rows, randomness))
            tables[number] = table
        bronze_seconds = time.perf_counter() - began
        began = time.perf_counter()
        meta_commits = record_ingestions(meta, [ingestion(number, now, batch, rows, number in set(due))
                                                for number in range(datasets)])  # fmt: skip
        meta.append("datasets", [dataset_record(number, now, batch) for number in range(datasets)])
        meta_seconds = time.perf_counter() - began
        daily.append(
            {"day": day + 1, "bronze_commits": len(due), "bronze_seconds": round(bronze_seconds, 2),
             "meta_commits": meta_commits + 1, "meta_seconds": round(meta_seconds, 2)}
        )  # fmt: skip
        log(f"day {day + 1}: {len(due)} bronze commits in {bronze_seconds:.1f} s, meta in {meta_seconds:.1f} s")
    before = inventory(home, settings.catalog_uri)
    env = {**os.environ, "CIVICLAKE_HOME": str(home)}
    maintenance = {}
    for action, options in (
        ("compact", []),
        ("expire-snapshots", []),
        ("remove-orphans", ["--older-than-hours", "0"]),
    ):
        run, _ = run_child([CIVICLAKE, "maintain", "--table", "meta.ingestions", action, *options], env, work)
        everything, _ = run_child([CIVICLAKE, "maintain", action, *options], env, work)
        maintenance[action] = {
            "seconds": everything.seconds,
            "peak_rss_mib": everything.peak_rss_mib,
            "meta_ingestions_alone_seconds": run.seconds,
        }
        log(f"maintain {action}: {everything.seconds:.1f} s")
    after = inventory(home, settings.catalog_uri)
    return {
        "date": f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC",
        "cores": os.cpu_count(),
        "datasets": datasets,
        "days": days,
        "changed_per_day": changed,
        "rows_per_version": rows,
        "daily": daily,
        "before": before,
        "maintenance": maintenance,
        "after": after,
    }


def record_ingestions(meta: MetaTables, records: list[IngestionRecord]) -> int:
    """Commit a run's ingestion records in the pipeline's batches; the number of commits."""
    commits, batch, loaded = 0, [], 0
    for record in records:
        batch.append(record)
        loaded += record.status == "loaded"
        if loaded >= BATCH_MAX_LOCKS or len(batch) >= BATCH_MAX_RECORDS:
            meta.append("ingestions", batch)
            commits, batch, loaded = commits + 1, [], 0
    if batch:
        meta.append("ingestions", batch)
        commits += 1
    return commits


def create_bronze(catalog: Any, number: int) -> Table:
    """A bronze table as the loader makes it: lineage properties, partitioned by the day of extraction."""
    properties = {"civiclake.source": "datagouv", "civiclake.dataset-id": f"dataset-{number:04d}"}
    with (
        catalog.create_table_transaction(
            ("bronze", f"datagouv__d{number:04d}__r"), schema=BRONZE, properties=properties
        ) as transaction,
        transaction.update_spec() as spec,
    ):
        spec.add_field("_extracted_at", DayTransform(), "_extracted_at_day")
    table: Table = catalog.load_table(("bronze", f"datagouv__d{number:04d}__r"))
    return table


def version(number: int, now: datetime, batch: str, rows: int, randomness: random.Random) -> pa.Table:
    return pa.table(
        {
            "code_commune": [
                f"{randomness.randrange(1, 96):02d}{randomness.randrange(1, 999):03d}" for _ in range(rows)
            ],
            "valeur": [randomness.random() * 1000 for _ in range(rows)],
            "_source": ["datagouv"] * rows,
            "_dataset_id": [f"dataset-{number:04d}"] * rows,
            "_resource_id": [f"resource-{number:04d}"] * rows,
            "_extracted_at": [now] * rows,
            "_ingested_at": [now] * rows,
            "_raw_sha256": [f"{number:032d}{now:%Y%m%d}".ljust(64, "0")] * rows,
            "_batch_id": [batch] * rows,
            "_row_number": list(range(1, rows + 1)),
        },
        schema=BRONZE,
    )


def ingestion(number: int, now: datetime, batch: str, rows: int, loaded: bool) -> IngestionRecord:
    return IngestionRecord(
        batch, "datagouv", f"dataset-{number:04d}", f"dataset-{number}", f"resource-{number:04d}", "r", None,
        f"bronze.datagouv__d{number:04d}__r", f"raw/datagouv/d{number:04d}/{now:%Y%m%d}.csv", "0" * 64, rows * 20,
        "csv", "utf-8", rows if loaded else 0, "loaded" if loaded else "unchanged", None, now, now, now,
        0.1, 0.2 if loaded else None,
    )  # fmt: skip


def dataset_record(number: int, now: datetime, batch: str) -> DatasetRecord:
    return DatasetRecord(
        batch, now, "datagouv", f"dataset-{number:04d}", f"dataset-{number}", f"Dataset {number}", "Une mairie",
        "daily", now.isoformat(), None, 1, 0,
    )  # fmt: skip


def inventory(home: Path, catalog_uri: str) -> dict[str, Any]:
    """Per table kind (bronze: mean and max over tables; each meta table): snapshots, files, bytes."""
    settings = load_settings(environ={"CIVICLAKE_HOME": str(home)})
    catalog = open_catalog(settings)
    found: dict[str, Any] = {"bronze": [], "meta": {}}
    for namespace in ("bronze", "meta"):
        for identifier in catalog.list_tables(namespace):
            table = catalog.load_table(identifier)
            figures = table_figures(table)
            if namespace == "bronze":
                found["bronze"].append(figures)
            else:
                found["meta"][identifier[1]] = figures
    bronze = found.pop("bronze")
    found["bronze_tables"] = len(bronze)
    found["bronze_mean"] = {key: round(sum(item[key] for item in bronze) / len(bronze), 1) for key in bronze[0]}
    found["bronze_max"] = {key: max(item[key] for item in bronze) for key in bronze[0]}
    database = Path(catalog_uri.removeprefix("sqlite:///"))
    found["catalog_database_bytes"] = database.stat().st_size if database.exists() else None
    found["meta_bytes"] = sum(item["bytes_on_disk"] for item in found["meta"].values())
    return found


def table_figures(table: Table) -> dict[str, int]:
    per_partition = Counter(repr(task.file.partition) for task in table.scan().plan_files())
    root = Path(table.location().removeprefix("file://"))
    files = [path for path in root.rglob("*") if path.is_file()]
    return {
        "snapshots": len(table.metadata.snapshots),
        "data_files": sum(per_partition.values()),
        "max_data_files_per_partition": max(per_partition.values(), default=0),
        "metadata_files": sum(1 for path in files if path.name.endswith(".metadata.json")),
        "files_on_disk": len(files),
        "bytes_on_disk": sum(path.stat().st_size for path in files),
    }


def render_markdown(result: dict[str, Any]) -> str:
    before, after = result["before"], result["after"]
    first, last = result["daily"][0], result["daily"][-1]
    keys = ("snapshots", "data_files", "max_data_files_per_partition", "metadata_files", "files_on_disk")
    header = "| table | " + " | ".join(key.replace("_", " ") for key in keys) + " | MB on disk |"
    lines = [
        f"Measured {result['date']} on {result['cores']} cores by `python -m benchmarks.scale_month`: "
        f"{result['datasets']} datasets (one bronze table each), {result['days']} simulated days, "
        f"{result['changed_per_day']:.0%} of the datasets publishing a new version each day "
        f"({result['rows_per_version']} rows), committed as `civiclake sync` commits (one bronze commit per new "
        f"version, `meta.ingestions` a batch at a time: a commit per {BATCH_MAX_LOCKS} tables loaded or "
        f"{BATCH_MAX_RECORDS} records, one `meta.datasets` commit per run). Before → after `civiclake maintain` "
        "(compact; expire-snapshots with its defaults, 7 days and the newest 5; remove-orphans). The machine was "
        "shared with other jobs: the times are noisy, the counts are not.",
        "",
        header,
        "|---|" + "---|" * (len(keys) + 1),
    ]
    rows = [("bronze, mean per table", "bronze_mean"), ("bronze, worst table", "bronze_max")]
    for label, key in rows:
        lines.append(_row(label, before[key], after[key], keys))
    for name in sorted(before["meta"]):
        lines.append(_row(f"meta.{name}", before["meta"][name], after["meta"][name], keys))
    maintenance = result["maintenance"]
    catalog_before = (before["catalog_database_bytes"] or 0) / 1e6
    catalog_after = (after["catalog_database_bytes"] or 0) / 1e6
    lines += [
        "",
        f"Catalog database (SQLite): {catalog_before:.1f} → {catalog_after:.1f} MB; meta tables on disk "
        f"{before['meta_bytes'] / 1e6:.1f} → {after['meta_bytes'] / 1e6:.1f} MB. One day's meta commits took "
        f"{first['meta_seconds']:.1f} s on day 1 and {last['meta_seconds']:.1f} s on day {last['day']} "
        f"({last['meta_commits']} commits): each commit rewrites a metadata file listing every snapshot still kept. "
        "`civiclake maintain`: "
        + ", ".join(f"{action} {figures['seconds']:.1f} s" for action, figures in maintenance.items())
        + ".",
    ]
    worst = after["bronze_max"]["max_data_files_per_partition"]
    meta_worst = max(item["max_data_files_per_partition"] for item in after["meta"].values())
    snapshots = max([after["bronze_max"]["snapshots"], *(item["snapshots"] for item in after["meta"].values())])
    lines += [
        "",
        f"Targets: data files per partition after maintain ≤ 2: bronze {worst}, meta {meta_worst} "
        f"({'met' if max(worst, meta_worst) <= 2 else 'missed'}); snapshots bounded by the retention setting: at "
        f"most {snapshots} per table after maintain (a bronze table keeps its last 7 days, a meta table its last "
        "day, `history.expire.max-snapshot-age-ms`, and each at least the newest 5). Metadata files stay at 11 per "
        "meta table between maintenance runs (`write.metadata.delete-after-commit.enabled`, 10 previous versions).",
        "",
        "What grows first: `meta.ingestions` gets one commit per batch of a run (a day of many changed datasets "
        "makes many batches: one per 16 tables loaded), and each commit rewrites a manifest list and a metadata "
        "file that name every snapshot still kept, so commits cost more as history grows between maintenance runs. "
        "The daily `lake_maintenance` DAG keeps a meta table to its last day of snapshots; the size of one day's "
        "run is then what sets the cost.",
    ]
    return "\n".join(lines)


def _row(label: str, before: dict[str, Any], after: dict[str, Any], keys: tuple[str, ...]) -> str:
    cells = [f"{before[key]:g} → {after[key]:g}" for key in keys]
    megabytes = f"{before['bytes_on_disk'] / 1e6:.1f} → {after['bytes_on_disk'] / 1e6:.1f}"
    return f"| {label} | " + " | ".join(cells) + f" | {megabytes} |"


if __name__ == "__main__":
    main()
