"""Parquet keeps its types; names are normalised, the originals kept in field metadata."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from civiclake.formats import open_tabular

from .conftest import original_names, read_part


def test_parquet_names_normalised_types_kept(tmp_path: Path) -> None:
    path = tmp_path / "t.parquet"
    table = pa.table(
        {
            "Code Postal": pa.array(["01400", "75001"]),
            "Population Totale": pa.array([859, 2_100_000], pa.int32()),
            "Date": pa.array([1, 2], pa.int64()).cast(pa.timestamp("ms")),
        }
    )
    pq.write_table(table, path, row_group_size=1)

    (part,) = open_tabular(path, "parquet")
    result = read_part(part)

    assert part.schema.names == ["code_postal", "population_totale", "date"]
    assert original_names(part.schema) == ["Code Postal", "Population Totale", "Date"]
    assert part.schema.types == [pa.string(), pa.int32(), pa.timestamp("ms")]
    assert result["code_postal"].to_pylist() == ["01400", "75001"]
    assert part.rows_read == 2
