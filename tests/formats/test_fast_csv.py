"""The CSV fast path (polars) against the reference reader (pyarrow, two passes): same schema, same values.

Each file is read twice: once by the reference reader alone, once with the fast path forced on (every size,
and a small sample, so that the whole-file checks have rows the sample did not see). The schemas must be
equal, metadata included, and so must every value; a file the reference refuses must be refused with the same
message. Files whose row structure polars would read differently must go back to the reference reader.
"""

from __future__ import annotations

import gzip
import io
import os
import zipfile
from dataclasses import dataclass
from pathlib import Path

import polars as pl
import pyarrow as pa
import pytest
from benchmarks.messy_csv import EXPECTED_TYPES, write_messy_csv

import civiclake.formats.csv as csv_reader
from civiclake.errors import FormatError
from civiclake.formats import ReadLimits, open_tabular
from civiclake.formats.model import DEFAULT_LIMITS

from .conftest import read_part

REPOSITORY_ROOT = Path(__file__).resolve().parents[2]
MIRROR_FILES = REPOSITORY_ROOT / "src" / "civiclake" / "demo" / "mirror" / "files"


@dataclass
class Reading:
    schema: pa.Schema | None
    table: pa.Table | None
    error: str | None
    fast: bool  # whether the fast path read it
    sampled: bool = False  # whether the fast path first tried the sample's types in one pass
    refuted: bool = False  # whether a later row refuted them (the types were then settled over every row)


def read_with(
    path: Path, monkeypatch: pytest.MonkeyPatch, *, fast: bool, sample_bytes: int, limits: ReadLimits = DEFAULT_LIMITS
) -> Reading:
    """Read as the bronze loader does: a query that fails on types from the sample is settled and run again."""
    with monkeypatch.context() as patch:
        patch.setattr(csv_reader, "FAST_PATH_MIN_BYTES", 0 if fast else 2**62)
        patch.setattr(csv_reader, "SAMPLE_BYTES", sample_bytes)
        (part,) = open_tabular(path, limits=limits)
        sampled = refuted = False
        try:
            while True:
                schema = part.schema
                frame = part.lazy_frame() if isinstance(part, csv_reader.CsvPart) else None
                if frame is None:
                    return Reading(schema, read_part(part), None, False, sampled, refuted)
                assert isinstance(part, csv_reader.CsvPart)
                sampled = sampled or part.types_from_sample
                try:
                    table = frame.collect(engine="streaming").to_arrow()  # the engine the bronze writer runs
                    break
                except pl.exceptions.PolarsError:
                    assert part.types_from_sample, "only types from the sample may fail the query"
                    refuted = True
                    part.settle()
        except FormatError as error:
            return Reading(None, None, str(error), False, sampled, refuted)
    if not part.types_from_sample:  # counted by the whole-file pass
        assert part.rows_read == table.num_rows
    # polars hands strings over as large_string; the values, not the offsets' width, are the contract.
    return Reading(schema, table.cast(schema), None, True, sampled, refuted)


def assert_same_as_reference(
    path: Path,
    monkeypatch: pytest.MonkeyPatch,
    *,
    sample_bytes: int = 64 * 1024,
    fast_path: bool = True,
    limits: ReadLimits = DEFAULT_LIMITS,
) -> Reading:
    reference = read_with(path, monkeypatch, fast=False, sample_bytes=sample_bytes, limits=limits)
    fast = read_with(path, monkeypatch, fast=True, sample_bytes=sample_bytes, limits=limits)
    assert fast.error == reference.error
    if reference.error is None:
        assert fast.schema is not None and reference.schema is not None
        assert fast.schema.equals(reference.schema, check_metadata=True), (fast.schema, reference.schema)
        assert fast.table is not None and reference.table is not None
        for name in reference.schema.names:
            assert fast.table[name].equals(reference.table[name]), name
    assert fast.fast == fast_path, "the fast path was expected to " + ("read" if fast_path else "leave") + " it"
    return reference


REAL_FILES = [
    *(f"datagouv/{name}" for name in ("019HexaSmal.csv", "caract-2023.csv", "frequentation-gares.csv")),
    "datagouv/liste-des-gares.csv",
    *(
        f"olist/{name}"
        for name in (
            "olist_customers_dataset.csv",
            "olist_order_items_dataset.csv",
            "olist_order_payments_dataset.csv",
            "olist_order_reviews_dataset.csv",
            "olist_orders_dataset.csv",
            "olist_products_dataset.csv",
            "olist_sellers_dataset.csv",
            "product_category_name_translation.csv",
        )
    ),
]


@pytest.mark.parametrize("relative", REAL_FILES)
@pytest.mark.parametrize("sample_bytes", [4 * 1024, 4 * 1024 * 1024], ids=["small-sample", "default-sample"])
def test_real_files_read_the_same(
    real_data_dir: Path, relative: str, sample_bytes: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert_same_as_reference(real_data_dir / relative, monkeypatch, sample_bytes=sample_bytes)


@pytest.mark.parametrize("name", ["laposte_hexasmal_2014.csv", "caract-2023.csv"])
def test_demo_mirror_files_read_the_same(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    assert_same_as_reference(MIRROR_FILES / name, monkeypatch, sample_bytes=8 * 1024)


@pytest.mark.parametrize("encoding", ["utf-8", "cp1252"])
def test_generated_messy_file_reads_the_same(tmp_path: Path, encoding: str, monkeypatch: pytest.MonkeyPatch) -> None:
    generated = write_messy_csv(tmp_path / "messy.csv", 3 * 1024 * 1024, encoding=encoding)
    reference = assert_same_as_reference(generated.path, monkeypatch, sample_bytes=32 * 1024)
    assert reference.schema is not None and reference.table is not None
    assert dict(zip(reference.schema.names, reference.schema.types, strict=True)) == EXPECTED_TYPES
    assert reference.table.num_rows == generated.rows
    assert any(code.startswith("2A") for code in reference.table["code_commune"].to_pylist())


def write_csv(tmp_path: Path, header: str, rows: list[str], *, line_end: str = "\n", encoding: str = "utf-8") -> Path:
    path = tmp_path / "data.csv"
    path.write_bytes((line_end.join([header, *rows]) + line_end).encode(encoding))
    return path


def sample_of(header: str, rows: list[str], count: int = 2) -> int:
    """A sample that holds the header and the first ``count`` rows only."""
    return len("\n".join([header, *rows[:count]]).encode()) + 1


# Columns whose first rows point one way and later rows another: the whole-file checks must catch it.
TYPE_CASES = {
    "integers": ["1", "2", "-3", "", "40"],
    "integer then decimal comma": ["1", "2", "3,5", "4"],
    "integer then text": ["1", "2", "3", "x"],
    "comma then dot": ["1,5", "2,5", "3.5"],
    "dot decimals": ["1.5", "2.25", "-0.5"],
    "minus zero": ["-0", "1", "2"],
    "long decimals": ["1,5", "2,5", "12345678901234567,8"],
    "seventeen digits": ["1,5", "2,5", "1234567890123456,7"],
    "19-digit integers that fit": ["1", "2", "9223372036854775807", "-9223372036854775808"],
    "19-digit integer that does not fit": ["1", "2", "9223372036854775808"],
    "empty in the sample, integers later": ["", "", "5", "6"],
    "all empty": ["", "", "", ""],
    "day-first proven late": ["01/02/2023", "03/04/2023", "25/12/2023"],
    "day-first never proven": ["01/02/2023", "03/04/2023", "05/06/2023"],
    "impossible day-first date": ["13/02/2023", "14/02/2023", "30/02/2023"],
    "iso dates": ["2023-01-31", "2023-02-28", "2024-02-29"],
    "impossible iso date": ["2023-01-31", "2023-02-28", "2023-02-30"],
    "local timestamps": ["2017-10-02 10:56:33", "2017-10-02T11:07", "2017-10-02 11:07:00.123456"],
    "offset timestamps": ["2024-03-14T12:17:42.708+01:00", "2024-03-14T12:00:00Z", "2024-03-14 12:00+0200"],
    "mixed offsets": ["2024-03-14T12:00:00+01:00", "2024-03-14T12:00:00+01:00", "2024-03-14T12:00:00"],
    "leap second": ["2017-10-02 10:56:33", "2017-10-02 10:56:34", "2017-10-02 10:56:60"],
    "hour 24": ["2017-10-02 10:56:33", "2017-10-02 10:56:34", "2017-10-02 24:00:00"],
    "padded": [" 12", "13", "14"],
    "leading zero late": ["12", "13", "014"],
}


@pytest.mark.parametrize("values", list(TYPE_CASES.values()), ids=list(TYPE_CASES))
def test_types_settled_over_the_whole_file(tmp_path: Path, values: list[str], monkeypatch: pytest.MonkeyPatch) -> None:
    header = "valeur;code_postal;libelle"
    rows = [f"{value};{index:05d};ligne {index}" for index, value in enumerate(values)]
    path = write_csv(tmp_path, header, rows)
    assert_same_as_reference(path, monkeypatch, sample_bytes=sample_of(header, rows))


# How the one-pass write fares on some of them: (tried with the sample's types, refuted by a later row).
ONE_PASS_CASES = {
    "integers": (True, False),
    "integer then decimal comma": (True, True),
    "integer then text": (True, True),
    "comma then dot": (True, True),
    "long decimals": (True, True),
    "19-digit integer that does not fit": (True, True),
    "leading zero late": (True, True),
    "impossible iso date": (True, True),
    "mixed offsets": (True, True),
    "empty in the sample, integers later": (False, False),  # a later value could still make it typed
    "day-first never proven": (False, False),
    "day-first proven late": (False, False),
}


@pytest.mark.parametrize("case", list(ONE_PASS_CASES), ids=list(ONE_PASS_CASES))
def test_the_sample_types_are_tried_in_one_pass_and_refuted_by_a_later_row(
    tmp_path: Path, case: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    header = "valeur;code_postal;libelle"
    rows = [f"{value};{index:05d};ligne {index}" for index, value in enumerate(TYPE_CASES[case])]
    path = write_csv(tmp_path, header, rows)
    fast = read_with(path, monkeypatch, fast=True, sample_bytes=sample_of(header, rows))
    assert (fast.sampled, fast.refuted) == ONE_PASS_CASES[case]


def test_an_empty_last_cell_in_the_sample_takes_the_two_pass_check(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write_csv(tmp_path, "a;b;c", ["1;2;", "4;5;6", "7;8;9"])
    sample_bytes = sample_of("a;b;c", ["1;2;"], count=1)
    assert_same_as_reference(path, monkeypatch, sample_bytes=sample_bytes)
    fast = read_with(path, monkeypatch, fast=True, sample_bytes=sample_bytes)
    assert fast.fast and not fast.sampled


def test_polars_read_chunks_that_cut_quoted_cells_change_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """civiclake reads in smaller chunks than polars' default (to bound memory): chunk edges must not matter."""
    generated = write_messy_csv(tmp_path / "messy.csv", 1024 * 1024)
    with monkeypatch.context() as patch:
        patch.setenv("POLARS_CSV_CHUNK_SIZE", str(16 * 1024))  # ~64 edges, many inside quoted `;` and newlines
        reference = assert_same_as_reference(generated.path, monkeypatch, sample_bytes=32 * 1024)
    assert reference.table is not None and reference.table.num_rows == generated.rows


def test_a_scan_sets_the_polars_chunk_size_unless_the_operator_did(monkeypatch: pytest.MonkeyPatch) -> None:
    fast = csv_reader._FastInput(MIRROR_FILES / "caract-2023.csv", width=3, delimiter=";")
    monkeypatch.delenv("POLARS_CSV_CHUNK_SIZE", raising=False)
    csv_reader._scan_text(fast)
    assert os.environ["POLARS_CSV_CHUNK_SIZE"] == str(4 * 1024 * 1024)
    monkeypatch.setenv("POLARS_CSV_CHUNK_SIZE", "1048576")
    csv_reader._scan_text(fast)
    assert os.environ["POLARS_CSV_CHUNK_SIZE"] == "1048576"


def test_the_generated_file_is_written_in_one_pass(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    generated = write_messy_csv(tmp_path / "messy.csv", 2 * 1024 * 1024)
    fast = read_with(generated.path, monkeypatch, fast=True, sample_bytes=512 * 1024)
    assert (fast.sampled, fast.refuted) == (True, False)
    assert fast.table is not None and fast.table.num_rows == generated.rows


def test_a_wide_file_with_every_case_at_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    length = max(len(values) for values in TYPE_CASES.values())
    columns = [values + [""] * (length - len(values)) for values in TYPE_CASES.values()]
    header = ";".join(f"colonne {index}" for index in range(len(columns)))
    rows = [";".join(column[row] for column in columns) for row in range(length)]
    path = write_csv(tmp_path, header, rows)
    assert_same_as_reference(path, monkeypatch, sample_bytes=sample_of(header, rows))


STRUCTURE_CASES = {
    # name: (file bytes, whether the fast path may read it)
    "crlf with a quoted crlf": (b'a;b;c\r\n1;"x\r\ny";3\r\n4;5;6\r\n', True),
    "quoted delimiter and quote": (b'a;b;c\n1;"x;""y""";3\n4;5;6\n', True),
    "header with a quoted line break": (b'a;"b\nb";c\n1;2;3\n4;5;6\n', True),
    "no final line break": (b"a;b;c\n1;2;3\n4;5;6", True),
    "empty last cells": (b"a;b;c\n1;2;\n4;5;\n", True),
    "blank line inside": (b"a;b;c\n1;2;3\n\n4;5;6\n", False),
    "blank lines at the end": (b"a;b;c\n1;2;3\n4;5;6\n\n\n", False),
    "blank line before the header": (b"\na;b;c\n1;2;3\n4;5;6\n", False),
    "short row after the sample": (b"a;b;c\n1;2;3\n4;5;6\n7;8\n9;10;11\n", False),
    "long row after the sample": (b"a;b;c\n1;2;3\n4;5;6\n7;8;9;10\n", False),
    "lone cr in a value": (b"a;b;c\n1;2;3\n4;5;6\n7\r8;9;10\n", False),
    "lone cr ends the file": (b"a;b;c\n1;2;3\n4;5;6\r", True),  # both end the row there
    "cr cr lf": (b"a;b;c\n1;2;3\n4;5;6\r\r\n", False),
    "quote inside a bare value": (b'a;b;c\n1;2;3\n4;x"y;6\n', False),
    "unterminated quote": (b'a;b;c\n1;2;3\n4;5;"six\n7;8;9\n', False),
    "cp1252": ("a;b;c\n1;2;3\n4;5;6\n7;8;Hélène €\n".encode("cp1252"), True),
}


@pytest.mark.parametrize("case", list(STRUCTURE_CASES), ids=list(STRUCTURE_CASES))
def test_row_structure_polars_could_misread_goes_to_the_reference_reader(
    tmp_path: Path, case: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    content, fast_path = STRUCTURE_CASES[case]
    path = tmp_path / "data.csv"
    path.write_bytes(content)
    assert_same_as_reference(path, monkeypatch, sample_bytes=16, fast_path=fast_path)


def test_ragged_row_is_named_the_same_way(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    header = "a;b;c"
    rows = [f"{index};x;y" for index in range(1, 300)] + ["300;x", "301;x;y"]
    path = write_csv(tmp_path, header, rows)
    reference = assert_same_as_reference(path, monkeypatch, sample_bytes=sample_of(header, rows), fast_path=False)
    assert reference.error == "row 300 (line 301) has 2 fields, header has 3"


def test_invalid_utf8_past_an_ascii_sample_falls_back_to_cp1252_as_the_reference_does(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "late.csv"
    path.write_bytes(b"code;libelle\n" + b"01001;commune\n" * 200 + "99999;Sainte-Hélène €\n".encode("cp1252"))
    reference = assert_same_as_reference(
        path, monkeypatch, sample_bytes=256, limits=ReadLimits(sample_bytes=256), fast_path=False
    )
    assert reference.table is not None and reference.table["libelle"][-1].as_py() == "Sainte-Hélène €"


def test_cp1252_crlf_file_is_transcoded_for_polars(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    header = "libellé;prix;note"
    rows = ["Cœur de bœuf;12,50;l\u2019été", '"Élan ; «ok»";3;"deux\r\nlignes"'] * 50
    path = write_csv(tmp_path, header, rows, line_end="\r\n", encoding="cp1252")
    reference = assert_same_as_reference(path, monkeypatch, sample_bytes=sample_of(header, rows))
    assert reference.table is not None
    assert reference.table["libelle"][1].as_py() == "Élan ; «ok»"


def test_compressed_sources_read_the_same(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    header = "code_commune;population;densite"
    rows = [f"{index:05d};{index * 7};{index / 3:.2f}".replace(".", ",") for index in range(2000)]
    content = ("\n".join([header, *rows]) + "\n").encode()
    gzipped = tmp_path / "communes.csv.gz"
    gzipped.write_bytes(gzip.compress(content))
    assert_same_as_reference(gzipped, monkeypatch, sample_bytes=sample_of(header, rows, 100))
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("communes.csv", content)
    zipped = tmp_path / "communes.zip"
    zipped.write_bytes(buffer.getvalue())
    assert_same_as_reference(zipped, monkeypatch, sample_bytes=sample_of(header, rows, 100))


def test_small_files_keep_the_reference_reader(tmp_path: Path) -> None:
    path = write_csv(tmp_path, "a;b", ["1;2", "3;4"])
    (part,) = open_tabular(path)
    assert isinstance(part, csv_reader.CsvPart)
    assert part.lazy_frame() is None
    assert read_part(part).to_pylist() == [{"a": 1, "b": 2}, {"a": 3, "b": 4}]


@pytest.mark.parametrize(
    ("content", "lone"),
    [
        (b"a\nb\n", False),
        (b"a\r\nb\r\n", False),
        (b"a\rb\n", True),
        (b"a\r\r\n", True),
        (b"a\nb\r", True),  # the file ends on a CR
        (b"x" * 9 + b"\r" + b"\ny", False),  # a CRLF split across two chunks
        (b"x" * 9 + b"\r" + b"y", True),  # a lone CR at the end of a chunk
        (b"a\r\nb\r\nc\rd", True),  # a lone CR after CRLFs: in the regular expression's part
        (b"a\r\nb\r\r\nd", True),  # a lone CR right before a CRLF
        (b"a\r\nb\r\n\r", True),  # the last chunk ends on a CR after CRLFs
    ],
)
@pytest.mark.parametrize("looped", [1, 4096], ids=["regex-after-one", "memchr-loop"])
@pytest.mark.parametrize("chunk_bytes", [10, 1024], ids=["10-byte-chunks", "one-chunk"])
def test_lone_carriage_returns_are_found_across_chunks(
    tmp_path: Path, content: bytes, lone: bool, looped: int, chunk_bytes: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(csv_reader, "_COPY_BYTES", chunk_bytes)
    monkeypatch.setattr(csv_reader, "_CARRIAGE_RETURNS_LOOPED", looped)
    path = tmp_path / "data.csv"
    path.write_bytes(content)
    assert csv_reader._has_lone_carriage_return(path) is lone
