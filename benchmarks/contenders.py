"""The plain CSV -> Parquet converters civiclake is measured against, one per child process.

    python -m benchmarks.contenders <name> <csv> <output folder> [--encoding cp1252]

Each contender is told what the generator knows (the `;` separator, decimal commas, dd/mm/yyyy dates, and which
columns are codes to keep as text, so `2A004` cannot break a sampled integer type): that is more than civiclake is
told, which infers every type over every row. Each writes Parquet into the output folder and prints the rows it
wrote. This module runs in the contenders' virtualenv (.venv-bench) and imports nothing from civiclake.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from benchmarks.messy_csv import CODE_COLUMNS, DATE_COLUMNS, HEADER

CONTENDERS: dict[str, Callable[[Path, Path, str], int]] = {}


def contender(name: str) -> Callable[[Callable[[Path, Path, str], int]], Callable[[Path, Path, str], int]]:
    def register(function: Callable[[Path, Path, str], int]) -> Callable[[Path, Path, str], int]:
        CONTENDERS[name] = function
        return function

    return register


@contender("duckdb")
def duckdb_copy(csv: Path, out: Path, encoding: str) -> int:
    import duckdb

    types = ", ".join(f"'{name}': 'VARCHAR'" for name in CODE_COLUMNS)
    source = f"""read_csv('{csv}', delim=';', header=true, decimal_separator=',', dateformat='%d/%m/%Y',
                          types={{{types}}}, encoding='{"utf-8" if encoding == "utf-8" else "latin-1"}')"""
    connection = duckdb.connect()
    connection.execute(f"COPY (SELECT * FROM {source}) TO '{out / 'duckdb.parquet'}' (FORMAT parquet)")
    (rows,) = connection.execute(f"SELECT count(*) FROM '{out / 'duckdb.parquet'}'").fetchone()  # type: ignore[misc]
    return int(rows)


@contender("polars")
def polars_sink(csv: Path, out: Path, encoding: str) -> int:
    import polars as pl

    frame = pl.scan_csv(
        csv,
        separator=";",
        decimal_comma=True,
        try_parse_dates=True,
        infer_schema_length=10_000,
        schema_overrides=dict.fromkeys(CODE_COLUMNS, pl.String),
    )
    frame.sink_parquet(out / "polars.parquet")
    return int(pl.scan_parquet(out / "polars.parquet").select(pl.len()).collect().item())


def _pyarrow_reader(csv: Path, encoding: str) -> Any:
    import pyarrow as pa
    import pyarrow.csv as pa_csv

    return pa_csv.open_csv(
        csv,
        read_options=pa_csv.ReadOptions(block_size=16 * 1024 * 1024, encoding=encoding),
        parse_options=pa_csv.ParseOptions(delimiter=";", newlines_in_values=True),
        convert_options=pa_csv.ConvertOptions(
            column_types=dict.fromkeys(CODE_COLUMNS, pa.string()),
            decimal_point=",",
            timestamp_parsers=["%d/%m/%Y"],
        ),
    )


@contender("pyarrow")
def pyarrow_stream(csv: Path, out: Path, encoding: str) -> int:
    import pyarrow.parquet as pq

    reader = _pyarrow_reader(csv, encoding)
    rows = 0
    with pq.ParquetWriter(out / "pyarrow.parquet", reader.schema) as writer:
        for batch in reader:
            writer.write_batch(batch)
            rows += batch.num_rows
    return rows


@contender("pandas")
def pandas_frame(csv: Path, out: Path, encoding: str) -> int:
    import pandas as pd

    frame = pd.read_csv(
        csv,
        sep=";",
        decimal=",",
        encoding=encoding,
        dtype=dict.fromkeys(CODE_COLUMNS, str),
        parse_dates=DATE_COLUMNS,
        date_format="%d/%m/%Y",
    )
    frame.to_parquet(out / "pandas.parquet", index=False)
    return len(frame)


def _dlt_run(csv: Path, out: Path, encoding: str, **run_options: Any) -> int:
    import dlt

    os.environ.setdefault("RUNTIME__DLTHUB_TELEMETRY", "false")  # offline: no telemetry calls

    @dlt.resource(name="messy", write_disposition="append")
    def batches() -> Iterator[Any]:
        # Arrow batches: dlt's fastest input path (no row-by-row normalisation).
        yield from _pyarrow_reader(csv, encoding)

    pipeline = dlt.pipeline(
        pipeline_name="bench",
        pipelines_dir=tempfile.mkdtemp(dir=out),
        destination=dlt.destinations.filesystem(bucket_url=(out / "dlt").as_uri()),
        dataset_name="bench",
    )
    info = pipeline.run(batches(), **run_options)
    info.raise_on_failed_jobs()
    trace = pipeline.last_trace
    counts = trace.last_normalize_info.row_counts if trace and trace.last_normalize_info else {}
    return int(counts.get("messy", 0))


@contender("dlt-parquet")
def dlt_parquet(csv: Path, out: Path, encoding: str) -> int:
    return _dlt_run(csv, out, encoding, loader_file_format="parquet")


@contender("dlt-iceberg")
def dlt_iceberg(csv: Path, out: Path, encoding: str) -> int:
    return _dlt_run(csv, out, encoding, table_format="iceberg")


def header_matches(csv: Path, encoding: str) -> bool:
    """The contenders' column names come from the generator: refuse a file that has other columns."""
    with csv.open(encoding=encoding, newline="") as handle:
        return handle.readline().rstrip("\r\n").split(";") == HEADER


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("name", choices=sorted(CONTENDERS))
    parser.add_argument("csv", type=Path)
    parser.add_argument("out", type=Path)
    parser.add_argument("--encoding", default="utf-8")
    arguments = parser.parse_args()
    if not header_matches(arguments.csv, arguments.encoding):
        sys.exit(f"{arguments.csv} is not a file from benchmarks.messy_csv")
    arguments.out.mkdir(parents=True, exist_ok=True)
    print(CONTENDERS[arguments.name](arguments.csv, arguments.out, arguments.encoding))


if __name__ == "__main__":
    main()
