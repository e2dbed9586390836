"""Fuzzing the format readers: whatever the bytes, reading a file ends in its tables or in a CivicLakeError.

Hypothesis builds hostile inputs from the pieces each reader cares about (delimiters, quotes, line ends, BOMs
and mixed encodings for CSV sniffing; brackets, strings and GeoJSON markers for the JSON streams; member names,
nesting and truncation for ZIP; workbook XML for XLSX) and flips bytes of valid files. The suite runs a bounded
number of examples; ``make fuzz`` runs many more (CIVICLAKE_FUZZ_EXAMPLES).
"""

from __future__ import annotations

import io
import os
import tempfile
import warnings
import zipfile
from pathlib import Path

import openpyxl
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from civiclake.errors import CivicLakeError
from civiclake.formats import ReadLimits, open_tabular

EXAMPLES = int(os.environ.get("CIVICLAKE_FUZZ_EXAMPLES", "60"))
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,  # a read of a crafted file may take a while on a loaded machine: crashes are the point here
    database=None,  # nothing written in the checkout or the test's folder
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
# Small limits: a crafted file reaches them quickly, which exercises the refusal paths too.
LIMITS = ReadLimits(
    sample_bytes=4096, max_archive_members=20, max_expanded_bytes=8 * 1024 * 1024, max_compression_ratio=200
)

CSV_TOKENS = [
    b";", b",", b"\t", b"|", b'"', b'""', b"\n", b"\r\n", b"\r", b" ", b"#", b"code", b"nom", b"01001", b"1,5",
    b"2024-01-31", b"31/01/2024", b"true", b"-", b"\xef\xbb\xbf", b"\xff\xfe", b"\xe9", b"\xc3\xa9", b"\x80",
    b"\xc3", b"\x00", b"\x1b", b"{", b"[", b"<html>", b"e+308", b"9" * 30, b"NaN",
]  # fmt: skip
JSON_TOKENS = [
    b"{", b"}", b"[", b"]", b":", b",", b'"a"', b'"b"', b'"type"', b'"FeatureCollection"', b'"features"',
    b'"properties"', b'"geometry"', b'"coordinates"', b"null", b"true", b"1", b"-0.5e3", b"\n", b'"\xc3\xa9"',
    b'"\xe9"', b'"\\u00e9"', b'"\\ud800"', b" ", b"1e999", b'"' + b"x" * 70 + b'"',
]  # fmt: skip
MEMBER_NAMES = st.sampled_from(
    ["donnees.csv", "a/b.csv", "../evil.csv", "/abs.csv", "x.json", "geo.geojson", "inner.zip", "t.xlsx",
     "lisezmoi.txt", "data.csv.gz", "dir/", "é.csv", "a" * 300 + ".csv"]
)  # fmt: skip


def _read_everything(data: bytes, declared_format: str | None) -> None:
    """Open ``data`` as a resource would be, read every part whole; only a CivicLakeError may stop it."""
    with tempfile.TemporaryDirectory(prefix="civiclake-fuzz-") as folder:
        path = Path(folder) / "resource"
        path.write_bytes(data)
        try:
            for part in open_tabular(path, declared_format, LIMITS, workdir=Path(folder) / "parts"):
                schema = part.schema
                for batch in part.batches():
                    assert batch.schema.equals(schema)
        except CivicLakeError as error:
            assert str(error), "an error must say why"


def _zip(members: list[tuple[str, bytes]]) -> bytes:
    buffer = io.BytesIO()
    with warnings.catch_warnings(), zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        warnings.simplefilter("ignore")  # a member name twice is one of the hostile cases, not a mistake here
        for name, content in members:
            archive.writestr(name, content)
    return buffer.getvalue()


def _flip(data: bytes, flips: list[tuple[int, int]]) -> bytes:
    mutated = bytearray(data)
    for position, value in flips:
        mutated[position % len(mutated)] = value
    return bytes(mutated)


def _workbook() -> bytes:
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(["code", "nom", "valeur"])
    sheet.append(["01001", "Ain", 1.5])
    sheet.append(["01002", None, "=1+1"])
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


csv_bytes = st.lists(st.sampled_from(CSV_TOKENS), max_size=80).map(b"".join)
json_bytes = st.lists(st.sampled_from(JSON_TOKENS), max_size=80).map(b"".join)
text_bytes = st.one_of(csv_bytes, json_bytes, st.binary(max_size=256))
flips = st.lists(st.tuples(st.integers(min_value=0), st.integers(min_value=0, max_value=255)), min_size=1, max_size=8)


@FUZZ
@given(data=csv_bytes, declared=st.sampled_from([None, "csv", "txt", "tsv"]))
def test_fuzzed_delimited_text_reads_or_fails_with_a_civiclake_error(data: bytes, declared: str | None) -> None:
    _read_everything(data, declared)


@FUZZ
@given(data=json_bytes, declared=st.sampled_from([None, "json", "geojson", "ndjson"]))
def test_fuzzed_json_and_geojson_read_or_fail_with_a_civiclake_error(data: bytes, declared: str | None) -> None:
    _read_everything(data, declared)


@FUZZ
@given(
    magic=st.sampled_from([b"PK\x03\x04", b"PK\x05\x06", b"\x1f\x8b", b"PAR1", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"]),
    rest=st.binary(max_size=512),
)
def test_fuzzed_binary_behind_a_magic_number_fails_with_a_civiclake_error(magic: bytes, rest: bytes) -> None:
    _read_everything(magic + rest, None)


@FUZZ
@given(members=st.lists(st.tuples(MEMBER_NAMES, text_bytes), min_size=1, max_size=5), cut=st.integers(0, 2048))
def test_fuzzed_zip_archives_read_or_fail_with_a_civiclake_error(members: list[tuple[str, bytes]], cut: int) -> None:
    archive = _zip(members)
    _read_everything(archive, "zip")
    _read_everything(archive[: max(4, len(archive) - cut)], "zip")  # truncated: a download cut short


@FUZZ
@given(inner=st.lists(st.tuples(MEMBER_NAMES, text_bytes), min_size=1, max_size=3), mutations=flips)
def test_fuzzed_nested_and_corrupted_zips_fail_with_a_civiclake_error(
    inner: list[tuple[str, bytes]], mutations: list[tuple[int, int]]
) -> None:
    nested = _zip([("inner.zip", _zip(inner)), ("donnees.csv", b"a;b\n1;2\n")])
    _read_everything(nested, "zip")
    _read_everything(_flip(nested, mutations), "zip")


WORKBOOK = _workbook()


@FUZZ
@given(mutations=flips)
def test_corrupted_xlsx_workbooks_fail_with_a_civiclake_error(mutations: list[tuple[int, int]]) -> None:
    _read_everything(_flip(WORKBOOK, mutations), "xlsx")


@FUZZ
@given(
    workbook_xml=st.one_of(st.binary(max_size=200), st.sampled_from([b"", b"<workbook/>", b"<?xml version='1.0'?>"])),
    sheet_xml=st.binary(max_size=200),
)
def test_xlsx_with_hostile_workbook_xml_fails_with_a_civiclake_error(workbook_xml: bytes, sheet_xml: bytes) -> None:
    with zipfile.ZipFile(io.BytesIO(WORKBOOK)) as source:
        members = [(info.filename, source.read(info)) for info in source.infolist()]
    replaced = {"xl/workbook.xml": workbook_xml, "xl/worksheets/sheet1.xml": sheet_xml}
    _read_everything(_zip([(name, replaced.get(name, content)) for name, content in members]), "xlsx")
