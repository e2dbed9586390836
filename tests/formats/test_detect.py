"""Format detection from the bytes; the declared format is only a hint."""

from __future__ import annotations

import gzip
import io
import zipfile
from pathlib import Path

import openpyxl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from civiclake.errors import FormatError
from civiclake.formats import DetectedFormat, ReadLimits, detect_format, open_tabular

from .conftest import FIXTURES


def write(tmp_path: Path, name: str, content: bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(content)
    return path


def test_zip_and_xlsx_are_told_apart_by_their_members(tmp_path: Path) -> None:
    archive = tmp_path / "data.zip"
    with zipfile.ZipFile(archive, "w") as zipped:
        zipped.writestr("a.csv", "a;b\n1;2\n")
    workbook_path = tmp_path / "book.xlsx"
    workbook = openpyxl.Workbook()
    workbook.active.append(["a"])
    workbook.save(workbook_path)

    assert detect_format(archive, "csv") == DetectedFormat("zip")
    assert detect_format(workbook_path, "zip") == DetectedFormat("xlsx")


def test_binary_magic_numbers(tmp_path: Path) -> None:
    parquet_path = tmp_path / "t.parquet"
    pq.write_table(pa.table({"a": [1]}), parquet_path)
    assert detect_format(parquet_path, "csv") == DetectedFormat("parquet")
    assert detect_format(FIXTURES / "communes.xls") == DetectedFormat("xls")
    assert detect_format(write(tmp_path, "doc.csv", b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")).format == "pdf"


def test_pdf_is_not_tabular(tmp_path: Path) -> None:
    path = write(tmp_path, "notice.pdf", b"%PDF-1.4\n1 0 obj\n<<>>\nendobj\n")
    with pytest.raises(FormatError, match=r"^not a tabular file: detected pdf$"):
        open_tabular(path, "pdf")


@pytest.mark.parametrize(
    ("content", "declared", "expected"),
    [
        (b'[{"a": 1}, {"a": 2}]', "csv", "json"),
        (b'{"data": [{"a": 1}], "page": 1}', "json", "json"),
        (b'{"a": 1}\n{"a": 2}\n', "json", "ndjson"),
        (b'{"type": "FeatureCollection", "features": []}', "json", "geojson"),
        (b'{\n  "crs": {},\n  "features": []\n}', "geojson", "geojson"),
        (b"[id];nom\n1;x\n", "csv", "csv"),
    ],
)
def test_text_kinds(tmp_path: Path, content: bytes, declared: str, expected: str) -> None:
    assert detect_format(write(tmp_path, "f", content), declared).format == expected


def test_declared_format_does_not_override_the_bytes(tmp_path: Path) -> None:
    path = write(tmp_path, "page.www", b"a|b\n1|2\n")
    assert detect_format(path, "www") == DetectedFormat("csv", encoding="utf-8", delimiter="|")


def test_control_bytes_are_binary(tmp_path: Path) -> None:
    path = write(tmp_path, "x.csv", bytes(range(1, 32)) * 10 + b"a;b\n")
    with pytest.raises(FormatError, match=r"^binary content, not text: \d+ control bytes in the first \d+ bytes$"):
        detect_format(path)


def test_whitespace_only_file_is_empty(tmp_path: Path) -> None:
    with pytest.raises(FormatError, match=r"^empty file$"):
        detect_format(write(tmp_path, "blank.csv", b"\xef\xbb\xbf \r\n\r\n"))


def test_utf16_with_bom(tmp_path: Path) -> None:
    path = write(tmp_path, "export.txt", "Libellé\tValeur\nÉté\t12\n".encode("utf-16"))
    assert detect_format(path) == DetectedFormat("csv", encoding="utf-16", delimiter="\t")
    (part,) = open_tabular(path)
    assert [batch.to_pylist() for batch in part.batches()] == [[{"libelle": "Été", "valeur": 12}]]


def test_sample_cut_inside_a_utf8_character_is_still_utf8(tmp_path: Path) -> None:
    content = "a;b\n" + "é;1\n" * 50
    path = write(tmp_path, "accents.csv", content.encode())
    assert detect_format(path, limits=ReadLimits(sample_bytes=6)).encoding == "utf-8"


def test_gzip_wrapping_is_reported_as_compression(tmp_path: Path) -> None:
    buffer = io.BytesIO()
    with gzip.GzipFile(fileobj=buffer, mode="wb") as compressed:
        compressed.write(b'{"a": 1}\n{"a": 2}\n')
    path = write(tmp_path, "events.ndjson.gz", buffer.getvalue())
    assert detect_format(path) == DetectedFormat("ndjson", encoding="utf-8", compression="gzip")
    (part,) = open_tabular(path)
    assert [batch.to_pylist() for batch in part.batches()] == [[{"a": 1}, {"a": 2}]]
