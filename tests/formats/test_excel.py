"""Spreadsheets: one part per non-empty sheet, cells keep the types the workbook stored."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import openpyxl
import pyarrow as pa
import pytest

from civiclake.errors import FormatError
from civiclake.formats import open_tabular

from .conftest import FIXTURES, original_names, read_part


def test_xlsx_two_sheets_two_parts(tmp_path: Path) -> None:
    workbook = openpyxl.Workbook()
    communes = workbook.active
    communes.title = "Communes"
    communes.append([])  # a blank row above the header
    communes.append(["Code INSEE", "Commune", "Population", "Mise à jour", None])
    communes.append(["01001", "L'Abergement-Clémenciat", 859, dt.datetime(2023, 1, 1)])
    communes.append([])
    communes.append(["2A004", "Ajaccio", 71361.5, dt.datetime(2023, 6, 30), "note à droite"])
    notes = workbook.create_sheet("Notes")
    notes.append(["Source", "Licence"])
    notes.append(["INSEE", "Licence Ouverte"])
    workbook.create_sheet("Vide")
    path = tmp_path / "communes.xlsx"
    workbook.save(path)

    parts = open_tabular(path, "xlsx")

    assert [part.name for part in parts] == ["Communes", "Notes"]
    communes_table = read_part(parts[0])
    assert parts[0].schema.names == ["code_insee", "commune", "population", "mise_a_jour", "column_5"]
    assert original_names(parts[0].schema)[3] == "Mise à jour"
    assert parts[0].schema.types == [pa.string(), pa.string(), pa.float64(), pa.timestamp("us"), pa.string()]
    assert communes_table.to_pylist()[1] == {
        "code_insee": "2A004",
        "commune": "Ajaccio",
        "population": 71361.5,
        "mise_a_jour": dt.datetime(2023, 6, 30),
        "column_5": "note à droite",
    }
    assert parts[0].rows_read == 2
    assert read_part(parts[1]).to_pylist() == [{"source": "INSEE", "licence": "Licence Ouverte"}]


def test_xls_fixture(tmp_path: Path) -> None:
    parts = open_tabular(FIXTURES / "communes.xls")

    assert [part.name for part in parts] == ["Communes", "Notes"]
    table = read_part(parts[0])
    assert table.schema.names == ["code_insee", "commune", "population", "superficie", "mise_a_jour"]
    assert table.schema.types == [pa.string(), pa.string(), pa.int64(), pa.float64(), pa.timestamp("us")]
    assert table.to_pylist()[0] == {
        "code_insee": "01001",
        "commune": "L'Abergement-Clémenciat",
        "population": 859,
        "superficie": 15.95,
        "mise_a_jour": dt.datetime(2023, 1, 1),
    }


def test_workbook_with_only_empty_sheets_is_not_tabular(tmp_path: Path) -> None:
    workbook = openpyxl.Workbook()
    path = tmp_path / "vide.xlsx"
    workbook.save(path)
    with pytest.raises(FormatError, match=r"^not a tabular file: xlsx workbook has no non-empty sheet$"):
        open_tabular(path)


def test_corrupt_xls(tmp_path: Path) -> None:
    path = tmp_path / "broken.xls"
    path.write_bytes((FIXTURES / "communes.xls").read_bytes()[:1500])
    with pytest.raises(FormatError, match=r"^not a readable xls workbook: "):
        open_tabular(path)
