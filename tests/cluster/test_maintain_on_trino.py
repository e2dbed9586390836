"""`civiclake maintain` on the cluster profile, for real: the engine is Trino (chosen by the profile), the table one
that pyiceberg grew with many small appends, as meta and bronze tables grow. Compaction, snapshot expiry and orphan
removal must each change what they say, report it with real counts, keep every row, and leave a table pyiceberg still
reads. Thresholds of zero make everything old enough: they only work because civiclake lowers Trino's minimum
retentions (7 days by default) to what it asks for."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
from click.testing import CliRunner
from pyiceberg.catalog import Catalog
from pyiceberg.transforms import DayTransform

from civiclake.cli.main import cli
from civiclake.config import load_settings
from civiclake.servers.stack import ClusterServers
from civiclake.warehouse.catalog import open_catalog

SCHEMA = pa.schema(
    [
        pa.field("id", pa.int64(), nullable=False),
        pa.field("label", pa.string()),
        pa.field("_extracted_at", pa.timestamp("us", tz="UTC"), nullable=False),
    ]
)
DAYS = (datetime(2025, 1, 1, 8, tzinfo=UTC), datetime(2025, 1, 2, 8, tzinfo=UTC))
APPENDS = 12
ROWS_PER_APPEND = 10


def s3_path(uri: str) -> str:
    """A location as pyarrow's S3 filesystem names it: bucket/key."""
    return uri.removeprefix("s3://")


@dataclass
class MaintainedTable:
    cluster: ClusterServers
    catalog: Catalog
    name: str
    environment: dict[str, str]
    summary_file: Path

    def civiclake_maintain(self, *arguments: str) -> dict[str, Any]:
        """`civiclake maintain --table <this table> ...` with the cluster profile's environment; its JSON summary."""
        result = CliRunner().invoke(
            cli,
            ["maintain", "--table", self.name, "--summary-json", str(self.summary_file), *arguments],
            env=self.environment,
            obj={},
            catch_exceptions=False,
        )
        assert result.exit_code == 0, result.output
        summary: dict[str, Any] = json.loads(self.summary_file.read_text())
        assert summary["engine"] == "trino" and summary["status"] == "success", summary
        return summary

    def trino(self, statement: str) -> list[tuple[Any, ...]]:
        return self.cluster.trino.query(statement)

    def relation(self, suffix: str = "") -> str:
        """The table in Trino, or one of its metadata tables (``$files``, ``$snapshots``)."""
        namespace, table = self.name.split(".")
        return f'iceberg."{namespace}"."{table}{suffix}"'

    def data_files(self) -> set[str]:
        return {path for (path,) in self.trino(f"SELECT file_path FROM {self.relation('$files')} WHERE content = 0")}

    def snapshot_count(self) -> int:
        [(count,)] = self.trino(f"SELECT count(*) FROM {self.relation('$snapshots')}")
        return int(count)

    def trino_checksum(self) -> tuple[Any, ...]:
        [row] = self.trino(
            f"SELECT count(*), checksum(id), checksum(label), checksum(_extracted_at) FROM {self.relation()}"
        )
        return row

    def pyiceberg_rows(self) -> list[dict[str, Any]]:
        rows = self.catalog.load_table(self.name).scan().to_arrow().to_pylist()
        return sorted(rows, key=lambda row: row["id"])

    def stored_objects(self) -> set[str]:
        from pyarrow import fs

        location = s3_path(self.catalog.load_table(self.name).location())
        found = self.cluster.minio.filesystem().get_file_info(fs.FileSelector(location, recursive=True))
        return {info.path for info in found if info.is_file}


@pytest.fixture
def table(cluster: ClusterServers, tmp_path: Path) -> Iterator[MaintainedTable]:
    """A day-partitioned table in a namespace of its own in the chart's catalog, written by twelve pyiceberg
    appends: twelve small files over two partitions, twelve snapshots."""
    environment = {**cluster.environment, "CIVICLAKE_HOME": str(tmp_path / "home")}
    catalog = open_catalog(load_settings(environ=environment))
    namespace = f"maintain_{uuid.uuid4().hex[:10]}"
    catalog.create_namespace(namespace)
    name = f"{namespace}.events"
    created = catalog.create_table(name, schema=SCHEMA)
    with created.update_spec() as spec:
        spec.add_field("_extracted_at", DayTransform(), "_extracted_at_day")
    for append in range(APPENDS):
        ids = range(append * ROWS_PER_APPEND, (append + 1) * ROWS_PER_APPEND)
        rows = {"id": list(ids), "label": [f"row {i}" for i in ids], "_extracted_at": [DAYS[append % 2]] * len(ids)}
        created.append(pa.table(rows, schema=SCHEMA))
    yield MaintainedTable(cluster, catalog, name, environment, tmp_path / "summary.json")
    cluster.trino.query(f"DROP TABLE IF EXISTS iceberg.{name}")
    catalog.drop_namespace(namespace)


def test_civiclake_maintain_compacts_expires_and_removes_orphans_through_trino(table: MaintainedTable) -> None:
    rows, checksum = table.pyiceberg_rows(), table.trino_checksum()
    small_files = table.data_files()
    assert len(rows) == checksum[0] == APPENDS * ROWS_PER_APPEND
    assert len(small_files) == APPENDS and table.snapshot_count() == APPENDS

    # Compaction: the small files of each partition become one; the rows do not change.
    summary = table.civiclake_maintain("compact", "--small-file-mb", "32", "--min-files", "2")
    compacted = table.data_files()
    assert summary["tables"] == [table.name]
    assert (summary["files_removed"], summary["files_added"]) == (APPENDS, len(compacted))
    assert len(compacted) == len(DAYS) and compacted.isdisjoint(small_files)
    assert table.trino_checksum() == checksum and table.pyiceberg_rows() == rows
    assert table.civiclake_maintain("compact", "--min-files", "2")["tables"] == [], "nothing small left to rewrite"

    # Expiry with a zero threshold: every snapshot but the current one goes, with the manifest lists and manifests
    # only they referenced. The small files stay: Iceberg deletes a data file when it expires the snapshot that
    # removed it from the table, and that snapshot, the compaction, is the current one.
    before = table.catalog.load_table(table.name)
    current = before.metadata.current_snapshot_id
    expired = {snapshot.manifest_list for snapshot in before.snapshots() if snapshot.snapshot_id != current}
    assert len(expired) == table.snapshot_count() - 1 == APPENDS
    objects = table.stored_objects()
    summary = table.civiclake_maintain("expire-snapshots", "--older-than-days", "0", "--retain-last", "1")
    deleted = objects - table.stored_objects()
    assert summary["tables"] == [table.name]
    assert summary["snapshots_expired"] == APPENDS and table.snapshot_count() == 1
    assert summary["files_removed"] == len(deleted) and {s3_path(path) for path in expired} <= deleted
    assert all(path.endswith(".avro") for path in deleted), "only manifests and manifest lists"
    assert table.trino_checksum() == checksum and table.pyiceberg_rows() == rows

    # Orphan removal with a zero threshold: the stray file and the small files (no live snapshot has them any more)
    # are deleted; nothing the current snapshot reads is.
    location = s3_path(before.location())
    orphan = f"{location}/data/_extracted_at_day=2025-01-01/left-by-a-failed-write.parquet"
    with table.cluster.minio.filesystem().open_output_stream(orphan) as stream:
        stream.write(b"not referenced by any snapshot")
    objects = table.stored_objects()
    summary = table.civiclake_maintain("remove-orphans", "--older-than-hours", "0")
    deleted = objects - table.stored_objects()
    assert deleted == {orphan} | {s3_path(path) for path in small_files}
    assert summary["tables"] == [table.name] and summary["files_removed"] == len(deleted)
    assert table.data_files() == compacted
    assert table.civiclake_maintain("remove-orphans", "--older-than-hours", "0")["tables"] == []

    # pyiceberg, which wrote the table, still reads it, and Trino still agrees with it.
    assert table.pyiceberg_rows() == rows and table.trino_checksum() == checksum


def test_the_default_thresholds_leave_young_snapshots_and_files_alone(table: MaintainedTable) -> None:
    """The CLI's defaults (7 days, 168 hours) reach Trino as its minimum retentions too: nothing this young goes."""
    location = s3_path(table.catalog.load_table(table.name).location())
    stray = f"{location}/data/written-by-a-sync-in-flight.parquet"
    with table.cluster.minio.filesystem().open_output_stream(stray) as stream:
        stream.write(b"not committed yet")

    assert table.civiclake_maintain("expire-snapshots")["tables"] == []
    assert table.civiclake_maintain("remove-orphans")["tables"] == []

    assert table.snapshot_count() == APPENDS
    assert stray in table.stored_objects()
