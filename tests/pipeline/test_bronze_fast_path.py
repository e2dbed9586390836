"""Bronze loading of large CSV files by polars (the fast path) against the pyarrow batch path: same rows.

The fast path is forced on for small files here (``FAST_PATH_MIN_BYTES``); the loads must match the batch
path's, lineage included, and keep the loader's guarantees: idempotent reruns, schema evolution, no data
file left behind by a failure.
"""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from benchmarks.messy_csv import write_messy_csv

import civiclake.formats.csv as csv_reader
from civiclake.config import Settings, load_settings
from civiclake.demo.mirror.server import MirrorServer
from civiclake.lake.filesystem import warehouse_storage
from civiclake.warehouse.catalog import open_catalog
from tests.pipeline.lakehouse import Lakehouse, fast_retries

pytestmark = pytest.mark.integration

RESOURCE_ID = "fa570000-0000-4000-8000-000000000001"
TABLE = "bronze.datagouv__mutations__mutations"
# Lineage that differs between two runs by nature; every other column must be equal.
PER_RUN_COLUMNS = ("_extracted_at", "_ingested_at", "_raw_path", "_batch_id")


@pytest.fixture
def fast_path(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(csv_reader, "FAST_PATH_MIN_BYTES", 0)
    monkeypatch.setattr(csv_reader, "SAMPLE_BYTES", 16 * 1024)


def serve(mirror: MirrorServer, data: bytes, last_modified: str = "2026-01-01T00:00:00+00:00") -> None:
    resource = {"id": RESOURCE_ID, "title": "Mutations", "format": "csv", "last_modified": last_modified}
    mirror.add_dataset({"id": "mutations", "resources": [resource]}, {RESOURCE_ID: data})


def comparable(table: pa.Table) -> pa.Table:
    """Rows in file order, strings as one Arrow type, per-run lineage left out."""
    table = table.sort_by("_row_number").drop_columns(list(PER_RUN_COLUMNS))
    return table.cast(
        pa.schema([pa.field(f.name, pa.string() if f.type == pa.large_string() else f.type) for f in table.schema])
    )


def data_files(lakehouse: Lakehouse) -> list[Path]:
    return sorted((lakehouse.settings.home / "warehouse" / "bronze").rglob("*.parquet"))


def writers(lakehouse: Lakehouse) -> set[str]:
    """Which library wrote the table's data files: polars on the fast path, parquet-cpp (pyarrow) otherwise."""
    return {pq.read_metadata(path).created_by.split()[0] for path in data_files(lakehouse)}


@pytest.mark.parametrize("encoding", ["utf-8", "cp1252"])
def test_fast_path_loads_the_same_rows_as_the_batch_path(
    tmp_path: Path, mirror: MirrorServer, monkeypatch: pytest.MonkeyPatch, encoding: str
) -> None:
    data = write_messy_csv(tmp_path / "mutations.csv", 2 * 1024 * 1024, encoding=encoding).path.read_bytes()
    serve(mirror, data)
    tables = {}
    for mode, threshold in (("fast", 0), ("batches", 2**62)):
        monkeypatch.setattr(csv_reader, "FAST_PATH_MIN_BYTES", threshold)
        lakehouse = Lakehouse(fast_retries(load_settings(environ={"CIVICLAKE_HOME": str(tmp_path / mode)}), mirror))
        assert lakehouse.sync("mutations").exit_code == 0
        assert writers(lakehouse) == {"Polars" if mode == "fast" else "parquet-cpp-arrow"}
        tables[mode] = lakehouse.table(TABLE)
    fast, batches = comparable(tables["fast"]), comparable(tables["batches"])
    assert fast.schema == batches.schema
    assert fast.equals(batches)
    assert fast["_row_number"].to_pylist() == list(range(1, fast.num_rows + 1))
    partition_days = {row["_extracted_at"].date() for row in tables["fast"].select(["_extracted_at"]).to_pylist()}
    assert len(partition_days) == 1


@pytest.mark.usefixtures("fast_path")
def test_fast_path_reruns_add_nothing(tmp_path: Path, lakehouse: Lakehouse, mirror: MirrorServer) -> None:
    serve(mirror, write_messy_csv(tmp_path / "m.csv", 512 * 1024).path.read_bytes())
    first = lakehouse.sync("mutations")
    rows = lakehouse.table(TABLE).num_rows
    assert [outcome.rows for outcome in first.outcomes] == [rows]

    assert [outcome.status for outcome in lakehouse.sync("mutations").outcomes] == ["unchanged"]
    assert [outcome.status for outcome in lakehouse.sync("mutations", full_refresh=True).outcomes] == ["unchanged"]
    assert lakehouse.table(TABLE).num_rows == rows
    assert len(data_files(lakehouse)) == 1


@pytest.mark.usefixtures("fast_path")
def test_fast_path_appends_with_added_absent_and_widened_columns(lakehouse: Lakehouse, mirror: MirrorServer) -> None:
    first = b"code;valeur;libelle\n" + b"".join(b"%05d;%d;commune %d\n" % (i, i, i) for i in range(300))
    serve(mirror, first)
    assert lakehouse.sync("mutations").exit_code == 0

    # `valeur` turns to text (widened: the table's files are rewritten), `libelle` is gone, `note` is new.
    second = b"code;valeur;note\n" + b"".join(b"%05d;v%d;%d,5\n" % (i, i, i) for i in range(300, 500))
    serve(mirror, second, last_modified="2026-02-01T00:00:00+00:00")
    assert lakehouse.sync("mutations").exit_code == 0

    rows = {row["code"]: row for row in lakehouse.table(TABLE).to_pylist()}
    assert len(rows) == 500
    assert rows["00001"]["valeur"] == "1" and rows["00001"]["note"] is None and rows["00001"]["libelle"] == "commune 1"
    assert rows["00301"]["valeur"] == "v301" and rows["00301"]["note"] == 301.5 and rows["00301"]["libelle"] is None
    assert rows["00301"]["_row_number"] == 2


@pytest.mark.usefixtures("fast_path")
def test_a_table_column_of_another_type_goes_through_the_batch_path(lakehouse: Lakehouse, mirror: MirrorServer) -> None:
    serve(mirror, b"code;valeur\n01001;un\n01002;deux\n")
    assert lakehouse.sync("mutations").exit_code == 0
    # Integers now: the table keeps `valeur` as text, so the new rows are cast the way the batch path casts.
    serve(mirror, b"code;valeur\n01003;3\n01004;4\n", last_modified="2026-02-01T00:00:00+00:00")
    assert lakehouse.sync("mutations").exit_code == 0
    values = {row["code"]: row["valeur"] for row in lakehouse.table(TABLE).to_pylist()}
    assert values == {"01001": "un", "01002": "deux", "01003": "3", "01004": "4"}


@pytest.mark.usefixtures("fast_path")
def test_a_type_refuted_past_the_sample_is_settled_and_written_again(
    lakehouse: Lakehouse, mirror: MirrorServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    # 16 KiB of integers, then decimals: the sample says integer, the one-pass write meets `2,5`.
    rows = [b"%05d;%d" % (index, index) for index in range(3000)] + [b"99999;2,5"]
    serve(mirror, b"code;valeur\n" + b"\n".join(rows) + b"\n")
    attempts: list[bool] = []
    real_settle = csv_reader.CsvPart.settle

    def counting_settle(part: csv_reader.CsvPart) -> None:
        attempts.append(part.types_from_sample)
        real_settle(part)

    monkeypatch.setattr(csv_reader.CsvPart, "settle", counting_settle)
    assert lakehouse.sync("mutations").exit_code == 0

    assert attempts == [True]  # one refuted one-pass write, then the checked one
    table = lakehouse.table(TABLE)
    assert table.schema.field("valeur").type == pa.float64()
    values = dict(zip(table["code"].to_pylist(), table["valeur"].to_pylist(), strict=True))
    assert values["00007"] == 7.0 and values["99999"] == 2.5 and len(values) == 3001
    assert len(data_files(lakehouse)) == 1  # the refuted attempt's file is gone
    assert writers(lakehouse) == {"Polars"}


@pytest.mark.usefixtures("fast_path")
def test_a_short_row_past_the_sample_is_named_and_leaves_no_file(lakehouse: Lakehouse, mirror: MirrorServer) -> None:
    rows = [b"%05d;%d;x" % (index, index) for index in range(3000)]
    rows.insert(2500, b"12345;6")  # polars would read it as an empty last cell; the reference reader refuses it
    serve(mirror, b"code;valeur;note\n" + b"\n".join(rows) + b"\n")
    (failed,) = lakehouse.sync("mutations").failed
    assert "row 2501 (line 2502) has 2 fields, header has 3" in str(failed.error)
    assert data_files(lakehouse) == []
    assert lakehouse.table_names() == set()


@pytest.mark.usefixtures("fast_path")
def test_a_failing_polars_write_leaves_no_file_and_no_table(
    tmp_path: Path, lakehouse: Lakehouse, mirror: MirrorServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    serve(mirror, write_messy_csv(tmp_path / "m.csv", 256 * 1024).path.read_bytes())
    real_sink = pl.LazyFrame.sink_parquet

    def sink_then_fail(self: pl.LazyFrame, path: Path, **options: object) -> None:
        real_sink(self, path, **options)  # type: ignore[call-overload]
        raise pl.exceptions.ComputeError("disk went away")

    monkeypatch.setattr(pl.LazyFrame, "sink_parquet", sink_then_fail)
    report = lakehouse.sync("mutations")

    (failed,) = report.failed
    assert "Mutations" in failed.error and "disk went away" in failed.error
    assert lakehouse.table_names() == set()
    assert data_files(lakehouse) == []
    monkeypatch.undo()
    monkeypatch.setattr(csv_reader, "FAST_PATH_MIN_BYTES", 0)
    assert lakehouse.sync("mutations").exit_code == 0
    assert lakehouse.table(TABLE).num_rows > 0


@pytest.mark.usefixtures("fast_path")
def test_fast_path_uploads_its_file_on_the_cluster_profile(
    tmp_path: Path, cluster_settings: Settings, mirror: MirrorServer
) -> None:
    serve(mirror, write_messy_csv(tmp_path / "m.csv", 256 * 1024).path.read_bytes())
    lakehouse = Lakehouse(cluster_settings)
    assert lakehouse.sync("mutations").exit_code == 0

    table = open_catalog(cluster_settings).load_table(TABLE)
    (data_file,) = [task.file.file_path for task in table.scan().plan_files()]
    assert data_file.startswith(f"s3://{cluster_settings.s3.bucket}/warehouse/bronze/")
    storage = warehouse_storage(cluster_settings)
    with storage.filesystem.open_input_file(data_file.removeprefix("s3://")) as handle:
        assert pq.ParquetFile(handle).metadata.created_by.startswith("Polars")
    rows = lakehouse.table(TABLE)
    assert rows.num_rows > 0 and rows["_row_number"].to_pylist()[-1] == rows.num_rows
