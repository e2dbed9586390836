"""Spreadsheets: each non-empty sheet of an XLSX (openpyxl, read-only) or XLS (xlrd) workbook is a part.

The first non-empty row of a sheet is its header; entirely empty rows are skipped. Cells keep the type the
spreadsheet stored (a number stays a number, text stays text), as for JSON.
"""

from __future__ import annotations

import datetime as dt
import io
import warnings
from collections.abc import Generator, Hashable, Iterator, Mapping, Sequence
from contextlib import closing, contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import xlrd

from civiclake.errors import FormatError
from civiclake.formats.model import DetectedFormat
from civiclake.formats.records import RecordsPart

if TYPE_CHECKING:
    import openpyxl

_ROWS_PER_FETCH = 1000


class SheetPart(RecordsPart):
    """One sheet; records are keyed by column position, the header giving their names."""

    def __init__(self, path: Path, detected: DetectedFormat, sheet_name: str, name: str) -> None:
        super().__init__(name, detected)
        self._path = path
        self._sheet_name = sheet_name
        self._header: list[str] = []

    def _rows(self) -> Generator[Sequence[object], None, None]:
        if self.format.format == "xlsx":
            return _xlsx_rows(self._path, self._sheet_name)
        return _xls_rows(self._path, self._sheet_name)

    def _records(self) -> Iterator[Mapping[Hashable, object]]:
        header: list[str] | None = None
        for row in self._rows():
            if _is_empty(row):
                continue
            if header is None:
                header = [_header_text(cell) for cell in _trim(row)]
                self._header = header
                continue
            # Cells right of the header only make a column when they hold something: sheets often claim
            # a wider range than they use.
            yield {position: cell for position, cell in enumerate(row) if position < len(header) or cell is not None}

    def _original_name(self, key: Hashable) -> str:
        assert isinstance(key, int)
        return self._header[key] if key < len(self._header) else ""

    def _order_columns(self, keys: list[Hashable]) -> list[Hashable]:
        # Positions, header columns first even if empty below, then cells found right of the header.
        width = max([len(self._header), *(int(key) + 1 for key in keys if isinstance(key, int))])
        return list(range(width))


def sheet_parts(path: Path, detected: DetectedFormat, name_prefix: str | None) -> list[SheetPart]:
    """A part per sheet that has at least a header; parts are named by sheet (``member!sheet`` in a ZIP)."""
    sheet_names = _xlsx_sheet_names(path) if detected.format == "xlsx" else _xls_sheet_names(path)
    parts = []
    for sheet_name in sheet_names:
        name = f"{name_prefix}!{sheet_name}" if name_prefix else sheet_name
        part = SheetPart(path, detected, sheet_name, name)
        with closing(part._rows()) as rows:
            if any(not _is_empty(row) for row in rows):
                parts.append(part)
    return parts


def _is_empty(row: Sequence[object]) -> bool:
    return all(cell is None or (isinstance(cell, str) and not cell.strip()) for cell in row)


def _trim(row: Sequence[object]) -> Sequence[object]:
    end = len(row)
    while end and (row[end - 1] is None or row[end - 1] == ""):
        end -= 1
    return row[:end]


def _header_text(cell: object) -> str:
    if cell is None:
        return ""
    if isinstance(cell, float) and cell.is_integer():
        return str(int(cell))  # a year header typed as a number: `2022`, not `2022.0`
    if isinstance(cell, dt.datetime | dt.date):
        return cell.isoformat()
    return str(cell).strip()


@contextmanager
def _xlsx_workbook(path: Path) -> Iterator[openpyxl.Workbook]:
    import openpyxl  # here: its import (60 ms) is paid by runs that read a workbook, not by every sync

    # openpyxl refuses a file name without an xlsx-like extension, and downloads in flight have none:
    # it is given the open file instead, which it reads the same way.
    with path.open("rb") as handle:
        try:
            with warnings.catch_warnings():
                # openpyxl warns about styles and extensions it ignores; they do not affect values.
                warnings.simplefilter("ignore")
                workbook = openpyxl.load_workbook(handle, read_only=True, data_only=True)
        except Exception as error:  # openpyxl fails on corrupt files with zipfile, XML and key errors alike
            raise FormatError(f"not a readable xlsx workbook: {error or type(error).__name__}") from error
        try:
            yield workbook
        finally:
            workbook.close()


def _xlsx_sheet_names(path: Path) -> list[str]:
    with _xlsx_workbook(path) as workbook:
        return list(workbook.sheetnames)


def _xlsx_rows(path: Path, sheet_name: str) -> Generator[Sequence[object], None, None]:
    with _xlsx_workbook(path) as workbook:
        rows = workbook[sheet_name].iter_rows(values_only=True)
        while True:
            # Warnings are silenced per fetch, never across a yield, so the caller's own code is unaffected.
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                try:
                    fetched = [row for _, row in zip(range(_ROWS_PER_FETCH), rows, strict=False)]
                except Exception as error:  # a corrupt sheet fails with XML or zip errors
                    raise FormatError(f"sheet {sheet_name!r} cannot be read: {error}") from error
            if not fetched:
                return
            yield from fetched


def _open_xls(path: Path) -> xlrd.book.Book:
    try:
        # xlrd prints its warnings to stdout unless given a log of its own.
        return xlrd.open_workbook(path, on_demand=True, logfile=io.StringIO())
    except Exception as error:  # xlrd fails on corrupt files with anything from IndexError to AssertionError
        raise FormatError(f"not a readable xls workbook: {error or type(error).__name__}") from error


def _xls_sheet_names(path: Path) -> list[str]:
    workbook = _open_xls(path)
    try:
        return list(workbook.sheet_names())
    finally:
        workbook.release_resources()


def _xls_rows(path: Path, sheet_name: str) -> Generator[Sequence[object], None, None]:
    workbook = _open_xls(path)
    try:
        sheet = workbook.sheet_by_name(sheet_name)
        for row_index in range(sheet.nrows):
            yield [_xls_value(cell, workbook.datemode) for cell in sheet.row(row_index)]
    finally:
        workbook.release_resources()


def _xls_value(cell: xlrd.sheet.Cell, datemode: int) -> object:
    if cell.ctype in (xlrd.XL_CELL_EMPTY, xlrd.XL_CELL_BLANK):
        return None
    if cell.ctype == xlrd.XL_CELL_NUMBER:
        # XLS stores every number as a float; integral ones were typed as integers by whoever wrote them.
        return int(cell.value) if float(cell.value).is_integer() else cell.value
    if cell.ctype == xlrd.XL_CELL_DATE:
        try:
            return xlrd.xldate.xldate_as_datetime(cell.value, datemode)
        except (xlrd.xldate.XLDateError, ValueError, OverflowError):
            return cell.value
    if cell.ctype == xlrd.XL_CELL_BOOLEAN:
        return bool(cell.value)
    if cell.ctype == xlrd.XL_CELL_ERROR:
        return xlrd.error_text_from_code.get(cell.value, "#ERROR")
    return cell.value
